//! The statutory working-day calendar (法定工作日历) that every `wd` duration counts on.
//!
//! A day is a working day when it is Monday–Friday and not a statutory holiday, or when
//! it is a weekend day the State Council turned into a make-up working day (调休). Each
//! year's exceptions come from that year's State Council notice; the machine-readable form
//! used here (and by `WorkCalendar` objects) is the per-year file of the open dataset
//! "holiday-cn": `{"year": 2026, "days": [{"name": "元旦", "date": "2026-01-01",
//! "isOffDay": true}, ...]}` (see RULES.md, "Statutory working-day calendar").
//!
//! Decisions:
//! - **Embedded data.** [`Calendar::cn_statutory`] ships 2024–2026 exactly as the table in
//!   RULES.md, as holiday-cn JSON files under `policy/data/`. The calendar is written
//!   by hand rather than taken from a crate because the existing crates are not usable for
//!   2026 and later: one panics for any date after 2026-12-25, another ships an empty 2026.
//! - **Overrides replace whole years.** [`Calendar::set_year`] (fed by `WorkCalendar`
//!   objects) adds a year or replaces everything previously known for it.
//! - **Days are indexed by their own date.** A holiday-cn file for year Y may list a
//!   December date of Y−1; it is applied to that date. When two files list the same
//!   date, the file of the date's own year wins, then the later year.
//! - **Coverage is per file.** A year is covered when a file for that year was supplied
//!   (even one with no entries). Outside covered years only weekends are days off;
//!   [`super::deadline`] reports when a computation relied on such a year so the operator
//!   can raise `CalendarIncomplete` (DESIGN.md, WorkCalendar).
//! - **Provisional years, on request.** [`Calendar::with_provisional`] lays the
//!   provisional calendar of [`super::provisional`] (the holidays fixed by law, and their
//!   补假) under every uncovered year of 1901–2100. Supplied lists always win, including a
//!   neighbour's December date. Such years still do not count as covered — a deadline on
//!   them is still incomplete — but [`Calendar::provisional_years`] names them, so a
//!   caller can say the count was provisional rather than weekends only. Off by default,
//!   so the calendar callers use today counts exactly as before.
//! - **Cheap to share.** The data lives behind an `Arc`; cloning a calendar copies a
//!   pointer. Lookups and working-day counts over any range are O(log n) in the number of
//!   listed days (a prefix sum over the exceptions), so no computation scans day by day
//!   and a calendar that marks every day off cannot make anything loop.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use chrono::{Datelike, NaiveDate, Weekday};
use serde::Deserialize;

use super::provisional;

pub use super::calendar_day::CalendarDay;

/// Why a holiday-cn year file was refused.
#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    /// The text is not a holiday-cn year file.
    #[error("invalid holiday-cn calendar file: {0}")]
    Json(#[from] serde_json::Error),
    /// A day lies too far from the file's year (only the neighbouring years are allowed,
    /// for the December dates holiday-cn puts in the next year's file).
    #[error("calendar year {year} lists {date}, which is not within one year of {year}")]
    DateOutsideYear {
        /// The file's year.
        year: i32,
        /// The offending date.
        date: NaiveDate,
    },
    /// The same date is listed as a day off and as a working day.
    #[error("calendar year {year} lists {date} both as a day off and as a working day")]
    Conflict {
        /// The file's year.
        year: i32,
        /// The date listed twice.
        date: NaiveDate,
    },
}

/// A holiday-cn year file; `papers` and any other field are ignored.
#[derive(Deserialize)]
struct YearFile {
    year: i32,
    days: Vec<CalendarDay>,
}

/// The embedded State Council calendars (RULES.md table), one holiday-cn file per year.
const CN_STATUTORY: [&str; 3] = [
    include_str!("data/cn-2024.json"),
    include_str!("data/cn-2025.json"),
    include_str!("data/cn-2026.json"),
];

/// A working-day calendar: Monday–Friday, corrected by per-year lists of exceptions.
///
/// The default value has no years: every Monday–Friday is a working day and no year is
/// covered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Calendar {
    inner: Arc<Inner>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Inner {
    /// The files as supplied, by year.
    years: BTreeMap<i32, Vec<CalendarDay>>,
    /// The effective exception for each listed date, sorted by day number.
    index: Vec<Entry>,
    /// How many index entries are days off on Monday–Friday.
    weekday_days_off: i64,
    /// The provisional lists (every year of their range), when [`Calendar::with_provisional`]
    /// asked for them; only the years without a supplied list are indexed.
    provisional: Option<Arc<BTreeMap<i32, Vec<CalendarDay>>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    /// `NaiveDate::num_days_from_ce`.
    day: i64,
    is_off_day: bool,
    /// Sum of `delta` over this entry and every earlier one.
    cumulative: i64,
    /// The list entry in force: (year of the file, position in it).
    source: (i32, usize),
    /// Whether that list is a provisional one rather than a supplied file.
    provisional: bool,
}

