//! Issue 13: a grant is exactly what was approved. The tenant is built from the record in
//! status only; a spec edited afterwards is named in `UnappliedSpecChange`; only an
//! approved ResourceChange moves access groups or the zone; a grant of an earlier release
//! gets its record from the spec once.

use super::*;
use crate::api::Access;
use crate::policy::change::GrantChange;

fn active_with_groups(groups: &[&str]) -> World {
    let mut w = World::new(RequestClass::Production);
    w.spec.access = Some(Access {
        groups: groups.iter().map(|g| g.to_string()).collect(),
    });
    w.step(t(2026, 3, 2, 10));
    w.approve(None);
    w.step(t(2026, 3, 3, 10));
    let active = w.step(t(2026, 3, 3, 10));
    assert_eq!(active.status.phase, Some(RequestPhase::Active));
    w
}

fn tenant_of(out: &Outcome) -> &TenantSpec {
    match &out.action {
        Action::Activate { tenant, .. } | Action::Suspend { tenant } => tenant,
        other => panic!("no tenant: {other:?}"),
    }
}

#[test]
fn the_grant_records_groups_zone_and_policy() {
    let w = active_with_groups(&["finance-devs"]);
    assert_eq!(
        w.status.granted_access_groups,
        Some(vec!["finance-devs".to_string()])
    );
    assert_eq!(w.status.granted_zone, Some(Zone::EGovExtranet));
    assert_eq!(w.status.granted_policy.as_deref(), Some("xishuangbanna"));
}

#[test]
fn groups_zone_and_policy_edited_after_approval_change_nothing_and_are_named() {
    let mut w = active_with_groups(&["finance-devs"]);
    w.generation = 2;
    w.spec.access = Some(Access {
        groups: vec!["finance-devs".into(), "everyone".into()],
    });
    w.spec.system.zone = Zone::Internet;
    w.spec.policy = Some("shanghai".into());
    let out = w.step(t(2026, 3, 4, 10));
    let tenant = tenant_of(&out);
    assert_eq!(tenant.groups, vec!["finance-devs".to_string()]);
    assert_eq!(
        tenant.labels.get(tenant::ZONE_LABEL).map(String::as_str),
        Some("EGovExtranet")
    );
    let c = w.cond(types::UNAPPLIED_SPEC_CHANGE).expect("flagged");
    assert_eq!(c.status, "True");
    for field in ["spec.access.groups", "spec.system.zone", "spec.policy"] {
        assert!(c.message.contains(field), "{field} in {}", c.message);
    }
    assert!(!c.message.contains("spec.resources"), "{}", c.message);
    assert_eq!(out.status.granted_policy.as_deref(), Some("xishuangbanna"));
    // Put back as granted: the flag goes.
    w.generation = 3;
    w.spec.access = Some(Access {
        groups: vec!["finance-devs".into()],
    });
    w.spec.system.zone = Zone::EGovExtranet;
    w.spec.policy = Some("xishuangbanna".into());
    w.step(t(2026, 3, 4, 11));
    assert!(!conditions::is_true(
        &w.status.conditions,
        types::UNAPPLIED_SPEC_CHANGE
    ));
}

#[test]
fn only_an_approved_change_moves_groups_and_zone() {
    let mut w = active_with_groups(&["finance-devs"]);
    w.changes = vec![GrantChange {
        name: "access".into(),
        uid: "c1".into(),
        decided_at: None,
        resources: Amounts::default(),
        extend_to: None,
        convert_to: None,
        access_groups: Some(vec!["finance-ops".into()]),
        zone: Some(Zone::Internet),
    }];
    let out = w.step(t(2026, 3, 4, 10));
    let tenant = tenant_of(&out);
    assert_eq!(tenant.groups, vec!["finance-ops".to_string()]);
    assert_eq!(
        tenant.labels.get(tenant::ZONE_LABEL).map(String::as_str),
        Some("Internet")
    );
    assert_eq!(out.status.applied_changes.len(), 1);
    assert_eq!(
        out.status.grant.as_ref().unwrap().cpu,
        Some(IntOrString::String("8".into())),
        "amounts untouched"
    );
}

