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
