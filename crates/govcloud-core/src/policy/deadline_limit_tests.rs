//! Deadline arithmetic at its limits (huge counts, calendars with no working day, skipped
//! and repeated midnights) and its properties over generated instants.

use super::tests::{SH, at, cn, date, dur};
use super::*;
use crate::policy::calendar::CalendarDay;
use chrono_tz::{America, Europe};
use proptest::prelude::*;

#[test]
fn huge_counts_and_limits_do_not_panic_or_hang() {
    let cal = cn();
    let t = at("2026-09-30T18:00:00+08:00");
    for d in [
        PolicyDuration::WorkingDays(10_000),
        PolicyDuration::Days(10_000),
        PolicyDuration::Months(10_000),
    ] {
        let fwd = add(t, d, &cal, SH);
        assert!(fwd.at > t && !fwd.calendar_complete, "{d}");
        // Backwards, natural days and months only consult the (covered) last day.
        let back = sub(t, d, &cal, SH);
        assert!(back.at < t, "{d}");
        assert!(add(back.at, d, &cal, SH).at <= t);
    }
    for d in [
        PolicyDuration::WorkingDays(u32::MAX),
        PolicyDuration::Days(u32::MAX),
        PolicyDuration::Months(u32::MAX),
        PolicyDuration::Seconds(u64::MAX),
    ] {
        assert_eq!(add(t, d, &cal, SH), Deadline::LATEST, "{d}");
        assert_eq!(sub(t, d, &cal, SH), Deadline::EARLIEST, "{d}");
    }
    for edge in [DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC] {
        for d in ["1wd", "1d", "1mo", "1s", "0wd"] {
            for tz in [
                SH,
                America::Santiago,
                Tz::Pacific__Kiritimati,
                Tz::Etc__GMTPlus12,
            ] {
                let _ = add(edge, dur(d), &cal, tz);
                let _ = sub(edge, dur(d), &cal, tz);
                let _ = event_day(edge, tz);
            }
        }
    }
    let _ = end_of_day(NaiveDate::MAX, SH);
    let _ = end_of_day(NaiveDate::MIN, Tz::Etc__GMTMinus14);
}

#[test]
fn a_calendar_with_every_day_off_cannot_hang() {
    let mut cal = cn();
    for year in 2027..=2036 {
        let days = date(&format!("{year}-01-01"))
            .iter_days()
            .take_while(|d| d.year() == year)
            .map(|date| CalendarDay {
                name: "停工".into(),
                date,
                is_off_day: true,
            })
            .collect();
        cal.set_year(year, days);
    }
    // The first working day is Thursday 2037-01-01 (a year without data: flagged).
    let got = add(at("2026-12-31T10:00:00+08:00"), dur("1wd"), &cal, SH);
    assert_eq!(got.at, at("2037-01-02T00:00:00+08:00"));
    assert!(!got.calendar_complete);
    assert_eq!(
        next_working_day(&cal, date("2027-05-05")),
        date("2037-01-01")
    );
    let back = sub(at("2036-06-01T00:00:00+08:00"), dur("1wd"), &cal, SH);
    // Backwards every consulted year (2026–2036) is covered.
    assert_eq!(back.at, at("2026-12-31T00:00:00+08:00"));
    assert!(back.calendar_complete);
}

#[test]
fn skipped_and_repeated_midnights() {
    // America/Santiago moved its clocks from 00:00 to 01:00 on 2022-09-11 and back
    // from 00:00 to 23:00 on 2022-04-03 (at 24:00 of 04-02).
    let tz = America::Santiago;
    let end = end_of_day(date("2022-09-10"), tz);
    assert_eq!(end, at("2022-09-11T01:00:00-03:00"));
    assert_eq!(event_day(end, tz), date("2022-09-10"));
    for d in date("2022-01-01").iter_days().take(800) {
        for tz in [America::Santiago, Europe::Berlin, Tz::America__Havana, SH] {
            let end = end_of_day(d, tz);
            let after = local_time(end, tz).unwrap();
            let before = local_time(end - TimeDelta::seconds(1), tz).unwrap();
            assert!(after.date() > d, "{tz} {d}: {after}");
            assert!(before.date() <= d, "{tz} {d}: {before}");
            assert_eq!(event_day(end, tz), before.date());
        }
    }
}

// ---- properties -------------------------------------------------------------------

