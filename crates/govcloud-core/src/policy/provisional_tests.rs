//! Tests of the provisional calendar and of the calendar's fallback to it.

use chrono::Days;

use super::super::calendar::Calendar;
use super::*;

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn holiday(year: i32, name: &str) -> Vec<NaiveDate> {
    statutory_days(year)
        .unwrap()
        .into_iter()
        .filter(|d| d.name == name)
        .map(|d| d.date)
        .collect()
}

/// Known dates: the embedded 2024–2026 notices, and for 2027–2028 the Hong Kong
/// Observatory's conversion tables and the published solar terms.
#[test]
fn known_dates() {
    let first = |year, name| holiday(year, name)[0].to_string();
    let spring = [
        (2024, "2024-02-09", "2024-02-10"),
        (2025, "2025-01-28", "2025-01-29"),
        (2026, "2026-02-16", "2026-02-17"),
        (2027, "2027-02-05", "2027-02-06"),
        (2028, "2028-01-25", "2028-01-26"),
    ];
    for (year, eve, new_year) in spring {
        let days = holiday(year, SPRING_FESTIVAL);
        assert_eq!(days[0], date(eve), "{year} 除夕");
        assert_eq!(days[1], date(new_year), "{year} 正月初一");
        assert_eq!(days.len(), 4);
        assert_eq!(days[3], date(new_year) + Days::new(2));
    }
    let lunar_and_solar = [
        (2024, "2024-04-04", "2024-06-10", "2024-09-17"),
        (2025, "2025-04-04", "2025-05-31", "2025-10-06"),
        (2026, "2026-04-05", "2026-06-19", "2026-09-25"),
        (2027, "2027-04-05", "2027-06-09", "2027-09-15"),
        (2028, "2028-04-04", "2028-05-28", "2028-10-03"),
    ];
    for (year, qm, db, ma) in lunar_and_solar {
        assert_eq!(first(year, QINGMING), qm);
        assert_eq!(first(year, DRAGON_BOAT), db);
        assert_eq!(first(year, MID_AUTUMN), ma);
    }
    assert_eq!(holiday(2027, NEW_YEAR), [date("2027-01-01")]);
    assert_eq!(
        holiday(2027, LABOUR_DAY),
        [date("2027-05-01"), date("2027-05-02")]
    );
    assert_eq!(
        holiday(2027, NATIONAL_DAY),
        [date("2027-10-01"), date("2027-10-02"), date("2027-10-03")]
    );
}

/// Qingming, day of April for 1901–2100, from an astronomical computation (tyme4rs
/// 1.5.0 `SolarTerm::from_name(year, "清明")`), fifty years a line.
const QINGMING_TABLE: [&str; 4] = [
    "56655665566555655565556555655565556555655565555555",
    "55555555555555555555555554555455545554555455545554",
    "55545554455445544554455445544554455445544454445444",
    "54445444544454445444544444444444444444444444444445",
];

#[test]
fn qingming_formula_matches_the_astronomical_table() {
    let table: Vec<u32> = QINGMING_TABLE
        .concat()
        .chars()
        .map(|c| c.to_digit(10).unwrap())
        .collect();
    assert_eq!(table.len(), 200);
    for (year, day) in (FIRST_YEAR..=LAST_YEAR).zip(table) {
        assert_eq!(
            qingming(year),
            NaiveDate::from_ymd_opt(year, 4, day),
            "{year}"
        );
    }
}

