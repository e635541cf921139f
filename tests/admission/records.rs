//! GovCloudRecords are append-only (issue 16; SN 31, GY 22): with the webhook registered, a
//! user whose Role lets them write records is refused by the webhook (not by RBAC) when
//! they edit, delete or forge one, while the operator still writes records and its retention
//! pass still removes them, and deleting a namespace still deletes its records.

use govcloud_operator::api::{GovCloudRecord, RequestPhase};
use kube::api::DeleteParams;
use support::records::{chain_of, contiguous, records};

use super::*;

/// The rule's name, as the refusals carry it.
const RULE: &str = "append-only-record";

/// A namespace whose policy keeps records for `retention`, with the vendor allowed every
/// verb on records there by RBAC; waits until the webhook's cache knows the policy.
async fn namespace_for_records(s: &Setup, prefix: &str, retention: &str) -> Result<String> {
    let admin = s.cp.admin().await?;
    let ns = support::records::namespace_with_policy(s.cp, prefix, |p| {
        p["records"] = serde_json::json!({"retention": retention})
    })
    .await?;
    apply_yaml(
        &admin,
        r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: record-editor}
rules:
  - apiGroups: ["govcloud.io"]
    resources: ["govcloudrecords"]
    verbs: ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: vendor-edits-records}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: record-editor}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: vendor}]
"#,
        Some(&ns),
    )
    .await?;
    Ok(ns)
}

/// Files a request as the vendor and waits until the operator has recorded its filing.
async fn filed_with_records(s: &Setup, ns: &str) -> Result<(String, Vec<GovCloudRecord>)> {
    let vendor = s.cp.vendor().await?;
    let admin = s.cp.admin().await?;
    let r = file(
        &vendor,
        ns,
        "portal",
        request_spec(ns, RequestClass::Production, "1"),
    )
    .await?;
    let uid = r.uid().context("uid")?;
    let chain = wait_for(T, "the operator to record the filing", || async {
        let chain = chain_of(&admin, ns, &uid).await?;
        Ok(Some(chain).filter(|c| !c.is_empty()))
    })
    .await
    .map_err(|e| anyhow!("{e}\n{}", log(s)))?;
    Ok((uid, chain))
}

#[tokio::test]
async fn records_cannot_be_edited_deleted_or_forged_by_a_user_rbac_allows() -> Result<()> {
    let s = setup().await?;
    let _shared = EXCLUSIVE.read().await;
    let ns = namespace_for_records(s, "records", "12mo").await?;
    let vendor = s.cp.vendor().await?;
    // RBAC lets the vendor do all of it: what refuses below is the webhook.
    for verb in ["create", "update", "patch", "delete"] {
        assert!(
            support::can_i(
                &vendor,
                verb,
                "govcloud.io",
                "govcloudrecords",
                None,
                Some(&ns)
            )
            .await?,
            "{verb}"
        );
    }
    let (uid, chain) = filed_with_records(s, &ns).await?;
    let first = chain.first().context("a record")?.clone();
    let name = first.name_any();
    let api: Api<GovCloudRecord> = Api::namespaced(vendor, &ns);

    // An edit of the content.
    let edit = serde_json::json!({"spec": {"actor": "mallory", "message": "approved by mallory"}});
    let text = denial(
        api.patch(&name, &PatchParams::default(), &Patch::Merge(&edit))
            .await,
        RULE,
    )?;
    for needle in ["SN 31", "GY 22", "append-only", "retention pass", "vendor"] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    // A replace as well (an update with the whole object).
    let mut replaced = api.get(&name).await?;
    replaced.spec.step = "Approved".into();
    denial(
        api.replace(&name, &PostParams::default(), &replaced).await,
        RULE,
    )?;
    // A deletion, one by one or by collection.
    let text = denial(api.delete(&name, &DeleteParams::default()).await, RULE)?;
    assert!(text.contains("retention pass"), "{text}");
    let all = api
        .delete_collection(&DeleteParams::default(), &Default::default())
        .await;
    assert!(all.is_err(), "{all:?}");
    // A forged record, continuing the chain.
    let mut forged_spec = first.spec.clone();
    forged_spec.sequence = 99;
    forged_spec.step = "Approved".into();
    forged_spec.actor = Some("alice".into());
    let forged = GovCloudRecord::new(&format!("{uid}-99"), forged_spec);
    let text = denial(api.create(&PostParams::default(), &forged).await, RULE)?;
    assert!(text.contains("may not create"), "{text}");

    // Nothing changed.
    let admin = s.cp.admin().await?;
    let now = chain_of(&admin, &ns, &uid).await?;
    assert_eq!(now.first().map(|r| &r.spec), Some(&first.spec));
    assert!(contiguous(&now), "{now:?}");
    assert!(
        Api::<GovCloudRecord>::namespaced(admin.clone(), &ns)
            .get_opt(&forged.name_any())
            .await?
            .is_none()
    );

    // Deleting the namespace still deletes its records with it (the namespace controller's
    // deletions pass while the namespace terminates), rather than leaving it Terminating.
    // It also holds the Submitted request, with the finalizer it carries from its create:
    // the operator releases it though nothing can be recorded in a terminating namespace.
    let requests: Api<CloudResourceRequest> = Api::namespaced(admin.clone(), &ns);
    assert_eq!(
        requests.get("portal").await?.finalizers(),
        [TENANT_PROTECTION_FINALIZER]
    );
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(admin.clone());
    namespaces.delete(&ns, &DeleteParams::default()).await?;
    wait_until(
        Duration::from_secs(120),
        "the namespace and its records gone",
        || async { Ok(namespaces.get_opt(&ns).await?.is_none()) },
    )
    .await
    .map_err(|e| anyhow!("{e}\n{}", log(s)))?;
    Ok(())
}

#[tokio::test]
async fn the_operator_still_writes_records_and_its_retention_removes_them() -> Result<()> {
    let s = setup().await?;
    let _shared = EXCLUSIVE.read().await;
    let ns = namespace_for_records(s, "records-kept", "8s").await?;
    let admin = s.cp.admin().await?;
    let (uid, _) = filed_with_records(s, &ns).await?;
    // Approved and granted: each step is a record the operator writes through the webhook.
    approve(s, &ns, "portal", "alice").await?;
    let active = wait_phase(&admin, &ns, "portal", RequestPhase::Active, T)
        .await
        .map_err(|e| anyhow!("{e}\n{}", log(s)))?;
    let through = active
        .status
        .and_then(|st| st.record)
        .map(|r| r.recorded_through)
        .context("status.record")?;
    assert!(through >= 3, "filed, approved, active: {through}");
    // The retention pass creates its checkpoint and deletes the expired records.
    wait_until(T, "a checkpoint and no expired records", || async {
        let all = records(&admin, &ns).await?;
        let checkpoint = all
            .iter()
            .filter_map(|r| r.spec.checkpoint.as_ref())
            .any(|c| c.through >= through);
        let old = all
            .iter()
            .filter(|r| r.spec.checkpoint.is_none() && r.spec.sequence <= through)
            .count();
        Ok(checkpoint && old == 0)
    })
    .await
    .map_err(|e| anyhow!("{e}\n{}", log(s)))?;
    assert!(chain_of(&admin, &ns, &uid).await?.is_empty());
    Ok(())
}
