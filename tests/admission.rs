//! The admission webhook against the real API server calling it (issue 12): the operator
//! serves it on loopback with a certificate it issued itself, the webhook configurations of
//! deploy/webhook/loopback.yaml point the API server at it, and every write below is sent
//! as the vendor or approver identity. Each refusal asserts the API server's error text and
//! that nothing changed.

mod support;

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
    ControlPlane, apply_crds, apply_yaml, apply_yaml_file, control_plane, create_namespace,
    repo_root, unique_ns, wait_for, wait_until,
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
            apply_crds(&admin).await?;
            apply_yaml_file(
                &admin,
                repo_root().join("charts/govcloud-operator/templates/clusterroles.yaml"),
            )
            .await?;
            apply_yaml(
                &admin,
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
    let approver: Api<CloudResourceRequest> = Api::namespaced(s.cp.approver().await?, &ns);
    let before = approver.get("own").await?.status;
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

#[tokio::test]
async fn spec_writes_outside_the_rules_are_refused() -> Result<()> {
    let s = setup().await?;
    let _shared = EXCLUSIVE.read().await;
    let (admin, ns) = namespace_with_policy(s, "spec").await?;
    let vendor = s.cp.vendor().await?;
    let api: Api<CloudResourceRequest> = Api::namespaced(vendor.clone(), &ns);
    let create = |name: &str, f: &dyn Fn(&mut govcloud_operator::api::CloudResourceRequestSpec)| {
        let mut spec = request_spec(&ns, RequestClass::Production, "2");
        f(&mut spec);
        CloudResourceRequest::new(name, spec)
    };
    // XB 26: Production may not use the fast track here; Emergency up to 4 CPUs may.
    let text = denial(
        api.create(
            &PostParams::default(),
            &create("prod-emergency", &|s| s.emergency = true),
        )
        .await,
        "emergency",
    )?;
    assert!(
        text.contains("XB 26") && text.contains("allowedClasses"),
        "{text}"
    );
    let big = |s: &mut govcloud_operator::api::CloudResourceRequestSpec| {
        s.emergency = true;
        s.class = RequestClass::Emergency;
        s.duration = Some("60s".into());
        s.resources.cpu = Some(IntOrString::String("8".into()));
    };
    let text = denial(
        api.create(&PostParams::default(), &create("big-emergency", &big))
            .await,
        "emergency",
    )?;
    assert!(text.contains("cpu 8 > 4"), "{text}");
    // system: groups.
    let text = denial(
        api.create(
            &PostParams::default(),
            &create("everyone", &|s| {
                s.access = Some(govcloud_operator::api::Access {
                    groups: vec!["system:authenticated".into()],
                })
            }),
        )
        .await,
        "system-group",
    )?;
    assert!(text.contains("system:authenticated"), "{text}");
    // A tenant namespace outside the naming rule, or one that exists and is not ours.
    let text = denial(
        api.create(
            &PostParams::default(),
            &create("velero", &|s| s.tenant_namespace = Some("velero".into())),
        )
        .await,
        "tenant-namespace",
    )?;
    assert!(text.contains(&format!("{ns}-")), "{text}");
    let taken = format!("{ns}-taken");
    create_namespace(&admin, &taken).await?;
    denial(
        api.create(
            &PostParams::default(),
            &create("taken", &|s| s.tenant_namespace = Some(taken.clone())),
        )
        .await,
        "tenant-namespace",
    )?;
    for name in [
        "prod-emergency",
        "big-emergency",
        "everyone",
        "velero",
        "taken",
    ] {
        assert!(api.get_opt(name).await?.is_none(), "{name} was created");
    }

    // A granted request keeps its tenant namespace and its finalizer.
    let own = format!("{ns}-portal");
    api.create(
        &PostParams::default(),
        &create("portal", &|s| s.tenant_namespace = Some(own.clone())),
    )
    .await?;
    approve(s, &ns, "portal", "").await?;
    let active = wait_phase(&admin, &ns, "portal", RequestPhase::Active, T)
        .await
        .map_err(|e| anyhow!("{e}\n{}", log(s)))?;
    assert!(
        active
            .finalizers()
            .iter()
            .any(|f| f == TENANT_PROTECTION_FINALIZER)
    );
    let moved = serde_json::json!({"spec": {"tenantNamespace": format!("{ns}-elsewhere")}});
    denial(
        api.patch("portal", &PatchParams::default(), &Patch::Merge(&moved))
            .await,
        "tenant-namespace",
    )?;
    let stripped = serde_json::json!({"metadata": {"finalizers": null}});
    let text = denial(
        api.patch("portal", &PatchParams::default(), &Patch::Merge(&stripped))
            .await,
        "tenant-protection",
    )?;
    assert!(text.contains(TENANT_PROTECTION_FINALIZER), "{text}");
    let now = api.get("portal").await?;
    assert_eq!(now.spec.tenant_namespace.as_deref(), Some(own.as_str()));
    assert_eq!(now.finalizers(), active.finalizers());

    // issue 13: no Service with externalIPs in a managed tenant namespace, whoever asks.
    let svc: Service = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "grab"},
        "spec": {"ports": [{"port": 80}], "externalIPs": ["10.0.0.1"]}
    }))?;
    denial(
        Api::<Service>::namespaced(admin.clone(), &own)
            .create(&PostParams::default(), &svc)
            .await,
        "external-ips",
    )?;

    // A ResourceChange keeps its target.
    let changes: Api<ResourceChange> = Api::namespaced(vendor, &ns);
    let change = ResourceChange::new(
        "more",
        serde_json::from_value::<ResourceChangeSpec>(serde_json::json!({
            "request": "portal", "resources": {"cpu": "3"}
        }))?,
    );
    changes.create(&PostParams::default(), &change).await?;
    let retarget = serde_json::json!({"spec": {"request": "other"}});
    denial(
        changes
            .patch("more", &PatchParams::default(), &Patch::Merge(&retarget))
            .await,
        "immutable-request",
    )?;
    assert_eq!(changes.get("more").await?.spec.request, "portal");
    Ok(())
}

