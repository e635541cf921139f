//! The provisional calendar of a year whose State Council notice is not (yet) available.
//!
//! The statutory holidays are fixed by law, not by the yearly notice: the
//! 全国年节及纪念日放假办法 (as revised on 2024-11-10, in force from 2025) art. 2 gives
//! 元旦 1 day (1 January), 春节 4 days (除夕, the last day of the 12th lunar month, and the
//! 1st to 3rd of the first lunar month), 清明节 1 day (the day of the Qingming solar term),
//! 劳动节 2 days (1–2 May), 端午节 1 day (5th of the 5th lunar month), 中秋节 1 day (15th of
//! the 8th lunar month) and 国庆节 3 days (1–3 October): 13 days. Art. 6: a holiday that
//! falls on a Saturday or Sunday is made up on a working day (补假). Only the make-up
//! working days (调休) and the bridging days need the yearly notice; the provisional year
//! has neither, so its weekends stay days off as in [`super::calendar`]'s default.
//!
//! Decisions:
//! - **Lunar dates come from `icu_calendar`** (ICU4X, maintained by the Unicode
//!   Consortium): its `ChineseTraditional` calendar is precomputed for 1900–2100 and
//!   documented to agree with the Purple Mountain Observatory (1900–2025) and the Hong Kong
//!   Observatory's Gregorian–lunar conversion tables (1901–2100). It reproduces every
//!   known date tested below, including the embedded 2024–2026 notices. It is used without
//!   its default features: the Chinese calendar is compiled in and needs no data provider.
//! - **Qingming comes from a formula**, because no such crate exposes solar terms without
//!   a heavy dependency: day of April = ⌊Y·0.2422 + C⌋ − L, with Y the year within its
//!   century (1–100), C = 5.59 for 1901–2000 and 4.81 for 2001–2100, and L the number of
//!   leap days from the century's start to the year. Its results for every year 1901–2100
//!   were checked against an astronomical computation (tyme4rs 1.5.0 `SolarTerm`), and
//!   the table is kept as a test. (The variant with L = ⌊(Y−1)/4⌋ is for January and
//!   February terms: for April it is a day late in leap years, e.g. 2024-04-05.)
//! - **Range.** Only 1901–2100 (the range both sources cover); other years are refused.
//! - **The current law for every year.** The provisional calendar projects the 2024
//!   revision; it is meant for years without a notice, which are future years. Earlier
//!   years were governed by earlier versions (2024 itself had no 除夕 holiday and one
//!   Labour Day), which only matters if someone asks for them.
//! - **Overlaps.** 中秋节 can fall on 1–3 October. Each holiday keeps its own days in
//!   [`statutory_days`] (always 13 entries), but a date is one day off: in
//!   [`provisional_year`] it is listed once, named `国庆节、中秋节` as holiday-cn does.
//!   The law gives no extra day for the overlap (art. 6 only makes up weekends), so such
//!   a year has 12 statutory dates.
//! - **补假 (art. 6).** For each statutory date on a Saturday or Sunday, the first
//!   Monday–Friday after that holiday's last day that is not already off becomes a day off
//!   under the holiday's name — how every notice since 2014 placed them (2025-06-02 for
//!   端午节 on a Saturday; 2026-04-06 for 清明节 on a Sunday; 2026-05-04 and 2026-10-05).
//!   Which working day is the notice's choice; the first one is the usual one.

use chrono::{Datelike, NaiveDate, Weekday};
use icu_calendar::{
    Date,
    cal::{ChineseTraditional, Iso},
    types::Month,
};

use super::calendar::CalendarDay;

/// The first year with a provisional calendar.
pub const FIRST_YEAR: i32 = 1901;
/// The last year with a provisional calendar.
pub const LAST_YEAR: i32 = 2100;

/// 元旦, as holiday-cn names it.
pub const NEW_YEAR: &str = "元旦";
/// 春节.
pub const SPRING_FESTIVAL: &str = "春节";
/// 清明节.
pub const QINGMING: &str = "清明节";
/// 劳动节.
pub const LABOUR_DAY: &str = "劳动节";
/// 端午节.
pub const DRAGON_BOAT: &str = "端午节";
/// 中秋节.
pub const MID_AUTUMN: &str = "中秋节";
/// 国庆节.
pub const NATIONAL_DAY: &str = "国庆节";

/// Why there is no provisional calendar for a year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProvisionalError {
    /// Outside [`FIRST_YEAR`]..=[`LAST_YEAR`].
    #[error("no provisional calendar for {0}: statutory holidays are computed for 1901–2100 only")]
    OutOfRange(i32),
}

/// One day of one statutory holiday (art. 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatutoryDay {
    /// The holiday, e.g. [`SPRING_FESTIVAL`].
    pub name: &'static str,
    /// The date.
    pub date: NaiveDate,
}

