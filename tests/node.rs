//! The operator's image running as a pod on a real node: `scripts/node.sh` boots a
//! one-node Kubernetes 1.20 cluster (control plane, kube-scheduler, containerd, kubelet)
//! inside a network namespace of its own, the image from `scripts/image` is imported into
//! the node's containerd, and a Pod of it runs the real operator with its ServiceAccount's
//! token and in-cluster configuration. The kubelet's own readiness probe on `/readyz` (OK
//! once every watch has listed, so the in-cluster credentials work) must pass.
//!
//! Needs root (network namespace, containerd, cgroups) and the node binaries cached by
//! scripts/install-control-plane.sh. The node is stopped and its namespace deleted when
//! the test ends, however it ends.

mod support;

use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use serde_json::Value;
use support::image::build_image;
use support::node::{Node, pod_ready};

const NS: &str = "govcloud-system";

#[tokio::test]
async fn the_operator_image_runs_as_a_pod_and_passes_the_kubelets_readiness_probe() -> Result<()> {
    let t0 = Instant::now();
    let archive = build_image()?;
    let node = Node::start()?;
    let image = node.import(&archive)?;
    eprintln!(
        "node up and image {image} imported after {:?}",
        t0.elapsed()
    );

    let crds = support::repo_root().join("crds");
    for entry in std::fs::read_dir(&crds)? {
        let yaml = std::fs::read_to_string(entry?.path())?;
        node.apply(&yaml)?;
    }
    // the operator with the cluster's admin role: this test is about the image, the
    // runtime and the in-cluster credentials; the chart's own RBAC is tested by
    // tests/helm_chart.rs
    node.apply(&format!(
        r#"
apiVersion: v1
kind: Namespace
metadata: {{name: {NS}}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {{name: govcloud-operator, namespace: {NS}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: govcloud-operator-node-test}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}}
subjects: [{{kind: ServiceAccount, name: govcloud-operator, namespace: {NS}}}]
"#
    ))?;
    // the SA's token Secret comes from the controller manager (1.20)
    support::wait_for(
        Duration::from_secs(60),
        "the ServiceAccount's token",
        || async {
            let sa = node.kubectl(&["-n", NS, "get", "sa", "govcloud-operator", "-o", "json"])?;
            let sa: Value = serde_json::from_str(&sa)?;
            if sa["secrets"].as_array().is_some_and(|s| !s.is_empty()) {
                Ok(Some(()))
            } else {
                Ok(None)
            }
        },
    )
    .await?;
    node.apply(&format!(
        r#"
apiVersion: v1
kind: Pod
metadata: {{name: operator, namespace: {NS}}}
spec:
  serviceAccountName: govcloud-operator
  securityContext: {{runAsNonRoot: true}}
  containers:
    - name: operator
      image: "{image}"
      imagePullPolicy: Never
      args: ["run"]
      env:
        - name: GOVCLOUD_NAMESPACE
          valueFrom: {{fieldRef: {{fieldPath: metadata.namespace}}}}
        - name: POD_NAME
          valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}
        # without an election /readyz is OK only once every watch has listed through
        # the in-cluster credentials (a standby replica would be ready before that)
        - name: GOVCLOUD_LEADER_ELECTION
          value: "false"
      ports: [{{name: http, containerPort: 8080}}]
      readinessProbe:
        httpGet: {{path: /readyz, port: http}}
        periodSeconds: 2
      securityContext:
        readOnlyRootFilesystem: true
        allowPrivilegeEscalation: false
        capabilities: {{drop: [ALL]}}
"#
    ))?;

    // an Err is retried until the timeout: a restart is reported then, with the logs
    let result = support::wait_for(
        Duration::from_secs(180),
        "the operator pod Ready",
        || async {
            let pod: Value = serde_json::from_str(
                &node.kubectl(&["-n", NS, "get", "pod", "operator", "-o", "json"])?,
            )?;
            let restarts = pod["status"]["containerStatuses"][0]["restartCount"]
                .as_u64()
                .unwrap_or(0);
            if restarts > 0 {
                return Err(anyhow!("the operator restarted: {}", pod["status"]));
            }
            Ok(pod_ready(&pod).then_some(pod))
        },
    )
    .await;
    let pod = match result {
        Ok(pod) => pod,
        Err(e) => {
            let describe = node
                .kubectl(&["-n", NS, "describe", "pod", "operator"])
                .unwrap_or_default();
            let logs = node
                .kubectl(&["-n", NS, "logs", "operator"])
                .unwrap_or_default();
            bail!("{e:#}\n{describe}\n{logs}");
        }
    };
    eprintln!(
        "pod {} Ready on node {} after {:?}",
        pod["metadata"]["name"],
        pod["spec"]["nodeName"],
        t0.elapsed()
    );
    Ok(())
}
