use chrono::TimeZone;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::*;
use crate::api::{
    Approval, Billing, CloudResourceRequestSpec, CloudResourceRequestStatus, ProjectInfo,
    RequestDeadlines, ResourceAmounts, SystemInfo, Zone,
};
use crate::policy::rules::resolve;

fn t(d: u32, h: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(2026, 3, d, h, 0, 0)
        .unwrap()
        .with_timezone(&Utc)
}

fn q(cpu: &str, mem: &str) -> ResourceAmounts {
    ResourceAmounts {
        cpu: Some(IntOrString::String(cpu.into())),
        memory: Some(IntOrString::String(mem.into())),
        ..Default::default()
    }
}

fn rules() -> Rules {
    let yaml = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/policies/shanghai.yaml"
    ))
    .unwrap();
    let p: crate::api::GovCloudPolicy = serde_yaml::from_str(&yaml).unwrap();
    resolve("shanghai", &p.spec).unwrap()
}

fn request(class: RequestClass, phase: RequestPhase) -> CloudResourceRequest {
    let mut r = CloudResourceRequest::new(
        "portal",
        CloudResourceRequestSpec {
            policy: Some("shanghai".into()),
            class,
            applicant_unit: "u".into(),
            user_unit: None,
            system: SystemInfo {
                name: "s".into(),
                security_level: 2,
                zone: Zone::Internet,
            },
            project: Some(ProjectInfo {
                id: "P".into(),
                quota: Some(q("20", "100Gi")),
            }),
            resources: q("8", "32Gi"),
            duration: None,
            workload: None,
            emergency: false,
            migration: None,
            access: None,
            tenant_namespace: None,
        },
    );
    r.status = Some(CloudResourceRequestStatus {
        phase: Some(phase),
        grant: Some(q("8", "32Gi")),
        granted_class: Some(class),
        billing: Some(Billing {
            started_at: Some(t(2, 10)),
            ..Default::default()
        }),
        deadlines: Some(RequestDeadlines {
            expires_at: Some(t(31, 0)),
            extension_request_by: Some(t(10, 0)),
            ..Default::default()
        }),
        ..Default::default()
    });
    r
}

fn change(resources: Option<ResourceAmounts>) -> ResourceChangeSpec {
    ResourceChangeSpec {
        request: "portal".into(),
        resources,
        extend_to: None,
        convert_to: None,
        reason: None,
        justification: None,
        recurring: false,
        access_groups: None,
        zone: None,
    }
}

struct Case {
    spec: ResourceChangeSpec,
    status: ResourceChangeStatus,
    request: Option<CloudResourceRequest>,
    rules: Rules,
    prior: bool,
}

impl Case {
    fn new(spec: ResourceChangeSpec) -> Self {
        Case {
            spec,
            status: ResourceChangeStatus::default(),
            request: Some(request(RequestClass::Production, RequestPhase::Active)),
            rules: rules(),
            prior: false,
        }
    }
    fn run(&mut self, now: DateTime<Utc>) -> ChangeOutcome {
        let cal = Calendar::cn_statutory();
        let out = decide(&ChangeInputs {
            uid: "c1",
            generation: 1,
            spec: &self.spec,
            status: &self.status,
            request: self.request.as_ref(),
            rules: Some(&self.rules),
            calendar: &cal,
            prior_recurring_justified: self.prior,
            now,
        });
        self.status = out.status.clone();
        out
    }
    fn invalid_message(&self) -> String {
        conditions::find(&self.status.conditions, types::INVALID)
            .map(|c| c.message.clone())
            .unwrap_or_default()
    }
}

#[test]
fn a_change_to_a_missing_or_inactive_request_is_invalid() {
    let mut c = Case::new(change(Some(q("4", "32Gi"))));
    c.request = None;
    assert_eq!(c.run(t(3, 10)).status.phase, Some(ChangePhase::Invalid));
    assert!(
        c.invalid_message().contains("spec.request"),
        "{}",
        c.invalid_message()
    );
    let mut c = Case::new(change(Some(q("4", "32Gi"))));
    c.request = Some(request(RequestClass::Production, RequestPhase::Submitted));
    c.run(t(3, 10));
    assert!(
        c.invalid_message().contains("not Active"),
        "{}",
        c.invalid_message()
    );
    let mut c = Case::new(change(None));
    c.run(t(3, 10));
    assert!(c.invalid_message().contains("changes nothing"));
}

