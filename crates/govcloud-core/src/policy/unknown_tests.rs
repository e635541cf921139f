use chrono::{DateTime, TimeZone, Utc};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::*;
use crate::api::{
    Billing, ChangePhase, CloudResourceRequestSpec, CloudResourceRequestStatus, ExitPhase,
    ExitRequestSpec, ExitRequestStatus, RequestClass, ResourceAmounts, ResourceChangeSpec,
    ResourceChangeStatus, SystemInfo, Zone,
};
use crate::policy::calendar::Calendar;
use crate::policy::quantity::Amounts;
use crate::policy::request::{Action, Inputs, PolicyState, TenantState};
use crate::policy::rules::{Rules, resolve};
use crate::policy::{change, exit, request};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 2, 0, 0).unwrap()
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

fn amounts() -> ResourceAmounts {
    ResourceAmounts {
        cpu: Some(IntOrString::String("2".into())),
        memory: Some(IntOrString::String("8Gi".into())),
        ..Default::default()
    }
}

fn spec() -> CloudResourceRequestSpec {
    CloudResourceRequestSpec {
        policy: Some("shanghai".into()),
        class: RequestClass::Production,
        applicant_unit: "u".into(),
        user_unit: None,
        system: SystemInfo {
            name: "s".into(),
            security_level: 2,
            zone: Zone::Internet,
        },
        project: None,
        resources: amounts(),
        duration: None,
        workload: None,
        emergency: false,
        migration: None,
        access: None,
        tenant_namespace: None,
    }
}

