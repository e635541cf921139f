//! The chart installed the way a platform team installs it (issue 17): Helm (v4's SDK,
//! scripts/helm.py) installs it on a real node (scripts/node.sh) with the operator's image
//! (scripts/image) loaded into the node's containerd, and the operator runs as the
//! Deployment's two pods. Through the API only, the test asserts that
//! - both pods become Ready through the kubelet's own probes;
//! - the leader holds the Lease and talks to the API server with the in-cluster
//!   service-account credentials (there is no kubeconfig in the image or the pod);
//! - the admission webhook is reached through its Service (the mutating hook stamps who
//!   filed, the validating hook refuses a squatter);
//! - a request filed as the vendor and approved as the approver becomes Active through the
//!   in-pod operator;
//! - deleting the leader pod hands the Lease to the standby within the lease time, and the
//!   next request becomes Active;
//! - `helm upgrade` to a new image tag rolls both pods with no tenant lost or duplicated;
//! - `helm uninstall` leaves the CRDs, the requests and the tenant namespaces in place.
//!
//! Needs root and the node binaries (scripts/install-control-plane.sh), the Helm engine
//! (scripts/install-helm.sh) and the operator and plugin binaries already built
//! (scripts/test builds them; see support::image).

#[path = "node_helm/cluster.rs"]
mod cluster;
mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail, ensure};
use cluster::*;
use serde_json::{Value, json};
use support::image::build_image;
use support::node::{As, Node, pod_ready, restarts};
use support::records::plugin_binary;
use support::{repo_root, wait_for};

const NS: &str = "govcloud-system";
const RELEASE: &str = "govcloud-operator";
/// The Deployment's pods (the chart's selector labels).
const SELECTOR: &str =
    "app.kubernetes.io/instance=govcloud-operator,app.kubernetes.io/component=operator";
const LEASE: &str = "govcloud-operator";
/// operator.leaseSeconds: the standby takes over at most this long after the leader stops
/// renewing (at once when it releases the Lease on SIGTERM).
/// The chart's default (checked on the installed Deployment).
const LEASE_SECONDS: u64 = 10;
const UNIT: &str = "unit-finance";
/// A pod's start on this node (scheduling, sandbox, container, first probes) takes 10-40 s
/// on a loaded two-core machine; a rollout starts two.
const POD_TIMEOUT: Duration = Duration::from_secs(240);
const ACTIVE_TIMEOUT: Duration = Duration::from_secs(120);

#[tokio::test]
async fn helm_installs_two_replicas_that_hand_over_upgrade_and_uninstall_without_losing_a_tenant()
-> Result<()> {
    let archive = build_image()?;
    let node = Node::start()?;
    let image = node.import(&archive)?;
    let (repository, tag) = image
        .rsplit_once(':')
        .ok_or_else(|| anyhow!("imported image {image} has no tag"))?;

    // -- helm install with the chart's defaults (the image they name is the one
    // scripts/image built: localhost/govcloud-operator:<appVersion>): two pods Ready
    // through the kubelet's probes.
    let summary = helm(&node, "install", Some(&json!({})))?;
    ensure!(summary.to_string().contains("deployed"), "{summary}");
    let deployment = node.get(&["deployment", "-n", NS, RELEASE])?;
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    ensure!(
        container["image"] == image.as_str(),
        "the chart's default image: {container}"
    );
    let lease_env = json!({"name": "GOVCLOUD_LEASE_SECONDS", "value": LEASE_SECONDS.to_string()});
    ensure!(
        container["env"]
            .as_array()
            .is_some_and(|env| env.contains(&lease_env)),
        "the chart's default lease is not {LEASE_SECONDS} s: {container}"
    );
    node.get(&["poddisruptionbudget", "-n", NS, RELEASE])?;
    let pods = ready_replicas(&node, 2, &image).await?;
    let leader = wait_for(Duration::from_secs(60), "a leader", || async {
        lease_holder(&node)
    })
    .await?;
    ensure!(
        pods.contains(&leader),
        "Lease held by {leader}, not one of {pods:?}"
    );
    // In-cluster credentials: the pod names no kubeconfig, and the leader's client talks to
    // the cluster's own Service address (the node's kubeconfigs name 127.0.0.1).
    let pod = node.get(&["pod", "-n", NS, &leader])?;
    let env = pod["spec"]["containers"][0]["env"].to_string();
    ensure!(
        !env.contains("KUBECONFIG"),
        "the pod sets KUBECONFIG: {env}"
    );
    let log = node.kubectl(&["-n", NS, "logs", &leader])?;
    ensure!(
        log.lines()
            .any(|l| l.contains("API server") && l.contains("https://10.96.0.1")),
        "the leader's log does not show the in-cluster API server:\n{log}"
    );

    // -- People, as the cluster admin binds them to the chart's roles.
    node.apply(&format!(
        r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: node-test-approvers}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: govcloud-approver}}
