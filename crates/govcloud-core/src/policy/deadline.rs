//! Deadline arithmetic: when a period that starts at an event ends, and how far before a
//! deadline a period must start.
//!
//! Every deadline in `status.deadlines` is `add(event, duration, calendar, time zone)` or
//! `sub(deadline, duration, …)`; nothing else in the operator does date arithmetic.
//!
//! # How periods are counted (the project's decision)
//!
//! The regulations only say "within 5 working days" (XB 20, GY 7, SH 21, …), so the
//! default rules of the PRC Civil Code on periods apply (arts. 200–204, digested in
//! RULES.md). All dates are local dates in the policy's time zone (`spec.timeZone`,
//! normally `Asia/Shanghai`).
//!
//! - **The event day is excluded** (art. 201): counting starts the day after the event,
//!   whatever the hour of the event and whatever kind of day it was.
//! - **A period ends at 24:00 of its last day** (art. 203), i.e. at 00:00 of the next
//!   calendar day. No business-hours close is applied: the operator acts on instants and
//!   the regulations name no office hours.
//! - **An instant exactly at local midnight belongs to the day it ends** (it is 24:00 of
//!   the previous day, not 00:00 of the next). This is what makes deadlines chain: a
//!   resource that expires at 24:00 on day D and must be reclaimed "5 wd after expiry"
//!   starts counting on D+1, exactly as if the expiry had been an event during D. It also
//!   makes `add(add(t, a), b) == add(t, a + b)` for working days. Only an event stamped at
//!   00:00:00.000000000 local is affected.
//! - **`Nwd` (working days):** day 1 is the first working day after the event day, day N
//!   the N-th; the deadline is 24:00 of day N. Filed on Friday evening → day 1 is Monday;
//!   filed on 2026-09-25 (中秋节) → day 1 is Monday 2026-09-28; filed on the make-up
//!   Saturday 2026-10-10 → day 1 is Monday 2026-10-12; filed Wednesday 2026-09-30 at 18:00
//!   with `5wd` → 10-08, 10-09, 10-10 (make-up Saturday), 10-12, 10-13, deadline
//!   2026-10-14T00:00+08:00.
//! - **`Nd` (natural days):** the last day is the event day + N (art. 201). If it is not
//!   a working day (a weekend or statutory holiday) the period ends on the next working
//!   day instead (art. 203 — weekends count as 法定休假日 in the Civil Code's sense).
//! - **`Nmo` (months):** the last day is the same day of the month N months later, or that
//!   month's last day when it has no such day (art. 202: 2026-01-31 + 1mo → 2026-02-28,
//!   2024-01-31 + 1mo → 2024-02-29), then moved off non-working days like `Nd`.
//! - **Zero** (`0wd`, `0d`, `0mo`) is the event instant itself: nothing to count.
//! - **`Ns`/`Nm`/`Nh`** are exact: event + N seconds, no calendar (demos and tests).
//!
//! # Counting backwards
//!
//! [`sub`] answers "by when must the period start so that it ends by `t`?" — e.g. the
//! warning "10 wd before expiry" (`expiry.warnBefore`) or "extension requested ≥ 15 wd
//! before expiry" (SH 23, SH 24). It is the Galois adjoint of [`add`]: `sub(t, d)` is the
//! latest instant `s` with `add(s, d) <= t`, so for every instant `r`,
//! `r <= sub(t, d)` exactly when `add(r, d) <= t`. Because `add` only looks at the event
//! day, that latest instant is always the end of a day (a local midnight): for working days
//! it is 00:00 of the N-th working day before `t`. For exact durations it is `t − N`;
//! for zero durations it is `t` itself.
//!
//! # Calendar coverage
//!
//! A computation that consults a date in a year the [`Calendar`] does not cover still
//! produces an answer (Monday–Friday are working days there) and reports
//! `calendar_complete: false`, so the operator can set the `CalendarIncomplete` condition
//! and recompute once a `WorkCalendar` for that year arrives (DESIGN.md, WorkCalendar).
//! Dates consulted: for `Nwd` the days from the day after the event to the last day; for
//! `Nd`/`Nmo` the nominal last day and any days it is moved over.
//!
//! # Robustness
//!
//! All functions are total. Counting uses the calendar's prefix sums and binary search,
//! so a count of any size (up to `u32::MAX` working days) costs a few dozen lookups, and a
//! calendar that marks every day off cannot make anything loop. Results that fall outside
//! what chrono can represent saturate to `DateTime::<Utc>::MAX_UTC` (for [`add`]) or
//! `DateTime::<Utc>::MIN_UTC` (for [`sub`]) with `calendar_complete: false`. In zones
//! whose clocks skip midnight, "24:00" is the first instant of the next day that exists.

