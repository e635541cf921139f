//! The ResourceChange and ExitRequest deadlines of every shipped preset, pinned by hand
//! from the articles and the 2026 calendar. Convention, calendar and events (F1, F2, A1, A2):
//! see `preset_deadlines_tests.rs`.

use chrono::{DateTime, Duration, Utc};

use super::calendar::Calendar;
use super::preset_deadlines_tests::{A1, A2, F1, F2, approved, at, check, opened, preset, q};
use super::{change, exit};
use crate::api::{
    ExitRequestSpec, ExitRequestStatus, RequestClass, ResourceChangeSpec, ResourceChangeStatus,
};

/// ResourceChange review and application, from the real change decision.
/// Rows: preset, conversion (Test → Production), filed, approved, reviewBy, applyBy.
#[test]
fn changes_reviewed_and_applied() {
    const ROWS: &[(&str, bool, &str, &str, &str, &str)] = &[
        // GY 9 ¶1: applied within 5 wd of the approval; review 5 wd (XB 22(4) value).
        (
            "guiyang",
            false,
            F1,
            A1,
            "2026-02-26 24:00",
            "2026-02-27 24:00",
        ),
        (
            "guiyang",
            false,
            F2,
            A2,
            "2026-10-13 24:00",
            "2026-10-15 24:00",
        ),
        // No conversion window in GY: a conversion is an ordinary change.
        (
            "guiyang",
            true,
            F1,
            A1,
            "2026-02-26 24:00",
            "2026-02-27 24:00",
        ),
        // YX / SN 15 / XB 22(4): review 5 wd, apply 5 wd after approval.
        (
            "yixing",
            false,
            F1,
            A1,
            "2026-02-26 24:00",
            "2026-02-27 24:00",
        ),
        (
            "yixing",
            false,
            F2,
            A2,
            "2026-10-13 24:00",
            "2026-10-15 24:00",
        ),
        (
            "suining",
            false,
            F1,
            A1,
            "2026-02-26 24:00",
            "2026-02-27 24:00",
        ),
        (
            "suining",
            false,
            F2,
            A2,
            "2026-10-13 24:00",
            "2026-10-15 24:00",
        ),
        (
            "xishuangbanna",
            false,
            F1,
            A1,
            "2026-02-26 24:00",
            "2026-02-27 24:00",
        ),
        (
            "xishuangbanna",
            false,
            F2,
            A2,
            "2026-10-13 24:00",
            "2026-10-15 24:00",
        ),
        // SH 20 ¶1: expansion reviewed within 5 wd, done within 5 wd of approval.
        (
            "shanghai",
            false,
            F1,
            A1,
            "2026-02-26 24:00",
            "2026-02-27 24:00",
        ),
        (
            "shanghai",
            false,
            F2,
            A2,
            "2026-10-13 24:00",
            "2026-10-15 24:00",
        ),
        // SH 19 ¶2: formal opening within 2 wd of the unit's notice — review and apply in
        // one window: Feb 13, make-up Sat Feb 14; Oct 8, Oct 9.
        (
            "shanghai",
            true,
            F1,
            A1,
            "2026-02-14 24:00",
            "2026-02-14 24:00",
        ),
        (
            "shanghai",
            true,
            F2,
            A2,
            "2026-10-09 24:00",
            "2026-10-09 24:00",
        ),
    ];
    let calendar = Calendar::cn_statutory();
    for &(name, conversion, filed, decided, review_by, apply_by) in ROWS {
        let rules = preset(name);
        let (class, spec) = if conversion {
            let spec = ResourceChangeSpec {
                request: "portal".into(),
                resources: None,
                extend_to: None,
                convert_to: Some(RequestClass::Production),
                reason: Some("validation passed".into()),
                justification: Some("validated; formal opening".into()),
                recurring: false,
                access_groups: None,
                zone: None,
            };
            (RequestClass::Test, spec)
        } else {
            let spec = ResourceChangeSpec {
                request: "portal".into(),
                resources: Some(q("9", "32Gi")),
                extend_to: None,
                convert_to: None,
                reason: Some("load".into()),
                justification: None,
                recurring: false,
                access_groups: None,
                zone: None,
            };
            (RequestClass::Production, spec)
        };
        let request = opened(name, class);
        let decide = |status: &ResourceChangeStatus, now| {
            change::decide(&change::ChangeInputs {
                uid: "change-1",
                generation: 1,
                spec: &spec,
                status,
                request: Some(&request),
                rules: Some(&rules),
                calendar: &calendar,
                prior_recurring_justified: false,
                now,
            })
            .status
        };
        let submitted = decide(&ResourceChangeStatus::default(), at(filed));
        let got = submitted.deadlines.as_ref().and_then(|d| d.review_by);
        check("change reviewBy", name, filed, got, review_by);
        let mut status = submitted;
        status.approval = approved(decided);
        let approved = decide(&status, at(decided));
        let got = approved.deadlines.as_ref().and_then(|d| d.apply_by);
        check("change applyBy", name, decided, got, apply_by);
    }
}

