//! The record chain: digests, retries, verification and retention (SN 31).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;

use super::duration::PolicyDuration;
use super::notice::Notice;
use super::record::*;
use super::record_verify::*;
use crate::api::{GovCloudRecordSpec, RecordRequest, RecordRules, RecordStatus, RecordSubject};

fn subject() -> Subject {
    Subject {
        subject: RecordSubject {
            kind: "CloudResourceRequest".into(),
            name: "tax-portal".into(),
            uid: "0b1c2d3e-0000-4000-8000-000000000001".into(),
        },
        request: RecordRequest {
            name: "tax-portal".into(),
            uid: Some("0b1c2d3e-0000-4000-8000-000000000001".into()),
        },
        unit: Some("市财政局".into()),
    }
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 1, 0, 0)
        .single()
        .unwrap_or_default()
}

fn step(word: &str) -> Step {
    Step {
        step: word.into(),
        warning: false,
        message: format!("{word} happened"),
        actor: None,
        generation: Some(1),
        phase: None,
        details: BTreeMap::new(),
    }
}

/// A chain of `n` records, one a day, each kept `keep` days; and the status after it.
fn chain(n: u64, keep: i64) -> (Vec<GovCloudRecordSpec>, Option<RecordStatus>) {
    let s = subject();
    let mut head: Option<RecordStatus> = None;
    let mut out = Vec::new();
    for i in 0..n {
        let at = t0() + Duration::days(i as i64);
        let r = next(
            &s,
            head.as_ref(),
            &step(&format!("S{i}")),
            at,
            at + Duration::days(keep),
        );
        head = Some(advance(head.as_ref(), &r));
        out.push(r);
    }
    (out, head)
}

fn anchors(head: &Option<RecordStatus>) -> BTreeMap<String, RecordStatus> {
    head.iter()
        .map(|h| (subject().subject.uid, h.clone()))
        .collect()
}

fn verify_one(records: &[GovCloudRecordSpec], head: &Option<RecordStatus>) -> ChainReport {
    let mut reports = verify(records, &anchors(head));
    assert_eq!(reports.len(), 1);
    reports.remove(0)
}

fn apply(records: &mut Vec<GovCloudRecordSpec>, plan: &RetentionPlan) {
    if let Some(cp) = &plan.checkpoint {
        records.push(cp.clone());
    }
    records.retain(|r| match &r.checkpoint {
        None => !plan.records.contains(&r.sequence),
        Some(c) => !plan.checkpoints.contains(&c.through),
    });
}

#[test]
fn an_untouched_chain_verifies() {
    let (records, head) = chain(5, 400);
    let report = verify_one(&records, &head);
    assert!(report.intact(), "{:?}", report.findings);
    assert_eq!(
        (report.records, report.last, report.retained_through),
        (5, 5, 0)
    );
    assert_eq!(records[0].previous, None);
    assert_eq!(
        records[1].previous.as_deref(),
        Some(records[0].digest.as_str())
    );
}

#[test]
fn an_edited_record_is_found() {
    let (mut records, head) = chain(5, 400);
    records[2].message = "approved by mallory".into();
    assert_eq!(
        verify_one(&records, &head).findings,
        vec![Finding::Altered { sequence: 3 }]
    );
    // Re-signed by the editor: the next record no longer follows it.
    records[2].digest = digest(&records[2]);
    assert_eq!(
        verify_one(&records, &head).findings,
        vec![Finding::BrokenLink { sequence: 4 }]
    );
}

#[test]
fn a_removed_record_is_found_and_told_from_retention() {
    let (records, head) = chain(5, 400);
    let mut gone = records.clone();
    gone.remove(2);
    assert_eq!(
        verify_one(&gone, &head).findings,
        vec![Finding::Removed { from: 3, to: 3 }]
    );
    let mut first_gone = records.clone();
    first_gone.remove(0);
    assert_eq!(
        verify_one(&first_gone, &head).findings,
        vec![Finding::Removed { from: 1, to: 1 }]
    );
    // The last one: only the status' anchor can tell.
    let mut last_gone = records.clone();
    last_gone.pop();
    assert_eq!(
        verify_one(&last_gone, &head).findings,
        vec![Finding::Removed { from: 5, to: 5 }]
    );
    assert_eq!(
        verify(&[], &anchors(&head))[0].findings,
        vec![Finding::Removed { from: 1, to: 5 }],
        "all gone, the status remembers"
    );
    let mut replaced_last = records;
    let s = subject();
    let before = advance(None, &replaced_last[3]);
    replaced_last[4] = next(&s, Some(&before), &step("Forged"), t0(), t0());
    assert_eq!(
        verify_one(&replaced_last, &head).findings,
        vec![Finding::HeadMismatch { sequence: 5 }]
    );
}

