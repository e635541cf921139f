//! CPU time by process over a phase of the bench: where the machine's cores went (the API
//! server, etcd, the controller-manager, the operator, the webhook's process), read from
//! `/proc/<pid>/stat`. A diagnosis printed next to the figures: on a machine whose cores
//! are all busy, it says whose work to cut.

use std::path::Path;

/// Clock ticks per second of `/proc/<pid>/stat` (USER_HZ, 100 on Linux's common builds;
/// `getconf CLK_TCK` says otherwise where it differs).
fn ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

/// User + system CPU seconds process `pid` has used so far (0 if it is gone).
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces) in parentheses.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after ')'.
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|i| fields.get(*i).and_then(|f| f.parse::<f64>().ok()))
        .sum();
    ticks / ticks_per_second()
}

/// CPU seconds the whole machine has been busy so far (every core, every process: the
/// `cpu` line of `/proc/stat` less idle and iowait). Beside the named processes it shows
/// whether the cores were saturated, and what the unnamed ones (kubectl in a baseline,
/// the bench itself) used.
fn machine_busy_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
        return 0.0;
    };
    let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return 0.0;
    };
    let ticks: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let busy: f64 = ticks
        .iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, t)| t)
        .sum();
    busy / ticks_per_second()
}

/// The name under which [`Processes::sample`] reports the whole machine's busy time.
pub const MACHINE: &str = "machine (all processes)";

/// The processes watched, by name.
pub struct Processes(Vec<(String, u32)>);

impl Processes {
    /// The control plane's components (from its `pids/` directory) and the named others.
    pub fn of(control_plane_dir: &Path, others: &[(&str, Option<u32>)]) -> Self {
        let mut out = Vec::new();
        for name in ["etcd", "kube-apiserver", "kube-controller-manager"] {
            let pid = std::fs::read_to_string(control_plane_dir.join(format!("pids/{name}.pid")))
                .ok()
                .and_then(|p| p.trim().parse().ok());
            if let Some(pid) = pid {
                out.push((name.to_string(), pid));
            }
        }
        for (name, pid) in others {
            if let Some(pid) = pid {
                out.push((name.to_string(), *pid));
            }
        }
        Processes(out)
    }

    /// CPU seconds used so far, by process, and by the whole machine ([`MACHINE`], last).
    pub fn sample(&self) -> Vec<(String, f64)> {
        let mut out: Vec<(String, f64)> = self
            .0
            .iter()
            .map(|(name, pid)| (name.clone(), cpu_seconds(*pid)))
            .collect();
        out.push((MACHINE.to_string(), machine_busy_seconds()));
        out
    }
}

/// CPU seconds used between two samples, by process.
pub fn spent(before: &[(String, f64)], after: &[(String, f64)]) -> Vec<(String, f64)> {
    after
        .iter()
        .map(|(name, a)| {
            let b = before
                .iter()
                .find(|(n, _)| n == name)
                .map_or(0.0, |(_, b)| *b);
            (name.clone(), (a - b).max(0.0))
        })
        .collect()
}

/// `spent` as one line: `name X.X, ...`.
pub fn line(spent: &[(String, f64)]) -> String {
    spent
        .iter()
        .map(|(name, secs)| format!("{name} {secs:.1}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The CPU seconds `name` used in `spent` (0 when not watched).
pub fn of(spent: &[(String, f64)], name: &str) -> f64 {
    spent
        .iter()
        .find(|(n, _)| n == name)
        .map_or(0.0, |(_, s)| *s)
}

/// `spent` as a JSON object.
pub fn json(spent: &[(String, f64)]) -> serde_json::Value {
    spent
        .iter()
        .map(|(name, secs)| (name.clone(), serde_json::json!(secs)))
        .collect::<serde_json::Map<String, serde_json::Value>>()
        .into()
}
