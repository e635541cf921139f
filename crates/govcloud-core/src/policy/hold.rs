//! Deadlines counted on data the bureau has not published (issue 15).
//!
//! A year without a State Council notice is counted on its provisional calendar (the
//! holidays fixed by law, no 调休 make-up days; [`super::provisional`]); a year outside the
//! provisional range on weekends alone. Either way the count may be off by days once the
//! notice appears, so:
//! - every such deadline is marked: `CalendarIncomplete` names the years and says which
//!   kind of count it was ([`Gaps::calendar_incomplete`]);
//! - nothing is destroyed on it: a reclamation whose deadline relied on such a year waits
//!   (`ReclaimHeld`) until the year's WorkCalendar is loaded — the decisions recount every
//!   deadline on each pass, so loading it is enough — or an approver writes
//!   `status.approval.reclaimOverride` ([`reclaim_hold`]). Suspension is reversible and
//!   still happens on time.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;

use super::calendar::Calendar;
use super::conditions::{Wanted, types};
use super::deadline::Deadline;
use super::notice::Notice;
use crate::api::{Approval, Condition};

/// Reason of `CalendarIncomplete` / `ReclaimHeld` when every gap year has a provisional
/// calendar.
pub const PROVISIONAL: &str = "ProvisionalCalendar";
/// Reason when some gap year has no data at all (counted on weekends alone).
pub const WITHOUT_DATA: &str = "YearWithoutData";
/// Reason of `ReclaimHeld` False once an approver let the reclamation proceed.
pub const OVERRIDDEN: &str = "Overridden";

/// A longer span is a saturated result, not a real count: only its end years are named.
const MAX_SPAN_YEARS: i32 = 400;

/// The years a set of counts relied on without published data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gaps {
    /// Counted on their provisional calendar.
    pub provisional: BTreeSet<i32>,
    /// Counted on weekends alone.
    pub missing: BTreeSet<i32>,
}

impl Gaps {
    /// Notes the years of a count between `from` and the result `d` (either order) when
    /// it consulted a year without published data.
    pub fn note(&mut self, cal: &Calendar, tz: Tz, from: DateTime<Utc>, d: Deadline) {
        if d.calendar_complete {
            return;
        }
        let year = |t: DateTime<Utc>| t.with_timezone(&tz).year();
        let (a, b) = (year(from.min(d.at)), year(from.max(d.at)));
        let years: Vec<i32> = if b.saturating_sub(a) > MAX_SPAN_YEARS {
            vec![a, b]
        } else {
            (a..=b).collect()
        };
        for y in years.into_iter().filter(|y| !cal.covers(*y)) {
            if cal.is_provisional(y) {
                self.provisional.insert(y);
            } else {
                self.missing.insert(y);
            }
        }
    }

    /// Adds `other`'s years.
    pub fn extend(&mut self, other: &Gaps) {
        self.provisional.extend(other.provisional.iter().copied());
        self.missing.extend(other.missing.iter().copied());
    }

    /// No count relied on unpublished data.
    pub fn is_empty(&self) -> bool {
        self.provisional.is_empty() && self.missing.is_empty()
    }

    fn reason(&self) -> &'static str {
        if self.missing.is_empty() {
            PROVISIONAL
        } else {
            WITHOUT_DATA
        }
    }

    /// "2027" / "2027, 2028".
    fn years(&self) -> String {
        let all: BTreeSet<i32> = self.provisional.union(&self.missing).copied().collect();
        all.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// What was assumed, for the messages.
    fn how(&self) -> String {
        let list = |ys: &BTreeSet<i32>| {
            ys.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut parts = Vec::new();
        if !self.provisional.is_empty() {
            parts.push(format!(
                "deadlines in {} are counted on the provisional statutory calendar (the law's holidays, no 调休 make-up days)",
                list(&self.provisional)
            ));
        }
        if !self.missing.is_empty() {
            parts.push(format!(
                "deadlines in {} are counted on weekends alone (no calendar data)",
                list(&self.missing)
            ));
        }
        parts.join("; ")
    }

    /// `CalendarIncomplete` True naming the years, or `None` when nothing relied on them.
    pub fn calendar_incomplete(&self) -> Option<Wanted> {
        (!self.is_empty()).then(|| {
            Wanted::yes(
                types::CALENDAR_INCOMPLETE,
                self.reason(),
                format!(
                    "{}; load the year's WorkCalendar: kubectl govcloud calendar import FILE",
                    self.how()
                ),
            )
        })
    }
}

/// Whether a reclamation due now may go ahead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hold {
    /// Its deadline was counted on published data.
    Proceed,
    /// Wait: `ReclaimHeld` True says why.
    Held(Wanted),
    /// An approver let it proceed: `ReclaimHeld` False records who.
    Overridden(Wanted),
}

/// Decides whether a reclamation whose deadline relied on `gaps` waits. `approval` is the
/// approver-written `status.approval` of the object that carries the override; `calendar`
/// is the name the policy counts on.
pub fn reclaim_hold(gaps: &Gaps, approval: Option<&Approval>, calendar: &str) -> Hold {
    if gaps.is_empty() {
        return Hold::Proceed;
    }
    let years = gaps.years();
    if let Some((a, o)) = approval.and_then(|a| a.reclaim_override.as_ref().map(|o| (a, o))) {
        let by =
            o.by.clone()
                .or_else(|| a.reviewer.clone())
                .unwrap_or_else(|| "an approver".into());
        return Hold::Overridden(Wanted::no(
            types::RECLAIM_HELD,
            OVERRIDDEN,
            format!(
                "reclaimed on a count that relied on {years} without the year's notice: overridden by {by} ({})",
                o.reason
            ),
        ));
    }
    Hold::Held(Wanted::yes(
        types::RECLAIM_HELD,
        gaps.reason(),
        format!(
            "not reclaimed: {}; nothing is deleted until the WorkCalendar for {years} is loaded into calendar {calendar:?} (kubectl govcloud calendar import FILE) or an approver sets status.approval.reclaimOverride",
            gaps.how()
        ),
    ))
}

/// The Event recording an override the first time it takes effect (who: in the message;
/// when: the Event's and the condition's time).
pub fn override_notice(old: &[Condition], hold: &Hold) -> Option<Notice> {
    let Hold::Overridden(w) = hold else {
        return None;
    };
    let already = old
        .iter()
        .any(|c| c.type_ == types::RECLAIM_HELD && c.reason == OVERRIDDEN);
    (!already).then(|| Notice {
        warning: true,
        reason: "ReclaimOverridden",
        message: w.message.clone(),
    })
}

#[cfg(test)]
#[path = "hold_tests.rs"]
mod tests;