#[test]
fn retention_removes_the_oldest_behind_a_checkpoint() {
    // One a day, kept 10 days: on day 12, records 1-3 have expired.
    let (mut records, head) = chain(6, 10);
    let now = t0() + Duration::days(12);
    let plan = plan_retention(&records, now, false);
    assert_eq!(plan.records, vec![1, 2, 3]);
    let cp = plan.checkpoint.clone().and_then(|c| c.checkpoint);
    assert_eq!(cp.map(|c| c.through), Some(3));
    apply(&mut records, &plan);
    let report = verify_one(&records, &head);
    assert!(report.intact(), "{:?}", report.findings);
    assert_eq!((report.retained_through, report.records), (3, 3));
    // Nothing more to do until the next record expires.
    assert!(plan_retention(&records, now, false).is_empty());
    // Later: a newer checkpoint replaces the old one.
    let later = t0() + Duration::days(14);
    let plan = plan_retention(&records, later, false);
    assert_eq!(
        (plan.records.clone(), plan.checkpoints.clone()),
        (vec![4, 5], vec![3])
    );
    apply(&mut records, &plan);
    let report = verify_one(&records, &head);
    assert!(report.intact(), "{:?}", report.findings);
    assert_eq!(report.retained_through, 5);
    // Removing the checkpoint is tampering.
    records.retain(|r| r.checkpoint.is_none());
    assert_eq!(
        verify_one(&records, &head).findings,
        vec![Finding::Removed { from: 1, to: 5 }]
    );
}

#[test]
fn an_interrupted_retention_pass_verifies_and_is_finished_next_time() {
    let (mut records, head) = chain(4, 10);
    let now = t0() + Duration::days(12);
    let plan = plan_retention(&records, now, false);
    // Crashed after the checkpoint, before any removal.
    records.extend(plan.checkpoint.clone());
    assert!(verify_one(&records, &head).intact());
    let again = plan_retention(&records, now, false);
    assert_eq!((again.checkpoint, again.records), (None, vec![1, 2, 3]));
}

#[test]
fn a_gone_subject_whose_records_all_expired_leaves_nothing() {
    let (mut records, _) = chain(3, 10);
    let now = t0() + Duration::days(30);
    let kept = plan_retention(&records, now, false);
    assert!(
        kept.checkpoint.is_some(),
        "a live subject keeps its checkpoint"
    );
    apply(&mut records, &kept);
    let plan = plan_retention(&records, now, true);
    apply(&mut records, &plan);
    assert!(records.is_empty(), "{records:?}");
}

#[test]
fn a_retry_finds_its_own_record() {
    let s = subject();
    let (records, head) = chain(2, 400);
    let first = next(&s, head.as_ref(), &step("Active"), t0(), t0());
    // The retry decides again a second later: same name, same step.
    let retry = next(
        &s,
        head.as_ref(),
        &step("Active"),
        t0() + Duration::seconds(1),
        t0(),
    );
    assert_eq!(
        record_name(&s.subject.uid, first.sequence),
        record_name(&s.subject.uid, retry.sequence)
    );
    assert!(same_step(&first, &retry));
    assert!(!same_step(
        &first,
        &next(&s, head.as_ref(), &step("Suspended"), t0(), t0())
    ));
    assert!(!same_step(&records[0], &first));
}

#[test]
fn names_are_valid_object_names() {
    let name = record_name("0b1c2d3e-0000-4000-8000-000000000001", 7);
    assert_eq!(name, "0b1c2d3e-0000-4000-8000-000000000001-00000007");
    assert!(checkpoint_name("0b1c2d3e-0000-4000-8000-000000000001", u64::MAX).len() <= 253);
}

