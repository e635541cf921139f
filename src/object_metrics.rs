//! Per-object notice metrics (issue 16; SH 21 ¶2, GY 10, SN 14, XB 39): for each request,
//! change and exit that is still open, its deadlines as Unix timestamps and its conditions
//! that call for a notice, labelled with namespace, name, kind and applicant unit, so that
//! Prometheus rules (shipped in the chart) and Alertmanager route notices to people.
//!
//! Bounded by the number of open objects (a few series each); label values are object
//! names, the unit's name and fixed words, never messages. A series goes when its object
//! closes, is deleted or the condition turns False. Set from the stores with the phase
//! gauges; series are removed one by one, never cleared, so a scrape never sees an open
//! object without its series (an alert would resolve and fire again).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::api::{
    ChangePhase, CloudResourceRequest, Condition, ExitPhase, ExitRequest, RequestPhase,
    ResourceChange,
};

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

/// One open object's condition.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ObjectCondition {
    /// The object's namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: &'static str,
    /// The applicant unit (of the request a change or exit names).
    pub unit: String,
    /// The condition type (one of [`NOTICE_CONDITIONS`]).
    pub condition: &'static str,
}

/// One open object's deadline.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ObjectDeadline {
    /// The object's namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: &'static str,
    /// The applicant unit.
    pub unit: String,
    /// `next` (its soonest deadline still ahead), `expiresAt`, `transitionEndsAt` or
    /// `reclaimBy`.
    pub deadline: &'static str,
}

/// What the series should be now.
#[derive(Debug, Default, PartialEq)]
pub struct Desired {
    /// Conditions that are True, value 1.
    pub conditions: HashSet<ObjectCondition>,
    /// Deadlines, value: Unix seconds.
    pub deadlines: HashMap<ObjectDeadline, i64>,
}

struct Object<'a> {
    namespace: String,
    name: String,
    kind: &'static str,
    unit: String,
    conditions: &'a [Condition],
    deadlines: Vec<(&'static str, Option<chrono::DateTime<chrono::Utc>>)>,
}

fn deadline_word(name: &str) -> Option<&'static str> {
    DEADLINES.iter().copied().find(|d| *d == name)
}

