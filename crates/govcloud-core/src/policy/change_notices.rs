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
    for c in &new.conditions {
        let warn = matches!(
            c.type_.as_str(),
            types::REVIEW_OVERDUE
                | APPLY_OVERDUE
                | REQUIRES_ESCALATION
                | types::CALENDAR_INCOMPLETE
        );
        if c.status == "True" && warn && !conditions::is_true(&old.conditions, &c.type_) {
            let reason = match c.type_.as_str() {
                types::REVIEW_OVERDUE => "ReviewOverdue",
                APPLY_OVERDUE => "ApplyOverdue",
                types::CALENDAR_INCOMPLETE => "CalendarIncomplete",
                _ => "RequiresEscalation",
            };
            out.push(Notice {
                warning: true,
                reason,
                message: c.message.clone(),
            });
        }
    }
    out
}