#[test]
fn a_scale_down_is_approved_automatically() {
    let mut c = Case::new(change(Some(q("4", "16Gi"))));
    let out = c.run(t(3, 10));
    assert_eq!(out.status.phase, Some(ChangePhase::Approved));
    assert_eq!(out.status.auto_approved, Some(true));
    // 4 vCPU × 60 + 16 GiB × 15 = 480 less than 960 at the preset prices: −480.00, −50 %.
    assert_eq!(
        out.status.cost_delta,
        Some(CostDelta {
            monthly: "-480.00".into(),
            ratio: Some("-0.50".into())
        })
    );
    assert!(out.status.deadlines.unwrap().apply_by.is_some());
    assert_eq!(out.notices[0].reason, "AutoApproved");
}

#[test]
fn a_large_increase_needs_a_justification_gy9() {
    // 8 → 12 vCPU: +240 on 960 = +25 %: under 30 %, no justification.
    let mut c = Case::new(change(Some(q("12", "32Gi"))));
    let out = c.run(t(3, 10));
    assert_eq!(out.status.requires_justification, Some(false));
    assert_eq!(out.status.phase, Some(ChangePhase::Submitted));
    // 8 → 16 vCPU: +480 = +50 %: required, missing → Invalid naming the field.
    let mut c = Case::new(change(Some(q("16", "32Gi"))));
    let out = c.run(t(3, 10));
    assert_eq!(out.status.requires_justification, Some(true));
    assert_eq!(out.status.phase, Some(ChangePhase::Invalid));
    assert!(
        c.invalid_message().contains("spec.justification"),
        "{}",
        c.invalid_message()
    );
    c.spec.justification = Some("new tax season workload, see plan 2026-07".into());
    assert_eq!(c.run(t(3, 11)).status.phase, Some(ChangePhase::Submitted));
    // A recurring change needs it only the first time.
    let mut c = Case::new(change(Some(q("16", "32Gi"))));
    c.spec.recurring = true;
    c.prior = true;
    assert_eq!(c.run(t(3, 10)).status.phase, Some(ChangePhase::Submitted));
}

#[test]
fn above_the_project_quota_share_is_escalated_sh20() {
    // Project quota 20 vCPU; 120 % is 24: asking 25 escalates (and needs a justification).
    let mut spec = change(Some(q("25", "32Gi")));
    spec.justification = Some("plan".into());
    let mut c = Case::new(spec);
    let out = c.run(t(3, 10));
    assert_eq!(out.status.requires_escalation, Some(true));
    assert!(conditions::is_true(
        &out.status.conditions,
        REQUIRES_ESCALATION
    ));
    let mut spec = change(Some(q("10", "32Gi")));
    spec.justification = None;
    assert_eq!(
        Case::new(spec).run(t(3, 10)).status.requires_escalation,
        Some(false)
    );
}

#[test]
fn review_and_apply_deadlines_and_overdue() {
    let mut c = Case::new(change(Some(q("10", "32Gi"))));
    let out = c.run(t(3, 10));
    let review_by = out.status.deadlines.unwrap().review_by.unwrap();
    assert_eq!(out.wake_at, Some(review_by));
    assert!(conditions::is_true(
        &c.run(review_by).status.conditions,
        types::REVIEW_OVERDUE
    ));
    c.status.approval = Some(Approval {
        decision: Decision::Approved,
        reviewer: Some("bob".into()),
        comment: None,
        decided_at: None,
        generation: None,
        reclaim_override: None,
        paperwork_complete: None,
    });
    let approved = c.run(review_by + chrono::Duration::hours(1));
    assert_eq!(approved.status.phase, Some(ChangePhase::Approved));
    let apply_by = approved.status.deadlines.unwrap().apply_by.unwrap();
    assert!(conditions::is_true(
        &c.run(apply_by).status.conditions,
        APPLY_OVERDUE
    ));
    // Applied when the request lists it.
    let mut r = c.request.clone().unwrap();
    r.status
        .as_mut()
        .unwrap()
        .applied_changes
        .push(crate::api::AppliedChange {
            name: "x".into(),
            uid: "c1".into(),
            applied_at: apply_by,
        });
    c.request = Some(r);
    let applied = c.run(apply_by + chrono::Duration::hours(1));
    assert_eq!(applied.status.phase, Some(ChangePhase::Applied));
    assert_eq!(applied.status.applied_at, Some(apply_by));
    assert_eq!(applied.wake_at, None);
}

