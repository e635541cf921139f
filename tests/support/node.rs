//! A real one-node cluster for the tests that run pods (tests/node.rs, tests/node_helm.rs):
//! `scripts/node.sh` boots it inside a network namespace of its own, and everything the
//! tests do to it — kubectl, Helm, the plugin — runs inside that namespace through
//! `node.sh exec`, the only place its API server can be reached.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Result, bail};
use serde_json::Value;

/// Who runs a command on the node: the cluster admin, or one of the control plane's
/// people (scripts/control-plane.sh: `vendor` ∈ govcloud:vendors, `approver` ∈
/// govcloud:approvers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum As {
    Admin,
    Vendor,
    Approver,
}

/// A running node; stopped when dropped (also when the test panics).
pub struct Node {
    dir: tempfile::TempDir,
    script: PathBuf,
}

impl Node {
    /// Boots a node; one more attempt after a failed one (the first is stopped and its
    /// directory removed first). Set-up is not what these tests test: a start that failed
    /// once in a fresh cache's first use was not reproducible in the runs after it, and
    /// its reason is printed above (node.sh's own error and log tail).
    pub fn start() -> Result<Self> {
        Self::start_once().or_else(|first| {
            eprintln!("node start failed ({first:#}); trying once more");
            Self::start_once().map_err(|e| anyhow::anyhow!("{e:#} (first attempt: {first:#})"))
        })
    }

    fn start_once() -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("govcloud-node-")
            .tempdir()?;
        let node = Self {
            dir,
            script: super::repo_root().join("scripts/node.sh"),
        };
        // the guard exists before start: a half-started node is stopped too
        let status = Command::new("bash")
            .arg(&node.script)
            .arg("start")
            .arg(node.dir.path())
            .status()?;
        if !status.success() {
            bail!("scripts/node.sh start failed: {status}");
        }
        Ok(node)
    }

    /// The kubeconfig of `who` (valid inside the node's network namespace only).
    pub fn kubeconfig(&self, who: As) -> PathBuf {
        let name = match who {
            As::Admin => "admin",
            As::Vendor => "vendor",
            As::Approver => "approver",
        };
        self.dir.path().join(format!("cp/{name}.kubeconfig"))
    }

    /// CMD inside the node's network namespace, `KUBECONFIG` set to the admin's; its stdout.
    pub fn exec(&self, args: &[&str], stdin: Option<&str>) -> Result<String> {
        let mut child = Command::new("bash")
            .arg(&self.script)
            .arg("exec")
            .arg(self.dir.path())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        if let Some(mut input) = child.stdin.take() {
            input.write_all(stdin.unwrap_or_default().as_bytes())?;
        }
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!(
                "{args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8(out.stdout)?)
    }

    /// kubectl as the cluster admin.
    pub fn kubectl(&self, args: &[&str]) -> Result<String> {
        self.kubectl_as(As::Admin, args)
    }

    /// kubectl as `who`.
    pub fn kubectl_as(&self, who: As, args: &[&str]) -> Result<String> {
        let config = self.kubeconfig(who);
        let mut all = vec!["kubectl", "--kubeconfig", path_str(&config)?];
        all.extend_from_slice(args);
        self.exec(&all, None)
    }

    /// `kubectl get ARGS -o json` as the cluster admin, parsed.
    pub fn get(&self, args: &[&str]) -> Result<Value> {
        let mut all = vec!["get"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["-o", "json"]);
        Ok(serde_json::from_str(&self.kubectl(&all)?)?)
    }

    /// `kubectl apply -f -` of `yaml` as the cluster admin.
    pub fn apply(&self, yaml: &str) -> Result<()> {
        self.apply_as(As::Admin, yaml)
    }

    /// `kubectl apply -f -` of `yaml` as `who`.
    pub fn apply_as(&self, who: As, yaml: &str) -> Result<()> {
        let config = self.kubeconfig(who);
        self.exec(
            &[
                "kubectl",
                "--kubeconfig",
                path_str(&config)?,
                "apply",
                "-f",
                "-",
            ],
            Some(yaml),
        )
        .map(drop)
    }

    /// Loads an OCI archive into the node's containerd; the image's name.
    pub fn import(&self, archive: &Path) -> Result<String> {
        let out = Command::new("bash")
            .arg(&self.script)
            .arg("import")
            .arg(self.dir.path())
            .arg(archive)
            .output()?;
        if !out.status.success() {
            bail!("import failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8(out.stdout)?.trim().to_owned())
    }

    /// A second name for an imported image.
    pub fn tag(&self, image: &str, new_name: &str) -> Result<()> {
        let out = Command::new("bash")
            .arg(&self.script)
            .args(["tag"])
            .arg(self.dir.path())
            .args([image, new_name])
            .output()?;
        if !out.status.success() {
            bail!("tag failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let status = Command::new("bash")
            .arg(&self.script)
            .arg("stop")
            .arg(self.dir.path())
            .status();
        if !matches!(status, Ok(s) if s.success()) {
            eprintln!("scripts/node.sh stop failed: {status:?}");
        }
    }
}

/// Is the pod Ready (its Ready condition True)?
pub fn pod_ready(pod: &Value) -> bool {
    pod["status"]["conditions"].as_array().is_some_and(|c| {
        c.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

/// How often the pod's containers have restarted.
pub fn restarts(pod: &Value) -> u64 {
    pod["status"]["containerStatuses"]
        .as_array()
        .map(|s| s.iter().filter_map(|c| c["restartCount"].as_u64()).sum())
        .unwrap_or(0)
}

fn path_str(path: &Path) -> Result<&str> {
    path.to_str()
        .ok_or_else(|| anyhow::anyhow!("{} is not UTF-8", path.display()))
}
