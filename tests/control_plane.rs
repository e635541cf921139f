//! The test harness is real: the CRDs install on the control plane the project boots, a
//! request round-trips, approval is a status write that RBAC keeps from applicants, and
//! kube-controller-manager runs the controllers the operator relies on (namespace deletion,
//! garbage collection, ResourceQuota status, Deployments → ReplicaSets).
//!
//! All tests of this binary share one control plane (see `support`); each works in
//! namespaces of its own.

mod support;

use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use k8s_openapi::{
    api::{
        apps::v1::{Deployment, ReplicaSet},
        core::v1::{ConfigMap, Namespace, ResourceQuota},
        rbac::v1::{RoleBinding, RoleRef, Subject},
    },
    apimachinery::pkg::apis::meta::v1::OwnerReference,
};
use kube::{
    Client,
    api::{
        Api, DeleteParams, DynamicObject, ListParams, ObjectMeta, Patch, PatchParams, PostParams,
    },
};
use serde_json::{Value, json};
use support::{Identity, can_i, control_plane, crr_resource, unique_ns};

/// How long a controller may take to act on a busy two-core machine.
const SETTLE: Duration = Duration::from_secs(90);

/// The CloudResourceRequest spec of DESIGN.md's example.
fn example_spec() -> Value {
    json!({
        "policy": "shanghai",
        "class": "Production",
        "applicantUnit": "市财政局",
        "userUnit": "市财政局信息中心",
        "system": {"name": "tax-portal", "securityLevel": 3, "zone": "EGovExtranet"},
        "project": {"id": "SH-2026-0042", "quota": {"cpu": "64", "memory": "256Gi", "storage": "4Ti"}},
        "resources": {"cpu": "32", "memory": "128Gi", "storage": "2Ti", "gpu": 0, "loadBalancers": 1, "publicIPs": 1},
        "duration": "30d",
        "workload": "Steady",
        "emergency": false,
        "migration": {"fromExisting": true, "proof": "old contract ends 2026-12-31"},
        "access": {"groups": ["unit-finance:ops"]},
        "tenantNamespace": "tax-portal"
    })
}

fn request(name: &str, namespace: &str) -> DynamicObject {
    DynamicObject::new(name, &crr_resource())
        .within(namespace)
        .data(json!({ "spec": example_spec() }))
}

fn requests(client: &Client, namespace: &str) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), namespace, &crr_resource())
}

/// A namespace of the test's own, created by the admin.
async fn namespace(client: &Client, prefix: &str) -> Result<String> {
    let name = unique_ns(prefix);
    support::create_namespace(client, &name).await?;
    Ok(name)
}

fn role_binding(namespace: &str, cluster_role: &str, group: &str) -> RoleBinding {
    RoleBinding {
        metadata: ObjectMeta {
            name: Some(cluster_role.to_string()),
            namespace: Some(namespace.to_string()),
            ..Default::default()
        },
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".to_string(),
            kind: "ClusterRole".to_string(),
            name: cluster_role.to_string(),
        },
        subjects: Some(vec![Subject {
            api_group: Some("rbac.authorization.k8s.io".to_string()),
            kind: "Group".to_string(),
            name: group.to_string(),
            ..Default::default()
        }]),
    }
}

#[tokio::test]
async fn crds_install_and_a_request_round_trips() -> Result<()> {
    let cp = control_plane()?;
    let admin = cp.admin().await?;
    let crds = support::apply_crds(&admin).await?;
    ensure!(
        crds.iter()
            .any(|n| n == "cloudresourcerequests.govcloud.io"),
        "crds/ has no cloudresourcerequests.govcloud.io: {crds:?}"
    );

    let ns = namespace(&admin, "crr-round-trip").await?;
    let api = requests(&admin, &ns);
    let created = api
        .create(&PostParams::default(), &request("tax-portal", &ns))
        .await?;
    ensure!(created.metadata.uid.is_some(), "the server assigned no uid");

    let read = api.get("tax-portal").await?;
    assert_eq!(
        read.data["spec"],
        example_spec(),
        "spec read back differs from the spec sent"
    );
    Ok(())
}

