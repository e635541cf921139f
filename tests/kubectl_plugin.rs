//! `kubectl govcloud` against a real control plane: the plugin binary run directly with
//! each identity's kubeconfig, and through kubectl's own plugin mechanism (kubectl finds
//! `kubectl-govcloud` on the PATH).

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

#[tokio::test]
async fn calendar_counts_on_the_statutory_calendar_and_the_clusters_work_calendars() -> Result<()> {
    let cp = installed_admitting().await?;
    let added = plugin(
        cp,
        Identity::Vendor,
        &["calendar", "add", "2026-09-30", "5"],
    )
    .await?
    .ok()?;
    assert!(
        added
            .stdout
            .contains("last working day: 2026-10-13 (Tue)\ndeadline: 2026-10-14 00:00 +08:00\n"),
        "{added:?}"
    );
    let between = plugin(
        cp,
        Identity::Vendor,
        &["calendar", "between", "2026-09-25", "2026-10-14"],
    )
    .await?
    .ok()?;
    assert!(
        between
            .stdout
            .starts_with("9 working days in (2026-09-25, 2026-10-14]"),
        "{between:?}"
    );

    // 2027 has no embedded data until a WorkCalendar brings it: until then it is counted
    // on its provisional calendar (2027-01-01, 元旦, is off by law).
    let gap = ["calendar", "between", "2026-12-31", "2027-01-04"];
    let before = plugin(cp, Identity::Approver, &gap).await?.ok()?;
    assert!(
        before.stdout.starts_with("1 working day in")
            && before.stdout.contains(
                "CalendarIncomplete: no State Council notice loaded for 2027; counted on the provisional calendar"
            ),
        "{before:?}"
    );
    let year: govcloud_operator::api::CalendarYear = serde_json::from_value(serde_json::json!({
        "year": 2027,
        "days": [{"date": "2027-01-01", "name": "元旦", "isOffDay": true}]
    }))?;
    let extra = unique_ns("cn-2027");
    let mut calendar = WorkCalendar::new(
        &extra,
        govcloud_operator::api::WorkCalendarSpec { years: vec![year] },
    );
    calendar.metadata.labels = Some([("govcloud.io/test".to_string(), "true".to_string())].into());
    Api::<WorkCalendar>::all(cp.admin().await?)
        .create(&PostParams::default(), &calendar)
        .await?;
    let after = plugin(cp, Identity::Approver, &gap).await?.ok()?;
    assert!(
        after.stdout.starts_with("1 working day in")
            && !after.stdout.contains("CalendarIncomplete"),
        "{after:?}"
    );
    let offline = plugin(
        cp,
        Identity::Approver,
        &[
            "calendar",
            "--offline",
            "between",
            "2026-12-31",
            "2027-01-04",
        ],
    )
    .await?
    .ok()?;
    assert!(
        offline.stdout.starts_with("1 working day in") && offline.stdout.contains("provisional"),
        "{offline:?}"
    );
    Ok(())
}

/// The holiday-cn file of `year` with `days` (`(date, name, isOffDay)`), in `dir`.
fn holiday_cn_file(
    dir: &Path,
    file: &str,
    year: i32,
    days: &[(&str, &str, bool)],
) -> Result<String> {
    let days: Vec<_> = days
        .iter()
        .map(|(date, name, off)| serde_json::json!({"name": name, "date": date, "isOffDay": off}))
        .collect();
    let text = serde_json::json!({
        "year": year,
        "papers": [format!("https://www.gov.cn/zhengce/content/{year}-notice.htm")],
        "days": days,
    });
    let path = dir.join(file);
    std::fs::write(&path, serde_json::to_string_pretty(&text)?)?;
    Ok(path.to_string_lossy().into_owned())
}

