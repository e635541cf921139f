use super::*;

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn day(name: &str, d: &str, is_off_day: bool) -> CalendarDay {
    CalendarDay {
        name: name.into(),
        date: date(d),
        is_off_day,
    }
}

/// Expands the RULES.md notation (`01-01..01-03`) into dates.
fn expand(year: i32, spec: &str) -> Vec<NaiveDate> {
    spec.split("; ")
        .flat_map(|part| {
            let (a, b) = part.split_once("..").unwrap_or((part, part));
            let a = date(&format!("{year}-{a}"));
            let b = date(&format!("{year}-{b}"));
            a.iter_days().take_while(move |d| *d <= b)
        })
        .collect()
}

#[test]
fn embedded_files_parse_with_exact_counts() {
    let expected = [(2024, 36, 28, 8), (2025, 33, 28, 5), (2026, 39, 33, 6)];
    for (text, (year, total, off, work)) in CN_STATUTORY.iter().zip(expected) {
        let (y, days) = Calendar::from_holiday_cn_json(text).unwrap();
        assert_eq!(y, year);
        assert_eq!(days.len(), total, "{year}");
        assert_eq!(days.iter().filter(|d| d.is_off_day).count(), off, "{year}");
        assert_eq!(
            days.iter().filter(|d| !d.is_off_day).count(),
            work,
            "{year}"
        );
        assert!(days.iter().all(|d| d.date.year() == year));
    }
    let cal = Calendar::cn_statutory();
    assert_eq!(cal.years(), vec![2024, 2025, 2026]);
}

/// The embedded data is exactly the RULES.md table, and make-up days are weekends.
#[test]
fn embedded_data_matches_rules_table() {
    let table = [
        (
            2024,
            "01-01; 02-10..02-17; 04-04..04-06; 05-01..05-05; 06-10; 09-15..09-17; 10-01..10-07",
            "02-04; 02-18; 04-07; 04-28; 05-11; 09-14; 09-29; 10-12",
        ),
        (
            2025,
            "01-01; 01-28..02-04; 04-04..04-06; 05-01..05-05; 05-31..06-02; 10-01..10-08",
            "01-26; 02-08; 04-27; 09-28; 10-11",
        ),
        (
            2026,
            "01-01..01-03; 02-15..02-23; 04-04..04-06; 05-01..05-05; 06-19..06-21; 09-25..09-27; 10-01..10-07",
            "01-04; 02-14; 02-28; 05-09; 09-20; 10-10",
        ),
    ];
    let cal = Calendar::cn_statutory();
    for (year, off, work) in table {
        let days = cal.year_days(year).unwrap();
        let mut listed_off: Vec<_> = days
            .iter()
            .filter(|d| d.is_off_day)
            .map(|d| d.date)
            .collect();
        let mut listed_work: Vec<_> = days
            .iter()
            .filter(|d| !d.is_off_day)
            .map(|d| d.date)
            .collect();
        listed_off.sort();
        listed_work.sort();
        assert_eq!(listed_off, expand(year, off), "{year} off days");
        assert_eq!(listed_work, expand(year, work), "{year} make-up days");
        for d in &listed_off {
            assert!(!cal.is_working_day(*d), "{d}");
        }
        for d in &listed_work {
            assert!(is_weekend(*d), "make-up day {d} should be a weekend day");
            assert!(cal.is_working_day(*d), "{d}");
        }
    }
}

#[test]
fn holiday_names() {
    let cal = Calendar::cn_statutory();
    let name = |d: &str| cal.listed_day(date(d)).map(|d| d.name.clone());
    assert_eq!(name("2026-01-01").as_deref(), Some("元旦"));
    assert_eq!(name("2026-02-17").as_deref(), Some("春节"));
    assert_eq!(name("2026-02-28").as_deref(), Some("春节"));
    assert_eq!(name("2026-04-05").as_deref(), Some("清明节"));
    assert_eq!(name("2026-05-01").as_deref(), Some("劳动节"));
    assert_eq!(name("2026-06-19").as_deref(), Some("端午节"));
    assert_eq!(name("2026-09-25").as_deref(), Some("中秋节"));
    assert_eq!(name("2026-10-01").as_deref(), Some("国庆节"));
    assert_eq!(name("2025-10-06").as_deref(), Some("国庆节、中秋节"));
    assert_eq!(name("2026-03-02"), None);
}

#[test]
fn working_day_rules() {
    let cal = Calendar::cn_statutory();
    // Ordinary weekday and weekend.
    assert!(cal.is_working_day(date("2026-03-04")));
    assert!(!cal.is_working_day(date("2026-03-07")));
    assert!(!cal.is_working_day(date("2026-03-08")));
    // Holiday on a weekday; make-up working Saturday and Sunday.
    assert!(!cal.is_working_day(date("2026-09-25")));
    assert!(cal.is_working_day(date("2026-10-10")));
    assert!(cal.is_working_day(date("2026-09-20")));
    assert!(cal.is_working_day(date("2025-01-26")));
    // A year without data: Monday–Friday.
    assert!(!cal.covers(2027));
    assert!(cal.is_working_day(date("2027-01-01")));
    assert!(!cal.is_working_day(date("2027-01-02")));
    assert!(cal.covers(2026) && cal.covers_all(2024, 2026) && !cal.covers_all(2026, 2027));
    assert!(cal.covers_all(2027, 2026));
}

