//! The operator process: waits for its CRDs instead of crashing, is ready only after its
//! watches synced, serves metrics, and stops on SIGTERM.

mod support;

use std::time::Duration;

use support::operator::Operator;
use support::{apply_crds, control_plane, wait_until};

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
    tokio::time::sleep(Duration::from_secs(3)).await; // let it look for the CRDs a few times
    assert!(
        op.running(),
        "operator must wait for its CRDs, not exit:\n{}",
        op.log_tail()
    );
    let (code, body) = op.get("/readyz")?;
    assert_eq!(code, 503, "not ready without CRDs: {body}");
    assert!(
        op.log_tail().contains("waiting for CRDs"),
        "{}",
        op.log_tail()
    );

    apply_crds(&cp.admin().await?).await?;
    wait_until(
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
