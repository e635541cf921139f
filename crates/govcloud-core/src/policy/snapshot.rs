//! An approval binds to a snapshot (issue 13): when the operator takes in a decision on a
//! ResourceChange or an ExitRequest it copies the approved spec into status, and only that
//! copy is ever acted on. A spec edited after the approval voids it (`ApprovalStale`)
//! until a new decision.
//!
//! A decision names the generation it was made for (`approval.generation`, as the plugin
//! writes it). One without (a bare `kubectl patch`) applies only to a spec the operator has
//! already shown as it is now (`status.observedGeneration` equal to the generation), or to
//! a spec never edited (generation 1): an approval patched while the operator was stopped
//! and followed by an edit is stale, never applied to the edit.

use chrono::{DateTime, Utc};

use super::conditions::{Wanted, types};
use crate::api::{Approval, Decision};

/// What the status holds about the decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Record<S> {
    /// The decision last taken in (`status.reviewedApproval`).
    pub reviewed: Option<Approval>,
    /// The spec as approved (`status.approvedSpec`).
    pub approved_spec: Option<S>,
    /// The generation approved (`status.approvedGeneration`).
    pub approved_generation: Option<i64>,
    /// When the decision took effect (`status.decidedAt`).
    pub decided_at: Option<DateTime<Utc>>,
}

/// How the decision stands for the current spec.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict<S> {
    /// No decision.
    Undecided,
    /// Approved: act on this copy only.
    Approved(S),
    /// Rejected.
    Rejected,
    /// A decision that does not apply to the current spec: why.
    Stale(String),
}

/// Everything the binding needs.
pub struct Inputs<'a, S> {
    /// `status.approval` as the approver wrote it.
    pub approval: Option<&'a Approval>,
    /// What the status recorded so far.
    pub record: Record<S>,
    /// `metadata.generation`.
    pub generation: i64,
    /// `status.observedGeneration`: the generation the operator last showed.
    pub observed_generation: Option<i64>,
    /// The current spec.
    pub spec: &'a S,
    /// The part of a spec an approval binds (an exit's backup confirmation is the unit's
    /// to give after the approval, so it is left out there).
    pub binding: fn(&S) -> S,
    /// Now.
    pub now: DateTime<Utc>,
}

/// The decision without the reclaim override (issue 15), which re-decides nothing.
fn bare(a: &Approval) -> Approval {
    Approval {
        reclaim_override: None,
        ..a.clone()
    }
}

/// Binds the decision in `status.approval` to a snapshot of the spec; returns the verdict
/// and the record to write.
pub fn bind<S: Clone + PartialEq>(i: Inputs<'_, S>) -> (Verdict<S>, Record<S>) {
    let mut rec = i.record;
    let Some(approval) = i.approval else {
        // The decision was withdrawn: nothing stands.
        return (
            Verdict::Undecided,
            Record {
                reviewed: None,
                approved_spec: None,
                approved_generation: None,
                decided_at: None,
            },
        );
    };
    let current = (i.binding)(i.spec);
    let new_decision = rec.reviewed.as_ref().map(bare) != Some(bare(approval));
    if !new_decision {
        return match approval.decision {
            Decision::Rejected => (Verdict::Rejected, rec),
            Decision::Approved => match &rec.approved_spec {
                Some(snap) if (i.binding)(snap) == current => {
                    (Verdict::Approved(snap.clone()), rec)
                }
                Some(_) => {
                    let why = format!(
                        "the spec was edited after its approval of generation {}: the approval is void until a new decision on generation {}",
                        rec.approved_generation.unwrap_or_default(),
                        i.generation
                    );
                    (Verdict::Stale(why), rec)
                }
                None => (Verdict::Stale(unbound(i.generation)), rec),
            },
        };
    }
    // A new decision: which spec was it made for?
    let target = approval.generation.or_else(|| {
        let shown = i.observed_generation == Some(i.generation)
            || (i.observed_generation.is_none() && i.generation == 1);
        shown.then_some(i.generation)
    });
    rec.reviewed = Some(approval.clone());
    rec.approved_spec = None;
    rec.approved_generation = None;
    match target {
        Some(g) if g == i.generation => {
            rec.decided_at = Some(approval.decided_at.unwrap_or(i.now));
            match approval.decision {
                Decision::Approved => {
                    rec.approved_spec = Some(i.spec.clone());
                    rec.approved_generation = Some(g);
                    (Verdict::Approved(i.spec.clone()), rec)
                }
                Decision::Rejected => (Verdict::Rejected, rec),
            }
        }
        Some(g) => (
            Verdict::Stale(format!(
                "the decision in status.approval is for generation {g} but the spec is at generation {}: decide again",
                i.generation
            )),
            rec,
        ),
        None => (Verdict::Stale(unbound(i.generation)), rec),
    }
}

fn unbound(generation: i64) -> String {
    format!(
        "the decision names no generation and the spec changed since the operator last showed it: decide again for generation {generation} (set status.approval.generation)"
    )
}

/// The `ApprovalStale` condition for a verdict: True with why, or False.
pub fn condition<S>(verdict: &Verdict<S>) -> Option<Wanted> {
    match verdict {
        Verdict::Stale(why) => Some(Wanted::yes(
            types::APPROVAL_STALE,
            "SpecChanged",
            why.clone(),
        )),
        _ => None,
    }
}

#[cfg(test)]
#[path = "snapshot_tests.rs"]
mod tests;