#[tokio::test]
async fn approval_is_a_status_write_only_approvers_may_make() -> Result<()> {
    let cp = control_plane()?;
    let admin = cp.admin().await?;
    support::apply_crds(&admin).await?;
    support::apply_yaml_file(
        &admin,
        support::repo_root().join("charts/govcloud-operator/templates/clusterroles.yaml"),
    )
    .await?;

    let ns = namespace(&admin, "approval-rbac").await?;
    let bindings = Api::<RoleBinding>::namespaced(admin.clone(), &ns);
    for (role, identity) in [
        ("govcloud-applicant", Identity::Vendor),
        ("govcloud-approver", Identity::Approver),
    ] {
        bindings
            .create(
                &PostParams::default(),
                &role_binding(&ns, role, identity.group()),
            )
            .await
            .with_context(|| format!("binding {role}"))?;
    }
    let vendor = cp.vendor().await?;
    let approver = cp.approver().await?;

    // RBAC reads bindings through an informer: wait until both are in effect.
    support::wait_until(SETTLE, "the RoleBindings to take effect", || async {
        Ok(can_i(
            &vendor,
            "create",
            support::GROUP,
            "cloudresourcerequests",
            None,
            Some(&ns),
        )
        .await?
            && can_i(
                &approver,
                "patch",
                support::GROUP,
                "cloudresourcerequests",
                Some("status"),
                Some(&ns),
            )
            .await?)
    })
    .await?;
    ensure!(
        !can_i(
            &vendor,
            "patch",
            support::GROUP,
            "cloudresourcerequests",
            Some("status"),
            Some(&ns)
        )
        .await?,
        "govcloud-applicant lets applicants patch cloudresourcerequests/status"
    );

    // The vendor files a request (spec) …
    requests(&vendor, &ns)
        .create(&PostParams::default(), &request("tax-portal", &ns))
        .await
        .context("the vendor creating a request")?;

    // … but may not approve it.
    let decision = json!({"status": {"approval": {"decision": "Approved", "reviewer": "alice"}}});
    let denied = requests(&vendor, &ns)
        .patch_status(
            "tax-portal",
            &PatchParams::default(),
            &Patch::Merge(&decision),
        )
        .await;
    match denied {
        Err(kube::Error::Api(status)) if status.code == 403 => {}
        Err(other) => bail!("the vendor's status patch failed, but not with 403: {other}"),
        Ok(_) => bail!("the vendor approved its own request"),
    }
    let unchanged = requests(&admin, &ns).get("tax-portal").await?;
    ensure!(
        unchanged.data.pointer("/status/approval").is_none(),
        "the denied patch left an approval: {}",
        unchanged.data["status"]
    );

    // The approver's identical patch succeeds and is visible to everyone.
    let approved = requests(&approver, &ns)
        .patch_status(
            "tax-portal",
            &PatchParams::default(),
            &Patch::Merge(&decision),
        )
        .await
        .context("the approver's status patch")?;
    assert_eq!(
        approved.data.pointer("/status/approval/decision"),
        Some(&json!("Approved"))
    );
    let seen = requests(&vendor, &ns)
        .get("tax-portal")
        .await
        .context("the vendor reading its request")?;
    assert_eq!(
        seen.data.pointer("/status/approval/decision"),
        Some(&json!("Approved"))
    );
    assert_eq!(
        seen.data.pointer("/status/approval/reviewer"),
        Some(&json!("alice"))
    );
    assert_eq!(
        seen.data["spec"],
        example_spec(),
        "the status patch changed the spec"
    );

    // The vendor can still file requests.
    requests(&vendor, &ns)
        .create(&PostParams::default(), &request("second", &ns))
        .await
        .context("the vendor creating a second request")?;
    Ok(())
}

