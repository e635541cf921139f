//! The lifecycle of a CloudResourceRequest as a pure function:
//! (request, policy, calendar, what the cluster looks like, now) → desired status, one
//! action, the next wake-up, and the Events to publish.
//!
//! The stages, each with the rule it encodes:
//! - **Submitted** — review due within acceptWithin + decideWithin (XB 20, SN 11); past it
//!   `ReviewOverdue`. Editing the spec before a grant resubmits (a new review deadline).
//! - **Approved** — by an approver's `status.approval` for the generation it names (or the
//!   generation current when first seen). A pool without room: `InsufficientCapacity`.
//! - **Provisioning** — the grant is decided and the tenant namespace applied in the same
//!   pass; due within provisioning.within (GY 7). A namespace the operator does not own:
//!   `NamespaceConflict`. The namespace carries the grant it was built for, so it counts
//!   against the pool from the moment it exists, before the status reports the grant
//!   (`policy::capacity::tenant_holder`).
//! - **Active** — billing starts (GY 7, XB 21.1); deployment due within deployment.within
//!   (SN 11); emergency paperwork due within emergency.paperworkWithin (XB 26).
//! - **Suspended** — at expiry of a time-boxed class (GY 7, SH 21–24) or when emergency
//!   paperwork is rejected: quota closed to new pods, workloads scaled to zero.
//! - **Reclaiming / Reclaimed** — after suspendFor (SH 21) or a completed exit: the tenant
//!   namespace is deleted, billing stops.
//!
//! Nothing here deletes on its own account: deleting the request only releases its
//! finalizer when nothing was provisioned or everything was already reclaimed.

use chrono::{DateTime, Utc};

use super::calendar::Calendar;
use super::conditions::{self, Wanted, types};
use super::deadline::{self, Deadline};
use super::duration::PolicyDuration;
use super::hold::Gaps;
pub use super::notice::Notice;
pub use super::policy_state::PolicyState;
use super::quantity::Amounts;
use super::rules::Rules;
use crate::api::{CloudResourceRequestStatus, RequestDeadlines, RequestPhase};

mod active;
mod decision;
pub mod frozen;
mod granted;
mod io;
mod notices;
mod validate;

use decision::{Verdict, take_decision};
use granted::{lifecycle_granted, overdue_provisioning, provision_deadline};
pub use io::{Action, Checked, Inputs, Outcome, TenantState};
pub use notices::notices;
pub use validate::validate;

struct Clock<'a> {
    rules: &'a Rules,
    calendar: &'a Calendar,
    /// The years every count so far relied on without published data (issue 15).
    gaps: Gaps,
}

impl Clock<'_> {
    fn add(&mut self, t: DateTime<Utc>, d: PolicyDuration) -> DateTime<Utc> {
        self.counted(t, d).at
    }
    fn sub(&mut self, t: DateTime<Utc>, d: PolicyDuration) -> DateTime<Utc> {
        let dl = deadline::sub(t, d, self.calendar, self.rules.time_zone);
        self.gaps.note(self.calendar, self.rules.time_zone, t, dl);
        dl.at
    }
    /// `add`, keeping the whole result so a caller can note its own gaps.
    fn counted(&mut self, t: DateTime<Utc>, d: PolicyDuration) -> Deadline {
        let dl = deadline::add(t, d, self.calendar, self.rules.time_zone);
        self.gaps.note(self.calendar, self.rules.time_zone, t, dl);
        dl
    }
    fn note(&self, gaps: &mut Gaps, t: DateTime<Utc>, d: Deadline) {
        gaps.note(self.calendar, self.rules.time_zone, t, d);
    }
}

