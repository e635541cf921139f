//! Per-object notice metrics (issue 16; SH 21 ¶2, GY 10, SN 14, XB 39): for each request,
//! change and exit that is still open, its deadlines as Unix timestamps and its conditions
//! that call for a notice, labelled with namespace, name, kind and applicant unit, so that
//! Prometheus rules (shipped in the chart) and Alertmanager route notices to people.
//!
//! Bounded by the number of open objects (a few series each); label values are object
//! names, the unit's name and fixed words, never messages. The series are read from the
//! watch stores at each scrape (a `Collector`), not kept: an open object in the store has
//! its series in every scrape (an alert never resolves and fires again between two
//! recounts), a closed or deleted one has none, and the operator holds no copy of the
//! labels (issue 11: at 10,000 requests the kept families and their shadow set were
//! ~8 MB, rebuilt whole every 15 s).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use kube::runtime::reflector::Store;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::gauge::ConstGauge;

use crate::api::{CloudResourceRequest, Condition, ExitRequest, ResourceChange};
/// Conditions that are notices: the chart's alert rules name them.
pub const NOTICE_CONDITIONS: [&str; 12] = [
    "ExpiringSoon",
    "Suspended",
    "ReviewOverdue",
    "ProvisioningOverdue",
    "PaperworkPending",
    "PaperworkOverdue",
    "NotDeployed",
    "LowUtilization",
    "HighUtilization",
    "ReclaimHeld",
    "ApplyOverdue",
    "LateSubmission",
];

/// Deadline names as in `status.deadlines` (anything else is not exported).
const DEADLINES: [&str; 11] = [
    "reviewBy",
    "provisionBy",
    "deployBy",
    "paperworkBy",
    "warnAt",
    "expiresAt",
    "extensionRequestBy",
    "reclaimAt",
    "applyBy",
    "transitionEndsAt",
    "reclaimBy",
];

