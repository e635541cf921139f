//! The chart installed by Helm on the real control plane, its ServiceAccount alone running the operator.

use super::live_support::*;
use super::*;

#[tokio::test]
async fn installed_by_helm_the_service_account_alone_runs_the_operator() -> Result<()> {
    let cp = control_plane()?;
    let admin = cp.admin().await?;
    let release = unique_ns("gco");
    let release_ns = unique_ns("govcloud-system");
    let policy = unique_ns("fast");
    let fullname = format!("{release}-govcloud-operator");

    // helm install through Helm v4's SDK, as the cluster admin.
    let summary = helm::install(
        &cp.kubeconfig(support::Identity::Admin),
        &release,
        &release_ns,
        &json!({"policies": {"install": ["shanghai", "guiyang"]}, "operator": {"defaultPolicy": policy}}),
    )
    .await?;
    assert_eq!(summary["status"], json!("deployed"), "{summary}");
    for crd in govcloud_operator::operator::required_crds() {
        wait_crd_established(&admin, &crd).await?;
    }
    let deployment = Api::<Deployment>::namespaced(admin.clone(), &release_ns)
        .get(&fullname)
        .await?;
    super::availability::installed_for_high_availability(
        &admin,
        &release_ns,
        &fullname,
        &deployment,
    )
    .await?;
    Api::<Service>::namespaced(admin.clone(), &release_ns)
        .get(&format!("{fullname}-metrics"))
        .await?;
    Api::<ClusterRole>::all(admin.clone())
        .get(&fullname)
        .await?;
    let policies = Api::<GovCloudPolicy>::all(admin.clone());
    for preset in ["shanghai", "guiyang"] {
        policies.get(preset).await?;
    }
    assert!(policies.get_opt("yixing").await?.is_none());

    // People: the chart installs the user roles; the cluster admin binds them.
    apply_yaml(
        &admin,
        r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: chart-test-approvers}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: govcloud-approver}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: "govcloud:approvers"}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: chart-test-applicants}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: govcloud-applicant}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: "govcloud:vendors"}]
