//! The bench's workload: the baselines' child objects and their kubectl runs, the shipped
//! preset with its pool, and the single requests timed from approval to Active.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use futures::StreamExt;
use govcloud_operator::api::{CloudResourceRequest, RequestClass, RequestPhase};
use kube::Api;
use kube::runtime::watcher;

use super::support::{
    self,
    govcloud::{decide, file, request_spec},
};
use super::{BENCH_POLICY, LATENCY_SAMPLES};

/// The child objects of the tenants `tenants`, as the operator writes them. The namespaces
/// carry no `govcloud.io/managed` label: the API server's work is the same, and the
/// operator's namespace watch (which selects that label) does not hold the baselines' 2N
/// namespaces, which would inflate its memory and count as tenants without a request.
fn baseline_yaml(tenants: std::ops::Range<usize>, prefix: &str) -> String {
    let mut y = String::new();
    for i in tenants {
        let ns = format!("{prefix}-{i:05}");
        let _ = write!(
            y,
            "---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n\
---\napiVersion: v1\nkind: ResourceQuota\nmetadata: {{name: govcloud-grant, namespace: {ns}}}\nspec: {{hard: {{requests.cpu: \"1\", limits.cpu: \"1\", requests.memory: 8Gi, limits.memory: 8Gi, requests.storage: \"0\", requests.nvidia.com/gpu: \"0\", services.loadbalancers: \"0\", services.nodeports: \"0\"}}}}\n\
---\napiVersion: v1\nkind: LimitRange\nmetadata: {{name: govcloud-defaults, namespace: {ns}}}\nspec: {{limits: [{{type: Container, default: {{cpu: 500m, memory: 512Mi}}, defaultRequest: {{cpu: 100m, memory: 128Mi}}}}]}}\n\
---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: govcloud-tenant, namespace: {ns}}}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: govcloud-tenant}}\nsubjects: [{{apiGroup: rbac.authorization.k8s.io, kind: Group, name: \"unit-finance:ops\"}}]\n\
---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: govcloud-isolation, namespace: {ns}}}\nspec: {{podSelector: {{}}, policyTypes: [Ingress], ingress: [{{from: [{{podSelector: {{}}}}]}}]}}\n"
        );
    }
    y
}

/// Applies the baseline's child objects for `n` tenants named `{prefix}-NNNNN`, split over
/// `processes` kubectl processes running at once; returns the wall time.
pub async fn apply_baseline(
    cp: &support::ControlPlane,
    n: usize,
    prefix: &str,
    processes: usize,
) -> Result<Duration> {
    let per_process = n.div_ceil(processes.max(1));
    let mut files = Vec::new();
    for p in 0..processes.max(1) {
        let (from, to) = (p * per_process, ((p + 1) * per_process).min(n));
        if from >= to {
            break;
        }
        let path = cp.dir().join(format!("{prefix}-{p}.yaml"));
        std::fs::write(&path, baseline_yaml(from..to, prefix))?;
        files.push(path);
    }
    let t = Instant::now();
    let children = files
        .iter()
        .map(|path| {
            cp.kubectl_as(support::Identity::Admin)
                .args(["apply", "--server-side", "--field-manager=bench", "-f"])
                .arg(path)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .context("kubectl apply")
        })
        .collect::<Result<Vec<_>>>()?;
    for child in children {
        let out = child.wait_with_output()?;
        anyhow::ensure!(
            out.status.success(),
            "baseline apply failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(t.elapsed())
}

/// Installs the shipped Shanghai preset as it is in `examples/policies/`, except its
/// capacity pool, sized to fit the N requests and the latency samples (1 vCPU and 8 GiB
/// each) with 10 % to spare: the pool is what users run, and every grant reserves from it.
pub async fn shipped_preset_with_pool(admin: &kube::Client, n: usize) -> Result<()> {
    let path = support::repo_root().join(format!("examples/policies/{BENCH_POLICY}.yaml"));
    let mut doc: serde_json::Value =
        serde_yaml::from_str(&std::fs::read_to_string(&path).context("reading the preset")?)?;
    let tenants = (n + LATENCY_SAMPLES) * 11 / 10 + 1;
    anyhow::ensure!(
        doc["spec"]["capacity"].is_object(),
        "{} has no capacity pool",
        path.display()
    );
    doc["spec"]["capacity"] = serde_json::json!({
        "cpu": tenants.to_string(),
        "memory": format!("{}Gi", tenants * 8),
    });
    support::apply_yaml(admin, &serde_yaml::to_string(&doc)?, None).await?;
    Ok(())
}

/// Files `samples` requests one at a time in `ns`, each approved once it is Submitted, and
/// returns for each the time from the approval to a watch seeing it Active.
pub async fn single_request_latencies(
    cp: &support::ControlPlane,
    admin: &kube::Client,
    ns: &str,
    samples: usize,
) -> Result<Vec<Duration>> {
    let api: Api<CloudResourceRequest> = Api::namespaced(admin.clone(), ns);
    let mut latencies = Vec::with_capacity(samples);
    for i in 0..samples {
        let name = format!("single-{i:02}");
        file(
            admin,
            ns,
            &name,
            request_spec(BENCH_POLICY, RequestClass::Production, "1"),
        )
        .await?;
        support::govcloud::wait_phase(
            admin,
            ns,
            &name,
            RequestPhase::Submitted,
            Duration::from_secs(60),
        )
        .await?;
        let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
        let mut events = std::pin::pin!(watcher(api.clone(), config));
        // The watch is running (its initial list is in) before the approval is sent.
        while let Some(event) = events.next().await {
            if matches!(event, Ok(watcher::Event::InitDone)) {
                break;
            }
        }
        let approved = Instant::now();
        decide(cp, ns, &name, "Approved", "").await?;
        let active = tokio::time::timeout(Duration::from_secs(120), async {
            while let Some(event) = events.next().await {
                if let Ok(watcher::Event::Apply(r)) = event
                    && r.status.as_ref().and_then(|s| s.phase) == Some(RequestPhase::Active)
                {
                    return Ok(approved.elapsed());
                }
            }
            anyhow::bail!("the watch of {ns}/{name} ended")
        })
        .await
        .with_context(|| format!("{ns}/{name} not Active within 120 s"))??;
        latencies.push(active);
    }
    Ok(latencies)
}

/// The `p`th percentile (nearest rank) of `samples`.
pub fn percentile(samples: &[Duration], p: usize) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p * sorted.len()).div_ceil(100).clamp(1, sorted.len());
    sorted[rank - 1]
}
