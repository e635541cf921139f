//! The operator process: waits for its CRDs instead of crashing, is ready only after its
//! watches synced, serves metrics, and stops on SIGTERM.

mod support;

use std::time::{Duration, Instant};

use support::operator::Operator;
use support::{apply_crds, control_plane, wait_until};

/// How long the operator is watched while the CRDs are missing: several of its looks.
const NO_CRDS_WINDOW: Duration = Duration::from_secs(3);

#[tokio::test]
async fn waits_for_crds_then_becomes_ready_and_stops_gracefully() -> anyhow::Result<()> {
    let cp = control_plane()?;
    // This test binary has its own control plane: no CRDs are installed yet.
    // Without leader election: readiness here means "caches synced", not "standing by".
    let mut op = Operator::start(cp, &["--leader-election=false"])?;
    wait_until(
        Duration::from_secs(30),
        "operator serving /livez",
        || async { Ok(op.get("/livez").map(|(c, _)| c == 200).unwrap_or(false)) },
    )
    .await?;
    // It says it waits…
    wait_until(
        Duration::from_secs(30),
        "the log says it waits for its CRDs",
        || async { Ok(op.log_tail().contains("waiting for CRDs")) },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}\n{}", op.log_tail()))?;
    // …and over a window of several looks for the CRDs it neither exits nor claims to be
    // ready: checked all along (every 100 ms), not once at the end.
    let window = Instant::now();
    let mut seen = Vec::new();
    while window.elapsed() < NO_CRDS_WINDOW {
        assert!(
            op.running(),
            "operator must wait for its CRDs, not exit (after {:.1}s):\n{}",
            window.elapsed().as_secs_f64(),
            op.log_tail()
        );
        let (code, body) = op.get("/readyz")?;
        seen.push(code);
        assert_eq!(
            code,
            503,
            "not ready without CRDs (after {:.1}s; codes so far {seen:?}): {body}",
            window.elapsed().as_secs_f64()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    apply_crds(&cp.admin().await?).await?;
    wait_until(
        // slowest seen 5.3 s; 5× margin
        Duration::from_secs(60),
        "/readyz after the first watch sync",
        || async { Ok(op.get("/readyz").map(|(c, _)| c == 200).unwrap_or(false)) },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}\n{}", op.log_tail()))?;
    let (code, metrics) = op.get("/metrics")?;
    assert_eq!(code, 200);
    assert!(
        metrics.contains("govcloud_calendar_years_covered"),
        "{metrics}"
    );
    assert!(
        metrics.contains("govcloud_objects{kind=\"CloudResourceRequest\",phase=\"Active\"} 0"),
        "{metrics}"
    );
    assert!(
        metrics
            .contains("govcloud_overdue{kind=\"CloudResourceRequest\",stage=\"ReviewOverdue\"} 0"),
        "{metrics}"
    );
    assert!(
        !metrics.contains("tax-portal"),
        "no object names in metrics"
    );

    assert!(
        op.terminate(Duration::from_secs(20))?,
        "SIGTERM ends it cleanly:\n{}",
        op.log_tail()
    );
    Ok(())
}
