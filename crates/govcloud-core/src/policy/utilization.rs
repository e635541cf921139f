//! Utilization of a grant (SN 14, GY 10, SH 25), as a pure function.
//!
//! - **Figures**: usage from Prometheus averaged over the policy window when configured
//!   and reachable; otherwise allocation (quota used ÷ hard), which is always available.
//! - **Grace**: nothing is judged before Active + `graceAfterActive` (SN 14: a new system
//!   is monitored from 3 months after stable go-live).
//! - **Low / High** (SN 14), per resource: low CPU < 10 %, memory < 30 %, storage < 40 %
//!   or < 60 % with more than 1 TB free; high CPU > 60 %, memory > 80 %, storage ≥ 80 %
//!   with less than 1 TB free. Any low resource makes the grant low; any high, high.
//! - **Notice** (GY 10): low utilization issues an optimization notice; the unit
//!   downsizes (a ResourceChange that reduces the grant) or objects (annotation
//!   `govcloud.io/objection`, which puts it before the bureau) by `respondBy`.
//! - **Ignored** past `respondBy`: the policy's `onIgnored` — `Flag` (`BudgetExcluded`,
//!   GY 10: the cost leaves central funding), `Downsize` (an automatic ResourceChange to the
//!   observed peak plus 20 % headroom), or `Reclaim` (suspension, SH 25).
//! - **Missing data never reclaims**: while Prometheus is configured but unreachable the
//!   allocation figures are shown and flagged, and no ignored notice is acted on.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::calendar::Calendar;
use super::conditions::Wanted;
use super::deadline;
use super::notice::Notice;
use super::quantity::{Amounts, ResourceKind, format_quantity, format_ratio, parse_quantity};
use super::rules::{Rules, Thresholds};
use crate::api::{OnIgnored, OptimizationNotice, Utilization, UtilizationFigures};

/// Condition types of this module.
pub mod types {
    pub const LOW: &str = "LowUtilization";
    pub const HIGH: &str = "HighUtilization";
    pub const METRICS_UNAVAILABLE: &str = "MetricsUnavailable";
    pub const OBJECTED: &str = "OptimizationObjected";
    pub const BUDGET_EXCLUDED: &str = "BudgetExcluded";
}

/// The annotation a unit sets on its request to object to a notice.
pub const OBJECTION_ANNOTATION: &str = "govcloud.io/objection";

/// Ratios of one source; storage free in bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ratios {
    /// CPU.
    pub cpu: Option<Decimal>,
    /// Memory.
    pub memory: Option<Decimal>,
    /// Storage.
    pub storage: Option<Decimal>,
    /// Free storage, bytes.
    pub storage_free: Option<Decimal>,
}

/// Usage read from Prometheus.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    /// Averages over the window ÷ grant.
    pub ratios: Ratios,
    /// Highest CPU use in the window, cores.
    pub peak_cpu: Option<Decimal>,
    /// Highest memory use in the window, bytes.
    pub peak_memory: Option<Decimal>,
}

/// One measurement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measured {
    /// From the ResourceQuota.
    pub allocation: Option<Ratios>,
    /// `Ok(None)`: Prometheus not configured; `Err`: configured but failing.
    pub usage: Result<Option<Usage>, String>,
}

/// Everything the evaluation needs.
pub struct UtilizationInputs<'a> {
    /// The policy.
    pub rules: &'a Rules,
    /// Its calendar.
    pub calendar: &'a Calendar,
    /// When the request became Active.
    pub started: DateTime<Utc>,
    /// The grant.
    pub grant: &'a Amounts,
    /// The previous utilization status.
    pub previous: Option<&'a Utilization>,
    /// A fresh measurement, when one was taken this pass.
    pub measured: Option<&'a Measured>,
    /// The unit's objection, if annotated.
    pub objection: Option<&'a str>,
    /// When a ResourceChange last reduced the grant.
    pub last_downsize: Option<DateTime<Utc>>,
    /// Now.
    pub now: DateTime<Utc>,
}

/// What the evaluation decided.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UtilizationOutcome {
    /// The status to keep.
    pub status: Option<Utilization>,
    /// Conditions.
    pub wanted: Vec<Wanted>,
    /// Events.
    pub notices: Vec<Notice>,
    /// Suspend the grant (SH 25).
    pub suspend: bool,
    /// File an automatic ResourceChange to these amounts.
    pub downsize: Option<Amounts>,
    /// Look again at (a `respondBy`).
    pub wake_at: Option<DateTime<Utc>>,
}

