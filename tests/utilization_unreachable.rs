//! Prometheus configured but unreachable: a clear condition, allocation figures still
//! used, and nothing acted on — no suspension, even under `onIgnored: Reclaim`.

mod support;

use std::time::Duration;

use govcloud_operator::api::{CloudResourceRequest, RequestClass, RequestPhase};
use kube::Api;
use support::govcloud::*;
use support::{create_namespace, unique_ns};

#[tokio::test]
async fn missing_metrics_are_flagged_and_never_reclaim() -> anyhow::Result<()> {
    // Port 9 (discard) on loopback: nothing listens there.
    let cp = installed(&[
        "--prometheus-url",
        "http://127.0.0.1:9",
        "--utilization-interval-seconds",
        "2",
    ])
    .await?;
    let admin = cp.admin().await?;
    let ns = unique_ns("util-down");
    create_namespace(&admin, &ns).await?;
    fast_policy(&admin, &ns, |p| {
        p["utilization"] = serde_json::json!({"graceAfterActive": "0s", "window": "1h", "respondWithin": "3s", "onIgnored": "Reclaim"});
    })
    .await?;
    file(
        &admin,
        &ns,
        "blind",
        request_spec(&ns, RequestClass::Production, "4"),
    )
    .await?;
    decide(cp, &ns, "blind", "Approved", "").await?;
    wait_condition(
        &admin,
        &ns,
        "blind",
        "MetricsUnavailable",
        "True",
        Duration::from_secs(60),
    )
    .await?;
    // The quota's status is filled in by kube-controller-manager shortly after creation.
    let api: Api<CloudResourceRequest> = Api::namespaced(admin.clone(), &ns);
    let u = support::wait_for(Duration::from_secs(60), "allocation figures", || async {
        Ok(api
            .get("blind")
            .await?
            .status
            .and_then(|s| s.utilization)
            .filter(|u| u.allocation.is_some()))
    })
    .await?;
    assert_eq!(u.source, "Allocation");
    assert!(u.metrics_error.is_some());
    // Idle by allocation (no pods): low, a notice — and past respondBy still not suspended.
    let low = wait_condition(
        &admin,
        &ns,
        "blind",
        "LowUtilization",
        "True",
        Duration::from_secs(60),
    )
    .await?;
    let respond_by = low
        .status
        .unwrap()
        .utilization
        .unwrap()
        .notice
        .unwrap()
        .respond_by;
    while chrono::Utc::now() < respond_by + chrono::Duration::seconds(5) {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let r = Api::<CloudResourceRequest>::namespaced(admin.clone(), &ns)
        .get("blind")
        .await?;
    assert_eq!(
        r.status.as_ref().and_then(|s| s.phase),
        Some(RequestPhase::Active),
        "nothing reclaimed on missing data"
    );
    assert!(
        r.status
            .unwrap()
            .utilization
            .unwrap()
            .notice
            .unwrap()
            .outcome
            .is_none()
    );
    Ok(())
}
