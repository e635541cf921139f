use chrono::TimeZone;

use super::*;
use crate::api::{
    Approval, Billing, CloudResourceRequestSpec, CloudResourceRequestStatus, DataDisposition,
    ResourceAmounts, SystemInfo, Zone,
};
use crate::policy::rules::resolve;

fn t(m: u32, d: u32, h: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(2026, m, d, h, 0, 0)
        .unwrap()
        .with_timezone(&Utc)
}

fn request(phase: RequestPhase) -> CloudResourceRequest {
    let mut r = CloudResourceRequest::new(
        "portal",
        CloudResourceRequestSpec {
            policy: None,
            class: crate::api::RequestClass::Production,
            applicant_unit: "u".into(),
            user_unit: None,
            system: SystemInfo {
                name: "s".into(),
                security_level: 2,
                zone: Zone::Internet,
            },
            project: None,
            resources: ResourceAmounts::default(),
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
        billing: Some(Billing {
            started_at: Some(t(1, 5, 10)),
            ..Default::default()
        }),
        ..Default::default()
    });
    r
}

fn suining() -> Rules {
    let yaml = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/policies/suining.yaml"
    ))
    .unwrap();
    let p: crate::api::GovCloudPolicy = serde_yaml::from_str(&yaml).unwrap();
    resolve("suining", &p.spec).unwrap()
}

fn run(
    spec: &ExitRequestSpec,
    status: &ExitRequestStatus,
    req: Option<&CloudResourceRequest>,
    filed: DateTime<Utc>,
    now: DateTime<Utc>,
) -> ExitOutcome {
    let rules = suining();
    // 2027 loaded (here: the law's dates): a transition ending there is not held
    // (issue 15; the hold itself is tested in policy::hold).
    let mut cal = Calendar::cn_statutory();
    cal.set_year(
        2027,
        super::super::provisional::provisional_year(2027).unwrap(),
    );
    decide(&ExitInputs {
        generation: 1,
        filed_at: filed,
        spec,
        status,
        request: req,
        rules: Some(&rules),
        calendar: &cal,
        now,
    })
}

fn spec(last_used: &str, backup: bool) -> ExitRequestSpec {
    ExitRequestSpec {
        request: "portal".into(),
        reason: Some("replaced by the provincial system".into()),
        last_used_on: Some(last_used.into()),
        data_disposition: Some(DataDisposition {
            backup_confirmed: backup,
            backup_location: None,
        }),
    }
}

#[test]
fn late_filing_is_reported_but_processed_sn16() {
    let r = request(RequestPhase::Active);
    let on_time = run(
        &spec("2026-11-01", false),
        &ExitRequestStatus::default(),
        Some(&r),
        t(11, 20, 10),
        t(11, 20, 10),
    );
    assert!(!conditions::is_true(
        &on_time.status.conditions,
        LATE_SUBMISSION
    ));
    let late = run(
        &spec("2026-09-01", false),
        &ExitRequestStatus::default(),
        Some(&r),
        t(11, 20, 10),
        t(11, 20, 10),
    );
    assert!(conditions::is_true(
        &late.status.conditions,
        LATE_SUBMISSION
    ));
    assert_eq!(late.status.phase, Some(ExitPhase::Submitted));
}

#[test]
fn an_exit_for_an_unknown_request_is_invalid() {
    let out = run(
        &spec("2026-11-01", false),
        &ExitRequestStatus::default(),
        None,
        t(11, 20, 10),
        t(11, 20, 10),
    );
    assert_eq!(out.status.phase, Some(ExitPhase::Invalid));
    assert!(
        conditions::find(&out.status.conditions, types::INVALID)
            .unwrap()
            .message
            .contains("spec.request")
    );
}

