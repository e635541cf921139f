//! Issue 14: nothing one user writes can stop governance for everyone. A rollback, the way
//! it happens in life: a newer release widened the CloudResourceRequest CRD (a new phase,
//! a new class, a field of another type) and wrote such values; then the CRD and the
//! operator were rolled back. Before, the whole request watch failed ("failed to perform
//! initial object list … unknown variant") and no request anywhere opened. Now the
//! unknown phase decodes as `Unrecognized` and that request is left alone (Event
//! `UnknownPhase`); the unknown class and the string security level do not decode, and
//! those requests are reported (metric, Event `Undecodable`, log) and skipped. None of
//! them is written to, `/readyz` and `/livez` stay 200, and every other request goes on.

mod support;

use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use govcloud_operator::api::{RequestClass, RequestPhase};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{DynamicObject, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use serde_json::json;
use support::govcloud::{decide, fast_policy, file, request_spec, wait_event, wait_phase};
use support::operator::Operator;
use support::window::{never_during, unchanged_from};
use support::{
    apply_crds, apply_yaml, apply_yaml_file, control_plane, create_namespace, crr_resource,
    repo_root, unique_ns, wait_for, yaml_documents,
};

const CRD: &str = "cloudresourcerequests.govcloud.io";
/// How long the undecodable requests are watched for writes.
const UNTOUCHED: Duration = Duration::from_secs(5);
const SCHEMA: &str = "/spec/versions/0/schema/openAPIV3Schema/properties";

/// The newer release's CRD: a phase, a class and an int-or-string security level this
/// release does not know.
async fn widen(crds: &Api<CustomResourceDefinition>) -> Result<()> {
    let mut crd = serde_json::to_value(crds.get(CRD).await?)?;
    let props = crd
        .pointer_mut(SCHEMA)
        .ok_or_else(|| anyhow!("no schema in {CRD}"))?;
    for (path, value) in [
        ("/status/properties/phase/enum", "FromTheFuture"),
        ("/spec/properties/class/enum", "Pilot"),
    ] {
        props
            .pointer_mut(path)
            .and_then(|e| e.as_array_mut())
            .ok_or_else(|| anyhow!("no enum at {path}"))?
            .push(json!(value));
    }
    *props
        .pointer_mut("/spec/properties/system/properties/securityLevel")
        .ok_or_else(|| anyhow!("no securityLevel"))? = json!({"x-kubernetes-int-or-string": true});
    let crd: CustomResourceDefinition = serde_json::from_value(crd)?;
    crds.replace(CRD, &PostParams::default(), &crd).await?;
    Ok(())
}

/// This release's CRD back, exactly as in `crds/` (a replace, so nothing the newer release
/// added survives).
async fn roll_back(crds: &Api<CustomResourceDefinition>) -> Result<()> {
    let file = repo_root().join(format!("crds/{CRD}.yaml"));
    let doc = yaml_documents(&std::fs::read_to_string(&file)?)?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow!("{} is empty", file.display()))?;
    let mut ours: CustomResourceDefinition = serde_json::from_value(doc)?;
    let current = crds.get(CRD).await?;
    ours.metadata.resource_version = current.metadata.resource_version;
    crds.replace(CRD, &PostParams::default(), &ours).await?;
    let back = serde_json::to_value(crds.get(CRD).await?)?;
    let level = format!("{SCHEMA}/spec/properties/system/properties/securityLevel/type");
    let phases = format!("{SCHEMA}/status/properties/phase/enum");
    if back.pointer(&level) != Some(&json!("integer"))
        || back
            .pointer(&phases)
            .is_none_or(|p| p.to_string().contains("FromTheFuture"))
    {
        bail!("the CRD was not rolled back: {back}");
    }
    Ok(())
}

fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn a_rollback_leaves_undecodable_requests_alone_and_governs_the_rest() -> Result<()> {
    let cp = control_plane()?;
    let admin = cp.admin().await?;
    apply_crds(&admin).await?;
    apply_yaml_file(
        &admin,
        &repo_root().join("charts/govcloud-operator/templates/clusterroles.yaml"),
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
"#,
        None,
    )
    .await?;
    let ns = unique_ns("rollback");
    create_namespace(&admin, &ns).await?;
    fast_policy(&admin, &ns, |_| {}).await?;

    // The newer release: its CRD, and requests only it can read.
    let crds = Api::<CustomResourceDefinition>::all(admin.clone());
    widen(&crds).await?;
    let dynamic: Api<DynamicObject> = Api::namespaced_with(admin.clone(), &ns, &crr_resource());
    let spec = serde_json::to_value(request_spec(&ns, RequestClass::Test, "1"))?;
    let new_object = |name: &str, spec: serde_json::Value| -> Result<DynamicObject> {
        Ok(serde_json::from_value(json!({
            "apiVersion": "govcloud.io/v1alpha1",
            "kind": "CloudResourceRequest",
            "metadata": {"name": name},
            "spec": spec,
        }))?)
    };
    // The API server serves the widened schema a moment after the CRD update: retry.
    let mut pilot = spec.clone();
    pilot["class"] = json!("Pilot");
    let mut wrong_type = spec.clone();
    wrong_type["system"]["securityLevel"] = json!("three");
    for (name, spec) in [("pilot", pilot), ("wrong-type", wrong_type)] {
        let obj = new_object(name, spec)?;
        wait_for(
            Duration::from_secs(30),
            format!("create {name}"),
            || async { Ok(dynamic.create(&PostParams::default(), &obj).await.ok()) },
        )
        .await?;
    }
    dynamic
        .create(&PostParams::default(), &new_object("future", spec.clone())?)
        .await?;
    wait_for(
        Duration::from_secs(30),
        "status.phase FromTheFuture",
        || async {
            Ok(dynamic
                .patch_status(
                    "future",
                    &PatchParams::default(),
                    &Patch::Merge(json!({"status": {"phase": "FromTheFuture"}})),
                )
                .await
                .ok())
        },
    )
    .await?;
    let mut written = Vec::new();
    for name in ["future", "pilot", "wrong-type"] {
        written.push(dynamic.get(name).await?);
    }
    let wrong = dynamic.get("wrong-type").await?;
    if wrong.data.pointer("/spec/system/securityLevel") != Some(&json!("three")) {
        bail!(
            "the API server did not keep the string security level: {:?}",
            wrong.data
        );
    }

    // The rollback: this release's CRD, then this release's operator.
    roll_back(&crds).await?;
    let _ = create_namespace(&admin, "govcloud-system").await;
    let op = Operator::start(cp, &["--leader-election=false"])?;

    // Governance goes on for everyone else.
    file(
        &admin,
        &ns,
        "after",
        request_spec(&ns, RequestClass::Test, "1"),
    )
    .await?;
    decide(cp, &ns, "after", "Approved", "").await?;
    wait_phase(
        &admin,
        &ns,
        "after",
        RequestPhase::Active,
        // slowest seen 1.6 s; 5× margin
        Duration::from_secs(90),
    )
    .await
    .map_err(|e| anyhow!("{e}\n--- operator ---\n{}", op.log_tail()))?;
    let (code, body) = op.get("/readyz")?;
    assert_eq!(code, 200, "ready with undecodable objects present: {body}");
    let (code, body) = op.get("/livez")?;
    assert_eq!(code, 200, "live with undecodable objects present: {body}");

    // Each request this release cannot read is reported: a gauge and a counter by kind,
    // an Event on the object, a log line. The unknown phase alone decodes (as
    // `Unrecognized`): that request is reported by its own Event and phase gauge.
    let (_, metrics) = op.get("/metrics")?;
    let gauge = "govcloud_undecodable_objects{kind=\"CloudResourceRequest\"}";
    assert_eq!(metric(&metrics, gauge), Some(2.0), "{metrics}");
    let counter = "govcloud_decode_failures_total{kind=\"CloudResourceRequest\"}";
    assert!(
        metric(&metrics, counter).is_some_and(|n| n >= 2.0),
        "{metrics}"
    );
    for name in ["pilot", "wrong-type"] {
        let kind = wait_event(&admin, &ns, name, "Undecodable", Duration::from_secs(30))
            .await
            .with_context(|| op.log_tail())?;
        assert_eq!(kind, "Warning");
    }
    let kind = wait_event(
        &admin,
        &ns,
        "future",
        "UnknownPhase",
        Duration::from_secs(30),
    )
    .await
    .with_context(|| op.log_tail())?;
    assert_eq!(kind, "Warning");
    let log = std::fs::read_to_string(&op.log)?;
    assert!(
        log.lines()
            .any(|l| l.contains("does not decode") && l.contains("Pilot")),
        "{log}"
    );
    let unrecognized = "govcloud_objects{kind=\"CloudResourceRequest\",phase=\"Unrecognized\"}";
    wait_for(
        // slowest seen 14.1 s; 5× margin
        Duration::from_secs(75),
        "the Unrecognized phase gauge",
        || async {
            let (_, metrics) = op.get("/metrics")?;
            Ok((metric(&metrics, unrecognized) == Some(1.0)).then_some(()))
        },
    )
    .await?;

    // …and left untouched: not even its status or metadata was written. Watched over a
    // window of several resyncs; the watch's first list compares with the versions read
    // before the operator started, so a write at any moment since then shows (a
    // resourceVersion never goes back).
    let baseline = written
        .iter()
        .map(|o| {
            (
                o.metadata.name.clone().unwrap_or_default(),
                o.metadata.resource_version.clone().unwrap_or_default(),
            )
        })
        .collect();
    never_during(
        &dynamic,
        watcher::Config::default(),
        UNTOUCHED,
        "the undecodable requests",
        unchanged_from(baseline, |o: &DynamicObject| {
            o.metadata
                .name
                .clone()
                .filter(|n| ["future", "pilot", "wrong-type"].contains(&n.as_str()))
        }),
    )
    .await
    .map_err(|e| anyhow!("an undecodable request was written to: {e:#}"))?;
    let now = dynamic.get("future").await?;
    assert_eq!(
        now.data.pointer("/status"),
        Some(&json!({"phase": "FromTheFuture"}))
    );
    assert!(now.metadata.finalizers.unwrap_or_default().is_empty());
    Ok(())
}
