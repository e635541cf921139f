//! Shared steps of the operator's integration tests: install, one operator per test
//! process, fast policies (durations in seconds), filing and deciding requests, reading
//! Events.

use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Result, anyhow};
use govcloud_operator::api::{
    CloudResourceRequest, CloudResourceRequestSpec, GovCloudPolicy, GovCloudPolicySpec,
    RequestClass, RequestPhase, ResourceAmounts, SystemInfo, Zone,
};
use k8s_openapi::api::core::v1::Event;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};

use super::operator::Operator;
use super::{
    ControlPlane, apply_crds, apply_yaml, apply_yaml_file, control_plane, repo_root, wait_for,
};

static INSTALLED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
static OPERATOR: Mutex<Option<Operator>> = Mutex::new(None);

/// The control plane with CRDs, the user ClusterRoles (applicants and approvers bound
/// cluster-wide) and one running operator started with `operator_flags`.
pub async fn installed(operator_flags: &[&str]) -> Result<&'static ControlPlane> {
    let cp = control_plane()?;
    INSTALLED
        .get_or_try_init(|| async {
            let admin = cp.admin().await?;
            install_kinds_and_roles(&admin).await?;
            // The operator's own namespace holds its leader Lease.
            let _ = super::create_namespace(&admin, "govcloud-system").await;
            let op = Operator::start(cp, operator_flags)?;
            *OPERATOR.lock().unwrap_or_else(|p| p.into_inner()) = Some(op);
            anyhow::Ok(())
        })
        .await?;
    Ok(cp)
}

/// Runs `f` on the shared operator (kill/restart in crash tests).
pub fn with_operator<R>(f: impl FnOnce(&mut Operator) -> R) -> Option<R> {
    OPERATOR
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_mut()
        .map(f)
}

/// The operator's log tail, for failure messages.
pub fn operator_log() -> String {
    with_operator(|o| o.log_tail()).unwrap_or_default()
}

/// A policy whose every period is a few seconds: `tweak` adjusts it.
pub async fn fast_policy(
    client: &Client,
    name: &str,
    tweak: impl FnOnce(&mut serde_json::Value),
) -> Result<()> {
    let mut spec = serde_json::json!({
        "jurisdiction": "测试市",
        "timeZone": "Asia/Shanghai",
        "calendar": "cn-statutory",
        "review": {"acceptWithin": "3s", "decideWithin": "3s"},
        "provisioning": {"within": "600s"},
        "deployment": {"within": "600s"},
        "classes": {
            "Test": {"maxDuration": "600s", "free": true},
            "Development": {"maxDuration": "600s", "maxProjectShare": "15%"},
            "Emergency": {"maxDuration": "600s", "extensionNoticeBefore": "5s"},
            "Temporary": {"maxDuration": "600s", "extensionNoticeBefore": "5s"}
        },
        "expiry": {"warnBefore": "3s", "suspendFor": "5s"},
        "emergency": {"paperworkWithin": "600s"},
        "prices": {"currency": "CNY", "cpu": "60", "memory": "15", "storage": "0.4", "gpu": "2500", "loadBalancers": "300", "publicIPs": "100"}
    });
    tweak(&mut spec);
    let spec: GovCloudPolicySpec = serde_json::from_value(spec)?;
    let policy = GovCloudPolicy::new(name, spec);
    Api::<GovCloudPolicy>::all(client.clone())
        .create(&PostParams::default(), &policy)
        .await?;
    Ok(())
}

/// A request spec under `policy` asking for `cpu` vCPUs and 8Gi.
pub fn request_spec(policy: &str, class: RequestClass, cpu: &str) -> CloudResourceRequestSpec {
    CloudResourceRequestSpec {
        policy: Some(policy.to_string()),
        class,
        applicant_unit: "市财政局".into(),
        user_unit: Some("市财政局信息中心".into()),
        system: SystemInfo {
            name: "tax-portal".into(),
            security_level: 3,
            zone: Zone::EGovExtranet,
        },
        project: None,
        resources: ResourceAmounts {
            cpu: Some(IntOrString::String(cpu.into())),
            memory: Some(IntOrString::String("8Gi".into())),
            ..Default::default()
        },
        duration: None,
        workload: None,
        emergency: false,
        migration: None,
        access: Some(govcloud_operator::api::Access {
            groups: vec!["unit-finance:ops".into()],
        }),
        tenant_namespace: None,
    }
}

/// Files a request as `client`.
pub async fn file(
    client: &Client,
    ns: &str,
    name: &str,
    spec: CloudResourceRequestSpec,
) -> Result<CloudResourceRequest> {
    Ok(Api::<CloudResourceRequest>::namespaced(client.clone(), ns)
        .create(
            &PostParams::default(),
            &CloudResourceRequest::new(name, spec),
        )
        .await?)
}

/// An approver's decision: a merge patch of `status.approval` on the status subresource.
pub async fn decide(
    cp: &ControlPlane,
    ns: &str,
    name: &str,
    decision: &str,
    comment: &str,
) -> Result<()> {
    let api: Api<CloudResourceRequest> = Api::namespaced(cp.approver().await?, ns);
    let patch = serde_json::json!({"status": {"approval": {"decision": decision, "reviewer": "alice", "comment": comment}}});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(patch))
        .await?;
    Ok(())
}

