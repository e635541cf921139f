//! `kubectl govcloud calendar`: working-day arithmetic on the same calendar and with the
//! same rules the operator uses ([`govcloud_core::policy::deadline`]), for people checking a
//! deadline by hand.
//!
//! - `between FROM TO`: the working days in (FROM, TO] — FROM excluded, TO included, as
//!   a period that starts with an event on FROM counts them.
//! - `add DATE N`: the deadline of N working days (or `30d`, `3mo`) for an event on DATE:
//!   its last day and the instant it ends (24:00 of that day in the zone).
//!
//! Both say when a year they relied on has no calendar data (`CalendarIncomplete`). On a
//! calendar [`Calendar::with_provisional`] (as `kubectl govcloud calendar` builds it) such
//! a year is counted on its provisional calendar — the statutory holidays fixed by law and
//! their 补假, without the notice's make-up working days — and the answer says
//! "provisional"; outside the provisional range only weekends are days off there.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::{Value, json};

use super::format::local_time;
use govcloud_core::policy::calendar::Calendar;
use govcloud_core::policy::deadline::{self, working_days_between};
use govcloud_core::policy::duration::PolicyDuration;

/// Longest period whose working days `add` lists one by one.
const LIST_LIMIT: u32 = 31;

/// The answer of `between`.
#[derive(Debug, Clone, PartialEq)]
pub struct Between {
    /// FROM (excluded).
    pub from: NaiveDate,
    /// TO (included).
    pub to: NaiveDate,
    /// Working days in (from, to].
    pub working_days: i64,
    /// Years in the range without calendar data.
    pub missing_years: Vec<i32>,
    /// Those of them counted on their provisional calendar.
    pub provisional_years: Vec<i32>,
}

/// The answer of `add`.
#[derive(Debug, Clone, PartialEq)]
pub struct Added {
    /// The event's date.
    pub from: NaiveDate,
    /// The period.
    pub duration: PolicyDuration,
    /// The period's last day.
    pub last_day: NaiveDate,
    /// The instant the period ends (24:00 of `last_day` in `zone`).
    pub deadline: DateTime<Utc>,
    /// The zone counted in.
    pub zone: Tz,
    /// For working days (at most [`LIST_LIMIT`]): each counted day with its listing
    /// (`国庆节` on a make-up working day).
    pub days: Vec<(NaiveDate, Option<String>)>,
    /// Years consulted without calendar data.
    pub missing_years: Vec<i32>,
    /// Those of them counted on their provisional calendar.
    pub provisional_years: Vec<i32>,
}

fn missing(cal: &Calendar, first: i32, last: i32) -> Vec<i32> {
    (first..=last).filter(|y| !cal.covers(*y)).collect()
}

fn provisional(cal: &Calendar, missing_years: &[i32]) -> Vec<i32> {
    missing_years
        .iter()
        .copied()
        .filter(|y| cal.is_provisional(*y))
        .collect()
}

/// Parses the N of `add`: a bare number of working days, or a policy duration in days
/// (`5wd`, `30d`, `3mo`).
pub fn parse_period(text: &str) -> Result<PolicyDuration, String> {
    if let Ok(n) = text.parse::<u32>() {
        return Ok(PolicyDuration::WorkingDays(n));
    }
    match text.parse::<PolicyDuration>() {
        Ok(PolicyDuration::Seconds(_)) => Err(format!(
            "{text:?}: the calendar counts days; use N (working days), Nwd, Nd or Nmo"
        )),
        Ok(d) => Ok(d),
        Err(e) => Err(e.to_string()),
    }
}

/// Parses a `YYYY-MM-DD` date.
pub fn parse_date(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("{text:?} is not a date (YYYY-MM-DD)"))
}

