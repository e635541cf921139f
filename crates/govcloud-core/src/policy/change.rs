//! The decisions about a ResourceChange: is it valid, what does it cost, does it need a
//! justification (GY 9) or escalation (SH 20), is it approved (by an approver, or
//! automatically for a scale-down), and is it overdue (GY 9, XB 22.4, SN 15).
//!
//! Applying an approved change to the grant is the request's own decision
//! ([`super::request`]): one writer per grant, so two changes never lose an update.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use super::calendar::Calendar;
use super::change_notices::notices;
pub use super::change_validate::parse;
use super::change_validate::request_rejects;
use super::conditions::{self, Wanted, types};
use super::deadline;
use super::notice::Notice;
use super::quantity::{Amounts, FieldError, ResourceKind, format_money, format_ratio};
use super::rules::Rules;
use crate::api::{
    ChangeDeadlines, ChangePhase, CloudResourceRequest, CostDelta, Decision, RequestClass,
    RequestPhase, ResourceChangeSpec, ResourceChangeStatus, Zone,
};

/// Condition: the change must go to the economic-informatization department (SH 20).
pub const REQUIRES_ESCALATION: &str = "RequiresEscalation";
/// Condition: approved but not applied by `applyBy`.
pub const APPLY_OVERDUE: &str = "ApplyOverdue";

/// Everything a change decision needs.
pub struct ChangeInputs<'a> {
    /// The change's UID.
    pub uid: &'a str,
    /// `metadata.generation`.
    pub generation: i64,
    /// The spec.
    pub spec: &'a ResourceChangeSpec,
    /// The current status.
    pub status: &'a ResourceChangeStatus,
    /// The request it changes, if it exists.
    pub request: Option<&'a CloudResourceRequest>,
    /// The policy of that request.
    pub rules: Option<&'a Rules>,
    /// Its calendar.
    pub calendar: &'a Calendar,
    /// An earlier recurring change of the same request carried a justification and was
    /// applied (GY 9: recurring changes need one only the first time).
    pub prior_recurring_justified: bool,
    /// The time of the decision.
    pub now: DateTime<Utc>,
}

/// The outcome of a change decision.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeOutcome {
    /// The status to write.
    pub status: ResourceChangeStatus,
    /// When to look again.
    pub wake_at: Option<DateTime<Utc>>,
    /// Events to publish.
    pub notices: Vec<Notice>,
}

/// What an approved change does to a grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantChange {
    /// The change's name.
    pub name: String,
    /// The change's UID.
    pub uid: String,
    /// When it was approved (approved scale-ups take their room in this order).
    pub decided_at: Option<DateTime<Utc>>,
    /// New amounts for the kinds listed.
    pub resources: Amounts,
    /// New expiry date.
    pub extend_to: Option<NaiveDate>,
    /// New class.
    pub convert_to: Option<RequestClass>,
    /// New access groups.
    pub access_groups: Option<Vec<String>>,
    /// New zone.
    pub zone: Option<Zone>,
}

