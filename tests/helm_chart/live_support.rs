//! Helpers of the live install: identities' kubeconfigs and rights, pod environment, log lines.

use super::*;

/// A SelfSubjectAccessReview: may `client` do `verb` on `group`/`resource` (`name`, `ns`)?
pub(super) async fn may(
    client: &Client,
    verb: &str,
    group: &str,
    resource: &str,
    name: Option<&str>,
    ns: Option<&str>,
) -> Result<bool> {
    let (resource, subresource) = match resource.split_once('/') {
        Some((r, s)) => (r, Some(s.to_string())),
        None => (resource, None),
    };
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                verb: Some(verb.into()),
                group: Some(group.into()),
                resource: Some(resource.into()),
                subresource,
                name: name.map(str::to_string),
                namespace: ns.map(str::to_string),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let answer = Api::<SelfSubjectAccessReview>::all(client.clone())
        .create(&PostParams::default(), &review)
        .await?;
    Ok(answer.status.is_some_and(|s| s.allowed))
}

/// A kubeconfig for the control plane (server and CA from the admin kubeconfig)
/// authenticating with a fresh token of ServiceAccount `ns/sa` (TokenRequest API).
pub(super) async fn service_account_kubeconfig(
    cp: &ControlPlane,
    ns: &str,
    sa: &str,
) -> Result<PathBuf> {
    let admin = cp.admin().await?;
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: vec![],
            expiration_seconds: Some(3600),
            ..Default::default()
        },
        ..Default::default()
    };
    let token = Api::<ServiceAccount>::namespaced(admin, ns)
        .create_token_request(sa, &PostParams::default(), &request)
        .await
        .with_context(|| format!("requesting a token for {ns}/{sa}"))?
        .status
        .map(|s| s.token)
        .ok_or_else(|| anyhow!("TokenRequest without status"))?;
    let admin_config: Value = serde_yaml::from_str(&std::fs::read_to_string(
        cp.kubeconfig(support::Identity::Admin),
    )?)?;
    let cluster = admin_config
        .pointer("/clusters/0/cluster")
        .cloned()
        .ok_or_else(|| anyhow!("the admin kubeconfig names no cluster"))?;
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "control-plane", "cluster": cluster}],
        "users": [{"name": sa, "user": {"token": token}}],
        "contexts": [{"name": "operator", "context": {"cluster": "control-plane", "user": sa, "namespace": ns}}],
        "current-context": "operator",
    });
    let path = cp.dir().join(format!("sa-{ns}-{sa}.kubeconfig"));
    std::fs::write(&path, serde_yaml::to_string(&config)?)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(path)
}

pub(super) async fn client_from(path: &std::path::Path) -> Result<Client> {
    let kubeconfig = Kubeconfig::read_from(path)?;
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
    Ok(Client::try_from(config)?)
}

/// The installed Deployment's environment, as the kubelet would give it to the pod.
pub(super) fn pod_env(deployment: &Deployment, namespace: &str) -> Vec<(String, String)> {
    let containers = deployment
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .map(|p| p.containers.clone())
        .unwrap_or_default();
    containers
        .first()
        .and_then(|c| c.env.clone())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|e| {
            let value = match (
                e.value,
                e.value_from.and_then(|f| f.field_ref).map(|f| f.field_path),
            ) {
                (Some(v), _) => v,
                (None, Some(p)) if p == "metadata.namespace" => namespace.to_string(),
                (None, Some(p)) if p == "metadata.name" => "govcloud-operator-test-pod".into(),
                _ => return None,
            };
            Some((e.name, value))
        })
        .collect()
}

/// Log lines that report a refusal for want of a right: kube's API errors read `...:
/// Forbidden (Status {.. code: 403 ..})`. (A bare "403" would also match timestamps such
/// as `.403459Z`.) A refusal because the object's namespace is being deleted
/// (`NamespaceTerminating`, e.g. the records test deleting a namespace while the operator
/// still writes there) is not one.
pub(super) fn forbidden_lines(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.to_ascii_lowercase().contains("forbidden") || l.contains("code: 403"))
        .filter(|l| !l.contains("NamespaceTerminating"))
        .collect()
}

pub(super) async fn request_phase(
    client: &Client,
    ns: &str,
    name: &str,
    phase: RequestPhase,
    op: &Operator,
) -> Result<CloudResourceRequest> {
    let api: Api<CloudResourceRequest> = Api::namespaced(client.clone(), ns);
    wait_for(T, format!("{ns}/{name} in phase {phase:?}"), || async {
        let r = api.get(name).await?;
        Ok((r.status.as_ref().and_then(|s| s.phase) == Some(phase)).then_some(r))
    })
    .await
    .map_err(|e| anyhow!("{e}\n--- operator log ---\n{}", op.log_tail()))
}