subjects: [{{apiGroup: rbac.authorization.k8s.io, kind: Group, name: "govcloud:approvers"}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: node-test-applicants}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: govcloud-applicant}}
subjects: [{{apiGroup: rbac.authorization.k8s.io, kind: Group, name: "govcloud:vendors"}}]
---
apiVersion: v1
kind: Namespace
metadata: {{name: {UNIT}}}
"#
    ))?;
    wait_for(Duration::from_secs(60), "the vendor's binding", || async {
        let yes = node.kubectl_as(
            As::Vendor,
            &[
                "auth",
                "can-i",
                "create",
                "cloudresourcerequests.govcloud.io",
                "-n",
                UNIT,
            ],
        );
        Ok(yes.is_ok().then_some(()))
    })
    .await?;

    // -- The webhook, through its Service: a squatter on the operator's namespace is
    // refused, and a request is stamped with who filed it.
    let squatter = node.apply_as(As::Vendor, &request_yaml("squatter", NS)?);
    ensure!(
        squatter
            .as_ref()
            .is_err_and(|e| e.to_string().contains("tenant-namespace")),
        "a request for the operator's own namespace: {squatter:?}"
    );
    file_request(&node, "portal-a")?;
    let filed = node.get(&["crr", "-n", UNIT, "portal-a"])?;
    let stamp = filed["metadata"]["annotations"]["govcloud.io/requested-by"].to_string();
    ensure!(
        stamp.contains("vendor"),
        "no requested-by stamp of the vendor: {filed}"
    );

    // -- Approved → Active through the in-pod operator.
    approve(&node, "portal-a")?;
    active(&node, "portal-a").await?;

    // -- The leader's pod deleted: another replica takes the Lease within the lease time
    // (the standby, or the Deployment's replacement pod if it starts first), and the next
    // request goes the whole way through it.
    node.kubectl(&["-n", NS, "delete", "pod", &leader, "--wait=false"])?;
    let deleted = Instant::now();
    let bound = Duration::from_secs(LEASE_SECONDS);
    let successor = wait_for(
        bound,
        format!("another replica to take the Lease from {leader}"),
        || async { Ok(lease_holder(&node)?.filter(|holder| *holder != leader)) },
    )
    .await
    .map_err(|e| anyhow!("{e:#}\n{}", diagnostics(&node)))?;
    eprintln!(
        "handover from {leader} to {successor} ({}) {:?} after the delete",
        if pods.contains(&successor) {
            "the standby"
        } else {
            "the replacement pod"
        },
        deleted.elapsed()
    );
    ensure!(
        operator_pods(&node)?.iter().any(|p| p.0 == successor),
        "the Lease is held by {successor}, which is not an operator pod"
    );
    file_request(&node, "portal-b")?;
    approve(&node, "portal-b")?;
    active(&node, "portal-b").await?;
    ready_replicas(&node, 2, &image).await?;

    // -- helm upgrade to a new tag of the image: both pods roll, no tenant lost or doubled.
    let before = tenants(&node)?;
    ensure!(
        before.len() == 2,
        "two tenant namespaces expected: {before:?}"
    );
    let next_tag = format!("{tag}-next");
    let next = format!("{repository}:{next_tag}");
    node.tag(&image, &next)?;
    let summary = helm(&node, "upgrade", Some(&json!({"image": {"tag": next_tag}})))?;
    ensure!(summary.to_string().contains("deployed"), "{summary}");
    let (rolled, fewest_ready) =
        tenants_during(&node, &before, ready_replicas(&node, 2, &next)).await?;
    eprintln!("rolled to {next}: pods {rolled:?}, never fewer than {fewest_ready} Ready");
    // RollingUpdate with maxUnavailable 0: the webhook (failurePolicy Fail) always had a
    // server.
    ensure!(
        fewest_ready >= 1,
        "no operator pod was Ready during the rollout"
    );
    ensure!(tenants(&node)? == before, "tenants changed by the upgrade");
    file_request(&node, "portal-c")?;
    approve(&node, "portal-c")?;
    active(&node, "portal-c").await?;
    let after = tenants(&node)?;
    ensure!(
        after.len() == 3,
        "three tenant namespaces expected: {after:?}"
    );

    // -- helm uninstall: the operator's own objects go; CRDs, requests and tenants stay.
    helm(&node, "uninstall", None)?;
    wait_for(
        Duration::from_secs(120),
        "the operator's pods gone",
        || async { Ok(operator_pods(&node)?.is_empty().then_some(())) },
    )
    .await?;
    for crd in [
        "cloudresourcerequests",
        "resourcechanges",
        "exitrequests",
        "govcloudrecords",
    ] {
        node.get(&["crd", &format!("{crd}.govcloud.io")])?;
    }
    for name in ["portal-a", "portal-b", "portal-c"] {
        let crr = node.get(&["crr", "-n", UNIT, name])?;
        ensure!(
            crr["metadata"]["deletionTimestamp"].is_null(),
            "{name} is being deleted"
        );
        ensure!(
            crr["status"]["phase"] == "Active",
            "{name}: {}",
            crr["status"]
        );
    }
    ensure!(
        tenants(&node)? == after,
        "tenant namespaces changed by the uninstall"
    );
    for ns in after.keys() {
        let ns = node.get(&["namespace", ns])?;
        ensure!(ns["status"]["phase"] == "Active", "{ns}");
    }
    // Nothing of the release is left to refuse a user's request (failurePolicy Fail).
    let hooks = node.kubectl(&[
        "get",
        "validatingwebhookconfigurations,mutatingwebhookconfigurations",
        "-o",
        "name",
    ])?;
    ensure!(
        !hooks.contains(RELEASE),
        "webhook configurations left behind: {hooks}"
    );
    Ok(())
}

/// Awaits `rollout`, checking on the way that the tenant namespaces stay exactly `before`
/// (none deleted, none added, same owners) the whole time; also the fewest operator pods
/// seen Ready.
async fn tenants_during<T>(
    node: &Node,
    before: &BTreeMap<String, String>,
    rollout: impl std::future::Future<Output = Result<T>>,
) -> Result<(T, usize)> {
    tokio::pin!(rollout);
    let mut fewest_ready = usize::MAX;
    loop {
        tokio::select! {
            done = &mut rollout => return Ok((done?, fewest_ready)),
            () = tokio::time::sleep(Duration::from_millis(500)) => {
                let now = tenants(node)?;
                ensure!(&now == before, "tenants changed during the rollout: {before:?} → {now:?}");
                let ready = operator_pods(node)?.iter().filter(|p| p.2).count();
                fewest_ready = fewest_ready.min(ready);
            }
        }
    }
}
