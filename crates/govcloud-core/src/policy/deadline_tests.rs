use super::*;
use crate::policy::calendar::CalendarDay;
use chrono_tz::Asia;

pub(super) const SH: Tz = Asia::Shanghai;

pub(super) fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .with_timezone(&Utc)
}

pub(super) fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

pub(super) fn dur(s: &str) -> PolicyDuration {
    s.parse().unwrap()
}

pub(super) fn cn() -> Calendar {
    Calendar::cn_statutory()
}

/// Asserts `add(start, d)` in Asia/Shanghai on the statutory calendar.
#[track_caller]
fn assert_add(start: &str, d: &str, expected: &str, complete: bool) {
    let got = add(at(start), dur(d), &cn(), SH);
    assert_eq!(
        got,
        Deadline {
            at: at(expected),
            calendar_complete: complete
        },
        "{start} + {d}"
    );
}

#[track_caller]
fn assert_sub(end: &str, d: &str, expected: &str, complete: bool) {
    let got = sub(at(end), dur(d), &cn(), SH);
    assert_eq!(
        got,
        Deadline {
            at: at(expected),
            calendar_complete: complete
        },
        "{end} - {d}"
    );
    // And it is the latest such instant: one nanosecond later is too late.
    let later = got.at + TimeDelta::nanoseconds(1);
    assert!(add(got.at, dur(d), &cn(), SH).at <= at(end));
    assert!(add(later, dur(d), &cn(), SH).at > at(end));
}

#[test]
fn friday_evening_counts_from_monday() {
    // 2026-03-06 and 2025-03-07 are ordinary Fridays.
    assert_add(
        "2026-03-06T19:30:00+08:00",
        "1wd",
        "2026-03-10T00:00:00+08:00",
        true,
    );
    assert_add(
        "2026-03-06T19:30:00+08:00",
        "5wd",
        "2026-03-14T00:00:00+08:00",
        true,
    );
    assert_add(
        "2025-03-07T18:00:00+08:00",
        "1wd",
        "2025-03-11T00:00:00+08:00",
        true,
    );
    // The hour does not matter: early Friday morning counts the same.
    assert_add(
        "2026-03-06T00:00:01+08:00",
        "1wd",
        "2026-03-10T00:00:00+08:00",
        true,
    );
}

#[test]
fn filed_on_a_holiday() {
    // 2026-09-25 is 中秋节 (Friday); day 1 is Monday 09-28.
    assert_add(
        "2026-09-25T10:00:00+08:00",
        "1wd",
        "2026-09-29T00:00:00+08:00",
        true,
    );
    // 09-28, 09-29, 09-30, then 国庆节 10-01..10-07, then 10-08, 10-09.
    assert_add(
        "2026-09-25T10:00:00+08:00",
        "5wd",
        "2026-10-10T00:00:00+08:00",
        true,
    );
}

#[test]
fn filed_on_a_make_up_saturday() {
    // 2026-10-10 is a working Saturday, but the event day never counts.
    assert_add(
        "2026-10-10T09:00:00+08:00",
        "1wd",
        "2026-10-13T00:00:00+08:00",
        true,
    );
}

#[test]
fn national_day_2026_example_from_rules() {
    // 10-08, 10-09, 10-10 (make-up Saturday), 10-12, 10-13.
    assert_add(
        "2026-09-30T18:00:00+08:00",
        "5wd",
        "2026-10-14T00:00:00+08:00",
        true,
    );
    let got = add(at("2026-09-30T18:00:00+08:00"), dur("5wd"), &cn(), SH);
    assert_eq!(got.at, at("2026-10-13T16:00:00Z"));
}

