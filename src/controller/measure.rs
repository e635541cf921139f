//! Utilization measurement (SN 14), outside the reconcile slots.
//!
//! One task runs a pass every tick: it finds the Active tenants whose measurement is due
//! (their schedule, or an optimization notice past its `respondBy`), reads their usage
//! with one batch of Prometheus queries per policy window (`sum by (namespace)`, whatever
//! the number of tenants) and their allocation from their quotas (as watched, see
//! [`super::owned_watch`]), and hands each result to the request controller: it is kept here until that request's next reconcile takes it
//! ([`take`]), and the request is woken. The reconcile decides with it and writes the
//! status as it always did, and never waits on Prometheus, so a slow or unreachable
//! Prometheus cannot hold the controller's slots.
//!
//! The schedule lives in memory; after a restart it is rebuilt from each request's
//! persisted `status.utilization.takenAt` with a per-UID jitter
//! ([`MeasurementSchedule::resume`]), so a restart does not measure every tenant at once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use kube::runtime::reflector::ObjectRef;
use tokio::sync::watch;

use super::{Context, PolicyLookup, prometheus};
use crate::api::{CloudResourceRequest, CloudResourceRequestStatus, RequestPhase};
use crate::policy::measurement::MeasurementSchedule;
use crate::policy::quantity::Amounts;
use crate::policy::utilization::{self, Measured};

/// How often the bookkeeping of gone objects is pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// What the measurement task keeps per request (by UID).
#[derive(Debug, Clone, Default)]
pub struct Measurement {
    /// When the next measurement is due; built on first sight (see the module docs).
    pub schedule: Option<MeasurementSchedule>,
    /// When the last measurement was attempted, with figures or not.
    pub attempted: Option<DateTime<Utc>>,
    /// A measurement its request's reconcile has not taken yet.
    pub ready: Option<Measured>,
}

/// What a reconcile gets from [`take`].
#[derive(Debug)]
pub enum Handover {
    /// A fresh measurement, to decide with.
    Fresh(Measured),
    /// Nothing new.
    Nothing,
    /// An optimization notice is past its `respondBy` and no measurement was attempted
    /// since: its outcome waits for one (an improvement cancels it, a downsize needs the
    /// observed peak), which the task takes at its next tick and then wakes the request.
    Awaiting,
}

/// The pass period: a quarter of the interval, between half a second and five seconds
/// (the shortest retry of a measurement without allocation figures).
pub fn tick(interval: Duration) -> Duration {
    (interval / 4).clamp(Duration::from_millis(500), Duration::from_secs(5))
}

/// Whether an open optimization notice is past its `respondBy` with no measurement
/// attempted since.
fn notice_awaits(
    status: &CloudResourceRequestStatus,
    now: DateTime<Utc>,
    attempted: Option<DateTime<Utc>>,
) -> bool {
    status
        .utilization
        .as_ref()
        .and_then(|u| u.notice.as_ref())
        .is_some_and(|n| {
            n.outcome.is_none() && now >= n.respond_by && attempted.is_none_or(|a| a < n.respond_by)
        })
}

/// The measurement handed over for request `uid`, if any (taking it).
pub fn take(
    ctx: &Context,
    uid: &str,
    status: &CloudResourceRequestStatus,
    now: DateTime<Utc>,
) -> Handover {
    let mut measurements = ctx
        .objects
        .measurements
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    let entry = measurements.get_mut(uid);
    let attempted = entry.as_ref().and_then(|e| e.attempted);
    match entry.and_then(|e| e.ready.take()) {
        Some(m) => Handover::Fresh(m),
        None if notice_awaits(status, now, attempted) => Handover::Awaiting,
        None => Handover::Nothing,
    }
}