/// Waits until the request reaches `phase`; returns it.
pub async fn wait_phase(
    client: &Client,
    ns: &str,
    name: &str,
    phase: RequestPhase,
    timeout: Duration,
) -> Result<CloudResourceRequest> {
    let api: Api<CloudResourceRequest> = Api::namespaced(client.clone(), ns);
    wait_for(
        timeout,
        format!("{ns}/{name} in phase {phase:?}"),
        || async {
            let r = api.get(name).await?;
            Ok((r.status.as_ref().and_then(|s| s.phase) == Some(phase)).then_some(r))
        },
    )
    .await
    .map_err(|e| anyhow!("{e}\n--- operator log ---\n{}", operator_log()))
}

/// Waits until condition `type_` of the request has `status` ("True"/"False").
pub async fn wait_condition(
    client: &Client,
    ns: &str,
    name: &str,
    type_: &str,
    status: &str,
    timeout: Duration,
) -> Result<CloudResourceRequest> {
    let api: Api<CloudResourceRequest> = Api::namespaced(client.clone(), ns);
    wait_for(
        timeout,
        format!("{ns}/{name} condition {type_}={status}"),
        || async {
            let r = api.get(name).await?;
            let ok = r.status.as_ref().is_some_and(|s| {
                s.conditions
                    .iter()
                    .any(|c| c.type_ == type_ && c.status == status)
            });
            Ok(ok.then_some(r))
        },
    )
    .await
    .map_err(|e| anyhow!("{e}\n--- operator log ---\n{}", operator_log()))
}

/// The condition `type_` of a request, if present.
pub fn condition<'a>(
    r: &'a CloudResourceRequest,
    type_: &str,
) -> Option<&'a govcloud_operator::api::Condition> {
    r.status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == type_))
}

/// `(type, reason)` of the Events about object `name` in `ns`, oldest first.
pub async fn events(client: &Client, ns: &str, name: &str) -> Result<Vec<(String, String)>> {
    let api: Api<Event> = Api::namespaced(client.clone(), ns);
    let mut list = api
        .list(&ListParams::default().fields(&format!("involvedObject.name={name}")))
        .await?
        .items;
    list.sort_by_key(|e| e.metadata.creation_timestamp.clone());
    Ok(list
        .into_iter()
        .map(|e| (e.type_.unwrap_or_default(), e.reason.unwrap_or_default()))
        .collect())
}

/// Waits until an Event with `reason` exists for `name`.
pub async fn wait_event(
    client: &Client,
    ns: &str,
    name: &str,
    reason: &str,
    timeout: Duration,
) -> Result<String> {
    wait_for(
        timeout,
        format!("event {reason} for {ns}/{name}"),
        || async {
            Ok(events(client, ns, name)
                .await?
                .into_iter()
                .find(|(_, r)| r == reason)
                .map(|(t, _)| t))
        },
    )
    .await
}

/// [`installed`] with the operator's admission webhook served on loopback and registered
/// with the API server (deploy/webhook/loopback.yaml), as the chart installs it: the
/// operator runs as `admin`, which its webhook lets through.
pub async fn installed_admitting() -> Result<&'static ControlPlane> {
    static PORT: std::sync::OnceLock<u16> = std::sync::OnceLock::new();
    let port = *PORT.get_or_init(|| {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or(18443)
    });
    let listen = format!("127.0.0.1:{port}");
    let cp = installed(&[
        "--webhook-listen",
        &listen,
        "--webhook-hosts",
        "127.0.0.1",
        "--operator-username",
        "admin",
        "--require-admission",
        "true",
    ])
    .await?;
    let admin = cp.admin().await?;
    let configs = std::fs::read_to_string(repo_root().join("deploy/webhook/loopback.yaml"))?
        .replace("__URL__", &format!("https://127.0.0.1:{port}"));
    apply_yaml(&admin, &configs, None).await?;
    wait_for(
        Duration::from_secs(60),
        "the operator ready with its webhook registered",
        || async {
            Ok(with_operator(|o| o.get("/readyz"))
                .and_then(|r| r.ok())
                .filter(|(code, _)| *code == 200)
                .map(|_| ()))
        },
    )
    .await
    .map_err(|e| anyhow!("{e}\n--- operator log ---\n{}", operator_log()))?;
    Ok(cp)
}

/// The CRDs and the user ClusterRoles, with applicants and approvers bound cluster-wide
/// (groups `govcloud:vendors` and `govcloud:approvers`).
pub async fn install_kinds_and_roles(admin: &kube::Client) -> Result<()> {
    apply_crds(admin).await?;
    apply_yaml_file(
        admin,
        &repo_root().join("charts/govcloud-operator/templates/clusterroles.yaml"),
    )
    .await?;
    apply_yaml(
        admin,
        r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: test-approvers}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: govcloud-approver}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: "govcloud:approvers"}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: test-applicants}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: govcloud-applicant}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: "govcloud:vendors"}]
"#,
        None,
    )
    .await?;
    Ok(())
}
