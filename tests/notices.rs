//! Notices that reach people (issue 16, SH 21 ¶2, XB 39), with the real parts: Debian's
//! Prometheus loads the chart's alert rules and scrapes the operator, Debian's
//! Alertmanager groups by applicant unit and delivers to a webhook receiver on loopback.
//! An expiring Test request gives its unit exactly one "expiring soon" notice naming the
//! request, before it expires, and a resolved notice once it is reclaimed.

mod support;

use std::time::Duration;

use anyhow::{Context as _, Result};
use govcloud_operator::api::{RequestClass, RequestPhase};
use support::alerting::{alertmanager, prometheus, webhook};
use support::govcloud::*;
use support::{create_namespace, unique_ns, wait_for};

// The request expires 90 s after opening and is reclaimed 30 s later; the notices follow
// within the operator's 15 s metric refresh plus a few seconds of scraping and grouping.
const T: Duration = Duration::from_secs(180);
const ALERT: &str = "GovCloudExpiringSoon";

/// The notifications about `request`'s expiry with `status` (firing or resolved).
fn notices(
    all: &[serde_json::Value],
    ns: &str,
    request: &str,
    status: &str,
) -> Vec<serde_json::Value> {
    all.iter()
        .filter(|n| n["status"] == status)
        .filter(|n| {
            n["alerts"].as_array().is_some_and(|alerts| {
                alerts.iter().any(|a| {
                    a["labels"]["alertname"] == ALERT
                        && a["labels"]["namespace"] == ns
                        && a["labels"]["name"] == request
                        && a["status"] == status
                })
            })
        })
        .cloned()
        .collect()
}

#[tokio::test]
async fn an_expiring_test_request_notifies_its_unit_once_then_resolves() -> Result<()> {
    let cp = installed(&[]).await?;
    let admin = cp.admin().await?;
    let port = with_operator(|o| o.port).context("the operator")?;
    let (hook, received) = webhook().await?;
    let am = alertmanager(&hook)?;
    let prom = prometheus(&format!("127.0.0.1:{port}"), &am.addr)?;

    let ns = unique_ns("notice");
    create_namespace(&admin, &ns).await?;
    fast_policy(&admin, &ns, |p| {
        p["review"] = serde_json::json!({"acceptWithin": "600s", "decideWithin": "600s"});
        p["expiry"] = serde_json::json!({"warnBefore": "60s", "suspendFor": "30s"});
    })
    .await?;
    let mut spec = request_spec(&ns, RequestClass::Test, "1");
    spec.duration = Some("90s".into());
    file(&admin, &ns, "trial", spec).await?;
    decide(cp, &ns, "trial", "Approved", "ok").await?;
    let active = wait_phase(&admin, &ns, "trial", RequestPhase::Active, T).await?;
    let expires_at = active
        .status
        .and_then(|s| s.deadlines)
        .and_then(|d| d.expires_at)
        .context("expiresAt")?;

    let diagnose = || {
        format!(
            "prometheus:\n{}\nalertmanager:\n{}",
            prom.log_text(),
            am.log_text()
        )
    };
    let firing = wait_for(T, "an expiring-soon notice", || async {
        Ok(notices(&received.all(), &ns, "trial", "firing")
            .into_iter()
            .next())
    })
    .await
    .with_context(diagnose)?;
    let seen = chrono::Utc::now();
    assert!(
        seen < expires_at,
        "notified at {seen}, after the expiry at {expires_at}"
    );
    // It names the unit (the group, so the unit's receiver gets it) and the request.
    assert_eq!(firing["groupLabels"]["unit"], "市财政局", "{firing}");
    let alert = firing["alerts"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["labels"]["name"] == "trial"))
        .context("the alert")?;
    assert_eq!(alert["labels"]["unit"], "市财政局");
    assert_eq!(alert["labels"]["kind"], "CloudResourceRequest");
    let summary = alert["annotations"]["summary"].as_str().unwrap_or_default();
    assert!(
        summary.contains(&format!("{ns}/trial")) && summary.contains("市财政局"),
        "{summary}"
    );

    wait_phase(&admin, &ns, "trial", RequestPhase::Reclaimed, T).await?;
    wait_for(T, "the resolved notice", || async {
        Ok(notices(&received.all(), &ns, "trial", "resolved")
            .into_iter()
            .next())
    })
    .await
    .with_context(diagnose)?;
    // Over the whole life of the alert: one notice, not one per scrape, evaluation or
    // resend, and not repeated when the unit's "suspended" notice came.
    let all = received.all();
    assert_eq!(notices(&all, &ns, "trial", "firing").len(), 1, "{all:#?}");
    assert!(
        all.iter()
            .any(|n| n["groupLabels"]["alertname"] == "GovCloudSuspended"),
        "the suspension was a notice of its own: {all:#?}"
    );
    Ok(())
}
