//! The operator as a real child process against the test control plane: started from the
//! binary cargo built, killed with SIGKILL on demand (crash tests), and killed by a small
//! watchdog if the test process dies first.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow};

use super::{ControlPlane, Identity};

/// A running operator process.
pub struct Operator {
    child: Option<Child>,
    /// Port of /livez, /readyz, /metrics on 127.0.0.1.
    pub port: u16,
    /// Its log file.
    pub log: PathBuf,
    args: Vec<String>,
    kubeconfig: PathBuf,
    env: Vec<(String, String)>,
}

fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

impl Operator {
    /// Starts `govcloud-operator run` as the admin identity with `extra` flags.
    pub fn start(cp: &ControlPlane, extra: &[&str]) -> Result<Operator> {
        Self::start_with(cp, cp.kubeconfig(Identity::Admin), &[], extra)
    }

    /// Starts `govcloud-operator run` with the credentials of `kubeconfig` (e.g. a
    /// ServiceAccount token, to prove the operator's RBAC), environment `env` (e.g. the
    /// chart's `GOVCLOUD_*` variables) and `extra` flags. Flags win over `env`, and the
    /// test log filter (debug for the operator) wins over a `GOVCLOUD_LOG` in `env`.
    pub fn start_with(
        cp: &ControlPlane,
        kubeconfig: PathBuf,
        env: &[(String, String)],
        extra: &[&str],
    ) -> Result<Operator> {
        let port = free_port()?;
        let mut args = vec![
            "run".to_string(),
            "--listen".to_string(),
            format!("127.0.0.1:{port}"),
            "--log-format".to_string(),
            "json".to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let log = cp.dir().join(format!("operator-{port}.log"));
        let mut op = Operator {
            child: None,
            port,
            log,
            args,
            kubeconfig,
            env: env.to_vec(),
        };
        op.spawn()?;
        Ok(op)
    }

    fn spawn(&mut self) -> Result<()> {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let err = out.try_clone()?;
        let child = Command::new(env!("CARGO_BIN_EXE_govcloud-operator"))
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("KUBECONFIG", &self.kubeconfig)
            .env("GOVCLOUD_LOG", "info,govcloud_operator=debug,kube=warn")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .context("starting govcloud-operator")?;
        // The watchdog: if this test process dies, the operator goes with it.
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
        self.child = Some(child);
        Ok(())
    }

    /// SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait for a graceful exit; returns the exit status's success.
    pub fn terminate(&mut self, timeout: Duration) -> Result<bool> {
        let Some(mut c) = self.child.take() else {
            return Ok(true);
        };
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status();
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(status) = c.try_wait()? {
                return Ok(status.success());
            }
            if std::time::Instant::now() > deadline {
                let _ = c.kill();
                let _ = c.wait();
                return Err(anyhow!(
                    "operator did not stop within {timeout:?}\n{}",
                    self.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Starts it again with the same flags (after `kill`).
    pub fn restart(&mut self) -> Result<()> {
        self.kill();
        self.spawn()
    }

    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// GET http://127.0.0.1:PORT/path → (status code, body). A plain HTTP/1.0 request; no
    /// client library needed for three endpoints.
    pub fn get(&self, path: &str) -> Result<(u16, String)> {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
        let mut text = String::new();
        s.read_to_string(&mut text)?;
        let code = text
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| anyhow!("bad response: {text}"))?;
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        Ok((code, body))
    }

    /// The log so far (for failure messages).
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.kill();
    }
}