/// An open object, as its series label it.
#[derive(Debug, Clone, PartialEq)]
pub struct Open<'a> {
    /// The object's namespace.
    pub namespace: &'a str,
    /// Its name.
    pub name: &'a str,
    /// Its kind.
    pub kind: &'static str,
    /// The applicant unit (of the request a change or exit names).
    pub unit: &'a str,
    conditions: &'a [Condition],
    deadlines: [(&'static str, Option<DateTime<Utc>>); 3],
}

impl<'a> Open<'a> {
    /// Its notice conditions that are True, each type once and in [`NOTICE_CONDITIONS`]'
    /// order, even where the list repeats a type (status is writable by approvers, and one
    /// scrape must not carry a series twice).
    pub fn notices(&self) -> impl Iterator<Item = &'static str> + '_ {
        NOTICE_CONDITIONS.iter().copied().filter(|t| {
            self.conditions
                .iter()
                .any(|c| c.type_ == *t && c.status == "True")
        })
    }

    /// Its deadlines as Unix seconds: `next` (its soonest deadline still ahead),
    /// `expiresAt`, `transitionEndsAt` or `reclaimBy`.
    pub fn deadlines(&self) -> impl Iterator<Item = (&'static str, i64)> + '_ {
        self.deadlines
            .iter()
            .filter_map(|(word, at)| Some((*word, at.as_ref()?.timestamp())))
    }

    fn labels(&self, last: (&'static str, &'static str)) -> [(&'static str, &str); 5] {
        [
            ("namespace", self.namespace),
            ("name", self.name),
            ("kind", self.kind),
            ("unit", self.unit),
            last,
        ]
    }
}

fn deadline_word(name: &str) -> Option<&'static str> {
    DEADLINES.iter().copied().find(|d| *d == name)
}

fn next(n: Option<&crate::api::NextDeadline>) -> Option<DateTime<Utc>> {
    n.filter(|n| deadline_word(&n.name).is_some()).map(|n| n.at)
}

fn ns(m: &kube::api::ObjectMeta) -> &str {
    m.namespace.as_deref().unwrap_or_default()
}

fn name(m: &kube::api::ObjectMeta) -> &str {
    m.name.as_deref().unwrap_or_default()
}

/// The open objects among some requests, changes and exits (pure), walked without
/// copying them: a scrape at 10,000 requests holds no list of its own.
pub struct OpenObjects<'a> {
    requests: &'a [Arc<CloudResourceRequest>],
    changes: &'a [Arc<ResourceChange>],
    exits: &'a [Arc<ExitRequest>],
    /// The applicant unit of each request a change or exit names (only those: a map of
    /// every request would be built at every scrape for the few that need it).
    units: HashMap<(&'a str, &'a str), &'a str>,
}

impl<'a> OpenObjects<'a> {
    /// Over `requests`, `changes` and `exits`.
    pub fn new(
        requests: &'a [Arc<CloudResourceRequest>],
        changes: &'a [Arc<ResourceChange>],
        exits: &'a [Arc<ExitRequest>],
    ) -> Self {
        let named: HashSet<(&str, &str)> = changes
            .iter()
            .map(|c| (ns(&c.metadata), c.spec.request.as_str()))
            .chain(
                exits
                    .iter()
                    .map(|e| (ns(&e.metadata), e.spec.request.as_str())),
            )
            .collect();
        let units = if named.is_empty() {
            HashMap::new()
        } else {
            requests
                .iter()
                .map(|r| {
                    (
                        (ns(&r.metadata), name(&r.metadata)),
                        r.spec.applicant_unit.as_str(),
                    )
                })
                .filter(|(key, _)| named.contains(key))
                .collect()
        };
        OpenObjects {
            requests,
            changes,
            exits,
            units,
        }
    }

    fn unit_of(&self, m: &kube::api::ObjectMeta, request: &str) -> &'a str {
        self.units
            .get(&(ns(m), request))
            .copied()
            .unwrap_or_default()
    }

    /// Each open object: requests, then changes, then exits. A change or exit carries the
    /// unit of the request it names.
    pub fn iter(&self) -> impl Iterator<Item = Open<'a>> + '_ {
        let requests = self.requests.iter().filter_map(|r| {
            let st = r
                .status
                .as_ref()
                .filter(|s| s.phase.is_some_and(|p| !p.is_final()))?;
            Some(Open {
                namespace: ns(&r.metadata),
                name: name(&r.metadata),
                kind: "CloudResourceRequest",
                unit: &r.spec.applicant_unit,
                conditions: &st.conditions,
                deadlines: [
                    ("next", next(st.next_deadline.as_ref())),
                    (
                        "expiresAt",
                        st.deadlines.as_ref().and_then(|d| d.expires_at),
                    ),
                    ("", None),
                ],
            })
        });
        let changes = self.changes.iter().filter_map(|c| {
            let st = c
                .status
                .as_ref()
                .filter(|s| s.phase.is_some_and(|p| !p.is_final()))?;
            Some(Open {
                namespace: ns(&c.metadata),
                name: name(&c.metadata),
                kind: "ResourceChange",
                unit: self.unit_of(&c.metadata, &c.spec.request),
                conditions: &st.conditions,
                deadlines: [
                    ("next", next(st.next_deadline.as_ref())),
                    ("", None),
                    ("", None),
                ],
            })
        });
        let exits = self.exits.iter().filter_map(|e| {
            let st = e
                .status
                .as_ref()
                .filter(|s| s.phase.is_some_and(|p| !p.is_final()))?;
            let d = st.deadlines.as_ref();
            Some(Open {
                namespace: ns(&e.metadata),
                name: name(&e.metadata),
                kind: "ExitRequest",
                unit: self.unit_of(&e.metadata, &e.spec.request),
                conditions: &st.conditions,
                deadlines: [
                    ("next", next(st.next_deadline.as_ref())),
                    ("transitionEndsAt", d.and_then(|d| d.transition_ends_at)),
                    ("reclaimBy", d.and_then(|d| d.reclaim_by)),
                ],
            })
        });
        requests.chain(changes).chain(exits)
    }

    /// Writes the two families.
    pub fn encode(&self, encoder: &mut DescriptorEncoder<'_>) -> Result<(), fmt::Error> {
        let mut family = encoder.encode_descriptor(
            "object_condition",
            // `Registry::register` ends help with a period; a collector's descriptor is
            // written as given.
            "1 while an open request, change or exit has this notice condition True (by namespace, name, kind, applicant unit).",
            None,
            MetricType::Gauge,
        )?;
        for o in self.iter() {
            for condition in o.notices() {
                let labels = o.labels(("condition", condition));
                ConstGauge::new(1i64).encode(family.encode_family(&labels)?)?;
            }
        }
        let mut family = encoder.encode_descriptor(
            "object_deadline_timestamp_seconds",
            "Deadlines of open requests, changes and exits, as Unix time (by namespace, name, kind, applicant unit).",
            None,
            MetricType::Gauge,
        )?;
        for o in self.iter() {
            for (deadline, at) in o.deadlines() {
                let labels = o.labels(("deadline", deadline));
                ConstGauge::new(at).encode(family.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}

/// The stores the series are read from (those of the leading operator).
#[derive(Clone)]
pub struct Sources {
    /// Requests.
    pub requests: Store<CloudResourceRequest>,
    /// Changes.
    pub changes: Store<ResourceChange>,
    /// Exits.
    pub exits: Store<ExitRequest>,
}

/// The two families, encoded from the stores at each scrape.
#[derive(Default)]
pub struct ObjectMetrics {
    sources: RwLock<Option<Sources>>,
}

impl fmt::Debug for ObjectMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectMetrics").finish_non_exhaustive()
    }
}

impl ObjectMetrics {
    /// Reads the series from `sources` from now on (a new term of leading brings new
    /// stores).
    pub fn read_from(&self, sources: Sources) {
        *self.sources.write().unwrap_or_else(|p| p.into_inner()) = Some(sources);
    }
}

impl Collector for ObjectMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let sources = self
            .sources
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let (requests, changes, exits) = match sources {
            Some(s) => (s.requests.state(), s.changes.state(), s.exits.state()),
            None => Default::default(),
        };
        OpenObjects::new(&requests, &changes, &exits).encode(&mut encoder)
    }
}

#[cfg(test)]
#[path = "object_metrics_tests.rs"]
mod tests;
