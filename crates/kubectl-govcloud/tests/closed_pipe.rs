//! The plugin's output piped into a reader that stops early (`| head`) ends the plugin
//! quietly with success, not with a panic.

use std::io::Read;
use std::process::{Command, Stdio};

#[test]
fn a_reader_that_stops_early_ends_the_plugin_quietly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubectl-govcloud"))
        .args(["calendar", "show", "2026"])
        // No cluster: the embedded calendar only, and no connection attempted.
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the plugin starts");
    // The reader goes away before the plugin writes its first line.
    drop(child.stdout.take());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr is piped")
        .read_to_string(&mut stderr)
        .expect("stderr is readable");
    let status = child.wait().expect("the plugin ends");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(status.success(), "{status:?}: {stderr}");
}