#[test]
fn the_digest_covers_every_field_and_not_the_field_order() {
    let (records, _) = chain(1, 400);
    let r = &records[0];
    assert!(r.digest.starts_with("sha256:") && r.digest.len() == 7 + 64);
    let mut changed = r.clone();
    changed.details.insert("grant.cpu".into(), "8".into());
    assert_ne!(digest(&changed), r.digest);
    let mut changed = r.clone();
    changed.retain_until -= Duration::seconds(1);
    assert_ne!(digest(&changed), r.digest);
    let mut a = String::new();
    let mut b = String::new();
    canonical(
        &serde_json::json!({"b": 1, "a": {"d": [1, "x"], "c": null}}),
        &mut a,
    );
    canonical(
        &serde_json::json!({"a": {"c": null, "d": [1, "x"]}, "b": 1}),
        &mut b,
    );
    assert_eq!(a, b);
    assert_eq!(a, r#"{"a":{"c":null,"d":[1,"x"]},"b":1}"#);
}

#[test]
fn the_digest_survives_a_round_trip_through_json() {
    let (records, _) = chain(3, 400);
    for r in records {
        let back: GovCloudRecordSpec =
            serde_json::from_str(&serde_json::to_string(&r).unwrap_or_default())
                .unwrap_or_else(|_| r.clone());
        assert_eq!(digest(&back), r.digest);
    }
}

#[test]
fn steps_follow_the_events_and_name_the_deciding_person() {
    let notices = vec![
        Notice {
            warning: false,
            reason: "Active",
            message: "tenant namespace active".into(),
        },
        Notice {
            warning: false,
            reason: "Approved",
            message: "approved by alice".into(),
        },
        Notice {
            warning: true,
            reason: "ExpiringSoon",
            message: "expires soon".into(),
        },
    ];
    let facts = Facts {
        reviewer: Some("alice".into()),
        generation: Some(2),
        first_seen: true,
        ..Facts::default()
    };
    let out = steps(&notices, &facts);
    let words: Vec<_> = out.iter().map(|s| s.step.as_str()).collect();
    // The approval before what it caused, then the Events' order.
    assert_eq!(words, ["Filed", "Approved", "Active", "ExpiringSoon"]);
    assert_eq!(out[1].actor.as_deref(), Some("alice"));
    assert_eq!(out[2].actor, None);
    assert!(out[3].warning);
    // An approval no Event names (an exit going straight to its next phase).
    let exit = Facts {
        approved_by: Some("bob".into()),
        ..Facts::default()
    };
    let reclaiming = [Notice {
        warning: true,
        reason: "Reclaiming",
        message: "reclaiming".into(),
    }];
    let out = steps(&reclaiming, &exit);
    assert_eq!(out[0].step, "Approved");
    assert_eq!(out[0].actor.as_deref(), Some("bob"));
    assert_eq!(
        steps(&notices, &exit)
            .iter()
            .filter(|s| s.step == "Approved")
            .count(),
        1
    );
}

#[test]
fn recent_history_is_bounded() {
    let (_, head) = chain(25, 400);
    let head = head.unwrap_or_default();
    assert_eq!(head.recent.len(), RECENT);
    assert_eq!(head.recent.last().map(|e| e.sequence), Some(25));
    assert_eq!(head.recorded_through, 25);
}

#[test]
fn retention_defaults_to_a_year_and_is_never_shorter() {
    assert_eq!(retention(None), Ok(PolicyDuration::Months(12)));
    let rules = RecordRules {
        retention: Some("90s".into()),
    };
    assert_eq!(retention(Some(&rules)), Ok(PolicyDuration::Seconds(90)));
    assert!(
        retention(Some(&RecordRules {
            retention: Some("soon".into())
        }))
        .is_err()
    );
    let until = retain_until(t0(), DEFAULT_RETENTION);
    assert!(until >= t0() + Duration::days(365), "{until}");
}

proptest! {
    /// Whatever retention does at whatever time, the chain verifies; whatever else
    /// removes a record (not the newest run retention could have taken) is found.
    #[test]
    fn retention_verifies_and_other_removals_are_found(
        n in 1u64..20,
        keep in 1i64..15,
        day in 0i64..40,
        gone_subject in any::<bool>(),
        victim in 0usize..20,
    ) {
        let (mut records, head) = chain(n, keep);
        let now = t0() + Duration::days(day);
        let plan = plan_retention(&records, now, gone_subject);
        apply(&mut records, &plan);
        let head = if gone_subject { None } else { head };
        if !records.is_empty() {
            let report = verify_one(&records, &head);
            prop_assert!(report.intact(), "{:?}", report.findings);
        }
        let plain: Vec<usize> = records
            .iter()
            .enumerate()
            .filter(|(_, r)| r.checkpoint.is_none())
            .map(|(i, _)| i)
            .collect();
        if let Some(&i) = plain.get(victim % plain.len().max(1)) {
            // A removal that leaves a later record, or a status pointing past it.
            let is_last = records[i].sequence == n;
            records.remove(i);
            // (A chain removed whole is found only against its subject's status: the
            // plugin does that; here there is nothing left to verify.)
            if !records.is_empty() && (!is_last || head.is_some()) {
                prop_assert!(!verify_one(&records, &head).intact());
            }
        }
    }
}

#[test]
fn an_object_left_untouched_is_not_recorded() {
    let unknown = [super::unknown::unknown_phase("ResourceChange")];
    let first = Facts {
        first_seen: true,
        ..Facts::default()
    };
    assert!(
        steps(&unknown, &first).is_empty(),
        "not even Filed: no status write"
    );
}