/// How a listed day changes the Monday–Friday count: −1 for a weekday off, +1 for a
/// weekend working day, 0 when the listing agrees with the weekday.
fn delta(date: NaiveDate, is_off_day: bool) -> i64 {
    match (is_weekend(date), is_off_day) {
        (false, true) => -1,
        (true, false) => 1,
        _ => 0,
    }
}

fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

/// Number of Monday–Friday days with day number `<= k` counted from an arbitrary origin;
/// only differences are meaningful. Day number 1 (0001-01-01) is a Monday, so a day `k`
/// is a weekday exactly when `k mod 7` is 1..=5.
fn weekdays_through(k: i64) -> i64 {
    5 * k.div_euclid(7) + k.rem_euclid(7).min(5)
}

/// Converts a day number back to a date, if chrono can represent it.
pub(crate) fn date_of(day: i64) -> Option<NaiveDate> {
    i32::try_from(day)
        .ok()
        .and_then(NaiveDate::from_num_days_from_ce_opt)
}

/// The day number of a date.
pub(crate) fn day_of(date: NaiveDate) -> i64 {
    i64::from(date.num_days_from_ce())
}

impl Calendar {
    /// An empty calendar: Monday–Friday everywhere, no year covered.
    pub fn new() -> Self {
        Self::default()
    }

    /// The embedded statutory calendar of the People's Republic of China for 2024, 2025 and
    /// 2026 (State Council notices; RULES.md table). Parsed once and shared.
    pub fn cn_statutory() -> Self {
        static CN: OnceLock<Calendar> = OnceLock::new();
        CN.get_or_init(|| {
            let mut cal = Calendar::new();
            // The files are part of the source and a unit test parses each one; a file that
            // failed to parse would leave its year uncovered (flagged), never panic.
            for text in CN_STATUTORY {
                if let Ok((year, days)) = Self::from_holiday_cn_json(text) {
                    cal.set_year(year, days);
                }
            }
            cal
        })
        .clone()
    }

    /// Parses one holiday-cn year file and checks it with [`Calendar::check_year`].
    pub fn from_holiday_cn_json(text: &str) -> Result<(i32, Vec<CalendarDay>), CalendarError> {
        let file: YearFile = serde_json::from_str(text)?;
        Self::check_year(file.year, &file.days)?;
        Ok((file.year, file.days))
    }

    /// Checks a year's list as a `WorkCalendar` would supply it: every date within the
    /// neighbouring years, and no date listed both as a day off and as a working day.
    pub fn check_year(year: i32, days: &[CalendarDay]) -> Result<(), CalendarError> {
        let mut seen = BTreeMap::new();
        for day in days {
            if (i64::from(day.date.year()) - i64::from(year)).abs() > 1 {
                return Err(CalendarError::DateOutsideYear {
                    year,
                    date: day.date,
                });
            }
            if let Some(previous) = seen.insert(day.date, day.is_off_day)
                && previous != day.is_off_day
            {
                return Err(CalendarError::Conflict {
                    year,
                    date: day.date,
                });
            }
        }
        Ok(())
    }

    /// Adds the list for `year`, replacing whatever was known for that year before (the
    /// embedded data or an earlier `WorkCalendar`). The year counts as covered from now
    /// on, even if `days` is empty. Within one list a later entry for the same date wins.
    pub fn set_year(&mut self, year: i32, days: Vec<CalendarDay>) {
        let inner = Arc::make_mut(&mut self.inner);
        inner.years.insert(year, days);
        inner.rebuild();
    }

