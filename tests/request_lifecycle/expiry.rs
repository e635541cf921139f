//! Deadlines after provisioning: a test grant expires, is suspended, reclaimed and frees its capacity; an empty tenant is flagged at its deployment deadline.

use super::*;

#[tokio::test]
async fn a_test_grant_expires_is_suspended_then_reclaimed_and_frees_capacity() -> anyhow::Result<()>
{
    let cp = installed(&[]).await?;
    let admin = cp.admin().await?;
    let ns = unique_ns("expiry");
    create_namespace(&admin, &ns).await?;
    fast_policy(&admin, &ns, |p| {
        p["classes"]["Test"]["maxDuration"] = "14s".into();
        p["expiry"] = serde_json::json!({"warnBefore": "6s", "suspendFor": "6s"});
        p["capacity"] = serde_json::json!({"cpu": "10"});
    })
    .await?;
    file(
        &admin,
        &ns,
        "trial",
        request_spec(&ns, RequestClass::Test, "8"),
    )
    .await?;
    decide(cp, &ns, "trial", "Approved", "").await?;
    let active = wait_phase(&admin, &ns, "trial", RequestPhase::Active, T).await?;
    let st = active.status.clone().unwrap();
    let d = st.deadlines.clone().unwrap();
    let (warn_at, expires_at, reclaim_at) = (
        d.warn_at.unwrap(),
        d.expires_at.unwrap(),
        d.reclaim_at.unwrap(),
    );
    assert_eq!(
        st.billing.as_ref().and_then(|b| b.monthly_cost.as_deref()),
        Some("0.00"),
        "Test is free here"
    );
    let tenant = st.tenant_namespace.clone().unwrap();

    // A second request does not fit the pool (8 + 4 > 10) and waits.
    file(
        &admin,
        &ns,
        "waiting",
        request_spec(&ns, RequestClass::Production, "4"),
    )
    .await?;
    decide(cp, &ns, "waiting", "Approved", "").await?;
    let w = wait_condition(&admin, &ns, "waiting", "InsufficientCapacity", "True", T).await?;
    assert_eq!(
        w.status.as_ref().and_then(|s| s.phase),
        Some(RequestPhase::Approved)
    );

    // The unit deploys something.
    let deploy: Deployment = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}
    }))?;
    Api::<Deployment>::namespaced(admin.clone(), &tenant)
        .create(&PostParams::default(), &deploy)
        .await?;

    let warned = wait_condition(&admin, &ns, "trial", "ExpiringSoon", "True", T).await?;
    let since = condition(&warned, "ExpiringSoon")
        .unwrap()
        .last_transition_time;
    assert!(
        (since - warn_at).num_seconds().abs() <= 3,
        "warned at {since}, due {warn_at}: woken at the deadline"
    );
    assert_eq!(
        wait_event(&admin, &ns, "trial", "ExpiringSoon", T).await?,
        "Warning"
    );

    let suspended = wait_phase(&admin, &ns, "trial", RequestPhase::Suspended, T).await?;
    let since = condition(&suspended, "Suspended")
        .unwrap()
        .last_transition_time;
    assert!(
        (since - expires_at).num_seconds().abs() <= 3,
        "suspended at {since}, expiry {expires_at}"
    );
    assert_eq!(
        suspended
            .status
            .as_ref()
            .unwrap()
            .suspended_replicas
            .get("Deployment/web"),
        Some(&2)
    );
    // Replicas are recorded in status before the scale-down, so wait for the scale itself.
    let deployments = Api::<Deployment>::namespaced(admin.clone(), &tenant);
    wait_until(T, "web scaled to zero", || async {
        Ok(deployments.get("web").await?.spec.and_then(|s| s.replicas) == Some(0))
    })
    .await?;
    let quota = Api::<ResourceQuota>::namespaced(admin.clone(), &tenant)
        .get("govcloud-grant")
        .await?;
    assert_eq!(
        quota
            .spec
            .unwrap()
            .hard
            .unwrap()
            .get("pods")
            .map(|q| q.0.as_str()),
        Some("0")
    );

    let reclaimed = wait_phase(&admin, &ns, "trial", RequestPhase::Reclaimed, T).await?;
    let billing = reclaimed
        .status
        .as_ref()
        .and_then(|s| s.billing.clone())
        .unwrap();
    assert!(billing.stopped_at.unwrap() >= reclaim_at);
    wait_until(T, "tenant namespace deleted", || async {
        Ok(Api::<Namespace>::all(admin.clone())
            .get_opt(&tenant)
            .await?
            .is_none())
    })
    .await?;
    for reason in [
        "Active",
        "ExpiringSoon",
        "Suspended",
        "Reclaiming",
        "Reclaimed",
    ] {
        wait_event(&admin, &ns, "trial", reason, T).await?;
    }
    // Capacity freed: the waiting request proceeds.
    wait_phase(&admin, &ns, "waiting", RequestPhase::Active, T).await?;
    Ok(())
}

#[tokio::test]
async fn deployment_deadline_flags_an_empty_tenant_namespace() -> anyhow::Result<()> {
    let cp = installed(&[]).await?;
    let admin = cp.admin().await?;
    let ns = unique_ns("deploy");
    create_namespace(&admin, &ns).await?;
    fast_policy(&admin, &ns, |p| p["deployment"]["within"] = "4s".into()).await?;
    file(
        &admin,
        &ns,
        "idle",
        request_spec(&ns, RequestClass::Production, "1"),
    )
    .await?;
    decide(cp, &ns, "idle", "Approved", "").await?;
    wait_phase(&admin, &ns, "idle", RequestPhase::Active, T).await?;
    let r = wait_condition(&admin, &ns, "idle", "NotDeployed", "True", T).await?;
    assert!(
        condition(&r, "NotDeployed")
            .unwrap()
            .message
            .contains("SN 11")
    );
    assert_eq!(
        wait_event(&admin, &ns, "idle", "NotDeployed", T).await?,
        "Warning"
    );
    Ok(())
}