/// A granted, billed request with its tenant namespace, under deletion, whose exit asks
/// for reclamation: every reason to delete the tenant namespace.
fn granted(phase: RequestPhase) -> CloudResourceRequestStatus {
    CloudResourceRequestStatus {
        phase: Some(phase),
        grant: Some(amounts()),
        granted_class: Some(RequestClass::Production),
        tenant_namespace: Some("unit-a-portal".into()),
        observed_generation: Some(1),
        billing: Some(Billing {
            started_at: Some(now() - chrono::Duration::days(90)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn decide_request(status: &CloudResourceRequestStatus) -> request::Outcome {
    let rules = rules();
    let calendar = Calendar::cn_statutory();
    let spec = spec();
    request::decide(&Inputs {
        name: "portal",
        namespace: "unit-a",
        uid: "uid-1",
        spec_policy: spec.policy.as_deref().unwrap_or("default"),
        generation: 1,
        spec: &spec,
        status,
        deleting: true,
        policy: PolicyState::Ready(&rules),
        calendar: &calendar,
        calendar_gone: None,
        operator_namespace: "govcloud-system",
        tenant: Some(TenantState::Owned { terminating: false }),
        has_pods: Some(true),
        capacity_in_use: &Amounts::default(),
        exit_reclaim: true,
        pending_changes: &[],
        measured: None,
        objection: None,
        now: now(),
    })
}

#[test]
fn phases_of_a_newer_release_decode_as_unrecognized_and_are_never_written() {
    let p: RequestPhase = serde_json::from_str("\"FromTheFuture\"").unwrap();
    assert_eq!(p, RequestPhase::Unrecognized);
    let p: ChangePhase = serde_json::from_str("\"FromTheFuture\"").unwrap();
    assert_eq!(p, ChangePhase::Unrecognized);
    let p: ExitPhase = serde_json::from_str("\"FromTheFuture\"").unwrap();
    assert_eq!(p, ExitPhase::Unrecognized);
    // Known phases are unaffected.
    let p: RequestPhase = serde_json::from_str("\"Reclaiming\"").unwrap();
    assert_eq!(p, RequestPhase::Reclaiming);
    // Writing it back would replace the newer release's phase: serializing fails.
    assert!(serde_json::to_string(&RequestPhase::Unrecognized).is_err());
    assert!(serde_json::to_string(&ChangePhase::Unrecognized).is_err());
    assert!(serde_json::to_string(&ExitPhase::Unrecognized).is_err());
    // …and the CRD's enum does not offer it.
    let schema = serde_json::to_string(&schemars::schema_for!(RequestPhase)).unwrap();
    assert!(schema.contains("Reclaiming") && !schema.contains("Unrecognized"));
}

#[test]
fn a_request_in_an_unknown_phase_is_left_alone_and_reported() {
    // Control: in a known phase these inputs reclaim the tenant namespace.
    let known = granted(RequestPhase::Active);
    let out = decide_request(&known);
    assert!(
        matches!(out.action, Action::Reclaim { .. }),
        "{:?}",
        out.action
    );

    let unknown = granted(RequestPhase::Unrecognized);
    let out = decide_request(&unknown);
    assert_eq!(out.action, Action::None);
    assert_eq!(out.status, unknown, "no status write");
    assert!(!out.release_finalizer);
    assert_eq!(out.downsize, None);
    assert_eq!(out.wake_at, None);
    assert_eq!(
        out.notices.iter().map(|n| n.reason).collect::<Vec<_>>(),
        [UNKNOWN_PHASE]
    );
    assert!(out.notices.iter().all(|n| n.warning));
}

fn request_in(phase: RequestPhase) -> CloudResourceRequest {
    let mut r = CloudResourceRequest::new("portal", spec());
    r.status = Some(granted(phase));
    r
}

fn decide_change(
    status: &ResourceChangeStatus,
    req: &CloudResourceRequest,
) -> change::ChangeOutcome {
    let rules = rules();
    let calendar = Calendar::cn_statutory();
    let spec = ResourceChangeSpec {
        request: "portal".into(),
        resources: Some(amounts()),
        extend_to: None,
        convert_to: None,
        reason: None,
        justification: None,
        recurring: false,
        access_groups: None,
        zone: None,
    };
    change::decide(&change::ChangeInputs {
        uid: "c-1",
        generation: 1,
        spec: &spec,
        status,
        request: Some(req),
        rules: Some(&rules),
        calendar: &calendar,
        prior_recurring_justified: false,
        now: now(),
    })
}

#[test]
fn a_change_in_or_of_an_unknown_phase_is_left_alone() {
    let fresh = ResourceChangeStatus::default();
    // Control: a fresh change of an Active request is submitted (its status written).
    let out = decide_change(&fresh, &request_in(RequestPhase::Active));
    assert_ne!(out.status, fresh);

    let out = decide_change(&fresh, &request_in(RequestPhase::Unrecognized));
    assert_eq!(out.status, fresh);
    assert_eq!(out.notices[0].reason, UNKNOWN_PHASE);

    let own = ResourceChangeStatus {
        phase: Some(ChangePhase::Unrecognized),
        ..Default::default()
    };
    let out = decide_change(&own, &request_in(RequestPhase::Active));
    assert_eq!(out.status, own);
    assert_eq!(out.notices[0].reason, UNKNOWN_PHASE);
}

fn decide_exit(status: &ExitRequestStatus, req: &CloudResourceRequest) -> exit::ExitOutcome {
    let rules = rules();
    let calendar = Calendar::cn_statutory();
    let spec = ExitRequestSpec {
        request: "portal".into(),
        reason: Some("replaced".into()),
        last_used_on: None,
        data_disposition: None,
    };
    exit::decide(&exit::ExitInputs {
        generation: 1,
        filed_at: now() - chrono::Duration::days(1),
        spec: &spec,
        status,
        request: Some(req),
        rules: Some(&rules),
        calendar: &calendar,
        now: now(),
    })
}

#[test]
fn an_exit_in_or_of_an_unknown_phase_is_left_alone() {
    let fresh = ExitRequestStatus::default();
    // Control: a fresh exit of an Active request is submitted (its status written).
    let out = decide_exit(&fresh, &request_in(RequestPhase::Active));
    assert_ne!(out.status, fresh);

    let out = decide_exit(&fresh, &request_in(RequestPhase::Unrecognized));
    assert_eq!(out.status, fresh);
    assert_eq!(out.notices[0].reason, UNKNOWN_PHASE);

    let own = ExitRequestStatus {
        phase: Some(ExitPhase::Unrecognized),
        ..Default::default()
    };
    let out = decide_exit(&own, &request_in(RequestPhase::Active));
    assert_eq!(out.status, own);
}
