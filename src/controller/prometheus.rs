//! Usage of tenant namespaces from Prometheus, every tenant due in a pass at once, by the standard cAdvisor and kubelet metric
//! names: `container_cpu_usage_seconds_total`, `container_memory_working_set_bytes`,
//! `kubelet_volume_stats_used_bytes` and `kubelet_volume_stats_capacity_bytes`.
//!
//! Each figure is an average over the policy window (a subquery), divided by the grant;
//! storage is used ÷ capacity of the namespace's volumes. A resource with no series is
//! left out rather than counted as zero, so missing data never looks like idle resources.
//! Every query is `sum by (namespace)` over the namespaces of the pass: one answer serves
//! them all, instead of six queries per tenant.

use std::time::Duration;

use prometheus_http_query::Client;

use crate::policy::measurement::{BatchedUsage, by_namespace};
use crate::policy::utilization::Ratios;

/// How long one query may take before Prometheus counts as unreachable.
const QUERY_TIMEOUT: Duration = Duration::from_secs(10);

/// At most this many namespaces per query: the matcher lists them, and a pass after a
/// long outage may hold thousands.
const NAMESPACES_PER_QUERY: usize = 200;

/// One instant query, answered per namespace. POST: the namespace matcher can be long.
async fn per_namespace(
    client: &Client,
    query: &str,
) -> Result<std::collections::BTreeMap<String, rust_decimal::Decimal>, String> {
    let result = tokio::time::timeout(QUERY_TIMEOUT, client.query(query).post())
        .await
        .map_err(|_| format!("no answer within {}s", QUERY_TIMEOUT.as_secs()))?
        .map_err(|e| e.to_string())?;
    let vector = result
        .data()
        .as_vector()
        .map(Vec::as_slice)
        .unwrap_or_default();
    Ok(by_namespace(vector.iter().map(|s| {
        (
            s.metric().get("namespace").map(String::as_str),
            s.sample().value(),
        )
    })))
}

/// The PromQL subquery step for a window: about 120 points, at least 15 s.
fn step_seconds(window_seconds: i64) -> i64 {
    (window_seconds / 120).max(15)
}

/// A label matcher for exactly these namespaces. Namespace names are DNS labels; anything
/// else cannot be a tenant and is left out rather than escaped.
fn namespace_matcher(namespaces: &[&str]) -> String {
    let names: Vec<&str> = namespaces
        .iter()
        .copied()
        .filter(|n| {
            !n.is_empty()
                && n.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
        .collect();
    format!(r#"namespace=~"{}""#, names.join("|"))
}

/// The six queries of one batch over `window_seconds`, in the order of
/// [`BatchedUsage`]'s fields: each `sum by (namespace)`, so one answer serves every tenant.
fn queries(matcher: &str, window_seconds: i64) -> [String; 6] {
    let range = format!("[{window_seconds}s:{}s]", step_seconds(window_seconds));
    let cpu_rate = format!(
        r#"sum by (namespace) (rate(container_cpu_usage_seconds_total{{{matcher},container!=""}}[5m]))"#
    );
    let memory = format!(
        r#"sum by (namespace) (container_memory_working_set_bytes{{{matcher},container!=""}})"#
    );
    let used = format!(r#"sum by (namespace) (kubelet_volume_stats_used_bytes{{{matcher}}})"#);
    let capacity =
        format!(r#"sum by (namespace) (kubelet_volume_stats_capacity_bytes{{{matcher}}})"#);
    [
        format!("avg_over_time({cpu_rate}{range})"),
        format!("max_over_time({cpu_rate}{range})"),
        format!("avg_over_time({memory}{range})"),
        format!("max_over_time({memory}{range})"),
        format!("avg_over_time({used}{range})"),
        format!("avg_over_time({capacity}{range})"),
    ]
}

/// Reads the usage of every namespace in `namespaces` over `window_seconds`: six queries
/// per [`NAMESPACES_PER_QUERY`] namespaces, however many tenants are due.
pub async fn usage(
    client: &Client,
    namespaces: &[&str],
    window_seconds: i64,
) -> Result<BatchedUsage, String> {
    let mut out = BatchedUsage::default();
    for chunk in namespaces.chunks(NAMESPACES_PER_QUERY) {
        let [
            avg_cpu,
            peak_cpu,
            avg_memory,
            peak_memory,
            avg_used,
            avg_capacity,
        ] = queries(&namespace_matcher(chunk), window_seconds);
        out.avg_cpu.extend(per_namespace(client, &avg_cpu).await?);
        out.peak_cpu.extend(per_namespace(client, &peak_cpu).await?);
        out.avg_memory
            .extend(per_namespace(client, &avg_memory).await?);
        out.peak_memory
            .extend(per_namespace(client, &peak_memory).await?);
        out.avg_used.extend(per_namespace(client, &avg_used).await?);
        out.avg_capacity
            .extend(per_namespace(client, &avg_capacity).await?);
    }
    Ok(out)
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
    fn steps_stay_reasonable() {
        assert_eq!(step_seconds(3600), 30);
        assert_eq!(step_seconds(60), 15);
        assert_eq!(step_seconds(30 * 86_400), 21_600);
    }

    #[test]
    fn one_query_names_every_namespace_and_groups_by_it() {
        let matcher = namespace_matcher(&["tenant-a", "tenant-b", r#"x"|y"#, ""]);
        assert_eq!(matcher, r#"namespace=~"tenant-a|tenant-b""#);
        let qs = queries(&matcher, 3600);
        for q in &qs {
            assert!(q.contains("sum by (namespace) ("), "{q}");
            assert!(q.contains(r#"namespace=~"tenant-a|tenant-b""#), "{q}");
            assert!(q.ends_with("[3600s:30s])"), "{q}");
        }
        assert!(
            qs[0].starts_with("avg_over_time(")
                && qs[0].contains("rate(container_cpu_usage_seconds_total")
        );
        assert!(
            qs[1].starts_with("max_over_time(")
                && qs[1].contains("container_cpu_usage_seconds_total")
        );
        assert!(
            qs[2].starts_with("avg_over_time(")
                && qs[2].contains("container_memory_working_set_bytes")
        );
        assert!(
            qs[3].starts_with("max_over_time(")
                && qs[3].contains("container_memory_working_set_bytes")
        );
        assert!(qs[4].contains("kubelet_volume_stats_used_bytes"));
        assert!(qs[5].contains("kubelet_volume_stats_capacity_bytes"));
    }
}
