//! Support for integration tests against a real control plane (tier 2 in STYLE.md).
//!
//! One control plane per test process: the first call to [`control_plane`] boots etcd,
//! kube-apiserver and kube-controller-manager with `scripts/control-plane.sh up <tempdir>
//! --watch-pid <this process>`, so the processes are torn down (and the directory removed)
//! when the test binary exits, however it exits. Every `#[tokio::test]` has its own
//! runtime, so only paths, the server URL and the directory are kept in a static; clients
//! are built fresh for each call ([`ControlPlane::admin`] and friends).
//!
//! Environment:
//! - `GOVCLOUD_TEST_CONTROL_PLANE=DIR` reuses a control plane already running in DIR
//!   (started with `scripts/control-plane.sh up DIR` or `run DIR`) instead of booting one.
//! - `GOVCLOUD_TEST_KEEP_CONTROL_PLANE=1` keeps the booted directory (logs, etcd data)
//!   after the processes are stopped; its path is printed on stderr.
//!
//! Tests wait on conditions with [`wait_for`] / [`wait_until`], never on bare sleeps; a
//! claim that something does NOT happen watches the whole window ([`window`]). Each test
//! works in namespaces of its own ([`unique_ns`]).
#![allow(dead_code)] // every test binary uses a different subset

pub mod alerting;
mod apply;
pub mod argocd;
pub mod govcloud;
pub mod helm;
pub mod image;
pub mod node;
pub mod operator;
pub mod prometheus;
pub mod records;
mod waits;
pub mod window;

pub use apply::*;
pub use waits::*;

use std::{
    fmt::Display,
    future::Future,
    path::{Path, PathBuf},
    process::Command,
    sync::{
        OnceLock,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::{Context, Result, anyhow, bail};
use k8s_openapi::{
    api::{
        authorization::v1::{
            ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
        },
        core::v1::Namespace,
    },
    apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
};
use kube::{
    Client, Config,
    api::{
        Api, ApiResource, DynamicObject, GroupVersionKind, ObjectMeta, Patch, PatchParams,
        PostParams,
    },
    config::{KubeConfigOptions, Kubeconfig},
    discovery::{self, Scope},
};

/// Field manager for everything the tests apply.
pub const FIELD_MANAGER: &str = "govcloud-tests";
/// API group and version of the operator's custom resources.
pub const GROUP: &str = "govcloud.io";
pub const VERSION: &str = "v1alpha1";
/// Label put on every namespace the tests create.
pub const TEST_LABEL: &str = "govcloud.io/test";

/// How long booting may take before the tests give up (the script has its own per-component
/// timeout, `GOVCLOUD_CP_TIMEOUT`; this is the outer bound).
const BOOT_TIMEOUT: Duration = Duration::from_secs(600);

/// The three identities of the control plane's static token file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Identity {
    /// User `admin`, group `system:masters`: may do anything.
    Admin,
    /// User `approver`, group `govcloud:approvers`: only what the test binds.
    Approver,
    /// User `vendor`, group `govcloud:vendors`: only what the test binds.
    Vendor,
}

impl Identity {
    /// The user name (also the kubeconfig file stem).
    pub fn name(self) -> &'static str {
        match self {
            Identity::Admin => "admin",
            Identity::Approver => "approver",
            Identity::Vendor => "vendor",
        }
    }

    /// The group the identity belongs to.
    pub fn group(self) -> &'static str {
        match self {
            Identity::Admin => "system:masters",
            Identity::Approver => "govcloud:approvers",
            Identity::Vendor => "govcloud:vendors",
        }
    }
}

/// A running control plane: where it lives and how to reach it. Cheap to share; holds no
/// runtime-bound objects.
#[derive(Debug, Clone)]
pub struct ControlPlane {
    dir: PathBuf,
    server: String,
    kubectl: PathBuf,
    booted: bool,
}

static CONTROL_PLANE: OnceLock<std::result::Result<ControlPlane, String>> = OnceLock::new();

/// The control plane of this test process, booted on first use (blocks while booting,
/// about 10 s on two cores; concurrent callers wait for the same boot). A failed boot is
/// reported to every caller with the failing component's log tail.
pub fn control_plane() -> Result<&'static ControlPlane> {
    CONTROL_PLANE
        .get_or_init(|| ControlPlane::start().map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| anyhow!("control plane unavailable: {e}"))
}

