//! The admission webhook in the bench (issue 12, item 7): every write of the N requests,
//! the approvers' decisions and the operator's own status writes go through it.
//!
//! The webhook is served by a second operator process with `--controllers false` (as a
//! webhook-serving replica would), so the bench can stop and restart the measured operator
//! (filing while it is stopped, the cold restart) while writes keep being admitted. Its
//! latency per admission comes from that process's
//! `govcloud_admission_duration_seconds` histogram.

use std::time::Duration;

use anyhow::{Result, anyhow};

use crate::support::operator::Operator;
use crate::support::{ControlPlane, apply_yaml, repo_root, wait_until};

/// Starts the webhook process and registers it with the API server (loopback URL, as
/// `scripts/run` does); returns once the configurations trust its CA.
pub async fn start(cp: &ControlPlane) -> Result<Operator> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let listen = format!("127.0.0.1:{port}");
    let op = Operator::start(
        cp,
        &[
            "--controllers",
            "false",
            "--leader-election",
            "false",
            "--webhook-listen",
            &listen,
            "--webhook-hosts",
            "127.0.0.1",
            "--operator-username",
            "admin",
            "--require-admission",
            "true",
        ],
    )?;
    let configs = std::fs::read_to_string(repo_root().join("deploy/webhook/loopback.yaml"))?
        .replace("__URL__", &format!("https://{listen}"));
    apply_yaml(&cp.admin().await?, &configs, None).await?;
    wait_until(
        Duration::from_secs(120),
        "the webhook registered",
        || async { Ok(op.get("/readyz").map(|(c, _)| c == 200).unwrap_or(false)) },
    )
    .await
    .map_err(|e| anyhow!("{e}\n{}", op.log_tail()))?;
    Ok(op)
}

/// (p50, p99) in milliseconds and the number of admissions, from the histogram over every
/// kind and operation. The figures are bucket upper bounds (buckets double from 0.1 ms).
pub fn latency(op: &Operator) -> Result<(f64, f64, u64)> {
    let (_, text) = op.get("/metrics")?;
    let mut buckets: std::collections::BTreeMap<u64, u64> = Default::default();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("govcloud_admission_duration_seconds_bucket{") else {
            continue;
        };
        let le = rest
            .split("le=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or("+Inf");
        let count: u64 = line
            .rsplit(' ')
            .next()
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        // Nanoseconds as the key keeps the bounds ordered; +Inf sorts last.
        let key = le
            .parse::<f64>()
            .map(|s| (s * 1e9) as u64)
            .unwrap_or(u64::MAX);
        *buckets.entry(key).or_default() += count;
    }
    let total = buckets.get(&u64::MAX).copied().unwrap_or(0);
    let at = |q: f64| {
        let want = (q * total as f64).ceil() as u64;
        buckets
            .iter()
            .find(|(_, c)| **c >= want.max(1))
            .map(|(le, _)| *le as f64 / 1e6)
            .unwrap_or(f64::INFINITY)
    };
    Ok((at(0.50), at(0.99), total))
}