/// Every provisional day off of 2025 and 2026 is a day off in the published notice,
/// under a name the notice uses for it; for 2024 too, except 除夕 (2024-02-09), which
/// became a holiday with the 2024 revision of the law (in force 2025).
#[test]
fn provisional_days_are_off_in_the_published_notices() {
    let published = Calendar::cn_statutory();
    for year in [2024, 2025, 2026] {
        let provisional = provisional_year(year).unwrap();
        for day in &provisional {
            if day.date == date("2024-02-09") {
                assert!(published.is_working_day(day.date));
                continue;
            }
            let listed = published.listed_day(day.date);
            let listed = listed.unwrap_or_else(|| panic!("{} not in the notice", day.date));
            assert!(listed.is_off_day, "{}", day.date);
            for name in day.name.split('、') {
                assert!(listed.name.contains(name), "{} {}", day.date, listed.name);
            }
        }
    }
    // The 补假 days of art. 6 are the notices' own.
    let make_up = |year| {
        let statutory: Vec<NaiveDate> = statutory_days(year)
            .unwrap()
            .into_iter()
            .map(|d| d.date)
            .collect();
        provisional_year(year)
            .unwrap()
            .into_iter()
            .filter(|d| !statutory.contains(&d.date))
            .map(|d| (d.date.to_string(), d.name))
            .collect::<Vec<_>>()
    };
    let pair = |d: &str, n: &str| (d.to_owned(), n.to_owned());
    assert_eq!(make_up(2025), [pair("2025-06-02", DRAGON_BOAT)]);
    assert_eq!(
        make_up(2026),
        [
            pair("2026-04-06", QINGMING),
            pair("2026-05-04", LABOUR_DAY),
            pair("2026-10-05", NATIONAL_DAY)
        ]
    );
    assert_eq!(
        make_up(2024),
        [
            pair("2024-02-13", SPRING_FESTIVAL),
            pair("2024-02-14", SPRING_FESTIVAL)
        ]
    );
}

#[test]
fn year_2027() {
    let days = provisional_year(2027).unwrap();
    let listed: Vec<(String, &str)> = days
        .iter()
        .map(|d| (d.date.format("%m-%d").to_string(), d.name.as_str()))
        .collect();
    let want = [
        ("01-01", NEW_YEAR),
        // 除夕 Friday, 初一 and 初二 on the weekend, 初三 Monday: two days made up.
        ("02-05", SPRING_FESTIVAL),
        ("02-06", SPRING_FESTIVAL),
        ("02-07", SPRING_FESTIVAL),
        ("02-08", SPRING_FESTIVAL),
        ("02-09", SPRING_FESTIVAL),
        ("02-10", SPRING_FESTIVAL),
        ("04-05", QINGMING),
        // Saturday and Sunday: made up on Monday and Tuesday.
        ("05-01", LABOUR_DAY),
        ("05-02", LABOUR_DAY),
        ("05-03", LABOUR_DAY),
        ("05-04", LABOUR_DAY),
        ("06-09", DRAGON_BOAT),
        ("09-15", MID_AUTUMN),
        // Friday to Sunday: Saturday and Sunday made up on Monday and Tuesday.
        ("10-01", NATIONAL_DAY),
        ("10-02", NATIONAL_DAY),
        ("10-03", NATIONAL_DAY),
        ("10-04", NATIONAL_DAY),
        ("10-05", NATIONAL_DAY),
    ];
    let want: Vec<(String, &str)> = want.iter().map(|(d, n)| ((*d).to_owned(), *n)).collect();
    assert_eq!(listed, want);
    assert!(days.iter().all(|d| d.is_off_day));
    assert!(Calendar::check_year(2027, &days).is_ok());
}

/// 中秋节 on 1 October (2001, 2020): one date, named as holiday-cn does, and no extra
/// day for the overlap; Saturday 2020-10-03 is made up on Monday 2020-10-05.
#[test]
fn mid_autumn_on_national_day() {
    assert_eq!(holiday(2020, MID_AUTUMN), [date("2020-10-01")]);
    let days = provisional_year(2020).unwrap();
    let oct: Vec<(String, &str)> = days
        .iter()
        .filter(|d| d.date.month() == 10)
        .map(|d| (d.date.to_string(), d.name.as_str()))
        .collect();
    let want = [
        ("2020-10-01", "国庆节、中秋节"),
        ("2020-10-02", NATIONAL_DAY),
        ("2020-10-03", NATIONAL_DAY),
        ("2020-10-05", NATIONAL_DAY),
    ];
    let want: Vec<(String, &str)> = want.iter().map(|(d, n)| ((*d).to_owned(), *n)).collect();
    assert_eq!(oct, want);
}

#[test]
fn out_of_range() {
    for year in [1900, 2101, i32::MIN, i32::MAX] {
        assert_eq!(
            provisional_year(year),
            Err(ProvisionalError::OutOfRange(year))
        );
    }
    assert_eq!(
        ProvisionalError::OutOfRange(2101).to_string(),
        "no provisional calendar for 2101: statutory holidays are computed for 1901–2100 only"
    );
}

