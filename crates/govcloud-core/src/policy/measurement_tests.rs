use chrono::TimeZone;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::*;
use crate::api::ResourceAmounts;

fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, h, m, s).unwrap()
}

const HOUR: Duration = Duration::from_secs(3600);

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

#[test]
fn a_measurement_without_allocation_is_retried_soon_then_less_often() {
    let now = at(10, 0, 0);
    let first = MeasurementSchedule::after(None, false, now, HOUR);
    assert_eq!((first.due - now, first.misses), (TimeDelta::seconds(5), 1));
    let second = MeasurementSchedule::after(Some(first), false, now, HOUR);
    assert_eq!(second.due - now, TimeDelta::seconds(10));
    let mut s = second;
    for _ in 0..40 {
        s = MeasurementSchedule::after(Some(s), false, now, HOUR);
    }
    assert_eq!(
        s.due - now,
        TimeDelta::hours(1),
        "never later than the interval"
    );
    let complete = MeasurementSchedule::after(Some(s), true, now, HOUR);
    assert_eq!(
        (complete.due - now, complete.misses),
        (TimeDelta::hours(1), 0)
    );
}

#[test]
fn a_never_measured_tenant_is_first_measured_shortly_after_activation() {
    let active = at(10, 0, 0);
    let s = MeasurementSchedule::resume(None, Some(active), "uid-a", at(10, 0, 10), HOUR);
    assert_eq!(s.due, at(10, 0, 30), "30 s after activation, no jitter");
    let short =
        MeasurementSchedule::resume(None, Some(active), "uid-a", active, Duration::from_secs(5));
    assert_eq!(short.due, at(10, 0, 5), "never after the interval");
}

#[test]
fn a_resumed_schedule_counts_from_taken_at_plus_the_interval() {
    // Measured at 10:00 with an hourly interval; the operator restarts at 10:20: the next
    // measurement stays near 11:00, not at 10:20.
    let s = MeasurementSchedule::resume(Some(at(10, 0, 0)), None, "uid-a", at(10, 20, 0), HOUR);
    assert!(s.due >= at(11, 0, 0), "{}", s.due);
    assert!(
        s.due < at(11, 15, 0),
        "jitter stays within a quarter: {}",
        s.due
    );
    assert_eq!(
        s.due - at(11, 0, 0),
        TimeDelta::from_std(jitter("uid-a", HOUR)).unwrap()
    );
}

#[test]
fn overdue_tenants_are_spread_rather_than_measured_at_once() {
    // Everything measured at 10:00, the operator back only at 13:00: all are overdue, and
    // each is due at a different moment of the following quarter interval.
    let now = at(13, 0, 0);
    let dues: std::collections::BTreeSet<DateTime<Utc>> = (0..200)
        .map(|i| {
            MeasurementSchedule::resume(Some(at(10, 0, 0)), None, &format!("uid-{i}"), now, HOUR)
                .due
        })
        .collect();
    assert!(dues.iter().all(|d| *d >= now && *d < at(13, 15, 0)));
    assert!(
        dues.len() > 190,
        "spread, not bunched: {} distinct",
        dues.len()
    );
    let firsts = dues.iter().filter(|d| **d < at(13, 0, 10)).count();
    assert!(firsts < 20, "few due in the first seconds: {firsts}");
}

#[test]
fn jitter_is_fixed_per_uid_and_within_its_spread() {
    assert_eq!(jitter("uid-a", HOUR), jitter("uid-a", HOUR));
    assert_ne!(jitter("uid-a", HOUR), jitter("uid-b", HOUR));
    for i in 0..1000 {
        assert!(jitter(&format!("{i}"), HOUR) < HOUR / JITTER_SPREAD);
    }
    assert_eq!(jitter("uid-a", Duration::from_millis(3)), Duration::ZERO);
    // The value itself is stable across processes and builds (FNV-1a, not std's keyed
    // hasher): a restarted operator keeps each tenant's place.
    assert_eq!(stable_hash("a"), 0xaf63_dc4c_8601_ec8c);
}