#[test]
fn approval_starts_a_transition_then_waits_for_the_backup_then_reclaims() {
    let r = request(RequestPhase::Active);
    let filed = t(11, 20, 10);
    let mut status = run(
        &spec("2026-11-01", false),
        &ExitRequestStatus::default(),
        Some(&r),
        filed,
        filed,
    )
    .status;
    status.approval = Some(Approval {
        decision: Decision::Approved,
        reviewer: None,
        comment: None,
        decided_at: None,
        generation: None,
        reclaim_override: None,
        paperwork_complete: None,
    });
    let tr = run(
        &spec("2026-11-01", false),
        &status,
        Some(&r),
        filed,
        t(11, 23, 10),
    );
    assert_eq!(tr.status.phase, Some(ExitPhase::Transition));
    let ends = tr
        .status
        .deadlines
        .as_ref()
        .unwrap()
        .transition_ends_at
        .unwrap();
    // SN 16: 3 months from 11-23 → 2027-02-23 (a Tuesday), end of day.
    assert_eq!(
        ends,
        chrono_tz::Asia::Shanghai
            .with_ymd_and_hms(2027, 2, 24, 0, 0, 0)
            .unwrap()
            .with_timezone(&Utc)
    );
    assert_eq!(tr.wake_at, Some(ends));
    let waiting = run(
        &spec("2026-11-01", false),
        &tr.status,
        Some(&r),
        filed,
        ends,
    );
    assert_eq!(waiting.status.phase, Some(ExitPhase::Transition));
    assert!(conditions::is_true(
        &waiting.status.conditions,
        AWAITING_BACKUP
    ));
    let go = run(
        &spec("2026-11-01", true),
        &waiting.status,
        Some(&r),
        filed,
        ends + chrono::Duration::hours(2),
    );
    assert_eq!(go.status.phase, Some(ExitPhase::Reclaiming));
    let done = run(
        &spec("2026-11-01", true),
        &go.status,
        Some(&request(RequestPhase::Reclaimed)),
        filed,
        ends + chrono::Duration::hours(3),
    );
    assert_eq!(done.status.phase, Some(ExitPhase::Completed));
    assert!(done.status.completed_at.is_some());
}

#[test]
fn a_rejected_exit_leaves_the_request_alone() {
    let r = request(RequestPhase::Active);
    let status = ExitRequestStatus {
        approval: Some(Approval {
            decision: Decision::Rejected,
            reviewer: None,
            comment: Some("still in use".into()),
            decided_at: None,
            generation: None,
            reclaim_override: None,
            paperwork_complete: None,
        }),
        ..Default::default()
    };
    let out = run(
        &spec("2026-11-01", true),
        &status,
        Some(&r),
        t(11, 20, 10),
        t(11, 21, 10),
    );
    assert_eq!(out.status.phase, Some(ExitPhase::Rejected));
}

/// Issue 13: an approved exit retargeted at another request is void until a new
/// decision; confirming the backup is not an edit of what was approved.
#[test]
fn a_retargeted_exit_is_void_and_the_backup_confirmation_is_not() {
    let r = request(RequestPhase::Active);
    let status = ExitRequestStatus {
        approval: Some(Approval {
            decision: Decision::Approved,
            reviewer: None,
            comment: None,
            decided_at: None,
            generation: None,
            reclaim_override: None,
            paperwork_complete: None,
        }),
        ..Default::default()
    };
    let approved = run(
        &spec("2026-11-01", false),
        &status,
        Some(&r),
        t(11, 20, 10),
        t(11, 20, 10),
    );
    assert_eq!(approved.status.phase, Some(ExitPhase::Transition));
    assert_eq!(
        approved
            .status
            .approved_spec
            .as_ref()
            .map(|s| s.request.as_str()),
        Some("portal")
    );
    let confirmed = run(
        &spec("2026-11-01", true),
        &approved.status,
        Some(&r),
        t(11, 20, 10),
        t(11, 20, 11),
    );
    assert_eq!(confirmed.status.phase, Some(ExitPhase::Transition));
    assert!(!conditions::is_true(
        &confirmed.status.conditions,
        types::APPROVAL_STALE
    ));
    let mut retargeted = spec("2026-11-01", true);
    retargeted.request = "other".into();
    let stale = run(
        &retargeted,
        &confirmed.status,
        Some(&r),
        t(11, 20, 10),
        t(11, 20, 12),
    );
    assert_eq!(stale.status.phase, Some(ExitPhase::Submitted));
    assert!(conditions::is_true(
        &stale.status.conditions,
        types::APPROVAL_STALE
    ));
}
