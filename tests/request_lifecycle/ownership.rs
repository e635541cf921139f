//! Tenant namespaces the operator does not own, and deleting a provisioned request: nothing is deleted that the rules and an approval did not name.

use super::*;

#[tokio::test]
async fn a_namespace_the_operator_does_not_own_is_left_untouched() -> anyhow::Result<()> {
    let cp = installed(&[]).await?;
    let admin = cp.admin().await?;
    let ns = unique_ns("conflict");
    create_namespace(&admin, &ns).await?;
    fast_policy(&admin, &ns, |p| p["provisioning"]["within"] = "4s".into()).await?;
    let taken = unique_ns("taken");
    create_namespace(&admin, &taken).await?;
    let cm: ConfigMap = serde_json::from_value(
        serde_json::json!({"metadata": {"name": "precious"}, "data": {"k": "v"}}),
    )?;
    Api::<ConfigMap>::namespaced(admin.clone(), &taken)
        .create(&PostParams::default(), &cm)
        .await?;
    let mut spec = request_spec(&ns, RequestClass::Production, "2");
    spec.tenant_namespace = Some(taken.clone());
    file(&admin, &ns, "squatter", spec).await?;
    decide(cp, &ns, "squatter", "Approved", "").await?;
    let r = wait_condition(&admin, &ns, "squatter", "NamespaceConflict", "True", T).await?;
    assert_eq!(
        r.status.as_ref().and_then(|s| s.phase),
        Some(RequestPhase::Provisioning)
    );
    wait_condition(&admin, &ns, "squatter", "ProvisioningOverdue", "True", T).await?;
    let nsobj = Api::<Namespace>::all(admin.clone()).get(&taken).await?;
    assert!(!nsobj.labels().contains_key("govcloud.io/managed"));
    assert!(!nsobj.annotations().contains_key("govcloud.io/owner-uid"));
    assert!(
        Api::<ResourceQuota>::namespaced(admin.clone(), &taken)
            .get_opt("govcloud-grant")
            .await?
            .is_none()
    );
    assert!(
        Api::<ConfigMap>::namespaced(admin.clone(), &taken)
            .get_opt("precious")
            .await?
            .is_some()
    );
    Ok(())
}

#[tokio::test]
async fn deleting_a_provisioned_request_never_deletes_its_namespace() -> anyhow::Result<()> {
    let cp = installed(&[]).await?;
    let admin = cp.admin().await?;
    let ns = unique_ns("delete");
    create_namespace(&admin, &ns).await?;
    fast_policy(&admin, &ns, |_| {}).await?;
    file(
        &admin,
        &ns,
        "kept",
        request_spec(&ns, RequestClass::Production, "1"),
    )
    .await?;
    file(
        &admin,
        &ns,
        "never",
        request_spec(&ns, RequestClass::Production, "1"),
    )
    .await?;
    decide(cp, &ns, "kept", "Approved", "").await?;
    let active = wait_phase(&admin, &ns, "kept", RequestPhase::Active, T).await?;
    let tenant = active
        .status
        .as_ref()
        .unwrap()
        .tenant_namespace
        .clone()
        .unwrap();
    wait_phase(&admin, &ns, "never", RequestPhase::Submitted, T).await?;
    let api: Api<CloudResourceRequest> = Api::namespaced(admin.clone(), &ns);
    api.delete("never", &DeleteParams::default()).await?;
    api.delete("kept", &DeleteParams::default()).await?;
    wait_until(T, "an unprovisioned request goes at once", || async {
        Ok(api.get_opt("never").await?.is_none())
    })
    .await?;
    let blocked = wait_condition(&admin, &ns, "kept", "DeletionBlocked", "True", T).await?;
    assert!(
        condition(&blocked, "DeletionBlocked")
            .unwrap()
            .message
            .contains("ExitRequest")
    );
    // Held by the finalizer, and the tenant untouched, over the whole window (watched, not
    // sampled once at its end).
    let namespaces = Api::<Namespace>::all(admin.clone());
    tokio::try_join!(
        never_during_named(&api, "kept", HOLD, "the blocked request", |r| r
            .is_none()
            .then(|| "gone despite its finalizer".to_string())),
        never_during_named(&namespaces, &tenant, HOLD, "its tenant namespace", |n| {
            match n {
                None => Some("deleted".to_string()),
                Some(n) if n.metadata.deletion_timestamp.is_some() => {
                    Some("being deleted".to_string())
                }
                Some(_) => None,
            }
        }),
    )?;
    Ok(())
}

/// The owned objects of an Active tenant are watched: one deleted, or a quota's `hard`
/// edited by someone else, is put back at once (issue 11). The operator's requeue cap is
/// an hour here, so a repair within the wait proves the watch woke it, not a poll.
#[tokio::test]
async fn a_deleted_or_edited_owned_object_is_put_back_at_once() -> anyhow::Result<()> {
    let cp = installed(&[]).await?;
    let admin = cp.admin().await?;
    let ns = unique_ns("drift");
    create_namespace(&admin, &ns).await?;
    fast_policy(&admin, &ns, |_| {}).await?;
    file(
        &admin,
        &ns,
        "portal",
        request_spec(&ns, RequestClass::Production, "2"),
    )
    .await?;
    decide(cp, &ns, "portal", "Approved", "").await?;
    let active = wait_phase(&admin, &ns, "portal", RequestPhase::Active, T).await?;
    let tenant = active
        .status
        .as_ref()
        .and_then(|s| s.tenant_namespace.clone())
        .ok_or_else(|| anyhow::anyhow!("no tenant namespace in status"))?;
    let policies = Api::<NetworkPolicy>::namespaced(admin.clone(), &tenant);
    let limits = Api::<LimitRange>::namespaced(admin.clone(), &tenant);
    let quotas = Api::<ResourceQuota>::namespaced(admin.clone(), &tenant);
    // Right after activation (inside the window where the operator trusts its own apply
    // while its watches catch up): a deletion is still seen for what it is.
    policies
        .delete("govcloud-isolation", &DeleteParams::default())
        .await?;
    wait_until(
        Duration::from_secs(20),
        "the NetworkPolicy put back",
        || async { Ok(policies.get_opt("govcloud-isolation").await?.is_some()) },
    )
    .await?;
    limits
        .delete("govcloud-defaults", &DeleteParams::default())
        .await?;
    wait_until(
        Duration::from_secs(20),
        "the LimitRange put back",
        || async { Ok(limits.get_opt("govcloud-defaults").await?.is_some()) },
    )
    .await?;
    let cpu_of = |q: &ResourceQuota| {
        q.spec
            .as_ref()
            .and_then(|s| s.hard.as_ref())
            .and_then(|h| h.get("requests.cpu"))
            .map(|q| q.0.clone())
    };
    let granted = cpu_of(&quotas.get("govcloud-grant").await?);
    quotas
        .patch(
            "govcloud-grant",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"hard": {"requests.cpu": "64"}}})),
        )
        .await?;
    wait_until(
        Duration::from_secs(20),
        "the granted hard put back",
        || async { Ok(cpu_of(&quotas.get("govcloud-grant").await?) == granted) },
    )
    .await?;
    let r = Api::<CloudResourceRequest>::namespaced(admin.clone(), &ns)
        .get("portal")
        .await?;
    assert_eq!(
        r.status.as_ref().and_then(|s| s.phase),
        Some(RequestPhase::Active),
        "a repair changes nothing else"
    );
    Ok(())
}
