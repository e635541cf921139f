//! The operator's container image (scripts/image), for tests/image.rs and tests/node.rs.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context as _, Result, bail, ensure};

/// Packages the operator binary the tests run (the dev profile's, `scripts/image --debug`:
/// the one `cargo test` and scripts/test already built, so the suite never builds the
/// release profile) into the image, or finds it cached; returns the archive's path.
/// `--no-build`: a cargo run from inside a test rebuilds the crate (cargo sees the test's
/// environment as a change); build the binary (`cargo build --bins`, with the same
/// CARGO_TARGET_DIR) before running these tests alone.
pub fn build_image() -> Result<PathBuf> {
    let root = super::repo_root();
    let out = Command::new("bash")
        .arg(root.join("scripts/image"))
        .arg("--no-build")
        .arg("--debug")
        .current_dir(root)
        .output()
        .context("running scripts/image")?;
    if !out.status.success() {
        bail!(
            "scripts/image failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let path = String::from_utf8(out.stdout)?;
    let path = PathBuf::from(path.trim());
    ensure!(path.is_file(), "scripts/image printed {path:?}, not a file");
    Ok(path)
}