/// Every year of the range: 13 statutory holiday days (1+4+1+2+1+1+3) counted per
/// holiday, all within the year, on the right dates relative to each other; the
/// provisional list has one entry per date, every statutory date and one 补假 day per
/// statutory date on a weekend, all Monday–Friday, and only the seven names.
#[test]
fn every_year_has_thirteen_statutory_days() {
    let names = [
        NEW_YEAR,
        SPRING_FESTIVAL,
        QINGMING,
        LABOUR_DAY,
        DRAGON_BOAT,
        MID_AUTUMN,
        NATIONAL_DAY,
    ];
    for year in FIRST_YEAR..=LAST_YEAR {
        let days = statutory_days(year).unwrap();
        assert_eq!(days.len(), 13, "{year}");
        let count = |name| days.iter().filter(|d| d.name == name).count();
        let counts: Vec<usize> = names.iter().map(|n| count(*n)).collect();
        assert_eq!(counts, [1, 4, 1, 2, 1, 1, 3], "{year}");
        assert!(days.iter().all(|d| d.date.year() == year), "{year}");
        let spring = holiday(year, SPRING_FESTIVAL);
        assert!(spring.windows(2).all(|w| w[1] == w[0] + Days::new(1)));
        // 正月初一 between 21 January and 20 February; the festivals in their seasons.
        assert!((date_in(year, 1, 21)..=date_in(year, 2, 20)).contains(&spring[1]));
        let qm = holiday(year, QINGMING)[0];
        assert!((date_in(year, 4, 4)..=date_in(year, 4, 6)).contains(&qm));
        let db = holiday(year, DRAGON_BOAT)[0];
        assert!(
            (date_in(year, 5, 25)..=date_in(year, 6, 27)).contains(&db),
            "{year} {db}"
        );
        let ma = holiday(year, MID_AUTUMN)[0];
        assert!(
            (date_in(year, 9, 7)..=date_in(year, 10, 8)).contains(&ma),
            "{year} {ma}"
        );
        // Dragon Boat and Mid-Autumn are 3 or 4 lunar months (+10 days) after the new
        // year, one more when a leap month intervenes.
        let months = (ma - db).num_days();
        assert!((95..=130).contains(&months), "{year}: {months}");

        let list = provisional_year(year).unwrap();
        let dates: Vec<NaiveDate> = list.iter().map(|d| d.date).collect();
        let mut distinct = dates.clone();
        distinct.dedup();
        assert_eq!(dates, distinct, "{year}: sorted, one entry per date");
        let mut statutory: Vec<NaiveDate> = days.iter().map(|d| d.date).collect();
        statutory.dedup();
        let weekend = statutory.iter().filter(|d| is_weekend(**d)).count();
        assert_eq!(list.len(), statutory.len() + weekend, "{year}");
        for day in &list {
            assert!(day.is_off_day && day.date.year() == year, "{year}");
            let parts: Vec<&str> = day.name.split('、').collect();
            assert!(parts.iter().all(|p| names.contains(p)), "{}", day.name);
            if !statutory.contains(&day.date) {
                assert!(!is_weekend(day.date), "{}", day.date);
                assert_eq!(parts.len(), 1);
            }
        }
        assert!(Calendar::check_year(year, &list).is_ok());
    }
}

fn date_in(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).unwrap()
}

// The calendar's fallback (`Calendar::with_provisional`).

fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap()
        .with_timezone(&chrono::Utc)
}