use chrono::{
    DateTime, Datelike, Days, FixedOffset, MappedLocalTime, NaiveDate, NaiveDateTime, NaiveTime,
    Offset, TimeDelta, TimeZone, Utc,
};
use chrono_tz::{GapInfo, Tz};

use super::calendar::{Calendar, date_of, day_of};
use super::duration::PolicyDuration;

/// The result of a deadline computation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    /// The deadline instant.
    pub at: DateTime<Utc>,
    /// `false` when the computation consulted a date in a year the calendar does not cover
    /// (the answer then assumes Monday–Friday there): raise `CalendarIncomplete`.
    pub calendar_complete: bool,
}

impl Deadline {
    /// Saturated result of [`add`]: beyond what chrono can represent.
    const LATEST: Self = Self {
        at: DateTime::<Utc>::MAX_UTC,
        calendar_complete: false,
    };
    /// Saturated result of [`sub`].
    const EARLIEST: Self = Self {
        at: DateTime::<Utc>::MIN_UTC,
        calendar_complete: false,
    };

    fn exact(at: DateTime<Utc>) -> Self {
        Self {
            at,
            calendar_complete: true,
        }
    }
}

/// The deadline of a period of `d` that starts with an event at `start`
/// (see the module docs for the counting rules).
pub fn add(start: DateTime<Utc>, d: PolicyDuration, cal: &Calendar, tz: Tz) -> Deadline {
    match d {
        PolicyDuration::Seconds(s) => seconds(s)
            .and_then(|delta| start.checked_add_signed(delta))
            .map_or(Deadline::LATEST, Deadline::exact),
        d if d.is_zero() => Deadline::exact(start),
        d => add_counted(start, d, cal, tz).unwrap_or(Deadline::LATEST),
    }
}

/// The latest instant `s` such that `add(s, d, cal, tz).at <= end` — when a period of `d`
/// must start at the latest to end by `end` (see the module docs).
pub fn sub(end: DateTime<Utc>, d: PolicyDuration, cal: &Calendar, tz: Tz) -> Deadline {
    match d {
        PolicyDuration::Seconds(s) => seconds(s)
            .and_then(|delta| end.checked_sub_signed(delta))
            .map_or(Deadline::EARLIEST, Deadline::exact),
        d if d.is_zero() => Deadline::exact(end),
        d => sub_counted(end, d, cal, tz).unwrap_or(Deadline::EARLIEST),
    }
}

/// Working days in `(from, to]`; negative (minus the working days in `(to, from]`) when
/// `to` is before `from`. `working_days_between(cal, d, d) == 0`.
pub fn working_days_between(cal: &Calendar, from: NaiveDate, to: NaiveDate) -> i64 {
    let (from, to) = (day_of(from), day_of(to));
    if to >= from {
        cal.working_days_in(from, to)
    } else {
        -cal.working_days_in(to, from)
    }
}

/// The first working day strictly after `date` ([`NaiveDate::MAX`] if there is none
/// that chrono can represent).
pub fn next_working_day(cal: &Calendar, date: NaiveDate) -> NaiveDate {
    nth_working_day_after(cal, date, 1).unwrap_or(NaiveDate::MAX)
}

/// The local date on which `t` happens for counting purposes: the date `t` falls on in
/// `tz`, except that an instant exactly at local midnight belongs to the day it ends.
/// Saturates at chrono's limits.
pub fn event_day(t: DateTime<Utc>, tz: Tz) -> NaiveDate {
    event_date(t, tz).unwrap_or(if t > DateTime::<Utc>::UNIX_EPOCH {
        NaiveDate::MAX
    } else {
        NaiveDate::MIN
    })
}

