//! The Events of a request: a phase reached, a decision taken, a change applied, a
//! warning condition turned True.

use super::Notice;
use crate::api::{CloudResourceRequestStatus, Decision, RequestPhase};
use crate::policy::conditions::{self, types};

fn phase_notice(phase: RequestPhase, st: &CloudResourceRequestStatus) -> Notice {
    let ns = st.tenant_namespace.clone().unwrap_or_default();
    let (warning, reason, message) = match phase {
        RequestPhase::Submitted => (false, "Submitted", "submitted for review".to_string()),
        RequestPhase::Approved => (
            false,
            "Approved",
            "approved; waiting to provision".to_string(),
        ),
        RequestPhase::Rejected => (
            true,
            "Rejected",
            format!(
                "rejected: {}",
                st.reviewed_approval
                    .as_ref()
                    .and_then(|a| a.comment.clone())
                    .unwrap_or_else(|| "no reason given".into())
            ),
        ),
        RequestPhase::Provisioning => (
            false,
            "Provisioning",
            format!("provisioning tenant namespace {ns}"),
        ),
        RequestPhase::Active => (
            false,
            "Active",
            format!("tenant namespace {ns} is active; billing started"),
        ),
        RequestPhase::Suspended => (
            true,
            "Suspended",
            format!("tenant namespace {ns} suspended: quota closed, workloads scaled to zero"),
        ),
        RequestPhase::Reclaiming => (
            true,
            "Reclaiming",
            format!("reclaiming tenant namespace {ns}: its data is being deleted"),
        ),
        RequestPhase::Reclaimed => (
            false,
            "Reclaimed",
            format!("tenant namespace {ns} reclaimed; billing stopped"),
        ),
        RequestPhase::Unrecognized => {
            return crate::policy::unknown::unknown_phase("CloudResourceRequest");
        }
        RequestPhase::Invalid => (
            true,
            "Invalid",
            "the spec is invalid; see the Invalid condition".to_string(),
        ),
    };
    Notice {
        warning,
        reason,
        message,
    }
}

/// Conditions whose turning True is worth an Event, and whether it is a Warning.
fn condition_event(type_: &str) -> Option<(bool, &'static str)> {
    Some(match type_ {
        types::REVIEW_OVERDUE => (true, "ReviewOverdue"),
        types::PROVISIONING_OVERDUE => (true, "ProvisioningOverdue"),
        types::NOT_DEPLOYED => (true, "NotDeployed"),
        types::PAPERWORK_PENDING => (false, "PaperworkPending"),
        types::PAPERWORK_OVERDUE => (true, "PaperworkOverdue"),
        types::EXPIRING_SOON => (true, "ExpiringSoon"),
        types::NAMESPACE_CONFLICT => (true, "NamespaceConflict"),
        types::INSUFFICIENT_CAPACITY => (true, "InsufficientCapacity"),
        types::CALENDAR_INCOMPLETE => (true, "CalendarIncomplete"),
        types::DELETION_BLOCKED => (true, "DeletionBlocked"),
        types::UNAPPLIED_SPEC_CHANGE => (true, "UnappliedSpecChange"),
        types::RECLAIM_HELD => (true, "ReclaimHeld"),
        crate::policy::utilization::types::LOW => (true, "LowUtilization"),
        crate::policy::utilization::types::HIGH => (true, "HighUtilization"),
        crate::policy::utilization::types::METRICS_UNAVAILABLE => (true, "MetricsUnavailable"),
        crate::policy::utilization::types::OBJECTED => (false, "OptimizationObjected"),
        crate::policy::utilization::types::BUDGET_EXCLUDED => (true, "BudgetExcluded"),
        _ => return None,
    })
}

/// Events for what changed between `old` and `new`.
pub fn notices(old: &CloudResourceRequestStatus, new: &CloudResourceRequestStatus) -> Vec<Notice> {
    let mut out = Vec::new();
    if old.submitted_at.is_some()
        && new.submitted_at != old.submitted_at
        && new.phase == Some(RequestPhase::Submitted)
    {
        out.push(Notice {
            warning: false,
            reason: "Resubmitted",
            message: "the spec changed: resubmitted for review with a new review deadline".into(),
        });
    } else if let Some(phase) = new.phase.filter(|p| Some(*p) != old.phase) {
        out.push(phase_notice(phase, new));
    }
    if new.reviewed_approval != old.reviewed_approval
        && let Some(a) = new
            .reviewed_approval
            .as_ref()
            .filter(|a| a.decision == Decision::Approved)
        && new.phase != Some(RequestPhase::Approved)
    {
        let by = a.reviewer.clone().unwrap_or_else(|| "the bureau".into());
        out.push(Notice {
            warning: false,
            reason: "Approved",
            message: format!("approved by {by}"),
        });
    }
    for applied in new.applied_changes.iter().skip(old.applied_changes.len()) {
        out.push(Notice {
            warning: false,
            reason: "ChangeApplied",
            message: format!("ResourceChange {} applied to the grant", applied.name),
        });
    }
    for c in &new.conditions {
        if c.status == "True"
            && !conditions::is_true(&old.conditions, &c.type_)
            && let Some((warning, reason)) = condition_event(&c.type_)
        {
            out.push(Notice {
                warning,
                reason,
                message: c.message.clone(),
            });
        }
    }
    out
}