/// Working days in (from, to]. `to` must not be before `from`.
pub fn between(cal: &Calendar, from: NaiveDate, to: NaiveDate) -> Result<Between, String> {
    if to < from {
        return Err(format!(
            "{to} is before {from}: give the earlier date first"
        ));
    }
    let missing_years = missing(cal, from.year(), to.year());
    Ok(Between {
        from,
        to,
        working_days: working_days_between(cal, from, to),
        provisional_years: provisional(cal, &missing_years),
        missing_years,
    })
}

/// The deadline of `duration` for an event on `from` (at noon local: the hour does not
/// matter, the event day is never counted).
pub fn add(cal: &Calendar, from: NaiveDate, duration: PolicyDuration, zone: Tz) -> Added {
    let noon = from.and_hms_opt(12, 0, 0).unwrap_or_default();
    let event = zone
        .from_local_datetime(&noon)
        .earliest()
        .map_or_else(|| noon.and_utc(), |t| t.with_timezone(&Utc));
    let d = deadline::add(event, duration, cal, zone);
    let last_day = deadline::event_day(d.at, zone);
    let mut days = Vec::new();
    if let PolicyDuration::WorkingDays(n) = duration
        && n <= LIST_LIMIT
    {
        days = from
            .iter_days()
            .skip(1)
            .take_while(|day| *day <= last_day)
            .filter(|day| cal.is_working_day(*day))
            .map(|day| (day, cal.listed_day(day).map(|l| l.name.clone())))
            .collect();
    }
    let mut missing_years = missing(cal, from.year(), last_day.year());
    if !d.calendar_complete && missing_years.is_empty() {
        missing_years = missing(cal, from.year(), last_day.year().saturating_add(1));
    }
    Added {
        from,
        duration,
        last_day,
        deadline: d.at,
        zone,
        days,
        provisional_years: provisional(cal, &missing_years),
        missing_years,
    }
}

