use chrono::{DateTime, Duration, TimeZone, Utc};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::*;
use crate::api::{
    Approval, CloudResourceRequestSpec, Decision, GovCloudPolicy, RecordedRules, RequestPhase,
    ResourceAmounts, SystemInfo, Zone,
};
use crate::policy::calendar::Calendar;
use crate::policy::conditions::{self, types};
use crate::policy::quantity::Amounts;
use crate::policy::request::{Action, Inputs, Outcome, TenantState, decide};

const PRESETS: [&str; 5] = ["guiyang", "yixing", "suining", "xishuangbanna", "shanghai"];
const CLASSES: [RequestClass; 5] = [
    RequestClass::Production,
    RequestClass::Test,
    RequestClass::Development,
    RequestClass::Emergency,
    RequestClass::Temporary,
];

fn preset(name: &str) -> Rules {
    let path = format!(
        "{}/../../examples/policies/{name}.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let p: GovCloudPolicy = serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    resolve(name, &p.spec).unwrap()
}

/// A policy in seconds, as the integration tests use: Test grants last 40 s, are warned
/// 10 s before, and are reclaimed 20 s after expiry.
fn fast() -> Rules {
    let spec: GovCloudPolicySpec = serde_yaml::from_str(
        "{calendar: cn-statutory, classes: {Test: {maxDuration: 40s}}, \
          expiry: {warnBefore: 10s, suspendFor: 20s}, deployment: {within: 1h}}",
    )
    .unwrap();
    let mut rules = resolve("fast", &spec).unwrap();
    rules.generation = Some(3);
    rules
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 2, 0, 0).unwrap()
}

fn spec() -> CloudResourceRequestSpec {
    CloudResourceRequestSpec {
        policy: Some("fast".into()),
        class: RequestClass::Test,
        applicant_unit: "unit".into(),
        user_unit: None,
        system: SystemInfo {
            name: "sys".into(),
            security_level: 2,
            zone: Zone::EGovExtranet,
        },
        project: None,
        resources: ResourceAmounts {
            cpu: Some(IntOrString::String("2".into())),
            ..Default::default()
        },
        duration: None,
        workload: None,
        emergency: false,
        migration: None,
        access: None,
        tenant_namespace: None,
    }
}

struct World {
    spec: CloudResourceRequestSpec,
    status: CloudResourceRequestStatus,
    tenant: TenantState,
    calendar: Calendar,
}

impl World {
    fn decide(
        &self,
        policy: PolicyState<'_>,
        calendar_gone: Option<&str>,
        now: DateTime<Utc>,
    ) -> Outcome {
        decide(&Inputs {
            name: "r",
            namespace: "unit",
            uid: "uid-1",
            spec_policy: self.spec.policy.as_deref().unwrap_or("default"),
            generation: 1,
            spec: &self.spec,
            status: &self.status,
            deleting: false,
            policy,
            calendar: &self.calendar,
            calendar_gone,
            operator_namespace: "govcloud-system",
            tenant: Some(self.tenant.clone()),
            has_pods: None,
            capacity_in_use: &Amounts::default(),
            exit_reclaim: false,
            pending_changes: &[],
            measured: None,
            objection: None,
            now,
        })
    }

    /// Decides and keeps the status, as the controller does once the action succeeded.
    fn step(&mut self, policy: PolicyState<'_>, now: DateTime<Utc>) -> Outcome {
        let out = self.decide(policy, None, now);
        self.status = out.status.clone();
        match out.action {
            Action::Activate { .. } | Action::Suspend { .. } => {
                self.tenant = TenantState::Owned { terminating: false }
            }
            Action::Reclaim { .. } => self.tenant = TenantState::Absent,
            _ => {}
        }
        out
    }

    /// An Active Test grant of the fast policy, opened at `t0()`.
    fn active(rules: &Rules) -> World {
        let mut w = World {
            spec: spec(),
            status: CloudResourceRequestStatus::default(),
            tenant: TenantState::Absent,
            calendar: Calendar::cn_statutory(),
        };
        w.status.approval = Some(Approval {
            decision: Decision::Approved,
            reviewer: Some("alice".into()),
            comment: None,
            decided_at: None,
            generation: None,
            reclaim_override: None,
            paperwork_complete: None,
        });
        w.step(PolicyState::Ready(rules), t0());
        w.step(PolicyState::Ready(rules), t0());
        assert_eq!(w.status.phase, Some(RequestPhase::Active));
        w
    }
}

fn deadlines(out: &Outcome) -> crate::api::RequestDeadlines {
    out.status.deadlines.clone().unwrap_or_default()
}