#[test]
fn spring_festival_2026() {
    // Filed Friday 02-13; 02-14 is a make-up Saturday, 02-15..02-23 off, 02-28 make-up.
    let filed = "2026-02-13T17:00:00+08:00";
    assert_add(filed, "1wd", "2026-02-15T00:00:00+08:00", true);
    assert_add(filed, "2wd", "2026-02-25T00:00:00+08:00", true);
    assert_add(filed, "5wd", "2026-02-28T00:00:00+08:00", true);
    assert_add(filed, "6wd", "2026-03-01T00:00:00+08:00", true);
    assert_add(filed, "7wd", "2026-03-03T00:00:00+08:00", true);
}

#[test]
fn spring_festival_2025() {
    // 01-26 (Sunday) and 02-08 (Saturday) are make-up days; 01-28..02-04 off.
    let filed = "2025-01-24T15:00:00+08:00";
    assert_add(filed, "1wd", "2025-01-27T00:00:00+08:00", true);
    assert_add(filed, "2wd", "2025-01-28T00:00:00+08:00", true);
    assert_add(filed, "3wd", "2025-02-06T00:00:00+08:00", true);
    assert_add(filed, "6wd", "2025-02-09T00:00:00+08:00", true);
    assert_add(filed, "7wd", "2025-02-11T00:00:00+08:00", true);
}

#[test]
fn national_day_2025() {
    // 09-28 (Sunday) and 10-11 (Saturday) are make-up days; 10-01..10-08 off.
    let filed = "2025-09-26T10:00:00+08:00";
    assert_add(filed, "1wd", "2025-09-29T00:00:00+08:00", true);
    assert_add(filed, "3wd", "2025-10-01T00:00:00+08:00", true);
    assert_add(filed, "4wd", "2025-10-10T00:00:00+08:00", true);
    assert_add(filed, "6wd", "2025-10-12T00:00:00+08:00", true);
    assert_add(filed, "7wd", "2025-10-14T00:00:00+08:00", true);
}

#[test]
fn midnight_belongs_to_the_day_it_ends() {
    // 24:00 on Tuesday 2026-03-03 is the end of Tuesday: day 1 is Wednesday.
    assert_add(
        "2026-03-04T00:00:00+08:00",
        "1wd",
        "2026-03-05T00:00:00+08:00",
        true,
    );
    // One nanosecond later it is Wednesday: day 1 is Thursday.
    let wed = at("2026-03-04T00:00:00+08:00") + TimeDelta::nanoseconds(1);
    assert_eq!(
        add(wed, dur("1wd"), &cn(), SH).at,
        at("2026-03-06T00:00:00+08:00")
    );
    assert_eq!(
        event_day(at("2026-03-04T00:00:00+08:00"), SH),
        date("2026-03-03")
    );
    assert_eq!(event_day(wed, SH), date("2026-03-04"));
    assert_eq!(
        end_of_day(date("2026-03-03"), SH),
        at("2026-03-04T00:00:00+08:00")
    );
    // Chained deadlines: expiry + 5wd == 5wd counted from the expiry's last day.
    let expiry = add(at("2026-03-02T10:00:00+08:00"), dur("3wd"), &cn(), SH).at;
    assert_eq!(
        add(expiry, dur("5wd"), &cn(), SH),
        add(at("2026-03-02T10:00:00+08:00"), dur("8wd"), &cn(), SH)
    );
}

#[test]
fn months_clamp_to_the_last_day() {
    // 2026-02-28 is a make-up Saturday, so it stays the last day.
    assert_add(
        "2026-01-31T12:00:00+08:00",
        "1mo",
        "2026-03-01T00:00:00+08:00",
        true,
    );
    // Leap year.
    assert_add(
        "2024-01-31T12:00:00+08:00",
        "1mo",
        "2024-03-01T00:00:00+08:00",
        true,
    );
    // Only the last day is consulted: 2023 needs no data.
    assert_add(
        "2023-12-31T12:00:00+08:00",
        "2mo",
        "2024-03-01T00:00:00+08:00",
        true,
    );
    // SH 22: development resources ≤ 3 mo.
    assert_add(
        "2026-03-16T09:00:00+08:00",
        "3mo",
        "2026-06-17T00:00:00+08:00",
        true,
    );
    // Landing on 国庆节 moves to the first working day after it.
    assert_add(
        "2026-09-01T10:00:00+08:00",
        "1mo",
        "2026-10-09T00:00:00+08:00",
        true,
    );
    // Landing on a Sunday moves to Monday.
    assert_add(
        "2026-02-08T10:00:00+08:00",
        "1mo",
        "2026-03-10T00:00:00+08:00",
        true,
    );
}

