//! Every file in examples/ is accepted by a real API server with the CRDs installed:
//! Namespaces are applied for real, everything else with a server-side dry run (validated
//! against the CRD schemas and admitted, never stored — `calendars/local-override.yaml` must
//! not be applied as is). Each custom resource also parses as the operator's Rust type.

mod support;

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use govcloud_operator::api::{
    CloudResourceRequest, ExitRequest, GovCloudPolicy, ResourceChange, WorkCalendar,
};
use kube::api::PatchParams;
use serde_json::Value;
use support::{
    FIELD_MANAGER, apply_crds, apply_yaml, apply_yaml_with, control_plane, repo_root,
    yaml_documents,
};

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            yaml_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
    Ok(())
}

/// Each custom resource parses as the type the operator reads it with.
fn parses_as_its_type(doc: &Value) -> Result<()> {
    let kind = doc.get("kind").and_then(Value::as_str).unwrap_or_default();
    let v = doc.clone();
    match kind {
        "CloudResourceRequest" => drop(serde_json::from_value::<CloudResourceRequest>(v)?),
        "ResourceChange" => drop(serde_json::from_value::<ResourceChange>(v)?),
        "ExitRequest" => drop(serde_json::from_value::<ExitRequest>(v)?),
        "GovCloudPolicy" => drop(serde_json::from_value::<GovCloudPolicy>(v)?),
        "WorkCalendar" => drop(serde_json::from_value::<WorkCalendar>(v)?),
        _ => {}
    }
    Ok(())
}

#[tokio::test]
async fn every_example_applies_cleanly() -> Result<()> {
    let cp = control_plane()?;
    let admin = cp.admin().await?;
    apply_crds(&admin).await?;
    let mut files = Vec::new();
    yaml_files(&repo_root().join("examples"), &mut files)?;
    files.sort();
    let mut namespaces = Vec::new();
    let mut rest = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file)?;
        let docs = yaml_documents(&text).with_context(|| format!("parsing {}", file.display()))?;
        assert!(!docs.is_empty(), "{}: no object", file.display());
        for doc in docs {
            parses_as_its_type(&doc).with_context(|| format!("{}", file.display()))?;
            let yaml = serde_yaml::to_string(&doc)?;
            if doc.get("kind").and_then(Value::as_str) == Some("Namespace") {
                namespaces.push((file.clone(), yaml));
            } else {
                rest.push((file.clone(), yaml));
            }
        }
    }
    for (file, yaml) in &namespaces {
        apply_yaml(&admin, yaml, None)
            .await
            .with_context(|| format!("applying {}", file.display()))?;
    }
    let dry_run = PatchParams::apply(FIELD_MANAGER).dry_run();
    for (file, yaml) in &rest {
        let applied = apply_yaml_with(&admin, yaml, None, &dry_run)
            .await
            .with_context(|| format!("{} (server-side dry run)", file.display()))?;
        assert_eq!(applied.len(), 1);
    }
    let kinds: Vec<String> = rest
        .iter()
        .filter_map(|(_, y)| {
            serde_yaml::from_str::<Value>(y)
                .ok()?
                .get("kind")?
                .as_str()
                .map(str::to_string)
        })
        .collect();
    for kind in [
        "GovCloudPolicy",
        "WorkCalendar",
        "CloudResourceRequest",
        "ResourceChange",
        "ExitRequest",
    ] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "no {kind} among the examples"
        );
    }
    // Nothing but the namespaces was stored.
    let policies = kube::Api::<GovCloudPolicy>::all(admin.clone());
    assert!(
        policies.get_opt("shanghai").await?.is_none(),
        "a dry run stored a policy"
    );
    Ok(())
}

/// The dry run is a real check: a schema violation is refused.
#[tokio::test]
async fn an_invalid_example_would_be_refused() -> Result<()> {
    let cp = control_plane()?;
    let admin = cp.admin().await?;
    apply_crds(&admin).await?;
    let bad = r#"
apiVersion: govcloud.io/v1alpha1
kind: GovCloudPolicy
metadata: {name: broken}
spec: {jurisdiction: 测试市, review: {acceptWithin: 5}}
"#;
    let dry_run = PatchParams::apply(FIELD_MANAGER).dry_run();
    let err = apply_yaml_with(&admin, bad, None, &dry_run)
        .await
        .expect_err("an invalid policy is refused");
    assert_eq!(support::api_error_code(&err), Some(422), "{err:#}");
    Ok(())
}
