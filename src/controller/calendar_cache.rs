//! The composed calendars, kept between reconciles. Laying the provisional years
//! (1901–2100) under a calendar rebuilds its index: milliseconds, paid once per change
//! of the WorkCalendars instead of on every reconcile (issue 15).

use std::collections::HashMap;
use std::sync::Mutex;

use kube::ResourceExt;

use crate::api::WorkCalendar;
use crate::policy::calendar::Calendar;

/// What a composed calendar was built from: each WorkCalendar's name, uid and
/// resourceVersion. `None` when one has no resourceVersion (not from the API server):
/// then nothing is cached.
fn fingerprint(calendars: &[&WorkCalendar]) -> Option<Vec<(String, String, String)>> {
    let mut key: Vec<_> = calendars
        .iter()
        .map(|c| {
            let rv = c.resource_version()?;
            Some((c.name_any(), c.uid().unwrap_or_default(), rv))
        })
        .collect::<Option<_>>()?;
    key.sort();
    Some(key)
}

type Entry = (Vec<(String, String, String)>, Calendar);

/// A cache of composed calendars by policy calendar name.
#[derive(Default)]
pub struct CalendarCache {
    by_name: Mutex<HashMap<String, Entry>>,
}

impl CalendarCache {
    /// The calendar called `name` for `calendars`, built by `build` unless the same
    /// WorkCalendars built it before.
    pub fn get_or_build(
        &self,
        name: &str,
        calendars: &[&WorkCalendar],
        build: impl FnOnce() -> Result<Calendar, String>,
    ) -> Result<Calendar, String> {
        let Some(key) = fingerprint(calendars) else {
            return build();
        };
        let mut map = self.by_name.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((k, cal)) = map.get(name)
            && *k == key
        {
            return Ok(cal.clone());
        }
        let cal = build()?;
        map.insert(name.to_string(), (key, cal.clone()));
        Ok(cal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::WorkCalendarSpec;

    fn wc(name: &str, rv: Option<&str>) -> WorkCalendar {
        let mut c = WorkCalendar::new(name, WorkCalendarSpec::default());
        c.metadata.resource_version = rv.map(String::from);
        c
    }

    #[test]
    fn built_once_per_set_of_calendars_and_again_when_one_changes() {
        let cache = CalendarCache::default();
        let builds = std::cell::Cell::new(0);
        let build = || {
            builds.set(builds.get() + 1);
            Ok(Calendar::new())
        };
        let (a1, b1) = (wc("a", Some("1")), wc("b", Some("7")));
        cache.get_or_build("a", &[&a1, &b1], build).unwrap();
        cache.get_or_build("a", &[&b1, &a1], build).unwrap();
        assert_eq!(builds.get(), 1);
        let a2 = wc("a", Some("2"));
        cache.get_or_build("a", &[&a2, &b1], build).unwrap();
        assert_eq!(builds.get(), 2, "a changed WorkCalendar rebuilds");
        cache.get_or_build("a", &[&a2], build).unwrap();
        assert_eq!(builds.get(), 3, "a deleted WorkCalendar rebuilds");
        let unversioned = wc("a", None);
        cache.get_or_build("a", &[&unversioned], build).unwrap();
        cache.get_or_build("a", &[&unversioned], build).unwrap();
        assert_eq!(builds.get(), 5, "nothing cached without resourceVersions");
    }
}