/// 24:00 local of `date` in `tz` (the first instant of the next day that exists), as UTC.
/// Saturates to `DateTime::<Utc>::MIN_UTC` or `DateTime::<Utc>::MAX_UTC` at chrono's
/// limits.
pub fn end_of_day(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    end_of(date, tz).unwrap_or(if date.year() > 1970 {
        DateTime::<Utc>::MAX_UTC
    } else {
        DateTime::<Utc>::MIN_UTC
    })
}

fn seconds(s: u64) -> Option<TimeDelta> {
    i64::try_from(s).ok().and_then(TimeDelta::try_seconds)
}

/// [`add`] for `wd`, `d` and `mo`; `None` when the answer is beyond chrono's range.
fn add_counted(
    start: DateTime<Utc>,
    d: PolicyDuration,
    cal: &Calendar,
    tz: Tz,
) -> Option<Deadline> {
    let event = event_date(start, tz)?;
    // `first` is the first date whose working status the answer depends on.
    let (first, last) = match d {
        PolicyDuration::WorkingDays(n) => {
            (event.succ_opt()?, nth_working_day_after(cal, event, n)?)
        }
        PolicyDuration::Days(n) => {
            let nominal = event.checked_add_days(Days::new(n.into()))?;
            (nominal, roll_forward(cal, nominal)?)
        }
        PolicyDuration::Months(n) => {
            let nominal = add_months(event, i64::from(n))?;
            (nominal, roll_forward(cal, nominal)?)
        }
        // Exact durations never reach here (see `add`).
        PolicyDuration::Seconds(_) => return None,
    };
    Some(Deadline {
        at: end_of(last, tz)?,
        calendar_complete: cal.covers_all(first.year(), last.year()),
    })
}

/// [`sub`] for `wd`, `d` and `mo`; `None` when the answer is beyond chrono's range.
fn sub_counted(end: DateTime<Utc>, d: PolicyDuration, cal: &Calendar, tz: Tz) -> Option<Deadline> {
    // The last day that is over by `end` (its 24:00 is at or before `end`).
    let through = local_time(end, tz)?.date().pred_opt()?;
    // The latest event day whose period ends by then, and the first date consulted.
    let (first, mut event) = match d {
        PolicyDuration::WorkingDays(n) => {
            let first_counted = nth_working_day_back(cal, through, n)?;
            (first_counted, first_counted.pred_opt()?)
        }
        PolicyDuration::Days(n) => {
            let last = nth_working_day_back(cal, through, 1)?;
            (last, last.checked_sub_days(Days::new(n.into()))?)
        }
        PolicyDuration::Months(n) => {
            let last = nth_working_day_back(cal, through, 1)?;
            (last, months_back(last, n)?)
        }
        // Exact durations never reach here (see `sub`).
        PolicyDuration::Seconds(_) => return None,
    };
    // In ordinary zones the first candidate holds. Where a zone skips or repeats a
    // midnight the day arithmetic can be a day off; step back (a bounded number of times)
    // until the defining property `add(s) <= end` holds.
    for _ in 0..4 {
        let at = end_of(event, tz)?;
        let forward = add(at, d, cal, tz);
        if forward.at <= end {
            return Some(Deadline {
                at,
                calendar_complete: forward.calendar_complete
                    && cal.covers_all(first.year(), through.year()),
            });
        }
        event = event.pred_opt()?;
    }
    None
}

/// `date` if it is a working day, else the next working day (Civil Code art. 203).
fn roll_forward(cal: &Calendar, date: NaiveDate) -> Option<NaiveDate> {
    if cal.is_working_day(date) {
        Some(date)
    } else {
        nth_working_day_after(cal, date, 1)
    }
}

/// Every 7 consecutive days hold 5 weekdays; the listings remove at most
/// `weekday_days_off` of them. So this many days after (or before) any date always hold
/// at least `n` working days.
fn search_span(cal: &Calendar, n: u32) -> i64 {
    let weekdays_needed = i64::from(n).saturating_add(cal.weekday_days_off());
    weekdays_needed.saturating_add(4) / 5 * 7
}