/// Every field a decision after the grant reads is the same after a round trip; only what
/// is deliberately not recorded differs.
#[test]
fn a_record_restores_the_rules_it_was_made_from() {
    for name in PRESETS {
        let live = preset(name);
        for class in CLASSES {
            let recorded = record(&live, class);
            // It survives the API: what is written to status is what is read back.
            let json = serde_json::to_string(&recorded).unwrap();
            let read: GrantedRules = serde_json::from_str(&json).unwrap();
            assert_eq!(read, recorded);
            let restored = restore(&read).unwrap_or_else(|e| panic!("{name} {class:?}: {e:?}"));
            let mut expected = live.clone();
            expected.classes.retain(|c, _| *c == class);
            // Not recorded: review periods, emergency limits and the jurisdiction (before
            // the grant), the pool (the live policy's).
            expected.review_accept = restored.review_accept;
            expected.emergency = restored.emergency.clone();
            expected.review_decide = restored.review_decide;
            expected.jurisdiction = restored.jurisdiction.clone();
            expected.capacity = None;
            assert_eq!(restored, expected, "{name} {class:?}");
        }
    }
}

/// The round trip gives the same deadlines for a granted time-boxed request.
#[test]
fn recorded_rules_give_the_same_deadlines_as_the_policy() {
    let live = preset("shanghai");
    let mut w = World::active(&live);
    w.spec.class = RequestClass::Temporary;
    w.status.granted_class = Some(RequestClass::Temporary);
    w.status.granted_rules = RecordedRules(Some(record(&live, RequestClass::Temporary).into()));
    let restored = restore(w.status.granted_rules.get().unwrap()).unwrap();
    let now = t0() + Duration::days(40);
    let by_policy = w.decide(PolicyState::Ready(&live), None, now);
    let by_record = w.decide(PolicyState::Ready(&restored), None, now);
    assert!(deadlines(&by_policy).reclaim_at.is_some());
    assert_eq!(deadlines(&by_record), deadlines(&by_policy));
    assert_eq!(
        by_record.status.next_deadline,
        by_policy.status.next_deadline
    );
    assert_eq!(by_record.status.billing, by_policy.status.billing);
}

#[test]
fn the_rules_are_recorded_with_the_grant() {
    let rules = fast();
    let w = World::active(&rules);
    let recorded = w.status.granted_rules.get().expect("recorded");
    assert_eq!(recorded.policy, "fast");
    assert_eq!(recorded.policy_generation, Some(3));
    assert_eq!(recorded.class, Some(RequestClass::Test));
    let expiry = recorded.rules.expiry.as_ref().unwrap();
    assert_eq!(expiry.suspend_for.as_deref(), Some("20s"));
    assert!(recorded.rules.review.is_none() && recorded.rules.capacity.is_none());
}

/// A grant made by the previous release (no record) gets one on its next pass while the
/// policy is valid — one write — and none after that.
#[test]
fn an_older_grant_gets_its_record_once() {
    let rules = fast();
    let mut w = World::active(&rules);
    w.status.granted_rules = RecordedRules::default();
    let now = t0() + Duration::seconds(5);
    let upgraded = w.step(PolicyState::Ready(&rules), now);
    assert_eq!(
        upgraded.status.granted_rules,
        RecordedRules(Some(record(&rules, RequestClass::Test).into()))
    );
    assert!(upgraded.notices.is_empty(), "no Event for the record");
    let again = w.decide(PolicyState::Ready(&rules), None, now + Duration::seconds(1));
    assert_eq!(again.status, w.status, "recorded once");
}