#[tokio::test]
async fn namespace_deletion_completes() -> Result<()> {
    let cp = control_plane()?;
    let admin = cp.admin().await?;
    let ns = namespace(&admin, "ns-deletion").await?;
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some("data".to_string()),
            ..Default::default()
        },
        data: Some([("k".to_string(), "v".to_string())].into()),
        ..Default::default()
    };
    Api::<ConfigMap>::namespaced(admin.clone(), &ns)
        .create(&PostParams::default(), &cm)
        .await?;

    let namespaces = Api::<Namespace>::all(admin.clone());
    namespaces.delete(&ns, &DeleteParams::default()).await?;
    // Only kube-controller-manager's namespace controller empties the namespace and
    // removes the `kubernetes` finalizer; without it the namespace stays Terminating.
    support::wait_until(SETTLE, format!("namespace {ns} to be gone"), || async {
        match namespaces.get(&ns).await {
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(true),
            Ok(_) => Ok(false),
            Err(e) => Err(e.into()),
        }
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn garbage_collector_deletes_dependents() -> Result<()> {
    let cp = control_plane()?;
    let admin = cp.admin().await?;
    let ns = namespace(&admin, "gc").await?;
    let api = Api::<ConfigMap>::namespaced(admin.clone(), &ns);
    let owner = api
        .create(
            &PostParams::default(),
            &ConfigMap {
                metadata: ObjectMeta {
                    name: Some("owner".to_string()),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await?;
    api.create(
        &PostParams::default(),
        &ConfigMap {
            metadata: ObjectMeta {
                name: Some("dependent".to_string()),
                owner_references: Some(vec![OwnerReference {
                    api_version: "v1".to_string(),
                    kind: "ConfigMap".to_string(),
                    name: "owner".to_string(),
                    uid: owner.metadata.uid.clone().context("owner has no uid")?,
                    ..Default::default()
                }]),
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .await?;

    api.delete("owner", &DeleteParams::background()).await?;
    support::wait_until(
        SETTLE,
        "the dependent ConfigMap to be collected",
        || async {
            match api.get("dependent").await {
                Err(kube::Error::Api(status)) if status.code == 404 => Ok(true),
                Ok(_) => Ok(false),
                Err(e) => Err(e.into()),
            }
        },
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn resource_quota_status_is_filled_in() -> Result<()> {
    let cp = control_plane()?;
    let admin = cp.admin().await?;
    let ns = namespace(&admin, "quota").await?;
    let quotas = Api::<ResourceQuota>::namespaced(admin.clone(), &ns);
    let quota: ResourceQuota = serde_json::from_value(json!({
        "metadata": {"name": "grant"},
        "spec": {"hard": {"requests.cpu": "2", "configmaps": "5"}}
    }))?;
    quotas.create(&PostParams::default(), &quota).await?;
    // the quota controller computes usage; kube-root-ca.crt does not exist on 1.20, so the
    // namespace holds no ConfigMap yet
    let used = support::wait_for(SETTLE, "ResourceQuota grant to report usage", || async {
        let q = quotas.get("grant").await?;
        Ok(q.status
            .and_then(|s| s.used)
            .filter(|u| u.contains_key("configmaps")))
    })
    .await?;
    ensure!(
        used.contains_key("requests.cpu"),
        "usage without requests.cpu: {used:?}"
    );
    Ok(())
}

#[tokio::test]
async fn deployments_get_replica_sets() -> Result<()> {
    let cp = control_plane()?;
    let admin = cp.admin().await?;
    let ns = namespace(&admin, "deploy").await?;
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "registry.invalid/web:1"}]}
            }
        }
    }))?;
    let created = Api::<Deployment>::namespaced(admin.clone(), &ns)
        .create(&PostParams::default(), &deployment)
        .await?;
    let uid = created.metadata.uid.context("deployment has no uid")?;
    let replica_sets = Api::<ReplicaSet>::namespaced(admin.clone(), &ns);
    support::wait_until(SETTLE, "a ReplicaSet owned by Deployment web", || async {
        let list = replica_sets.list(&ListParams::default()).await?;
        Ok(list.items.iter().any(|rs| {
            rs.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.uid == uid && o.controller == Some(true))
        }))
    })
    .await?;
    Ok(())
}
