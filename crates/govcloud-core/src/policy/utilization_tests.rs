use chrono::TimeZone;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::*;
use crate::api::{GovCloudPolicySpec, ResourceAmounts};
use crate::policy::rules::resolve;

fn t(m: u32, d: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(2026, m, d, 10, 0, 0)
        .unwrap()
        .with_timezone(&Utc)
}

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn rules(on_ignored: OnIgnored) -> Rules {
    let mut r = resolve("p", &GovCloudPolicySpec::default()).unwrap();
    r.utilization.on_ignored = on_ignored;
    r
}

fn grant() -> Amounts {
    Amounts::parse(
        "g",
        &ResourceAmounts {
            cpu: Some(IntOrString::String("8".into())),
            memory: Some(IntOrString::String("32Gi".into())),
            storage: Some(IntOrString::String("4Ti".into())),
            ..Default::default()
        },
    )
    .unwrap()
}

fn usage(cpu: &str, mem: &str, storage: &str, free_tib: Option<u64>) -> Measured {
    Measured {
        allocation: Some(Ratios {
            cpu: Some(d("0.5")),
            memory: Some(d("0.5")),
            ..Default::default()
        }),
        usage: Ok(Some(Usage {
            ratios: Ratios {
                cpu: Some(d(cpu)),
                memory: Some(d(mem)),
                storage: Some(d(storage)),
                storage_free: free_tib.map(|t| Decimal::from(t << 40)),
            },
            peak_cpu: Some(d("1.5")),
            peak_memory: Some(Decimal::from(5u64 << 30)),
        })),
    }
}