fn invalid_outcome(i: &Inputs<'_>, mut st: CloudResourceRequestStatus, message: String) -> Outcome {
    // Invalid wins over every other phase; nothing is created and nothing is removed.
    st.phase = Some(RequestPhase::Invalid);
    let mut wanted = vec![
        Wanted::no(types::READY, "Invalid", "the spec is invalid"),
        Wanted::yes(types::INVALID, "InvalidSpec", message),
    ];
    let provisioned = st.grant.is_some();
    if i.deleting && provisioned {
        wanted.push(Wanted::yes(
            types::DELETION_BLOCKED,
            "ExitRequired",
            deletion_blocked_message(&st),
        ));
    }
    st.conditions = conditions::merge(&i.status.conditions, wanted, i.now, Some(i.generation));
    st.observed_generation = Some(i.generation);
    st.next_deadline = None;
    let notices = notices(i.status, &st);
    Outcome {
        status: st,
        action: Action::None,
        wake_at: None,
        release_finalizer: i.deleting && !provisioned,
        notices,
        downsize: None,
        monitored: false,
    }
}

fn deletion_blocked_message(st: &CloudResourceRequestStatus) -> String {
    format!(
        "deleting this request does not delete tenant namespace {}: file an ExitRequest; the request is kept until the exit completes",
        st.tenant_namespace.clone().unwrap_or_default()
    )
}

/// Decides the request's next state.
pub fn decide(i: &Inputs<'_>) -> Outcome {
    if i.status.phase == Some(RequestPhase::Unrecognized) {
        // Issue 14: a phase only a newer release knows. Nothing is provisioned, suspended,
        // reclaimed, released or written; the request is reported and left as it is.
        return Outcome {
            status: i.status.clone(),
            action: Action::None,
            wake_at: None,
            release_finalizer: false,
            notices: vec![super::unknown::unknown_phase("CloudResourceRequest")],
            downsize: None,
            monitored: false,
        };
    }
    let rules = match i.policy {
        PolicyState::Ready(r) => r,
        unavailable => {
            // A granted request goes on by the rules recorded with its grant; only a
            // request without one waits for a valid policy.
            let Some((recorded, wanted)) =
                super::granted_rules::fallback(i.status, unavailable, i.calendar_gone)
            else {
                // The message used to quote the reason as if it were a policy name.
                let why = match unavailable {
                    PolicyState::Invalid(why) => why.to_string(),
                    PolicyState::Missing(name) => format!("GovCloudPolicy {name:?} not found"),
                    PolicyState::Ready(r) => format!("GovCloudPolicy {:?}", r.name),
                };
                return invalid_outcome(i, i.status.clone(), format!("spec.policy: {why}"));
            };
            let mut out = decide_by(i, &recorded);
            if !conditions::is_true(&i.status.conditions, types::POLICY_UNAVAILABLE) {
                out.notices.push(Notice {
                    warning: true,
                    reason: "PolicyUnavailable",
                    message: wanted.message.clone(),
                });
            }
            out.status
                .conditions
                .retain(|c| c.type_ != types::POLICY_UNAVAILABLE);
            out.status.conditions.extend(conditions::merge(
                &i.status.conditions,
                vec![wanted],
                i.now,
                Some(i.generation),
            ));
            return out;
        }
    };
    decide_by(i, rules)
}

/// Decides by `rules`: the policy's, or those recorded with the grant.
fn decide_by(i: &Inputs<'_>, rules: &Rules) -> Outcome {
    let now = i.now;
    let mut st = i.status.clone();
    let granted = st.grant.is_some();
    let generation_changed = st.observed_generation != Some(i.generation);
    // A spec edited before anything is granted is a resubmission (XB 20: the unit may resubmit).
    if st.submitted_at.is_none()
        || (generation_changed && !granted && st.observed_generation.is_some())
    {
        st.submitted_at = Some(now);
    }
    if let Some(why) = frozen::forged_tenant(&st, i.operator_namespace) {
        return invalid_outcome(i, st, why);
    }
    let reference = st.submitted_at.unwrap_or(now);
    let checked = validate(
        i.spec,
        rules,
        i.namespace,
        i.name,
        i.operator_namespace,
        reference,
        i.calendar,
    );
    let checked = match checked {
        Ok(c) => c,
        Err(errors) if !granted => {
            let message = errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ");
            return invalid_outcome(i, st, message);
        }
        Err(errors) => {
            // Already granted: the lifecycle runs on the grant; the bad edit is flagged.
            let message = errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ");
            let mut out = decide_lifecycle(i, rules, st, None);
            out.status.phase = Some(RequestPhase::Invalid);
            let wanted = vec![Wanted::yes(types::INVALID, "InvalidSpec", message)];
            let mut conds = out.status.conditions.clone();
            conds.retain(|c| c.type_ != types::INVALID);
            conds.extend(conditions::merge(
                &i.status.conditions,
                wanted,
                now,
                Some(i.generation),
            ));
            out.status.conditions = conds;
            out.notices = notices(i.status, &out.status);
            return out;
        }
    };
    decide_lifecycle(i, rules, st, Some(checked))
}

