//! `kubectl govcloud calendar show YEAR`: the year's days off and make-up working days on
//! the calendar the operator counts on, each with where it comes from — a WorkCalendar,
//! the embedded State Council data, or the provisional calendar of the law alone
//! ([`govcloud_core::policy::provisional`]) for a year whose notice is not loaded. Pure.

use chrono::{Datelike, NaiveDate};
use kube::ResourceExt;
use serde_json::{Value, json};

use super::format::table;
use govcloud_core::api::WorkCalendar;
use govcloud_core::policy::calendar::{Calendar, CalendarDay};
use govcloud_core::policy::provisional::{FIRST_YEAR, LAST_YEAR};
use govcloud_core::policy::rules::CN_STATUTORY;

/// The SOURCE of a provisional day.
pub const PROVISIONAL: &str = "provisional (law; no State Council notice loaded)";

/// Where a year's list comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum YearSource {
    /// A WorkCalendar's year.
    WorkCalendar(String),
    /// The embedded cn-statutory data.
    Embedded,
    /// No list: the provisional calendar (statutory holidays and 补假 by law).
    Provisional,
    /// No list and no provisional calendar (outside 1901–2100): weekends only.
    None,
}

impl YearSource {
    fn label(&self) -> String {
        match self {
            YearSource::WorkCalendar(name) => format!("published (WorkCalendar {name})"),
            YearSource::Embedded => "embedded".to_string(),
            YearSource::Provisional => PROVISIONAL.to_string(),
            YearSource::None => "none".to_string(),
        }
    }
}

/// One listed day of the year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownDay {
    /// The date.
    pub date: NaiveDate,
    /// Off (`true`) or a make-up working day.
    pub is_off_day: bool,
    /// The holiday.
    pub name: String,
    /// The list it comes from.
    pub source: YearSource,
}

/// The answer of `show`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    /// The year.
    pub year: i32,
    /// Where the year's own list comes from.
    pub source: YearSource,
    /// Its listed days, by date.
    pub days: Vec<ShownDay>,
}

/// Whether a WorkCalendar's year is exactly the list `cal` holds for it.
fn same_list(wc: &WorkCalendar, year: i32, days: &[CalendarDay]) -> bool {
    wc.spec.years.iter().any(|y| {
        y.year == year
            && y.days.len() == days.len()
            && y.days.iter().zip(days).all(|(a, b)| {
                a.date == b.date.format("%Y-%m-%d").to_string()
                    && a.name == b.name
                    && a.is_off_day == b.is_off_day
            })
    })
}

/// Where `cal` (composed by `compose_calendar` from `objects`, with the provisional
/// calendar) got `year`'s list: the last WorkCalendar in name order holding exactly that
/// list (the one composed last), else the embedded data.
pub fn year_source(cal: &Calendar, objects: &[WorkCalendar], year: i32) -> YearSource {
    let Some(days) = cal.year_days(year) else {
        return if cal.is_provisional(year) {
            YearSource::Provisional
        } else {
            YearSource::None
        };
    };
    let mut named: Vec<&WorkCalendar> = objects.iter().collect();
    named.sort_by_key(|wc| wc.name_any());
    named
        .iter()
        .rev()
        .find(|wc| same_list(wc, year, days))
        .map_or(YearSource::Embedded, |wc| {
            YearSource::WorkCalendar(wc.name_any())
        })
}

/// The listed days of `year` on `cal`, each with its source. A date listed by the
/// neighbouring year's file (holiday-cn puts some December dates in the next year's file)
/// shows that file's source.
pub fn show(cal: &Calendar, objects: &[WorkCalendar], year: i32) -> Shown {
    let mut days = Vec::new();
    let first = NaiveDate::from_ymd_opt(year, 1, 1);
    for date in first.into_iter().flat_map(|d| d.iter_days()) {
        if date.year() != year {
            break;
        }
        let Some(listed) = cal.listed_day(date) else {
            continue;
        };
        // The list the listing lives in: a supplied year's, else the provisional one.
        let from = [year, year.saturating_sub(1), year.saturating_add(1)]
            .into_iter()
            .find(|y| {
                cal.year_days(*y)
                    .is_some_and(|list| list.iter().any(|d| std::ptr::eq(d, listed)))
            });
        let source = match from {
            Some(y) => year_source(cal, objects, y),
            None => YearSource::Provisional,
        };
        days.push(ShownDay {
            date,
            is_off_day: listed.is_off_day,
            name: listed.name.clone(),
            source,
        });
    }
    Shown {
        year,
        source: year_source(cal, objects, year),
        days,
    }
}

/// The header line: where the year comes from and, when it is not published, how to load
/// it.
fn header(s: &Shown, calendar: &str) -> String {
    let load = if calendar == CN_STATUTORY {
        "kubectl govcloud calendar import FILE".to_string()
    } else {
        format!("kubectl govcloud calendar import FILE --name {calendar}")
    };
    match &s.source {
        YearSource::WorkCalendar(name) => format!(
            "{}: published (WorkCalendar {name}; calendar {calendar})",
            s.year
        ),
        YearSource::Embedded => format!(
            "{}: published (embedded State Council data; calendar {calendar})",
            s.year
        ),
        YearSource::Provisional => format!(
            "{}: PROVISIONAL (calendar {calendar}): no State Council notice loaded; the statutory holidays fixed by law and their 补假 only, no make-up working days. Load the notice with `{load}`.",
            s.year
        ),
        YearSource::None => format!(
            "{}: no data (calendar {calendar}): only weekends are days off; the provisional calendar covers {FIRST_YEAR}–{LAST_YEAR}. Load the year with `{load}`.",
            s.year
        ),
    }
}

