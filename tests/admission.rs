//! The admission webhook against the real API server calling it (issue 12): the operator
//! serves it on loopback with a certificate it issued itself, the webhook configurations of
//! deploy/webhook/loopback.yaml point the API server at it, and every write below is sent
//! as the vendor or approver identity. Each refusal asserts the API server's error text and
//! that nothing changed. GovCloudRecords (admission/records.rs) are written by the operator
//! alone; its retention pass runs every second here.

mod support;

#[path = "admission/records.rs"]
mod records;
#[path = "admission/refusals.rs"]
mod refusals;
#[path = "admission/replicas.rs"]
mod replicas;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow};
use govcloud_operator::api::{
    CloudResourceRequest, RequestClass, RequestPhase, ResourceChange, ResourceChangeSpec,
};
use govcloud_operator::policy::admission::{REQUESTED_BY_ANNOTATION, TENANT_PROTECTION_FINALIZER};
use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use support::govcloud::*;
use support::operator::Operator;
use support::{
    ControlPlane, apply_yaml, control_plane, create_namespace, repo_root, unique_ns, wait_for,
    wait_until,
};
use tokio::sync::{OnceCell, RwLock};
use tokio_rustls::rustls;

// slowest seen ~12 s (a request through approval to Active); 5× margin
const T: Duration = Duration::from_secs(60);
/// The serving certificate's lifetime: renewed every ~20 s while the tests run.
const CERT_SECONDS: &str = "30";
/// The operator's identity as the API server authenticates it.
const OPERATOR_USER: &str = "admin";

struct Setup {
    cp: &'static ControlPlane,
    webhook_port: u16,
    operator: std::sync::Mutex<Operator>,
}

static SETUP: OnceCell<Setup> = OnceCell::const_new();
/// Tests hold it shared; the restart test holds it alone (its outage would fail the others'
/// writes).
static EXCLUSIVE: RwLock<()> = RwLock::const_new(());

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn setup() -> Result<&'static Setup> {
    SETUP
        .get_or_try_init(|| async {
            let cp = control_plane()?;
            let admin = cp.admin().await?;
            support::govcloud::install_kinds_and_roles(&admin).await?;
            let _ = create_namespace(&admin, "govcloud-system").await;
            let webhook_port = free_port()?;
            let url = format!("https://127.0.0.1:{webhook_port}");
            let configs =
                std::fs::read_to_string(repo_root().join("deploy/webhook/loopback.yaml"))?
                    .replace("__URL__", &url);
            apply_yaml(&admin, &configs, None).await?;
            let listen = format!("127.0.0.1:{webhook_port}");
            let op = Operator::start(
                cp,
                &[
                    "--webhook-listen",
                    &listen,
                    "--webhook-hosts",
                    "127.0.0.1",
                    "--operator-username",
                    OPERATOR_USER,
                    "--webhook-cert-seconds",
                    CERT_SECONDS,
                    "--require-admission",
                    "true",
                    "--record-retention-interval-seconds",
                    "1",
                ],
            )?;
            wait_ready(&op).await?;
            anyhow::Ok(Setup {
                cp,
                webhook_port,
                operator: std::sync::Mutex::new(op),
            })
        })
        .await
}

async fn wait_ready(op: &Operator) -> Result<()> {
    wait_until(
        T,
        "the operator ready with its webhook registered",
        || async {
            Ok(op
                .get("/readyz")
                .map(|(code, _)| code == 200)
                .unwrap_or(false))
        },
    )
    .await
    .map_err(|e| anyhow!("{e}\n--- operator log ---\n{}", op.log_tail()))
}

fn log(s: &Setup) -> String {
    s.operator.lock().map(|o| o.log_tail()).unwrap_or_default()
}

/// The API server's refusal text of a failed write (asserting it was a webhook denial).
fn denial<T: std::fmt::Debug>(r: Result<T, kube::Error>, rule: &str) -> Result<String> {
    match r {
        Err(kube::Error::Api(e)) => {
            let text = e.message.clone();
            if !(e.code == 403 && text.contains("denied the request") && text.contains(rule)) {
                return Err(anyhow!(
                    "expected a denial naming {rule:?}, got {} {text}",
                    e.code
                ));
            }
            Ok(text)
        }
        other => Err(anyhow!("expected a denial naming {rule:?}, got {other:?}")),
    }
}

/// A policy with fast periods and the fast track for Emergency only, up to 4 CPUs.
async fn policy(admin: &Client, name: &str) -> Result<()> {
    fast_policy(admin, name, |p| {
        p["emergency"] = serde_json::json!({
            "paperworkWithin": "600s",
            "reviewWithin": "600s",
            "allowedClasses": ["Emergency"],
            "maxSize": {"cpu": "4"}
        });
        p["review"]["forbidSameGroup"] = serde_json::json!(true);
    })
    .await
}