/// What one pass accumulates on its way to an [`Outcome`].
#[derive(Default)]
struct Pass {
    wanted: Vec<Wanted>,
    deadlines: RequestDeadlines,
    upcoming: Vec<(&'static str, DateTime<Utc>)>,
    action: Action,
    release_finalizer: bool,
    extra: Vec<Notice>,
    downsize: Option<(String, Amounts)>,
    monitored: bool,
    last_downsize: Option<DateTime<Utc>>,
}

fn decide_lifecycle(
    i: &Inputs<'_>,
    rules: &Rules,
    mut st: CloudResourceRequestStatus,
    checked: Option<Checked>,
) -> Outcome {
    let now = i.now;
    let mut clock = Clock {
        rules,
        calendar: i.calendar,
        gaps: Gaps::default(),
    };
    let verdict = take_decision(&mut st, i.generation, now);
    let mut p = Pass::default();
    let emergency = i.spec.emergency;

    if let Verdict::Stale(g) = verdict {
        p.wanted.push(Wanted::no(
            types::READY,
            "StaleDecision",
            format!("the decision in status.approval is for generation {g} but the spec is at generation {}: decide again", i.generation),
        ));
    }

    // A grant recorded by an earlier release gets the rest of its record, once.
    p.extra
        .extend(frozen::complete(&mut st, i.spec, &rules.name));

    if st.grant.is_none() {
        // Not granted yet: review, decision, capacity.
        let checked = checked.as_ref();
        // XB 26: an emergency still waits for one decision (consent before opening); only
        // the paperwork comes later. It is reviewed within the policy's emergency period.
        let go = verdict == Verdict::Approved;
        // The review deadline is shown while the review lasts. Once approved it is gone:
        // it would be dropped anyway in the next pass (granted), and recording it in the
        // pass that grants would cost every activation a second status write.
        if !go {
            let submitted = st.submitted_at.unwrap_or(now);
            let review_by = match super::emergency::review_within(rules, emergency) {
                Some(d) => clock.add(submitted, d),
                None => rules
                    .review_periods()
                    .iter()
                    .fold(submitted, |t, d| clock.add(t, *d)),
            };
            p.deadlines.review_by = Some(review_by);
        }
        if i.deleting {
            st.phase = Some(match verdict {
                Verdict::Rejected => RequestPhase::Rejected,
                _ => RequestPhase::Submitted,
            });
            p.release_finalizer = true;
        } else if verdict == Verdict::Rejected {
            st.phase = Some(RequestPhase::Rejected);
            let why = st
                .reviewed_approval
                .as_ref()
                .and_then(|a| a.comment.clone())
                .unwrap_or_else(|| "no reason given".into());
            p.wanted.push(Wanted::no(
                types::READY,
                "Rejected",
                format!("rejected: {why}; edit the spec to resubmit"),
            ));
        } else if !go {
            st.phase = Some(RequestPhase::Submitted);
            let review_by = p.deadlines.review_by.unwrap_or(now);
            if now >= review_by {
                p.wanted.push(Wanted::yes(
                    types::REVIEW_OVERDUE,
                    "ReviewDeadlinePassed",
                    format!("no decision by {} (XB 20, SN 11)", review_by.to_rfc3339()),
                ));
            } else {
                p.upcoming.push(("reviewBy", review_by));
            }
            if !p.wanted.iter().any(|w| w.type_ == types::READY) {
                p.wanted.push(Wanted::no(
                    types::READY,
                    "AwaitingReview",
                    "waiting for the bureau's decision",
                ));
            }
        } else if let Some(checked) = checked {
            let provision_by = provision_deadline(&mut clock, rules, &st, emergency, now);
            p.deadlines.provision_by = provision_by;
            let over = rules
                .capacity
                .as_ref()
                .map(|cap| i.capacity_in_use.plus(&checked.requested).exceeding(cap))
                .unwrap_or_default();
            if !over.is_empty() {
                st.phase = Some(RequestPhase::Approved);
                let kinds: Vec<_> = over.iter().map(|k| k.key()).collect();
                p.wanted.push(Wanted::yes(
                    types::INSUFFICIENT_CAPACITY,
                    "PoolFull",
                    format!("the pool of policy {:?} has no room for this grant ({}); waiting for capacity to free", rules.name, kinds.join(", ")),
                ));
                p.wanted.push(Wanted::no(
                    types::READY,
                    "WaitingForCapacity",
                    "approved; waiting for capacity",
                ));
                overdue_provisioning(&mut p, provision_by, now);
            } else {
                // The grant. Issue 11: approval to Active is one pass, pool or not: the
                // tenant namespace is applied before the status is written, carrying the
                // grant, and counts against the pool on its own until the status reports
                // it (`policy::capacity::tenant_holder`), so a crash in between frees no
                // room. A separate reservation write cost every grant a second pass.
                st.phase = Some(RequestPhase::Provisioning);
                st.grant = Some(checked.requested.to_api());
                st.granted_class = Some(i.spec.class);
                st.granted_duration = checked.duration.map(|d| d.to_string());
                frozen::record(&mut st, i.spec, &rules.name);
                st.tenant_namespace = Some(checked.tenant_namespace.clone());
                p.wanted.push(Wanted::no(
                    types::READY,
                    "Provisioning",
                    format!("provisioning tenant namespace {}", checked.tenant_namespace),
                ));
                p.action = Action::Reserve;
                // The grant is written alone first unless the tenant can be opened now:
                // not looked up yet or being deleted (here), someone else's namespace or
                // one still terminating (`lifecycle_granted` leaves this action then).
                if i.tenant.is_some() && !i.deleting {
                    p.wanted.clear();
                    lifecycle_granted(i, rules, &mut st, &mut clock, verdict, &mut p);
                }
            }
        }
    } else {
        lifecycle_granted(i, rules, &mut st, &mut clock, verdict, &mut p);
    }

    // Record the rules the grant lives by, once (at the grant, or on the first pass of a
    // grant made by an earlier release): they stay in force if the policy goes away.
    if st.grant.is_some()
        && st.granted_rules.get().is_none()
        && st.phase != Some(RequestPhase::Reclaimed)
    {
        st.granted_rules = crate::api::RecordedRules(Some(crate::api::share(
            super::granted_rules::record(rules, st.granted_class.unwrap_or(i.spec.class)),
        )));
    }
    // The spec no longer matches the grant: only a ResourceChange changes a grant.
    let fields = frozen::unapplied_fields(&st, i.spec, checked.as_ref(), i.spec_policy);
    p.wanted.extend(frozen::unapplied(&fields));
    // Issue 15: every deadline counted on unpublished data says so, naming the years.
    if let Some(w) = clock.gaps.calendar_incomplete() {
        p.wanted.push(w);
    }
    let has_ready = p.wanted.iter().any(|w| w.type_ == types::READY);
    if !has_ready {
        p.wanted
            .insert(0, Wanted::no(types::READY, "Pending", "in progress"));
    }
    st.conditions = conditions::settle(
        &i.status.conditions,
        std::mem::take(&mut p.wanted),
        now,
        i.generation,
    );
    st.observed_generation = Some(i.generation);
    let deadlines = std::mem::take(&mut p.deadlines);
    st.deadlines = (deadlines != RequestDeadlines::default()).then_some(deadlines);
    st.next_deadline = conditions::next_deadline(&mut p.upcoming);
    let wake_at = p.upcoming.iter().map(|(_, t)| *t).find(|t| *t > now);
    let mut notices = notices(i.status, &st);
    notices.extend(p.extra);
    Outcome {
        status: st,
        action: p.action,
        wake_at,
        release_finalizer: p.release_finalizer,
        notices,
        downsize: p.downsize,
        monitored: p.monitored,
    }
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
