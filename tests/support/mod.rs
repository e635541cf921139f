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
pub mod argocd;
pub mod govcloud;
pub mod helm;
pub mod operator;
pub mod prometheus;
pub mod records;
pub mod window;

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

/// Poll `check` until it yields `Some(value)`, backing off from 50 ms to 500 ms.
///
/// `Ok(None)` means "not yet"; an `Err` is remembered and retried too (an object that does
/// not exist yet is a 404), so on timeout the error names what was awaited and the last
/// error seen. Each attempt is itself bounded by the remaining time.
pub async fn wait_for<T, F, Fut>(timeout: Duration, what: impl Display, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let started = Instant::now();
    let mut delay = Duration::from_millis(50);
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let remaining = timeout
            .saturating_sub(started.elapsed())
            .max(Duration::from_secs(1));
        let last_error = match tokio::time::timeout(remaining, check()).await {
            Ok(Ok(Some(value))) => {
                // On stderr (shown with --nocapture) so the tolerances can be set from
                // the slowest waits actually seen (5× margin, see the constants).
                eprintln!(
                    "[wait_for] {:.1}s of {:.0}s: {what}",
                    started.elapsed().as_secs_f64(),
                    timeout.as_secs_f64()
                );
                return Ok(value);
            }
            Ok(Ok(None)) => None,
            Ok(Err(e)) => Some(e),
            Err(_) => Some(anyhow!("attempt did not finish within {remaining:?}")),
        };
        let elapsed = started.elapsed();
        if elapsed >= timeout {
            let detail = match last_error {
                Some(e) => format!("; last error: {e:#}"),
                None => String::new(),
            };
            bail!(
                "timed out after {:.1}s ({attempts} attempts) waiting for {what}{detail}",
                elapsed.as_secs_f64()
            );
        }
        tokio::time::sleep(delay.min(timeout - elapsed)).await;
        delay = (delay * 2).min(Duration::from_millis(500));
    }
}

/// [`wait_for`] for a yes/no condition.
pub async fn wait_until<F, Fut>(timeout: Duration, what: impl Display, mut check: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool>>,
{
    wait_for(timeout, what, || {
        let fut = check();
        async move { Ok(fut.await?.then_some(())) }
    })
    .await
}

// ------------------------------------------------------------------ namespaces

/// A namespace name unique to this call: `<prefix>-<random>-<counter>`, DNS-1123, at most
/// 63 characters (the prefix is lower-cased, cleaned and shortened as needed). Unique
/// across processes too, so it is safe on a reused control plane.
pub fn unique_ns(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    // mix pid and time so two processes starting in the same instant still differ
    let mut x = (nanos as u64) ^ (u64::from(std::process::id()) << 32) ^ 0x9e37_79b9_7f4a_7c15;
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    let suffix = format!("{}-{n}", base36(x % 36u64.pow(6)));
    let mut clean: String = prefix
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    clean = clean.trim_matches('-').to_string();
    if clean.is_empty() {
        clean = "test".to_string();
    }
    let max_prefix = 63 - suffix.len() - 1;
    clean.truncate(max_prefix);
    let clean = clean.trim_end_matches('-');
    format!("{clean}-{suffix}")
}

fn base36(mut x: u64) -> String {
    let digits = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(digits[(x % 36) as usize]);
        x /= 36;
        if x == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).expect("ascii")
}

/// Create a namespace (labelled `govcloud.io/test=true`).
pub async fn create_namespace(client: &Client, name: &str) -> Result<Namespace> {
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some([(TEST_LABEL.to_string(), "true".to_string())].into()),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .with_context(|| format!("creating namespace {name}"))
}

// ------------------------------------------------------------------ applying YAML

/// The `ApiResource` of one of the operator's kinds (`govcloud.io/v1alpha1`), without
/// depending on the Rust types: e.g. `govcloud_resource("CloudResourceRequest", "cloudresourcerequests")`.
pub fn govcloud_resource(kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(GROUP, VERSION, kind), plural)
}