#[test]
fn a_batched_answer_is_split_by_namespace_without_inventing_zeros() {
    let figures = by_namespace([
        (Some("tenant-a"), 0.25),
        (Some("tenant-b"), 3.0),
        (None, 7.0),
        (Some(""), 7.0),
        (Some("tenant-nan"), f64::NAN),
        (Some("tenant-inf"), f64::INFINITY),
    ]);
    assert_eq!(
        figures.into_iter().collect::<Vec<_>>(),
        [
            ("tenant-a".to_string(), d("0.25")),
            ("tenant-b".to_string(), d("3"))
        ]
    );
}

#[test]
fn each_tenant_gets_its_own_figures_from_the_batch() {
    let grant = Amounts::parse(
        "g",
        &ResourceAmounts {
            cpu: Some(IntOrString::String("8".into())),
            memory: Some(IntOrString::String("8Gi".into())),
            ..Default::default()
        },
    )
    .unwrap();
    let gib = d("1073741824");
    let one = |ns: &str, v: Decimal| BTreeMap::from([(ns.to_string(), v)]);
    let mut batch = BatchedUsage {
        avg_cpu: one("a", d("2")),
        peak_cpu: one("a", d("4")),
        avg_memory: one("a", d("4") * gib),
        peak_memory: one("a", d("6") * gib),
        avg_used: one("a", d("25")),
        avg_capacity: one("a", d("100")),
    };
    batch.avg_cpu.insert("b".into(), d("0.8"));
    let a = batch.usage("a", &grant);
    assert_eq!(a.ratios.cpu, Some(d("0.25")));
    assert_eq!(a.ratios.memory, Some(d("0.5")));
    assert_eq!(a.ratios.storage, Some(d("0.25")));
    assert_eq!(a.ratios.storage_free, Some(d("75")));
    assert_eq!(
        (a.peak_cpu, a.peak_memory),
        (Some(d("4")), Some(d("6") * gib))
    );
    // b has CPU only: the rest is absent, not zero.
    let b = batch.usage("b", &grant);
    assert_eq!(b.ratios.cpu, Some(d("0.1")));
    assert_eq!(
        (b.ratios.memory, b.ratios.storage, b.ratios.storage_free),
        (None, None, None)
    );
    assert_eq!(b.peak_cpu, None);
    // A namespace missing from the answer has no figures at all.
    assert_eq!(batch.usage("c", &grant), Usage::default());
    // A zero grant gives no ratio rather than a division by zero.
    assert_eq!(batch.usage("a", &Amounts::default()).ratios.cpu, None);
}

#[test]
fn a_share_beyond_any_ratio_or_of_nothing_is_no_figure() {
    let tiny = Decimal::new(1, 3); // a `1m` CPU grant
    assert_eq!(share(Some(Decimal::MAX), tiny), None);
    assert_eq!(share(Some(Decimal::ONE), Decimal::ZERO), None);
    assert_eq!(share(None, tiny), None);
    assert_eq!(
        share(Some(Decimal::new(5, 4)), tiny),
        Some(Decimal::new(5, 1))
    );
}

#[test]
fn a_retry_waiting_for_figures_is_due_as_soon_as_they_come() {
    let now = Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap();
    let interval = std::time::Duration::from_secs(86_400);
    let mut missed = MeasurementSchedule::after(None, false, now, interval);
    for _ in 0..8 {
        missed = MeasurementSchedule::after(Some(missed), false, now, interval);
    }
    assert!(missed.due - now > TimeDelta::minutes(10), "backed off");
    assert!(
        !missed.is_due(now, || false),
        "no figures yet: wait for the retry"
    );
    assert!(
        missed.is_due(now, || true),
        "the quota's figures came: measure now"
    );
    assert!(missed.is_due(missed.due, || false), "the retry's own time");
    // A regular schedule waits for its time whatever the quota shows.
    let regular = MeasurementSchedule::after(Some(missed), true, now, interval);
    assert!(!regular.is_due(now, || true));
}