/// Issue 15: a 30 wd review window opened on 2026-11-30 ends on 2027-01-12, because
/// 2027-01-01 is 元旦 by law; counted on weekends alone it ended a day early. The count
/// still reports the calendar incomplete: 2027 has no notice yet.
#[test]
fn thirty_working_days_from_2026_11_30() {
    use super::super::deadline::{add, working_days_between};
    let sh = chrono_tz::Asia::Shanghai;
    let d = "30wd".parse().unwrap();
    let opened = at("2026-11-30T10:00:00+08:00");
    let provisional = Calendar::cn_statutory().with_provisional();
    let got = add(opened, d, &provisional, sh);
    assert_eq!(
        got.at,
        at("2027-01-13T00:00:00+08:00"),
        "24:00 on 2027-01-12"
    );
    assert!(!got.calendar_complete);
    assert_eq!(provisional.provisional_years(2026, 2027), [2027]);
    assert_eq!(
        working_days_between(&provisional, date("2026-11-30"), date("2027-01-12")),
        30
    );
    // Without the fallback (today's default) the count takes 2027-01-01 as a working day.
    let weekends_only = add(opened, d, &Calendar::cn_statutory(), sh);
    assert_eq!(weekends_only.at, at("2027-01-12T00:00:00+08:00"));
    assert!(!weekends_only.calendar_complete);
}

#[test]
fn provisional_years_fill_only_the_gaps() {
    let base = Calendar::cn_statutory();
    assert!(!base.is_provisional(2027));
    assert!(base.provisional_years(1901, 2100).is_empty());
    assert!(base.is_working_day(date("2027-01-01")));

    let cal = base.clone().with_provisional();
    assert!(cal.is_provisional(2027) && cal.is_provisional(1901) && cal.is_provisional(2100));
    assert!(!cal.is_provisional(2026) && !cal.is_provisional(2101));
    assert!(!cal.is_provisional(1900));
    assert!(!cal.covers(2027) && !cal.covers_all(2026, 2027));
    assert_eq!(cal.years(), [2024, 2025, 2026]);
    assert_eq!(cal.provisional_years(2023, 2028), [2023, 2027, 2028]);
    assert_eq!(cal.provisional_years(2100, 2101), [2100]);
    assert!(cal.provisional_years(2028, 2027).is_empty());
    assert_eq!(
        cal.listed_day(date("2027-02-06")).unwrap().name,
        SPRING_FESTIVAL
    );
    assert!(!cal.is_working_day(date("2027-01-01")));
    assert!(!cal.is_working_day(date("2027-02-09")), "补假 for 春节");
    // Weekends stay days off; ordinary days stay working days.
    assert!(!cal.is_working_day(date("2027-01-02")));
    assert!(cal.is_working_day(date("2027-01-04")));
    // The shared embedded calendar is untouched.
    assert!(base.is_working_day(date("2027-01-01")));

    // The embedded years count exactly as before.
    for day in date("2024-01-01").iter_days().take(3 * 366) {
        if day.year() <= 2026 {
            assert_eq!(cal.is_working_day(day), base.is_working_day(day), "{day}");
            assert_eq!(cal.listed_day(day), base.listed_day(day), "{day}");
        }
    }

    // A supplied year replaces its provisional one, even after the fact, and an empty
    // list means "no holidays", not "provisional".
    let mut supplied = cal.clone();
    supplied.set_year(2027, vec![]);
    assert!(!supplied.is_provisional(2027));
    assert_eq!(supplied.provisional_years(2026, 2028), [2028]);
    assert!(supplied.is_working_day(date("2027-01-01")));
    assert!(!supplied.is_working_day(date("2028-01-01")));
    // A neighbour's file wins over the provisional listing of that date.
    let mut neighbour = cal.clone();
    neighbour.set_year(
        2026,
        vec![CalendarDay {
            name: "调休".into(),
            date: date("2027-01-01"),
            is_off_day: false,
        }],
    );
    assert!(neighbour.is_working_day(date("2027-01-01")));
    assert!(neighbour.is_provisional(2027));
    assert_eq!(
        neighbour.listed_day(date("2027-01-01")).unwrap().name,
        "调休"
    );
}

/// The prefix sums agree with day-by-day counting across supplied and provisional years.
#[test]
fn counts_match_enumeration_with_provisional_years() {
    use super::super::deadline::working_days_between;
    let cal = Calendar::cn_statutory().with_provisional();
    let days: Vec<NaiveDate> = date("2025-12-01").iter_days().take(1200).collect();
    for (i, from) in days.iter().enumerate().step_by(53) {
        let mut expected = 0;
        for to in &days[i..] {
            if *to > *from && cal.is_working_day(*to) {
                expected += 1;
            }
            assert_eq!(
                working_days_between(&cal, *from, *to),
                expected,
                "({from}, {to}]"
            );
        }
    }
}
