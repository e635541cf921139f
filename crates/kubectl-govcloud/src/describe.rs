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

mod timeline;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use kube::ResourceExt;

use super::format::{local_time, span, table};
use govcloud_core::api::{
    ChangePhase, CloudResourceRequest, Condition, ExitPhase, ExitRequest, ResourceChange,
};
pub use timeline::{Event, request_timeline};
use timeline::{amounts_text, change_summary, condition_true, created_at, decision_text, event};

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
#[path = "describe_tests.rs"]
mod tests;