fn figures(r: &Ratios) -> UtilizationFigures {
    UtilizationFigures {
        cpu: r.cpu.map(format_ratio),
        memory: r.memory.map(format_ratio),
        storage: r.storage.map(format_ratio),
        storage_free: r
            .storage_free
            .map(|b| format_quantity(ResourceKind::Storage, b.round())),
    }
}

fn ratios(f: &UtilizationFigures) -> Ratios {
    let p = |s: &Option<String>| s.as_deref().and_then(|v| v.parse::<Decimal>().ok());
    Ratios {
        cpu: p(&f.cpu),
        memory: p(&f.memory),
        storage: p(&f.storage),
        storage_free: f
            .storage_free
            .as_deref()
            .and_then(|v| parse_quantity(v).ok()),
    }
}

fn pct(d: Decimal) -> String {
    // Saturating: a ratio read back from a status may be any decimal (issue 14).
    format!(
        "{}%",
        d.saturating_mul(Decimal::ONE_HUNDRED)
            .round_dp(1)
            .normalize()
    )
}

/// Resources found low or high: `(key, phrase)`.
pub type Findings = Vec<(&'static str, String)>;

/// Which resources are low and which high, with a phrase each.
pub fn classify(
    r: &Ratios,
    low: &Thresholds,
    high: &Thresholds,
    large_free: Decimal,
) -> (Findings, Findings) {
    let mut lows = Vec::new();
    let mut highs = Vec::new();
    if let Some(c) = r.cpu {
        if c < low.cpu {
            lows.push(("cpu", format!("CPU {} < {}", pct(c), pct(low.cpu))));
        } else if c > high.cpu {
            highs.push(("cpu", format!("CPU {} > {}", pct(c), pct(high.cpu))));
        }
    }
    if let Some(m) = r.memory {
        if m < low.memory {
            lows.push(("memory", format!("memory {} < {}", pct(m), pct(low.memory))));
        } else if m > high.memory {
            highs.push((
                "memory",
                format!("memory {} > {}", pct(m), pct(high.memory)),
            ));
        }
    }
    if let Some(s) = r.storage {
        let large = r.storage_free.map(|f| f > large_free);
        if s < low.storage {
            lows.push((
                "storage",
                format!("storage {} < {}", pct(s), pct(low.storage)),
            ));
        } else if let (Some(t), Some(true)) = (low.storage_with_large_free, large)
            && s < t
        {
            {
                lows.push((
                    "storage",
                    format!(
                        "storage {} < {} with more than {} free",
                        pct(s),
                        pct(t),
                        format_quantity(ResourceKind::Storage, large_free)
                    ),
                ));
            }
        }
        // SN 14: high storage needs ≥ the threshold AND less than `large_free` free.
        if s >= high.storage && large != Some(true) {
            highs.push((
                "storage",
                format!(
                    "storage {} ≥ {} with less than {} free",
                    pct(s),
                    pct(high.storage),
                    format_quantity(ResourceKind::Storage, large_free)
                ),
            ));
        }
    }
    (lows, highs)
}

/// The automatic downsize target: observed peak + 20 % headroom, whole vCPUs and GiB,
/// never above the grant.
pub fn downsize_target(
    grant: &Amounts,
    peak_cpu: Option<Decimal>,
    peak_memory: Option<Decimal>,
) -> Option<Amounts> {
    let mut out = Amounts::default();
    let headroom = Decimal::new(12, 1);
    let gib = Decimal::from(1u64 << 30);
    if let Some(p) = peak_cpu {
        // Saturating (issue 14): a peak that large is never below the grant anyway.
        let target = p.saturating_mul(headroom).ceil().max(Decimal::ONE);
        if target < grant.get(ResourceKind::Cpu) {
            out.0[ResourceKind::Cpu as usize] = Some(target);
        }
    }
    if let Some(p) = peak_memory {
        let target = (p.saturating_mul(headroom) / gib)
            .ceil()
            .max(Decimal::ONE)
            .saturating_mul(gib);
        if target < grant.get(ResourceKind::Memory) {
            out.0[ResourceKind::Memory as usize] = Some(target);
        }
    }
    ResourceKind::ALL.iter().any(|k| out.has(*k)).then_some(out)
}

/// Evaluates utilization.
pub fn evaluate(i: &UtilizationInputs<'_>) -> UtilizationOutcome {
    let u = &i.rules.utilization;
    let mut out = UtilizationOutcome::default();
    let monitored_from = deadline::add(
        i.started,
        u.grace_after_active,
        i.calendar,
        i.rules.time_zone,
    )
    .at;

    // Figures: a fresh measurement replaces the previous one only when it differs.
    let mut peak = None;
    let mut st = match (i.measured, i.previous) {
        (None, None) => return out,
        (None, Some(prev)) => prev.clone(),
        (Some(m), prev) => {
            let (usage, error) = match &m.usage {
                Ok(u) => (u.clone(), None),
                Err(e) => (None, Some(e.clone())),
            };
            let mut next = Utilization {
                taken_at: i.now,
                source: if usage.is_some() {
                    "Prometheus".into()
                } else {
                    "Allocation".into()
                },
                window: usage.as_ref().map(|_| u.window.to_string()),
                allocation: m.allocation.as_ref().map(figures),
                usage: usage.as_ref().map(|x| figures(&x.ratios)),
                monitored_from: Some(monitored_from),
                level: None,
                notice: prev.and_then(|p| p.notice.clone()),
                metrics_error: error,
            };
            if let Some(prev) = prev
                && prev.allocation == next.allocation
                && prev.usage == next.usage
                && prev.source == next.source
                && prev.metrics_error == next.metrics_error
            {
                next.taken_at = prev.taken_at;
            }
            // The peak, should an ignored notice lead to an automatic downsize.
            peak = usage
                .as_ref()
                .and_then(|u| downsize_target(i.grant, u.peak_cpu, u.peak_memory));
            next
        }
    };
    let metrics_failing = st.metrics_error.is_some();
    if let Some(err) = &st.metrics_error {
        out.wanted.push(Wanted::yes(
            types::METRICS_UNAVAILABLE,
            "PrometheusUnreachable",
            format!("usage cannot be read from Prometheus ({err}); allocation figures are used and no notice is acted on"),
        ));
    }
    st.monitored_from = Some(monitored_from);

    if i.now < monitored_from {
        st.level = None;
        out.status = Some(st);
        return out;
    }
    let judged = st
        .usage
        .as_ref()
        .or(st.allocation.as_ref())
        .map(ratios)
        .unwrap_or_default();
    if judged == Ratios::default() {
        // No figure at all yet (e.g. the quota's status is not filled in): nothing to judge.
        st.level = None;
        out.status = Some(st);
        return out;
    }
    let (lows, highs) = classify(&judged, &u.low, &u.high, u.large_free);
    st.level = Some(
        if !highs.is_empty() {
            "High"
        } else if !lows.is_empty() {
            "Low"
        } else {
            "Normal"
        }
        .into(),
    );
    let source = st.source.clone();
    if !lows.is_empty() {
        let what: Vec<_> = lows.iter().map(|(_, s)| s.as_str()).collect();
        out.wanted.push(Wanted::yes(
            types::LOW,
            "BelowThresholds",
            format!("{} ({source}; SN 14)", what.join(", ")),
        ));
    }
    if !highs.is_empty() {
        let what: Vec<_> = highs.iter().map(|(_, s)| s.as_str()).collect();
        out.wanted.push(Wanted::yes(
            types::HIGH,
            "AboveThresholds",
            format!(
                "{} ({source}; SN 14) — optimize first, then expand (XB 25.2)",
                what.join(", ")
            ),
        ));
    }

    // The notice (GY 10).
    let open = st.notice.as_ref().is_some_and(|n| n.outcome.is_none());
    let resolved_long_ago = st.notice.as_ref().is_some_and(|n| {
        matches!(n.outcome.as_deref(), Some("Downsized") | Some("Improved"))
            // Checked (issue 14): a window beyond any time span never comes round.
            && chrono::TimeDelta::try_seconds(window_seconds(u.window))
                .and_then(|w| n.issued_at.checked_add_signed(w))
                .is_some_and(|due| i.now >= due)
    });
    if !lows.is_empty() && (st.notice.is_none() || resolved_long_ago) {
        let respond_by = deadline::add(i.now, u.respond_within, i.calendar, i.rules.time_zone).at;
        st.notice = Some(OptimizationNotice {
            issued_at: i.now,
            respond_by,
            resources: lows.iter().map(|(k, _)| (*k).to_string()).collect(),
            objection: None,
            outcome: None,
        });
        out.notices.push(Notice {
            warning: true,
            reason: "OptimizationNotice",
            message: format!("low utilization: optimize (a scale-down ResourceChange) or object (annotation {OBJECTION_ANNOTATION}) by {} (GY 10)", respond_by.to_rfc3339()),
        });
    } else if open && let Some(n) = st.notice.as_mut() {
        if i.last_downsize.is_some_and(|t| t >= n.issued_at) {
            n.outcome = Some("Downsized".into());
        } else if lows.is_empty() && i.measured.is_some() {
            n.outcome = Some("Improved".into());
        } else if let Some(text) = i.objection.filter(|t| !t.trim().is_empty()) {
            if n.objection.as_deref() != Some(text) {
                out.notices.push(Notice { warning: false, reason: "ObjectionFiled", message: format!("the unit objects to the optimization notice: {text}; before the bureau (GY 10)") });
            }
            n.objection = Some(text.to_string());
        } else if i.now >= n.respond_by && !metrics_failing {
            n.objection = None;
            match u.on_ignored {
                // Unrecognized never leaves `rules::resolve`; flagging is the harmless one.
                OnIgnored::Flag | OnIgnored::Unrecognized => n.outcome = Some("Flagged".into()),
                OnIgnored::Downsize => n.outcome = Some("AutoDownsize".into()),
                OnIgnored::Reclaim => n.outcome = Some("Suspended".into()),
            }
            out.notices.push(Notice { warning: true, reason: "NoticeIgnored", message: format!("the optimization notice was neither acted on nor objected to by {}: {:?} (GY 10, SN 14, SH 25)", n.respond_by.to_rfc3339(), u.on_ignored) });
        } else if i.now < n.respond_by {
            out.wake_at = Some(n.respond_by);
        }
    }
    if let Some(n) = &st.notice {
        if let Some(text) = n.objection.as_deref().filter(|_| n.outcome.is_none()) {
            out.wanted.push(Wanted::yes(
                types::OBJECTED,
                "BeforeTheBureau",
                format!("the unit objects: {text}"),
            ));
        }
        match n.outcome.as_deref() {
            Some("Flagged") => out.wanted.push(Wanted::yes(types::BUDGET_EXCLUDED, "NoticeIgnored", "the optimization notice was ignored: this grant's cost is no longer covered by central funding (GY 10)")),
            Some("Suspended") => out.suspend = true,
            // The observed peak needs a fresh measurement; without Prometheus the pods'
            // requests stand in for it.
            Some("AutoDownsize") => {
                out.downsize = peak.or_else(|| (st.source == "Allocation").then(|| downsize_from_allocation(i.grant, &st)).flatten())
            }
            _ => {}
        }
    }
    out.status = Some(st);
    out
}

/// Without Prometheus the peak is what the pods request (quota used).
fn downsize_from_allocation(grant: &Amounts, st: &Utilization) -> Option<Amounts> {
    let a = st.allocation.as_ref().map(ratios)?;
    downsize_target(
        grant,
        // Saturating: the ratios are read back from the status (issue 14).
        a.cpu
            .map(|r| r.saturating_mul(grant.get(ResourceKind::Cpu))),
        a.memory
            .map(|r| r.saturating_mul(grant.get(ResourceKind::Memory))),
    )
}

/// A window in seconds (months as 30 days, working days as 1.4 days), for Prometheus ranges.
pub fn window_seconds(d: super::duration::PolicyDuration) -> i64 {
    use super::duration::PolicyDuration as D;
    match d {
        // Saturating: a count of seconds beyond i64 is not wrapped into a negative one.
        D::Seconds(s) => i64::try_from(s).unwrap_or(i64::MAX),
        D::Days(n) => i64::from(n) * 86_400,
        D::WorkingDays(n) => i64::from(n) * 120_960,
        D::Months(n) => i64::from(n) * 30 * 86_400,
    }
}

#[cfg(test)]
#[path = "utilization_tests.rs"]
mod tests;