/// ExitRequest review, transition and reclamation, from the real exit decision.
/// Rows: preset, filed, approved, reviewBy, transitionEndsAt, reclaimBy.
#[test]
fn exits_reviewed_and_reclaimed() {
    const ROWS: &[(&str, &str, &str, &str, &str, &str)] = &[
        // GY 11: released and billing stopped within 5 wd of receiving the exit request.
        (
            "guiyang",
            F1,
            A1,
            "2026-02-26 24:00",
            A1,
            "2026-02-26 24:00",
        ),
        (
            "guiyang",
            F2,
            A2,
            "2026-10-13 24:00",
            A2,
            "2026-10-13 24:00",
        ),
        // YX 9 sets no time; SH 21 ¶1 value: reviewed and reclaimed within 10 wd of filing.
        ("yixing", F1, A1, "2026-03-04 24:00", A1, "2026-03-04 24:00"),
        ("yixing", F2, A2, "2026-10-20 24:00", A2, "2026-10-20 24:00"),
        // SN 16: review 5 wd (SN 15 value); 3-mo transition from approval (Feb 13 + 3 mo =
        // Wed May 13; Oct 9 + 3 mo = Sat 2027-01-09 → Mon Jan 11, weekdays only); then
        // reclaimed within 5 wd (May 14, 15, 18, 19, 20; Jan 12–15, 18).
        (
            "suining",
            F1,
            A1,
            "2026-02-26 24:00",
            "2026-05-13 24:00",
            "2026-05-20 24:00",
        ),
        (
            "suining",
            F2,
            A2,
            "2026-10-13 24:00",
            "2027-01-11 24:00",
            "2027-01-18 24:00",
        ),
        // XB 23(1), 20(2): approved within 5 + 5 wd; no transition; reclaimed within 10 wd of
        // the approval (Feb 14* … Mar 5; Oct 10* … Oct 22).
        (
            "xishuangbanna",
            F1,
            A1,
            "2026-03-04 24:00",
            A1,
            "2026-03-05 24:00",
        ),
        (
            "xishuangbanna",
            F2,
            A2,
            "2026-10-20 24:00",
            A2,
            "2026-10-22 24:00",
        ),
        // SH 21 ¶1: reviewed and reclaimed within one window of 10 wd from the request.
        (
            "shanghai",
            F1,
            A1,
            "2026-03-04 24:00",
            A1,
            "2026-03-04 24:00",
        ),
        (
            "shanghai",
            F2,
            A2,
            "2026-10-20 24:00",
            A2,
            "2026-10-20 24:00",
        ),
    ];
    let calendar = Calendar::cn_statutory();
    for &(name, filed, decided, review_by, transition_ends, reclaim_by) in ROWS {
        let rules = preset(name);
        let request = opened(name, RequestClass::Production);
        let spec = ExitRequestSpec {
            request: "portal".into(),
            reason: None,
            last_used_on: None,
            data_disposition: None,
        };
        let decide = |status: &ExitRequestStatus, now| {
            exit::decide(&exit::ExitInputs {
                generation: 1,
                filed_at: at(filed),
                spec: &spec,
                status,
                request: Some(&request),
                rules: Some(&rules),
                calendar: &calendar,
                now,
            })
            .status
        };
        let submitted = decide(&ExitRequestStatus::default(), at(filed));
        let got = submitted.deadlines.as_ref().and_then(|d| d.review_by);
        check("exit reviewBy", name, filed, got, review_by);
        let mut status = submitted;
        status.approval = approved(decided);
        let approved = decide(&status, at(decided));
        let d = approved.deadlines.clone().unwrap_or_default();
        check(
            "exit transitionEndsAt",
            name,
            decided,
            d.transition_ends_at,
            transition_ends,
        );
        check("exit reclaimBy", name, decided, d.reclaim_by, reclaim_by);
    }
}

/// SN 16 (all presets): the exit is filed within 1 mo of the last use. Filed at the
/// deadline is in time; a second later is late. Rows: last used on, due.
#[test]
fn exits_filed_in_time() {
    const ROWS: &[(&str, &str)] = &[
        // Jan 15 + 1 mo = Sun Feb 15, Spring Festival → next working day Tue Feb 24.
        ("2026-01-15", "2026-02-24 24:00"),
        // Sep 1 + 1 mo = Oct 1, National Day → next working day Thu Oct 8.
        ("2026-09-01", "2026-10-08 24:00"),
        // Aug 31 + 1 mo: September has no 31st → its last day, Wed Sep 30 (art. 202).
        ("2026-08-31", "2026-09-30 24:00"),
    ];
    let calendar = Calendar::cn_statutory();
    for name in ["guiyang", "yixing", "suining", "xishuangbanna", "shanghai"] {
        let rules = preset(name);
        let request = opened(name, RequestClass::Production);
        for &(last_used, due) in ROWS {
            let spec = ExitRequestSpec {
                request: "portal".into(),
                reason: None,
                last_used_on: Some(last_used.into()),
                data_disposition: None,
            };
            let late = |filed: DateTime<Utc>| {
                let out = exit::decide(&exit::ExitInputs {
                    generation: 1,
                    filed_at: filed,
                    spec: &spec,
                    status: &ExitRequestStatus::default(),
                    request: Some(&request),
                    rules: Some(&rules),
                    calendar: &calendar,
                    now: filed,
                });
                super::conditions::find(&out.status.conditions, exit::LATE_SUBMISSION)
                    .is_some_and(|c| c.status == "True")
            };
            assert!(!late(at(due)), "{name}: last used {last_used}, filed {due}");
            assert!(
                late(at(due) + Duration::seconds(1)),
                "{name}: last used {last_used}, filed after {due}"
            );
        }
    }
}