fn year_list(years: &[i32]) -> String {
    years
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn incomplete_note(missing_years: &[i32], provisional_years: &[i32]) -> Option<String> {
    if missing_years.is_empty() {
        return None;
    }
    let weekends_only: Vec<i32> = missing_years
        .iter()
        .copied()
        .filter(|y| !provisional_years.contains(y))
        .collect();
    let mut notes = Vec::new();
    if !provisional_years.is_empty() {
        notes.push(format!(
            "CalendarIncomplete: no State Council notice loaded for {}; counted on the provisional calendar there (the statutory holidays fixed by law and their 补假, no make-up working days; see `kubectl govcloud calendar show YEAR`, load the notice with `kubectl govcloud calendar import FILE`)",
            year_list(provisional_years)
        ));
    }
    if !weekends_only.is_empty() {
        notes.push(format!(
            "CalendarIncomplete: no calendar data for {}; only weekends were taken as days off there (add a WorkCalendar with that year)",
            year_list(&weekends_only)
        ));
    }
    Some(notes.join("\n"))
}

/// `between` for people.
pub fn render_between(b: &Between, calendar: &str) -> String {
    let mut out = format!(
        "{} working day{} in ({}, {}] (calendar {calendar})\n",
        b.working_days,
        if b.working_days == 1 { "" } else { "s" },
        b.from,
        b.to
    );
    if let Some(note) = incomplete_note(&b.missing_years, &b.provisional_years) {
        out.push_str(&note);
        out.push('\n');
    }
    out
}

/// `between` as JSON.
pub fn between_json(b: &Between, calendar: &str) -> Value {
    json!({
        "from": b.from.to_string(),
        "to": b.to.to_string(),
        "workingDays": b.working_days,
        "calendar": calendar,
        "calendarComplete": b.missing_years.is_empty(),
        "missingYears": b.missing_years,
        "provisionalYears": b.provisional_years,
    })
}

/// `add` for people.
pub fn render_add(a: &Added, calendar: &str) -> String {
    let last = if matches!(a.duration, PolicyDuration::WorkingDays(_)) {
        "last working day"
    } else {
        "last day"
    };
    let mut out = format!(
        "{} + {} (calendar {calendar}, {})\n{last}: {} ({})\ndeadline: {}\n",
        a.from,
        a.duration,
        a.zone.name(),
        a.last_day,
        a.last_day.format("%a"),
        local_time(a.deadline, a.zone),
    );
    for (i, (day, listing)) in a.days.iter().enumerate() {
        out.push_str(&format!("  {:>2}  {} {}", i + 1, day, day.format("%a")));
        if let Some(name) = listing {
            out.push_str(&format!("  make-up working day ({name})"));
        }
        out.push('\n');
    }
    if let Some(note) = incomplete_note(&a.missing_years, &a.provisional_years) {
        out.push_str(&note);
        out.push('\n');
    }
    out
}

/// `add` as JSON.
pub fn add_json(a: &Added, calendar: &str) -> Value {
    json!({
        "from": a.from.to_string(),
        "duration": a.duration.to_string(),
        "lastDay": a.last_day.to_string(),
        "deadline": a.deadline.with_timezone(&a.zone).to_rfc3339(),
        "timeZone": a.zone.name(),
        "calendar": calendar,
        "calendarComplete": a.missing_years.is_empty(),
        "missingYears": a.missing_years,
        "provisionalYears": a.provisional_years,
        "workingDays": a.days.iter().map(|(d, _)| d.to_string()).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::DEFAULT_ZONE;

    fn date(s: &str) -> NaiveDate {
        parse_date(s).unwrap()
    }

    #[test]
    fn between_counts_working_days_excluding_the_first_date() {
        let cal = Calendar::cn_statutory();
        // 09-28, 09-29, 09-30, 10-08, 10-09, 10-10 (make-up Saturday), 10-12, 10-13, 10-14.
        let b = between(&cal, date("2026-09-25"), date("2026-10-14")).unwrap();
        assert_eq!(b.working_days, 9);
        assert!(b.missing_years.is_empty());
        assert_eq!(
            render_between(&b, "cn-statutory"),
            "9 working days in (2026-09-25, 2026-10-14] (calendar cn-statutory)\n"
        );
        let same = between(&cal, date("2026-10-10"), date("2026-10-10")).unwrap();
        assert_eq!(same.working_days, 0);
        assert!(between(&cal, date("2026-10-14"), date("2026-09-25")).is_err());
        let json = between_json(&b, "cn-statutory");
        assert_eq!(json["workingDays"], 9);
        assert_eq!(json["calendarComplete"], true);
    }

    #[test]
    fn between_flags_years_without_data() {
        let cal = Calendar::cn_statutory();
        let b = between(&cal, date("2026-12-30"), date("2027-01-05")).unwrap();
        assert_eq!(b.missing_years, [2027]);
        // 12-31, then 2027 counted Monday–Friday: 01-01, 01-04, 01-05.
        assert_eq!(b.working_days, 4);
        let text = render_between(&b, "cn-statutory");
        assert!(
            text.contains("CalendarIncomplete: no calendar data for 2027"),
            "{text}"
        );
    }

    #[test]
    fn add_follows_the_civil_code_rule() {
        let cal = Calendar::cn_statutory();
        let a = add(
            &cal,
            date("2026-09-30"),
            PolicyDuration::WorkingDays(5),
            DEFAULT_ZONE,
        );
        assert_eq!(a.last_day, date("2026-10-13"));
        assert_eq!(a.deadline.to_rfc3339(), "2026-10-13T16:00:00+00:00");
        assert_eq!(
            render_add(&a, "cn-statutory"),
            "2026-09-30 + 5wd (calendar cn-statutory, Asia/Shanghai)\n\
             last working day: 2026-10-13 (Tue)\n\
             deadline: 2026-10-14 00:00 +08:00\n\
             \x20  1  2026-10-08 Thu\n\
             \x20  2  2026-10-09 Fri\n\
             \x20  3  2026-10-10 Sat  make-up working day (国庆节)\n\
             \x20  4  2026-10-12 Mon\n\
             \x20  5  2026-10-13 Tue\n"
        );
        let json = add_json(&a, "cn-statutory");
        assert_eq!(json["deadline"], "2026-10-14T00:00:00+08:00");
        assert_eq!(json["lastDay"], "2026-10-13");
        assert_eq!(json["workingDays"].as_array().unwrap().len(), 5);
    }

    #[test]
    fn add_natural_days_months_and_gaps() {
        let cal = Calendar::cn_statutory();
        // 30 d from 2026-09-01 is 10-01, a holiday: the period moves to 10-08.
        let a = add(
            &cal,
            date("2026-09-01"),
            parse_period("30d").unwrap(),
            DEFAULT_ZONE,
        );
        assert_eq!(a.last_day, date("2026-10-08"));
        assert!(a.days.is_empty());
        assert!(render_add(&a, "cn-statutory").contains("last day: 2026-10-08 (Thu)"));
        // Into 2027: flagged.
        let a = add(
            &cal,
            date("2026-12-28"),
            parse_period("5").unwrap(),
            DEFAULT_ZONE,
        );
        assert_eq!(a.last_day, date("2027-01-04"));
        assert_eq!(a.missing_years, [2027]);
        assert!(render_add(&a, "cn-statutory").contains("CalendarIncomplete"));
        // A WorkCalendar for 2027 fills the gap.
        let mut with_2027 = cal.clone();
        with_2027.set_year(2027, vec![]);
        let a = add(
            &with_2027,
            date("2026-12-28"),
            PolicyDuration::WorkingDays(5),
            DEFAULT_ZONE,
        );
        assert!(a.missing_years.is_empty());
    }

    #[test]
    fn years_without_data_count_on_the_provisional_calendar() {
        let cal = Calendar::cn_statutory().with_provisional();
        // 12-31, then 2027-01-01 is 元旦 by law: 01-04, 01-05. (Weekends only gives 4:
        // `between_flags_years_without_data`.)
        let b = between(&cal, date("2026-12-30"), date("2027-01-05")).unwrap();
        assert_eq!(b.working_days, 3);
        assert_eq!(b.missing_years, [2027]);
        assert_eq!(b.provisional_years, [2027]);
        let text = render_between(&b, "cn-statutory");
        assert!(
            text.contains(
                "no State Council notice loaded for 2027; counted on the provisional calendar"
            ),
            "{text}"
        );
        assert!(!text.contains("only weekends"), "{text}");
        assert_eq!(
            between_json(&b, "cn-statutory")["provisionalYears"],
            json!([2027])
        );
        // 5 wd from 2026-12-28: 12-29, 12-30, 12-31, (01-01 off) 01-04, 01-05.
        let a = add(
            &cal,
            date("2026-12-28"),
            PolicyDuration::WorkingDays(5),
            DEFAULT_ZONE,
        );
        assert_eq!(a.last_day, date("2027-01-05"));
        assert_eq!(a.provisional_years, [2027]);
        assert!(render_add(&a, "cn-statutory").contains("provisional calendar"));
        assert_eq!(
            add_json(&a, "cn-statutory")["provisionalYears"],
            json!([2027])
        );
        // Outside the provisional range the weekends note stays.
        let far = between(&cal, date("2101-01-01"), date("2101-01-10")).unwrap();
        assert!(far.provisional_years.is_empty());
        assert!(render_between(&far, "cn-statutory").contains("only weekends"));
    }

    #[test]
    fn periods_and_dates_parse() {
        assert_eq!(parse_period("5"), Ok(PolicyDuration::WorkingDays(5)));
        assert_eq!(parse_period("5wd"), Ok(PolicyDuration::WorkingDays(5)));
        assert_eq!(parse_period("3mo"), Ok(PolicyDuration::Months(3)));
        assert!(parse_period("90s").unwrap_err().contains("counts days"));
        assert!(parse_period("five").is_err());
        assert!(parse_date("2026-02-30").is_err());
    }
}
