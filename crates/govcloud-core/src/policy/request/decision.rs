//! The approver's decision on a request (`status.approval`) and the generation it applies to.

use chrono::{DateTime, Utc};

use crate::api::{Approval, CloudResourceRequestStatus, Decision};

/// How the approver's decision applies to the current generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    Undecided,
    Approved,
    Rejected,
    /// A decision for another generation than the current one.
    Stale(i64),
}

/// Updates the decision bookkeeping in `st` and says how the decision stands.
pub(super) fn take_decision(
    st: &mut CloudResourceRequestStatus,
    generation: i64,
    now: DateTime<Utc>,
) -> Verdict {
    let current = st.approval.clone();
    // The reclaim override (issue 15) is not part of the decision: adding it re-decides
    // nothing (no new decidedAt, no second "Approved").
    let bare = |a: &Option<Approval>| {
        a.clone().map(|mut a| {
            a.reclaim_override = None;
            a.paperwork_complete = None;
            a
        })
    };
    if bare(&current) != bare(&st.reviewed_approval) {
        if let Some(a) = &current {
            let applies_to = a.generation.unwrap_or(generation);
            if applies_to != generation {
                return Verdict::Stale(applies_to);
            }
            st.reviewed_approval = Some(a.clone());
            st.decided_at = Some(a.decided_at.unwrap_or(now));
            match a.decision {
                Decision::Approved => {
                    st.approved_generation = Some(applies_to);
                    st.rejected_generation = None;
                }
                Decision::Rejected => {
                    st.rejected_generation = Some(applies_to);
                }
            }
        } else {
            // The approval was removed: nothing is decided any more for what is not granted.
            st.reviewed_approval = None;
            st.decided_at = None;
            st.rejected_generation = None;
            if st.grant.is_none() {
                st.approved_generation = None;
            }
        }
    }
    match (
        &st.reviewed_approval,
        st.approved_generation,
        st.rejected_generation,
    ) {
        (
            Some(Approval {
                decision: Decision::Rejected,
                ..
            }),
            _,
            Some(g),
        ) if g == generation || st.grant.is_some() => Verdict::Rejected,
        (
            Some(Approval {
                decision: Decision::Approved,
                ..
            }),
            Some(g),
            _,
        ) if g == generation || st.grant.is_some() => Verdict::Approved,
        _ => Verdict::Undecided,
    }
}