/// When a monitored request should look again at the latest even if its wake is lost:
/// a tick after its next measurement is due (by then the task has measured it).
pub fn look_again_at(ctx: &Context, uid: &str, now: DateTime<Utc>) -> DateTime<Utc> {
    let interval = ctx.config.utilization_interval;
    let due = ctx
        .objects
        .measurements
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(uid)
        .and_then(|e| e.schedule)
        .map_or(now, |s| s.due.max(now));
    let slack = TimeDelta::from_std(tick(interval) + Duration::from_secs(1))
        .unwrap_or(TimeDelta::seconds(6));
    // Whole seconds, rounded up: waking a moment early would find nothing handed over.
    (due + slack).trunc_subsecs(0) + TimeDelta::seconds(1)
}

/// One tenant due in this pass.
struct Due {
    uid: String,
    request: ObjectRef<CloudResourceRequest>,
    tenant: String,
    grant: Amounts,
}

/// Runs a pass every [`tick`] until shutdown, and prunes gone objects' bookkeeping.
pub async fn run(ctx: Arc<Context>, mut shutdown: watch::Receiver<bool>) {
    let tick = tick(ctx.config.utilization_interval);
    let mut pruned = std::time::Instant::now();
    loop {
        if ctx.stores_ready() {
            pass(&ctx).await;
            if pruned.elapsed() >= PRUNE_EVERY {
                super::prune::prune(&ctx).await;
                pruned = std::time::Instant::now();
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// The tenants due now, grouped by policy window (seconds).
fn due_tenants(ctx: &Context, now: DateTime<Utc>) -> BTreeMap<i64, Vec<Due>> {
    let interval = ctx.config.utilization_interval;
    let mut windows: BTreeMap<String, Option<i64>> = BTreeMap::new();
    let mut due: BTreeMap<i64, Vec<Due>> = BTreeMap::new();
    // Read once per pass (no await below), and asked only for a retry waiting for figures.
    let objects = ctx
        .stores
        .tenant_objects
        .read()
        .unwrap_or_else(|p| p.into_inner());
    for req in ctx.stores.requests.state() {
        let (Some(uid), Some(status)) = (req.metadata.uid.as_deref(), req.status.as_ref()) else {
            continue;
        };
        let billing = status.billing.as_ref();
        let active_since = billing.and_then(|b| b.started_at);
        if req.metadata.deletion_timestamp.is_some()
            || status.phase != Some(RequestPhase::Active)
            || active_since.is_none()
            || billing.and_then(|b| b.stopped_at).is_some()
        {
            continue;
        }
        let Some(tenant) = status.tenant_namespace.clone() else {
            continue;
        };
        let is_due = {
            let mut measurements = ctx
                .objects
                .measurements
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let entry = measurements.entry(uid.to_string()).or_default();
            let taken_at = status.utilization.as_ref().map(|u| u.taken_at);
            let schedule = *entry.schedule.get_or_insert_with(|| {
                MeasurementSchedule::resume(taken_at, active_since, uid, now, interval)
            });
            // One not yet taken by its reconcile is not measured again meanwhile.
            entry.ready.is_none()
                && (schedule.is_due(now, || objects.allocation(&tenant).is_some())
                    || notice_awaits(status, now, entry.attempted))
        };
        if !is_due {
            continue;
        }
        let policy = req
            .spec
            .policy
            .clone()
            .unwrap_or_else(|| ctx.config.default_policy.clone());
        let window = *windows
            .entry(policy)
            .or_insert_with_key(|name| match ctx.policy(name) {
                PolicyLookup::Ready(rules, _) => {
                    Some(utilization::window_seconds(rules.utilization.window))
                }
                _ => None,
            });
        let Some(window) = window else {
            continue;
        };
        due.entry(window).or_default().push(Due {
            uid: uid.to_string(),
            request: ObjectRef::from_obj(req.as_ref()),
            tenant,
            grant: status
                .grant
                .as_ref()
                .and_then(|g| Amounts::parse("status.grant", g).ok())
                .unwrap_or_default(),
        });
    }
    due
}

/// Measures every tenant due now and hands the results over.
async fn pass(ctx: &Context) {
    let now = Utc::now().trunc_subsecs(0);
    let due = due_tenants(ctx, now);
    if due.is_empty() {
        return;
    }
    let mut results: Vec<(Due, Result<Option<utilization::Usage>, String>)> = Vec::new();
    for (window, tenants) in due {
        let usage = match &ctx.prometheus {
            None => Ok(None),
            Some(client) => {
                let namespaces: Vec<&str> = tenants.iter().map(|d| d.tenant.as_str()).collect();
                prometheus::usage(client, &namespaces, window)
                    .await
                    .map(Some)
            }
        };
        if let Err(e) = &usage {
            tracing::warn!(tenants = tenants.len(), error = %e, "cannot read usage from Prometheus");
        }
        for d in tenants {
            let of_tenant = match &usage {
                Ok(Some(batch)) => Ok(Some(batch.usage(&d.tenant, &d.grant))),
                Ok(None) => Ok(None),
                Err(e) => Err(e.clone()),
            };
            results.push((d, of_tenant));
        }
    }
    let measured: Vec<(Due, Measured)> = results
        .into_iter()
        .map(|(d, usage)| {
            let allocation = allocation(ctx, &d.tenant);
            (d, Measured { allocation, usage })
        })
        .collect();
    let interval = ctx.config.utilization_interval;
    for (d, m) in measured {
        let complete = m.allocation.is_some();
        // A measurement with no figures at all (the quota's status not filled in yet, and
        // no Prometheus) says nothing: it is retried soon rather than handed over.
        let hand_over = complete || !matches!(m.usage, Ok(None));
        {
            let mut measurements = ctx
                .objects
                .measurements
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let entry = measurements.entry(d.uid.clone()).or_default();
            entry.schedule = Some(MeasurementSchedule::after(
                entry.schedule,
                complete,
                now,
                interval,
            ));
            entry.attempted = Some(now);
            if hand_over {
                entry.ready = Some(m);
            }
        }
        // The wake may be dropped when the channel is full: the request's own requeue
        // ([`look_again_at`]) then takes the measurement a little later.
        let _ = ctx.wakes.requests.send(d.request);
    }
}

/// Allocation ratios from the tenant's quota as its watch last saw it (no figures until
/// the quota controller has filled in `status.used`: the measurement is retried soon, at
/// no cost, issue 11).
fn allocation(ctx: &Context, tenant: &str) -> Option<utilization::Ratios> {
    ctx.stores
        .tenant_objects
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .allocation(tenant)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_run_often_enough_for_retries_and_rarely_enough_to_be_cheap() {
        assert_eq!(tick(Duration::from_secs(2)), Duration::from_millis(500));
        assert_eq!(tick(Duration::from_secs(12)), Duration::from_secs(3));
        assert_eq!(tick(Duration::from_secs(86_400)), Duration::from_secs(5));
    }

    #[test]
    fn an_ignored_notice_waits_for_one_measurement_after_its_deadline() {
        let status: CloudResourceRequestStatus = serde_json::from_value(serde_json::json!({
            "utilization": {
                "takenAt": "2026-03-02T09:00:00Z", "source": "Allocation",
                "notice": {"issuedAt": "2026-03-02T09:00:00Z", "respondBy": "2026-03-02T10:00:00Z"}
            }
        }))
        .unwrap_or_else(|e| panic!("status: {e}"));
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap_or_else(|e| panic!("{e}"));
        let (before, deadline, after) = (
            t("2026-03-02T09:59:59Z"),
            t("2026-03-02T10:00:00Z"),
            t("2026-03-02T10:00:05Z"),
        );
        assert!(!notice_awaits(&status, before, None), "not yet due");
        assert!(notice_awaits(&status, deadline, None));
        assert!(
            notice_awaits(&status, after, Some(before)),
            "attempted before the deadline"
        );
        assert!(
            !notice_awaits(&status, after, Some(deadline)),
            "attempted since"
        );
        let mut decided = status.clone();
        if let Some(n) = decided.utilization.as_mut().and_then(|u| u.notice.as_mut()) {
            n.outcome = Some("Flagged".into());
        }
        assert!(!notice_awaits(&decided, after, None), "already decided");
    }
}
