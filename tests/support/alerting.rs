//! Notices end to end with the real parts: Debian's Prometheus loading the chart's alert
//! rules and scraping the operator, Debian's Alertmanager grouping by applicant unit, and
//! a webhook receiver in the test process collecting what Alertmanager delivers. All on
//! free loopback ports; the servers are killed when dropped, or by a watchdog when the
//! test process dies. (scripts/install-prometheus.sh installs both packages.)

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};

use super::repo_root;

/// A server process in a temporary directory of its own.
pub struct Server {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    dir: PathBuf,
    log: PathBuf,
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Server {
    fn spawn(
        program: &str,
        args: &[String],
        dir: PathBuf,
        addr: String,
        ready: &str,
    ) -> Result<Server> {
        let log = dir.join(format!("{program}.log"));
        let out = std::fs::File::create(&log)?;
        let child = Command::new(program)
            .args(args)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("starting {program} (run scripts/install-prometheus.sh)"))?;
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
        let s = Server {
            child,
            addr,
            dir,
            log,
        };
        s.wait_ready(ready)?;
        Ok(s)
    }

    fn wait_ready(&self, path: &str) -> Result<()> {
        use std::io::{Read, Write};
        for _ in 0..300 {
            if let Ok(mut s) = std::net::TcpStream::connect(&self.addr) {
                let _ = write!(s, "GET {path} HTTP/1.0\r\n\r\n");
                let mut text = String::new();
                let _ = s.read_to_string(&mut text);
                if text.starts_with("HTTP/1.0 200") || text.starts_with("HTTP/1.1 200") {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!("{} not ready:\n{}", self.addr, self.log_text())
    }

    /// The server's log, for failure messages.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Its working directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn temp_dir(prefix: &str) -> Result<PathBuf> {
    Ok(tempfile::Builder::new().prefix(prefix).tempdir()?.keep())
}

/// Alertmanager grouping by applicant unit (and alert), delivering to `webhook`.
pub fn alertmanager(webhook: &str) -> Result<Server> {
    let dir = temp_dir("govcloud-am-")?;
    let port = free_port()?;
    // As the chart documents: one group per unit and kind of notice. Short waits for the
    // test; a repeat interval far beyond it, so a second notice would be a real one.
    std::fs::write(
        dir.join("alertmanager.yml"),
        format!(
            "route:\n  receiver: units\n  group_by: [unit, alertname]\n  group_wait: 1s\n  group_interval: 2s\n  repeat_interval: 24h\nreceivers:\n  - name: units\n    webhook_configs:\n      - url: {webhook}\n        send_resolved: true\n"
        ),
    )?;
    let addr = format!("127.0.0.1:{port}");
    let args = vec![
        format!("--config.file={}", dir.join("alertmanager.yml").display()),
        format!("--storage.path={}", dir.join("data").display()),
        format!("--web.listen-address={addr}"),
        // No gossip: a single Alertmanager, nothing listening beyond loopback.
        "--cluster.listen-address=".to_string(),
    ];
    Server::spawn("prometheus-alertmanager", &args, dir, addr, "/-/ready")
}

/// Prometheus with the chart's notice rules, scraping `target` every second and sending
/// alerts to `alertmanager`.
pub fn prometheus(target: &str, alertmanager: &str) -> Result<Server> {
    let dir = temp_dir("govcloud-rules-")?;
    let port = free_port()?;
    let rules = repo_root().join("charts/govcloud-operator/files/alerts/notices.rules.yaml");
    std::fs::write(
        dir.join("prometheus.yml"),
        format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\nrule_files: [\"{}\"]\nalerting:\n  alertmanagers:\n    - static_configs: [{{targets: [\"{alertmanager}\"]}}]\nscrape_configs:\n  - job_name: govcloud-operator\n    static_configs: [{{targets: [\"{target}\"]}}]\n",
            rules.display()
        ),
    )?;
    let addr = format!("127.0.0.1:{port}");
    let args = vec![
        format!("--config.file={}", dir.join("prometheus.yml").display()),
        format!("--storage.tsdb.path={}", dir.join("data").display()),
        format!("--web.listen-address={addr}"),
    ];
    Server::spawn("prometheus", &args, dir, addr, "/-/ready")
}

/// What Alertmanager delivered to the webhook, in order.
#[derive(Clone, Default)]
pub struct Received(Arc<Mutex<Vec<serde_json::Value>>>);

impl Received {
    /// Every notification so far.
    pub fn all(&self) -> Vec<serde_json::Value> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// A webhook receiver on a free loopback port: returns its URL and what it received.
pub async fn webhook() -> Result<(String, Received)> {
    let received = Received::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/notify", listener.local_addr()?);
    let store = received.clone();
    let app = axum::Router::new().route(
        "/notify",
        axum::routing::post(move |body: String| {
            let store = store.clone();
            async move {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&body) {
                    store.0.lock().unwrap_or_else(|p| p.into_inner()).push(v);
                }
                "ok"
            }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((url, received))
}