fn eval(
    rules: &Rules,
    prev: Option<&Utilization>,
    m: Option<&Measured>,
    objection: Option<&str>,
    last_downsize: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> UtilizationOutcome {
    let cal = Calendar::cn_statutory();
    let g = grant();
    evaluate(&UtilizationInputs {
        rules,
        calendar: &cal,
        started: t(1, 5),
        grant: &g,
        previous: prev,
        measured: m,
        objection,
        last_downsize,
        now,
    })
}

fn has(out: &UtilizationOutcome, type_: &str) -> bool {
    out.wanted.iter().any(|w| w.type_ == type_ && w.status)
}

#[test]
fn sn14_thresholds_low_high_and_in_between() {
    let r = rules(OnIgnored::Flag);
    let low = eval(
        &r,
        None,
        Some(&usage("0.05", "0.5", "0.5", None)),
        None,
        None,
        t(6, 1),
    );
    assert!(has(&low, types::LOW) && !has(&low, types::HIGH));
    assert_eq!(low.status.as_ref().unwrap().level.as_deref(), Some("Low"));
    assert_eq!(
        low.status
            .as_ref()
            .unwrap()
            .usage
            .as_ref()
            .unwrap()
            .cpu
            .as_deref(),
        Some("0.05")
    );
    let high = eval(
        &r,
        None,
        Some(&usage("0.7", "0.5", "0.5", None)),
        None,
        None,
        t(6, 1),
    );
    assert!(has(&high, types::HIGH) && !has(&high, types::LOW));
    let mid = eval(
        &r,
        None,
        Some(&usage("0.3", "0.5", "0.5", None)),
        None,
        None,
        t(6, 1),
    );
    assert!(!has(&mid, types::HIGH) && !has(&mid, types::LOW));
    assert_eq!(mid.status.unwrap().level.as_deref(), Some("Normal"));
    // Exactly at the thresholds: low is "<", high CPU is ">".
    let edge = eval(
        &r,
        None,
        Some(&usage("0.10", "0.30", "0.40", Some(0))),
        None,
        None,
        t(6, 1),
    );
    assert!(!has(&edge, types::LOW), "{:?}", edge.wanted);
    let edge = eval(
        &r,
        None,
        Some(&usage("0.60", "0.80", "0.5", None)),
        None,
        None,
        t(6, 1),
    );
    assert!(!has(&edge, types::HIGH), "{:?}", edge.wanted);
}

#[test]
fn sn14_storage_free_space_rules() {
    let r = rules(OnIgnored::Flag);
    let m = |s: &str, free: u64| {
        eval(
            &r,
            None,
            Some(&usage("0.3", "0.5", s, Some(free))),
            None,
            None,
            t(6, 1),
        )
    };
    assert!(
        has(&m("0.5", 2), types::LOW),
        "50 % used with 2 TiB free is low (< 60 % and > 1 TB free)"
    );
    assert!(
        !has(&m("0.5", 0), types::LOW),
        "50 % used with little free is fine"
    );
    assert!(
        has(&m("0.85", 0), types::HIGH),
        "≥ 80 % with < 1 TB free is high"
    );
    assert!(
        !has(&m("0.85", 2), types::HIGH),
        "≥ 80 % but plenty free is not high"
    );
    assert!(has(&m("0.80", 0), types::HIGH), "exactly 80 % counts (≥)");
}

#[test]
fn nothing_is_judged_in_the_grace_period() {
    let r = rules(OnIgnored::Flag);
    // Active 01-05 + 3 months grace = 04-07.
    let out = eval(
        &r,
        None,
        Some(&usage("0.01", "0.01", "0.01", None)),
        None,
        None,
        t(3, 1),
    );
    assert!(out.wanted.is_empty());
    let st = out.status.unwrap();
    assert_eq!(st.level, None);
    assert!(st.usage.is_some(), "figures are shown");
    assert!(st.monitored_from.unwrap() > t(4, 1));
}

#[test]
fn a_notice_then_downsize_objection_or_the_policy_outcome() {
    let r = rules(OnIgnored::Flag);
    let m = usage("0.05", "0.5", "0.5", None);
    let first = eval(&r, None, Some(&m), None, None, t(6, 1));
    let notice = first.status.as_ref().unwrap().notice.clone().unwrap();
    assert_eq!(notice.resources, ["cpu"]);
    assert!(
        first
            .notices
            .iter()
            .any(|n| n.reason == "OptimizationNotice")
    );
    assert_eq!(
        first.wake_at, None,
        "the respondBy wake comes from the next pass"
    );
    let prev = first.status.clone().unwrap();
    let waiting = eval(&r, Some(&prev), None, None, None, t(6, 2));
    assert_eq!(waiting.wake_at, Some(notice.respond_by));
    // A scale-down after the notice resolves it.
    let fixed = eval(&r, Some(&prev), None, None, Some(t(6, 3)), t(6, 3));
    assert_eq!(
        fixed.status.unwrap().notice.unwrap().outcome.as_deref(),
        Some("Downsized")
    );
    // An objection puts it before the bureau and holds the policy outcome.
    let objected = eval(
        &r,
        Some(&prev),
        None,
        Some("tax season starts in July"),
        None,
        notice.respond_by,
    );
    assert!(has(&objected, types::OBJECTED));
    assert!(
        objected
            .notices
            .iter()
            .any(|n| n.reason == "ObjectionFiled")
    );
    assert!(!has(&objected, types::BUDGET_EXCLUDED));
    // Ignored: Flag → BudgetExcluded.
    let ignored = eval(&r, Some(&prev), None, None, None, notice.respond_by);
    assert!(has(&ignored, types::BUDGET_EXCLUDED));
    assert!(ignored.notices.iter().any(|n| n.reason == "NoticeIgnored"));
}

#[test]
fn ignored_notices_downsize_to_the_peak_or_suspend() {
    let m = usage("0.05", "0.1", "0.5", None);
    let r = rules(OnIgnored::Downsize);
    let first = eval(&r, None, Some(&m), None, None, t(6, 1));
    let respond_by = first
        .status
        .as_ref()
        .unwrap()
        .notice
        .as_ref()
        .unwrap()
        .respond_by;
    let out = eval(&r, first.status.as_ref(), Some(&m), None, None, respond_by);
    let target = out.downsize.expect("automatic downsize");
    assert_eq!(
        target.get(ResourceKind::Cpu),
        d("2"),
        "peak 1.5 cores + 20 % → 2"
    );
    assert_eq!(
        target.get(ResourceKind::Memory),
        Decimal::from(6u64 << 30),
        "peak 5 GiB + 20 % → 6 GiB"
    );
    assert!(!out.suspend);
    let r = rules(OnIgnored::Reclaim);
    let first = eval(&r, None, Some(&m), None, None, t(6, 1));
    let out = eval(&r, first.status.as_ref(), None, None, None, respond_by);
    assert!(out.suspend, "SH 25: suspended");
}

#[test]
fn missing_metrics_are_flagged_and_never_acted_on() {
    let r = rules(OnIgnored::Reclaim);
    let failing = Measured {
        allocation: Some(Ratios {
            cpu: Some(d("0.0")),
            memory: Some(d("0.0")),
            ..Default::default()
        }),
        usage: Err("connection refused".into()),
    };
    let first = eval(&r, None, Some(&failing), None, None, t(6, 1));
    assert!(has(&first, types::METRICS_UNAVAILABLE));
    assert!(has(&first, types::LOW), "allocation figures still judged");
    assert_eq!(first.status.as_ref().unwrap().source, "Allocation");
    let respond_by = first
        .status
        .as_ref()
        .unwrap()
        .notice
        .as_ref()
        .unwrap()
        .respond_by;
    let later = eval(
        &r,
        first.status.as_ref(),
        Some(&failing),
        None,
        None,
        respond_by,
    );
    assert!(!later.suspend, "nothing reclaimed on missing data");
    assert!(later.status.unwrap().notice.unwrap().outcome.is_none());
}

#[test]
fn unchanged_figures_keep_their_timestamp() {
    let r = rules(OnIgnored::Flag);
    let m = usage("0.3", "0.5", "0.5", None);
    let first = eval(&r, None, Some(&m), None, None, t(6, 1));
    let again = eval(&r, first.status.as_ref(), Some(&m), None, None, t(6, 2));
    assert_eq!(
        again.status, first.status,
        "a converged request is not rewritten"
    );
}