#[derive(serde::Deserialize, Debug)]
struct BadWrite {
    name: String,
    #[serde(rename = "as")]
    identity: String,
    write: String,
    patch: serde_json::Value,
    rule: String,
}

fn merge(a: &mut serde_json::Value, b: &serde_json::Value) {
    match (a, b) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            for (k, v) in b {
                if v.is_null() {
                    a.remove(k);
                } else {
                    merge(a.entry(k.clone()).or_insert(serde_json::Value::Null), v);
                }
            }
        }
        (a, b) => *a = b.clone(),
    }
}

/// tests/corpus/admission.yaml: every bad write is refused naming its rule, and nothing
/// changes.
#[tokio::test]
async fn the_corpus_of_bad_writes_is_refused_and_changes_nothing() -> Result<()> {
    let s = setup().await?;
    let _shared = EXCLUSIVE.read().await;
    let text = std::fs::read_to_string(repo_root().join("tests/corpus/admission.yaml"))?;
    let cases: Vec<BadWrite> = serde_yaml::from_str(&text)?;
    assert!(cases.len() >= 20, "a corpus of at least 20 bad writes");
    let (_, ns) = namespace_with_policy(s, "corpus").await?;
    let vendor = s.cp.vendor().await?;
    let approver = s.cp.approver().await?;
    file(
        &vendor,
        &ns,
        "target",
        request_spec(&ns, RequestClass::Production, "1"),
    )
    .await?;
    // Once the review is overdue (6 s) the operator has nothing more to write on `target`,
    // so any change to it below would be the bad write's.
    wait_condition(
        &s.cp.admin().await?,
        &ns,
        "target",
        "ReviewOverdue",
        "True",
        T,
    )
    .await?;
    let base = serde_json::to_value(CloudResourceRequest::new(
        "base",
        request_spec(&ns, RequestClass::Production, "1"),
    ))?;
    let mut failures = Vec::new();
    for case in &cases {
        let client = match case.identity.as_str() {
            "vendor" => vendor.clone(),
            "approver" => approver.clone(),
            other => return Err(anyhow!("{}: unknown identity {other}", case.name)),
        };
        let api: Api<CloudResourceRequest> = Api::namespaced(client, &ns);
        let before = api.get("target").await?;
        let result = match case.write.as_str() {
            "create" => {
                let mut obj = base.clone();
                obj["metadata"]["name"] = serde_json::json!(case.name);
                merge(&mut obj, &case.patch);
                let obj: CloudResourceRequest = serde_json::from_value(obj)?;
                api.create(&PostParams::default(), &obj).await.map(|_| ())
            }
            "update" => api
                .patch(
                    "target",
                    &PatchParams::default(),
                    &Patch::Merge(&case.patch),
                )
                .await
                .map(|_| ()),
            "status" => api
                .patch_status(
                    "target",
                    &PatchParams::default(),
                    &Patch::Merge(&case.patch),
                )
                .await
                .map(|_| ()),
            other => return Err(anyhow!("{}: unknown write {other}", case.name)),
        };
        if let Err(e) = denial(result, &case.rule) {
            failures.push(format!("{}: {e}", case.name));
        }
        let after = api.get("target").await?;
        if after.metadata.resource_version != before.metadata.resource_version {
            failures.push(format!("{}: target changed", case.name));
        }
        if case.write == "create" && api.get_opt(&case.name).await?.is_some() {
            failures.push(format!("{}: created", case.name));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    Ok(())
}

/// A standby replica (the test's operator holds the Lease) serves the webhook too, and
/// with `--require-admission` is not ready until its configurations trust its CA. Its own
/// configuration selects only ConfigMaps in one probe namespace, which it refuses (it
/// decides on the request kinds only): the refusal text proves the API server reached it.
#[tokio::test]
async fn a_standby_answers_and_is_ready_only_once_registered() -> Result<()> {
    let s = setup().await?;
    let _shared = EXCLUSIVE.read().await;
    let admin = s.cp.admin().await?;
    let name = unique_ns("standby-hook");
    let port = free_port()?;
    let listen = format!("127.0.0.1:{port}");
    let mut standby = Operator::start(
        s.cp,
        &[
            "--webhook-listen",
            &listen,
            "--webhook-hosts",
            "127.0.0.1",
            "--operator-username",
            OPERATOR_USER,
            "--webhook-secret",
            &name,
            "--webhook-configuration",
            &name,
            "--require-admission",
            "true",
        ],
    )?;
    // Not ready while its configuration does not exist, although it serves.
    wait_until(T, "the standby's webhook certificate", || async {
        Ok(Api::<Secret>::namespaced(admin.clone(), "govcloud-system")
            .get_opt(&name)
            .await?
            .is_some())
    })
    .await?;
    for _ in 0..10 {
        let (code, body) = standby.get("/readyz")?;
        assert_eq!(code, 503, "{body}");
        assert!(body.contains("webhook"), "{body}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let probe = unique_ns("probe");
    let config = format!(
        r#"
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {{name: {name}}}
webhooks:
  - name: probe.govcloud.io
    clientConfig: {{url: "https://127.0.0.1:{port}/validate"}}
    rules: [{{apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["configmaps"]}}]
    namespaceSelector: {{matchLabels: {{govcloud.io/probe: "{probe}"}}}}
    failurePolicy: Fail
    sideEffects: None
    admissionReviewVersions: ["v1"]
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {{name: {name}}}
webhooks:
  - name: probe.govcloud.io
    clientConfig: {{url: "https://127.0.0.1:{port}/mutate"}}
    rules: [{{apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["configmaps"]}}]
    namespaceSelector: {{matchLabels: {{govcloud.io/probe: "{probe}"}}}}
    failurePolicy: Ignore
    sideEffects: None
    admissionReviewVersions: ["v1"]
"#
    );
    apply_yaml(&admin, &config, None).await?;
    let result = async {
        wait_until(T, "the standby ready once registered", || async {
            Ok(standby
                .get("/readyz")
                .map(|(c, _)| c == 200)
                .unwrap_or(false))
        })
        .await?;
        let (_, body) = standby.get("/readyz")?;
        assert!(body.contains("standby"), "a standby: {body}");
        let mut ns = k8s_openapi::api::core::v1::Namespace::default();
        ns.metadata.name = Some(probe.clone());
        ns.metadata.labels = Some([("govcloud.io/probe".to_string(), probe.clone())].into());
        Api::<k8s_openapi::api::core::v1::Namespace>::all(admin.clone())
            .create(&PostParams::default(), &ns)
            .await?;
        let cm: k8s_openapi::api::core::v1::ConfigMap =
            serde_json::from_value(serde_json::json!({"metadata": {"name": "probe"}}))?;
        let text = denial(
            Api::<k8s_openapi::api::core::v1::ConfigMap>::namespaced(admin.clone(), &probe)
                .create(&PostParams::default(), &cm)
                .await,
            "does not decide on /configmaps",
        )?;
        assert!(text.contains("probe.govcloud.io"), "{text}");
        anyhow::Ok(())
    }
    .await;
    for plural in [
        "validatingwebhookconfigurations",
        "mutatingwebhookconfigurations",
    ] {
        let kind = if plural.starts_with('v') {
            "ValidatingWebhookConfiguration"
        } else {
            "MutatingWebhookConfiguration"
        };
        let ar = kube::api::ApiResource {
            group: "admissionregistration.k8s.io".into(),
            version: "v1".into(),
            api_version: "admissionregistration.k8s.io/v1".into(),
            kind: kind.into(),
            plural: plural.into(),
        };
        let _ = Api::<kube::api::DynamicObject>::all_with(admin.clone(), &ar)
            .delete(&name, &Default::default())
            .await;
    }
    standby.kill();
    result.map_err(|e| anyhow!("{e}\n{}", standby.log_tail()))
}

/// The certificate the webhook serves now, checked against the CA in the Secret (so the
/// API server's view: it chains to the caBundle and names 127.0.0.1).
async fn served_certificate(s: &Setup) -> Result<Vec<u8>> {
    let admin = s.cp.admin().await?;
    let secret = Api::<Secret>::namespaced(admin, "govcloud-system")
        .get("govcloud-operator-webhook-tls")
        .await?;
    let ca = secret
        .data
        .as_ref()
        .and_then(|d| d.get("ca.crt"))
        .context("no ca.crt")?
        .0
        .clone();
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(&ca) {
        roots.add(c?)?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", s.webhook_port)).await?;
    let name =
        rustls::pki_types::ServerName::IpAddress(std::net::IpAddr::from([127, 0, 0, 1]).into());
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await?;
    tls.get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.to_vec())
        .context("no peer certificate")
}

#[tokio::test]
async fn the_serving_certificate_is_renewed_and_writes_keep_working() -> Result<()> {
    let s = setup().await?;
    let _shared = EXCLUSIVE.read().await;
    let first = served_certificate(s).await?;
    // 30 s certificates are renewed when 10 s are left.
    wait_until(T, "a renewed serving certificate", || async {
        Ok(served_certificate(s).await? != first)
    })
    .await
    .map_err(|e| anyhow!("{e}\n{}", log(s)))?;
    let (_, ns) = namespace_with_policy(s, "renewed").await?;
    file(
        &s.cp.vendor().await?,
        &ns,
        "after",
        request_spec(&ns, RequestClass::Production, "1"),
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn a_restarted_operator_converges_with_nothing_lost() -> Result<()> {
    let s = setup().await?;
    let _alone = EXCLUSIVE.write().await;
    let (admin, ns) = namespace_with_policy(s, "restart").await?;
    let vendor = s.cp.vendor().await?;
    file(
        &vendor,
        &ns,
        "before",
        request_spec(&ns, RequestClass::Production, "1"),
    )
    .await?;
    approve(s, &ns, "before", "").await?;
    {
        let mut op = s.operator.lock().map_err(|_| anyhow!("poisoned"))?;
        op.kill();
    }
    // While the webhook is down, writes in its scope fail closed.
    let down = Api::<CloudResourceRequest>::namespaced(vendor.clone(), &ns)
        .create(
            &PostParams::default(),
            &CloudResourceRequest::new("during", request_spec(&ns, RequestClass::Production, "1")),
        )
        .await;
    assert!(
        down.is_err(),
        "a write passed while the webhook was down: {down:?}"
    );
    let port = {
        let mut op = s.operator.lock().map_err(|_| anyhow!("poisoned"))?;
        op.restart()?;
        op.port
    };
    wait_until(T, "the restarted operator ready", || async move {
        Ok(readyz(port).unwrap_or(false))
    })
    .await?;
    // The decision taken before the restart is acted on; a write after it passes again.
    let r = wait_phase(&admin, &ns, "before", RequestPhase::Active, T)
        .await
        .map_err(|e| anyhow!("{e}\n{}", log(s)))?;
    assert_eq!(
        r.status
            .and_then(|st| st.approval)
            .and_then(|a| a.reviewer)
            .as_deref(),
        Some("approver")
    );
    wait_for(T, "a write after the restart", || async {
        Ok(file(
            &vendor,
            &ns,
            "after",
            request_spec(&ns, RequestClass::Production, "1"),
        )
        .await
        .ok())
    })
    .await?;
    Ok(())
}

fn readyz(port: u16) -> Result<bool> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(s, "GET /readyz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    Ok(text.starts_with("HTTP/1.1 200") || text.starts_with("HTTP/1.0 200"))
}