/// `CloudResourceRequest` as a dynamic resource.
pub fn crr_resource() -> ApiResource {
    govcloud_resource("CloudResourceRequest", "cloudresourcerequests")
}

/// Server-side apply every CRD in the repository's `crds/*.yaml` (field manager
/// [`FIELD_MANAGER`]) and wait until each is `Established`. Returns the CRD names.
pub async fn apply_crds(client: &Client) -> Result<Vec<String>> {
    let dir = repo_root().join("crds");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!(
            "no CRDs in {} (generate them with `cargo run --bin crdgen`)",
            dir.display()
        );
    }
    let api = Api::<CustomResourceDefinition>::all(client.clone());
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let mut names = Vec::new();
    for file in &files {
        for doc in yaml_documents(&std::fs::read_to_string(file)?)
            .with_context(|| format!("parsing {}", file.display()))?
        {
            if doc.get("kind").and_then(|k| k.as_str()) != Some("CustomResourceDefinition") {
                bail!(
                    "{}: a document that is not a CustomResourceDefinition",
                    file.display()
                );
            }
            let name = doc
                .pointer("/metadata/name")
                .and_then(|n| n.as_str())
                .ok_or_else(|| anyhow!("{}: a CRD without metadata.name", file.display()))?
                .to_string();
            api.patch(&name, &params, &Patch::Apply(&doc))
                .await
                .map_err(|e| {
                    let hint = crd_rejection_hint(&e);
                    anyhow::Error::new(e)
                        .context(format!("applying CRD {name} from {}{hint}", file.display()))
                })?;
            names.push(name);
        }
    }
    for name in &names {
        wait_crd_established(client, name).await?;
    }
    Ok(names)
}

/// What kube-apiserver 1.20 means by its more puzzling CRD rejections.
fn crd_rejection_hint(err: &kube::Error) -> &'static str {
    let kube::Error::Api(status) = err else {
        return "";
    };
    if status
        .message
        .contains("per-version schemas may not all be set to identical values")
    {
        // seen with `enum: [A, B, null]`, which schemars writes for an Option<enum>
        "\n(hint: kube-apiserver 1.20 says this when a schema's `enum` lists null; \
         drop null from enums and keep `nullable: true`)"
    } else if status.message.contains(".default: Invalid value: \"null\"") {
        // seen with `default: ''`
        "\n(hint: kube-apiserver 1.20 reads an empty-string `default: ''` as null; \
         drop that default)"
    } else {
        ""
    }
}