#[test]
fn extensions_must_be_filed_in_time_sh23() {
    let mut spec = change(None);
    spec.extend_to = Some("2026-04-30".into());
    let mut c = Case::new(spec.clone());
    c.request = Some(request(RequestClass::Emergency, RequestPhase::Active));
    assert_eq!(
        c.run(t(9, 10)).status.phase,
        Some(ChangePhase::Submitted),
        "before extensionRequestBy"
    );
    let mut late = Case::new(spec.clone());
    late.request = Some(request(RequestClass::Emergency, RequestPhase::Active));
    late.run(t(11, 10));
    assert!(
        late.invalid_message().contains("too late"),
        "{}",
        late.invalid_message()
    );
    let mut prod = Case::new(spec);
    prod.run(t(9, 10));
    assert!(
        prod.invalid_message().contains("no expiry"),
        "{}",
        prod.invalid_message()
    );
}

#[test]
fn only_test_converts_to_production_sh19() {
    let mut spec = change(None);
    spec.convert_to = Some(RequestClass::Production);
    let mut c = Case::new(spec.clone());
    c.request = Some(request(RequestClass::Test, RequestPhase::Active));
    c.status.approval = Some(Approval {
        decision: Decision::Approved,
        reviewer: None,
        comment: None,
        decided_at: None,
        generation: None,
        reclaim_override: None,
        paperwork_complete: None,
    });
    assert_eq!(c.run(t(3, 10)).status.phase, Some(ChangePhase::Approved));
    let mut bad = spec;
    bad.convert_to = Some(RequestClass::Test);
    let mut c = Case::new(bad);
    c.run(t(3, 10));
    assert!(c.invalid_message().contains("spec.convertTo"));
}

#[test]
fn pending_changes_come_oldest_decision_first_and_skip_applied_ones() {
    let a = change(Some(q("10", "32Gi")));
    let b = change(Some(q("12", "32Gi")));
    let list = [
        ("b", "u2", Some(t(4, 10)), &b),
        ("a", "u1", Some(t(3, 10)), &a),
        ("done", "u0", Some(t(2, 10)), &a),
    ];
    let pending = pending_for(&["u0".to_string()], &list);
    assert_eq!(
        pending.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
}

#[test]
fn converting_to_the_class_already_granted_is_invalid() {
    let mut spec = change(None);
    spec.convert_to = Some(RequestClass::Production);
    let mut c = Case::new(spec);
    c.run(t(3, 10));
    assert_eq!(c.status.phase, Some(ChangePhase::Invalid));
    assert!(c.invalid_message().contains("spec.convertTo"));
}

/// Issue 13: an approved change edited afterwards (to 48 CPU) is void
/// until a new decision; the snapshot keeps what was approved.
#[test]
fn an_approved_change_edited_afterwards_is_stale_and_its_copy_is_what_was_approved() {
    let mut c = Case::new(change(Some(q("12", "32Gi"))));
    c.spec.justification = Some("tax season".into());
    c.run(t(3, 10));
    c.status.approval = Some(Approval {
        decision: Decision::Approved,
        reviewer: Some("bob".into()),
        comment: None,
        decided_at: None,
        generation: None,
        reclaim_override: None,
        paperwork_complete: None,
    });
    let approved = c.run(t(3, 11));
    assert_eq!(approved.status.phase, Some(ChangePhase::Approved));
    assert_eq!(approved.status.approved_spec.as_ref(), Some(&c.spec));
    let as_approved = c.spec.clone();
    c.spec.resources = Some(q("48", "32Gi"));
    let edited = c.run(t(3, 12));
    assert_eq!(edited.status.phase, Some(ChangePhase::Submitted));
    assert!(conditions::is_true(
        &edited.status.conditions,
        types::APPROVAL_STALE
    ));
    assert_eq!(edited.status.approved_spec.as_ref(), Some(&as_approved));
}

/// Issue 13: access groups or a zone are never approved automatically, not even with a
/// scale-down.
#[test]
fn an_access_change_is_never_auto_approved() {
    let mut c = Case::new(change(Some(q("1", "4Gi"))));
    c.rules.auto_approve_scale_down = true;
    assert_eq!(c.run(t(3, 10)).status.phase, Some(ChangePhase::Approved));
    let mut c = Case::new(change(Some(q("1", "4Gi"))));
    c.rules.auto_approve_scale_down = true;
    c.spec.access_groups = Some(vec!["everyone".into()]);
    assert_eq!(c.run(t(3, 10)).status.phase, Some(ChangePhase::Submitted));
}
