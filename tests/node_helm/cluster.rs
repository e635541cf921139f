//! What the Helm test reads and does on the node: the operator's pods and Lease, requests
//! filed and decided by people, tenant namespaces, and Helm itself.

use super::*;

/// The operator's pods (not those already being deleted): (name, image, Ready, restarts).
pub(super) fn operator_pods(node: &Node) -> Result<Vec<(String, String, bool, u64)>> {
    let list = node.get(&["pods", "-n", NS, "-l", SELECTOR])?;
    Ok(list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .map(|p| {
            (
                p["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                p["spec"]["containers"][0]["image"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                pod_ready(p),
                restarts(p),
            )
        })
        .collect())
}

/// Waits until exactly `n` operator pods exist, all of `image`, all Ready; their names.
/// A container restart fails the wait at once (reported with the pods' logs).
pub(super) async fn ready_replicas(node: &Node, n: usize, image: &str) -> Result<Vec<String>> {
    let result = wait_for(
        POD_TIMEOUT,
        format!("{n} Ready operator pods of {image}"),
        || async {
            let pods = operator_pods(node)?;
            if let Some((name, ..)) = pods.iter().find(|p| p.3 > 0) {
                bail!("operator pod {name} restarted");
            }
            let ready = pods.iter().filter(|p| p.1 == image && p.2).count();
            Ok((pods.len() == n && ready == n).then(|| pods.into_iter().map(|p| p.0).collect()))
        },
    )
    .await;
    result.map_err(|e| anyhow!("{e:#}\n{}", diagnostics(node)))
}

/// `kubectl describe` and the logs of the operator's pods, for a failure message.
pub(super) fn diagnostics(node: &Node) -> String {
    let describe = node
        .kubectl(&["-n", NS, "describe", "pods", "-l", SELECTOR])
        .unwrap_or_else(|e| e.to_string());
    let logs = node
        .kubectl(&["-n", NS, "logs", "-l", SELECTOR, "--tail", "40", "--prefix"])
        .unwrap_or_else(|e| e.to_string());
    format!("--- pods ---\n{describe}\n--- logs ---\n{logs}")
}

/// The Lease's holder, if any.
pub(super) fn lease_holder(node: &Node) -> Result<Option<String>> {
    let lease = node.get(&["lease", "-n", NS, LEASE])?;
    Ok(lease["spec"]["holderIdentity"]
        .as_str()
        .filter(|h| !h.is_empty())
        .map(str::to_owned))
}

/// The request `name`, filed by the vendor from examples/requests/production-shanghai.yaml
/// under its own name, tenant namespace and project.
pub(super) fn file_request(node: &Node, name: &str) -> Result<()> {
    node.apply_as(As::Vendor, &request_yaml(name, &format!("{UNIT}-{name}"))?)
}

/// The example request renamed: `name`, tenant namespace `tenant`, a project of its own
/// (the example's project quota holds two of them).
pub(super) fn request_yaml(name: &str, tenant: &str) -> Result<String> {
    let example =
        std::fs::read_to_string(repo_root().join("examples/requests/production-shanghai.yaml"))?;
    let renamed = example
        .replace("\n  name: tax-portal\n", &format!("\n  name: {name}\n"))
        .replace(
            "tenantNamespace: unit-finance-tax-portal",
            &format!("tenantNamespace: {tenant}"),
        )
        .replace("id: SH-2026-0042", &format!("id: SH-2026-{name}"));
    ensure!(
        renamed.contains(&format!("name: {name}\n")) && renamed.contains(tenant),
        "examples/requests/production-shanghai.yaml changed: the test cannot rename it"
    );
    Ok(renamed)
}

/// The approver approves `name` with the plugin (kubectl 1.20 cannot patch status).
pub(super) fn approve(node: &Node, name: &str) -> Result<()> {
    let config = format!("KUBECONFIG={}", node.kubeconfig(As::Approver).display());
    let plugin = plugin_binary();
    let plugin = plugin
        .to_str()
        .ok_or_else(|| anyhow!("plugin path not UTF-8"))?;
    node.exec(
        &[
            "env",
            &config,
            plugin,
            "approve",
            &format!("crr/{name}"),
            "-n",
            UNIT,
            "--comment",
            "ok",
        ],
        None,
    )
    .map(drop)
}

/// Waits until request `name` is Active; the request.
pub(super) async fn active(node: &Node, name: &str) -> Result<Value> {
    let result = wait_for(ACTIVE_TIMEOUT, format!("request {name} Active"), || async {
        let crr = node.get(&["crr", "-n", UNIT, name])?;
        Ok((crr["status"]["phase"] == "Active").then_some(crr))
    })
    .await;
    result.map_err(|e| anyhow!("{e:#}\n{}", diagnostics(node)))
}

/// Tenant namespaces the operator manages: name → the owner UID annotation.
pub(super) fn tenants(node: &Node) -> Result<BTreeMap<String, String>> {
    let list = node.get(&["namespaces", "-l", "govcloud.io/managed=true"])?;
    Ok(list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|ns| {
            (
                ns["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                ns["metadata"]["annotations"]["govcloud.io/owner-uid"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect())
}

/// scripts/helm.py COMMAND on the node as the cluster admin, with `values`; its summary.
pub(super) fn helm(node: &Node, command: &str, values: Option<&Value>) -> Result<Value> {
    let python = support::helm::python()?;
    let script = repo_root().join("scripts/helm.py");
    let chart = support::helm::chart_dir();
    let kubeconfig = node.kubeconfig(As::Admin);
    let values_file = tempfile::NamedTempFile::new()?;
    let mut args: Vec<String> = vec![
        python.display().to_string(),
        script.display().to_string(),
        command.to_owned(),
    ];
    if let Some(values) = values {
        std::fs::write(values_file.path(), serde_json::to_string(values)?)?;
        args.push(chart.display().to_string());
        args.extend(["-f".into(), values_file.path().display().to_string()]);
    }
    args.extend(
        [
            "--kubeconfig",
            &kubeconfig.display().to_string(),
            "-n",
            NS,
            "--name",
            RELEASE,
        ]
        .map(str::to_owned),
    );
    if command == "install" {
        args.push("--create-namespace".into());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Ok(serde_json::from_str(&node.exec(&args, None)?)?)
}