/// Decides a change's status.
pub fn decide(i: &ChangeInputs<'_>) -> ChangeOutcome {
    if let Some(kind) = super::unknown::unrecognized(
        "ResourceChange",
        i.status.phase == Some(ChangePhase::Unrecognized),
        i.request,
    ) {
        // Issue 14: a phase only a newer release knows, on the change or its request.
        // Nothing is applied or written; the change is reported and left as it is.
        return ChangeOutcome {
            status: i.status.clone(),
            wake_at: None,
            notices: vec![super::unknown::unknown_phase(kind)],
        };
    }
    let now = i.now;
    let mut st = i.status.clone();
    st.submitted_at.get_or_insert(now);
    let mut wanted: Vec<Wanted> = Vec::new();
    let mut wake = Vec::new();
    let mut deadlines = ChangeDeadlines::default();
    let mut gaps = super::hold::Gaps::default();

    let applied = i
        .request
        .and_then(|r| r.status.as_ref())
        .and_then(|s| s.applied_changes.iter().find(|a| a.uid == i.uid))
        .map(|a| a.applied_at);
    if let Some(at) = applied {
        st.phase = Some(ChangePhase::Applied);
        st.applied_at = Some(at);
        wanted.push(Wanted::yes(types::READY, "Applied", "applied to the grant"));
        return finish(i, st, wanted, deadlines, vec![], false);
    }
    if st.phase == Some(ChangePhase::Applied) {
        // The request is gone after the change was applied: it stays Applied.
        return ChangeOutcome {
            status: st,
            wake_at: None,
            notices: vec![],
        };
    }

    let invalid = |st: ResourceChangeStatus, message: String| {
        let mut st = st;
        st.phase = Some(ChangePhase::Invalid);
        let wanted = vec![
            Wanted::no(types::READY, "Invalid", "the change is invalid"),
            Wanted::yes(types::INVALID, "InvalidSpec", message),
        ];
        finish(i, st, wanted, ChangeDeadlines::default(), vec![], false)
    };
    let Some(request) = i.request else {
        return invalid(
            st,
            format!(
                "spec.request: CloudResourceRequest {:?} not found in this namespace",
                i.spec.request
            ),
        );
    };
    let Some(rules) = i.rules else {
        return invalid(
            st,
            format!(
                "spec.request: the policy of {:?} is missing or invalid",
                i.spec.request
            ),
        );
    };
    let req_status = request.status.clone().unwrap_or_default();
    // Decided before, and the spec is still the one approved (issue 13).
    let decided_before = matches!(st.phase, Some(ChangePhase::Approved))
        && st.approved_spec.as_ref() == Some(i.spec);
    let request_phase = req_status.phase;
    let open_for_changes = matches!(request_phase, Some(RequestPhase::Active))
        || (i.spec.extend_to.is_some() && request_phase == Some(RequestPhase::Suspended));
    if !decided_before && !open_for_changes {
        let phase = request_phase
            .map(|p| p.as_str())
            .unwrap_or("not yet reviewed");
        return invalid(
            st,
            format!(
                "spec.request: CloudResourceRequest {:?} is {phase}, not Active",
                i.spec.request
            ),
        );
    }
    let (resources, extend_to) = match parse(i.spec) {
        Ok(p) => p,
        Err(errors) => {
            return invalid(
                st,
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            );
        }
    };
    let submitted = st.submitted_at.unwrap_or(now);
    let errors = request_rejects(i.spec, request, rules, submitted, extend_to);
    if !errors.is_empty() && !decided_before {
        return invalid(
            st,
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        );
    }

    // Cost (SH 15, SH 27) before and after.
    let grant = req_status
        .grant
        .as_ref()
        .and_then(|g| Amounts::parse("status.grant", g).ok())
        .unwrap_or_default();
    let class = req_status.granted_class.unwrap_or(request.spec.class);
    let new_class = i.spec.convert_to.unwrap_or(class);
    let after = grant.overlay(&resources);
    let cost = |a: &Amounts, c: RequestClass| {
        if rules.class(c).is_some_and(|l| l.free) {
            Ok(Decimal::ZERO)
        } else {
            a.monthly_cost(&rules.prices)
        }
    };
    let (old_cost, new_cost) = (cost(&grant, class), cost(&after, new_class));
    // Issue 14: a cost beyond any sum of money is a field error, never a panic: this
    // change's amount when it sets the kind, else the request's grant at today's prices.
    if let Some(overflow) = new_cost.err().or(old_cost.err())
        && !decided_before
    {
        let error = if resources.has(overflow.0) {
            overflow.field_error("spec.resources", &rules.name)
        } else {
            FieldError::new(
                "spec.request",
                format!(
                    "the grant of {:?} costs beyond any amount of money at spec.prices.{} of policy {:?}",
                    i.spec.request,
                    overflow.0.key(),
                    rules.name
                ),
            )
        };
        return invalid(st, error.to_string());
    }
    // Already decided: the decision stands, and a cost beyond range reads as the largest.
    let (old_cost, new_cost) = (
        old_cost.unwrap_or(Decimal::MAX),
        new_cost.unwrap_or(Decimal::MAX),
    );
    // Both are ≥ 0 and ≤ MAX, so the difference is in range; the ratio may not be (a
    // tiny old cost): beyond range it is the largest ratio.
    let delta = new_cost - old_cost;
    let ratio = (!old_cost.is_zero()).then(|| delta.checked_div(old_cost).unwrap_or(Decimal::MAX));
    st.cost_delta = Some(CostDelta {
        monthly: format_money(delta),
        ratio: ratio.map(format_ratio),
    });

    // GY 9: ≥ the money threshold, or above the ratio, needs a justified adjustment plan.
    let over_money = rules
        .justification_monthly_cost
        .is_some_and(|t| delta >= t && delta > Decimal::ZERO);
    let over_ratio = match (rules.justification_ratio, ratio) {
        (Some(t), Some(r)) => r > t,
        (Some(_), None) => {
            delta > Decimal::ZERO && old_cost.is_zero() && rules.justification_ratio.is_some()
        }
        _ => false,
    };
    let requires_justification = over_money || over_ratio;
    st.requires_justification = Some(requires_justification);
    let justified = i
        .spec
        .justification
        .as_deref()
        .is_some_and(|j| !j.trim().is_empty());
    let exempt = justified || (i.spec.recurring && i.prior_recurring_justified);
    if requires_justification && !exempt && !decided_before {
        return invalid(
            st,
            format!(
                "spec.justification: required — the change adds {} {} a month ({}), at or above the policy's threshold (GY 9: ≥ {} or > {}%)",
                format_money(delta),
                rules.currency,
                ratio
                    .map(|r| format!("{}%", r.saturating_mul(Decimal::ONE_HUNDRED).round_dp(1)))
                    .unwrap_or_else(|| "from zero".into()),
                rules
                    .justification_monthly_cost
                    .map(format_money)
                    .unwrap_or_default(),
                rules
                    .justification_ratio
                    .map(|r| r
                        .saturating_mul(Decimal::ONE_HUNDRED)
                        .normalize()
                        .to_string())
                    .unwrap_or_default()
            ),
        );
    }

    // SH 20: a total above the policy's share of the project quota is escalated.
    let project_quota = request
        .spec
        .project
        .as_ref()
        .and_then(|p| p.quota.as_ref())
        .and_then(|q| Amounts::parse("q", q).ok());
    let escalate = match (rules.escalate_above_project_quota, &project_quota) {
        (Some(share), Some(q)) => ResourceKind::ALL
            .iter()
            // A share of the quota beyond the largest decimal is exceeded by nothing.
            .any(|k| {
                q.has(*k)
                    && q.get(*k)
                        .checked_mul(share)
                        .is_some_and(|cap| after.get(*k) > cap)
            }),
        _ => false,
    };
    st.requires_escalation = Some(escalate);
    if escalate {
        let share = rules
            .escalate_above_project_quota
            .map(|s| {
                s.saturating_mul(Decimal::ONE_HUNDRED)
                    .normalize()
                    .to_string()
            })
            .unwrap_or_default();
        wanted.push(Wanted::yes(REQUIRES_ESCALATION, "AboveProjectQuota", format!("the new total exceeds {share}% of the project quota: the economic-informatization department must approve too (SH 20)")));
    }

    // The decision: automatic for a pure scale-down when the policy allows it.
    // Access groups and zone are never changed without an approver (issue 13).
    let scale_down = after.is_within(&grant)
        && i.spec.extend_to.is_none()
        && i.spec.convert_to.is_none()
        && i.spec.access_groups.is_none()
        && i.spec.zone.is_none();
    let decision = if scale_down && rules.auto_approve_scale_down {
        st.auto_approved = Some(true);
        st.approved_generation = Some(i.generation);
        // The operator's own decision binds the spec it judged, like an approver's.
        st.approved_spec = Some(i.spec.clone());
        st.decided_at.get_or_insert(now);
        Some(Decision::Approved)
    } else {
        st.auto_approved = None;
        // Issue 13: the decision binds a copy of the spec it approves; an edit since
        // voids it (ApprovalStale).
        let (verdict, record) = super::snapshot::bind(super::snapshot::Inputs {
            approval: st.approval.as_ref(),
            record: super::snapshot::Record {
                reviewed: st.reviewed_approval.take(),
                approved_spec: st.approved_spec.take(),
                approved_generation: st.approved_generation,
                decided_at: st.decided_at,
            },
            generation: i.generation,
            observed_generation: i.status.observed_generation,
            spec: i.spec,
            binding: Clone::clone,
            now,
        });
        st.reviewed_approval = record.reviewed;
        st.approved_spec = record.approved_spec;
        st.approved_generation = record.approved_generation;
        st.decided_at = record.decided_at;
        wanted.extend(super::snapshot::condition(&verdict));
        match verdict {
            super::snapshot::Verdict::Approved(_) => Some(Decision::Approved),
            super::snapshot::Verdict::Rejected => Some(Decision::Rejected),
            super::snapshot::Verdict::Undecided | super::snapshot::Verdict::Stale(_) => None,
        }
    };
    let mut clock = |t: DateTime<Utc>, d| {
        let dl = deadline::add(t, d, i.calendar, rules.time_zone);
        gaps.note(i.calendar, rules.time_zone, t, dl);
        dl.at
    };
    // SH 19 ¶2: the formal opening after validation — a conversion adding nothing — is
    // reviewed and applied within one window from the unit's notice (the filing).
    let conversion = i.spec.convert_to.is_some() && after.is_within(&grant);
    let conversion_within = rules.change_conversion_within.filter(|_| conversion);
    let review_by = clock(
        submitted,
        conversion_within.unwrap_or(rules.change_review_within),
    );
    deadlines.review_by = Some(review_by);
    match decision {
        None => {
            st.phase = Some(ChangePhase::Submitted);
            wanted.push(Wanted::no(
                types::READY,
                "AwaitingReview",
                "waiting for the bureau's decision",
            ));
            if now >= review_by {
                wanted.push(Wanted::yes(
                    types::REVIEW_OVERDUE,
                    "ReviewDeadlinePassed",
                    format!("no decision by {} (GY 9, XB 22.4)", review_by.to_rfc3339()),
                ));
            } else {
                wake.push(("reviewBy", review_by));
            }
        }
        Some(Decision::Rejected) => {
            st.phase = Some(ChangePhase::Rejected);
            let why = st
                .approval
                .as_ref()
                .and_then(|a| a.comment.clone())
                .unwrap_or_else(|| "no reason given".into());
            wanted.push(Wanted::no(
                types::READY,
                "Rejected",
                format!("rejected: {why}"),
            ));
        }
        Some(Decision::Approved) => {
            st.phase = Some(ChangePhase::Approved);
            let apply_by = match conversion_within {
                Some(_) => review_by,
                None => clock(st.decided_at.unwrap_or(now), rules.change_apply_within),
            };
            deadlines.apply_by = Some(apply_by);
            wanted.push(Wanted::no(
                types::READY,
                "Approved",
                "approved; being applied to the grant",
            ));
            if now >= apply_by {
                wanted.push(Wanted::yes(
                    APPLY_OVERDUE,
                    "ApplyDeadlinePassed",
                    format!("not applied by {} (GY 9, SN 15)", apply_by.to_rfc3339()),
                ));
            } else {
                wake.push(("applyBy", apply_by));
            }
        }
    }
    // Issue 15: names the years and says whether the count was provisional.
    if let Some(w) = gaps.calendar_incomplete() {
        wanted.push(w);
    }
    finish(i, st, wanted, deadlines, wake, true)
}

