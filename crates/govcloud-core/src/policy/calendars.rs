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

/// Whether a policy whose `spec.calendar` is `policy_calendar` (unset: `cn-statutory`)
/// counts its deadlines on WorkCalendar `changed`: `cn-statutory` lays every WorkCalendar
/// over the embedded years, any other name is that one WorkCalendar alone.
pub fn uses_calendar(policy_calendar: Option<&str>, changed: &str) -> bool {
    match policy_calendar.unwrap_or(CN_STATUTORY) {
        CN_STATUTORY => true,
        own => own == changed,
    }
}

/// The names of the policies (name, `spec.calendar`) whose deadlines move when
/// WorkCalendar `changed` does; what each controller wakes after a calendar event.
pub fn policies_using<'a>(
    policies: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
    changed: &str,
) -> std::collections::BTreeSet<String> {
    policies
        .into_iter()
        .filter(|(_, calendar)| uses_calendar(*calendar, changed))
        .map(|(name, _)| name.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statutory_policies_move_with_every_calendar_others_with_their_own() {
        assert!(uses_calendar(None, "cn-2027"));
        assert!(uses_calendar(Some(CN_STATUTORY), "cn-2027"));
        assert!(uses_calendar(Some("bureau"), "bureau"));
        assert!(!uses_calendar(Some("bureau"), "cn-2027"));
    }

    #[test]
    fn only_the_affected_policies_are_named() {
        let policies = [
            ("default", None),
            ("statutory", Some(CN_STATUTORY)),
            ("own", Some("bureau")),
            ("other", Some("district")),
        ];
        let names = |changed| {
            policies_using(policies.iter().copied(), changed)
                .into_iter()
                .collect::<Vec<_>>()
        };
        assert_eq!(names("bureau"), ["default", "own", "statutory"]);
        assert_eq!(names("district"), ["default", "other", "statutory"]);
        assert_eq!(names("cn-2027"), ["default", "statutory"]);
    }
}
