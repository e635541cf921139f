//! The decisions about an ExitRequest (SN 16, GY 11, SH 21, XB 23, YX 9): filed in time
//! after the last use, reviewed, a transition to migrate off and back up, and only then —
//! with the backup confirmed — reclamation of the tenant namespace.
//!
//! The request controller deletes the namespace when an exit is `Reclaiming`; this decides
//! when that is, and sees it `Completed` once the request is `Reclaimed`.
//! `reclaimBy` is the end of the transition plus `exit.reviewWithin` (SN 16), or — with
//! `exit.reclaimFrom: Filing` — the filing plus `exit.reviewWithin`, one window for review
//! and reclamation (GY 11: released and billing stopped within 5 wd of receiving the exit
//! request; SH 21 ¶1: reviewed and reclaimed within 10 wd).

use chrono::{DateTime, NaiveDate, Utc};

use super::calendar::Calendar;
use super::conditions::{self, Wanted, types};
use super::deadline;
use super::hold::{Gaps, Hold, override_notice, reclaim_hold};
use super::notice::Notice;
use super::rules::Rules;
use crate::api::{
    CloudResourceRequest, Decision, ExitDeadlines, ExitPhase, ExitRequestSpec, ExitRequestStatus,
    ReclaimFrom, RequestPhase,
};

/// Condition: filed later than `exit.submitWithin` after the last use (SN 16).
pub const LATE_SUBMISSION: &str = "LateSubmission";
/// Condition: the transition ended but the unit has not confirmed its backup.
pub const AWAITING_BACKUP: &str = "AwaitingBackupConfirmation";
/// Condition: not reclaimed by `reclaimBy`.
pub const RECLAIM_OVERDUE: &str = "ReclaimOverdue";

/// Everything an exit decision needs.
pub struct ExitInputs<'a> {
    /// `metadata.generation`.
    pub generation: i64,
    /// When the exit was filed (`metadata.creationTimestamp`).
    pub filed_at: DateTime<Utc>,
    /// The spec.
    pub spec: &'a ExitRequestSpec,
    /// The current status.
    pub status: &'a ExitRequestStatus,
    /// The request it terminates, if it exists.
    pub request: Option<&'a CloudResourceRequest>,
    /// The policy of that request.
    pub rules: Option<&'a Rules>,
    /// Its calendar.
    pub calendar: &'a Calendar,
    /// The time of the decision.
    pub now: DateTime<Utc>,
}

/// The outcome of an exit decision.
#[derive(Debug, Clone, PartialEq)]
pub struct ExitOutcome {
    /// The status to write.
    pub status: ExitRequestStatus,
    /// When to look again.
    pub wake_at: Option<DateTime<Utc>>,
    /// Events to publish.
    pub notices: Vec<Notice>,
}

