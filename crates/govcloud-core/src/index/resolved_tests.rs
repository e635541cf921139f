use super::*;
use crate::api::{GovCloudPolicySpec, WorkCalendarSpec};

fn wc(name: &str, rv: Option<&str>) -> WorkCalendar {
    let mut c = WorkCalendar::new(name, WorkCalendarSpec::default());
    c.metadata.resource_version = rv.map(String::from);
    c.metadata.uid = Some(format!("uid-{name}"));
    c
}

fn policy(rv: Option<&str>, time_zone: Option<&str>, calendar: Option<&str>) -> GovCloudPolicy {
    let mut p = GovCloudPolicy::new(
        "p",
        GovCloudPolicySpec {
            time_zone: time_zone.map(String::from),
            calendar: calendar.map(String::from),
            ..Default::default()
        },
    );
    p.metadata.resource_version = rv.map(String::from);
    p.metadata.uid = Some("uid-p".into());
    p.metadata.generation = Some(3);
    p
}

fn ready(r: &Resolved) -> (Arc<Rules>, Calendar) {
    match r {
        Resolved::Ready(rules, cal) => (rules.clone(), cal.clone()),
        Resolved::Invalid(msg) => panic!("invalid: {msg}"),
    }
}

#[test]
fn a_policy_is_resolved_once_per_version_of_it_and_its_calendars() {
    let mut cache = ResolvedCache::default();
    let mut builds = 0;
    let mut count = |_: Built<'_>| builds += 1;
    let (a1, b1) = (wc("a", Some("1")), wc("b", Some("7")));
    let p1 = policy(Some("10"), None, None);
    let (first, _) = ready(&cache.policy(&p1, &[&a1, &b1], &mut count));
    assert_eq!(
        first.generation,
        Some(3),
        "the policy's generation is recorded"
    );
    let (again, _) = ready(&cache.policy(&p1, &[&b1, &a1], &mut count));
    assert!(
        Arc::ptr_eq(&first, &again),
        "kept: same policy, same calendars"
    );

    let p2 = policy(Some("11"), None, None);
    let (edited, _) = ready(&cache.policy(&p2, &[&a1, &b1], &mut count));
    assert!(
        !Arc::ptr_eq(&first, &edited),
        "an edited policy is resolved again"
    );

    let a2 = wc("a", Some("2"));
    let (recounted, _) = ready(&cache.policy(&p2, &[&a2, &b1], &mut count));
    assert!(
        !Arc::ptr_eq(&edited, &recounted),
        "a changed WorkCalendar too"
    );
    let (dropped, _) = ready(&cache.policy(&p2, &[&a2], &mut count));
    assert!(!Arc::ptr_eq(&recounted, &dropped), "and a deleted one");
    assert_eq!(
        builds, 3,
        "the calendar is built once per set of WorkCalendars"
    );
}

#[test]
fn nothing_is_kept_without_resource_versions() {
    let mut cache = ResolvedCache::default();
    let mut builds = 0;
    let mut count = |_: Built<'_>| builds += 1;
    let unversioned = policy(None, None, None);
    let a = wc("a", Some("1"));
    let (x, _) = ready(&cache.policy(&unversioned, &[&a], &mut count));
    let (y, _) = ready(&cache.policy(&unversioned, &[&a], &mut count));
    assert!(!Arc::ptr_eq(&x, &y));
    let versioned = policy(Some("1"), None, None);
    let loose = wc("a", None);
    let (x, _) = ready(&cache.policy(&versioned, &[&loose], &mut count));
    let (y, _) = ready(&cache.policy(&versioned, &[&loose], &mut count));
    assert!(!Arc::ptr_eq(&x, &y));
    assert_eq!(
        builds, 3,
        "the versioned calendar is built once, that of unversioned WorkCalendars each time"
    );
    assert_eq!(cache.len(), (0, 1), "only the versioned calendar is kept");
}

#[test]
fn an_unusable_policy_is_kept_with_every_reason() {
    let mut cache = ResolvedCache::default();
    let mut none = |_: Built<'_>| {};
    let bad_zone = policy(Some("1"), Some("Mars/Base"), None);
    match cache.policy(&bad_zone, &[], &mut none) {
        Resolved::Invalid(msg) => assert!(
            msg.starts_with("GovCloudPolicy \"p\" is invalid: ") && msg.contains("spec.timeZone"),
            "{msg}"
        ),
        Resolved::Ready(..) => panic!("a bad time zone is not usable"),
    }
    let no_calendar = policy(Some("2"), None, Some("gone"));
    match cache.policy(&no_calendar, &[], &mut none) {
        Resolved::Invalid(msg) => {
            assert!(msg.starts_with("GovCloudPolicy \"p\": "), "{msg}")
        }
        Resolved::Ready(..) => panic!("a missing WorkCalendar is not usable"),
    }
    // Once the calendar exists the same policy resolves: its versions changed.
    let gone = wc("gone", Some("5"));
    ready(&cache.policy(&no_calendar, &[&gone], &mut none));
    cache.forget_policy("p");
    assert_eq!(cache.len().0, 0);
}

#[test]
fn the_calendar_is_the_composed_one_with_provisional_years() {
    let mut cache = ResolvedCache::default();
    let mut none = |_: Built<'_>| {};
    let cal = cache
        .calendar(crate::policy::rules::CN_STATUTORY, &[], &mut none)
        .unwrap();
    let (direct, _) = compose_calendar(crate::policy::rules::CN_STATUTORY, []).unwrap();
    assert_eq!(cal, direct.with_provisional());
}
