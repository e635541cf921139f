//! Prometheus metrics (prometheus-client), prefixed `govcloud_`. Labels carry only fixed
//! words (kind, error category, phase) — never object names or error text.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

mod api_requests;
pub use api_requests::{VerbLabels, resource_of, verb_of};

/// A reconciled kind.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    /// The custom resource kind.
    pub kind: &'static str,
}

/// One admission review: the kind written (or `Service`, `Unknown`) and the operation.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AdmissionLabels {
    /// The kind.
    pub kind: &'static str,
    /// CREATE, UPDATE, DELETE, CONNECT or `Unknown`.
    pub operation: &'static str,
}

/// A failed reconcile: kind, and the error's stable category and step.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FailureLabels {
    /// The custom resource kind.
    pub kind: &'static str,
    /// The error category (`Error::category`: how the call failed).
    pub category: &'static str,
    /// The step that failed (`Error::step`: finalizer, quota, status, …).
    pub step: &'static str,
}

/// A watch, by resource.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WatchLabels {
    /// The watched resource.
    pub resource: &'static str,
}

/// Objects that do not decode, by kind (never by name: see `crate::decode`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UndecodableLabels {
    /// The kind, e.g. `CloudResourceRequest`.
    pub kind: String,
}

/// Requests by phase.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PhaseLabels {
    /// The custom resource kind.
    pub kind: &'static str,
    /// The phase.
    pub phase: &'static str,
}

/// Overdue items by stage.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StageLabels {
    /// The custom resource kind.
    pub kind: &'static str,
    /// The overdue condition type, e.g. `ReviewOverdue`.
    pub stage: &'static str,
}

