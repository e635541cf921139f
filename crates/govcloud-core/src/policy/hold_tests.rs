use chrono::TimeZone;

use super::*;
use crate::api::{
    Billing, CloudResourceRequest, CloudResourceRequestSpec, CloudResourceRequestStatus,
    DataDisposition, Decision, ExitPhase, ExitRequestSpec, ExitRequestStatus, ReclaimOverride,
    RequestClass, RequestPhase, ResourceAmounts, SystemInfo, Zone,
};
use crate::policy::conditions::{find, is_true};
use crate::policy::exit::{ExitInputs, ExitOutcome, decide};
use crate::policy::provisional::provisional_year;
use crate::policy::rules::{Rules, resolve};

fn t(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(y, m, d, 10, 0, 0)
        .unwrap()
        .with_timezone(&Utc)
}

#[test]
fn gaps_name_provisional_and_missing_years_apart() {
    let cal = Calendar::cn_statutory().with_provisional();
    let tz = chrono_tz::Asia::Shanghai;
    let mut g = Gaps::default();
    let incomplete = |at| Deadline {
        at,
        calendar_complete: false,
    };
    g.note(&cal, tz, t(2026, 12, 20), incomplete(t(2027, 2, 1)));
    assert_eq!(g.provisional.iter().copied().collect::<Vec<_>>(), [2027]);
    assert!(g.missing.is_empty());
    assert_eq!(g.calendar_incomplete().unwrap().reason, PROVISIONAL);
    // Without the provisional calendar the same count relied on weekends alone.
    let mut bare = Gaps::default();
    bare.note(
        &Calendar::cn_statutory(),
        tz,
        t(2026, 12, 20),
        incomplete(t(2027, 2, 1)),
    );
    assert_eq!(bare.missing.iter().copied().collect::<Vec<_>>(), [2027]);
    assert_eq!(bare.calendar_incomplete().unwrap().reason, WITHOUT_DATA);
    // A complete count notes nothing.
    let mut none = Gaps::default();
    let complete = Deadline {
        at: t(2027, 2, 1),
        calendar_complete: true,
    };
    none.note(&cal, tz, t(2026, 12, 20), complete);
    assert!(none.is_empty() && none.calendar_incomplete().is_none());
    assert_eq!(reclaim_hold(&none, None, "cn-statutory"), Hold::Proceed);
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

fn request() -> CloudResourceRequest {
    let mut r = CloudResourceRequest::new(
        "portal",
        CloudResourceRequestSpec {
            policy: None,
            class: RequestClass::Production,
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
        phase: Some(RequestPhase::Active),
        billing: Some(Billing {
            started_at: Some(t(2026, 1, 5)),
            ..Default::default()
        }),
        ..Default::default()
    });
    r
}

/// An exit approved 2026-11-02 under Suining's 3-month transition: it ends in February
/// 2027, a year without a notice in `cal` unless loaded.
fn exit(cal: &Calendar, status: &ExitRequestStatus, now: DateTime<Utc>) -> ExitOutcome {
    let rules = suining();
    let req = request();
    let spec = ExitRequestSpec {
        request: "portal".into(),
        reason: None,
        last_used_on: None,
        data_disposition: Some(DataDisposition {
            backup_confirmed: true,
            backup_location: None,
        }),
    };
    decide(&ExitInputs {
        generation: 1,
        filed_at: t(2026, 11, 2),
        spec: &spec,
        status,
        request: Some(&req),
        rules: Some(&rules),
        calendar: cal,
        now,
    })
}

fn approved(over: Option<ReclaimOverride>) -> ExitRequestStatus {
    ExitRequestStatus {
        approval: Some(crate::api::Approval {
            decision: Decision::Approved,
            reviewer: Some("bureau-li".into()),
            comment: None,
            decided_at: Some(t(2026, 11, 2)),
            generation: None,
            reclaim_override: over,
            paperwork_complete: None,
        }),
        ..Default::default()
    }
}

#[test]
fn an_exit_ending_in_a_provisional_year_waits_to_wipe() {
    let cal = Calendar::cn_statutory().with_provisional();
    let first = exit(&cal, &approved(None), t(2026, 11, 3));
    let ends = first
        .status
        .deadlines
        .clone()
        .unwrap()
        .transition_ends_at
        .unwrap();
    assert!(ends > t(2027, 1, 1));
    let later = ends + chrono::Duration::days(3);
    let out = exit(&cal, &first.status, later);
    assert_eq!(out.status.phase, Some(ExitPhase::Transition));
    let c = find(&out.status.conditions, types::RECLAIM_HELD).unwrap();
    assert_eq!(
        (c.status.as_str(), c.reason.as_str()),
        ("True", PROVISIONAL)
    );
    assert!(c.message.contains("2027"));
    assert!(
        out.notices
            .iter()
            .any(|n| n.reason == "ReclaimHeld" && n.warning)
    );
    assert!(is_true(&out.status.conditions, types::CALENDAR_INCOMPLETE));

    // Negative control: with 2027 loaded the same exit reclaims.
    let mut loaded = Calendar::cn_statutory().with_provisional();
    loaded.set_year(2027, provisional_year(2027).unwrap());
    let out = exit(&loaded, &first.status, later);
    assert_eq!(out.status.phase, Some(ExitPhase::Reclaiming));
    assert!(find(&out.status.conditions, types::RECLAIM_HELD).is_none());
}

#[test]
fn an_exits_override_lets_the_wipe_proceed_and_names_who() {
    let cal = Calendar::cn_statutory().with_provisional();
    let first = exit(&cal, &approved(None), t(2026, 11, 3));
    let ends = first
        .status
        .deadlines
        .clone()
        .unwrap()
        .transition_ends_at
        .unwrap();
    let mut st = exit(&cal, &first.status, ends + chrono::Duration::days(3)).status;
    st.approval = approved(Some(ReclaimOverride {
        reason: "the unit moved out early".into(),
        by: Some("director-wang".into()),
    }))
    .approval;
    let out = exit(&cal, &st, ends + chrono::Duration::days(4));
    assert_eq!(out.status.phase, Some(ExitPhase::Reclaiming));
    let c = find(&out.status.conditions, types::RECLAIM_HELD).unwrap();
    assert_eq!(
        (c.status.as_str(), c.reason.as_str()),
        ("False", OVERRIDDEN)
    );
    assert!(c.message.contains("director-wang"));
    assert!(
        out.notices
            .iter()
            .any(|n| n.reason == "ReclaimOverridden" && n.message.contains("director-wang"))
    );
}
