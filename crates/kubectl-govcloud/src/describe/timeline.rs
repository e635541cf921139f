//! The timeline of `describe`: what happened to a request, its changes and its exits,
//! read from their statuses and put in order.

use chrono::{DateTime, Utc};
use kube::ResourceExt;
use kube::api::ObjectMeta;

use govcloud_core::api::{
    Approval, CloudResourceRequest, Condition, Decision, ExitPhase, ExitRequest, RequestPhase,
    ResourceAmounts, ResourceChange,
};
use govcloud_core::policy::quantity::{Amounts, ResourceKind, format_quantity};

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// When.
    pub at: DateTime<Utc>,
    /// What, in a few words.
    pub what: String,
}

/// When an object was created, as chrono sees it.
pub(super) fn created_at(meta: &ObjectMeta) -> Option<DateTime<Utc>> {
    let t = meta.creation_timestamp.as_ref()?;
    DateTime::from_timestamp(t.0.as_second(), 0)
}

pub(super) fn event(at: DateTime<Utc>, what: impl Into<String>) -> Event {
    Event {
        at,
        what: what.into(),
    }
}

/// "Approved by alice: "fine"" — the decision line.
pub(super) fn decision_text(approval: &Approval) -> String {
    let mut text = match approval.decision {
        Decision::Approved => "Approved".to_string(),
        Decision::Rejected => "Rejected".to_string(),
    };
    if let Some(reviewer) = approval.reviewer.as_deref().filter(|r| !r.is_empty()) {
        text.push_str(&format!(" by {reviewer}"));
    }
    if let Some(generation) = approval.generation {
        text.push_str(&format!(" (generation {generation})"));
    }
    if let Some(comment) = approval.comment.as_deref().filter(|c| !c.is_empty()) {
        text.push_str(&format!(": {comment:?}"));
    }
    text
}

pub(super) fn condition_true<'a>(
    conditions: &'a [Condition],
    type_: &str,
) -> Option<&'a Condition> {
    conditions
        .iter()
        .find(|c| c.type_ == type_ && c.status == "True")
}

/// A request's timeline, oldest first, with its changes and exits woven in.
pub fn request_timeline(
    r: &CloudResourceRequest,
    changes: &[ResourceChange],
    exits: &[ExitRequest],
    now: DateTime<Utc>,
) -> Vec<Event> {
    let mut events = Vec::new();
    let created = created_at(&r.metadata);
    let Some(st) = &r.status else {
        if let Some(t) = created {
            events.push(event(t, "Created (not yet seen by the operator)"));
        }
        return events;
    };
    if let Some(t) = st.submitted_at.or(created) {
        events.push(event(t, "Submitted"));
    }
    if let Some(approval) = &st.approval
        && let Some(t) = approval.decided_at.or(st.decided_at)
    {
        events.push(event(t, decision_text(approval)));
    }
    let billing = st.billing.as_ref();
    if let Some(t) = billing.and_then(|b| b.started_at) {
        let mut what = "Active: provisioned".to_string();
        if let Some(ns) = &st.tenant_namespace {
            what.push_str(&format!(" in namespace {ns}"));
        }
        if let Some(cost) = billing.and_then(|b| b.monthly_cost.as_deref()) {
            let currency = billing.and_then(|b| b.currency.as_deref()).unwrap_or("CNY");
            what.push_str(&format!(", billing started at {cost} {currency}/month"));
        }
        events.push(event(t, what));
    }
    let deadlines = st.deadlines.clone().unwrap_or_default();
    if billing.and_then(|b| b.started_at).is_some()
        && let Some(warn) = deadlines.warn_at.filter(|t| *t <= now)
    {
        events.push(event(warn, "Warned of the coming expiry"));
    }
    let phase = st.phase;
    if let Some(c) = condition_true(&st.conditions, "Suspended") {
        events.push(event(
            c.last_transition_time,
            format!("Suspended: {}", c.message),
        ));
    } else if matches!(
        phase,
        Some(RequestPhase::Reclaiming | RequestPhase::Reclaimed)
    ) && let Some(exp) = deadlines.expires_at.filter(|t| *t <= now)
    {
        events.push(event(exp, "Suspended: the grant expired"));
    }
    if let Some(t) = billing.and_then(|b| b.stopped_at) {
        events.push(event(
            t,
            "Reclaimed: tenant namespace deleted, billing stopped",
        ));
    }
    for applied in &st.applied_changes {
        let mut what = format!("Change {} applied", applied.name);
        if let Some(c) = changes.iter().find(|c| c.name_any() == applied.name)
            && let Some(summary) = change_summary(c)
        {
            what.push_str(&format!(": {summary}"));
        }
        events.push(event(applied.applied_at, what));
    }
    for e in exits {
        let name = e.name_any();
        let est = e.status.clone().unwrap_or_default();
        if let Some(t) = est.submitted_at.or(created_at(&e.metadata)) {
            events.push(event(t, format!("Exit {name} filed")));
        }
        if let Some(approval) = &est.approval
            && let Some(t) = approval.decided_at.or(est.decided_at)
        {
            events.push(event(t, format!("Exit {name} {}", decision_text(approval))));
        }
        if let Some(t) = est
            .deadlines
            .as_ref()
            .and_then(|d| d.transition_ends_at)
            .filter(|t| *t <= now)
            && matches!(
                est.phase,
                Some(ExitPhase::Reclaiming | ExitPhase::Completed)
            )
        {
            events.push(event(t, format!("Exit {name}: transition ended")));
        }
        if let Some(t) = est.completed_at {
            events.push(event(t, format!("Exit {name} completed")));
        }
    }
    events.sort_by_key(|e| e.at);
    events
}

pub(super) fn amounts_text(a: &ResourceAmounts) -> String {
    let Ok(parsed) = Amounts::parse("", a) else {
        return "(unreadable)".to_string();
    };
    let parts: Vec<String> = ResourceKind::ALL
        .into_iter()
        .filter(|k| parsed.has(*k))
        .map(|k| format!("{} {}", k.key(), format_quantity(k, parsed.get(k))))
        .collect();
    if parts.is_empty() {
        "-".to_string()
    } else {
        parts.join(", ")
    }
}

pub(super) fn change_summary(c: &ResourceChange) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(r) = &c.spec.resources {
        parts.push(amounts_text(r));
    }
    if let Some(to) = &c.spec.extend_to {
        parts.push(format!("extend to {to}"));
    }
    if let Some(class) = c.spec.convert_to {
        parts.push(format!("convert to {}", class.as_str()));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}