#[tokio::test]
async fn calendar_import_loads_a_year_that_the_statutory_calendar_then_counts_on() -> Result<()> {
    let cp = installed_admitting().await?;
    let admin = cp.admin().await?;
    let calendars = Api::<WorkCalendar>::all(admin.clone());
    let dir = tempfile::tempdir()?;
    // A year far from the other test's 2027, so the two can run side by side; the default
    // WorkCalendar name is cn-YEAR.
    let name = "cn-2031".to_string();
    let shown = plugin(cp, Identity::Approver, &["calendar", "show", "2031"])
        .await?
        .ok()?;
    let row = |out: &str, date: &str| {
        out.lines()
            .find(|l| l.starts_with(date))
            .map(str::to_string)
            .unwrap_or_default()
    };
    let new_year = row(&shown.stdout, "2031-01-01");
    assert!(
        shown.stdout.starts_with("2031: PROVISIONAL")
            && shown.stdout.contains("calendar import FILE")
            && new_year.starts_with("2031-01-01   Wed   off ")
            && new_year.ends_with("provisional (law; no State Council notice loaded)"),
        "{shown:?}"
    );
    let week = ["calendar", "between", "2031-01-01", "2031-01-06"];
    let provisional = plugin(cp, Identity::Approver, &week).await?.ok()?;
    assert!(
        provisional
            .stdout
            .contains("no State Council notice loaded for 2031"),
        "{provisional:?}"
    );

    // A bad file: refused with the entry named, exit 2, nothing applied.
    let bad = holiday_cn_file(
        dir.path(),
        "bad.json",
        2031,
        &[("2031-01-01", "元旦", true), ("2031-02-30", "春节", true)],
    )?;
    let refused = plugin(cp, Identity::Admin, &["calendar", "import", &bad]).await?;
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(
        refused
            .stderr
            .contains(r#"days[1] (春节 "2031-02-30"): not a date"#),
        "{refused:?}"
    );
    assert!(calendars.get_opt(&name).await?.is_none());

    // Approvers read calendars but do not write them: forbidden, exit 3.
    let good = holiday_cn_file(
        dir.path(),
        "2031.json",
        2031,
        &[
            ("2031-01-01", "元旦", true),
            ("2031-01-02", "元旦", true),
            ("2031-01-04", "元旦", false),
        ],
    )?;
    let import = ["calendar", "import", good.as_str()];
    let forbidden = plugin(cp, Identity::Approver, &import).await?;
    assert_eq!(forbidden.code, 3, "{forbidden:?}");
    assert!(calendars.get_opt(&name).await?.is_none());

    // --dry-run prints the object and applies nothing.
    let mut dry = import.to_vec();
    dry.push("--dry-run");
    let dry = plugin(cp, Identity::Admin, &dry).await?.ok()?;
    assert!(
        dry.stdout.contains("kind: WorkCalendar") && dry.stdout.contains("- year: 2031"),
        "{dry:?}"
    );
    assert!(calendars.get_opt(&name).await?.is_none());

    let applied = plugin(cp, Identity::Admin, &import).await?.ok()?;
    assert!(
        applied.stdout.starts_with(&format!(
            "workcalendar/{name} applied: year 2031 (2 days off, 1 make-up working days)"
        )),
        "{applied:?}"
    );
    let wc = calendars.get(&name).await?;
    let years: Vec<i32> = wc.spec.years.iter().map(|y| y.year).collect();
    assert_eq!(years, [2031]);
    assert_eq!(wc.spec.years[0].days.len(), 3);
    assert_eq!(
        wc.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("govcloud.io/source-notice-2031"))
            .map(String::as_str),
        Some("https://www.gov.cn/zhengce/content/2031-notice.htm")
    );
    // cn-statutory counts on it: (2031-01-01, 2031-01-06] has 01-03 (Fri), the make-up
    // Saturday 01-04 and 01-06 (Mon), and the year is no longer incomplete.
    let between = plugin(cp, Identity::Approver, &week).await?.ok()?;
    assert!(
        between.stdout.starts_with("3 working days") && !between.stdout.contains("Incomplete"),
        "{between:?}"
    );
    let shown = plugin(cp, Identity::Approver, &["calendar", "show", "2031"])
        .await?
        .ok()?;
    let make_up = row(&shown.stdout, "2031-01-04");
    assert!(
        shown
            .stdout
            .starts_with("2031: published (WorkCalendar cn-2031;")
            && make_up.starts_with("2031-01-04   Sat   working ")
            && make_up.ends_with("published (WorkCalendar cn-2031)")
            && !shown.stdout.contains("provisional"),
        "{shown:?}"
    );

    // Another year into the same object, then 2031 again: 2031 replaced, 2032 kept.
    let y2032 = holiday_cn_file(
        dir.path(),
        "2032.json",
        2032,
        &[("2032-01-01", "元旦", true)],
    )?;
    plugin(
        cp,
        Identity::Admin,
        &[
            "calendar",
            "import",
            &y2032,
            "--name",
            &name,
            "--source",
            "国办发明电〔2031〕1号",
        ],
    )
    .await?
    .ok()?;
    let again = holiday_cn_file(
        dir.path(),
        "2031b.json",
        2031,
        &[("2031-01-01", "元旦", true)],
    )?;
    plugin(cp, Identity::Admin, &["calendar", "import", &again])
        .await?
        .ok()?;
    let wc = calendars.get(&name).await?;
    let years: Vec<(i32, usize)> = wc
        .spec
        .years
        .iter()
        .map(|y| (y.year, y.days.len()))
        .collect();
    assert_eq!(years, [(2031, 1), (2032, 1)]);
    let notes = wc.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(
        notes
            .get("govcloud.io/source-notice-2032")
            .map(String::as_str),
        Some("国办发明电〔2031〕1号\nhttps://www.gov.cn/zhengce/content/2032-notice.htm")
    );
    assert!(notes.contains_key("govcloud.io/source-notice-2031"));
    calendars
        .delete(&name, &kube::api::DeleteParams::default())
        .await?;
    Ok(())
}