/// The policy is deleted after the grant: the grant is still suspended at its expiry and
/// reclaimed at its reclaim time, by the recorded rules; the condition says so.
#[test]
fn a_grant_outlives_its_deleted_policy() {
    let rules = fast();
    let mut w = World::active(&rules);
    let before = deadlines(&w.decide(PolicyState::Ready(&rules), None, t0()));
    let expires_at = before.expires_at.unwrap();
    let reclaim_at = before.reclaim_at.unwrap();
    assert_eq!(expires_at, t0() + Duration::seconds(40));

    let gone = PolicyState::Missing("fast");
    let out = w.step(gone, t0() + Duration::seconds(5));
    assert_eq!(out.status.phase, Some(RequestPhase::Active), "not Invalid");
    assert_eq!(deadlines(&out), before, "the same deadlines");
    assert_eq!(
        out.wake_at.map(|t| t <= expires_at),
        Some(true),
        "still woken"
    );
    let c = conditions::find(&out.status.conditions, types::POLICY_UNAVAILABLE).unwrap();
    assert_eq!(
        (c.status.as_str(), c.reason.as_str()),
        ("True", reasons::MISSING)
    );
    assert!(
        c.message.contains("GovCloudPolicy \"fast\" not found"),
        "{}",
        c.message
    );
    assert!(c.message.contains("generation 3"), "{}", c.message);
    assert!(
        out.notices
            .iter()
            .any(|n| n.reason == "PolicyUnavailable" && n.warning)
    );
    assert!(!conditions::is_true(&out.status.conditions, types::INVALID));

    let suspended = w.step(gone, expires_at);
    assert_eq!(suspended.status.phase, Some(RequestPhase::Suspended));
    assert!(matches!(suspended.action, Action::Suspend { .. }));
    assert_eq!(suspended.wake_at, Some(reclaim_at));

    let reclaiming = w.step(gone, reclaim_at);
    assert_eq!(reclaiming.status.phase, Some(RequestPhase::Reclaiming));
    assert!(matches!(reclaiming.action, Action::Reclaim { .. }));
    let reclaimed = w.step(gone, reclaim_at + Duration::seconds(1));
    assert_eq!(reclaimed.status.phase, Some(RequestPhase::Reclaimed));
    assert!(
        conditions::is_true(&reclaimed.status.conditions, types::POLICY_UNAVAILABLE),
        "still said"
    );
}

/// Negative control: a request that holds no grant waits for a valid policy, as before.
#[test]
fn a_request_without_a_grant_waits_for_its_policy() {
    let rules = fast();
    let mut w = World::active(&rules);
    w.status = CloudResourceRequestStatus {
        approval: w.status.approval.clone(),
        ..Default::default()
    };
    w.tenant = TenantState::Absent;
    let out = w.step(PolicyState::Missing("fast"), t0());
    assert_eq!(out.status.phase, Some(RequestPhase::Invalid));
    assert_eq!(out.action, Action::None, "nothing is provisioned");
    assert!(out.status.grant.is_none() && out.status.granted_rules.get().is_none());
    assert_eq!(out.wake_at, None);
    // And a granted request with no record (its policy went away before it got one)
    // cannot go on by rules it does not have.
    let mut old = World::active(&rules);
    old.status.granted_rules = RecordedRules::default();
    let out = old.step(PolicyState::Missing("fast"), t0() + Duration::seconds(5));
    assert_eq!(out.status.phase, Some(RequestPhase::Invalid));
}

/// A policy made invalid (a bad duration) rather than deleted: the same, with the reason
/// PolicyInvalid and the policy's own message quoted once — not as a policy name.
#[test]
fn a_grant_outlives_its_broken_policy() {
    let rules = fast();
    let mut broken: GovCloudPolicySpec =
        serde_yaml::from_str("{expiry: {suspendFor: 20 s}}").unwrap();
    broken.calendar = Some("cn-statutory".into());
    let errors = resolve("fast", &broken).unwrap_err();
    let why = format!("GovCloudPolicy \"fast\" is invalid: {}", errors[0]);
    let mut w = World::active(&rules);
    let expires_at = deadlines(&w.decide(PolicyState::Ready(&rules), None, t0()))
        .expires_at
        .unwrap();
    let out = w.step(PolicyState::Invalid(&why), t0() + Duration::seconds(5));
    assert_eq!(out.status.phase, Some(RequestPhase::Active));
    let c = conditions::find(&out.status.conditions, types::POLICY_UNAVAILABLE).unwrap();
    assert_eq!(c.reason, reasons::INVALID);
    assert!(c.message.starts_with(&why), "{}", c.message);
    assert!(
        c.message.contains("spec.expiry.suspendFor"),
        "{}",
        c.message
    );
    let suspended = w.step(PolicyState::Invalid(&why), expires_at);
    assert_eq!(suspended.status.phase, Some(RequestPhase::Suspended));

    // Without a grant the request is Invalid, and the message quotes the reason once.
    let fresh = World {
        spec: spec(),
        status: CloudResourceRequestStatus::default(),
        tenant: TenantState::Absent,
        calendar: Calendar::cn_statutory(),
    };
    let out = fresh.decide(PolicyState::Invalid(&why), None, t0());
    let invalid = conditions::find(&out.status.conditions, types::INVALID).unwrap();
    assert_eq!(invalid.message, format!("spec.policy: {why}"));
}

/// The named WorkCalendar is gone as well: the embedded calendar is used and said to be.
#[test]
fn a_lost_calendar_is_named_in_the_condition() {
    let rules = fast();
    let w = World::active(&rules);
    let gone = "spec.calendar: WorkCalendar \"ops\" not found";
    let out = w.decide(
        PolicyState::Missing("fast"),
        Some(gone),
        t0() + Duration::seconds(5),
    );
    let c = conditions::find(&out.status.conditions, types::POLICY_UNAVAILABLE).unwrap();
    assert!(c.message.contains(gone), "{}", c.message);
    assert!(c.message.contains("embedded cn-statutory"), "{}", c.message);
}