#[test]
fn days_move_off_holidays_and_weekends() {
    // 09-25 is 中秋节 (Friday), then a weekend: ends Monday 09-28.
    assert_add(
        "2026-09-20T10:00:00+08:00",
        "5d",
        "2026-09-29T00:00:00+08:00",
        true,
    );
    // 2025-10-01 falls in 10-01..10-08: ends 10-09.
    assert_add(
        "2025-09-26T10:00:00+08:00",
        "5d",
        "2025-10-10T00:00:00+08:00",
        true,
    );
    // An ordinary Saturday moves to Monday.
    assert_add(
        "2026-03-02T10:00:00+08:00",
        "5d",
        "2026-03-10T00:00:00+08:00",
        true,
    );
    // A make-up Saturday is a working day and stays.
    assert_add(
        "2026-10-05T10:00:00+08:00",
        "5d",
        "2026-10-11T00:00:00+08:00",
        true,
    );
    // GY 7: 30-day test period.
    assert_add(
        "2026-03-02T10:00:00+08:00",
        "30d",
        "2026-04-02T00:00:00+08:00",
        true,
    );
}

#[test]
fn year_without_data_is_flagged() {
    // 12-29, 12-30, 12-31, 2027-01-01 (no data: a Friday counts), 01-04.
    assert_add(
        "2026-12-28T10:00:00+08:00",
        "5wd",
        "2027-01-05T00:00:00+08:00",
        false,
    );
    assert_add(
        "2026-12-20T10:00:00+08:00",
        "30d",
        "2027-01-20T00:00:00+08:00",
        false,
    );
    assert_add(
        "2026-12-01T10:00:00+08:00",
        "1mo",
        // Without 2027 data, 2027-01-01 is an ordinary Friday.
        "2027-01-02T00:00:00+08:00",
        false,
    );
    // Entirely inside 2026: complete.
    assert_add(
        "2026-12-21T10:00:00+08:00",
        "5wd",
        "2026-12-29T00:00:00+08:00",
        true,
    );
    // Exact durations never need the calendar.
    assert_add(
        "2026-12-31T10:00:00+08:00",
        "2h",
        "2026-12-31T12:00:00+08:00",
        true,
    );
}

#[test]
fn work_calendar_for_2027_completes_the_calendar() {
    let mut cal = cn();
    cal.set_year(
        2027,
        vec![CalendarDay {
            name: "元旦".into(),
            date: date("2027-01-01"),
            is_off_day: true,
        }],
    );
    let got = add(at("2026-12-28T10:00:00+08:00"), dur("5wd"), &cal, SH);
    // 12-29, 12-30, 12-31, 01-04, 01-05.
    assert_eq!(
        got,
        Deadline {
            at: at("2027-01-06T00:00:00+08:00"),
            calendar_complete: true
        }
    );
    // The embedded calendar itself is unchanged.
    assert!(!add(at("2026-12-28T10:00:00+08:00"), dur("5wd"), &cn(), SH).calendar_complete);
}