"#,
        None,
    )
    .await?;

    // The ServiceAccount's rights, asked of the API server with its own token.
    let sa_config = service_account_kubeconfig(cp, &release_ns, &fullname).await?;
    let sa = client_from(&sa_config).await?;
    // RBAC reaches the authorizer's cache a moment after the objects are stored.
    wait_until(
        T,
        "the chart's ClusterRoleBinding to take effect",
        || async {
            may(
                &sa,
                "patch",
                "govcloud.io",
                "cloudresourcerequests/status",
                None,
                Some("x"),
            )
            .await
        },
    )
    .await?;
    let vendor = cp.vendor().await?;
    let approver = cp.approver().await?;
    wait_until(T, "the test's user bindings to take effect", || async {
        Ok(may(
            &vendor,
            "create",
            "govcloud.io",
            "cloudresourcerequests",
            None,
            Some("x"),
        )
        .await?
            && may(
                &approver,
                "patch",
                "govcloud.io",
                "cloudresourcerequests/status",
                None,
                Some("x"),
            )
            .await?)
    })
    .await?;
    super::live_rights::service_account_rights_are_exactly_the_operators(&sa, &release_ns).await?;

    // The log check below can fail: an operator with the release namespace's `default`
    // ServiceAccount (no rights) logs 403s at once.
    let nobody_config = service_account_kubeconfig(cp, &release_ns, "default").await?;
    let mut nobody = Operator::start_with(cp, nobody_config, &[], &[])?;
    wait_until(
        T,
        "a 403 in the log of an operator without rights",
        || async {
            let log = std::fs::read_to_string(&nobody.log).unwrap_or_default();
            Ok(!forbidden_lines(&log).is_empty())
        },
    )
    .await?;
    nobody.kill();

    // The operator as the chart runs it: the Deployment's environment (release namespace,
    // default policy, log format...) and the ServiceAccount's token — nothing else.
    let env = pod_env(&deployment, &release_ns);
    assert!(
        env.iter()
            .any(|(k, v)| k == "GOVCLOUD_NAMESPACE" && *v == release_ns)
    );
    assert!(
        env.iter()
            .any(|(k, v)| k == "GOVCLOUD_DEFAULT_POLICY" && *v == policy)
    );
    // The webhook as the chart installs it, reached on loopback (the control plane has no
    // nodes to run the Service's pods): the configurations point at this process.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let env: Vec<(String, String)> = env
        .into_iter()
        .map(|(k, v)| match k.as_str() {
            "GOVCLOUD_WEBHOOK_LISTEN" => (k, format!("127.0.0.1:{port}")),
            "GOVCLOUD_WEBHOOK_HOSTS" => (k, "127.0.0.1".into()),
            _ => (k, v),
        })
        .collect();
    assert!(
        env.iter().any(|(k, v)| k == "GOVCLOUD_OPERATOR_USERNAME"
            && *v == format!("system:serviceaccount:{release_ns}:{fullname}")),
        "the operator is told its ServiceAccount's username"
    );
    for (kind, plural) in [
        (
            "ValidatingWebhookConfiguration",
            "validatingwebhookconfigurations",
        ),
        (
            "MutatingWebhookConfiguration",
            "mutatingwebhookconfigurations",
        ),
    ] {
        let ar = kube::api::ApiResource {
            group: "admissionregistration.k8s.io".into(),
            version: "v1".into(),
            api_version: "admissionregistration.k8s.io/v1".into(),
            kind: kind.into(),
            plural: plural.into(),
        };
        let api: Api<kube::api::DynamicObject> = Api::all_with(admin.clone(), &ar);
        let config = api.get(&fullname).await?;
        let hooks = config.data["webhooks"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let ops: Vec<Value> = hooks
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let path = str_at(h, "/clientConfig/service/path").unwrap_or("/validate");
                json!({"op": "replace", "path": format!("/webhooks/{i}/clientConfig"),
                       "value": {"url": format!("https://127.0.0.1:{port}{path}")}})
            })
            .collect();
        api.patch(
            &fullname,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::<Value>::Json(serde_json::from_value(Value::Array(ops))?),
        )
        .await?;
    }
    let mut op = Operator::start_with(cp, sa_config, &env, &[])?;
    wait_until(T, "the operator to be ready", || async {
        Ok(op
            .get("/readyz")
            .map(|(code, _)| code == 200)
            .unwrap_or(false))
    })
    .await
    .map_err(|e| anyhow!("{e}\n--- operator log ---\n{}", op.log_tail()))?;

    let ns = unique_ns("unit");
    create_namespace(&admin, &ns).await?;
    fast_policy(&admin, &policy, |p| {
        p["classes"]["Test"]["maxDuration"] = "20s".into();
        p["expiry"] = json!({"warnBefore": "4s", "suspendFor": "4s"});
        p["changes"] = json!({"autoApproveScaleDown": true});
    })
    .await?;

    // A Production request under the chart's default policy: approved → Active.
    let mut portal = request_spec(&policy, RequestClass::Production, "8");
    portal.policy = None;
    file(&vendor, &ns, "portal", portal).await?;
    // A Test request that expires, is suspended (workloads scaled to zero) and reclaimed.
    file(
        &vendor,
        &ns,
        "trial",
        request_spec(&policy, RequestClass::Test, "2"),
    )
    .await?;
    // A request for the operator's own namespace: refused by the webhook's naming rule.
    let mut squatter = request_spec(&policy, RequestClass::Production, "1");
    squatter.tenant_namespace = Some(release_ns.clone());
    let refused = file(&vendor, &ns, "squatter", squatter).await;
    assert!(
        refused
            .as_ref()
            .err()
            .is_some_and(|e| e.to_string().contains("tenant-namespace")),
        "{refused:?}"
    );
    decide(cp, &ns, "portal", "Approved", "ok").await?;
    decide(cp, &ns, "trial", "Approved", "ok").await?;

    // The trial: a workload is deployed at once; later the grant expires, is suspended and
    // reclaimed.
    let trial = request_phase(&admin, &ns, "trial", RequestPhase::Active, &op).await?;
    let trial_ns = trial
        .status
        .and_then(|s| s.tenant_namespace)
        .ok_or_else(|| anyhow!("no tenant namespace for trial"))?;
    let web: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}
    }))?;
    let deployments = Api::<Deployment>::namespaced(admin.clone(), &trial_ns);
    deployments.create(&PostParams::default(), &web).await?;

    let active = request_phase(&admin, &ns, "portal", RequestPhase::Active, &op).await?;
    // Argo CD's health check reads the operator's real status as intended.
    assert_eq!(
        argocd::health(&serde_json::to_value(&active)?)?.0,
        "Healthy"
    );
    let tenant = active
        .status
        .as_ref()
        .and_then(|s| s.tenant_namespace.clone())
        .ok_or_else(|| anyhow!("no tenant namespace"))?;
    Api::<ResourceQuota>::namespaced(admin.clone(), &tenant)
        .get("govcloud-grant")
        .await?;
    Api::<LimitRange>::namespaced(admin.clone(), &tenant)
        .get("govcloud-defaults")
        .await?;
    let binding = Api::<RoleBinding>::namespaced(admin.clone(), &tenant)
        .get("govcloud-tenant")
        .await?;
    assert_eq!(binding.role_ref.name, "govcloud-tenant");
    Api::<NetworkPolicy>::namespaced(admin.clone(), &tenant)
        .get("govcloud-isolation")
        .await?;
    assert!(
        active
            .metadata
            .finalizers
            .as_ref()
            .is_some_and(|f| !f.is_empty()),
        "the deletion guard (finalizer patch)"
    );
    wait_until(T, "an Active event for portal", || async {
        Ok(events(&admin, &ns, "portal")
            .await?
            .iter()
            .any(|(_, r)| r == "Active"))
    })
    .await?;
    // The operator's own namespace (GOVCLOUD_NAMESPACE, the release namespace) is untouched.
    let own = Api::<Namespace>::all(admin.clone())
        .get(&release_ns)
        .await?;
    assert!(
        !own.metadata
            .labels
            .unwrap_or_default()
            .contains_key("govcloud.io/managed"),
        "the release namespace was touched"
    );

    // A scale-down, auto-approved and applied to the quota (ResourceChange status).
    let less = ResourceChangeSpec {
        request: "portal".into(),
        resources: Some(ResourceAmounts {
            cpu: Some(IntOrString::String("4".into())),
            ..Default::default()
        }),
        extend_to: None,
        convert_to: None,
        reason: Some("less load".into()),
        justification: None,
        recurring: false,
        access_groups: None,
        zone: None,
    };
    Api::<ResourceChange>::namespaced(vendor.clone(), &ns)
        .create(&PostParams::default(), &ResourceChange::new("less", less))
        .await?;
    let changes = Api::<ResourceChange>::namespaced(admin.clone(), &ns);
    wait_until(T, "the scale-down to be applied", || async {
        let c = changes.get("less").await?;
        Ok(c.status.and_then(|s| s.phase) == Some(ChangePhase::Applied))
    })
    .await
    .map_err(|e| anyhow!("{e}\n--- operator log ---\n{}", op.log_tail()))?;
    // An exit for a request that does not exist gets a status too (ExitRequest status).
    let exit: ExitRequestSpec = serde_json::from_value(json!({
        "request": "no-such-request", "reason": "replaced", "lastUsedOn": "2026-11-01"
    }))?;
    Api::<ExitRequest>::namespaced(vendor.clone(), &ns)
        .create(&PostParams::default(), &ExitRequest::new("leave", exit))
        .await?;
    let exits = Api::<ExitRequest>::namespaced(admin.clone(), &ns);
    wait_until(T, "the exit to get a phase", || async {
        Ok(exits
            .get("leave")
            .await?
            .status
            .and_then(|s| s.phase)
            .is_some())
    })
    .await?;
    let left = exits.get("leave").await?;
    assert_eq!(
        left.status.as_ref().and_then(|s| s.phase),
        Some(ExitPhase::Invalid)
    );
    assert_eq!(argocd::health(&serde_json::to_value(&left)?)?.0, "Degraded");
    let applied = changes.get("less").await?;
    assert_eq!(
        argocd::health(&serde_json::to_value(&applied)?)?.0,
        "Healthy"
    );

    // The trial expires: suspended (workloads scaled to zero), then reclaimed.
    let suspended = request_phase(&admin, &ns, "trial", RequestPhase::Suspended, &op).await?;
    assert_eq!(
        argocd::health(&serde_json::to_value(&suspended)?)?.0,
        "Suspended"
    );
    assert_eq!(
        suspended
            .status
            .as_ref()
            .and_then(|s| s.suspended_replicas.get("Deployment/web")),
        Some(&2)
    );
    // The replicas are recorded in status before the scale-down (crash safety), so the
    // scale-down follows the phase.
    wait_until(T, "web to be scaled to zero", || async {
        Ok(deployments.get("web").await?.spec.and_then(|s| s.replicas) == Some(0))
    })
    .await?;
    request_phase(&admin, &ns, "trial", RequestPhase::Reclaimed, &op).await?;
    let namespaces = Api::<Namespace>::all(admin.clone());
    wait_until(T, "the trial's tenant namespace to be deleted", || async {
        Ok(namespaces
            .get_opt(&trial_ns)
            .await?
            .is_none_or(|n| n.metadata.deletion_timestamp.is_some()))
    })
    .await?;
    // Deleting the reclaimed request releases its finalizer.
    let requests = Api::<CloudResourceRequest>::namespaced(admin.clone(), &ns);
    requests.delete("trial", &DeleteParams::default()).await?;
    wait_until(T, "the reclaimed request to go", || async {
        Ok(requests.get_opt("trial").await?.is_none())
    })
    .await
    .map_err(|e| anyhow!("{e}\n--- operator log ---\n{}", op.log_tail()))?;

    // Issue 16: records are the operator's alone, and go with their namespace.
    super::live_records::records_are_the_operators_alone(cp, &policy, &op).await?;

    // Zero 403s: none in the log, none among the reconcile failures.
    let (_, metrics) = op.get("/metrics")?;
    let log = std::fs::read_to_string(&op.log)?;
    let forbidden = forbidden_lines(&log);
    assert!(
        forbidden.is_empty(),
        "the chart's ClusterRole is missing rights:\n{}",
        forbidden.join("\n")
    );
    assert!(
        !metrics.contains("category=\"forbidden\""),
        "forbidden reconcile failures:\n{metrics}"
    );
    assert!(op.terminate(Duration::from_secs(20))?, "graceful stop");
    Ok(())
}