#[test]
fn a_grant_of_an_earlier_release_is_recorded_from_the_spec_once() {
    let mut w = active_with_groups(&["finance-devs"]);
    let before = tenant_of(&w.decide(t(2026, 3, 4, 10))).clone();
    // As an earlier release left it: amounts, class and duration only.
    w.status.granted_access_groups = None;
    w.status.granted_zone = None;
    w.status.granted_policy = None;
    let out = w.step(t(2026, 3, 4, 10));
    assert_eq!(
        tenant_of(&out),
        &before,
        "the tenant is unchanged: no downtime"
    );
    assert_eq!(
        out.status.granted_access_groups,
        Some(vec!["finance-devs".to_string()])
    );
    assert_eq!(out.status.granted_policy.as_deref(), Some("xishuangbanna"));
    assert!(
        out.notices
            .iter()
            .any(|n| n.reason == "GrantRecordCompleted"),
        "{:?}",
        out.notices
    );
    // Once: the next pass says nothing and changes nothing.
    let again = w.step(t(2026, 3, 4, 11));
    assert!(
        !again
            .notices
            .iter()
            .any(|n| n.reason == "GrantRecordCompleted")
    );
    // And from then on the record rules.
    w.generation = 2;
    w.spec.access = Some(Access {
        groups: vec!["everyone".into()],
    });
    let edited = w.step(t(2026, 3, 4, 12));
    assert_eq!(tenant_of(&edited).groups, vec!["finance-devs".to_string()]);
}

/// Issue 13: a status naming a namespace no tenant may be (forged) is Invalid and nothing
/// is deleted, not even when an exit asks for reclamation.
#[test]
fn a_forged_tenant_namespace_is_invalid_and_never_deleted() {
    let mut w = active_with_groups(&["finance-devs"]);
    for forged in ["kube-system", "govcloud-system", "default"] {
        w.status.tenant_namespace = Some(forged.into());
        w.exit_reclaim = true;
        w.tenant = None;
        let out = w.decide(t(2026, 3, 4, 10));
        assert_eq!(out.action, Action::None, "{forged}");
        assert_eq!(out.status.phase, Some(RequestPhase::Invalid), "{forged}");
        let c = conditions::find(&out.status.conditions, types::INVALID).unwrap();
        assert!(
            c.message.contains("status.tenantNamespace"),
            "{}",
            c.message
        );
    }
}

/// Issue 13: a namespace not seen carrying the owner UID is never deleted.
#[test]
fn reclamation_needs_the_namespace_seen_as_owned() {
    let mut w = active_with_groups(&["finance-devs"]);
    w.exit_reclaim = true;
    w.tenant = None;
    assert_eq!(w.decide(t(2026, 3, 4, 10)).action, Action::None);
    w.tenant = Some(TenantState::Foreign {
        owner_uid: Some("someone-else".into()),
    });
    assert_eq!(w.decide(t(2026, 3, 4, 10)).action, Action::None);
    w.tenant = Some(TenantState::Owned { terminating: false });
    assert!(matches!(
        w.decide(t(2026, 3, 4, 10)).action,
        Action::Reclaim { .. }
    ));
}

/// Issue 13: the tenant carries the policy's Pod Security level (per class), its object
/// counts, and its zone's egress.
#[test]
fn the_tenant_is_hardened_by_its_policy() {
    let mut w = World::new(RequestClass::Production);
    w.rules.hardening = crate::policy::hardening::resolve(Some(&crate::api::TenantRules {
        pod_security: Some(crate::api::PodSecurityRules {
            enforce: None,
            classes: [("Production".to_string(), "baseline".to_string())].into(),
        }),
        egress: [("EGovExtranet".to_string(), vec!["10.20.0.0/16".to_string()])].into(),
        object_counts: [("secrets".to_string(), 7)].into(),
    }))
    .unwrap();
    w.step(t(2026, 3, 2, 10));
    w.approve(None);
    w.step(t(2026, 3, 3, 10));
    let out = w.step(t(2026, 3, 3, 10));
    let tenant = tenant_of(&out);
    for key in [
        crate::policy::hardening::PSA_ENFORCE,
        crate::policy::hardening::PSA_WARN,
        crate::policy::hardening::PSA_AUDIT,
    ] {
        assert_eq!(tenant.labels.get(key).map(String::as_str), Some("baseline"));
    }
    assert_eq!(tenant.quota.get("secrets").map(String::as_str), Some("7"));
    assert_eq!(tenant.quota.get("services").map(String::as_str), Some("50"));
    assert_eq!(tenant.egress, ["10.20.0.0/16".to_string()]);
    // A suspended tenant stays closed to new pods whatever the count says.
    assert_eq!(
        crate::policy::tenant::desired(crate::policy::tenant::TenantInput {
            namespace: "n",
            request_namespace: "r",
            request_name: "x",
            request_uid: "u",
            zone: "EGovExtranet",
            class: "Production",
            grant: &Amounts::default(),
            groups: &[],
            pool: "p",
            pod_security: "restricted",
            egress: &[],
            object_counts: &w.rules.hardening.object_counts,
            closed: true,
        })
        .quota
        .get("pods")
        .map(String::as_str),
        Some("0")
    );
}