/// The series for the open objects among `requests`, `changes` and `exits` (pure).
pub fn desired(
    requests: &[Arc<CloudResourceRequest>],
    changes: &[Arc<ResourceChange>],
    exits: &[Arc<ExitRequest>],
) -> Desired {
    let units: HashMap<(String, String), String> = requests
        .iter()
        .map(|r| {
            (
                (
                    r.metadata.namespace.clone().unwrap_or_default(),
                    r.metadata.name.clone().unwrap_or_default(),
                ),
                r.spec.applicant_unit.clone(),
            )
        })
        .collect();
    let unit_of = |ns: &Option<String>, request: &str| {
        units
            .get(&(ns.clone().unwrap_or_default(), request.to_string()))
            .cloned()
            .unwrap_or_default()
    };
    let next = |n: Option<&crate::api::NextDeadline>| {
        n.filter(|n| deadline_word(&n.name).is_some()).map(|n| n.at)
    };
    let mut objects: Vec<Object<'_>> = Vec::new();
    for r in requests {
        let Some(st) = r.status.as_ref() else {
            continue;
        };
        if matches!(
            st.phase,
            None | Some(
                RequestPhase::Reclaimed | RequestPhase::Rejected | RequestPhase::Unrecognized
            )
        ) {
            continue;
        }
        objects.push(Object {
            namespace: r.metadata.namespace.clone().unwrap_or_default(),
            name: r.metadata.name.clone().unwrap_or_default(),
            kind: "CloudResourceRequest",
            unit: r.spec.applicant_unit.clone(),
            conditions: &st.conditions,
            deadlines: vec![
                ("next", next(st.next_deadline.as_ref())),
                (
                    "expiresAt",
                    st.deadlines.as_ref().and_then(|d| d.expires_at),
                ),
            ],
        });
    }
    for c in changes {
        let Some(st) = c.status.as_ref() else {
            continue;
        };
        if matches!(
            st.phase,
            None | Some(ChangePhase::Applied | ChangePhase::Rejected | ChangePhase::Unrecognized)
        ) {
            continue;
        }
        objects.push(Object {
            namespace: c.metadata.namespace.clone().unwrap_or_default(),
            name: c.metadata.name.clone().unwrap_or_default(),
            kind: "ResourceChange",
            unit: unit_of(&c.metadata.namespace, &c.spec.request),
            conditions: &st.conditions,
            deadlines: vec![("next", next(st.next_deadline.as_ref()))],
        });
    }
    for e in exits {
        let Some(st) = e.status.as_ref() else {
            continue;
        };
        if matches!(
            st.phase,
            None | Some(ExitPhase::Completed | ExitPhase::Rejected | ExitPhase::Unrecognized)
        ) {
            continue;
        }
        let d = st.deadlines.as_ref();
        objects.push(Object {
            namespace: e.metadata.namespace.clone().unwrap_or_default(),
            name: e.metadata.name.clone().unwrap_or_default(),
            kind: "ExitRequest",
            unit: unit_of(&e.metadata.namespace, &e.spec.request),
            conditions: &st.conditions,
            deadlines: vec![
                ("next", next(st.next_deadline.as_ref())),
                ("transitionEndsAt", d.and_then(|d| d.transition_ends_at)),
                ("reclaimBy", d.and_then(|d| d.reclaim_by)),
            ],
        });
    }
    let mut out = Desired::default();
    for o in objects {
        for c in o.conditions.iter().filter(|c| c.status == "True") {
            if let Some(condition) = NOTICE_CONDITIONS.iter().copied().find(|t| *t == c.type_) {
                out.conditions.insert(ObjectCondition {
                    namespace: o.namespace.clone(),
                    name: o.name.clone(),
                    kind: o.kind,
                    unit: o.unit.clone(),
                    condition,
                });
            }
        }
        for (deadline, at) in &o.deadlines {
            if let Some(at) = at {
                out.deadlines.insert(
                    ObjectDeadline {
                        namespace: o.namespace.clone(),
                        name: o.name.clone(),
                        kind: o.kind,
                        unit: o.unit.clone(),
                        deadline,
                    },
                    at.timestamp(),
                );
            }
        }
    }
    out
}

/// The two families and the series currently shown.
#[derive(Default)]
pub struct ObjectMetrics {
    conditions: Family<ObjectCondition, Gauge>,
    deadlines: Family<ObjectDeadline, Gauge>,
    shown: Mutex<(HashSet<ObjectCondition>, HashSet<ObjectDeadline>)>,
}

impl ObjectMetrics {
    /// The families, registered in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self::default();
        registry.register(
            "object_condition",
            "1 while an open request, change or exit has this notice condition True (by namespace, name, kind, applicant unit)",
            m.conditions.clone(),
        );
        registry.register(
            "object_deadline_timestamp_seconds",
            "Deadlines of open requests, changes and exits, as Unix time (by namespace, name, kind, applicant unit)",
            m.deadlines.clone(),
        );
        m
    }

    /// Sets the series to `desired`: new ones added, changed ones set, gone ones removed.
    pub fn update(&self, desired: Desired) {
        let mut shown = self.shown.lock().unwrap_or_else(|p| p.into_inner());
        for c in &desired.conditions {
            self.conditions.get_or_create(c).set(1);
        }
        for gone in shown.0.difference(&desired.conditions) {
            self.conditions.remove(gone);
        }
        for (d, at) in &desired.deadlines {
            self.deadlines.get_or_create(d).set(*at);
        }
        let now: HashSet<ObjectDeadline> = desired.deadlines.keys().cloned().collect();
        for gone in shown.1.difference(&now) {
            self.deadlines.remove(gone);
        }
        *shown = (desired.conditions, now);
    }
}

#[cfg(test)]
#[path = "object_metrics_tests.rs"]
mod tests;
