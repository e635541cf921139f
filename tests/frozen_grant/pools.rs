//! Capacity counted from what exists: scale-ups in a pool, orphan tenants; tenant hardening.

use super::*;

/// A namespace whose policy has a pool of `pool_cpu` vCPUs.
async fn pooled(cp: &ControlPlane, prefix: &str, pool_cpu: &str) -> anyhow::Result<String> {
    let admin = cp.admin().await?;
    let ns = unique_ns(prefix);
    create_namespace(&admin, &ns).await?;
    fast_policy(&admin, &ns, |p| {
        p["review"] = serde_json::json!({"acceptWithin": "600s", "decideWithin": "600s"});
        p["changes"] = serde_json::json!({"reviewWithin": "600s", "applyWithin": "600s"});
        p["capacity"] = serde_json::json!({"cpu": pool_cpu});
    })
    .await?;
    Ok(ns)
}

async fn granted_cpu(client: &Client, ns: &str) -> anyhow::Result<rust_decimal::Decimal> {
    let mut sum = rust_decimal::Decimal::ZERO;
    for r in Api::<CloudResourceRequest>::namespaced(client.clone(), ns)
        .list(&Default::default())
        .await?
    {
        if let Some(IntOrString::String(c)) = r.status.and_then(|s| s.grant).and_then(|g| g.cpu) {
            sum += c.parse::<rust_decimal::Decimal>()?;
        }
    }
    Ok(sum)
}

