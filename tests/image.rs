//! The operator's container image, as `scripts/image` builds it: the OCI archive is
//! unpacked and its index, manifest, config and layers are read, with no runtime and no
//! registry involved. (tests/node.rs runs the same image on a real node.)
//!
//! Needs buildah (scripts/image installs Debian's when missing) and the operator binary
//! of the dev profile (scripts/test builds it and runs `scripts/image --debug` first; see
//! support::image).

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result, anyhow, bail, ensure};
use serde_json::Value;
use support::image::build_image;

/// An unpacked OCI archive.
struct Unpacked {
    dir: tempfile::TempDir,
}

impl Unpacked {
    fn new(archive: &Path) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        run(Command::new("tar")
            .arg("-xf")
            .arg(archive)
            .arg("-C")
            .arg(dir.path()))?;
        Ok(Self { dir })
    }

    fn blob_path(&self, digest: &str) -> Result<PathBuf> {
        let hex = digest
            .strip_prefix("sha256:")
            .ok_or_else(|| anyhow!("digest {digest} is not sha256"))?;
        Ok(self.dir.path().join("blobs/sha256").join(hex))
    }

    fn json(&self, path: &Path) -> Result<Value> {
        let text = std::fs::read(path).with_context(|| format!("reading {path:?}"))?;
        Ok(serde_json::from_slice(&text)?)
    }

    fn blob(&self, descriptor: &Value) -> Result<Value> {
        let digest = descriptor["digest"]
            .as_str()
            .ok_or_else(|| anyhow!("descriptor without digest: {descriptor}"))?;
        self.json(&self.blob_path(digest)?)
    }
}

fn run(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8(out.stdout)?)
}

#[test]
fn the_image_runs_the_operator_as_a_non_root_user_with_nothing_else_in_it() -> Result<()> {
    let archive = build_image()?;
    let image = Unpacked::new(&archive)?;
    let index = image.json(&image.dir.path().join("index.json"))?;
    let manifests = index["manifests"]
        .as_array()
        .ok_or_else(|| anyhow!("index.json has no manifests: {index}"))?;
    ensure!(manifests.len() == 1, "one image expected: {index}");
    let manifest = image.blob(&manifests[0])?;
    let config = image.blob(&manifest["config"])?;

    // the OCI annotations a registry and a platform team read
    let annotations = &manifest["annotations"];
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        annotations["org.opencontainers.image.version"], version,
        "{annotations}"
    );
    let revision = annotations["org.opencontainers.image.revision"]
        .as_str()
        .unwrap_or_default();
    let head = run(Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(support::repo_root()))?;
    assert!(
        revision.starts_with(head.trim()),
        "revision {revision:?} is not HEAD {head:?}"
    );
    let source = annotations["org.opencontainers.image.source"]
        .as_str()
        .unwrap_or_default();
    assert!(!source.is_empty(), "no source annotation: {annotations}");

    // runs the operator, as a numeric non-root user the image's /etc/passwd names
    let cfg = &config["config"];
    assert_eq!(
        cfg["Entrypoint"],
        serde_json::json!(["/usr/local/bin/govcloud-operator"]),
        "{cfg}"
    );
    assert_eq!(cfg["Cmd"], serde_json::json!(["run"]), "{cfg}");
    let user = cfg["User"].as_str().unwrap_or_default();
    let uid: u32 = user
        .split(':')
        .next()
        .unwrap_or_default()
        .parse()
        .with_context(|| format!("user {user:?} is not numeric"))?;
    assert_ne!(uid, 0, "the image runs as root");

    // the files: the binary, its libraries and loader, passwd/group; no shell
    let mut files = BTreeSet::new();
    let layers = manifest["layers"]
        .as_array()
        .ok_or_else(|| anyhow!("no layers: {manifest}"))?;
    let extracted = tempfile::tempdir()?;
    for layer in layers {
        let digest = layer["digest"].as_str().unwrap_or_default();
        let path = image.blob_path(digest)?;
        for name in run(Command::new("tar").arg("-tf").arg(&path))?.lines() {
            files.insert(name.trim_start_matches("./").to_owned());
        }
        run(Command::new("tar")
            .arg("-xf")
            .arg(&path)
            .arg("-C")
            .arg(extracted.path()))?;
    }
    assert!(
        files.contains("usr/local/bin/govcloud-operator"),
        "no operator binary: {files:?}"
    );
    for shell in ["bin/sh", "bin/bash", "usr/bin/sh", "bin/busybox"] {
        assert!(!files.contains(shell), "the image has {shell}: {files:?}");
    }
    assert!(
        files.iter().any(|f| f.contains("ld-linux")),
        "no dynamic loader: {files:?}"
    );
    let passwd = std::fs::read_to_string(extracted.path().join("etc/passwd"))?;
    assert!(
        passwd
            .lines()
            .any(|l| l.split(':').nth(2) == Some(&uid.to_string())),
        "/etc/passwd has no entry for {uid}: {passwd}"
    );
    assert!(
        !passwd.lines().any(|l| l.split(':').nth(2) == Some("0")),
        "/etc/passwd names root: {passwd}"
    );

    // and the binary runs from what the image holds alone: its own loader and libraries
    let root = extracted.path();
    let loader = files
        .iter()
        .find(|f| f.contains("ld-linux") && !f.ends_with('/'))
        .ok_or_else(|| anyhow!("no loader"))?;
    let lib_dirs: BTreeSet<String> = files
        .iter()
        .filter(|f| f.contains(".so"))
        .filter_map(|f| Path::new(f).parent())
        .map(|d| root.join(d).display().to_string())
        .collect();
    let help = run(Command::new(root.join(loader))
        .arg("--inhibit-cache")
        .arg("--library-path")
        .arg(lib_dirs.into_iter().collect::<Vec<_>>().join(":"))
        .arg(root.join("usr/local/bin/govcloud-operator"))
        .arg("--help"))?;
    assert!(help.contains("run"), "--help: {help}");
    Ok(())
}