/// The repository root (where `Cargo.toml`, `crds/`, `scripts/` are).
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

impl ControlPlane {
    fn start() -> Result<Self> {
        if let Some(dir) = std::env::var_os("GOVCLOUD_TEST_CONTROL_PLANE") {
            return Self::reuse(PathBuf::from(dir));
        }
        Self::boot()
    }

    fn reuse(dir: PathBuf) -> Result<Self> {
        let status = Command::new("bash")
            .arg(repo_root().join("scripts/control-plane.sh"))
            .arg("status")
            .arg(&dir)
            .status()
            .context("running scripts/control-plane.sh status")?;
        if !status.success() {
            bail!(
                "GOVCLOUD_TEST_CONTROL_PLANE={}: no running control plane there \
                 (start one with `scripts/control-plane.sh up {}`)",
                dir.display(),
                dir.display()
            );
        }
        Self::from_dir(dir, false)
    }

    fn boot() -> Result<Self> {
        let keep =
            std::env::var_os("GOVCLOUD_TEST_KEEP_CONTROL_PLANE").is_some_and(|v| !v.is_empty());
        let dir = tempfile::Builder::new()
            .prefix("govcloud-cp-")
            .tempdir()
            .context("creating a directory for the control plane")?
            .keep();
        let mut cmd = Command::new("bash");
        cmd.arg(repo_root().join("scripts/control-plane.sh"))
            .arg("up")
            .arg(&dir)
            .arg("--watch-pid")
            .arg(std::process::id().to_string());
        if !keep {
            cmd.arg("--remove-on-exit");
        }
        let started = Instant::now();
        let output =
            run_with_timeout(cmd, BOOT_TIMEOUT).context("running scripts/control-plane.sh up")?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() {
            bail!(
                "scripts/control-plane.sh up {} failed ({}):\n{stderr}",
                dir.display(),
                output.status
            );
        }
        eprintln!(
            "[support] control plane in {} ready after {:.1}s{}",
            dir.display(),
            started.elapsed().as_secs_f64(),
            if keep { " (kept after exit)" } else { "" }
        );
        Self::from_dir(dir, true)
    }

    fn from_dir(dir: PathBuf, booted: bool) -> Result<Self> {
        let admin = dir.join("admin.kubeconfig");
        let kubeconfig = Kubeconfig::read_from(&admin)
            .with_context(|| format!("reading {}", admin.display()))?;
        let server = kubeconfig
            .clusters
            .first()
            .and_then(|c| c.cluster.as_ref())
            .and_then(|c| c.server.clone())
            .ok_or_else(|| anyhow!("{} names no server", admin.display()))?;
        let kubectl = env_file_value(&dir.join("env"), "GOVCLOUD_CP_KUBECTL")?
            .map(PathBuf::from)
            .unwrap_or_else(default_kubectl);
        Ok(ControlPlane {
            dir,
            server,
            kubectl,
            booted,
        })
    }

    /// The control plane's directory (logs in `logs/`, `env`, kubeconfigs).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether this process booted it (false when reused via `GOVCLOUD_TEST_CONTROL_PLANE`).
    pub fn booted(&self) -> bool {
        self.booted
    }

    /// The apiserver URL, `https://127.0.0.1:PORT`.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The kubeconfig file of an identity (TLS verified against the apiserver's CA).
    pub fn kubeconfig(&self, identity: Identity) -> PathBuf {
        self.dir.join(format!("{}.kubeconfig", identity.name()))
    }

    /// The kubectl binary of the same version (1.20) as the control plane.
    pub fn kubectl(&self) -> &Path {
        &self.kubectl
    }

    /// `kubectl --kubeconfig <identity's kubeconfig> --cache-dir <DIR>/kubectl-cache`, ready
    /// for more arguments (the cache stays with this control plane, not in `~/.kube`). Use
    /// `tokio::process::Command::from(..)` to run it without blocking.
    pub fn kubectl_as(&self, identity: Identity) -> Command {
        let mut cmd = Command::new(&self.kubectl);
        cmd.arg("--kubeconfig")
            .arg(self.kubeconfig(identity))
            .arg("--cache-dir")
            .arg(self.dir.join("kubectl-cache"));
        cmd
    }

