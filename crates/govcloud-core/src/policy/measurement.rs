//! When a tenant's utilization is measured (SN 14), and how one batched Prometheus answer
//! for many tenants is split into each tenant's figures. Pure: the operator's measurement
//! task does the I/O.
//!
//! - **Schedule**: the next measurement is due `interval` after the last complete one; one
//!   without allocation figures (the quota controller has not filled the quota's status
//!   in yet) is retried after 5 s, doubling, never later than `interval`.
//! - **Restarts are gentle**: the schedule lives in memory, so after a restart (or a
//!   leader change) it is rebuilt from the persisted `status.utilization.takenAt` plus the
//!   interval, plus a jitter derived from the request's UID and spread over a quarter of
//!   the interval: tenants measured together, or all overdue after a long outage, are not
//!   all measured again in the same pass. A tenant never measured is first measured
//!   [`FIRST_MEASUREMENT_AFTER`] after activation, as it always was.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;

use super::quantity::{Amounts, ResourceKind};
use super::utilization::{Ratios, Usage};

/// How long after activation a tenant is first measured: its quota has no status yet and
/// nothing runs in it, so an immediate measurement would only be written empty.
pub const FIRST_MEASUREMENT_AFTER: Duration = Duration::from_secs(30);

/// The jitter of a resumed schedule is spread over `interval / JITTER_SPREAD`.
pub const JITTER_SPREAD: u32 = 4;

/// When a request's utilization is measured next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeasurementSchedule {
    /// When the next measurement is due.
    pub due: DateTime<Utc>,
    /// Measurements in a row without allocation figures.
    pub misses: u32,
}

fn plus(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(d)
        .ok()
        .and_then(|d| t.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// A stable hash of `key` (FNV-1a): the same UID gets the same jitter in every process
/// and every build, unlike std's randomly keyed hasher.
fn stable_hash(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The jitter of request `uid`: in `[0, interval / JITTER_SPREAD)`, fixed per UID.
pub fn jitter(uid: &str, interval: Duration) -> Duration {
    let spread = u64::try_from((interval / JITTER_SPREAD).as_millis()).unwrap_or(u64::MAX);
    if spread == 0 {
        return Duration::ZERO;
    }
    Duration::from_millis(stable_hash(uid) % spread)
}

impl MeasurementSchedule {
    /// The schedule of a request the measurement task has no record of (it started, or
    /// took over, since): `takenAt` + interval (or now, when that has passed) + the UID's
    /// jitter; never measured, [`FIRST_MEASUREMENT_AFTER`] after `active_since` (or after
    /// `interval`, if that is sooner).
    pub fn resume(
        taken_at: Option<DateTime<Utc>>,
        active_since: Option<DateTime<Utc>>,
        uid: &str,
        now: DateTime<Utc>,
        interval: Duration,
    ) -> Self {
        let due = match taken_at {
            Some(taken) => plus(plus(taken, interval).max(now), jitter(uid, interval)),
            None => plus(
                active_since.unwrap_or(now),
                FIRST_MEASUREMENT_AFTER.min(interval),
            ),
        };
        Self { due, misses: 0 }
    }

    /// Whether a measurement is due at `now`: at its time, or at once when it is a retry
    /// waiting for allocation figures and `figures` says the quota's watch has them now
    /// (asked only of such a retry: the regular schedule never looks).
    /// Issue 11: the retries double up to the interval, so at 10,000 tenants, whose quotas
    /// the quota controller fills in over minutes, a late quota left its tenant unmeasured
    /// for up to twenty minutes after its figures came.
    pub fn is_due(&self, now: DateTime<Utc>, figures: impl FnOnce() -> bool) -> bool {
        now >= self.due || (self.misses > 0 && figures())
    }

    /// The schedule after a measurement at `at`: the regular `interval` after a complete
    /// one, a short retry after one without allocation figures.
    pub fn after(
        previous: Option<MeasurementSchedule>,
        complete: bool,
        at: DateTime<Utc>,
        interval: Duration,
    ) -> Self {
        if complete {
            return Self {
                due: plus(at, interval),
                misses: 0,
            };
        }
        let misses = previous.map_or(0, |p| p.misses).saturating_add(1);
        let retry = Duration::from_secs(5)
            .saturating_mul(1 << misses.saturating_sub(1).min(16))
            .min(interval);
        Self {
            due: plus(at, retry),
            misses,
        }
    }
}

/// One instant vector answered for many namespaces (`sum by (namespace) (...)`), keyed by
/// namespace. Samples without a namespace label or with a value that is not a finite
/// number are left out: missing data never looks like an idle resource.
pub fn by_namespace<'a>(
    samples: impl IntoIterator<Item = (Option<&'a str>, f64)>,
) -> BTreeMap<String, Decimal> {
    samples
        .into_iter()
        .filter_map(|(ns, v)| {
            let ns = ns.filter(|n| !n.is_empty())?;
            let v = Some(v)
                .filter(|v| v.is_finite())
                .and_then(Decimal::from_f64)?;
            Some((ns.to_string(), v))
        })
        .collect()
}

/// The six batched answers of one pass (one per figure), each keyed by namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchedUsage {
    /// Average CPU use over the window, cores.
    pub avg_cpu: BTreeMap<String, Decimal>,
    /// Highest CPU use in the window, cores.
    pub peak_cpu: BTreeMap<String, Decimal>,
    /// Average memory working set, bytes.
    pub avg_memory: BTreeMap<String, Decimal>,
    /// Highest memory working set, bytes.
    pub peak_memory: BTreeMap<String, Decimal>,
    /// Average volume bytes used.
    pub avg_used: BTreeMap<String, Decimal>,
    /// Average volume capacity, bytes.
    pub avg_capacity: BTreeMap<String, Decimal>,
}

impl BatchedUsage {
    /// The usage of `namespace` against `grant`: averages ÷ grant, storage used ÷
    /// capacity, the peaks as read. A figure with no series for the namespace is absent.
    pub fn usage(&self, namespace: &str, grant: &Amounts) -> Usage {
        let get = |m: &BTreeMap<String, Decimal>| m.get(namespace).copied();
        let (used, capacity) = (get(&self.avg_used), get(&self.avg_capacity));
        Usage {
            ratios: Ratios {
                cpu: share(get(&self.avg_cpu), grant.get(ResourceKind::Cpu)),
                memory: share(get(&self.avg_memory), grant.get(ResourceKind::Memory)),
                storage: capacity.and_then(|c| share(used, c)),
                storage_free: match (used, capacity) {
                    (Some(u), Some(c)) => Some(c.saturating_sub(u).max(Decimal::ZERO)),
                    _ => None,
                },
            },
            peak_cpu: get(&self.peak_cpu),
            peak_memory: get(&self.peak_memory),
        }
    }
}

/// `v` as a share of `of`. Checked (issue 14): a large use over a tiny grant (`1m` CPU) is
/// beyond any ratio, and a zero grant has none; either way no figure, never a panic.
pub fn share(v: Option<Decimal>, of: Decimal) -> Option<Decimal> {
    v.and_then(|v| v.checked_div(of))
}

#[cfg(test)]
#[path = "measurement_tests.rs"]
mod tests;
