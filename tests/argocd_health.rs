//! The Argo CD health checks in deploy/argocd/: each kind's `health_test.yaml` (Argo CD's
//! own test format) run in Lua 5.1 as Argo CD runs it, testdata that is the operator's real
//! status shape, and the argocd-cm snippet kept identical to the scripts.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow};
use govcloud_operator::api::{CloudResourceRequestStatus, ExitRequestStatus, ResourceChangeStatus};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use support::argocd;
use support::repo_root;

const KINDS: [&str; 3] = ["CloudResourceRequest", "ResourceChange", "ExitRequest"];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HealthTests {
    tests: Vec<HealthTest>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HealthTest {
    health_status: Expected,
    input_path: String,
}

#[derive(Deserialize)]
struct Expected {
    status: String,
    message: String,
}

fn kind_dir(kind: &str) -> PathBuf {
    repo_root().join("deploy/argocd/govcloud.io").join(kind)
}

fn read_yaml(path: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_yaml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

fn cases(kind: &str) -> Result<Vec<(HealthTest, Value)>> {
    let dir = kind_dir(kind);
    let tests: HealthTests = serde_json::from_value(read_yaml(&dir.join("health_test.yaml"))?)?;
    tests
        .tests
        .into_iter()
        .map(|t| {
            let obj = read_yaml(&dir.join(&t.input_path))?;
            Ok((t, obj))
        })
        .collect()
}

#[test]
fn every_health_test_case_passes_in_lua_5_1() -> Result<()> {
    let mut failures = Vec::new();
    let mut count = 0;
    for kind in KINDS {
        let script = argocd::script(kind)?;
        for (case, obj) in cases(kind)? {
            count += 1;
            let (status, message) = argocd::run(&script, &obj)
                .with_context(|| format!("{kind} {}", case.input_path))?;
            if status != case.health_status.status || message != case.health_status.message {
                failures.push(format!(
                    "{kind} {}: got {status} {message:?}, expected {} {:?}",
                    case.input_path, case.health_status.status, case.health_status.message
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(count >= 30, "only {count} cases");
    Ok(())
}

/// Every phase of every kind, and every health status Argo CD knows but Missing/Unknown,
/// is exercised by some case.
#[test]
fn the_cases_cover_every_phase_and_verdict() -> Result<()> {
    let phases = |kind: &str| -> Vec<&'static str> {
        match kind {
            "CloudResourceRequest" => vec![
                "Submitted",
                "Approved",
                "Rejected",
                "Provisioning",
                "Active",
                "Suspended",
                "Reclaiming",
                "Reclaimed",
                "Invalid",
            ],
            "ResourceChange" => vec!["Submitted", "Approved", "Rejected", "Applied", "Invalid"],
            _ => vec![
                "Submitted",
                "Approved",
                "Rejected",
                "Transition",
                "Reclaiming",
                "Completed",
                "Invalid",
            ],
        }
    };
    let mut verdicts = BTreeSet::new();
    for kind in KINDS {
        let covered: BTreeSet<String> = cases(kind)?
            .iter()
            .filter_map(|(t, obj)| {
                verdicts.insert(t.health_status.status.clone());
                obj.pointer("/status/phase")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .collect();
        for phase in phases(kind) {
            assert!(covered.contains(phase), "{kind}: no case for phase {phase}");
        }
    }
    for v in ["Healthy", "Progressing", "Degraded", "Suspended"] {
        assert!(verdicts.contains(v), "no case yields {v}");
    }
    Ok(())
}

fn round_trips<S: DeserializeOwned + serde::Serialize>(status: &Value) -> Result<Value> {
    let typed: S = serde_json::from_value(status.clone())?;
    Ok(serde_json::to_value(typed)?)
}

/// The testdata is what the operator writes: each status parses as the API type and
/// serializes back unchanged, so a misspelled field (which the scripts would read as nil)
/// fails here.
#[test]
fn the_testdata_is_the_operators_status_shape() -> Result<()> {
    for kind in KINDS {
        for (case, obj) in cases(kind)? {
            let Some(status) = obj.get("status") else {
                continue;
            };
            let back = match kind {
                "CloudResourceRequest" => round_trips::<CloudResourceRequestStatus>(status),
                "ResourceChange" => round_trips::<ResourceChangeStatus>(status),
                _ => round_trips::<ExitRequestStatus>(status),
            }
            .with_context(|| format!("{kind} {}", case.input_path))?;
            assert_eq!(&back, status, "{kind} {}", case.input_path);
            assert_eq!(obj["kind"], json!(kind));
        }
    }
    Ok(())
}

#[test]
fn the_argocd_cm_snippet_carries_the_scripts_verbatim() -> Result<()> {
    let cm = read_yaml(&repo_root().join("deploy/argocd/argocd-cm.yaml"))?;
    assert_eq!(cm["kind"], json!("ConfigMap"));
    assert_eq!(cm["metadata"]["name"], json!("argocd-cm"));
    let data = cm["data"]
        .as_object()
        .ok_or_else(|| anyhow!("argocd-cm.yaml has no data"))?;
    let keys: BTreeSet<&str> = data.keys().map(String::as_str).collect();
    let expected: BTreeSet<String> = KINDS
        .iter()
        .map(|k| format!("resource.customizations.health.govcloud.io_{k}"))
        .collect();
    assert_eq!(
        keys,
        expected.iter().map(String::as_str).collect::<BTreeSet<_>>()
    );
    for kind in KINDS {
        let inline = data[&format!("resource.customizations.health.govcloud.io_{kind}")]
            .as_str()
            .unwrap_or_default();
        assert!(
            inline == argocd::script(kind)?,
            "argocd-cm.yaml's script for {kind} differs from \
             deploy/argocd/govcloud.io/{kind}/health.lua: copy it over (indented 4 spaces)"
        );
    }
    Ok(())
}

/// A script error is an error, not a verdict: the harness can fail.
#[test]
fn a_broken_script_or_object_is_reported() {
    assert!(
        argocd::run(
            "return {status = 'Healthy', message = nil .. 'x'}",
            &json!({})
        )
        .is_err()
    );
    assert!(argocd::run("return 1", &json!({})).is_err());
    // io and os are not there, as in Argo CD's sandbox.
    assert!(
        argocd::run(
            "io.write('x') return {status='Healthy', message=''}",
            &json!({})
        )
        .is_err()
    );
    let (status, _) = argocd::health(
        &json!({"kind": "ExitRequest", "metadata": {"name": "x"}, "status": {"phase": "Bogus"}}),
    )
    .expect("runs");
    assert_eq!(status, "Unknown");
}
