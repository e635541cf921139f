//! Waiting for the cluster, and fresh test namespaces.

use super::*;

/// Poll `check` until it yields `Some(value)`, backing off from 50 ms to 500 ms.
///
/// `Ok(None)` means "not yet"; an `Err` is remembered and retried too (an object that does
/// not exist yet is a 404), so on timeout the error names what was awaited and the last
/// error seen. Each attempt is itself bounded by the remaining time.
pub async fn wait_for<T, F, Fut>(timeout: Duration, what: impl Display, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let started = Instant::now();
    let mut delay = Duration::from_millis(50);
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let remaining = timeout
            .saturating_sub(started.elapsed())
            .max(Duration::from_secs(1));
        let last_error = match tokio::time::timeout(remaining, check()).await {
            Ok(Ok(Some(value))) => {
                // On stderr (shown with --nocapture) so the tolerances can be set from
                // the slowest waits actually seen (5× margin, see the constants).
                eprintln!(
                    "[wait_for] {:.1}s of {:.0}s: {what}",
                    started.elapsed().as_secs_f64(),
                    timeout.as_secs_f64()
                );
                return Ok(value);
            }
            Ok(Ok(None)) => None,
            Ok(Err(e)) => Some(e),
            Err(_) => Some(anyhow!("attempt did not finish within {remaining:?}")),
        };
        let elapsed = started.elapsed();
        if elapsed >= timeout {
            let detail = match last_error {
                Some(e) => format!("; last error: {e:#}"),
                None => String::new(),
            };
            bail!(
                "timed out after {:.1}s ({attempts} attempts) waiting for {what}{detail}",
                elapsed.as_secs_f64()
            );
        }
        tokio::time::sleep(delay.min(timeout - elapsed)).await;
        delay = (delay * 2).min(Duration::from_millis(500));
    }
}

/// [`wait_for`] for a yes/no condition.
pub async fn wait_until<F, Fut>(timeout: Duration, what: impl Display, mut check: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool>>,
{
    wait_for(timeout, what, || {
        let fut = check();
        async move { Ok(fut.await?.then_some(())) }
    })
    .await
}

// ------------------------------------------------------------------ namespaces

/// A namespace name unique to this call: `<prefix>-<random>-<counter>`, DNS-1123, at most
/// 63 characters (the prefix is lower-cased, cleaned and shortened as needed). Unique
/// across processes too, so it is safe on a reused control plane.
pub fn unique_ns(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    // mix pid and time so two processes starting in the same instant still differ
    let mut x = (nanos as u64) ^ (u64::from(std::process::id()) << 32) ^ 0x9e37_79b9_7f4a_7c15;
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    let suffix = format!("{}-{n}", base36(x % 36u64.pow(6)));
    let mut clean: String = prefix
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    clean = clean.trim_matches('-').to_string();
    if clean.is_empty() {
        clean = "test".to_string();
    }
    let max_prefix = 63 - suffix.len() - 1;
    clean.truncate(max_prefix);
    let clean = clean.trim_end_matches('-');
    format!("{clean}-{suffix}")
}

fn base36(mut x: u64) -> String {
    let digits = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(digits[(x % 36) as usize]);
        x /= 36;
        if x == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).expect("ascii")
}

/// Create a namespace (labelled `govcloud.io/test=true`).
pub async fn create_namespace(client: &Client, name: &str) -> Result<Namespace> {
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some([(TEST_LABEL.to_string(), "true".to_string())].into()),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .with_context(|| format!("creating namespace {name}"))
}

// ------------------------------------------------------------------ applying YAML