#[test]
fn set_year_adds_and_replaces() {
    let base = Calendar::cn_statutory();
    let mut cal = base.clone();
    cal.set_year(2027, vec![day("元旦", "2027-01-01", true)]);
    assert!(cal.covers(2027));
    assert_eq!(cal.years(), vec![2024, 2025, 2026, 2027]);
    assert!(!cal.is_working_day(date("2027-01-01")));
    // The shared embedded calendar is untouched.
    assert!(base.is_working_day(date("2027-01-01")));
    assert!(!base.covers(2027));

    // Replacing 2026 drops every embedded 2026 listing.
    cal.set_year(2026, vec![]);
    assert!(cal.covers(2026));
    assert!(cal.is_working_day(date("2026-10-01")));
    assert!(!cal.is_working_day(date("2026-10-10")));
    assert_eq!(cal.year_days(2026), Some(&[][..]));
}

#[test]
fn neighbouring_year_dates_are_indexed_by_their_date() {
    let mut cal = Calendar::new();
    // A 2031 file listing 2030-12-31 (as holiday-cn does for some years).
    cal.set_year(
        2031,
        vec![
            day("元旦", "2030-12-31", true),
            day("元旦", "2031-01-01", true),
        ],
    );
    assert!(!cal.is_working_day(date("2030-12-31")));
    assert!(cal.covers(2031));
    assert!(!cal.covers(2030));
    // The date's own year wins over the neighbour's file.
    cal.set_year(2030, vec![day("调休", "2030-12-31", false)]);
    assert!(cal.is_working_day(date("2030-12-31")));
    assert_eq!(cal.listed_day(date("2030-12-31")).unwrap().name, "调休");
}

#[test]
fn parses_holiday_cn_files_with_papers() {
    let text = r#"{
        "$schema": "https://example.invalid/schema.json",
        "year": 2027,
        "papers": ["https://example.invalid/notice"],
        "days": [
            {"name": "元旦", "date": "2026-12-31", "isOffDay": true},
            {"name": "元旦", "date": "2027-01-01", "isOffDay": true}
        ]
    }"#;
    let (year, days) = Calendar::from_holiday_cn_json(text).unwrap();
    assert_eq!(year, 2027);
    assert_eq!(days.len(), 2);
    assert_eq!(days[0], day("元旦", "2026-12-31", true));
    let back = serde_json::to_value(&days[0]).unwrap();
    assert_eq!(
        back,
        serde_json::json!({"name": "元旦", "date": "2026-12-31", "isOffDay": true})
    );
}

#[test]
fn refuses_bad_files() {
    for bad in [
        "",
        "{}",
        r#"{"year": 2027}"#,
        r#"{"year": 2027, "days": [{"name": "x", "date": "2027-02-30", "isOffDay": true}]}"#,
        r#"{"year": 2027, "days": [{"name": "x", "date": "2027-01-01"}]}"#,
        r#"{"year": "2027", "days": []}"#,
    ] {
        assert!(
            matches!(
                Calendar::from_holiday_cn_json(bad),
                Err(CalendarError::Json(_))
            ),
            "{bad}"
        );
    }
    let far = r#"{"year": 2027, "days": [{"name": "x", "date": "2029-01-01", "isOffDay": true}]}"#;
    let err = Calendar::from_holiday_cn_json(far).unwrap_err();
    assert!(matches!(
        err,
        CalendarError::DateOutsideYear { year: 2027, .. }
    ));
    assert_eq!(
        err.to_string(),
        "calendar year 2027 lists 2029-01-01, which is not within one year of 2027"
    );
    let conflict = r#"{"year": 2027, "days": [
        {"name": "x", "date": "2027-01-02", "isOffDay": true},
        {"name": "y", "date": "2027-01-02", "isOffDay": false}]}"#;
    assert!(matches!(
        Calendar::from_holiday_cn_json(conflict),
        Err(CalendarError::Conflict { .. })
    ));
    // Listing the same status twice is harmless.
    let twice = r#"{"year": 2027, "days": [
        {"name": "x", "date": "2027-01-01", "isOffDay": true},
        {"name": "x", "date": "2027-01-01", "isOffDay": true}]}"#;
    assert!(Calendar::from_holiday_cn_json(twice).is_ok());
}

#[test]
fn range_counts_match_enumeration() {
    let mut cal = Calendar::cn_statutory();
    cal.set_year(
        2030,
        vec![day("x", "2030-03-04", true), day("y", "2030-03-09", false)],
    );
    let start = date("2023-12-20");
    let days: Vec<NaiveDate> = start.iter_days().take(2700).collect();
    for (i, from) in days.iter().enumerate().step_by(37) {
        let mut expected = 0;
        for to in &days[i..] {
            if *to > *from && cal.is_working_day(*to) {
                expected += 1;
            }
            assert_eq!(
                cal.working_days_in(day_of(*from), day_of(*to)),
                expected,
                "({from}, {to}]"
            );
        }
    }
}

#[test]
fn weekday_formula_at_chrono_limits() {
    let cal = Calendar::new();
    for d in [
        NaiveDate::MIN,
        NaiveDate::MAX,
        date("0001-01-01"),
        date("-0001-12-31"),
    ] {
        let k = day_of(d);
        let counted = weekdays_through(k) - weekdays_through(k - 1);
        assert_eq!(counted == 1, cal.is_working_day(d), "{d}");
        assert_eq!(date_of(k), Some(d));
    }
    assert_eq!(date_of(i64::MAX), None);
}

#[test]
fn clones_share_data() {
    let a = Calendar::cn_statutory();
    let b = a.clone();
    assert!(Arc::ptr_eq(&a.inner, &b.inner));
    assert_eq!(a, b);
}
