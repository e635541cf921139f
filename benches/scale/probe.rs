//! The bench's command line, and what it reads off the operator: its API requests by verb and resource, record writes, reconciles and peak memory.

use super::*;

pub(crate) struct Args {
    pub(crate) requests: usize,
    pub(crate) quiet: u64,
    pub(crate) json: Option<String>,
}

pub(crate) fn args() -> Args {
    let mut a = Args {
        requests: 1000,
        quiet: 300,
        json: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--requests" => {
                a.requests = it.next().and_then(|v| v.parse().ok()).unwrap_or(a.requests)
            }
            "--quiet-seconds" => {
                a.quiet = it.next().and_then(|v| v.parse().ok()).unwrap_or(a.quiet)
            }
            "--json" => a.json = it.next(),
            _ => {} // cargo bench passes --bench
        }
    }
    a
}

/// `verb/resource → count` from the operator's /metrics.
pub(crate) fn api_requests() -> BTreeMap<(String, String), u64> {
    let text = operator_metrics();
    let mut out = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| l.starts_with("govcloud_api_requests_total{"))
    {
        let label = |k: &str| {
            line.split(&format!("{k}=\""))
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap_or("")
                .to_string()
        };
        let n = line
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        out.insert((label("verb"), label("resource")), n);
    }
    out
}

/// GovCloudRecords the running operator process has created (`govcloud_records_written_total`;
/// a restarted process counts from 0).
pub(crate) fn records_written() -> u64 {
    samples::<u64>("govcloud_records_written_total ").sum()
}

pub(crate) fn writes(counts: &BTreeMap<(String, String), u64>) -> u64 {
    counts
        .iter()
        .filter(|((verb, resource), _)| is_write(verb, resource))
        .map(|(_, n)| n)
        .sum()
}

/// Whether requests of `verb` on `resource` count as the operator's writes (its lease
/// renewals do not: they go on in any quiet cluster).
pub(crate) fn is_write(verb: &str, resource: &str) -> bool {
    matches!(verb, "create" | "update" | "patch" | "delete") && resource != "leases"
}

/// How long the measured operator took to load its stores (every watch listed once), in
/// seconds from the start of leading; 0 until then.
pub(crate) fn stores_loaded_seconds() -> f64 {
    samples::<f64>("govcloud_stores_loaded_seconds ")
        .next()
        .unwrap_or(0.0)
}

/// The measured operator's "first list complete" log lines since it last began leading,
/// as `watch: seconds`, and its warnings and errors since then.
pub(crate) fn first_lists_of_last_start() -> Vec<String> {
    let path = with_operator(|o| o.log.clone());
    let text = path
        .and_then(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .rposition(|l| l.contains("leading: starting watches"))
        .unwrap_or(0);
    lines[start..]
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| {
            if v["message"] == "first list complete" {
                Some(format!(
                    "{} listed after {:.2} s",
                    v["watch"].as_str().unwrap_or("?"),
                    v["seconds"].as_f64().unwrap_or(0.0)
                ))
            } else if v["level"] == "WARN" || v["level"] == "ERROR" {
                // A failed list or watch is retried with backoff: it shows here.
                Some(format!(
                    "{} {} {}: {}",
                    v["timestamp"].as_str().unwrap_or("?"),
                    v["message"].as_str().unwrap_or("?"),
                    v["watch"].as_str().unwrap_or(""),
                    v["error"].as_str().unwrap_or("")
                ))
            } else {
                None
            }
        })
        .collect()
}

pub(crate) fn reconciles() -> u64 {
    samples::<u64>("govcloud_reconciles_total{kind=\"CloudResourceRequest\"}").sum()
}

/// The measured operator's /metrics text (empty while it does not answer).
fn operator_metrics() -> String {
    with_operator(|o| o.get("/metrics").map(|(_, b)| b).unwrap_or_default()).unwrap_or_default()
}

/// The values of the measured operator's samples whose line starts with `series`.
fn samples<T: std::str::FromStr>(series: &str) -> impl Iterator<Item = T> {
    let text = operator_metrics();
    let values: Vec<T> = text
        .lines()
        .filter(|l| l.starts_with(series))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<T>().ok())
        .collect();
    values.into_iter()
}

pub(crate) fn peak_rss_kib() -> u64 {
    operator_status_kib("VmHWM:")
}

/// The measured operator's resident memory now (KiB): after convergence, what its stores
/// and indexes hold, without the peaks of the busy start.
pub(crate) fn rss_kib() -> u64 {
    operator_status_kib("VmRSS:")
}

fn operator_status_kib(field: &str) -> u64 {
    let pid = with_operator(|o| o.pid()).flatten().unwrap_or(0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}