async fn namespace_with_policy(s: &Setup, prefix: &str) -> Result<(Client, String)> {
    let admin = s.cp.admin().await?;
    let ns = unique_ns(prefix);
    create_namespace(&admin, &ns).await?;
    policy(&admin, &ns).await?;
    // The webhook reads policies from its cache: wait until it has this one (a dry-run
    // emergency it refuses for the class, not for a missing policy).
    let vendor: Api<CloudResourceRequest> = Api::namespaced(s.cp.vendor().await?, &ns);
    let mut probe = request_spec(&ns, RequestClass::Production, "1");
    probe.emergency = true;
    let probe = CloudResourceRequest::new("probe", probe);
    let dry = PostParams {
        dry_run: true,
        ..Default::default()
    };
    wait_until(T, "the webhook to see the new policy", || async {
        Ok(match vendor.create(&dry, &probe).await {
            Err(kube::Error::Api(e)) => !e.message.contains("does not exist"),
            _ => false,
        })
    })
    .await?;
    Ok((admin, ns))
}

async fn approve(s: &Setup, ns: &str, name: &str, reviewer: &str) -> Result<CloudResourceRequest> {
    let api: Api<CloudResourceRequest> = Api::namespaced(s.cp.approver().await?, ns);
    let patch =
        serde_json::json!({"status": {"approval": {"decision": "Approved", "reviewer": reviewer}}});
    Ok(api
        .patch_status(name, &PatchParams::default(), &Patch::Merge(patch))
        .await?)
}