/// All metrics of the operator.
pub struct Metrics {
    registry: Registry,
    /// Reconciles started, by kind.
    pub reconciles: Family<KindLabels, Counter>,
    /// Reconciles that failed, by kind and category.
    pub failures: Family<FailureLabels, Counter>,
    /// Reconcile duration in seconds, by kind.
    pub duration: Family<KindLabels, Histogram>,
    /// Watch errors, by resource.
    pub watch_errors: Family<WatchLabels, Counter>,
    /// Calendar years covered (embedded plus WorkCalendar objects).
    pub calendar_years: Gauge,
    /// Objects by kind and phase.
    pub phases: Family<PhaseLabels, Gauge>,
    /// API requests the operator made, by verb.
    pub api_requests: Family<VerbLabels, Counter>,
    /// Objects with an overdue condition, by kind and stage.
    pub overdue: Family<StageLabels, Gauge>,
    /// Objects that currently do not decode, by kind.
    pub undecodable: Family<UndecodableLabels, Gauge>,
    /// Undecodable objects seen (once per resourceVersion), by kind.
    pub decode_failures: Family<UndecodableLabels, Counter>,
    /// Managed tenant namespaces whose request is gone (they still count against their
    /// pool; named in each policy's `OrphanTenants` condition, never in a label).
    pub orphan_tenants: Gauge,
    /// Time the webhook took to answer one admission review, by kind and operation.
    pub admission: Family<AdmissionLabels, Histogram>,
    /// GovCloudRecords the operator created (SN 31).
    pub record_writes: Counter,
    /// Seconds from the start of leading until every watch had listed once (0 before).
    pub stores_loaded_seconds: Gauge<f64, std::sync::atomic::AtomicU64>,
    /// Per-object deadlines and notice conditions, for the chart's alert rules: read
    /// from the stores it is given at each scrape.
    pub objects: Arc<crate::object_metrics::ObjectMetrics>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Builds the registry.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("govcloud");
        let reconciles = Family::<KindLabels, Counter>::default();
        let failures = Family::<FailureLabels, Counter>::default();
        let duration = Family::<KindLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.005, 2.0, 12))
        });
        let watch_errors = Family::<WatchLabels, Counter>::default();
        let calendar_years = Gauge::default();
        let phases = Family::<PhaseLabels, Gauge>::default();
        let api_requests = Family::<VerbLabels, Counter>::default();
        let overdue = Family::<StageLabels, Gauge>::default();
        let undecodable = Family::<UndecodableLabels, Gauge>::default();
        let decode_failures = Family::<UndecodableLabels, Counter>::default();
        let orphan_tenants = Gauge::default();
        let stores_loaded_seconds = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register(
            "stores_loaded_seconds",
            "Seconds from the start of leading until every watch had listed once (0 before)",
            stores_loaded_seconds.clone(),
        );
        registry.register(
            "orphan_tenant_namespaces",
            "Managed tenant namespaces whose request is gone, still counted against their pool",
            orphan_tenants.clone(),
        );
        // 0.1 ms to 3.3 s: the target is a p99 of 10 ms.
        let admission = Family::<AdmissionLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0001, 2.0, 16))
        });
        registry.register(
            "admission_duration_seconds",
            "Time the admission webhook took to answer a review",
            admission.clone(),
        );
        let record_writes = Counter::default();
        let objects = Arc::new(crate::object_metrics::ObjectMetrics::default());
        registry.register_collector(Box::new(objects.clone()));
        registry.register(
            "records_written",
            "GovCloudRecords created, one per recorded step (SN 31)",
            record_writes.clone(),
        );
        registry.register(
            "undecodable_objects",
            "Objects this release cannot decode (skipped and left untouched), by kind",
            undecodable.clone(),
        );
        registry.register(
            "decode_failures",
            "Undecodable objects seen, once per resourceVersion, by kind",
            decode_failures.clone(),
        );
        registry.register("reconciles", "Reconciles started", reconciles.clone());
        registry.register(
            "reconcile_failures",
            "Reconciles that failed, by error category and the step that failed",
            failures.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Reconcile duration",
            duration.clone(),
        );
        registry.register(
            "watch_errors",
            "Watch errors, by resource",
            watch_errors.clone(),
        );
        registry.register(
            "calendar_years_covered",
            "Years with statutory calendar data",
            calendar_years.clone(),
        );
        registry.register("objects", "Objects by kind and phase", phases.clone());
        registry.register(
            "overdue",
            "Objects with an overdue condition, by kind and stage",
            overdue.clone(),
        );
        registry.register(
            "api_requests",
            "API requests the operator made, by verb",
            api_requests.clone(),
        );
        Self {
            registry,
            reconciles,
            failures,
            duration,
            watch_errors,
            calendar_years,
            phases,
            overdue,
            api_requests,
            undecodable,
            orphan_tenants,
            decode_failures,
            admission,
            record_writes,
            stores_loaded_seconds,
            objects,
        }
    }

    /// Records one reconcile of `kind` that took `elapsed`.
    pub fn observe_reconcile(&self, kind: &'static str, elapsed: Duration) {
        self.reconciles.get_or_create(&KindLabels { kind }).inc();
        self.duration
            .get_or_create(&KindLabels { kind })
            .observe(elapsed.as_secs_f64());
    }

    /// Records a failed reconcile.
    pub fn observe_failure(&self, kind: &'static str, category: &'static str, step: &'static str) {
        self.failures
            .get_or_create(&FailureLabels {
                kind,
                category,
                step,
            })
            .inc();
    }

    /// Sets the phase and overdue gauges from `(kind, phase, true condition types)` of every
    /// object; phases and stages never seen are reported as zero.
    pub fn set_inventory<'a>(
        &self,
        objects: impl IntoIterator<Item = (&'static str, Option<&'static str>, Vec<&'a str>)>,
    ) {
        const STAGES: [&str; 6] = [
            "ReviewOverdue",
            "ProvisioningOverdue",
            "NotDeployed",
            "PaperworkOverdue",
            "ApplyOverdue",
            "ReclaimOverdue",
        ];
        let mut phases: std::collections::HashMap<PhaseLabels, i64> =
            std::collections::HashMap::new();
        let mut overdue: std::collections::HashMap<StageLabels, i64> =
            std::collections::HashMap::new();
        for (kind, phase, conditions) in objects {
            *phases
                .entry(PhaseLabels {
                    kind,
                    phase: phase.unwrap_or("Unknown"),
                })
                .or_default() += 1;
            for stage in STAGES {
                if conditions.contains(&stage) {
                    *overdue.entry(StageLabels { kind, stage }).or_default() += 1;
                }
            }
        }
        const KNOWN: [(&str, &[&str]); 3] = [
            (
                "CloudResourceRequest",
                &[
                    "Submitted",
                    "Approved",
                    "Rejected",
                    "Provisioning",
                    "Active",
                    "Suspended",
                    "Reclaiming",
                    "Reclaimed",
                    "Invalid",
                    "Unrecognized",
                ],
            ),
            (
                "ResourceChange",
                &[
                    "Submitted",
                    "Approved",
                    "Rejected",
                    "Applied",
                    "Invalid",
                    "Unrecognized",
                ],
            ),
            (
                "ExitRequest",
                &[
                    "Submitted",
                    "Approved",
                    "Rejected",
                    "Transition",
                    "Reclaiming",
                    "Completed",
                    "Invalid",
                    "Unrecognized",
                ],
            ),
        ];
        for (kind, known) in KNOWN {
            // "Unknown" (no phase yet) too: a count that dropped to none must read 0, not
            // the last non-zero value.
            for phase in known.iter().chain(&["Unknown"]) {
                phases.entry(PhaseLabels { kind, phase }).or_default();
            }
            for stage in STAGES {
                overdue.entry(StageLabels { kind, stage }).or_default();
            }
        }
        for (labels, n) in phases {
            self.phases.get_or_create(&labels).set(n);
        }
        for (labels, n) in overdue {
            self.overdue.get_or_create(&labels).set(n);
        }
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_carry_only_fixed_words() {
        let m = Metrics::new();
        m.observe_reconcile("CloudResourceRequest", Duration::from_millis(3));
        m.observe_failure("CloudResourceRequest", "forbidden", "quota");
        let text = m.encode();
        assert!(
            text.contains("govcloud_reconciles_total{kind=\"CloudResourceRequest\"} 1"),
            "{text}"
        );
        assert!(text.contains("govcloud_reconcile_failures_total{kind=\"CloudResourceRequest\",category=\"forbidden\",step=\"quota\"} 1"), "{text}");
        m.set_inventory([
            ("CloudResourceRequest", Some("Active"), vec!["Ready"]),
            (
                "CloudResourceRequest",
                Some("Submitted"),
                vec!["ReviewOverdue"],
            ),
        ]);
        let text = m.encode();
        assert!(
            text.contains("govcloud_objects{kind=\"CloudResourceRequest\",phase=\"Active\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("govcloud_objects{kind=\"CloudResourceRequest\",phase=\"Suspended\"} 0"),
            "{text}"
        );
        assert!(
            text.contains(
                "govcloud_overdue{kind=\"CloudResourceRequest\",stage=\"ReviewOverdue\"} 1"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_phase_count_that_drops_to_none_reads_zero() {
        let m = Metrics::new();
        m.set_inventory([("CloudResourceRequest", None, vec![])]);
        assert!(
            m.encode()
                .contains("govcloud_objects{kind=\"CloudResourceRequest\",phase=\"Unknown\"} 1")
        );
        m.set_inventory([("CloudResourceRequest", Some("Active"), vec![])]);
        let text = m.encode();
        assert!(
            text.contains("govcloud_objects{kind=\"CloudResourceRequest\",phase=\"Unknown\"} 0"),
            "{text}"
        );
    }
}
