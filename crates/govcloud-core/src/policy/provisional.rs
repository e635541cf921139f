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

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use chrono::{Datelike, NaiveDate, Weekday};
use icu_calendar::{
    Date,
    cal::{ChineseTraditional, Iso},
    types::Month,
};

use super::calendar_day::CalendarDay;

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

/// The provisional list of every year of the range, computed once and shared by every
/// calendar that asks for it.
pub(crate) fn all_years() -> Arc<BTreeMap<i32, Vec<CalendarDay>>> {
    static ALL: OnceLock<Arc<BTreeMap<i32, Vec<CalendarDay>>>> = OnceLock::new();
    ALL.get_or_init(|| {
        let years = (FIRST_YEAR..=LAST_YEAR)
            .filter_map(|year| provisional_year(year).ok().map(|days| (year, days)));
        Arc::new(years.collect())
    })
    .clone()
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
#[path = "provisional_tests.rs"]
mod tests;
