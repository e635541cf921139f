//! Issue 13 on the real control plane: a grant is exactly what was approved. Each test
//! tries one way of stretching it and asserts nothing was stretched.

#[path = "frozen_grant/pools.rs"]
mod pools;
mod support;

use std::time::Duration;

use govcloud_operator::api::{
    ChangePhase, CloudResourceRequest, ExitPhase, ExitRequest, ExitRequestSpec, RequestClass,
    RequestPhase, ResourceAmounts, ResourceChange, ResourceChangeSpec,
};
use k8s_openapi::api::core::v1::{Namespace, ResourceQuota};
use k8s_openapi::api::rbac::v1::RoleBinding;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use support::govcloud::*;
use support::window::never_during_named;
use support::{ControlPlane, create_namespace, unique_ns, wait_for};

// The slowest step here is an activation or an exit's transition (seconds); 10× margin.
const T: Duration = Duration::from_secs(60);
/// How long a state that must NOT change is watched.
const HOLD: Duration = Duration::from_secs(4);

fn change_spec(request: &str) -> ResourceChangeSpec {
    ResourceChangeSpec {
        request: request.into(),
        resources: None,
        extend_to: None,
        convert_to: None,
        reason: Some("load".into()),
        justification: None,
        recurring: false,
        access_groups: None,
        zone: None,
    }
}

fn cpu(c: &str) -> ResourceAmounts {
    ResourceAmounts {
        cpu: Some(IntOrString::String(c.into())),
        ..Default::default()
    }
}

/// A namespace with a fast policy (no automatic approvals) and Active Production
/// requests `names` of 8 vCPU each.
async fn active(cp: &ControlPlane, prefix: &str, names: &[&str]) -> anyhow::Result<String> {
    let admin = cp.admin().await?;
    let ns = unique_ns(prefix);
    create_namespace(&admin, &ns).await?;
    fast_policy(&admin, &ns, |p| {
        p["review"] = serde_json::json!({"acceptWithin": "600s", "decideWithin": "600s"});
        p["changes"] = serde_json::json!({"reviewWithin": "600s", "applyWithin": "600s"});
        p["exit"] =
            serde_json::json!({"reviewWithin": "600s", "transition": "0s", "submitWithin": "1mo"});
    })
    .await?;
    for name in names {
        file(
            &admin,
            &ns,
            name,
            request_spec(&ns, RequestClass::Production, "8"),
        )
        .await?;
        decide(cp, &ns, name, "Approved", "ok").await?;
    }
    for name in names {
        wait_phase(&admin, &ns, name, RequestPhase::Active, T).await?;
    }
    Ok(ns)
}

/// An approver's decision as DESIGN shows it: a bare merge patch, no generation.
async fn bare_approval<K>(cp: &ControlPlane, ns: &str, name: &str) -> anyhow::Result<()>
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(cp.approver().await?, ns);
    let patch =
        serde_json::json!({"status": {"approval": {"decision": "Approved", "reviewer": "alice"}}});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(patch))
        .await?;
    Ok(())
}

fn true_message(conditions: &[govcloud_operator::api::Condition], type_: &str) -> Option<String> {
    conditions
        .iter()
        .find(|c| c.type_ == type_ && c.status == "True")
        .map(|c| c.message.clone())
}

async fn quota_cpu(client: &Client, tenant: &str) -> anyhow::Result<String> {
    let q = Api::<ResourceQuota>::namespaced(client.clone(), tenant)
        .get("govcloud-grant")
        .await?;
    Ok(q.spec
        .and_then(|s| s.hard)
        .and_then(|h| h.get("requests.cpu").map(|q| q.0.clone()))
        .unwrap_or_default())
}

async fn subjects(client: &Client, tenant: &str) -> anyhow::Result<Vec<String>> {
    let rb = Api::<RoleBinding>::namespaced(client.clone(), tenant)
        .get("govcloud-tenant")
        .await?;
    Ok(rb
        .subjects
        .unwrap_or_default()
        .into_iter()
        .map(|s| s.name)
        .collect())
}

