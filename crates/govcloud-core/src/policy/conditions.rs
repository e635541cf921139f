//! Condition bookkeeping: the decisions say which conditions apply; this keeps
//! `lastTransitionTime` unless a condition's status flips, so a converged object is never
//! rewritten.

use chrono::{DateTime, Utc};

use crate::api::Condition;

/// Condition types (DESIGN.md), named once.
pub mod types {
    pub const READY: &str = "Ready";
    pub const INVALID: &str = "Invalid";
    pub const REVIEW_OVERDUE: &str = "ReviewOverdue";
    pub const PROVISIONING_OVERDUE: &str = "ProvisioningOverdue";
    pub const NOT_DEPLOYED: &str = "NotDeployed";
    pub const PAPERWORK_PENDING: &str = "PaperworkPending";
    pub const PAPERWORK_OVERDUE: &str = "PaperworkOverdue";
    pub const EXPIRING_SOON: &str = "ExpiringSoon";
    pub const SUSPENDED: &str = "Suspended";
    pub const NAMESPACE_CONFLICT: &str = "NamespaceConflict";
    pub const INSUFFICIENT_CAPACITY: &str = "InsufficientCapacity";
    pub const CALENDAR_INCOMPLETE: &str = "CalendarIncomplete";
    pub const DELETION_BLOCKED: &str = "DeletionBlocked";
    pub const UNAPPLIED_SPEC_CHANGE: &str = "UnappliedSpecChange";
    pub const POLICY_UNAVAILABLE: &str = "PolicyUnavailable";
    pub const RECLAIM_HELD: &str = "ReclaimHeld";
    /// A ResourceChange's or ExitRequest's decision does not apply to its current spec
    /// (edited after approval, or a decision for another generation): nothing is acted
    /// on until a new decision (issue 13).
    pub const APPROVAL_STALE: &str = "ApprovalStale";
}

/// A condition the decision wants, before timestamps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// The type.
    pub type_: &'static str,
    /// `True` or `False`.
    pub status: bool,
    /// CamelCase reason.
    pub reason: &'static str,
    /// Sentence for people.
    pub message: String,
}

impl Wanted {
    /// A condition that applies.
    pub fn yes(type_: &'static str, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            type_,
            status: true,
            reason,
            message: message.into(),
        }
    }

    /// A condition that does not apply (kept to say why).
    pub fn no(type_: &'static str, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            type_,
            status: false,
            reason,
            message: message.into(),
        }
    }
}

fn status_word(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

/// The conditions a decision writes: `wanted` with Ready first and the rest in a stable
/// order, one per type, merged over `previous` (see [`merge`]). Stable order matters: a
/// converged object must compare equal to its last status, or every pass would write.
pub fn settle(
    previous: &[Condition],
    mut wanted: Vec<Wanted>,
    now: DateTime<Utc>,
    generation: i64,
) -> Vec<Condition> {
    wanted.sort_by_key(|w| (w.type_ != types::READY, w.type_));
    wanted.dedup_by_key(|w| w.type_);
    merge(previous, wanted, now, Some(generation))
}

/// The earliest of `upcoming` (name, time) as the status shows it; sorts `upcoming`.
pub fn next_deadline(
    upcoming: &mut [(&'static str, DateTime<Utc>)],
) -> Option<crate::api::NextDeadline> {
    upcoming.sort_by_key(|(_, t)| *t);
    upcoming.first().map(|(name, at)| crate::api::NextDeadline {
        name: (*name).to_string(),
        at: *at,
    })
}

/// The conditions to write: `wanted`, each keeping its previous `lastTransitionTime` when
/// its status did not flip.
pub fn merge(
    previous: &[Condition],
    wanted: Vec<Wanted>,
    now: DateTime<Utc>,
    generation: Option<i64>,
) -> Vec<Condition> {
    wanted
        .into_iter()
        .map(|w| {
            let status = status_word(w.status);
            let since = previous
                .iter()
                .find(|c| c.type_ == w.type_ && c.status == status)
                .map(|c| c.last_transition_time)
                .unwrap_or(now);
            Condition {
                type_: w.type_.to_string(),
                status: status.to_string(),
                reason: w.reason.to_string(),
                message: w.message,
                last_transition_time: since,
                observed_generation: generation,
            }
        })
        .collect()
}

/// Whether `conditions` has `type_` with status True.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    conditions
        .iter()
        .any(|c| c.type_ == type_ && c.status == "True")
}

/// The condition of `type_`, if any.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn transition_time_moves_only_when_status_flips() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap();
        let t1 = Utc.with_ymd_and_hms(2026, 1, 6, 0, 0, 0).unwrap();
        let first = merge(
            &[],
            vec![Wanted::yes(types::READY, "Active", "ok")],
            t0,
            Some(1),
        );
        let same = merge(
            &first,
            vec![Wanted::yes(types::READY, "Active", "still ok")],
            t1,
            Some(1),
        );
        assert_eq!(same[0].last_transition_time, t0);
        let flipped = merge(
            &same,
            vec![Wanted::no(types::READY, "Suspended", "expired")],
            t1,
            Some(1),
        );
        assert_eq!(flipped[0].last_transition_time, t1);
        assert!(!is_true(&flipped, types::READY));
    }
}
