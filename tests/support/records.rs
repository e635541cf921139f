//! Reading the operation record (GovCloudRecords) in tests: the records of a namespace
//! or of one subject's chain, their steps, the plugin binary, approvals of changes and
//! exits, and a namespace with a policy whose review and change periods do not pass.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use govcloud_operator::api::GovCloudRecord;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, Client};

use super::govcloud::fast_policy;
use super::{ControlPlane, Identity, create_namespace, unique_ns};

pub async fn records(client: &Client, ns: &str) -> Result<Vec<GovCloudRecord>> {
    Ok(Api::<GovCloudRecord>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await?
        .items)
}

/// The records of the subject with `uid`, by sequence (checkpoints left out).
pub async fn chain_of(client: &Client, ns: &str, uid: &str) -> Result<Vec<GovCloudRecord>> {
    let mut out: Vec<_> = records(client, ns)
        .await?
        .into_iter()
        .filter(|r| r.spec.subject.uid == uid && r.spec.checkpoint.is_none())
        .collect();
    out.sort_by_key(|r| r.spec.sequence);
    Ok(out)
}

pub fn steps(chain: &[GovCloudRecord]) -> Vec<String> {
    chain.iter().map(|r| r.spec.step.clone()).collect()
}

/// Whether `wanted` appears in `all` in this order (other steps may come between).
pub fn in_order(all: &[String], wanted: &[&str]) -> bool {
    let mut it = all.iter();
    wanted.iter().all(|w| it.any(|s| s == w))
}

pub fn contiguous(chain: &[GovCloudRecord]) -> bool {
    chain
        .iter()
        .enumerate()
        .all(|(i, r)| r.spec.sequence == i as u64 + 1)
}

/// The plugin binary, built beside this test's `deps/` (`cargo build -p kubectl-govcloud`).
pub fn plugin_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    dir.join(format!("kubectl-govcloud{}", std::env::consts::EXE_SUFFIX))
}

/// `kubectl-govcloud ARGS` as `identity`: (exit code, stdout, stderr).
pub async fn plugin(
    cp: &ControlPlane,
    identity: Identity,
    args: &[&str],
) -> Result<(i32, String, String)> {
    let binary = plugin_binary();
    if !binary.is_file() {
        bail!(
            "{} is missing: `cargo build -p kubectl-govcloud`",
            binary.display()
        );
    }
    let mut cmd = tokio::process::Command::new(binary);
    cmd.args(args)
        .arg("--kubeconfig")
        .arg(cp.kubeconfig(identity))
        .env_remove("KUBECONFIG")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .context("the plugin did not finish")??;
    Ok((
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

pub async fn approve<K>(cp: &ControlPlane, ns: &str, name: &str) -> Result<()>
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(cp.approver().await?, ns);
    let patch = serde_json::json!({"status": {"approval": {"decision": "Approved", "reviewer": "alice", "comment": "reviewed"}}});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(patch))
        .await?;
    Ok(())
}

pub async fn namespace_with_policy(
    cp: &ControlPlane,
    prefix: &str,
    tweak: impl FnOnce(&mut serde_json::Value),
) -> Result<String> {
    let admin = cp.admin().await?;
    let ns = unique_ns(prefix);
    create_namespace(&admin, &ns).await?;
    fast_policy(&admin, &ns, |p| {
        p["review"] = serde_json::json!({"acceptWithin": "600s", "decideWithin": "600s"});
        p["changes"] = serde_json::json!({"reviewWithin": "600s", "applyWithin": "600s", "autoApproveScaleDown": true});
        p["exit"] = serde_json::json!({"reviewWithin": "600s", "transition": "0s", "submitWithin": "1mo"});
        tweak(p)
    })
    .await?;
    Ok(ns)
}
