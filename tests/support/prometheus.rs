//! A real Prometheus (Debian's) holding known samples: the samples are written as
//! OpenMetrics, backfilled with `promtool tsdb create-blocks-from openmetrics`, and served
//! by a `prometheus` on a free loopback port. Killed when dropped, or by a watchdog when
//! the test process dies.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result, bail};

/// The behaviour of one tenant namespace over the last 90 minutes.
#[derive(Debug, Clone)]
pub struct Tenant {
    /// Namespace.
    pub namespace: String,
    /// CPU in use, cores (a steady rate).
    pub cpu_cores: f64,
    /// Memory in use, bytes.
    pub memory_bytes: f64,
    /// Volume bytes used and capacity, when the namespace has volumes.
    pub volume: Option<(f64, f64)>,
}

/// A running Prometheus.
pub struct Prometheus {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    dir: PathBuf,
}

fn openmetrics(tenants: &[Tenant]) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let (start, end) = (now - 5400, now - 30);
    let times: Vec<u64> = (start..end).step_by(30).collect();
    let mut out = String::new();
    let family = |out: &mut String,
                  name: &str,
                  kind: &str,
                  sample: &str,
                  value: &dyn Fn(&Tenant, u64) -> Option<f64>| {
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for t in tenants {
            for ts in &times {
                if let Some(v) = value(t, *ts) {
                    let _ = writeln!(
                        out,
                        "{sample}{{namespace=\"{}\",container=\"app\",pod=\"app-0\",persistentvolumeclaim=\"data\"}} {v:.3} {ts}",
                        t.namespace
                    );
                }
            }
        }
    };
    family(
        &mut out,
        "container_cpu_usage_seconds",
        "counter",
        "container_cpu_usage_seconds_total",
        &|t, ts| Some(t.cpu_cores * (ts - start) as f64),
    );
    family(
        &mut out,
        "container_memory_working_set_bytes",
        "gauge",
        "container_memory_working_set_bytes",
        &|t, _| Some(t.memory_bytes),
    );
    family(
        &mut out,
        "kubelet_volume_stats_used_bytes",
        "gauge",
        "kubelet_volume_stats_used_bytes",
        &|t, _| t.volume.map(|v| v.0),
    );
    family(
        &mut out,
        "kubelet_volume_stats_capacity_bytes",
        "gauge",
        "kubelet_volume_stats_capacity_bytes",
        &|t, _| t.volume.map(|v| v.1),
    );
    out.push_str("# EOF\n");
    out
}

impl Prometheus {
    /// Backfills `tenants` and starts Prometheus on them.
    pub fn start(tenants: &[Tenant]) -> Result<Prometheus> {
        let dir = tempfile::Builder::new()
            .prefix("govcloud-prom-")
            .tempdir()?
            .keep();
        let data = dir.join("data");
        std::fs::write(dir.join("samples.om"), openmetrics(tenants))?;
        let out = Command::new("promtool")
            .args(["tsdb", "create-blocks-from", "openmetrics"])
            .arg(dir.join("samples.om"))
            .arg(&data)
            .output()
            .context("promtool (run scripts/install-prometheus.sh)")?;
        if !out.status.success() {
            bail!("promtool failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        std::fs::write(dir.join("prometheus.yml"), "global: {}\n")?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log = std::fs::File::create(dir.join("prometheus.log"))?;
        let child = Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting prometheus")?;
        let _ = Command::new("sh")
            .arg("-c")
            .arg("while kill -0 \"$1\" 2>/dev/null && kill -0 \"$2\" 2>/dev/null; do sleep 1; done; kill -9 \"$2\" 2>/dev/null; true")
            .arg("sh")
            .arg(std::process::id().to_string())
            .arg(child.id().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let p = Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
            dir,
        };
        p.wait_ready()?;
        Ok(p)
    }

    fn wait_ready(&self) -> Result<()> {
        use std::io::{Read, Write};
        let addr = self.url.trim_start_matches("http://").to_string();
        for _ in 0..300 {
            if let Ok(mut s) = std::net::TcpStream::connect(&addr) {
                let _ = write!(s, "GET /-/ready HTTP/1.0\r\n\r\n");
                let mut text = String::new();
                let _ = s.read_to_string(&mut text);
                if text.starts_with("HTTP/1.0 200") || text.starts_with("HTTP/1.1 200") {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!(
            "prometheus not ready: {}",
            std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
        )
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