/// Instants from mid-2023 to mid-2027 (covering years with and without data), half of
/// them exactly at a Shanghai midnight.
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    let from = at("2023-06-01T00:00:00Z").timestamp();
    let to = at("2027-06-30T00:00:00Z").timestamp();
    prop_oneof![
        (from..to).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap()),
        (from / 86_400..to / 86_400).prop_map(|d| DateTime::from_timestamp(
            d * 86_400 - 8 * 3600,
            0
        )
        .unwrap()),
    ]
}

fn counted() -> impl Strategy<Value = PolicyDuration> {
    prop_oneof![
        (0u32..80).prop_map(PolicyDuration::WorkingDays),
        (0u32..120).prop_map(PolicyDuration::Days),
        (0u32..14).prop_map(PolicyDuration::Months),
    ]
}

proptest! {
    #[test]
    fn working_days_are_monotonic(t1 in instant(), t2 in instant(), a in 0u32..60, b in 0u32..60) {
        let cal = cn();
        let (t1, t2) = (t1.min(t2), t1.max(t2));
        let (a, b) = (a.min(b), a.max(b));
        let wd = PolicyDuration::WorkingDays;
        prop_assert!(add(t1, wd(a), &cal, SH).at <= add(t2, wd(a), &cal, SH).at);
        prop_assert!(add(t1, wd(a), &cal, SH).at <= add(t1, wd(b), &cal, SH).at);
    }

    #[test]
    fn the_last_counted_day_is_a_working_day(t in instant(), n in 1u32..60) {
        let cal = cn();
        let got = add(t, PolicyDuration::WorkingDays(n), &cal, SH).at;
        let last = local_time(got - TimeDelta::seconds(1), SH).unwrap().date();
        prop_assert!(cal.is_working_day(last));
        prop_assert_eq!(working_days_between(&cal, event_day(t, SH), last), i64::from(n));
    }

    #[test]
    fn days_and_months_end_on_a_working_day(t in instant(), d in counted()) {
        let cal = cn();
        let got = add(t, d, &cal, SH).at;
        prop_assert!(got >= t);
        if !d.is_zero() {
            let last = local_time(got - TimeDelta::seconds(1), SH).unwrap().date();
            prop_assert!(cal.is_working_day(last));
        }
    }

    #[test]
    fn working_days_compose(t in instant(), a in 0u32..40, b in 0u32..40) {
        let cal = cn();
        let wd = PolicyDuration::WorkingDays;
        let stepwise = add(add(t, wd(a), &cal, SH).at, wd(b), &cal, SH).at;
        prop_assert_eq!(stepwise, add(t, wd(a + b), &cal, SH).at);
    }

    #[test]
    fn sub_is_the_galois_adjoint_of_add(t in instant(), r in instant(), d in counted()) {
        let cal = cn();
        let s = sub(t, d, &cal, SH).at;
        prop_assert!(add(s, d, &cal, SH).at <= t);
        // Latest: anything later ends too late (unless d is zero, where s == t).
        if !d.is_zero() {
            prop_assert!(add(s + TimeDelta::nanoseconds(1), d, &cal, SH).at > t);
        }
        // r <= sub(t) ⟺ add(r) <= t, for any instant r.
        prop_assert_eq!(r <= s, add(r, d, &cal, SH).at <= t);
    }

    #[test]
    fn sub_is_safe_in_zones_with_dst(t in instant(), d in counted(), zone in 0usize..4) {
        let tz = [America::Santiago, Europe::Berlin, Tz::America__Havana, Tz::Pacific__Apia][zone];
        let cal = cn();
        prop_assert!(add(sub(t, d, &cal, tz).at, d, &cal, tz).at <= t);
    }

    #[test]
    fn anything_goes_without_panic(
        secs in any::<i64>(),
        n in any::<u32>(),
        kind in 0u8..4,
        zone in 0usize..3,
    ) {
        let tz = [SH, America::Santiago, Tz::Pacific__Kiritimati][zone];
        let t = DateTime::from_timestamp(secs % 8_000_000_000_000, 0).unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
        let d = match kind {
            0 => PolicyDuration::WorkingDays(n),
            1 => PolicyDuration::Days(n),
            2 => PolicyDuration::Months(n),
            _ => PolicyDuration::Seconds(u64::from(n) * 1000),
        };
        let cal = cn();
        let _ = add(t, d, &cal, tz);
        let _ = sub(t, d, &cal, tz);
    }
}