#[test]
fn sub_examples() {
    // The 2026 National Day example backwards: the period must start by 00:00 of its
    // first counted day, 10-08 (i.e. the event may happen any time up to 24:00 10-07).
    assert_sub(
        "2026-10-14T00:00:00+08:00",
        "5wd",
        "2026-10-08T00:00:00+08:00",
        true,
    );
    // warnBefore 10wd of an expiry at 24:00 Friday 2026-10-30: 10-19..10-23, 10-26..10-30.
    assert_sub(
        "2026-10-31T00:00:00+08:00",
        "10wd",
        "2026-10-19T00:00:00+08:00",
        true,
    );
    // 10wd across National Day: 10-15..10-12, 10-10, 10-09, 10-08, 09-30, 09-29, 09-28.
    assert_sub(
        "2026-10-16T00:00:00+08:00",
        "10wd",
        "2026-09-28T00:00:00+08:00",
        true,
    );
    // SH 23: extension requested ≥ 15 wd before an expiry at 24:00 2026-03-31 (Tue).
    // 03-31..03-11 hold 15 working days (03-14/15, 03-21/22, 03-28/29 are weekends).
    assert_sub(
        "2026-04-01T00:00:00+08:00",
        "15wd",
        "2026-03-11T00:00:00+08:00",
        true,
    );
    // An expiry in the middle of a day: that day is not over, so it does not count.
    assert_sub(
        "2026-10-14T15:00:00+08:00",
        "5wd",
        "2026-10-08T00:00:00+08:00",
        true,
    );
    // Natural days: the last day must be a working day on or before 10-08.
    assert_sub(
        "2026-10-09T00:00:00+08:00",
        "5d",
        "2026-10-04T00:00:00+08:00",
        true,
    );
    // Months: 01-29..01-31 all end on 02-28; the latest start is the end of 01-31.
    assert_sub(
        "2026-03-01T00:00:00+08:00",
        "1mo",
        "2026-02-01T00:00:00+08:00",
        true,
    );
    assert_sub(
        "2026-03-31T00:00:00+08:00",
        "1mo",
        "2026-03-01T00:00:00+08:00",
        true,
    );
    // Into a year without data.
    assert_sub(
        "2027-01-06T00:00:00+08:00",
        "5wd",
        "2026-12-30T00:00:00+08:00",
        false,
    );
    // Exact and zero durations.
    assert_eq!(
        sub(at("2026-10-14T00:00:00+08:00"), dur("90s"), &cn(), SH),
        Deadline::exact(at("2026-10-13T23:58:30+08:00"))
    );
    for zero in ["0wd", "0d", "0mo", "0s"] {
        let t = at("2026-10-14T09:30:00+08:00");
        assert_eq!(sub(t, dur(zero), &cn(), SH), Deadline::exact(t));
        assert_eq!(add(t, dur(zero), &cn(), SH), Deadline::exact(t));
    }
}

#[test]
fn working_day_helpers() {
    let cal = cn();
    assert_eq!(
        next_working_day(&cal, date("2026-09-24")),
        date("2026-09-28")
    );
    assert_eq!(
        next_working_day(&cal, date("2026-09-30")),
        date("2026-10-08")
    );
    assert_eq!(
        next_working_day(&cal, date("2026-10-09")),
        date("2026-10-10")
    );
    assert_eq!(
        next_working_day(&cal, date("2026-02-13")),
        date("2026-02-14")
    );
    assert_eq!(next_working_day(&cal, NaiveDate::MAX), NaiveDate::MAX);
    // (09-30, 10-14]: 10-08, 10-09, 10-10, 10-12, 10-13, 10-14.
    assert_eq!(
        working_days_between(&cal, date("2026-09-30"), date("2026-10-14")),
        6
    );
    assert_eq!(
        working_days_between(&cal, date("2026-10-14"), date("2026-09-30")),
        -6
    );
    assert_eq!(
        working_days_between(&cal, date("2026-10-01"), date("2026-10-07")),
        0
    );
    assert_eq!(
        working_days_between(&cal, date("2026-10-01"), date("2026-10-01")),
        0
    );
    // 2026 has 365 − 104 weekend days − 19 weekday holidays + 6 make-up days = 248.
    assert_eq!(
        working_days_between(&cal, date("2025-12-31"), date("2026-12-31")),
        248
    );
    assert_eq!(
        working_days_between(&cal, NaiveDate::MIN, NaiveDate::MAX),
        -working_days_between(&cal, NaiveDate::MAX, NaiveDate::MIN)
    );
}
