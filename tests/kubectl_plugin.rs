//! `kubectl govcloud` against a real control plane: the plugin binary run directly with
//! each identity's kubeconfig, and through kubectl's own plugin mechanism (kubectl finds
//! `kubectl-govcloud` on the PATH).

#[path = "kubectl_plugin/calendar.rs"]
mod calendar;
mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use govcloud_operator::api::{
    ChangePhase, CloudResourceRequest, RequestClass, RequestPhase, ResourceAmounts, ResourceChange,
    ResourceChangeSpec, WorkCalendar,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::Api;
use kube::api::PostParams;
use kubectl_govcloud::FORBIDDEN_DECIDE;
use kubectl_govcloud::format::{DEFAULT_ZONE, local_time};
use support::govcloud::*;
use support::{ControlPlane, Identity, create_namespace, unique_ns, wait_for};

const T: Duration = Duration::from_secs(60);
/// Longest any one plugin run may take.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);
/// The plugin's binary. It belongs to another workspace crate, so Cargo gives this test no
/// `CARGO_BIN_EXE_` path for it: it sits beside this test's own `deps/` directory, built by
/// `cargo test --workspace` (scripts/test) or `cargo build -p kubectl-govcloud`.
fn plugin_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let path = profile_dir.join(format!("kubectl-govcloud{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "{} is missing: build it with `cargo build -p kubectl-govcloud` (scripts/test does)",
        path.display()
    );
    path
}

/// What a run printed, and how it ended.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(self) -> Result<Run> {
        if self.code != 0 {
            bail!("exit {}: {}{}", self.code, self.stdout, self.stderr);
        }
        Ok(self)
    }
}