    /// A fresh client for an identity (bound to the calling runtime; do not keep it in a static).
    pub async fn client(&self, identity: Identity) -> Result<Client> {
        let path = self.kubeconfig(identity);
        let kubeconfig =
            Kubeconfig::read_from(&path).with_context(|| format!("reading {}", path.display()))?;
        let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .with_context(|| format!("loading {}", path.display()))?;
        Client::try_from(config)
            .with_context(|| format!("building a client from {}", path.display()))
    }

    /// A client for user `admin` (group `system:masters`).
    pub async fn admin(&self) -> Result<Client> {
        self.client(Identity::Admin).await
    }

    /// A client for user `approver` (group `govcloud:approvers`).
    pub async fn approver(&self) -> Result<Client> {
        self.client(Identity::Approver).await
    }

    /// A client for user `vendor` (group `govcloud:vendors`).
    pub async fn vendor(&self) -> Result<Client> {
        self.client(Identity::Vendor).await
    }
}

impl ControlPlane {
    /// Stops only the kube-apiserver (`scripts/control-plane.sh stop-apiserver DIR`, with
    /// `--kill` for a SIGKILL instead of a graceful stop); etcd and the controller manager
    /// keep running. Blocks the calling thread until it is gone.
    pub fn stop_apiserver(&self, kill: bool) -> Result<()> {
        let mut args = vec!["stop-apiserver"];
        if kill {
            args.push("--kill");
        }
        self.script(&args)
    }

    /// Starts the kube-apiserver again on the same port with the same certificates and
    /// tokens (`scripts/control-plane.sh start-apiserver DIR`); returns once `/readyz` is ok.
    pub fn start_apiserver(&self) -> Result<()> {
        self.script(&["start-apiserver"])
    }

    fn script(&self, args: &[&str]) -> Result<()> {
        let mut cmd = Command::new("bash");
        cmd.arg(repo_root().join("scripts/control-plane.sh"))
            .arg(args[0])
            .arg(&self.dir)
            .args(&args[1..]);
        let output = run_with_timeout(cmd, Duration::from_secs(180))
            .with_context(|| format!("running scripts/control-plane.sh {}", args[0]))?;
        if !output.status.success() {
            bail!(
                "scripts/control-plane.sh {} {} failed ({}):\n{}",
                args.join(" "),
                self.dir.display(),
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(())
    }
}

/// Run a command to completion with a deadline, killing it when the deadline passes.
fn run_with_timeout(mut cmd: Command, timeout: Duration) -> Result<std::process::Output> {
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    // drain the pipes on threads so a chatty child cannot block on a full pipe
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out = std::thread::spawn(move || {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut buf).map(|_| buf)
    });
    let err = std::thread::spawn(move || {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut stderr, &mut buf).map(|_| buf)
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("timed out after {}s", timeout.as_secs());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = out
        .join()
        .map_err(|_| anyhow!("stdout reader panicked"))??;
    let stderr = err
        .join()
        .map_err(|_| anyhow!("stderr reader panicked"))??;
    Ok(std::process::Output {
        status,
        stdout,
        stderr,
    })
}

fn default_kubectl() -> PathBuf {
    let cache = std::env::var_os("GOVCLOUD_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/govcloud-operator")
        });
    cache.join("bin/kubectl")
}

/// A value from the control plane's `env` file (`export KEY=VALUE`, VALUE quoted by
/// bash's `printf %q`, which for paths means backslash escapes at most).
fn env_file_value(path: &Path, key: &str) -> Result<Option<String>> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(None);
    };
    let prefix = format!("export {key}=");
    let Some(raw) = text.lines().find_map(|l| l.strip_prefix(&prefix)) else {
        return Ok(None);
    };
    if raw.starts_with("$'") {
        bail!("{}: cannot read the quoting of {key}={raw}", path.display());
    }
    let mut value = String::new();
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => value.extend(chars.next()),
            '\'' | '"' => {}
            c => value.push(c),
        }
    }
    Ok(Some(value))
}

// ------------------------------------------------------------------ waiting