/// `show` for people.
pub fn render(s: &Shown, calendar: &str) -> String {
    let mut out = header(s, calendar);
    out.push('\n');
    if s.days.is_empty() {
        out.push_str("No listed days.\n");
        return out;
    }
    let rows: Vec<Vec<String>> = s
        .days
        .iter()
        .map(|d| {
            vec![
                d.date.to_string(),
                d.date.format("%a").to_string(),
                if d.is_off_day { "off" } else { "working" }.to_string(),
                d.name.clone(),
                d.source.label(),
            ]
        })
        .collect();
    out.push_str(&table(&["DATE", "DAY", "KIND", "HOLIDAY", "SOURCE"], &rows));
    out
}

/// `show` as JSON.
pub fn to_json(s: &Shown, calendar: &str) -> Value {
    let status = match s.source {
        YearSource::WorkCalendar(_) | YearSource::Embedded => "published",
        YearSource::Provisional => "provisional",
        YearSource::None => "none",
    };
    json!({
        "year": s.year,
        "calendar": calendar,
        "status": status,
        "source": s.source.label(),
        "days": s.days.iter().map(|d| json!({
            "date": d.date.to_string(),
            "name": d.name,
            "isOffDay": d.is_off_day,
            "provisional": d.source == YearSource::Provisional,
            "source": d.source.label(),
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use govcloud_core::api::{CalendarYear, CalendarYearDay, WorkCalendarSpec};
    use govcloud_core::policy::calendars::compose_calendar;

    fn work_calendar(name: &str, year: i32, days: &[(&str, &str, bool)]) -> WorkCalendar {
        WorkCalendar::new(
            name,
            WorkCalendarSpec {
                years: vec![CalendarYear {
                    year,
                    days: days
                        .iter()
                        .map(|(date, name, off)| CalendarYearDay {
                            date: date.to_string(),
                            name: name.to_string(),
                            is_off_day: *off,
                        })
                        .collect(),
                }],
            },
        )
    }

    fn composed(objects: &[WorkCalendar]) -> Calendar {
        let (cal, skipped) = compose_calendar(CN_STATUTORY, objects).unwrap();
        assert!(skipped.is_empty(), "{skipped:?}");
        cal.with_provisional()
    }

    #[test]
    fn a_year_without_a_notice_is_shown_provisional() {
        let s = show(&composed(&[]), &[], 2027);
        assert_eq!(s.source, YearSource::Provisional);
        assert!(s.days.iter().all(|d| d.source == YearSource::Provisional));
        assert!(s.days.iter().all(|d| d.is_off_day));
        let text = render(&s, CN_STATUTORY);
        let mut lines = text.lines();
        assert_eq!(
            lines.next().unwrap(),
            "2027: PROVISIONAL (calendar cn-statutory): no State Council notice loaded; the statutory holidays fixed by law and their 补假 only, no make-up working days. Load the notice with `kubectl govcloud calendar import FILE`."
        );
        assert!(lines.next().unwrap().starts_with("DATE "));
        let first = lines.next().unwrap();
        assert!(
            first.starts_with("2027-01-01   Fri   off ") && first.ends_with(PROVISIONAL),
            "{first}"
        );
        let json = to_json(&s, CN_STATUTORY);
        assert_eq!(json["status"], "provisional");
        assert_eq!(json["days"][0]["provisional"], true);
        assert_eq!(json["days"][0]["date"], "2027-01-01");
    }

    #[test]
    fn published_years_name_their_source() {
        // Embedded 2026: 39 listed days, none provisional.
        let s = show(&composed(&[]), &[], 2026);
        assert_eq!(s.source, YearSource::Embedded);
        assert_eq!(s.days.len(), 39);
        assert!(s.days.iter().all(|d| d.source == YearSource::Embedded));
        assert!(render(&s, CN_STATUTORY).starts_with("2026: published (embedded"));
        assert!(
            s.days
                .iter()
                .any(|d| !d.is_off_day && d.date.to_string() == "2026-10-10")
        );

        // A WorkCalendar brings 2027; one for 2028 lists 2027-12-31 (as holiday-cn may).
        let objects = [
            work_calendar(
                "cn-2027",
                2027,
                &[("2027-01-01", "元旦", true), ("2027-02-20", "春节", false)],
            ),
            work_calendar("cn-2028", 2028, &[("2027-12-31", "元旦", true)]),
        ];
        let cal = composed(&objects);
        let s = show(&cal, &objects, 2027);
        assert_eq!(s.source, YearSource::WorkCalendar("cn-2027".into()));
        let sources: Vec<_> = s
            .days
            .iter()
            .map(|d| (d.date.to_string(), d.source.label()))
            .collect();
        assert_eq!(
            sources,
            [
                (
                    "2027-01-01".into(),
                    "published (WorkCalendar cn-2027)".into()
                ),
                (
                    "2027-02-20".into(),
                    "published (WorkCalendar cn-2027)".into()
                ),
                (
                    "2027-12-31".into(),
                    "published (WorkCalendar cn-2028)".into()
                ),
            ]
        );
        assert!(!render(&s, CN_STATUTORY).contains("provisional"));
        assert_eq!(to_json(&s, CN_STATUTORY)["status"], "published");
    }

    #[test]
    fn without_the_provisional_calendar_only_weekends_count() {
        // Negative control: the same year on a calendar without provisional lists.
        let (cal, _) = compose_calendar(CN_STATUTORY, &[]).unwrap();
        let s = show(&cal, &[], 2027);
        assert_eq!(s.source, YearSource::None);
        assert!(s.days.is_empty());
        assert!(render(&s, CN_STATUTORY).contains("only weekends are days off"));
        // Outside the provisional range the same holds with it.
        let s = show(&composed(&[]), &[], 2101);
        assert_eq!(s.source, YearSource::None);
    }
}
