use chrono::TimeZone;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::*;
use crate::api::{GovCloudPolicySpec, ProjectInfo, ResourceAmounts, SystemInfo, Zone};
use crate::policy::rules::resolve;

fn t(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    // Hours are Beijing time.
    chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(y, m, d, h, 0, 0)
        .unwrap()
        .with_timezone(&Utc)
}

fn rules() -> Rules {
    let yaml = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/policies/xishuangbanna.yaml"
    ))
    .unwrap();
    let p: crate::api::GovCloudPolicy = serde_yaml::from_str(&yaml).unwrap();
    resolve("xishuangbanna", &p.spec).unwrap()
}

fn spec(class: RequestClass) -> CloudResourceRequestSpec {
    CloudResourceRequestSpec {
        policy: Some("xishuangbanna".into()),
        class,
        applicant_unit: "州财政局".into(),
        user_unit: None,
        system: SystemInfo {
            name: "tax-portal".into(),
            security_level: 3,
            zone: Zone::EGovExtranet,
        },
        project: None,
        resources: ResourceAmounts {
            cpu: Some(IntOrString::String("8".into())),
            memory: Some(IntOrString::String("32Gi".into())),
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
    rules: Rules,
    calendar: Calendar,
    spec: CloudResourceRequestSpec,
    status: CloudResourceRequestStatus,
    generation: i64,
    tenant: Option<TenantState>,
    has_pods: Option<bool>,
    in_use: Amounts,
    deleting: bool,
    exit_reclaim: bool,
    changes: Vec<crate::policy::change::GrantChange>,
}

impl World {
    fn new(class: RequestClass) -> Self {
        World {
            rules: rules(),
            calendar: Calendar::cn_statutory(),
            spec: spec(class),
            status: CloudResourceRequestStatus::default(),
            generation: 1,
            tenant: Some(TenantState::Absent),
            has_pods: None,
            in_use: Amounts::default(),
            deleting: false,
            exit_reclaim: false,
            changes: Vec::new(),
        }
    }

    fn decide(&self, now: DateTime<Utc>) -> Outcome {
        decide(&Inputs {
            name: "tax-portal",
            namespace: "unit-finance",
            uid: "uid-1",
            generation: self.generation,
            spec: &self.spec,
            status: &self.status,
            deleting: self.deleting,
            policy: PolicyState::Ready(&self.rules),
            calendar: &self.calendar,
            calendar_gone: None,
            operator_namespace: "govcloud-system",
            tenant: self.tenant.clone(),
            has_pods: self.has_pods,
            capacity_in_use: &self.in_use,
            exit_reclaim: self.exit_reclaim,
            pending_changes: &self.changes,
            measured: None,
            objection: None,
            now,
        })
    }

    /// Decides and stores the status, as the controller does after a successful action.
    fn step(&mut self, now: DateTime<Utc>) -> Outcome {
        let out = self.decide(now);
        self.status = out.status.clone();
        if matches!(out.action, Action::Activate { .. } | Action::Suspend { .. }) {
            self.tenant = Some(TenantState::Owned { terminating: false });
        }
        out
    }

    fn approve(&mut self, generation: Option<i64>) {
        self.status.approval = Some(Approval {
            decision: Decision::Approved,
            reviewer: Some("alice".into()),
            comment: None,
            decided_at: None,
            generation,
            reclaim_override: None,
            paperwork_complete: None,
        });
    }

    fn reject(&mut self, why: &str) {
        self.status.approval = Some(Approval {
            decision: Decision::Rejected,
            reviewer: Some("alice".into()),
            comment: Some(why.into()),
            decided_at: None,
            generation: None,
            reclaim_override: None,
            paperwork_complete: None,
        });
    }

    fn cond(&self, type_: &str) -> Option<&crate::api::Condition> {
        conditions::find(&self.status.conditions, type_)
    }
}

#[test]
fn a_new_request_is_submitted_with_a_review_deadline_in_working_days() {
    let mut w = World::new(RequestClass::Production);
    // Filed Wednesday 2026-09-30 18:00: 5 wd to accept, 5 wd to decide (XB 20). The days
    // counted: 10-08, 10-09, 10-10 (make-up Saturday), 10-12, 10-13 | 10-14 .. 10-20.
    let out = w.step(t(2026, 9, 30, 18));
    assert_eq!(out.status.phase, Some(RequestPhase::Submitted));
    let review_by = out
        .status
        .deadlines
        .as_ref()
        .and_then(|d| d.review_by)
        .unwrap();
    assert_eq!(review_by, t(2026, 10, 21, 0));
    assert_eq!(out.wake_at, Some(review_by));
    assert_eq!(
        out.status.next_deadline.as_ref().map(|n| n.name.as_str()),
        Some("reviewBy")
    );
    assert_eq!(out.action, Action::None);
    assert_eq!(out.notices[0].reason, "Submitted");
    // Past the deadline without a decision: ReviewOverdue and a Warning.
    let late = w.step(review_by);
    assert!(conditions::is_true(
        &late.status.conditions,
        types::REVIEW_OVERDUE
    ));
    assert!(
        late.notices
            .iter()
            .any(|n| n.reason == "ReviewOverdue" && n.warning)
    );
    assert_eq!(
        late.wake_at, None,
        "nothing more to wait for but a decision"
    );
}

#[test]
fn a_converged_request_decides_the_same_status_again() {
    let mut w = World::new(RequestClass::Test);
    w.step(t(2026, 3, 2, 10));
    w.approve(None);
    w.step(t(2026, 3, 3, 10));
    w.step(t(2026, 3, 3, 10));
    let settled = w.status.clone();
    for hour in [11, 12, 15] {
        let again = w.decide(t(2026, 3, 3, hour));
        assert_eq!(again.status, settled, "no write when nothing changed");
        assert!(again.notices.is_empty());
    }
}

#[test]
fn invalid_specs_name_the_field_and_create_nothing() {
    type Edit = Box<dyn Fn(&mut CloudResourceRequestSpec)>;
    let cases: Vec<(Edit, &str)> = vec![
        (
            Box::new(|s| {
                s.class = RequestClass::Test;
                s.duration = Some("3mo".into());
            }),
            "spec.duration",
        ),
        (
            Box::new(|s| s.resources.cpu = Some(IntOrString::String("lots".into()))),
            "spec.resources.cpu",
        ),
        (
            Box::new(|s| s.tenant_namespace = Some("kube-system".into())),
            "spec.tenantNamespace",
        ),
        (
            Box::new(|s| s.tenant_namespace = Some("default".into())),
            "spec.tenantNamespace",
        ),
        (
            Box::new(|s| s.tenant_namespace = Some("kube-flannel".into())),
            "spec.tenantNamespace",
        ),
        (
            Box::new(|s| s.tenant_namespace = Some("govcloud-system".into())),
            "spec.tenantNamespace",
        ),
        (
            Box::new(|s| s.class = RequestClass::Development),
            "spec.project.quota",
        ),
        (
            Box::new(|s| {
                s.class = RequestClass::Development;
                s.project = Some(ProjectInfo {
                    id: "P-1".into(),
                    quota: Some(ResourceAmounts {
                        cpu: Some(IntOrString::String("40".into())),
                        ..Default::default()
                    }),
                });
            }),
            "spec.resources.cpu",
        ),
        (
            Box::new(|s| s.duration = Some("forever".into())),
            "spec.duration",
        ),
    ];
    for (edit, field) in cases {
        let mut w = World::new(RequestClass::Production);
        edit(&mut w.spec);
        w.approve(None);
        let out = w.step(t(2026, 3, 2, 10));
        assert_eq!(out.status.phase, Some(RequestPhase::Invalid), "{field}");
        let invalid = w.cond(types::INVALID).unwrap();
        assert!(
            invalid.message.contains(field),
            "{field}: {}",
            invalid.message
        );
        assert_eq!(out.action, Action::None, "{field}: nothing is created");
        assert!(out.status.grant.is_none());
    }
}

#[test]
fn production_duration_is_ignored_but_must_parse() {
    let mut w = World::new(RequestClass::Production);
    w.spec.duration = Some("5y".into());
    assert_eq!(
        w.step(t(2026, 3, 2, 10)).status.phase,
        Some(RequestPhase::Invalid),
        "a duration must parse"
    );
    w.generation = 2;
    w.spec.duration = Some("120mo".into());
    assert_eq!(
        w.step(t(2026, 3, 2, 10)).status.phase,
        Some(RequestPhase::Submitted),
        "Production has no class maximum"
    );
}

#[test]
fn an_unknown_policy_is_invalid() {
    let w = World::new(RequestClass::Production);
    let out = decide(&Inputs {
        name: "x",
        namespace: "y",
        uid: "u",
        generation: 1,
        spec: &w.spec,
        status: &w.status,
        deleting: false,
        policy: PolicyState::Missing("atlantis"),
        calendar: &w.calendar,
        calendar_gone: None,
        operator_namespace: "govcloud-system",
        tenant: None,
        has_pods: None,
        capacity_in_use: &w.in_use,
        exit_reclaim: false,
        pending_changes: &[],
        measured: None,
        objection: None,
        now: t(2026, 3, 2, 10),
    });
    assert_eq!(out.status.phase, Some(RequestPhase::Invalid));
    assert!(
        conditions::find(&out.status.conditions, types::INVALID)
            .unwrap()
            .message
            .contains("spec.policy")
    );
}

#[test]
fn approval_reserves_then_provisions_and_bills() {
    let mut w = World::new(RequestClass::Production);
    w.step(t(2026, 3, 2, 10));
    w.approve(None);
    let reserve = w.step(t(2026, 3, 3, 10));
    assert_eq!(reserve.action, Action::Reserve);
    assert_eq!(reserve.status.phase, Some(RequestPhase::Provisioning));
    assert_eq!(reserve.status.approved_generation, Some(1));
    assert_eq!(
        reserve.status.tenant_namespace.as_deref(),
        Some("unit-finance-tax-portal")
    );
    let active = w.step(t(2026, 3, 3, 10));
    let Action::Activate { tenant, restore } = &active.action else {
        panic!("{:?}", active.action)
    };
    assert!(restore.is_empty());
    assert_eq!(tenant.namespace, "unit-finance-tax-portal");
    assert_eq!(
        tenant
            .annotations
            .get(tenant::OWNER_UID_ANNOTATION)
            .map(String::as_str),
        Some("uid-1")
    );
    assert_eq!(
        tenant.quota.get("requests.cpu").map(String::as_str),
        Some("8")
    );
    assert_eq!(
        tenant.quota.get("limits.memory").map(String::as_str),
        Some("32Gi")
    );
    assert_eq!(active.status.phase, Some(RequestPhase::Active));
    let billing = active.status.billing.clone().unwrap();
    assert_eq!(billing.started_at, Some(t(2026, 3, 3, 10)));
    // 8 vCPU × 60 + 32 GiB × 15 = 960.00 at the preset's catalogue prices.
    assert_eq!(billing.monthly_cost.as_deref(), Some("960.00"));
    assert!(active.notices.iter().any(|n| n.reason == "Active"));
    // SN 11: deployment due 10 wd after opening.
    let deploy_by = active
        .status
        .deadlines
        .as_ref()
        .and_then(|d| d.deploy_by)
        .unwrap();
    assert_eq!(deploy_by, t(2026, 3, 18, 0));
    w.has_pods = Some(false);
    let late = w.step(deploy_by);
    assert!(conditions::is_true(
        &late.status.conditions,
        types::NOT_DEPLOYED
    ));
    w.has_pods = Some(true);
    let ok = w.step(deploy_by + chrono::Duration::hours(1));
    assert!(!conditions::is_true(
        &ok.status.conditions,
        types::NOT_DEPLOYED
    ));
}

#[test]
fn rejection_shows_the_reason_and_an_edit_resubmits() {
    let mut w = World::new(RequestClass::Production);
    let first = w.step(t(2026, 3, 2, 10));
    w.reject("sizing basis missing");
    let rejected = w.step(t(2026, 3, 4, 10));
    assert_eq!(rejected.status.phase, Some(RequestPhase::Rejected));
    assert!(
        w.cond(types::READY)
            .unwrap()
            .message
            .contains("sizing basis missing")
    );
    assert!(
        rejected
            .notices
            .iter()
            .any(|n| n.reason == "Rejected" && n.message.contains("sizing basis missing"))
    );
    // The unit edits the spec: a new generation is a resubmission with a new review deadline.
    w.generation = 2;
    w.spec.resources.cpu = Some(IntOrString::String("4".into()));
    let again = w.step(t(2026, 3, 9, 10));
    assert_eq!(again.status.phase, Some(RequestPhase::Submitted));
    assert!(
        again.status.deadlines.as_ref().unwrap().review_by
            > first.status.deadlines.as_ref().unwrap().review_by
    );
    assert!(again.notices.iter().any(|n| n.reason == "Resubmitted"));
    // A new approval (of generation 2) goes through.
    w.approve(None);
    assert_eq!(w.step(t(2026, 3, 10, 10)).action, Action::Reserve);
    assert_eq!(w.status.approved_generation, Some(2));
}

#[test]
fn a_decision_applies_to_the_generation_it_names() {
    let mut w = World::new(RequestClass::Production);
    w.step(t(2026, 3, 2, 10));
    w.generation = 2; // edited after the approver looked at generation 1
    w.approve(Some(1));
    let out = w.step(t(2026, 3, 3, 10));
    assert_eq!(out.action, Action::None);
    assert_eq!(out.status.phase, Some(RequestPhase::Submitted));
    assert_eq!(w.cond(types::READY).unwrap().reason, "StaleDecision");
}

#[test]
fn editing_after_approval_keeps_the_grant_and_flags_it() {
    let mut w = World::new(RequestClass::Production);
    w.step(t(2026, 3, 2, 10));
    w.approve(None);
    w.step(t(2026, 3, 3, 10));
    w.step(t(2026, 3, 3, 10));
    w.generation = 2;
    w.spec.resources.cpu = Some(IntOrString::String("64".into()));
    let out = w.step(t(2026, 3, 4, 10));
    assert_eq!(out.status.phase, Some(RequestPhase::Active));
    assert_eq!(
        out.status.grant.as_ref().unwrap().cpu,
        Some(IntOrString::String("8".into()))
    );
    let Action::Activate { tenant, .. } = &out.action else {
        panic!()
    };
    assert_eq!(
        tenant.quota.get("requests.cpu").map(String::as_str),
        Some("8")
    );
    assert!(conditions::is_true(
        &out.status.conditions,
        types::UNAPPLIED_SPEC_CHANGE
    ));
}

#[test]
fn a_namespace_owned_by_someone_else_is_left_alone() {
    let mut w = World::new(RequestClass::Production);
    w.step(t(2026, 3, 2, 10));
    w.approve(None);
    w.step(t(2026, 3, 3, 10));
    w.tenant = Some(TenantState::Foreign { owner_uid: None });
    let out = w.step(t(2026, 3, 3, 10));
    assert_eq!(out.action, Action::None);
    assert!(conditions::is_true(
        &out.status.conditions,
        types::NAMESPACE_CONFLICT
    ));
    assert_eq!(out.status.phase, Some(RequestPhase::Provisioning));
    // GY 7: 5 wd to open after approval.
    let by = out
        .status
        .deadlines
        .as_ref()
        .and_then(|d| d.provision_by)
        .unwrap();
    assert_eq!(out.wake_at, Some(by));
    let late = w.step(by);
    assert!(conditions::is_true(
        &late.status.conditions,
        types::PROVISIONING_OVERDUE
    ));
}

#[test]
fn a_full_pool_waits_and_proceeds_when_capacity_frees() {
    let mut w = World::new(RequestClass::Production);
    w.rules.capacity = Some(
        Amounts::parse(
            "c",
            &ResourceAmounts {
                cpu: Some(IntOrString::String("10".into())),
                ..Default::default()
            },
        )
        .unwrap(),
    );
    w.in_use = Amounts::parse(
        "u",
        &ResourceAmounts {
            cpu: Some(IntOrString::String("4".into())),
            ..Default::default()
        },
    )
    .unwrap();
    w.step(t(2026, 3, 2, 10));
    w.approve(None);
    let out = w.step(t(2026, 3, 3, 10));
    assert_eq!(out.status.phase, Some(RequestPhase::Approved));
    assert!(conditions::is_true(
        &out.status.conditions,
        types::INSUFFICIENT_CAPACITY
    ));
    assert_eq!(out.action, Action::None);
    w.in_use = Amounts::default();
    assert_eq!(w.step(t(2026, 3, 4, 10)).action, Action::Reserve);
    assert!(!conditions::is_true(
        &w.status.conditions,
        types::INSUFFICIENT_CAPACITY
    ));
}

#[test]
fn an_emergency_waits_for_one_decision_then_opens_and_paperwork_follows() {
    let mut w = World::new(RequestClass::Emergency);
    w.spec.emergency = true;
    // XB 26: consent before opening. No decision, no grant — reviewed on the policy's
    // short emergency period when it sets one.
    let waiting = w.step(t(2026, 3, 2, 10));
    assert_eq!(waiting.status.phase, Some(RequestPhase::Submitted));
    assert_eq!(waiting.action, Action::None);
    assert!(waiting.status.grant.is_none());
    let review_by = |w: &World| {
        w.decide(t(2026, 3, 2, 10))
            .status
            .deadlines
            .and_then(|d| d.review_by)
    };
    assert!(
        review_by(&w) > Some(t(2026, 3, 3, 0)),
        "XB 20 periods without an emergency period"
    );
    w.rules.emergency.review_within = Some(crate::policy::duration::PolicyDuration::Seconds(3600));
    assert_eq!(review_by(&w), Some(t(2026, 3, 2, 11)));
    // A rejection ends it before anything opens.
    let mut rejected = World::new(RequestClass::Emergency);
    rejected.spec.emergency = true;
    rejected.reject("not an emergency");
    let r = rejected.step(t(2026, 3, 2, 10));
    assert_eq!(r.status.phase, Some(RequestPhase::Rejected));
    assert!(r.status.grant.is_none());
    // One approval opens it at once; the paperwork is pending, then overdue (XB 39.5).
    w.approve(None);
    assert_eq!(w.step(t(2026, 3, 2, 11)).action, Action::Reserve);
    let active = w.step(t(2026, 3, 2, 11));
    assert_eq!(active.status.phase, Some(RequestPhase::Active));
    assert!(conditions::is_true(
        &active.status.conditions,
        types::PAPERWORK_PENDING
    ));
    let by = active
        .status
        .deadlines
        .as_ref()
        .and_then(|d| d.paperwork_by)
        .unwrap();
    let overdue = w.step(by);
    assert!(conditions::is_true(
        &overdue.status.conditions,
        types::PAPERWORK_OVERDUE
    ));
    // The paperwork recorded by the approver clears both, without re-deciding.
    let decided_at = overdue.status.decided_at;
    if let Some(a) = w.status.approval.as_mut() {
        a.paperwork_complete = Some(true);
    }
    let done = w.step(by + chrono::Duration::hours(1));
    assert_eq!(done.status.phase, Some(RequestPhase::Active));
    assert!(!conditions::is_true(
        &done.status.conditions,
        types::PAPERWORK_PENDING
    ));
    assert!(!conditions::is_true(
        &done.status.conditions,
        types::PAPERWORK_OVERDUE
    ));
    assert_eq!(done.status.decided_at, decided_at);
    // A rejection after opening suspends it (data kept).
    w.reject("not an emergency after all");
    let suspended = w.step(by + chrono::Duration::days(1));
    assert_eq!(suspended.status.phase, Some(RequestPhase::Suspended));
    assert!(matches!(suspended.action, Action::Suspend { .. }));
}

#[test]
fn a_test_grant_warns_expires_suspends_and_is_reclaimed() {
    let mut w = World::new(RequestClass::Test);
    w.step(t(2026, 11, 2, 10));
    w.approve(None);
    w.step(t(2026, 11, 3, 10));
    w.has_pods = Some(true);
    let active = w.step(t(2026, 11, 3, 10));
    let d = active.status.deadlines.clone().unwrap();
    // 30 d from 11-03 is 12-03 (a Thursday): expires at its end (Civil Code art. 201–203).
    assert_eq!(d.expires_at, Some(t(2026, 12, 4, 0)));
    assert!(d.warn_at.unwrap() < d.expires_at.unwrap());
    assert!(d.reclaim_at.unwrap() > d.expires_at.unwrap());
    // The preset warns 20 wd ahead: 11-06 .. 12-03 are exactly 20 working days.
    assert_eq!(d.warn_at, Some(t(2026, 11, 6, 0)));
    assert_eq!(active.wake_at, d.warn_at);
    let warned = w.step(d.warn_at.unwrap());
    assert!(conditions::is_true(
        &warned.status.conditions,
        types::EXPIRING_SOON
    ));
    assert!(warned.notices.iter().any(|n| n.reason == "ExpiringSoon"));
    assert_eq!(warned.wake_at, d.expires_at);
    let expired = w.step(d.expires_at.unwrap());
    assert_eq!(expired.status.phase, Some(RequestPhase::Suspended));
    let Action::Suspend { tenant } = &expired.action else {
        panic!()
    };
    assert_eq!(tenant.quota.get("pods").map(String::as_str), Some("0"));
    assert_eq!(expired.wake_at, d.reclaim_at);
    let reclaiming = w.step(d.reclaim_at.unwrap());
    assert_eq!(reclaiming.status.phase, Some(RequestPhase::Reclaiming));
    assert_eq!(
        reclaiming.action,
        Action::Reclaim {
            namespace: "unit-finance-tax-portal".into()
        }
    );
    w.tenant = Some(TenantState::Absent);
    let done = w.step(d.reclaim_at.unwrap() + chrono::Duration::minutes(1));
    assert_eq!(done.status.phase, Some(RequestPhase::Reclaimed));
    assert!(done.status.billing.unwrap().stopped_at.is_some());
    assert_eq!(done.action, Action::None);
}

#[test]
fn deleting_never_deletes_a_provisioned_namespace() {
    let mut w = World::new(RequestClass::Production);
    w.step(t(2026, 3, 2, 10));
    w.deleting = true;
    assert!(
        w.decide(t(2026, 3, 2, 11)).release_finalizer,
        "nothing provisioned: released"
    );
    w.deleting = false;
    w.approve(None);
    w.step(t(2026, 3, 3, 10));
    w.step(t(2026, 3, 3, 10));
    w.deleting = true;
    let out = w.step(t(2026, 3, 4, 10));
    assert!(!out.release_finalizer);
    assert!(!matches!(out.action, Action::Reclaim { .. }));
    assert!(conditions::is_true(
        &out.status.conditions,
        types::DELETION_BLOCKED
    ));
    // Only a completed exit releases it.
    w.exit_reclaim = true;
    let reclaim = w.step(t(2026, 3, 5, 10));
    assert!(matches!(reclaim.action, Action::Reclaim { .. }));
    w.tenant = Some(TenantState::Absent);
    assert!(w.step(t(2026, 3, 5, 11)).release_finalizer);
}

#[test]
fn a_deadline_in_a_year_without_data_is_flagged() {
    let mut w = World::new(RequestClass::Production);
    let out = w.step(t(2026, 12, 28, 10));
    assert!(conditions::is_true(
        &out.status.conditions,
        types::CALENDAR_INCOMPLETE
    ));
    let _ = GovCloudPolicySpec::default();
}

#[test]
fn approved_changes_fold_into_the_grant_in_order() {
    use crate::policy::change::GrantChange;
    let mut w = World::new(RequestClass::Test);
    w.step(t(2026, 3, 2, 10));
    w.approve(None);
    w.step(t(2026, 3, 3, 10));
    w.step(t(2026, 3, 3, 10));
    let amounts = |cpu: &str| {
        Amounts::parse(
            "r",
            &ResourceAmounts {
                cpu: Some(IntOrString::String(cpu.into())),
                ..Default::default()
            },
        )
        .unwrap()
    };
    w.changes = vec![
        GrantChange {
            name: "grow".into(),
            uid: "c1".into(),
            resources: amounts("16"),
            extend_to: None,
            convert_to: None,
        },
        GrantChange {
            name: "trim".into(),
            uid: "c2".into(),
            resources: amounts("12"),
            extend_to: None,
            convert_to: Some(RequestClass::Production),
        },
    ];
    let out = w.step(t(2026, 3, 4, 10));
    assert_eq!(
        out.status.grant.as_ref().unwrap().cpu,
        Some(IntOrString::String("12".into())),
        "the later change wins"
    );
    assert_eq!(
        out.status.grant.as_ref().unwrap().memory,
        Some(IntOrString::String("32Gi".into())),
        "untouched kinds stay"
    );
    assert_eq!(
        out.status
            .applied_changes
            .iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>(),
        ["grow", "trim"]
    );
    assert_eq!(out.status.granted_class, Some(RequestClass::Production));
    assert!(
        out.status.deadlines.as_ref().unwrap().expires_at.is_none(),
        "converted: no expiry any more (SH 19)"
    );
    let Action::Activate { tenant, .. } = &out.action else {
        panic!()
    };
    assert_eq!(
        tenant.quota.get("requests.cpu").map(String::as_str),
        Some("12")
    );
    assert_eq!(
        out.notices
            .iter()
            .filter(|n| n.reason == "ChangeApplied")
            .count(),
        2
    );
    // Applied once: deciding again changes nothing.
    assert_eq!(w.decide(t(2026, 3, 4, 11)).status, w.status);
}

#[test]
fn an_extension_moves_the_expiry_and_resumes_a_suspended_grant() {
    use crate::policy::change::GrantChange;
    let mut w = World::new(RequestClass::Test);
    w.step(t(2026, 11, 2, 10));
    w.approve(None);
    w.step(t(2026, 11, 3, 10));
    let active = w.step(t(2026, 11, 3, 10));
    let expires = active.status.deadlines.unwrap().expires_at.unwrap();
    w.step(expires);
    w.status
        .suspended_replicas
        .insert("Deployment/web".into(), 2);
    w.changes = vec![GrantChange {
        name: "extend".into(),
        uid: "c1".into(),
        resources: Amounts::default(),
        extend_to: chrono::NaiveDate::from_ymd_opt(2026, 12, 31),
        convert_to: None,
    }];
    let out = w.step(expires + chrono::Duration::hours(1));
    assert_eq!(out.status.phase, Some(RequestPhase::Active));
    assert_eq!(
        out.status.deadlines.unwrap().expires_at,
        Some(t(2027, 1, 1, 0))
    );
    let Action::Activate { restore, .. } = &out.action else {
        panic!("{:?}", out.action)
    };
    assert_eq!(restore.get("Deployment/web"), Some(&2));
    assert!(out.status.suspended_replicas.is_empty());
}

#[test]
fn without_a_pool_limit_an_approval_opens_in_one_pass() {
    let mut w = World::new(RequestClass::Production);
    w.rules.capacity = None;
    w.step(t(2026, 3, 2, 10));
    w.approve(None);
    let out = w.step(t(2026, 3, 3, 10));
    assert!(
        matches!(out.action, Action::Activate { .. }),
        "{:?}",
        out.action
    );
    assert_eq!(out.status.phase, Some(RequestPhase::Active));
    assert!(
        out.status.grant.is_some() && out.status.billing.as_ref().unwrap().started_at.is_some()
    );
    // Not looked up yet (no tenant observation): the reservation comes first.
    let mut w = World::new(RequestClass::Production);
    w.rules.capacity = None;
    w.tenant = None;
    w.step(t(2026, 3, 2, 10));
    w.approve(None);
    assert_eq!(w.step(t(2026, 3, 3, 10)).action, Action::Reserve);
}

#[test]
fn a_zero_duration_time_boxed_request_is_invalid() {
    let mut w = World::new(RequestClass::Test);
    w.spec.duration = Some("0d".into());
    let out = w.step(t(2026, 3, 2, 10));
    assert_eq!(out.status.phase, Some(RequestPhase::Invalid));
    assert!(
        w.cond(types::INVALID)
            .unwrap()
            .message
            .contains("spec.duration")
    );
}

#[test]
fn an_activation_is_written_once() {
    // Approved at first sight (filed while the operator was down) or after a review: the
    // pass that activates decides the status the next pass (tenant now Owned) decides
    // again, so an activation costs one status write, not two.
    for reviewed_first in [false, true] {
        let mut w = World::new(RequestClass::Production);
        w.rules.capacity = None;
        if reviewed_first {
            let submitted = w.step(t(2026, 11, 23, 9));
            assert!(
                submitted
                    .status
                    .deadlines
                    .and_then(|d| d.review_by)
                    .is_some()
            );
        }
        w.approve(None);
        let active = w.step(t(2026, 11, 23, 10));
        assert_eq!(active.status.phase, Some(RequestPhase::Active));
        assert!(
            active
                .status
                .deadlines
                .as_ref()
                .and_then(|d| d.review_by)
                .is_none(),
            "the review is over"
        );
        let again = w.decide(t(2026, 11, 23, 10));
        assert_eq!(
            again.status, active.status,
            "reviewed first: {reviewed_first}"
        );
        assert!(again.notices.is_empty());
    }
}

#[path = "hold_request_tests.rs"]
mod hold;
