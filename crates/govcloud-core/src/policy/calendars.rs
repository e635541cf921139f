//! Composing the calendar a policy names from the embedded statutory data and the
//! cluster's WorkCalendar objects. Pure: shared by the operator and the kubectl plugin.

use kube_core::ResourceExt;

use crate::api::WorkCalendar;
use crate::policy::calendar::{Calendar, CalendarDay};
use crate::policy::rules::CN_STATUTORY;

/// The calendar called `name` built from `calendars` (the WorkCalendar objects): for
/// `cn-statutory`, the embedded years with every WorkCalendar's years laid over them in
/// name order; for any other name, that WorkCalendar alone. Also returns one message per
/// year that was skipped because its data is unusable. Pure; shared by the operator and
/// the kubectl plugin.
pub fn compose_calendar<'a>(
    name: &str,
    calendars: impl IntoIterator<Item = &'a WorkCalendar>,
) -> Result<(Calendar, Vec<String>), String> {
    let mut calendars: Vec<&WorkCalendar> = calendars.into_iter().collect();
    calendars.sort_by_key(|c| c.name_any());
    let (mut cal, sources) = if name == CN_STATUTORY {
        (Calendar::cn_statutory(), calendars)
    } else {
        let own: Vec<_> = calendars
            .into_iter()
            .filter(|c| c.name_any() == name)
            .collect();
        if own.is_empty() {
            return Err(format!("spec.calendar: WorkCalendar {name:?} not found"));
        }
        (Calendar::new(), own)
    };
    let mut skipped = Vec::new();
    for wc in sources {
        for year in &wc.spec.years {
            match calendar_year(year) {
                Ok(days) => cal.set_year(year.year, days),
                Err(msg) => skipped.push(format!(
                    "WorkCalendar {:?} year {}: {msg}",
                    wc.name_any(),
                    year.year
                )),
            }
        }
    }
    Ok((cal, skipped))
}

fn calendar_year(year: &crate::api::CalendarYear) -> Result<Vec<CalendarDay>, String> {
    let days = year
        .days
        .iter()
        .map(|d| {
            chrono::NaiveDate::parse_from_str(&d.date, "%Y-%m-%d")
                .map(|date| CalendarDay {
                    name: d.name.clone(),
                    date,
                    is_off_day: d.is_off_day,
                })
                .map_err(|_| format!("date {:?} is not YYYY-MM-DD", d.date))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Calendar::check_year(year.year, &days).map_err(|e| e.to_string())?;
    Ok(days)
}