/// The 13 statutory holiday days of `year` under art. 2, in chronological order of the
/// holidays (a date appears twice when two holidays fall on it).
pub fn statutory_days(year: i32) -> Result<Vec<StatutoryDay>, ProvisionalError> {
    let out_of_range = ProvisionalError::OutOfRange(year);
    if !(FIRST_YEAR..=LAST_YEAR).contains(&year) {
        return Err(out_of_range);
    }
    let solar = |month, day| NaiveDate::from_ymd_opt(year, month, day).ok_or(out_of_range);
    let lunar = |month, day| lunar_date(year, month, day).ok_or(out_of_range);
    let new_year = lunar(1, 1)?;
    let eve = new_year.pred_opt().ok_or(out_of_range)?;
    let spring = eve.iter_days().take(4);
    let qingming = qingming(year).ok_or(out_of_range)?;
    let mut days = vec![StatutoryDay {
        name: NEW_YEAR,
        date: solar(1, 1)?,
    }];
    days.extend(spring.map(|date| StatutoryDay {
        name: SPRING_FESTIVAL,
        date,
    }));
    days.push(StatutoryDay {
        name: QINGMING,
        date: qingming,
    });
    for day in [1, 2] {
        days.push(StatutoryDay {
            name: LABOUR_DAY,
            date: solar(5, day)?,
        });
    }
    days.push(StatutoryDay {
        name: DRAGON_BOAT,
        date: lunar(5, 5)?,
    });
    days.push(StatutoryDay {
        name: MID_AUTUMN,
        date: lunar(8, 15)?,
    });
    for day in [1, 2, 3] {
        days.push(StatutoryDay {
            name: NATIONAL_DAY,
            date: solar(10, day)?,
        });
    }
    // 中秋节 may come after 国庆节 (e.g. 2025-10-06): keep the holidays in date order.
    days.sort_by_key(|d| d.date);
    Ok(days)
}

/// The provisional list for `year` in holiday-cn form: every statutory date as a day off
/// (one entry per date, names joined with `、` when holidays overlap) plus the 补假 days of
/// art. 6, sorted by date. No make-up working days: those need the notice.
pub fn provisional_year(year: i32) -> Result<Vec<CalendarDay>, ProvisionalError> {
    let statutory = statutory_days(year)?;
    let mut off: Vec<CalendarDay> = Vec::new();
    for day in &statutory {
        match off.iter_mut().find(|d| d.date == day.date) {
            // holiday-cn puts 国庆节 first: "国庆节、中秋节".
            Some(existing) if day.name == NATIONAL_DAY => {
                existing.name = format!("{}、{}", day.name, existing.name);
            }
            Some(existing) => existing.name = format!("{}、{}", existing.name, day.name),
            None => off.push(CalendarDay {
                name: day.name.to_owned(),
                date: day.date,
                is_off_day: true,
            }),
        }
    }
    // 补假 (art. 6), holiday by holiday in date order so that a later holiday's make-up
    // day never takes one an earlier holiday needed.
    let mut holidays: Vec<&'static str> = Vec::new();
    for day in &statutory {
        if !holidays.contains(&day.name) {
            holidays.push(day.name);
        }
    }
    let mut make_up = Vec::new();
    for name in holidays {
        let own: Vec<NaiveDate> = statutory
            .iter()
            .filter(|d| d.name == name)
            .map(|d| d.date)
            .collect();
        // A date shared with another holiday is made up once, by the first of them.
        let weekend = own
            .iter()
            .filter(|date| is_weekend(**date))
            .filter(|date| {
                statutory
                    .iter()
                    .find(|d| d.date == **date)
                    .is_some_and(|first| first.name == name)
            })
            .count();
        let Some(last) = own.iter().max().copied() else {
            continue;
        };
        let mut candidate = last;
        for _ in 0..weekend {
            loop {
                candidate = candidate
                    .succ_opt()
                    .ok_or(ProvisionalError::OutOfRange(year))?;
                let taken = off.iter().any(|d| d.date == candidate)
                    || make_up.iter().any(|d: &CalendarDay| d.date == candidate);
                if !is_weekend(candidate) && !taken {
                    break;
                }
            }
            make_up.push(CalendarDay {
                name: name.to_owned(),
                date: candidate,
                is_off_day: true,
            });
        }
    }
    off.extend(make_up);
    off.sort_by_key(|d| d.date);
    Ok(off)
}

fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

/// The Gregorian date of lunar `month`/`day` (never the leap month) of the Chinese year
/// that begins in Gregorian `year`.
fn lunar_date(year: i32, month: u8, day: u8) -> Option<NaiveDate> {
    // ICU4X numbers Chinese years by the Gregorian year they begin in (related ISO year).
    let lunar = Date::try_new(
        year.into(),
        Month::new(month),
        day,
        ChineseTraditional::new(),
    )
    .ok()?
    .to_calendar(Iso);
    NaiveDate::from_ymd_opt(
        lunar.year().extended_year(),
        u32::from(lunar.month().ordinal),
        u32::from(lunar.day_of_month().0),
    )
}

/// The day of the Qingming solar term (sun at ecliptic longitude 15°, Beijing time) for
/// 1901–2100 (see the module docs for the formula and how it was checked).
fn qingming(year: i32) -> Option<NaiveDate> {
    let (century, c) = match year {
        FIRST_YEAR..=2000 => (1900, 55_900),
        2001..=LAST_YEAR => (2000, 48_100),
        _ => return None,
    };
    let y = year - century;
    let leap_days = leap_years_through(year) - leap_years_through(century);
    // ⌊y·0.2422 + C⌋ in integers (ten-thousandths), so no rounding can move a day.
    let day = (y * 2422 + c).div_euclid(10_000) - leap_days;
    NaiveDate::from_ymd_opt(year, 4, u32::try_from(day).ok()?)
}

/// Gregorian leap years from year 1 through `year` (for `year >= 1`).
fn leap_years_through(year: i32) -> i32 {
    year / 4 - year / 100 + year / 400
}

#[cfg(test)]
mod tests {
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
}