/// The `n`-th working day strictly after `after` (`n >= 1`), or `None` beyond chrono's
/// range. O(log) in the distance.
fn nth_working_day_after(cal: &Calendar, after: NaiveDate, n: u32) -> Option<NaiveDate> {
    let wanted = i64::from(n);
    let from = day_of(after);
    let mut hi = from
        .saturating_add(search_span(cal, n))
        .min(day_of(NaiveDate::MAX));
    if cal.working_days_in(from, hi) < wanted {
        return None;
    }
    // Invariant: fewer than `wanted` working days in (from, lo], enough in (from, hi].
    let mut lo = from;
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if cal.working_days_in(from, mid) >= wanted {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    date_of(hi)
}

/// The latest day `w <= through` such that `[w, through]` holds `n` working days
/// (`n >= 1`): the `n`-th working day counting back from `through` inclusive.
fn nth_working_day_back(cal: &Calendar, through: NaiveDate, n: u32) -> Option<NaiveDate> {
    let wanted = i64::from(n);
    let to = day_of(through);
    let enough = |w: i64| cal.working_days_in(w - 1, to) >= wanted;
    let mut lo = to
        .saturating_sub(search_span(cal, n))
        .max(day_of(NaiveDate::MIN));
    if !enough(lo) {
        return None;
    }
    // Invariant: `enough(lo)`, not `enough(hi)` (`[to + 1, to]` is empty).
    let mut hi = to + 1;
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if enough(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    date_of(lo)
}

/// `date` moved by `months` (either sign), clamped to the last day of the target month
/// (Civil Code art. 202).
fn add_months(date: NaiveDate, months: i64) -> Option<NaiveDate> {
    let index = (i64::from(date.year()) * 12 + i64::from(date.month0())).checked_add(months)?;
    let year = i32::try_from(index.div_euclid(12)).ok()?;
    let month = u32::try_from(index.rem_euclid(12)).ok()? + 1;
    let last = last_day_of_month(year, month)?;
    NaiveDate::from_ymd_opt(year, month, date.day().min(last.day()))
}

fn last_day_of_month(year: i32, month: u32) -> Option<NaiveDate> {
    (28..=31)
        .rev()
        .find_map(|day| NaiveDate::from_ymd_opt(year, month, day))
}

/// The latest event day whose `n`-month period has its nominal last day on or before
/// `last`. Several event days can share a last day (01-29..01-31 + 1mo → 02-28): when
/// `last` is the end of its month the latest of them is the end of the earlier month.
fn months_back(last: NaiveDate, n: u32) -> Option<NaiveDate> {
    let back = -i64::from(n);
    if last
        .succ_opt()
        .is_none_or(|next| next.month() != last.month())
    {
        let start = add_months(last, back)?;
        last_day_of_month(start.year(), start.month())
    } else {
        add_months(last, back)
    }
}

/// Local wall-clock time of `t` in `tz`, if chrono can represent it.
fn local_time(t: DateTime<Utc>, tz: Tz) -> Option<NaiveDateTime> {
    let utc = t.naive_utc();
    let offset = tz.offset_from_utc_datetime(&utc).fix();
    utc.checked_add_signed(TimeDelta::try_seconds(offset.local_minus_utc().into())?)
}

fn event_date(t: DateTime<Utc>, tz: Tz) -> Option<NaiveDate> {
    // Midnight belongs to the day it ends: look at the instant just before.
    let just_before = t.checked_sub_signed(TimeDelta::nanoseconds(1))?;
    Some(local_time(just_before, tz)?.date())
}

/// 24:00 of `date`: the first instant whose local time is on a later day.
fn end_of(date: NaiveDate, tz: Tz) -> Option<DateTime<Utc>> {
    let midnight = date.succ_opt()?.and_time(NaiveTime::MIN);
    let utc_with = |offset: FixedOffset| {
        let shift = TimeDelta::try_seconds(offset.local_minus_utc().into())?;
        Some(midnight.checked_sub_signed(shift)?.and_utc())
    };
    match tz.offset_from_local_datetime(&midnight) {
        MappedLocalTime::Single(offset) => utc_with(offset.fix()),
        // Midnight happens twice: the day ends the first time.
        MappedLocalTime::Ambiguous(a, b) => match (utc_with(a.fix()), utc_with(b.fix())) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        },
        // Midnight is skipped: the day ends when the clock jumps.
        MappedLocalTime::None => GapInfo::new(&midnight, &tz)
            .and_then(|gap| gap.end)
            .map(|t| t.with_timezone(&Utc)),
    }
}

#[cfg(test)]
#[path = "deadline_limit_tests.rs"]
mod limit_tests;
#[cfg(test)]
#[path = "deadline_tests.rs"]
mod tests;
