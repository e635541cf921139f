//! Issue 7, item 4: the operator survives a kube-apiserver restart. During a ~12 s outage
//! it keeps running and `/livez` fails once the watches have been broken longer than
//! `--watch-stall-seconds 5`; within 30 s of the server's return the watches resume,
//! `/livez` is OK again, a request filed and approved right after the return is Active,
//! and a request approved before the outage is still Active.

mod support;

use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, ensure};
use govcloud_operator::api::{RequestClass, RequestPhase};
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use support::govcloud::*;
use support::{create_namespace, unique_ns, wait_for};

const OUTAGE: Duration = Duration::from_secs(12);
const RECOVERY: Duration = Duration::from_secs(30);

fn livez() -> Result<u16> {
    with_operator(|o| o.get("/livez"))
        .ok_or_else(|| anyhow!("no operator"))?
        .map(|(code, _)| code)
}

fn running() -> bool {
    with_operator(|o| o.running()).unwrap_or(false)
}

#[tokio::test]
async fn watches_resume_after_an_apiserver_restart_and_livez_reports_the_stall() -> Result<()> {
    let cp = installed(&["--watch-stall-seconds", "5", "--max-requeue-seconds", "30"]).await?;
    let admin = cp.admin().await?;
    let ns = unique_ns("outage");
    create_namespace(&admin, &ns).await?;
    fast_policy(
        &admin,
        &ns,
        |p| p["review"] = serde_json::json!({"acceptWithin": "3600s", "decideWithin": "3600s"}),
    )
    .await?;
    file(
        &admin,
        &ns,
        "before",
        request_spec(&ns, RequestClass::Production, "2"),
    )
    .await?;
    decide(cp, &ns, "before", "Approved", "").await?;
    let before = wait_phase(
        &admin,
        &ns,
        "before",
        RequestPhase::Active,
        Duration::from_secs(60),
    )
    .await?;
    let before_tenant = before
        .status
        .as_ref()
        .and_then(|s| s.tenant_namespace.clone())
        .ok_or_else(|| anyhow!("no tenant namespace"))?;
    wait_for(Duration::from_secs(30), "/livez 200 before", || async {
        Ok((livez()? == 200).then_some(()))
    })
    .await?;

    // The outage: SIGKILL the apiserver, as a crash would.
    let down_at = Instant::now();
    let cp2 = cp.clone();
    tokio::task::spawn_blocking(move || cp2.stop_apiserver(true)).await??;
    println!("[outage] apiserver stopped");
    let mut first_503 = None;
    while down_at.elapsed() < OUTAGE {
        ensure!(
            running(),
            "the operator exited during the outage\n{}",
            operator_log()
        );
        if first_503.is_none() && livez()? == 503 {
            first_503 = Some(down_at.elapsed());
            println!(
                "[outage] /livez 503 after {:.1}s down",
                down_at.elapsed().as_secs_f64()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    ensure!(
        first_503.is_some(),
        "/livez never failed during a {OUTAGE:?} outage with a 5 s stall limit\n{}",
        operator_log()
    );
    ensure!(running(), "the operator exited during the outage");

    let cp2 = cp.clone();
    tokio::task::spawn_blocking(move || cp2.start_apiserver()).await??;
    let up_at = Instant::now();
    println!(
        "[outage] apiserver back after {:.1}s down",
        down_at.elapsed().as_secs_f64()
    );

    // Right after the return: a new request, filed and approved, converges within 30 s.
    let admin = cp.admin().await?;
    file(
        &admin,
        &ns,
        "after",
        request_spec(&ns, RequestClass::Production, "1"),
    )
    .await?;
    decide(cp, &ns, "after", "Approved", "").await?;
    // Within 30 s of the return the watches have resumed: the new request is Active and
    // /livez is OK again.
    let remaining = RECOVERY.saturating_sub(up_at.elapsed());
    wait_phase(&admin, &ns, "after", RequestPhase::Active, remaining)
        .await
        .map_err(|e| {
            anyhow!(
                "not Active within {RECOVERY:?} of the return: {e}\n{}",
                operator_log()
            )
        })?;
    let active_after = up_at.elapsed();
    let remaining = RECOVERY.saturating_sub(up_at.elapsed());
    wait_for(
        remaining.max(Duration::from_secs(1)),
        "/livez 200 after the return",
        || async { Ok((livez()? == 200).then_some(())) },
    )
    .await
    .map_err(|e| anyhow!("{e}\n{}", operator_log()))?;
    let live_after = up_at.elapsed();

    // The request approved before the outage is untouched.
    let before = wait_phase(
        &admin,
        &ns,
        "before",
        RequestPhase::Active,
        Duration::from_secs(5),
    )
    .await?;
    ensure!(
        before
            .status
            .as_ref()
            .and_then(|s| s.tenant_namespace.clone())
            == Some(before_tenant.clone())
    );
    ensure!(
        Api::<Namespace>::all(admin.clone())
            .get_opt(&before_tenant)
            .await?
            .is_some(),
        "{before_tenant} still exists"
    );
    ensure!(running(), "the operator exited");
    let log =
        with_operator(|o| std::fs::read_to_string(&o.log).unwrap_or_default()).unwrap_or_default();
    ensure!(!log.contains("panicked"), "the operator panicked");
    println!(
        "[outage] /livez 503 after {:.1}s down; after the return: new request Active in {:.1}s, /livez 200 in {:.1}s",
        first_503.unwrap_or_default().as_secs_f64(),
        active_after.as_secs_f64(),
        live_after.as_secs_f64()
    );
    Ok(())
}
