//! One listed day of a holiday-cn year: the unit both the published data (`calendar`)
//! and the provisional calendar (`provisional`) are made of. A leaf, so those two modules
//! do not import each other for it.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// One listed day in holiday-cn format: a statutory day off, or a make-up working day.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CalendarDay {
    /// The holiday this day belongs to, e.g. `春节` (also on make-up working days).
    pub name: String,
    /// The date, `YYYY-MM-DD`.
    pub date: NaiveDate,
    /// `true`: a day off (even if it is Monday–Friday); `false`: a working day (even if it
    /// is a Saturday or Sunday).
    pub is_off_day: bool,
}