fn finish(
    i: &ChangeInputs<'_>,
    mut st: ResourceChangeStatus,
    wanted: Vec<Wanted>,
    deadlines: ChangeDeadlines,
    mut upcoming: Vec<(&'static str, DateTime<Utc>)>,
    keep_deadlines: bool,
) -> ChangeOutcome {
    st.conditions = conditions::settle(&i.status.conditions, wanted, i.now, i.generation);
    st.observed_generation = Some(i.generation);
    if keep_deadlines || st.phase == Some(ChangePhase::Invalid) {
        st.deadlines = (deadlines != ChangeDeadlines::default()).then_some(deadlines);
    }
    st.next_deadline = conditions::next_deadline(&mut upcoming);
    let wake_at = st.next_deadline.as_ref().map(|n| n.at);
    let notices = notices(i.status, &st);
    ChangeOutcome {
        status: st,
        wake_at,
        notices,
    }
}

/// The approved changes of a request still to apply, oldest decision first.
pub fn pending_for(
    request_uid_applied: &[String],
    changes: &[(&str, &str, Option<DateTime<Utc>>, &ResourceChangeSpec)],
) -> Vec<GrantChange> {
    let mut pending: Vec<_> = changes
        .iter()
        .filter(|(_, uid, _, _)| !request_uid_applied.iter().any(|a| a == uid))
        .filter_map(|(name, uid, decided, spec)| {
            let (resources, extend_to) = parse(spec).ok()?;
            Some((
                *decided,
                GrantChange {
                    name: (*name).to_string(),
                    uid: (*uid).to_string(),
                    decided_at: *decided,
                    resources,
                    extend_to,
                    convert_to: spec.convert_to,
                    access_groups: spec.access_groups.clone(),
                    zone: spec.zone,
                },
            ))
        })
        .collect();
    pending.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.name.cmp(&b.1.name)));
    pending.into_iter().map(|(_, c)| c).collect()
}

#[cfg(test)]
#[path = "change_tests.rs"]
mod tests;
