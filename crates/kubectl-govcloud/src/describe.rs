//! `kubectl govcloud describe`: an object's story told from its status — what happened
//! when, every deadline and whether it was missed, and the conditions that hold.
//!
//! A request's timeline: submitted, decided (who, when, comment), active (billing
//! started), warned of expiry, suspended, reclaimed (billing stopped), each applied
//! ResourceChange, and its ExitRequests. Times are local in the policy's zone.
//!
//! A deadline is `OVERDUE` only when the operator says so with a True condition
//! (`reviewBy` with `ReviewOverdue`, …); a deadline in the past whose obligation was met
//! is merely `passed`.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use kube::ResourceExt;
use kube::api::ObjectMeta;

use super::format::{local_time, span, table};
use govcloud_core::api::{
    Approval, ChangePhase, CloudResourceRequest, Condition, Decision, ExitPhase, ExitRequest,
    RequestPhase, ResourceAmounts, ResourceChange,
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
fn created_at(meta: &ObjectMeta) -> Option<DateTime<Utc>> {
    let t = meta.creation_timestamp.as_ref()?;
    DateTime::from_timestamp(t.0.as_second(), 0)
}

fn event(at: DateTime<Utc>, what: impl Into<String>) -> Event {
    Event {
        at,
        what: what.into(),
    }
}

/// "Approved by alice: "fine"" — the decision line.
fn decision_text(approval: &Approval) -> String {
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

fn condition_true<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
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

fn amounts_text(a: &ResourceAmounts) -> String {
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

fn change_summary(c: &ResourceChange) -> Option<String> {
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

/// A deadline: its name in `status.deadlines`, when, and the condition that says it was
/// missed (if any).
type DeadlineRow<'a> = (&'a str, Option<DateTime<Utc>>, Option<&'a str>);

/// The status of one deadline: `OVERDUE` (its condition is True), `in 2d3h`, or `passed`.
fn deadline_state(
    at: DateTime<Utc>,
    overdue_condition: Option<&str>,
    conditions: &[Condition],
    now: DateTime<Utc>,
) -> String {
    if overdue_condition.is_some_and(|c| condition_true(conditions, c).is_some()) {
        "OVERDUE".to_string()
    } else if at > now {
        format!("in {}", span(at - now))
    } else {
        "passed".to_string()
    }
}

fn deadline_rows(
    items: &[DeadlineRow],
    conditions: &[Condition],
    zone: Tz,
    now: DateTime<Utc>,
) -> String {
    let rows: Vec<Vec<String>> = items
        .iter()
        .filter_map(|(name, at, cond)| {
            at.map(|at| {
                vec![
                    name.to_string(),
                    local_time(at, zone),
                    deadline_state(at, *cond, conditions, now),
                ]
            })
        })
        .collect();
    if rows.is_empty() {
        return "  (none yet)\n".to_string();
    }
    indent(&table(&["DEADLINE", "AT", "STATUS"], &rows))
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

fn conditions_section(conditions: &[Condition]) -> String {
    let mut out = String::from("Conditions (True):\n");
    let held: Vec<&Condition> = conditions.iter().filter(|c| c.status == "True").collect();
    if held.is_empty() {
        out.push_str("  (none)\n");
    }
    for c in held {
        out.push_str(&format!("  {} ({}): {}\n", c.type_, c.reason, c.message));
    }
    out
}

fn timeline_section(events: &[Event], zone: Tz) -> String {
    let mut out = String::from("Timeline:\n");
    if events.is_empty() {
        out.push_str("  (nothing yet)\n");
    }
    for e in events {
        out.push_str(&format!("  {}  {}\n", local_time(e.at, zone), e.what));
    }
    out
}

fn field(out: &mut String, name: &str, value: impl AsRef<str>) {
    let label = format!("{name}:");
    let width = label.len().max(10) + 1;
    out.push_str(&format!("{label:<width$}{}\n", value.as_ref()));
}

/// `describe` of a request, with the changes and exits filed against it.
pub fn render_request(
    r: &CloudResourceRequest,
    changes: &[ResourceChange],
    exits: &[ExitRequest],
    zone: Tz,
    now: DateTime<Utc>,
) -> String {
    let st = r.status.clone().unwrap_or_default();
    let mut out = String::new();
    field(
        &mut out,
        "Request",
        format!(
            "{}/{} (crr)",
            r.namespace().unwrap_or_default(),
            r.name_any()
        ),
    );
    let mut unit = r.spec.applicant_unit.clone();
    if let Some(user) = r
        .spec
        .user_unit
        .as_deref()
        .filter(|u| *u != r.spec.applicant_unit)
    {
        unit.push_str(&format!(" (used by {user})"));
    }
    field(&mut out, "Unit", unit);
    field(
        &mut out,
        "System",
        format!(
            "{}, level {}, {}",
            r.spec.system.name,
            r.spec.system.security_level,
            r.spec.system.zone.as_str()
        ),
    );
    let class = st.granted_class.unwrap_or(r.spec.class);
    let mut class_text = class.as_str().to_string();
    if r.spec.emergency {
        class_text.push_str(" (emergency)");
    }
    field(&mut out, "Class", class_text);
    field(
        &mut out,
        "Policy",
        format!(
            "{} ({})",
            r.spec.policy.as_deref().unwrap_or("(operator default)"),
            zone.name()
        ),
    );
    field(
        &mut out,
        "Phase",
        st.phase
            .map_or("(not yet seen by the operator)", |p| p.as_str()),
    );
    if let Some(ns) = &st.tenant_namespace {
        field(&mut out, "Tenant", ns);
    }
    field(&mut out, "Requested", amounts_text(&r.spec.resources));
    if let Some(grant) = &st.grant {
        field(&mut out, "Granted", amounts_text(grant));
    }
    if let Some(billing) = &st.billing
        && let Some(cost) = &billing.monthly_cost
    {
        let currency = billing.currency.as_deref().unwrap_or("CNY");
        let mut text = format!("{cost} {currency}");
        if billing.stopped_at.is_some() {
            text.push_str(" (stopped)");
        }
        field(&mut out, "Monthly", text);
    }
    out.push('\n');
    out.push_str(&timeline_section(
        &request_timeline(r, changes, exits, now),
        zone,
    ));
    out.push('\n');
    out.push_str("Deadlines:\n");
    let d = st.deadlines.clone().unwrap_or_default();
    out.push_str(&deadline_rows(
        &[
            ("reviewBy", d.review_by, Some("ReviewOverdue")),
            ("provisionBy", d.provision_by, Some("ProvisioningOverdue")),
            ("deployBy", d.deploy_by, Some("NotDeployed")),
            ("paperworkBy", d.paperwork_by, Some("PaperworkOverdue")),
            ("warnAt", d.warn_at, None),
            ("extensionRequestBy", d.extension_request_by, None),
            ("expiresAt", d.expires_at, None),
            ("reclaimAt", d.reclaim_at, None),
        ],
        &st.conditions,
        zone,
        now,
    ));
    out.push('\n');
    out.push_str(&conditions_section(&st.conditions));
    if !changes.is_empty() {
        out.push_str("\nChanges:\n");
        let rows: Vec<Vec<String>> = changes
            .iter()
            .map(|c| {
                let cst = c.status.clone().unwrap_or_default();
                vec![
                    c.name_any(),
                    cst.phase.map_or("-".to_string(), |p| format!("{p:?}")),
                    change_summary(c).unwrap_or_else(|| "-".into()),
                    cst.cost_delta.map_or("-".to_string(), |d| d.monthly),
                ]
            })
            .collect();
        out.push_str(&indent(&table(
            &["NAME", "PHASE", "CHANGE", "COST DELTA"],
            &rows,
        )));
    }
    if !exits.is_empty() {
        out.push_str("\nExits:\n");
        let rows: Vec<Vec<String>> = exits
            .iter()
            .map(|e| {
                let est = e.status.clone().unwrap_or_default();
                let d = est.deadlines.unwrap_or_default();
                vec![
                    e.name_any(),
                    est.phase.map_or("-".to_string(), |p| format!("{p:?}")),
                    d.transition_ends_at
                        .map_or("-".to_string(), |t| local_time(t, zone)),
                    d.reclaim_by
                        .map_or("-".to_string(), |t| local_time(t, zone)),
                    e.spec
                        .data_disposition
                        .as_ref()
                        .map_or("no", |d| if d.backup_confirmed { "yes" } else { "no" })
                        .to_string(),
                ]
            })
            .collect();
        out.push_str(&indent(&table(
            &["NAME", "PHASE", "TRANSITION ENDS", "RECLAIM BY", "BACKUP"],
            &rows,
        )));
    }
    out
}

/// `describe` of a ResourceChange.
pub fn render_change(c: &ResourceChange, zone: Tz, now: DateTime<Utc>) -> String {
    let st = c.status.clone().unwrap_or_default();
    let mut out = String::new();
    field(
        &mut out,
        "Change",
        format!(
            "{}/{} (rchg)",
            c.namespace().unwrap_or_default(),
            c.name_any()
        ),
    );
    field(&mut out, "Request", &c.spec.request);
    field(
        &mut out,
        "Wants",
        change_summary(c).unwrap_or_else(|| "-".into()),
    );
    if let Some(reason) = &c.spec.reason {
        field(&mut out, "Reason", reason);
    }
    field(
        &mut out,
        "Phase",
        st.phase
            .map_or("(not yet seen by the operator)".into(), |p| {
                format!("{p:?}")
            }),
    );
    if let Some(delta) = &st.cost_delta {
        let sign = if delta.monthly.starts_with('-') {
            ""
        } else {
            "+"
        };
        let mut text = format!("{sign}{} a month", delta.monthly);
        if let Some(ratio) = &delta.ratio {
            text.push_str(&format!(" (ratio {ratio})"));
        }
        field(&mut out, "Cost", text);
    }
    if st.requires_justification == Some(true) {
        field(&mut out, "Needs", "a justification (GY 9)");
    }
    if st.requires_escalation == Some(true) {
        field(
            &mut out,
            "Needs",
            "escalation above the project quota (SH 20)",
        );
    }
    let mut events = Vec::new();
    let created = created_at(&c.metadata);
    if let Some(t) = st.submitted_at.or(created) {
        events.push(event(t, "Submitted"));
    }
    if st.auto_approved == Some(true) {
        if let Some(t) = st.decided_at {
            events.push(event(t, "Approved automatically (a scale-down)"));
        }
    } else if let Some(approval) = &st.approval
        && let Some(t) = approval.decided_at.or(st.decided_at)
    {
        events.push(event(t, decision_text(approval)));
    }
    if let Some(t) = st.applied_at {
        events.push(event(t, "Applied to the grant"));
    } else if st.phase == Some(ChangePhase::Applied)
        && let Some(t) = st.decided_at
    {
        events.push(event(t, "Applied to the grant"));
    }
    events.sort_by_key(|e| e.at);
    out.push('\n');
    out.push_str(&timeline_section(&events, zone));
    out.push_str("\nDeadlines:\n");
    let d = st.deadlines.clone().unwrap_or_default();
    out.push_str(&deadline_rows(
        &[
            ("reviewBy", d.review_by, Some("ReviewOverdue")),
            ("applyBy", d.apply_by, Some("ApplyOverdue")),
        ],
        &st.conditions,
        zone,
        now,
    ));
    out.push('\n');
    out.push_str(&conditions_section(&st.conditions));
    out
}

/// `describe` of an ExitRequest.
pub fn render_exit(e: &ExitRequest, zone: Tz, now: DateTime<Utc>) -> String {
    let st = e.status.clone().unwrap_or_default();
    let mut out = String::new();
    field(
        &mut out,
        "Exit",
        format!(
            "{}/{} (rexit)",
            e.namespace().unwrap_or_default(),
            e.name_any()
        ),
    );
    field(&mut out, "Request", &e.spec.request);
    if let Some(reason) = &e.spec.reason {
        field(&mut out, "Reason", reason);
    }
    if let Some(last) = &e.spec.last_used_on {
        field(&mut out, "Last used", last);
    }
    let backup = match &e.spec.data_disposition {
        Some(d) if d.backup_confirmed => format!(
            "confirmed{}",
            d.backup_location
                .as_deref()
                .map(|l| format!(" at {l}"))
                .unwrap_or_default()
        ),
        _ => "not confirmed (nothing is deleted until it is)".to_string(),
    };
    field(&mut out, "Backup", backup);
    field(
        &mut out,
        "Phase",
        st.phase
            .map_or("(not yet seen by the operator)".into(), |p| {
                format!("{p:?}")
            }),
    );
    let mut events = Vec::new();
    let created = created_at(&e.metadata);
    if let Some(t) = st.submitted_at.or(created) {
        events.push(event(t, "Submitted"));
    }
    if let Some(approval) = &st.approval
        && let Some(t) = approval.decided_at.or(st.decided_at)
    {
        events.push(event(t, decision_text(approval)));
    }
    let d = st.deadlines.clone().unwrap_or_default();
    if let Some(t) = d.transition_ends_at.filter(|t| *t <= now)
        && matches!(st.phase, Some(ExitPhase::Reclaiming | ExitPhase::Completed))
    {
        events.push(event(t, "Transition ended"));
    }
    if let Some(t) = st.completed_at {
        events.push(event(t, "Completed: resources reclaimed"));
    }
    events.sort_by_key(|e| e.at);
    out.push('\n');
    out.push_str(&timeline_section(&events, zone));
    out.push_str("\nDeadlines:\n");
    out.push_str(&deadline_rows(
        &[
            ("reviewBy", d.review_by, Some("ReviewOverdue")),
            ("transitionEndsAt", d.transition_ends_at, None),
            ("reclaimBy", d.reclaim_by, Some("ReclaimOverdue")),
        ],
        &st.conditions,
        zone,
        now,
    ));
    out.push('\n');
    out.push_str(&conditions_section(&st.conditions));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::DEFAULT_ZONE;
    use serde_json::json;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn cond(type_: &str, status: &str, t: &str, message: &str) -> serde_json::Value {
        json!({"type": type_, "status": status, "reason": "Because", "message": message,
               "lastTransitionTime": t})
    }

    fn reclaimed_request() -> CloudResourceRequest {
        serde_json::from_value(json!({
            "apiVersion": "govcloud.io/v1alpha1", "kind": "CloudResourceRequest",
            "metadata": {"name": "trial", "namespace": "unit-finance",
                         "creationTimestamp": "2026-09-30T10:00:00Z"},
            "spec": {"policy": "shanghai", "class": "Test", "applicantUnit": "市财政局",
                     "system": {"name": "tax-portal", "securityLevel": 3, "zone": "EGovExtranet"},
                     "resources": {"cpu": "8", "memory": "8Gi"}, "duration": "30d"},
            "status": {
                "phase": "Reclaimed",
                "submittedAt": "2026-09-30T10:00:00Z",
                "approval": {"decision": "Approved", "reviewer": "alice", "comment": "ok",
                             "decidedAt": "2026-10-08T02:00:00Z", "generation": 1},
                "tenantNamespace": "unit-finance-trial",
                "grant": {"cpu": "8", "memory": "8Gi"},
                "billing": {"startedAt": "2026-10-08T02:05:00Z", "stoppedAt": "2026-11-20T00:00:00Z",
                            "monthlyCost": "0.00", "currency": "CNY"},
                "deadlines": {"reviewBy": "2026-10-13T16:00:00Z", "warnAt": "2026-10-26T16:00:00Z",
                              "expiresAt": "2026-11-09T16:00:00Z", "reclaimAt": "2026-11-16T16:00:00Z",
                              "deployBy": "2026-10-22T16:00:00Z"},
                "appliedChanges": [{"name": "more-cpu", "uid": "u1", "appliedAt": "2026-10-09T03:00:00Z"}],
                "conditions": [
                    cond("Ready", "False", "2026-11-20T00:00:00Z", "reclaimed"),
                    cond("NotDeployed", "True", "2026-10-22T16:00:00Z", "no pod by deployBy (SN 11)")
                ]
            }
        }))
        .unwrap()
    }

    #[test]
    fn request_timeline_tells_the_story_in_order() {
        let r = reclaimed_request();
        let change: ResourceChange = serde_json::from_value(json!({
            "apiVersion": "govcloud.io/v1alpha1", "kind": "ResourceChange",
            "metadata": {"name": "more-cpu", "namespace": "unit-finance"},
            "spec": {"request": "trial", "resources": {"cpu": "16"}},
            "status": {"phase": "Applied", "costDelta": {"monthly": "0.00"}}
        }))
        .unwrap();
        let now = at("2026-12-01T00:00:00Z");
        let events = request_timeline(&r, std::slice::from_ref(&change), &[], now);
        let whats: Vec<&str> = events.iter().map(|e| e.what.as_str()).collect();
        assert_eq!(
            whats,
            [
                "Submitted",
                "Approved by alice (generation 1): \"ok\"",
                "Active: provisioned in namespace unit-finance-trial, billing started at 0.00 CNY/month",
                "Change more-cpu applied: cpu 16",
                "Warned of the coming expiry",
                "Suspended: the grant expired",
                "Reclaimed: tenant namespace deleted, billing stopped",
            ]
        );
        let text = render_request(&r, &[change], &[], DEFAULT_ZONE, now);
        assert!(
            text.contains("  2026-10-08 10:00 +08:00  Approved by alice"),
            "{text}"
        );
        assert!(text.contains("Phase:     Reclaimed"), "{text}");
        assert!(text.contains("Granted:   cpu 8, memory 8Gi"), "{text}");
        // deployBy is overdue (its condition holds); reviewBy merely passed.
        let deploy = text.lines().find(|l| l.contains("deployBy")).unwrap();
        assert!(deploy.ends_with("OVERDUE"), "{deploy}");
        let review = text.lines().find(|l| l.contains("reviewBy")).unwrap();
        assert!(review.ends_with("passed"), "{review}");
        assert!(
            text.contains(
                "Conditions (True):\n  NotDeployed (Because): no pod by deployBy (SN 11)\n"
            ),
            "{text}"
        );
        assert!(!text.contains("Ready (Because)"), "{text}");
        assert!(
            text.contains("Changes:\n  NAME       PHASE     CHANGE"),
            "{text}"
        );
    }

    #[test]
    fn exits_appear_in_the_request_timeline() {
        let mut r = reclaimed_request();
        let st = r.status.as_mut().unwrap();
        st.phase = Some(RequestPhase::Active);
        st.billing.as_mut().unwrap().stopped_at = None;
        st.deadlines.as_mut().unwrap().warn_at = None;
        let exit: ExitRequest = serde_json::from_value(json!({
            "apiVersion": "govcloud.io/v1alpha1", "kind": "ExitRequest",
            "metadata": {"name": "bye", "namespace": "unit-finance"},
            "spec": {"request": "trial", "dataDisposition": {"backupConfirmed": true}},
            "status": {"phase": "Transition", "submittedAt": "2026-10-20T00:00:00Z",
                       "approval": {"decision": "Approved", "reviewer": "bob", "decidedAt": "2026-10-21T00:00:00Z"},
                       "deadlines": {"transitionEndsAt": "2027-01-21T00:00:00Z"}}
        }))
        .unwrap();
        let now = at("2026-10-22T00:00:00Z");
        let whats: Vec<String> = request_timeline(&r, &[], std::slice::from_ref(&exit), now)
            .into_iter()
            .map(|e| e.what)
            .collect();
        assert!(whats.contains(&"Exit bye filed".to_string()), "{whats:?}");
        assert!(
            whats.contains(&"Exit bye Approved by bob".to_string()),
            "{whats:?}"
        );
        assert!(!whats.iter().any(|w| w.starts_with("Warned")), "{whats:?}");
        let text = render_request(&r, &[], &[exit], DEFAULT_ZONE, now);
        assert!(text.contains("Exits:\n  NAME   PHASE"), "{text}");
        let expires = text.lines().find(|l| l.contains("expiresAt")).unwrap();
        assert!(expires.ends_with("in 18d16h"), "{expires}");
    }

    #[test]
    fn a_fresh_change_and_exit_describe() {
        let change: ResourceChange = serde_json::from_value(json!({
            "apiVersion": "govcloud.io/v1alpha1", "kind": "ResourceChange",
            "metadata": {"name": "more", "namespace": "ns", "creationTimestamp": "2026-10-08T01:00:00Z"},
            "spec": {"request": "portal", "resources": {"cpu": "48"}, "reason": "tax season"},
            "status": {"phase": "Rejected", "requiresEscalation": true,
                       "approval": {"decision": "Rejected", "reviewer": "alice", "comment": "too much",
                                    "decidedAt": "2026-10-09T01:00:00Z"},
                       "deadlines": {"reviewBy": "2026-10-14T16:00:00Z"}}
        }))
        .unwrap();
        let now = at("2026-10-10T00:00:00Z");
        let text = render_change(&change, DEFAULT_ZONE, now);
        assert!(text.contains("Wants:     cpu 48"), "{text}");
        assert!(text.contains("Rejected by alice: \"too much\""), "{text}");
        assert!(text.contains("escalation"), "{text}");
        assert!(
            text.contains("reviewBy   2026-10-15 00:00 +08:00   in 4d16h"),
            "{text}"
        );
        let exit: ExitRequest = serde_json::from_value(json!({
            "apiVersion": "govcloud.io/v1alpha1", "kind": "ExitRequest",
            "metadata": {"name": "bye", "namespace": "ns", "creationTimestamp": "2026-10-08T01:00:00Z"},
            "spec": {"request": "portal"},
        }))
        .unwrap();
        let text = render_exit(&exit, DEFAULT_ZONE, now);
        assert!(
            text.contains("Phase:     (not yet seen by the operator)"),
            "{text}"
        );
        assert!(text.contains("Backup:    not confirmed"), "{text}");
        assert!(text.contains("Deadlines:\n  (none yet)"), "{text}");
    }
}
