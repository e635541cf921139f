//! Usage of a tenant namespace from Prometheus, by the standard cAdvisor and kubelet metric
//! names: `container_cpu_usage_seconds_total`, `container_memory_working_set_bytes`,
//! `kubelet_volume_stats_used_bytes` and `kubelet_volume_stats_capacity_bytes`.
//!
//! Each figure is an average over the policy window (a subquery), divided by the grant;
//! storage is used ÷ capacity of the namespace's volumes. A resource with no series is
//! left out rather than counted as zero, so missing data never looks like idle resources.

use std::time::Duration;

use prometheus_http_query::Client;
use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;

use crate::policy::quantity::{Amounts, ResourceKind};
use crate::policy::utilization::{Ratios, Usage};

/// How long one query may take before Prometheus counts as unreachable.
const QUERY_TIMEOUT: Duration = Duration::from_secs(10);

async fn scalar(client: &Client, query: &str) -> Result<Option<Decimal>, String> {
    let result = tokio::time::timeout(QUERY_TIMEOUT, client.query(query).get())
        .await
        .map_err(|_| format!("no answer within {}s", QUERY_TIMEOUT.as_secs()))?
        .map_err(|e| e.to_string())?;
    let value = result
        .data()
        .as_vector()
        .and_then(|v| v.first())
        .map(|s| s.sample().value());
    Ok(value.filter(|v| v.is_finite()).and_then(Decimal::from_f64))
}

/// The PromQL subquery step for a window: about 120 points, at least 15 s.
fn step_seconds(window_seconds: i64) -> i64 {
    (window_seconds / 120).max(15)
}

/// `v` as a share of `of`. Checked (issue 14): a large use over a tiny grant (`1m` CPU)
/// is beyond any ratio, and a zero grant has none; either way no figure, never a panic.
fn share(v: Option<Decimal>, of: Decimal) -> Option<Decimal> {
    v.and_then(|v| v.checked_div(of))
}

/// Reads the usage of `namespace` over `window_seconds` against `grant`.
pub async fn usage(
    client: &Client,
    namespace: &str,
    grant: &Amounts,
    window_seconds: i64,
) -> Result<Usage, String> {
    let ns = namespace.replace(['\\', '"'], "");
    let range = format!("[{window_seconds}s:{}s]", step_seconds(window_seconds));
    let cpu_rate = format!(
        r#"sum(rate(container_cpu_usage_seconds_total{{namespace="{ns}",container!=""}}[5m]))"#
    );
    let memory =
        format!(r#"sum(container_memory_working_set_bytes{{namespace="{ns}",container!=""}})"#);
    let used = format!(r#"sum(kubelet_volume_stats_used_bytes{{namespace="{ns}"}})"#);
    let capacity = format!(r#"sum(kubelet_volume_stats_capacity_bytes{{namespace="{ns}"}})"#);

    let avg_cpu = scalar(client, &format!("avg_over_time({cpu_rate}{range})")).await?;
    let peak_cpu = scalar(client, &format!("max_over_time({cpu_rate}{range})")).await?;
    let avg_memory = scalar(client, &format!("avg_over_time({memory}{range})")).await?;
    let peak_memory = scalar(client, &format!("max_over_time({memory}{range})")).await?;
    let avg_used = scalar(client, &format!("avg_over_time({used}{range})")).await?;
    let avg_capacity = scalar(client, &format!("avg_over_time({capacity}{range})")).await?;

    let storage = avg_used.and_then(|u| share(Some(u), avg_capacity?));
    Ok(Usage {
        ratios: Ratios {
            cpu: share(avg_cpu, grant.get(ResourceKind::Cpu)),
            memory: share(avg_memory, grant.get(ResourceKind::Memory)),
            storage,
            storage_free: match (avg_used, avg_capacity) {
                (Some(u), Some(c)) => Some(c.saturating_sub(u).max(Decimal::ZERO)),
                _ => None,
            },
        },
        peak_cpu,
        peak_memory,
    })
}

/// Allocation ratios from a ResourceQuota's `status.used` ÷ `status.hard`.
pub fn allocation(quota: &k8s_openapi::api::core::v1::ResourceQuota) -> Option<Ratios> {
    let status = quota.status.as_ref()?;
    let (used, hard) = (status.used.as_ref()?, status.hard.as_ref()?);
    let ratio = |key: &str| match (used.get(key), hard.get(key)) {
        (Some(u), Some(h)) => crate::policy::tenant::used_ratio(&u.0, &h.0),
        _ => None,
    };
    Some(Ratios {
        cpu: ratio("requests.cpu"),
        memory: ratio("requests.memory"),
        storage: ratio("requests.storage"),
        storage_free: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_share_beyond_any_ratio_or_of_nothing_is_no_figure() {
        let tiny = Decimal::new(1, 3); // a `1m` CPU grant
        assert_eq!(share(Some(Decimal::MAX), tiny), None);
        assert_eq!(share(Some(Decimal::ONE), Decimal::ZERO), None);
        assert_eq!(share(None, tiny), None);
        assert_eq!(
            share(Some(Decimal::new(5, 4)), tiny),
            Some(Decimal::new(5, 1))
        );
    }

    #[test]
    fn steps_stay_reasonable() {
        assert_eq!(step_seconds(3600), 30);
        assert_eq!(step_seconds(60), 15);
        assert_eq!(step_seconds(30 * 86_400), 21_600);
    }
}