/// The policy comes back: a request that went on by its record loses the condition (one
/// write); a request that never had it decides exactly the status it has (no write).
#[test]
fn a_returning_policy_rewrites_only_what_changed() {
    let rules = fast();
    let now = t0() + Duration::seconds(5);
    let mut w = World::active(&rules);
    let settled = w.step(PolicyState::Ready(&rules), now).status;
    let during = w.step(PolicyState::Missing("fast"), now).status;
    let back = w.decide(PolicyState::Ready(&rules), None, now + Duration::seconds(1));
    let mut expected = during.clone();
    expected
        .conditions
        .retain(|c| c.type_ != types::POLICY_UNAVAILABLE);
    assert_eq!(back.status, expected, "only the condition goes");
    assert_eq!(back.status, settled);
    assert!(back.notices.is_empty());

    let untouched = World::active(&rules);
    let again = untouched.decide(PolicyState::Ready(&rules), None, now);
    assert_eq!(
        again.status, untouched.status,
        "never had the condition: no write"
    );
    // Deciding again while the policy is still missing writes nothing new either.
    let mut still = World::active(&rules);
    let first = still.step(PolicyState::Missing("fast"), now).status;
    let second = still.decide(
        PolicyState::Missing("fast"),
        None,
        now + Duration::seconds(2),
    );
    assert_eq!(second.status, first);
    assert!(second.notices.is_empty());
}

/// 10,000 requests are held in memory: the record stays small (about 1 kB of JSON for the
/// fullest preset), because only what decisions after a grant read is in it.
#[test]
fn a_record_is_compact() {
    for name in PRESETS {
        for class in CLASSES {
            let json = serde_json::to_string(&record(&preset(name), class)).unwrap();
            assert!(
                json.len() < 1_200,
                "{name} {class:?}: {} bytes: {json}",
                json.len()
            );
        }
    }
    let path = format!(
        "{}/../../examples/policies/shanghai.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let whole: GovCloudPolicy =
        serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let whole = serde_json::to_string(&whole.spec).unwrap();
    let recorded = serde_json::to_string(&record(&preset("shanghai"), RequestClass::Test)).unwrap();
    assert!(
        recorded.len() < whole.len(),
        "{} vs the whole policy's {}",
        recorded.len(),
        whole.len()
    );
}

/// The record is written to status under the policy's schema: a money value with more than
/// four decimals (GY 9's 100,000 a year is 8,333.33… a month) would make the API server
/// refuse every status write of the request. Yearly amounts are written as such.
#[test]
fn every_recorded_amount_fits_the_money_pattern() {
    fn fits(text: &str) -> bool {
        let (int, frac) = text.split_once('.').unwrap_or((text, ""));
        (1..=12).contains(&int.len())
            && int.bytes().all(|b| b.is_ascii_digit())
            && frac.len() <= 4
            && frac.bytes().all(|b| b.is_ascii_digit())
    }
    let mut all: Vec<Rules> = PRESETS.iter().map(|p| preset(p)).collect();
    all.push(resolve("default", &GovCloudPolicySpec::default()).unwrap());
    let odd: GovCloudPolicySpec = serde_yaml::from_str(
        "{changes: {justificationAbove: {amount: \"1000.0001\", period: Year}}}",
    )
    .unwrap();
    all.push(resolve("odd", &odd).unwrap());
    for rules in all {
        let recorded = record(&rules, RequestClass::Test);
        let changes = recorded.rules.changes.as_ref().unwrap();
        let j = changes.justification_above.as_ref().unwrap();
        let prices = recorded.rules.prices.as_ref().unwrap();
        for m in [
            &j.amount,
            &j.monthly_cost,
            &prices.cpu,
            &prices.memory,
            &prices.storage,
            &prices.gpu,
            &prices.load_balancers,
            &prices.public_ips,
        ]
        .into_iter()
        .flatten()
        {
            assert!(fits(m), "{}: {m:?}", rules.name);
        }
        assert_eq!(
            restore(&recorded).unwrap().justification_monthly_cost,
            rules.justification_monthly_cost,
            "{}",
            rules.name
        );
    }
    let default = record(
        &resolve("default", &GovCloudPolicySpec::default()).unwrap(),
        RequestClass::Test,
    );
    let j = default.rules.changes.unwrap().justification_above.unwrap();
    assert_eq!(
        (j.amount.as_deref(), j.period),
        (Some("100000"), Some(CostPeriod::Year))
    );
}