async fn finish(mut cmd: std::process::Command) -> Result<Run> {
    cmd.stdin(Stdio::null());
    let mut cmd = tokio::process::Command::from(cmd);
    cmd.kill_on_drop(true);
    let out = tokio::time::timeout(RUN_TIMEOUT, cmd.output())
        .await
        .context("the plugin did not finish in time")??;
    Ok(Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// The plugin binary run directly as `identity` (`--kubeconfig`).
async fn plugin(cp: &ControlPlane, identity: Identity, args: &[&str]) -> Result<Run> {
    let mut cmd = std::process::Command::new(plugin_binary());
    cmd.args(args)
        .arg("--kubeconfig")
        .arg(cp.kubeconfig(identity))
        .env_remove("KUBECONFIG");
    finish(cmd).await
}

/// `kubectl govcloud ARGS` as `identity`: kubectl finds the plugin on the PATH.
///
/// kubectl 1.20 refuses flags before a plugin's name ("flags cannot be placed before
/// plugin name: --kubeconfig"), so `ControlPlane::kubectl_as` (which puts
/// `--kubeconfig` first) cannot start a plugin; the identity goes in `KUBECONFIG`
/// instead, which the plugin honours like kubectl.
async fn kubectl_plugin(cp: &ControlPlane, identity: Identity, args: &[&str]) -> Result<Run> {
    let binary = plugin_binary();
    let dir = binary.parent().context("the plugin's directory")?;
    let mut path = vec![dir.to_path_buf()];
    path.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    let mut cmd = std::process::Command::new(cp.kubectl());
    cmd.arg("govcloud")
        .args(args)
        .env("PATH", std::env::join_paths(path)?)
        .env("KUBECONFIG", cp.kubeconfig(identity));
    finish(cmd).await
}

/// A namespace with a policy whose review and change periods are long enough not to pass
/// during the test (600 s), and whose other periods are seconds.
async fn namespace_with_policy(cp: &ControlPlane, prefix: &str) -> Result<String> {
    let admin = cp.admin().await?;
    let ns = unique_ns(prefix);
    create_namespace(&admin, &ns).await?;
    fast_policy(&admin, &ns, |p| {
        p["review"] = serde_json::json!({"acceptWithin": "300s", "decideWithin": "300s"});
        p["changes"] = serde_json::json!({"reviewWithin": "600s", "applyWithin": "600s",
            "autoApproveScaleDown": true,
            "justificationAbove": {"monthlyCost": "100000", "ratio": "30%"},
            "escalateAboveProjectQuota": "120%"});
    })
    .await?;
    Ok(ns)
}

#[tokio::test]
async fn a_request_is_listed_approved_described_and_reported() -> Result<()> {
    let cp = installed_admitting().await?;
    let admin = cp.admin().await?;
    let ns = namespace_with_policy(cp, "plugin-crr").await?;
    file(
        &cp.vendor().await?,
        &ns,
        "tax-portal",
        request_spec(&ns, RequestClass::Production, "8"),
    )
    .await?;
    let r = wait_phase(&admin, &ns, "tax-portal", RequestPhase::Submitted, T).await?;
    let review_by = r
        .status
        .as_ref()
        .and_then(|s| s.deadlines.as_ref())
        .and_then(|d| d.review_by)
        .context("reviewBy")?;
    let shown = local_time(review_by, DEFAULT_ZONE);

    // pending, run directly and through kubectl.
    let direct = plugin(cp, Identity::Approver, &["pending", "-n", &ns])
        .await?
        .ok()?;
    let via_kubectl = kubectl_plugin(cp, Identity::Approver, &["pending", "-n", &ns])
        .await?
        .ok()?;
    for out in [&direct.stdout, &via_kubectl.stdout] {
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        for col in ["KIND", "NAMESPACE", "NAME", "UNIT", "REVIEW BY", "STATUS"] {
            assert!(lines[0].contains(col), "{col}: {out}");
        }
        let row = lines[1];
        assert!(row.starts_with("crr "), "{row}");
        for cell in [ns.as_str(), "tax-portal", "市财政局", shown.as_str(), "in "] {
            assert!(row.contains(cell), "{cell} missing: {row}");
        }
        assert!(!row.contains("OVERDUE"), "{row}");
    }
    let everywhere = plugin(cp, Identity::Approver, &["pending", "-A", "-o", "json"])
        .await?
        .ok()?;
    let items: serde_json::Value = serde_json::from_str(&everywhere.stdout)?;
    assert!(
        items.as_array().is_some_and(|a| a
            .iter()
            .any(|i| i["namespace"] == ns.as_str() && i["name"] == "tax-portal")),
        "{items}"
    );

    // A vendor may not decide: a clear message and a non-zero exit.
    let refused = plugin(
        cp,
        Identity::Vendor,
        &["approve", "crr/tax-portal", "-n", &ns],
    )
    .await?;
    assert_ne!(refused.code, 0, "{refused:?}");
    assert!(refused.stderr.contains(FORBIDDEN_DECIDE), "{refused:?}");

    // The approver decides; the operator provisions.
    let approved = plugin(
        cp,
        Identity::Approver,
        &[
            "approve",
            "tax-portal",
            "-n",
            &ns,
            "--comment",
            "sized per the plan",
        ],
    )
    .await?
    .ok()?;
    assert!(
        approved.stdout.contains("tax-portal approved by approver"),
        "{approved:?}"
    );
    let r = wait_phase(&admin, &ns, "tax-portal", RequestPhase::Active, T).await?;
    let approval = r
        .status
        .as_ref()
        .and_then(|s| s.approval.clone())
        .context("approval")?;
    assert_eq!(approval.reviewer.as_deref(), Some("approver"));
    assert_eq!(approval.comment.as_deref(), Some("sized per the plan"));
    assert_eq!(approval.generation, r.metadata.generation);
    assert!(approval.decided_at.is_some());

    let described = plugin(
        cp,
        Identity::Vendor,
        &["describe", "crr/tax-portal", "-n", &ns],
    )
    .await?
    .ok()?;
    let text = &described.stdout;
    let timeline: Vec<&str> = text
        .lines()
        .skip_while(|l| *l != "Timeline:")
        .take_while(|l| !l.is_empty())
        .collect();
    for (i, what) in [
        "Submitted",
        "Approved by approver (generation 1): \"sized per the plan\"",
        "Active: provisioned",
    ]
    .into_iter()
    .enumerate()
    {
        assert!(
            timeline.get(i + 1).is_some_and(|l| l.contains(what)),
            "{what} at line {i}: {text}"
        );
    }
    assert!(text.contains("Phase:     Active"), "{text}");
    assert!(text.contains("\n  Ready ("), "{text}");

    let reported = plugin(cp, Identity::Approver, &["report", "-n", &ns])
        .await?
        .ok()?;
    let row = reported
        .stdout
        .lines()
        .find(|l| l.starts_with("市财政局"))
        .with_context(|| format!("no row for the unit: {}", reported.stdout))?;
    assert!(
        row.contains("Active=1") && row.contains("600.00 CNY"),
        "{row}"
    );
    let json = plugin(cp, Identity::Approver, &["report", "-n", &ns, "-o", "json"])
        .await?
        .ok()?;
    let units: serde_json::Value = serde_json::from_str(&json.stdout)?;
    assert_eq!(units[0]["unit"], "市财政局");
    assert_eq!(units[0]["monthlyCost"], "600.00");
    assert_eq!(units[0]["granted"]["cpu"], "8");

    let nothing = plugin(cp, Identity::Approver, &["pending", "-n", &ns])
        .await?
        .ok()?;
    assert!(nothing.stdout.is_empty(), "{nothing:?}");
    assert!(
        nothing.stderr.contains("Nothing awaits review"),
        "{nothing:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_resource_change_is_rejected_with_reasons() -> Result<()> {
    let cp = installed_admitting().await?;
    let admin = cp.admin().await?;
    let ns = namespace_with_policy(cp, "plugin-rchg").await?;
    file(
        &admin,
        &ns,
        "portal",
        request_spec(&ns, RequestClass::Production, "8"),
    )
    .await?;
    decide(cp, &ns, "portal", "Approved", "ok").await?;
    wait_phase(&admin, &ns, "portal", RequestPhase::Active, T).await?;
    let change = ResourceChange::new(
        "more-cpu",
        ResourceChangeSpec {
            request: "portal".into(),
            resources: Some(ResourceAmounts {
                cpu: Some(IntOrString::String("9".into())),
                ..Default::default()
            }),
            extend_to: None,
            convert_to: None,
            reason: Some("tax season".into()),
            justification: None,
            recurring: false,
            access_groups: None,
            zone: None,
        },
    );
    let changes: Api<ResourceChange> = Api::namespaced(cp.vendor().await?, &ns);
    changes.create(&PostParams::default(), &change).await?;
    let submitted = |phase: ChangePhase| {
        let changes = changes.clone();
        async move {
            wait_for(T, format!("more-cpu {phase:?}"), || async {
                let c = changes.get("more-cpu").await?;
                Ok((c.status.as_ref().and_then(|s| s.phase) == Some(phase)).then_some(c))
            })
            .await
        }
    };
    submitted(ChangePhase::Submitted).await?;

    let listed = plugin(cp, Identity::Approver, &["pending", "-n", &ns])
        .await?
        .ok()?;
    let row = listed
        .stdout
        .lines()
        .find(|l| l.starts_with("rchg "))
        .with_context(|| listed.stdout.clone())?;
    assert!(row.contains("more-cpu") && row.contains("portal"), "{row}");

    // A refusal states its reasons.
    let bare = plugin(
        cp,
        Identity::Approver,
        &["reject", "rchg/more-cpu", "-n", &ns],
    )
    .await?;
    assert_eq!(bare.code, 2, "{bare:?}");
    assert!(bare.stderr.contains("--comment"), "{bare:?}");
    let blank = plugin(
        cp,
        Identity::Approver,
        &["reject", "rchg/more-cpu", "-n", &ns, "--comment", " "],
    )
    .await?;
    assert_eq!(blank.code, 2, "{blank:?}");

    plugin(
        cp,
        Identity::Approver,
        &[
            "reject",
            "resourcechange/more-cpu",
            "-n",
            &ns,
            "--comment",
            "no budget this year",
        ],
    )
    .await?
    .ok()?;
    let rejected = submitted(ChangePhase::Rejected).await?;
    let approval = rejected
        .status
        .and_then(|s| s.approval)
        .context("approval")?;
    assert_eq!(approval.comment.as_deref(), Some("no budget this year"));
    assert_eq!(approval.reviewer.as_deref(), Some("approver"));
    assert_eq!(approval.generation, Some(1));

    let described = plugin(
        cp,
        Identity::Vendor,
        &["describe", "rchg", "more-cpu", "-n", &ns],
    )
    .await?
    .ok()?;
    assert!(
        described
            .stdout
            .contains("Rejected by approver (generation 1): \"no budget this year\""),
        "{}",
        described.stdout
    );
    // The request's grant did not move.
    let r = Api::<CloudResourceRequest>::namespaced(admin, &ns)
        .get("portal")
        .await?;
    assert_eq!(
        r.status.and_then(|s| s.grant).and_then(|g| g.cpu),
        Some(IntOrString::String("8".into()))
    );
    Ok(())
}
