//! Policies resolved into rules, and composed calendars, kept between reconciles: a
//! reconcile no longer re-parses its policy and rebuilds its calendar (laying the
//! provisional years 1901–2100 under it rebuilds its index, milliseconds). Each entry
//! remembers the resourceVersions it was built from — the policy's and every
//! WorkCalendar's — and is rebuilt when one of them changes, so it is never stale. The
//! result is a pure function of those objects, so an error is kept too.

use std::collections::HashMap;
use std::sync::Arc;

use kube_core::Resource;

use crate::api::{GovCloudPolicy, WorkCalendar};
use crate::policy::calendar::Calendar;
use crate::policy::calendars::compose_calendar;
use crate::policy::rules::{self, Rules};

/// What an entry was built from: (name, uid, resourceVersion) of each object, sorted.
/// `None` when one has no resourceVersion (not from the API server): then nothing is kept.
type Versions = Vec<(String, String, String)>;

fn versions<'a, K: Resource + 'a>(objects: impl IntoIterator<Item = &'a K>) -> Option<Versions> {
    let mut key: Versions = objects
        .into_iter()
        .map(|o| {
            let meta = o.meta();
            Some((
                meta.name.clone().unwrap_or_default(),
                meta.uid.clone().unwrap_or_default(),
                meta.resource_version.clone()?,
            ))
        })
        .collect::<Option<_>>()?;
    key.sort();
    Some(key)
}

/// A policy as the decisions use it.
#[derive(Debug, Clone)]
pub enum Resolved {
    /// Usable rules and the calendar they count on.
    Ready(Arc<Rules>, Calendar),
    /// The policy (or its calendar) is unusable; the message says why, naming each field.
    Invalid(String),
}

/// A calendar just (re)built: for the caller's log and metrics.
pub struct Built<'a> {
    /// The calendar.
    pub calendar: &'a Calendar,
    /// One message per WorkCalendar year skipped as unusable.
    pub skipped: &'a [String],
}

type CalendarEntry = (Versions, Result<Calendar, String>);
type PolicyEntry = (Versions, Versions, Resolved);

/// The cache: calendars by the name a policy gives them, policies by name.
#[derive(Default)]
pub struct ResolvedCache {
    calendars: HashMap<String, CalendarEntry>,
    policies: HashMap<String, PolicyEntry>,
}

impl ResolvedCache {
    /// The calendar called `name` (`cn-statutory` with every WorkCalendar's years laid
    /// over it, or one WorkCalendar alone), counting years without published data on
    /// their provisional calendar (issue 15). Built from `calendars` unless the same
    /// WorkCalendars built it before; `on_build` is told of each build.
    pub fn calendar(
        &mut self,
        name: &str,
        calendars: &[&WorkCalendar],
        on_build: &mut dyn FnMut(Built<'_>),
    ) -> Result<Calendar, String> {
        let key = versions(calendars.iter().copied());
        if let (Some(key), Some((built_from, cal))) = (&key, self.calendars.get(name))
            && built_from == key
        {
            return cal.clone();
        }
        let cal = compose_calendar(name, calendars.iter().copied()).map(|(cal, skipped)| {
            // Issue 15: a year without published data is counted on its provisional
            // calendar (the law's holidays) rather than weekends alone, and said to be
            // (CalendarIncomplete).
            let cal = cal.with_provisional();
            on_build(Built {
                calendar: &cal,
                skipped: &skipped,
            });
            cal
        });
        if let Some(key) = key {
            self.calendars.insert(name.to_string(), (key, cal.clone()));
        }
        cal
    }

    /// `policy` resolved into rules with its calendar, unless the same policy and
    /// WorkCalendars resolved it before.
    pub fn policy(
        &mut self,
        policy: &GovCloudPolicy,
        calendars: &[&WorkCalendar],
        on_build: &mut dyn FnMut(Built<'_>),
    ) -> Resolved {
        let name = policy.meta().name.clone().unwrap_or_default();
        let policy_key = versions([policy]);
        let calendars_key = versions(calendars.iter().copied());
        if let (Some(p), Some(c), Some((built_p, built_c, resolved))) =
            (&policy_key, &calendars_key, self.policies.get(&name))
            && built_p == p
            && built_c == c
        {
            return resolved.clone();
        }
        let resolved = match rules::resolve(&name, &policy.spec) {
            Err(errors) => Resolved::Invalid(format!(
                "GovCloudPolicy {name:?} is invalid: {}",
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            )),
            Ok(mut rules) => match self.calendar(&rules.calendar, calendars, on_build) {
                Ok(cal) => {
                    // Recorded with a grant's rules, to say which version they are.
                    rules.generation = policy.meta().generation;
                    Resolved::Ready(Arc::new(rules), cal)
                }
                Err(msg) => Resolved::Invalid(format!("GovCloudPolicy {name:?}: {msg}")),
            },
        };
        if let (Some(p), Some(c)) = (policy_key, calendars_key) {
            self.policies.insert(name, (p, c, resolved.clone()));
        }
        resolved
    }

    /// Forgets policy `name` (deleted).
    pub fn forget_policy(&mut self, name: &str) {
        self.policies.remove(name);
    }

    /// How many policies and calendars are kept.
    pub fn len(&self) -> (usize, usize) {
        (self.policies.len(), self.calendars.len())
    }
}

#[cfg(test)]
#[path = "resolved_tests.rs"]
mod tests;
