//! The Events a change's decision publishes.

use super::change::{APPLY_OVERDUE, REQUIRES_ESCALATION};
use super::conditions::{self, types};
use super::notice::Notice;
use crate::api::{ChangePhase, ResourceChangeStatus};

/// The Events for what changed between `old` and `new`: a new phase, and a warning
/// condition that just turned true.
pub(super) fn notices(old: &ResourceChangeStatus, new: &ResourceChangeStatus) -> Vec<Notice> {
    let mut out = Vec::new();
    if let Some(phase) = new.phase.filter(|p| Some(*p) != old.phase) {
        let (warning, reason, message) = match phase {
            ChangePhase::Submitted => (false, "Submitted", "submitted for review".to_string()),
            ChangePhase::Approved if new.auto_approved == Some(true) => (
                false,
                "AutoApproved",
                "a scale-down, approved automatically".to_string(),
            ),
            ChangePhase::Approved => (false, "Approved", "approved; being applied".to_string()),
            ChangePhase::Rejected => (true, "Rejected", "rejected".to_string()),
            ChangePhase::Applied => (false, "Applied", "applied to the grant".to_string()),
            ChangePhase::Unrecognized => (
                true,
                super::unknown::UNKNOWN_PHASE,
                "phase unknown to this release".to_string(),
            ),
            ChangePhase::Invalid => (
                true,
                "Invalid",
                conditions::find(&new.conditions, types::INVALID)
                    .map(|c| c.message.clone())
                    .unwrap_or_default(),
            ),
        };
        out.push(Notice {
            warning,
            reason,
            message,
        });
    }
    out.extend(super::notice::turned_true(
        &old.conditions,
        &new.conditions,
        &[
            types::REVIEW_OVERDUE,
            APPLY_OVERDUE,
            REQUIRES_ESCALATION,
            types::CALENDAR_INCOMPLETE,
        ],
    ));
    out
}
