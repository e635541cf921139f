//! A real Helm engine for the chart tests: Helm v4's Go SDK from PyPI's helm-python-sdk
//! (Debian has no helm), installed by `scripts/install-helm.sh` into a venv under the
//! project's cache and driven through `scripts/helm.py` (`template`, `lint`, `install`).
//!
//! Environment: `GOVCLOUD_HELM_PYTHON` names the venv's python explicitly; otherwise
//! `$GOVCLOUD_CACHE/helm-venv/bin/python` (default cache `~/.cache/govcloud-operator`).

use std::path::{Path, PathBuf};
use std::process::Output;

use anyhow::{Context, Result, anyhow, bail};

use super::{repo_root, yaml_documents};

/// The chart's directory.
pub fn chart_dir() -> PathBuf {
    repo_root().join("charts/govcloud-operator")
}

/// The python of the Helm venv, or an error saying how to install it.
pub fn python() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("GOVCLOUD_HELM_PYTHON") {
        return Ok(PathBuf::from(p));
    }
    let cache = std::env::var_os("GOVCLOUD_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/govcloud-operator")
        });
    let py = cache.join("helm-venv/bin/python");
    if !py.exists() {
        bail!(
            "no Helm engine at {}: run scripts/install-helm.sh (scripts/test does)",
            py.display()
        );
    }
    Ok(py)
}

fn command(args: &[&str]) -> Result<std::process::Command> {
    let mut cmd = std::process::Command::new(python()?);
    cmd.arg(repo_root().join("scripts/helm.py"))
        .args(args)
        .current_dir(repo_root());
    Ok(cmd)
}

fn checked(output: Output, what: &str) -> Result<String> {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        bail!(
            "helm.py {what} failed ({}):\n{}{stdout}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(stdout)
}

/// Writes `values` as a values file (JSON is YAML) in `dir`.
fn values_file(dir: &Path, values: &serde_json::Value) -> Result<PathBuf> {
    let path = dir.join("values.json");
    std::fs::write(&path, serde_json::to_vec_pretty(values)?)?;
    Ok(path)
}

/// `helm template`: the rendered manifests of release `release` in `namespace` with
/// `values`, as JSON documents. An error carries Helm's message (schema, `fail`, syntax).
pub fn template(
    release: &str,
    namespace: &str,
    values: &serde_json::Value,
) -> Result<Vec<serde_json::Value>> {
    let dir = tempfile::tempdir()?;
    let values = values_file(dir.path(), values)?;
    let chart = chart_dir();
    let output = command(&[
        "template",
        &chart.to_string_lossy(),
        "--name",
        release,
        "--namespace",
        namespace,
        "-f",
        &values.to_string_lossy(),
    ])?
    .output()
    .context("running scripts/helm.py template")?;
    let text = checked(output, "template")?;
    yaml_documents(&text).context("parsing helm template's output")
}

/// `helm lint --strict` of the chart; the report on failure.
pub fn lint_strict() -> Result<String> {
    let chart = chart_dir();
    let output = command(&["lint", &chart.to_string_lossy(), "--strict"])?
        .output()
        .context("running scripts/helm.py lint")?;
    checked(output, "lint")
}

/// `helm install` of the chart through the SDK against `kubeconfig`, creating
/// `namespace`; returns the release summary.
pub async fn install(
    kubeconfig: &Path,
    release: &str,
    namespace: &str,
    values: &serde_json::Value,
) -> Result<serde_json::Value> {
    let dir = tempfile::tempdir()?;
    let values = values_file(dir.path(), values)?;
    let chart = chart_dir();
    let cmd = command(&[
        "install",
        &chart.to_string_lossy(),
        "--kubeconfig",
        &kubeconfig.to_string_lossy(),
        "--name",
        release,
        "--namespace",
        namespace,
        "--create-namespace",
        "--timeout",
        "120",
        "-f",
        &values.to_string_lossy(),
    ])?;
    let output = tokio::process::Command::from(cmd)
        .output()
        .await
        .context("running scripts/helm.py install")?;
    let text = checked(output, "install")?;
    serde_json::from_str(&text)
        .map_err(|e| anyhow!("helm.py install printed no JSON ({e}): {text}"))
}

/// The rendered objects of `kind` (and `name`, when given).
pub fn objects<'a>(
    docs: &'a [serde_json::Value],
    kind: &'a str,
) -> impl Iterator<Item = &'a serde_json::Value> + 'a {
    docs.iter()
        .filter(move |d| d.get("kind").and_then(|k| k.as_str()) == Some(kind))
}

/// The one rendered object of `kind` named `name`.
pub fn object<'a>(
    docs: &'a [serde_json::Value],
    kind: &str,
    name: &str,
) -> Result<&'a serde_json::Value> {
    docs.iter()
        .find(|d| {
            d.get("kind").and_then(|k| k.as_str()) == Some(kind)
                && d.pointer("/metadata/name").and_then(|n| n.as_str()) == Some(name)
        })
        .ok_or_else(|| anyhow!("no {kind} {name} in the rendered chart"))
}