/// Decides an exit's status.
pub fn decide(i: &ExitInputs<'_>) -> ExitOutcome {
    if let Some(kind) = super::unknown::unrecognized(
        "ExitRequest",
        i.status.phase == Some(ExitPhase::Unrecognized),
        i.request,
    ) {
        // Issue 14: a phase only a newer release knows, on the exit or its request.
        // Nothing moves towards reclamation and nothing is written; reported and left.
        return ExitOutcome {
            status: i.status.clone(),
            wake_at: None,
            notices: vec![super::unknown::unknown_phase(kind)],
        };
    }
    let now = i.now;
    let mut st = i.status.clone();
    st.submitted_at.get_or_insert(i.filed_at);
    let mut wanted: Vec<Wanted> = Vec::new();
    let mut upcoming: Vec<(&'static str, DateTime<Utc>)> = Vec::new();
    let mut deadlines = ExitDeadlines::default();
    let mut hold_notices = Vec::new();
    let mut gaps = Gaps::default();

    if st.phase == Some(ExitPhase::Completed) {
        return ExitOutcome {
            status: st,
            wake_at: None,
            notices: vec![],
        };
    }
    let request_phase = i
        .request
        .and_then(|r| r.status.as_ref())
        .and_then(|s| s.phase);
    // Reclaimed (or reclaimed and then deleted) while this exit was reclaiming: done.
    if st.phase == Some(ExitPhase::Reclaiming)
        && (i.request.is_none() || request_phase == Some(RequestPhase::Reclaimed))
    {
        st.phase = Some(ExitPhase::Completed);
        st.completed_at = Some(now);
        wanted.push(Wanted::yes(
            types::READY,
            "Completed",
            "the tenant namespace was reclaimed and billing stopped",
        ));
        return finish(i, st, wanted, Some(deadlines_of(i.status)), vec![]);
    }
    let invalid = |mut st: ExitRequestStatus, message: String| {
        st.phase = Some(ExitPhase::Invalid);
        let wanted = vec![
            Wanted::no(types::READY, "Invalid", "the exit is invalid"),
            Wanted::yes(types::INVALID, "InvalidSpec", message),
        ];
        finish(i, st, wanted, None, vec![])
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
    let provisioned = request
        .status
        .as_ref()
        .is_some_and(|s| s.billing.as_ref().is_some_and(|b| b.started_at.is_some()));
    if !provisioned {
        return invalid(
            st,
            format!(
                "spec.request: CloudResourceRequest {:?} was never provisioned; delete it instead",
                i.spec.request
            ),
        );
    }
    if request_phase == Some(RequestPhase::Reclaimed) {
        return invalid(
            st,
            format!(
                "spec.request: CloudResourceRequest {:?} is already reclaimed",
                i.spec.request
            ),
        );
    }
    let count = |t: DateTime<Utc>, d| deadline::add(t, d, i.calendar, rules.time_zone);
    let mut clock = |t: DateTime<Utc>, d| {
        let dl = count(t, d);
        gaps.note(i.calendar, rules.time_zone, t, dl);
        dl.at
    };

    // SN 16: filed within submitWithin of the last use; late is reported, not refused.
    if let Some(text) = &i.spec.last_used_on {
        match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            Err(_) => {
                return invalid(
                    st,
                    format!("spec.lastUsedOn: {text:?} is not a date (YYYY-MM-DD)"),
                );
            }
            Ok(day) => {
                let due = clock(
                    deadline::end_of_day(day, rules.time_zone),
                    rules.exit_submit_within,
                );
                if i.filed_at > due {
                    wanted.push(Wanted::yes(LATE_SUBMISSION, "FiledLate", format!("filed after {} — within {} of the last use on {day} (SN 16); reported to audit and finance", due.to_rfc3339(), rules.exit_submit_within)));
                }
            }
        }
    }

    let submitted = st.submitted_at.unwrap_or(now);
    let review_by = clock(submitted, rules.exit_review_within);
    deadlines.review_by = Some(review_by);
    // Issue 13: the decision binds a copy of the spec it approves; an edit since (other
    // than the unit's backup confirmation) voids it (ApprovalStale).
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
        binding,
        now,
    });
    st.reviewed_approval = record.reviewed;
    st.approved_spec = record.approved_spec;
    st.approved_generation = record.approved_generation;
    st.decided_at = record.decided_at;
    wanted.extend(super::snapshot::condition(&verdict));
    let decision = match verdict {
        super::snapshot::Verdict::Approved(_) => Some((Decision::Approved, st.decided_at)),
        super::snapshot::Verdict::Rejected => Some((Decision::Rejected, st.decided_at)),
        super::snapshot::Verdict::Undecided | super::snapshot::Verdict::Stale(_) => None,
    };
    match decision {
        None => {
            st.phase = Some(ExitPhase::Submitted);
            wanted.push(Wanted::no(
                types::READY,
                "AwaitingReview",
                "waiting for the bureau's decision",
            ));
            if now >= review_by {
                wanted.push(Wanted::yes(
                    types::REVIEW_OVERDUE,
                    "ReviewDeadlinePassed",
                    format!("no decision by {} (SH 21)", review_by.to_rfc3339()),
                ));
            } else {
                upcoming.push(("reviewBy", review_by));
            }
        }
        Some((Decision::Rejected, _)) => {
            st.phase = Some(ExitPhase::Rejected);
            let why = st
                .approval
                .as_ref()
                .and_then(|a| a.comment.clone())
                .unwrap_or_else(|| "no reason given".into());
            wanted.push(Wanted::no(
                types::READY,
                "Rejected",
                format!("rejected: {why}; the request stays Active"),
            ));
        }
        Some((Decision::Approved, decided_at)) => {
            let decided = *st.decided_at.get_or_insert(decided_at.unwrap_or(now));
            // Issue 15: the data is wiped once the transition ends; the years that end
            // relied on without published data hold the wipe.
            let transition = count(decided, rules.exit_transition);
            let mut transition_gaps = Gaps::default();
            transition_gaps.note(i.calendar, rules.time_zone, decided, transition);
            let transition_ends = clock(decided, rules.exit_transition);
            let reclaim_by = match rules.exit_reclaim_from {
                // Unrecognized never leaves `rules::resolve`; the later count is the safe one.
                ReclaimFrom::TransitionEnd | ReclaimFrom::Unrecognized => {
                    clock(transition_ends, rules.exit_review_within)
                }
                // GY 11, SH 21 ¶1: counted from the filing, like the review.
                ReclaimFrom::Filing => review_by,
            };
            deadlines.transition_ends_at = Some(transition_ends);
            deadlines.reclaim_by = Some(reclaim_by);
            let backup = i
                .spec
                .data_disposition
                .as_ref()
                .is_some_and(|d| d.backup_confirmed);
            if now < transition_ends {
                st.phase = Some(ExitPhase::Transition);
                wanted.push(Wanted::no(
                    types::READY,
                    "Transition",
                    format!(
                        "approved: the unit migrates off and backs up until {} (SN 16)",
                        transition_ends.to_rfc3339()
                    ),
                ));
                upcoming.push(("transitionEndsAt", transition_ends));
            } else if !backup {
                st.phase = Some(ExitPhase::Transition);
                wanted.push(Wanted::yes(AWAITING_BACKUP, "BackupNotConfirmed", "the transition is over; set spec.dataDisposition.backupConfirmed once the data is backed up — nothing is deleted before (SH 26, XB 23)"));
                wanted.push(Wanted::no(
                    types::READY,
                    "AwaitingBackupConfirmation",
                    "waiting for the unit to confirm its backup",
                ));
            } else if let Hold::Held(held) = exit_hold(
                i,
                &st,
                &transition_gaps,
                rules,
                &mut hold_notices,
                &mut wanted,
            ) {
                st.phase = Some(ExitPhase::Transition);
                wanted.push(held);
                wanted.push(Wanted::no(
                    types::READY,
                    "ReclaimHeld",
                    "the transition's end was counted without the year's calendar: waiting for it or for the bureau's override",
                ));
            } else {
                st.phase = Some(ExitPhase::Reclaiming);
                wanted.push(Wanted::no(
                    types::READY,
                    "Reclaiming",
                    "the tenant namespace is being reclaimed",
                ));
            }
            if now >= reclaim_by {
                wanted.push(Wanted::yes(
                    RECLAIM_OVERDUE,
                    "ReclaimDeadlinePassed",
                    format!(
                        "not reclaimed by {} (SH 21, GY 11)",
                        reclaim_by.to_rfc3339()
                    ),
                ));
            } else if now >= transition_ends {
                upcoming.push(("reclaimBy", reclaim_by));
            }
        }
    }
    if let Some(w) = gaps.calendar_incomplete() {
        wanted.push(w);
    }
    let mut out = finish(i, st, wanted, Some(deadlines), upcoming);
    out.notices.extend(hold_notices);
    out
}

