use chrono::TimeZone;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::*;
use crate::api::{
    Approval, CloudResourceRequestSpec, Decision, GovCloudPolicySpec, ProjectInfo, RequestClass,
    ResourceAmounts, SystemInfo, Zone,
};
use crate::policy::rules::resolve;
use crate::policy::tenant::{self, TenantSpec};

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
            spec_policy: self.spec.policy.as_deref().unwrap_or("default"),
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
        spec_policy: w.spec.policy.as_deref().unwrap_or("default"),
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
fn approval_provisions_and_bills() {
    let mut w = World::new(RequestClass::Production);
    w.step(t(2026, 3, 2, 10));
    w.approve(None);
    let active = w.step(t(2026, 3, 3, 10));
    assert_eq!(active.status.approved_generation, Some(1));
    assert_eq!(
        active.status.tenant_namespace.as_deref(),
        Some("unit-finance-tax-portal")
    );
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
    assert!(matches!(
        w.step(t(2026, 3, 10, 10)).action,
        Action::Activate { .. }
    ));
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
    w.tenant = Some(TenantState::Foreign { owner_uid: None });
    // The grant is recorded (and the request holds its finalizer); nothing is created.
    assert_eq!(w.step(t(2026, 3, 3, 10)).action, Action::Reserve);
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

#[path = "hold_request_tests.rs"]
mod hold;

#[path = "request_granted_tests.rs"]
mod granted;

#[path = "request_frozen_tests.rs"]
mod frozen;