    /// Whether `date` is a working day: Monday–Friday unless listed as a day off;
    /// Saturday/Sunday only when listed as a make-up working day.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        match self.listing(day_of(date)) {
            Some(entry) => !entry.is_off_day,
            None => !is_weekend(date),
        }
    }

    /// This calendar with every year of 1901–2100 that has no list (now or after later
    /// [`Calendar::set_year`] calls) counted on its provisional calendar: the statutory
    /// holidays and 补假 days fixed by law (see [`super::provisional`]).
    pub fn with_provisional(mut self) -> Self {
        let inner = Arc::make_mut(&mut self.inner);
        inner.provisional = Some(provisional::all_years());
        inner.rebuild();
        self
    }

    /// Whether `year` is counted on its provisional calendar: no list was supplied for it
    /// and [`Calendar::with_provisional`] has one.
    pub fn is_provisional(&self, year: i32) -> bool {
        !self.covers(year)
            && self
                .inner
                .provisional
                .as_ref()
                .is_some_and(|p| p.contains_key(&year))
    }

    /// The years from `first` to `last` (inclusive) counted on their provisional calendar,
    /// ascending: pass the same years as to [`Calendar::covers_all`] to tell a count that
    /// relied on the law alone from one that relied on weekends alone.
    pub fn provisional_years(&self, first: i32, last: i32) -> Vec<i32> {
        match &self.inner.provisional {
            Some(p) if first <= last => p
                .range(first..=last)
                .map(|(year, _)| *year)
                .filter(|year| !self.covers(*year))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Whether a list for `year` was supplied.
    pub fn covers(&self, year: i32) -> bool {
        self.inner.years.contains_key(&year)
    }

    /// Whether every year from `first` to `last` (inclusive) is covered.
    pub fn covers_all(&self, first: i32, last: i32) -> bool {
        if first > last {
            return true;
        }
        let wanted = i64::from(last) - i64::from(first) + 1;
        let have = self.inner.years.range(first..=last).count();
        i64::try_from(have).is_ok_and(|have| have == wanted)
    }

    /// The covered years, ascending.
    pub fn years(&self) -> Vec<i32> {
        self.inner.years.keys().copied().collect()
    }

    /// The list supplied for `year`, as given.
    pub fn year_days(&self, year: i32) -> Option<&[CalendarDay]> {
        self.inner.years.get(&year).map(Vec::as_slice)
    }

    /// The listing in force for `date` (holiday name and whether it is off), if any,
    /// including a provisional one.
    pub fn listed_day(&self, date: NaiveDate) -> Option<&CalendarDay> {
        let entry = self.listing(day_of(date))?;
        let (year, position) = entry.source;
        let lists = if entry.provisional {
            self.inner.provisional.as_deref()?
        } else {
            &self.inner.years
        };
        lists.get(&year)?.get(position)
    }

    fn listing(&self, day: i64) -> Option<&Entry> {
        let index = &self.inner.index;
        index
            .binary_search_by_key(&day, |e| e.day)
            .ok()
            .and_then(|i| index.get(i))
    }

    /// Sum of the listing deltas over day numbers `<= day`.
    fn adjustment_through(&self, day: i64) -> i64 {
        let index = &self.inner.index;
        let n = index.partition_point(|e| e.day <= day);
        n.checked_sub(1)
            .and_then(|i| index.get(i))
            .map_or(0, |e| e.cumulative)
    }

    /// Working days among day numbers in `(from, to]`; 0 when `to <= from`.
    pub(crate) fn working_days_in(&self, from: i64, to: i64) -> i64 {
        if to <= from {
            return 0;
        }
        weekdays_through(to) - weekdays_through(from) + self.adjustment_through(to)
            - self.adjustment_through(from)
    }

    /// Number of listed weekday days off: the most working days a listing can remove from
    /// any range, used to bound searches.
    pub(crate) fn weekday_days_off(&self) -> i64 {
        self.inner.weekday_days_off
    }
}

/// The listing in force for a date while the index is built: (rank, the day, its position
/// in its list, whether that list is provisional).
type Winner<'a> = ((bool, i32), &'a CalendarDay, usize, bool);

impl Inner {
    fn rebuild(&mut self) {
        // Winner per date: the file of the date's own year over a neighbour's, then the
        // later file; within one file the later entry.
        let mut effective: BTreeMap<NaiveDate, Winner<'_>> = BTreeMap::new();
        for (&year, days) in &self.years {
            for (position, day) in days.iter().enumerate() {
                let rank = (day.date.year() == year, year);
                match effective.get(&day.date) {
                    Some(&(existing, _, _, _)) if existing > rank => {}
                    _ => {
                        effective.insert(day.date, (rank, day, position, false));
                    }
                }
            }
        }
        // Provisional lists only for years without a file, and below any file's listing.
        let provisional = self.provisional.as_deref().into_iter().flatten();
        for (&year, days) in provisional.filter(|(year, _)| !self.years.contains_key(year)) {
            for (position, day) in days.iter().enumerate() {
                let rank = (day.date.year() == year, year);
                effective
                    .entry(day.date)
                    .or_insert((rank, day, position, true));
            }
        }
        let mut cumulative = 0;
        let mut weekday_days_off = 0;
        let index = effective
            .into_iter()
            .map(|(date, ((_, year), day, position, provisional))| {
                let delta = delta(date, day.is_off_day);
                cumulative += delta;
                if delta < 0 {
                    weekday_days_off += 1;
                }
                Entry {
                    day: day_of(date),
                    is_off_day: day.is_off_day,
                    cumulative,
                    source: (year, position),
                    provisional,
                }
            })
            .collect();
        self.index = index;
        self.weekday_days_off = weekday_days_off;
    }
}

#[cfg(test)]
#[path = "calendar_tests.rs"]
mod tests;
