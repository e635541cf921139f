//! A request after its grant: capacity, emergency, expiry, deletion, changes and
//! extensions.

use super::*;

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
    assert!(matches!(
        w.step(t(2026, 3, 4, 10)).action,
        Action::Activate { .. }
    ));
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
    let active = w.step(t(2026, 3, 2, 11));
    assert!(matches!(active.action, Action::Activate { .. }));
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
            decided_at: None,
            resources: amounts("16"),
            extend_to: None,
            convert_to: None,
            access_groups: None,
            zone: None,
        },
        GrantChange {
            name: "trim".into(),
            uid: "c2".into(),
            decided_at: None,
            resources: amounts("12"),
            extend_to: None,
            convert_to: Some(RequestClass::Production),
            access_groups: None,
            zone: None,
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
        decided_at: None,
        resources: Amounts::default(),
        extend_to: chrono::NaiveDate::from_ymd_opt(2026, 12, 31),
        convert_to: None,
        access_groups: None,
        zone: None,
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
fn an_approval_opens_in_one_pass_with_or_without_a_pool_limit() {
    // Issue 11: a pool no longer costs a separate reservation pass (the tenant namespace
    // carries its grant and counts against the pool until the status reports it).
    for pooled in [true, false] {
        let mut w = World::new(RequestClass::Production);
        assert!(w.rules.capacity.is_some(), "the preset has a pool");
        if !pooled {
            w.rules.capacity = None;
        }
        w.step(t(2026, 3, 2, 10));
        w.approve(None);
        let out = w.step(t(2026, 3, 3, 10));
        assert!(
            matches!(out.action, Action::Activate { .. }),
            "pool {pooled}: {:?}",
            out.action
        );
        assert_eq!(out.status.phase, Some(RequestPhase::Active));
        assert!(
            out.status.grant.is_some() && out.status.billing.as_ref().unwrap().started_at.is_some()
        );
    }
    // Not looked up yet (no tenant observation): the grant is written first, alone.
    let mut w = World::new(RequestClass::Production);
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