/// What an exit's approval binds: everything but the data disposition, which the unit
/// confirms after the approval, at the end of the transition (SH 26, XB 23).
pub fn binding(spec: &ExitRequestSpec) -> ExitRequestSpec {
    ExitRequestSpec {
        data_disposition: None,
        ..spec.clone()
    }
}

/// Whether the wipe must wait (issue 15). An override is recorded (`ReclaimHeld` False
/// naming who, and an Event); once reclaiming, the wipe is not held again.
fn exit_hold(
    i: &ExitInputs<'_>,
    st: &ExitRequestStatus,
    gaps: &Gaps,
    rules: &Rules,
    notices: &mut Vec<Notice>,
    wanted: &mut Vec<Wanted>,
) -> Hold {
    match reclaim_hold(gaps, st.approval.as_ref(), &rules.calendar) {
        Hold::Held(_) if i.status.phase == Some(ExitPhase::Reclaiming) => Hold::Proceed,
        Hold::Overridden(w) => {
            let hold = Hold::Overridden(w.clone());
            notices.extend(override_notice(&i.status.conditions, &hold));
            wanted.push(w);
            hold
        }
        hold => hold,
    }
}

fn deadlines_of(st: &ExitRequestStatus) -> ExitDeadlines {
    st.deadlines.clone().unwrap_or_default()
}

fn finish(
    i: &ExitInputs<'_>,
    mut st: ExitRequestStatus,
    wanted: Vec<Wanted>,
    deadlines: Option<ExitDeadlines>,
    mut upcoming: Vec<(&'static str, DateTime<Utc>)>,
) -> ExitOutcome {
    st.conditions = conditions::settle(&i.status.conditions, wanted, i.now, i.generation);
    st.observed_generation = Some(i.generation);
    st.deadlines = deadlines.filter(|d| *d != ExitDeadlines::default());
    st.next_deadline = conditions::next_deadline(&mut upcoming);
    let wake_at = st.next_deadline.as_ref().map(|n| n.at);
    let notices = notices(i.status, &st);
    ExitOutcome {
        status: st,
        wake_at,
        notices,
    }
}

fn notices(old: &ExitRequestStatus, new: &ExitRequestStatus) -> Vec<Notice> {
    let mut out = Vec::new();
    if let Some(phase) = new.phase.filter(|p| Some(*p) != old.phase) {
        let (warning, reason, message) = match phase {
            ExitPhase::Submitted => (false, "Submitted", "submitted for review".to_string()),
            ExitPhase::Approved | ExitPhase::Transition => (
                false,
                "Transition",
                "approved: transition period started".to_string(),
            ),
            ExitPhase::Rejected => (
                true,
                "Rejected",
                "rejected; the request stays Active".to_string(),
            ),
            ExitPhase::Reclaiming => (
                true,
                "Reclaiming",
                "backup confirmed: the tenant namespace is being deleted".to_string(),
            ),
            ExitPhase::Completed => (false, "Completed", "reclaimed; billing stopped".to_string()),
            ExitPhase::Unrecognized => (
                true,
                super::unknown::UNKNOWN_PHASE,
                "phase unknown to this release".to_string(),
            ),
            ExitPhase::Invalid => (
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
            LATE_SUBMISSION,
            AWAITING_BACKUP,
            RECLAIM_OVERDUE,
            types::REVIEW_OVERDUE,
            types::RECLAIM_HELD,
            types::CALENDAR_INCOMPLETE,
        ],
    ));
    out
}

#[cfg(test)]
#[path = "exit_tests.rs"]
mod tests;