/// Wait until a CRD has condition `Established=True`.
pub async fn wait_crd_established(client: &Client, name: &str) -> Result<()> {
    let api = &Api::<CustomResourceDefinition>::all(client.clone());
    wait_until(
        Duration::from_secs(60),
        format!("CRD {name} to be Established"),
        move || async move {
            let crd = api.get(name).await?;
            Ok(crd
                .status
                .and_then(|s| s.conditions)
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True"))
        },
    )
    .await
}

/// Server-side apply every document of a multi-document YAML file (any kind the server
/// knows, resolved by discovery). Namespaced objects without `metadata.namespace` are an
/// error; use [`apply_yaml`] with a default namespace for those.
pub async fn apply_yaml_file(
    client: &Client,
    path: impl AsRef<Path>,
) -> Result<Vec<DynamicObject>> {
    let path = path.as_ref();
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    apply_yaml(client, &text, None)
        .await
        .with_context(|| format!("applying {}", path.display()))
}

/// Server-side apply every document of multi-document YAML text; namespaced objects without
/// a namespace go to `default_namespace`. CRDs among them are waited for (`Established`),
/// and a kind that is not served yet (a CR right after its CRD) is retried for 30 s.
pub async fn apply_yaml(
    client: &Client,
    yaml: &str,
    default_namespace: Option<&str>,
) -> Result<Vec<DynamicObject>> {
    apply_yaml_with(
        client,
        yaml,
        default_namespace,
        &PatchParams::apply(FIELD_MANAGER).force(),
    )
    .await
}

/// [`apply_yaml`] with explicit patch parameters, e.g. a server-side dry run
/// (`PatchParams::apply(FIELD_MANAGER).dry_run()`): validated and admitted, not stored.
pub async fn apply_yaml_with(
    client: &Client,
    yaml: &str,
    default_namespace: Option<&str>,
    params: &PatchParams,
) -> Result<Vec<DynamicObject>> {
    let mut applied = Vec::new();
    for doc in yaml_documents(yaml)? {
        let obj: DynamicObject =
            serde_json::from_value(doc.clone()).context("a document is not a Kubernetes object")?;
        let types = obj
            .types
            .clone()
            .ok_or_else(|| anyhow!("a document without apiVersion/kind"))?;
        let (group, version) = match types.api_version.split_once('/') {
            Some((g, v)) => (g.to_string(), v.to_string()),
            None => (String::new(), types.api_version.clone()),
        };
        let gvk = GroupVersionKind::gvk(&group, &version, &types.kind);
        let name = obj
            .metadata
            .name
            .clone()
            .ok_or_else(|| anyhow!("a {} without metadata.name", types.kind))?;
        let gvk = &gvk;
        let (resource, caps) = wait_for(
            Duration::from_secs(30),
            format!("the server to serve {}/{}", types.api_version, types.kind),
            move || async move { Ok(Some(discovery::pinned_kind(client, gvk).await?)) },
        )
        .await?;
        let api: Api<DynamicObject> = match caps.scope {
            Scope::Cluster => Api::all_with(client.clone(), &resource),
            Scope::Namespaced => {
                let ns = obj
                    .metadata
                    .namespace
                    .as_deref()
                    .or(default_namespace)
                    .ok_or_else(|| {
                        anyhow!("{} {name} is namespaced but names no namespace", types.kind)
                    })?;
                Api::namespaced_with(client.clone(), ns, &resource)
            }
        };
        let result = api
            .patch(&name, params, &Patch::Apply(&doc))
            .await
            .with_context(|| format!("applying {} {name}", types.kind))?;
        if types.kind == "CustomResourceDefinition" && !params.dry_run {
            wait_crd_established(client, &name).await?;
        }
        applied.push(result);
    }
    Ok(applied)
}

/// The non-empty documents of multi-document YAML, as JSON values.
pub fn yaml_documents(yaml: &str) -> Result<Vec<serde_json::Value>> {
    use serde::Deserialize;
    let mut docs = Vec::new();
    for de in serde_yaml::Deserializer::from_str(yaml) {
        let value = serde_json::Value::deserialize(de)?;
        if !value.is_null() {
            docs.push(value);
        }
    }
    Ok(docs)
}

// ------------------------------------------------------------------ RBAC and errors

/// Ask the server whether the client's identity may do `verb` on `group`'s `resource`
/// (optionally a `subresource` such as `status`) in `namespace` (a SelfSubjectAccessReview).
pub async fn can_i(
    client: &Client,
    verb: &str,
    group: &str,
    resource: &str,
    subresource: Option<&str>,
    namespace: Option<&str>,
) -> Result<bool> {
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                verb: Some(verb.to_string()),
                group: Some(group.to_string()),
                resource: Some(resource.to_string()),
                subresource: subresource.map(str::to_string),
                namespace: namespace.map(str::to_string),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let answer = Api::<SelfSubjectAccessReview>::all(client.clone())
        .create(&PostParams::default(), &review)
        .await
        .context("creating a SelfSubjectAccessReview")?;
    Ok(answer.status.is_some_and(|s| s.allowed))
}

/// The HTTP status code of an API error (`kube::Error::Api`), if the error is one,
/// looking through `anyhow` context.
pub fn api_error_code(err: &anyhow::Error) -> Option<u16> {
    err.chain()
        .find_map(|e| match e.downcast_ref::<kube::Error>() {
            Some(kube::Error::Api(status)) => Some(status.code),
            _ => None,
        })
}