#[tokio::test]
async fn two_approved_scale_ups_cannot_overcommit_a_pool() -> anyhow::Result<()> {
    let cp = installed(&[]).await?;
    let admin = cp.admin().await?;
    let ns = pooled(cp, "fg-pool", "20").await?;
    for name in ["a", "b"] {
        file(
            &admin,
            &ns,
            name,
            request_spec(&ns, RequestClass::Production, "8"),
        )
        .await?;
        decide(cp, &ns, name, "Approved", "ok").await?;
        wait_phase(&admin, &ns, name, RequestPhase::Active, T).await?;
    }
    // Each asks for 12: either fits the pool of 20 alone, not both.
    let changes: Api<ResourceChange> = Api::namespaced(cp.vendor().await?, &ns);
    for name in ["a", "b"] {
        let mut spec = change_spec(name);
        spec.resources = Some(cpu("12"));
        spec.justification = Some("load test report".into());
        changes
            .create(
                &PostParams::default(),
                &ResourceChange::new(&format!("grow-{name}"), spec),
            )
            .await?;
    }
    for name in ["a", "b"] {
        bare_approval::<ResourceChange>(cp, &ns, &format!("grow-{name}")).await?;
    }
    // One is applied; the other waits with InsufficientCapacity.
    let waiting = wait_for(T, "one scale-up applied, the other waiting", || async {
        let mut applied = 0;
        let mut waiting = None;
        for name in ["a", "b"] {
            let c = changes.get(&format!("grow-{name}")).await?;
            match c.status.and_then(|s| s.phase) {
                Some(ChangePhase::Applied) => applied += 1,
                _ => {
                    let r = Api::<CloudResourceRequest>::namespaced(admin.clone(), &ns)
                        .get(name)
                        .await?;
                    if condition(&r, "InsufficientCapacity").is_some_and(|c| c.status == "True") {
                        waiting = Some(name);
                    }
                }
            }
        }
        Ok((applied == 1).then_some(waiting).flatten())
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e}\n{}", operator_log()))?;
    let requests: Api<CloudResourceRequest> = Api::namespaced(admin.clone(), &ns);
    never_during_named(&requests, waiting, HOLD, "pool overcommitted", |r| {
        let cpu = r
            .and_then(|r| r.status.as_ref())
            .and_then(|s| s.grant.as_ref())
            .and_then(|g| g.cpu.clone());
        (cpu != Some(IntOrString::String("8".into()))).then(|| format!("grant cpu {cpu:?}"))
    })
    .await?;
    assert!(granted_cpu(&admin, &ns).await? <= rust_decimal::Decimal::from(20));
    Ok(())
}

/// Issue 11: grants in one pool are decided one at a time but provisioned concurrently
/// (the pool lock is released before any API call); decisions racing for the last room
/// still never overcommit it.
#[tokio::test]
async fn approvals_racing_for_a_pool_fill_it_exactly() -> anyhow::Result<()> {
    let cp = installed(&[]).await?;
    let admin = cp.admin().await?;
    let ns = pooled(cp, "fg-race", "20").await?;
    let names = ["r1", "r2", "r3", "r4", "r5", "r6", "r7"];
    for name in names {
        file(
            &admin,
            &ns,
            name,
            request_spec(&ns, RequestClass::Production, "4"),
        )
        .await?;
    }
    // Approved back to back: the decisions race for the pool's last 4 vCPUs.
    for name in names {
        decide(cp, &ns, name, "Approved", "ok").await?;
    }
    let requests: Api<CloudResourceRequest> = Api::namespaced(admin.clone(), &ns);
    wait_for(T, "5 Active, 2 waiting for capacity", || async {
        let (mut active, mut waiting) = (0, 0);
        for r in requests.list(&Default::default()).await? {
            if r.status.as_ref().and_then(|s| s.phase) == Some(RequestPhase::Active) {
                active += 1;
            } else if condition(&r, "InsufficientCapacity").is_some_and(|c| c.status == "True") {
                waiting += 1;
            }
        }
        Ok((active == 5 && waiting == 2).then_some(()))
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e}\n{}", operator_log()))?;
    let twenty = rust_decimal::Decimal::from(20);
    let until = std::time::Instant::now() + HOLD;
    while std::time::Instant::now() < until {
        let granted = granted_cpu(&admin, &ns).await?;
        assert!(
            granted <= twenty,
            "pool overcommitted: {granted} of 20 granted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(granted_cpu(&admin, &ns).await?, twenty);
    Ok(())
}

#[tokio::test]
async fn an_orphan_tenant_namespace_still_counts_and_is_reported() -> anyhow::Result<()> {
    let cp = installed(&[]).await?;
    let admin = cp.admin().await?;
    let ns = pooled(cp, "fg-orphan", "20").await?;
    file(
        &admin,
        &ns,
        "old",
        request_spec(&ns, RequestClass::Production, "8"),
    )
    .await?;
    decide(cp, &ns, "old", "Approved", "ok").await?;
    wait_phase(&admin, &ns, "old", RequestPhase::Active, T).await?;
    // The request vanishes (its finalizer removed by hand): its tenant namespace stays.
    let requests: Api<CloudResourceRequest> = Api::namespaced(admin.clone(), &ns);
    let patch = serde_json::json!({"metadata": {"finalizers": null}});
    requests
        .patch("old", &PatchParams::default(), &Patch::Merge(patch))
        .await?;
    requests.delete("old", &Default::default()).await?;
    wait_for(T, "request gone", || async {
        Ok(requests.get_opt("old").await?.is_none().then_some(()))
    })
    .await?;
    // 16 more fit a pool of 20 only if the orphan's 8 are forgotten.
    file(
        &admin,
        &ns,
        "new",
        request_spec(&ns, RequestClass::Production, "16"),
    )
    .await?;
    decide(cp, &ns, "new", "Approved", "ok").await?;
    wait_condition(&admin, &ns, "new", "InsufficientCapacity", "True", T).await?;
    let r = requests.get("new").await?;
    assert_eq!(r.status.and_then(|s| s.phase), Some(RequestPhase::Approved));
    // Reported on the policy, naming the namespace.
    let policies: Api<govcloud_operator::api::GovCloudPolicy> = Api::all(admin.clone());
    let orphan = format!("{ns}-old");
    wait_for(T, "OrphanTenants on the policy", || async {
        let p = policies.get(&ns).await?;
        Ok(p.status
            .and_then(|s| true_message(&s.conditions, "OrphanTenants"))
            .filter(|m| m.contains(&orphan)))
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e}\n{}", operator_log()))?;
    // Deleting the orphan frees the pool.
    Api::<Namespace>::all(admin.clone())
        .delete(&orphan, &Default::default())
        .await?;
    wait_phase(
        &admin,
        &ns,
        "new",
        RequestPhase::Active,
        Duration::from_secs(120),
    )
    .await?;
    Ok(())
}

/// Issue 11: approval to Active is one pass, the tenant namespace applied before the
/// status reports the grant. A crash in between leaves a tenant namespace whose living
/// request reports no grant (made here by hand, as the operator would have left it): it
/// still holds its room — not as an orphan — and its own request opens into it.
#[tokio::test]
async fn a_tenant_applied_before_its_grant_is_reported_still_holds_its_room() -> anyhow::Result<()>
{
    let cp = installed(&[]).await?;
    let admin = cp.admin().await?;
    let ns = pooled(cp, "fg-unreported", "10").await?;
    file(
        &admin,
        &ns,
        "opening",
        request_spec(&ns, RequestClass::Production, "8"),
    )
    .await?;
    let requests: Api<CloudResourceRequest> = Api::namespaced(admin.clone(), &ns);
    let uid = requests
        .get("opening")
        .await?
        .metadata
        .uid
        .ok_or_else(|| anyhow::anyhow!("no uid"))?;
    let tenant = format!("{ns}-opening");
    let namespace: Namespace = serde_json::from_value(serde_json::json!({
        "metadata": {
            "name": tenant,
            "labels": {"govcloud.io/managed": "true", "govcloud.io/policy": ns},
            "annotations": {"govcloud.io/owner-uid": uid, "govcloud.io/grant": "cpu=8"},
        }
    }))?;
    Api::<Namespace>::all(admin.clone())
        .create(&PostParams::default(), &namespace)
        .await?;
    // 4 more do not fit a pool of 10 beside the 8 the tenant holds.
    file(
        &admin,
        &ns,
        "other",
        request_spec(&ns, RequestClass::Production, "4"),
    )
    .await?;
    decide(cp, &ns, "other", "Approved", "ok").await?;
    wait_condition(&admin, &ns, "other", "InsufficientCapacity", "True", T)
        .await
        .map_err(|e| anyhow::anyhow!("{e}\n{}", operator_log()))?;
    // Its own request is not kept out by its own tenant (8 + 8 would not fit either).
    decide(cp, &ns, "opening", "Approved", "ok").await?;
    wait_phase(&admin, &ns, "opening", RequestPhase::Active, T)
        .await
        .map_err(|e| anyhow::anyhow!("{e}\n{}", operator_log()))?;
    let r = requests.get("opening").await?;
    assert_eq!(
        r.status.and_then(|s| s.tenant_namespace).as_deref(),
        Some(tenant.as_str())
    );
    // Still no room for the other, and the tenant was never an orphan.
    never_during_named(&requests, "other", HOLD, "granted", |r| {
        r.and_then(|r| r.status.as_ref())
            .and_then(|s| s.grant.as_ref())
            .map(|g| format!("granted {g:?}"))
    })
    .await?;
    let policies: Api<govcloud_operator::api::GovCloudPolicy> = Api::all(admin.clone());
    let p = policies.get(&ns).await?;
    assert!(
        p.status
            .and_then(|s| true_message(&s.conditions, "OrphanTenants"))
            .is_none(),
        "a tenant whose request lives is no orphan"
    );
    Ok(())
}

/// Issue 13: the tenant namespace carries the Pod Security labels its policy names (the
/// 1.20 test control plane has no PodSecurity admission: Kubernetes 1.23+ enforces
/// them), its quota the object counts, and its NetworkPolicy limits ingress and egress.
#[tokio::test]
async fn a_tenant_is_hardened_by_its_policy() -> anyhow::Result<()> {
    let cp = installed(&[]).await?;
    let admin = cp.admin().await?;
    let ns = unique_ns("fg-hard");
    create_namespace(&admin, &ns).await?;
    fast_policy(&admin, &ns, |p| {
        p["review"] = serde_json::json!({"acceptWithin": "600s", "decideWithin": "600s"});
        p["tenants"] = serde_json::json!({
            "podSecurity": {"enforce": "restricted", "classes": {"Test": "baseline"}},
            "egress": {"EGovExtranet": ["10.20.0.0/16"], "Internet": ["0.0.0.0/0"]},
            "objectCounts": {"secrets": 7}
        });
    })
    .await?;
    file(
        &admin,
        &ns,
        "prod",
        request_spec(&ns, RequestClass::Production, "2"),
    )
    .await?;
    file(
        &admin,
        &ns,
        "test",
        request_spec(&ns, RequestClass::Test, "2"),
    )
    .await?;
    for name in ["prod", "test"] {
        decide(cp, &ns, name, "Approved", "ok").await?;
        wait_phase(&admin, &ns, name, RequestPhase::Active, T).await?;
    }
    let namespaces: Api<Namespace> = Api::all(admin.clone());
    for (name, level) in [("prod", "restricted"), ("test", "baseline")] {
        let labels = namespaces
            .get(&format!("{ns}-{name}"))
            .await?
            .metadata
            .labels
            .unwrap_or_default();
        for key in [
            "pod-security.kubernetes.io/enforce",
            "pod-security.kubernetes.io/warn",
            "pod-security.kubernetes.io/audit",
        ] {
            assert_eq!(
                labels.get(key).map(String::as_str),
                Some(level),
                "{name} {key}"
            );
        }
    }
    let tenant = format!("{ns}-prod");
    let hard = Api::<ResourceQuota>::namespaced(admin.clone(), &tenant)
        .get("govcloud-grant")
        .await?
        .spec
        .and_then(|s| s.hard)
        .unwrap_or_default();
    assert_eq!(hard.get("secrets").map(|q| q.0.as_str()), Some("7"));
    assert_eq!(hard.get("configmaps").map(|q| q.0.as_str()), Some("100"));
    assert_eq!(hard.get("services").map(|q| q.0.as_str()), Some("50"));
    assert_eq!(
        hard.get("persistentvolumeclaims").map(|q| q.0.as_str()),
        Some("50")
    );

    // The NetworkPolicy, field by field.
    let np =
        Api::<k8s_openapi::api::networking::v1::NetworkPolicy>::namespaced(admin.clone(), &tenant)
            .get("govcloud-isolation")
            .await?;
    let spec = np.spec.expect("spec");
    let everything = k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector::default();
    assert_eq!(spec.pod_selector, Some(everything.clone()), "every pod");
    assert_eq!(
        spec.policy_types,
        Some(vec!["Ingress".to_string(), "Egress".to_string()])
    );
    let ingress = spec.ingress.expect("ingress");
    assert_eq!(ingress.len(), 1);
    let from = ingress[0].from.clone().expect("from");
    assert_eq!(from.len(), 1);
    assert_eq!(from[0].pod_selector, Some(everything.clone()), "own pods");
    assert_eq!(from[0].namespace_selector, None, "no other namespace");
    assert_eq!(from[0].ip_block, None);
    assert_eq!(ingress[0].ports, None);
    let egress = spec.egress.expect("egress");
    assert_eq!(egress.len(), 3, "{egress:?}");
    let own = egress[0].to.clone().expect("to");
    assert_eq!(own.len(), 1);
    assert_eq!(own[0].pod_selector, Some(everything.clone()));
    assert_eq!(own[0].namespace_selector, None);
    assert_eq!(egress[0].ports, None);
    let dns = &egress[1];
    let dns_to = dns.to.clone().expect("to");
    assert_eq!(dns_to.len(), 1);
    assert_eq!(dns_to[0].namespace_selector, Some(everything.clone()));
    assert_eq!(dns_to[0].pod_selector, None);
    let ports: Vec<(Option<String>, Option<IntOrString>)> = dns
        .ports
        .clone()
        .expect("ports")
        .into_iter()
        .map(|p| (p.protocol, p.port))
        .collect();
    assert_eq!(
        ports,
        vec![
            (Some("UDP".to_string()), Some(IntOrString::Int(53))),
            (Some("TCP".to_string()), Some(IntOrString::Int(53)))
        ]
    );
    let zone = egress[2].to.clone().expect("to");
    let cidrs: Vec<String> = zone
        .iter()
        .filter_map(|p| p.ip_block.as_ref().map(|b| b.cidr.clone()))
        .collect();
    assert_eq!(cidrs, ["10.20.0.0/16"], "the e-gov extranet zone's only");
    assert_eq!(egress[2].ports, None);

    // The tenant role cannot write endpoints or endpointslices.
    let role = Api::<k8s_openapi::api::rbac::v1::ClusterRole>::all(admin.clone())
        .get("govcloud-tenant")
        .await?;
    for rule in role.rules.unwrap_or_default() {
        let writes = rule
            .verbs
            .iter()
            .any(|v| ["create", "update", "patch", "delete", "*"].contains(&v.as_str()));
        let endpoints = rule
            .resources
            .unwrap_or_default()
            .iter()
            .any(|r| r == "endpoints" || r == "endpointslices" || r == "*");
        assert!(!(writes && endpoints), "tenant role writes endpoints");
    }
    Ok(())
}