#[tokio::test]
async fn who_asked_and_who_decided_are_the_authenticated_users() -> Result<()> {
    let s = setup().await?;
    let _shared = EXCLUSIVE.read().await;
    let (admin, ns) = namespace_with_policy(s, "stamps").await?;
    let vendor = s.cp.vendor().await?;
    // A forged requester is overwritten with the token's user.
    let mut r =
        CloudResourceRequest::new("portal", request_spec(&ns, RequestClass::Production, "2"));
    r.annotations_mut().insert(
        REQUESTED_BY_ANNOTATION.into(),
        r#"{"username":"approver","groups":[]}"#.into(),
    );
    let api: Api<CloudResourceRequest> = Api::namespaced(vendor.clone(), &ns);
    let filed = api.create(&PostParams::default(), &r).await?;
    let stamp: serde_json::Value = serde_json::from_str(
        filed
            .annotations()
            .get(REQUESTED_BY_ANNOTATION)
            .context("no requested-by stamp")?,
    )?;
    assert_eq!(stamp["username"], "vendor");
    assert!(
        stamp["groups"]
            .as_array()
            .is_some_and(|g| g.contains(&serde_json::json!("govcloud:vendors"))),
        "{stamp}"
    );
    // Nobody but the operator changes it afterwards.
    let forged = serde_json::json!({"metadata": {"annotations": {REQUESTED_BY_ANNOTATION: r#"{"username":"someone"}"#}}});
    let text = denial(
        api.patch("portal", &PatchParams::default(), &Patch::Merge(&forged))
            .await,
        "requested-by",
    )?;
    assert!(text.contains("GY 22"), "{text}");
    let removed = serde_json::json!({"metadata": {"annotations": {REQUESTED_BY_ANNOTATION: null}}});
    denial(
        api.patch("portal", &PatchParams::default(), &Patch::Merge(&removed))
            .await,
        "requested-by",
    )?;
    assert_eq!(
        api.get("portal")
            .await?
            .annotations()
            .get(REQUESTED_BY_ANNOTATION),
        filed.annotations().get(REQUESTED_BY_ANNOTATION)
    );
    // The reviewer is the approver's token user although "alice" was sent; decidedAt is
    // the server's time and the generation the current one.
    let before = chrono::Utc::now() - chrono::Duration::seconds(2);
    let decided = approve(s, &ns, "portal", "alice").await?;
    let approval = decided
        .status
        .as_ref()
        .and_then(|st| st.approval.clone())
        .context("no approval")?;
    assert_eq!(approval.reviewer.as_deref(), Some("approver"));
    assert!(
        approval.decided_at.is_some_and(|t| t >= before),
        "{approval:?}"
    );
    assert_eq!(approval.generation, decided.metadata.generation);
    // The operator's own status writes still pass: the request opens.
    wait_phase(&admin, &ns, "portal", RequestPhase::Active, T)
        .await
        .map_err(|e| anyhow!("{e}\n{}", log(s)))?;
    Ok(())
}

#[tokio::test]
async fn a_request_is_protected_from_its_first_version_and_released_if_deleted_before_a_grant()
-> Result<()> {
    let s = setup().await?;
    let _shared = EXCLUSIVE.read().await;
    let (admin, ns) = namespace_with_policy(s, "protected").await?;
    let api: Api<CloudResourceRequest> = Api::namespaced(s.cp.vendor().await?, &ns);
    let mut r = CloudResourceRequest::new(
        "withdrawn",
        request_spec(&ns, RequestClass::Production, "1"),
    );
    // Filed as a GitOps tool does, by server-side apply. The answer, before the operator
    // has seen the request: the webhook added the finalizer (the operator's separate
    // update is not needed).
    let gitops = PatchParams::apply("gitops");
    let filed = api.patch("withdrawn", &gitops, &Patch::Apply(&r)).await?;
    assert_eq!(filed.finalizers(), [TENANT_PROTECTION_FINALIZER]);
    // The finalizer is not the applier's field: syncing the manifest again (it never
    // names the finalizer) neither removes it nor is refused for removing it.
    r.labels_mut().insert("synced".into(), "again".into());
    let synced = api.patch("withdrawn", &gitops, &Patch::Apply(&r)).await?;
    assert_eq!(synced.finalizers(), [TENANT_PROTECTION_FINALIZER]);
    wait_phase(&admin, &ns, "withdrawn", RequestPhase::Submitted, T)
        .await
        .map_err(|e| anyhow!("{e}\n{}", log(s)))?;
    // Withdrawn before any decision: nothing is granted, so the operator lets it go.
    api.delete("withdrawn", &Default::default()).await?;
    wait_until(T, "the withdrawn request gone", || async {
        Ok(api.get_opt("withdrawn").await?.is_none())
    })
    .await
    .map_err(|e| anyhow!("{e}\n{}", log(s)))?;
    Ok(())
}

#[tokio::test]
async fn self_approval_and_forged_status_are_refused() -> Result<()> {
    let s = setup().await?;
    let _shared = EXCLUSIVE.read().await;
    let (admin, ns) = namespace_with_policy(s, "self").await?;
    // The vendor is also made an approver in this namespace: RBAC allows it to decide.
    apply_yaml(
        &admin,
        r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: vendor-approves}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: govcloud-approver}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: vendor}]
"#,
        Some(&ns),
    )
    .await?;
    let vendor = s.cp.vendor().await?;
    file(
        &vendor,
        &ns,
        "own",
        request_spec(&ns, RequestClass::Production, "2"),
    )
    .await?;
    let api: Api<CloudResourceRequest> = Api::namespaced(vendor, &ns);
    let patch =
        serde_json::json!({"status": {"approval": {"decision": "Approved", "reviewer": "bureau"}}});
    let text = denial(
        api.patch_status("own", &PatchParams::default(), &Patch::Merge(&patch))
            .await,
        "self-approval",
    )?;
    assert!(
        text.contains("vendor asked for this CloudResourceRequest"),
        "{text}"
    );
    assert!(
        api.get("own")
            .await?
            .status
            .and_then(|st| st.approval)
            .is_none()
    );

    // An approver writes status.approval alone: grant, tenant, billing and replicas are
    // the operator's.
    // The operator's first status write is awaited first: read before it, `before` would
    // be no status at all and the comparison below would race that write.
    let approver_client = s.cp.approver().await?;
    let before = wait_phase(&approver_client, &ns, "own", RequestPhase::Submitted, T)
        .await?
        .status;
    let approver: Api<CloudResourceRequest> = Api::namespaced(approver_client, &ns);
    for forged in [
        serde_json::json!({"status": {"grant": {"cpu": "999"}}}),
        serde_json::json!({"status": {"tenantNamespace": "kube-system"}}),
        serde_json::json!({"status": {"billing": {"monthlyCost": "0.00"}}}),
        serde_json::json!({"status": {"suspendedReplicas": {"Deployment/x": 9}}}),
    ] {
        let text = denial(
            approver
                .patch_status("own", &PatchParams::default(), &Patch::Merge(&forged))
                .await,
            "operator-status",
        )?;
        assert!(text.contains("only the operator writes status."), "{text}");
    }
    let after = approver.get("own").await?.status;
    assert_eq!(
        after
            .as_ref()
            .map(|s| (&s.grant, &s.tenant_namespace, &s.billing)),
        before
            .as_ref()
            .map(|s| (&s.grant, &s.tenant_namespace, &s.billing))
    );
    Ok(())
}
