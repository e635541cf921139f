//! Issue 15 on requests: a Test grant whose reclaim deadline falls in a year without a
//! State Council notice is suspended on time but not reclaimed until the year is loaded
//! or an approver overrides.

use super::*;
use crate::api::ReclaimOverride;
use crate::policy::provisional::provisional_year;

/// A Test grant opened 2026-12-20: 30 d ends 2027-01-19, reclaimed 10 wd later — all in
/// 2027, which the embedded data lacks.
fn in_2027(calendar: Calendar) -> (World, RequestDeadlines) {
    let mut w = World::new(RequestClass::Test);
    w.calendar = calendar;
    w.step(t(2026, 12, 18, 10));
    w.approve(None);
    w.step(t(2026, 12, 20, 10));
    w.has_pods = Some(true);
    let active = w.step(t(2026, 12, 20, 10));
    assert_eq!(active.status.phase, Some(RequestPhase::Active));
    let d = active.status.deadlines.clone().unwrap();
    (w, d)
}

fn provisional() -> Calendar {
    Calendar::cn_statutory().with_provisional()
}

/// 2027 as the bureau would load it (here: the law's dates, which the notice keeps).
fn published() -> Calendar {
    let mut cal = Calendar::cn_statutory().with_provisional();
    cal.set_year(2027, provisional_year(2027).unwrap());
    cal
}

fn expire_then_reach_reclaim(w: &mut World, d: &RequestDeadlines) -> (Outcome, Outcome) {
    let expired = w.step(d.expires_at.unwrap());
    let at_reclaim = w.step(d.reclaim_at.unwrap());
    (expired, at_reclaim)
}

#[test]
fn a_provisional_count_suspends_on_time_but_holds_the_reclaim() {
    let (mut w, d) = in_2027(provisional());
    let incomplete = w.cond(types::CALENDAR_INCOMPLETE).unwrap().clone();
    assert_eq!(incomplete.reason, "ProvisionalCalendar");
    assert!(incomplete.message.contains("2027") && incomplete.message.contains("provisional"));
    let (expired, held) = expire_then_reach_reclaim(&mut w, &d);
    assert_eq!(expired.status.phase, Some(RequestPhase::Suspended));
    assert!(matches!(expired.action, Action::Suspend { .. }));
    // At and long after the reclaim deadline: still suspended, nothing deleted.
    for out in [
        held,
        w.step(d.reclaim_at.unwrap() + chrono::Duration::days(30)),
    ] {
        assert_eq!(out.status.phase, Some(RequestPhase::Suspended));
        assert!(matches!(out.action, Action::Suspend { .. }));
        let c = conditions::find(&out.status.conditions, types::RECLAIM_HELD).unwrap();
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            ("True", "ProvisionalCalendar")
        );
        assert!(c.message.contains("2027") && c.message.contains("cn-statutory"));
    }
    let first = w.decide(d.reclaim_at.unwrap());
    assert!(first.notices.is_empty(), "the Event is published once");
}

#[test]
fn the_hold_publishes_a_warning_naming_the_year() {
    let (mut w, d) = in_2027(provisional());
    w.step(d.expires_at.unwrap());
    let held = w.step(d.reclaim_at.unwrap());
    let n = held
        .notices
        .iter()
        .find(|n| n.reason == "ReclaimHeld")
        .unwrap();
    assert!(n.warning && n.message.contains("2027"));
}

#[test]
fn with_the_year_published_the_grant_is_reclaimed() {
    // Negative control of the hold: same grant, 2027 loaded.
    let (mut w, d) = in_2027(published());
    assert!(w.cond(types::CALENDAR_INCOMPLETE).is_none());
    let (_, at_reclaim) = expire_then_reach_reclaim(&mut w, &d);
    assert_eq!(at_reclaim.status.phase, Some(RequestPhase::Reclaiming));
    assert!(matches!(at_reclaim.action, Action::Reclaim { .. }));
    assert!(w.cond(types::RECLAIM_HELD).is_none());
}

#[test]
fn loading_the_year_recounts_stored_deadlines_and_releases_the_hold() {
    let (mut w, d) = in_2027(provisional());
    w.step(d.expires_at.unwrap());
    w.step(d.reclaim_at.unwrap());
    assert!(conditions::is_true(
        &w.status.conditions,
        types::RECLAIM_HELD
    ));
    // The year arrives with a notice that differs from the law alone: a 调休 make-up
    // Saturday inside the suspension (2027-01-30) counts as a working day.
    let mut days = provisional_year(2027).unwrap();
    days.push(crate::policy::calendar::CalendarDay {
        name: "调休".into(),
        date: chrono::NaiveDate::from_ymd_opt(2027, 1, 30).unwrap(),
        is_off_day: false,
    });
    w.calendar = Calendar::cn_statutory().with_provisional();
    w.calendar.set_year(2027, days);
    let stored = w.status.deadlines.clone().unwrap().reclaim_at.unwrap();
    let now = stored + chrono::Duration::days(1);
    let out = w.step(now);
    let recounted = out.status.deadlines.clone().unwrap().reclaim_at.unwrap();
    assert!(
        recounted < stored,
        "recounted on the notice: {recounted} vs {stored}"
    );
    assert!(!conditions::is_true(
        &out.status.conditions,
        types::CALENDAR_INCOMPLETE
    ));
    assert_eq!(out.status.phase, Some(RequestPhase::Reclaiming));
    assert!(matches!(out.action, Action::Reclaim { .. }));
}

#[test]
fn an_approvers_override_lets_the_reclaim_proceed_and_is_recorded() {
    let (mut w, d) = in_2027(provisional());
    w.step(d.expires_at.unwrap());
    w.step(d.reclaim_at.unwrap());
    let decided_at = w.status.decided_at;
    if let Some(a) = w.status.approval.as_mut() {
        a.reclaim_override = Some(ReclaimOverride {
            reason: "2027 notice checked by hand".into(),
            by: None,
        });
    }
    let out = w.step(d.reclaim_at.unwrap() + chrono::Duration::hours(1));
    assert_eq!(out.status.phase, Some(RequestPhase::Reclaiming));
    assert!(matches!(out.action, Action::Reclaim { .. }));
    let c = conditions::find(&out.status.conditions, types::RECLAIM_HELD).unwrap();
    assert_eq!(
        (c.status.as_str(), c.reason.as_str()),
        ("False", "Overridden")
    );
    assert!(c.message.contains("alice") && c.message.contains("checked by hand"));
    let n = out
        .notices
        .iter()
        .find(|n| n.reason == "ReclaimOverridden")
        .unwrap();
    assert!(n.message.contains("alice"));
    // The override is not a new decision.
    assert_eq!(out.status.decided_at, decided_at);
    assert!(!out.notices.iter().any(|n| n.reason == "Approved"));
    w.tenant = Some(TenantState::Absent);
    let done = w.step(d.reclaim_at.unwrap() + chrono::Duration::hours(2));
    assert_eq!(done.status.phase, Some(RequestPhase::Reclaimed));
}