#[tokio::test]
async fn access_groups_edited_after_approval_leave_the_role_binding_unchanged() -> anyhow::Result<()>
{
    let cp = installed(&[]).await?;
    let admin = cp.admin().await?;
    let ns = active(cp, "fg-groups", &["portal"]).await?;
    let tenant = format!("{ns}-portal");
    assert_eq!(subjects(&admin, &tenant).await?, ["unit-finance:ops"]);

    // The applicant adds a group (and moves zone) after approval.
    let requests: Api<CloudResourceRequest> = Api::namespaced(cp.vendor().await?, &ns);
    let patch = serde_json::json!({"spec": {"access": {"groups": ["unit-finance:ops", "system:authenticated"]},
        "system": {"zone": "Internet"}}});
    requests
        .patch("portal", &PatchParams::default(), &Patch::Merge(patch))
        .await?;
    let r = wait_condition(&admin, &ns, "portal", "UnappliedSpecChange", "True", T).await?;
    let why = true_message(&r.status.unwrap().conditions, "UnappliedSpecChange").unwrap();
    assert!(why.contains("spec.access.groups"), "{why}");
    assert!(why.contains("spec.system.zone"), "{why}");
    let rbs: Api<RoleBinding> = Api::namespaced(admin.clone(), &tenant);
    never_during_named(&rbs, "govcloud-tenant", HOLD, "subjects stretched", |rb| {
        let names: Vec<String> = rb
            .and_then(|rb| rb.subjects.clone())
            .unwrap_or_default()
            .into_iter()
            .map(|s| s.name)
            .collect();
        (names != ["unit-finance:ops"]).then(|| format!("subjects now {names:?}"))
    })
    .await?;
    let zone = Api::<Namespace>::all(admin.clone())
        .get(&tenant)
        .await?
        .metadata
        .labels
        .unwrap_or_default()
        .get("govcloud.io/zone")
        .cloned();
    assert_eq!(zone.as_deref(), Some("EGovExtranet"));

    // The way that works: an approved ResourceChange.
    let mut spec = change_spec("portal");
    spec.access_groups = Some(vec!["unit-finance:auditors".into()]);
    Api::<ResourceChange>::namespaced(cp.vendor().await?, &ns)
        .create(&PostParams::default(), &ResourceChange::new("access", spec))
        .await?;
    bare_approval::<ResourceChange>(cp, &ns, "access").await?;
    wait_for(T, "the RoleBinding follows the approved change", || async {
        Ok((subjects(&admin, &tenant).await? == ["unit-finance:auditors"]).then_some(()))
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn an_approved_change_edited_while_the_operator_was_stopped_is_not_applied()
-> anyhow::Result<()> {
    let cp = installed(&[]).await?;
    let admin = cp.admin().await?;
    let ns = active(cp, "fg-stale", &["portal"]).await?;
    let tenant = format!("{ns}-portal");
    let mut spec = change_spec("portal");
    spec.resources = Some(cpu("12"));
    spec.justification = Some("tax season load test report".into());
    let changes: Api<ResourceChange> = Api::namespaced(cp.vendor().await?, &ns);
    changes
        .create(&PostParams::default(), &ResourceChange::new("grow", spec))
        .await?;
    let admin_changes: Api<ResourceChange> = Api::namespaced(admin.clone(), &ns);
    wait_for(T, "change shown as Submitted", || async {
        let c = admin_changes.get("grow").await?;
        Ok((c.status.as_ref().and_then(|s| s.phase) == Some(ChangePhase::Submitted)).then_some(()))
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e}\n{:?}", operator_log()))?;

    // Approved by a bare patch while the operator is stopped, then edited to 48 vCPU.
    with_operator(|o| o.kill());
    bare_approval::<ResourceChange>(cp, &ns, "grow").await?;
    let patch = serde_json::json!({"spec": {"resources": {"cpu": "48"}}});
    changes
        .patch("grow", &PatchParams::default(), &Patch::Merge(patch))
        .await?;
    with_operator(|o| o.restart()).transpose()?;

    let stale = wait_for(T, "change ApprovalStale", || async {
        let c = admin_changes.get("grow").await?;
        let st = c.status.clone().unwrap_or_default();
        Ok(true_message(&st.conditions, "ApprovalStale").map(|_| st))
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e}\n{}", operator_log()))?;
    assert_eq!(stale.phase, Some(ChangePhase::Submitted));
    assert_eq!(stale.approved_spec, None, "nothing approved to act on");
    let requests: Api<CloudResourceRequest> = Api::namespaced(admin.clone(), &ns);
    never_during_named(&requests, "portal", HOLD, "grant stretched", |r| {
        let cpu = r
            .and_then(|r| r.status.as_ref())
            .and_then(|s| s.grant.as_ref())
            .and_then(|g| g.cpu.clone());
        (cpu != Some(IntOrString::String("8".into()))).then(|| format!("grant cpu {cpu:?}"))
    })
    .await?;
    assert_eq!(quota_cpu(&admin, &tenant).await?, "8");

    // A decision naming the current generation applies the spec as it now is.
    let generation = admin_changes.get("grow").await?.metadata.generation;
    let api: Api<ResourceChange> = Api::namespaced(cp.approver().await?, &ns);
    let patch = serde_json::json!({"status": {"approval": {"decision": "Approved", "reviewer": "alice", "generation": generation}}});
    api.patch_status("grow", &PatchParams::default(), &Patch::Merge(patch))
        .await?;
    wait_for(T, "the re-approved change applied", || async {
        Ok((quota_cpu(&admin, &tenant).await? == "48").then_some(()))
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn a_retargeted_exit_reclaims_nothing() -> anyhow::Result<()> {
    let cp = installed(&[]).await?;
    let admin = cp.admin().await?;
    let ns = active(cp, "fg-exit", &["leaving", "staying"]).await?;
    let exits: Api<ExitRequest> = Api::namespaced(cp.vendor().await?, &ns);
    exits
        .create(
            &PostParams::default(),
            &ExitRequest::new(
                "leave",
                ExitRequestSpec {
                    request: "leaving".into(),
                    reason: Some("replaced".into()),
                    last_used_on: None,
                    data_disposition: None,
                },
            ),
        )
        .await?;
    bare_approval::<ExitRequest>(cp, &ns, "leave").await?;
    wait_for(T, "exit awaiting the backup", || async {
        let e = exits.get("leave").await?;
        Ok(e.status
            .as_ref()
            .and_then(|s| true_message(&s.conditions, "AwaitingBackupConfirmation"))
            .map(|_| ()))
    })
    .await?;
    // Retargeted at another request, with the backup confirmed in the same edit.
    let patch = serde_json::json!({"spec": {"request": "staying", "dataDisposition": {"backupConfirmed": true}}});
    exits
        .patch("leave", &PatchParams::default(), &Patch::Merge(patch))
        .await?;
    wait_for(T, "exit ApprovalStale", || async {
        let e = exits.get("leave").await?;
        Ok(e.status
            .as_ref()
            .and_then(|s| true_message(&s.conditions, "ApprovalStale"))
            .map(|_| ()))
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e}\n{}", operator_log()))?;
    let namespaces: Api<Namespace> = Api::all(admin.clone());
    for name in ["leaving", "staying"] {
        let tenant = format!("{ns}-{name}");
        never_during_named(&namespaces, &tenant, HOLD, "tenant deleted", |n| match n {
            None => Some("gone".into()),
            Some(n) if n.metadata.deletion_timestamp.is_some() => Some("terminating".into()),
            _ => None,
        })
        .await?;
        let r = Api::<CloudResourceRequest>::namespaced(admin.clone(), &ns)
            .get(name)
            .await?;
        assert_eq!(r.status.and_then(|s| s.phase), Some(RequestPhase::Active));
    }
    let e = exits.get("leave").await?;
    assert_ne!(e.status.and_then(|s| s.phase), Some(ExitPhase::Reclaiming));
    Ok(())
}

#[tokio::test]
async fn a_forged_tenant_namespace_is_never_deleted() -> anyhow::Result<()> {
    let cp = installed(&[]).await?;
    let admin = cp.admin().await?;
    let ns = active(cp, "fg-forged", &["portal"]).await?;
    // The status names the operator's own namespace (which holds its leader Lease).
    let requests: Api<CloudResourceRequest> = Api::namespaced(admin.clone(), &ns);
    let patch = serde_json::json!({"status": {"tenantNamespace": "govcloud-system"}});
    requests
        .patch_status("portal", &PatchParams::default(), &Patch::Merge(patch))
        .await?;
    // An approved exit asks for reclamation.
    let exits: Api<ExitRequest> = Api::namespaced(cp.vendor().await?, &ns);
    exits
        .create(
            &PostParams::default(),
            &ExitRequest::new(
                "leave",
                ExitRequestSpec {
                    request: "portal".into(),
                    reason: Some("replaced".into()),
                    last_used_on: None,
                    data_disposition: Some(govcloud_operator::api::DataDisposition {
                        backup_confirmed: true,
                        backup_location: None,
                    }),
                },
            ),
        )
        .await?;
    bare_approval::<ExitRequest>(cp, &ns, "leave").await?;
    let r = wait_phase(&admin, &ns, "portal", RequestPhase::Invalid, T).await?;
    let why = true_message(&r.status.unwrap().conditions, "Invalid").unwrap();
    assert!(why.contains("status.tenantNamespace"), "{why}");
    let namespaces: Api<Namespace> = Api::all(admin.clone());
    for name in ["govcloud-system".to_string(), format!("{ns}-portal")] {
        never_during_named(&namespaces, &name, HOLD, "namespace deleted", |n| match n {
            None => Some("gone".into()),
            Some(n) if n.metadata.deletion_timestamp.is_some() => Some("terminating".into()),
            _ => None,
        })
        .await?;
    }
    Ok(())
}
