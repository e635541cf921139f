//! Prometheus configured but unreachable: a clear condition, allocation figures still
//! used, and nothing acted on — no suspension, even under `onIgnored: Reclaim`.

mod support;

use std::time::Duration;

use govcloud_operator::api::{CloudResourceRequest, RequestClass, RequestPhase};
use kube::Api;
use support::govcloud::*;
use support::window::never_during_named;
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
        // slowest seen 2.3 s; 5× margin
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
    // From now until 5 s past respondBy, watched all along: still Active, the notice
    // without an outcome — nothing reclaimed on missing data, not even for a moment.
    let until = respond_by + chrono::Duration::seconds(5);
    let window = (until - chrono::Utc::now())
        .to_std()
        .unwrap_or(Duration::ZERO)
        .max(Duration::from_secs(1));
    never_during_named(&api, "blind", window, "the unmeasured request", |r| {
        let st = r.and_then(|r| r.status.as_ref());
        let phase = st.and_then(|s| s.phase);
        if phase != Some(RequestPhase::Active) {
            return Some(format!("phase {phase:?}: reclaimed on missing data"));
        }
        let outcome = st
            .and_then(|s| s.utilization.as_ref())
            .and_then(|u| u.notice.as_ref())
            .map(|n| n.outcome.clone());
        match outcome {
            Some(None) => None,
            Some(Some(o)) => Some(format!("notice outcome {o:?}")),
            None => Some("the notice is gone".into()),
        }
    })
    .await?;
    Ok(())
}
