//! Issue 7, item 3: chaos. While 300 approved requests are being provisioned, the operator
//! is SIGKILLed at pseudo-random moments (and started again each time). Afterwards every
//! request is Active with exactly one tenant namespace carrying its UID, no managed
//! namespace is orphaned, and no grant or quota differs from what was approved.
//!
//! Replay: every random choice (the delay before each kill, the downtime after it) comes
//! from one seed, printed at the start (`[chaos] seed N`) and in any failure message. Set
//! it to run the same kill schedule again:
//!
//! ```text
//! GOVCLOUD_CHAOS_SEED=1234 cargo test --test chaos -- --nocapture
//! ```
//!
//! Without the variable the seed comes from the clock. A seed fixes the schedule (when
//! each kill happens, how long the operator stays down), not what the operator was doing
//! at that instant: that still depends on the machine's speed.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Result, anyhow, ensure};
use futures::StreamExt;
use govcloud_operator::api::{CloudResourceRequest, RequestClass, RequestPhase};
use k8s_openapi::api::core::v1::{Namespace, ResourceQuota};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::ListParams;
use kube::{Api, Client, ResourceExt};
use support::govcloud::*;
use support::{create_namespace, unique_ns, wait_for};

const NAMESPACES: usize = 4;
const PER_NAMESPACE: usize = 75;
const TOTAL: usize = NAMESPACES * PER_NAMESPACE;
const MIN_KILLS: usize = 5;

/// The environment variable that fixes the seed (see the module doc).
const SEED_VAR: &str = "GOVCLOUD_CHAOS_SEED";

/// The seed: `GOVCLOUD_CHAOS_SEED` if set (a bad value is an error, not a silent clock
/// seed), else the clock.
fn seed() -> Result<u64> {
    match std::env::var(SEED_VAR) {
        Ok(v) => v
            .trim()
            .parse()
            .map_err(|e| anyhow!("{SEED_VAR}={v:?} is not a u64 seed: {e}")),
        Err(_) => Ok(SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos() as u64),
    }
}

/// A small pseudo-random generator (an LCG): the test's only source of randomness.
struct Lcg(u64);
impl Lcg {
    fn below(&mut self, max: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % max
    }
}

fn cpu_of(i: usize) -> String {
    (i % 4 + 1).to_string()
}

async fn list_requests(
    client: &Client,
    namespaces: &[String],
) -> Result<Vec<CloudResourceRequest>> {
    let mut all = Vec::new();
    for ns in namespaces {
        all.extend(
            Api::<CloudResourceRequest>::namespaced(client.clone(), ns)
                .list(&ListParams::default())
                .await?
                .items,
        );
    }
    Ok(all)
}

fn active(list: &[CloudResourceRequest]) -> usize {
    list.iter()
        .filter(|r| r.status.as_ref().and_then(|s| s.phase) == Some(RequestPhase::Active))
        .count()
}

#[tokio::test]
async fn sigkilled_while_provisioning_300_requests_it_converges_exactly() -> Result<()> {
    let seed = seed()?;
    println!("[chaos] seed {seed} (replay: {SEED_VAR}={seed})");
    eprintln!("[chaos] seed {seed} (replay: {SEED_VAR}={seed})");
    converges_after_kills(seed)
        .await
        .map_err(|e| anyhow!("{e:#}\n[chaos] seed {seed}; replay with {SEED_VAR}={seed}"))
}

async fn converges_after_kills(seed: u64) -> Result<()> {
    let started = Instant::now();
    let cp = installed(&["--max-requeue-seconds", "10"]).await?;
    let admin = cp.admin().await?;
    let policy = unique_ns("chaos-policy");
    // Long review and provisioning periods: nothing expires or goes overdue during the test.
    fast_policy(&admin, &policy, |p| {
        p["review"] = serde_json::json!({"acceptWithin": "3600s", "decideWithin": "3600s"});
        p["provisioning"] = serde_json::json!({"within": "3600s"});
        p["deployment"] = serde_json::json!({"within": "3600s"});
    })
    .await?;
    let namespaces: Vec<String> = (0..NAMESPACES)
        .map(|i| unique_ns(&format!("chaos-{i}")))
        .collect();
    for ns in &namespaces {
        create_namespace(&admin, ns).await?;
    }
    let mut rng = Lcg(seed);

    // File then approve every request, 16 at a time.
    let filed = AtomicUsize::new(0);
    let filing_done = AtomicBool::new(false);
    let jobs: Vec<(String, usize)> = namespaces
        .iter()
        .flat_map(|ns| (0..PER_NAMESPACE).map(move |i| (ns.clone(), i)))
        .collect();
    let filing = async {
        let results: Vec<Result<()>> = futures::stream::iter(jobs)
            .map(|(ns, i)| {
                let admin = admin.clone();
                let policy = policy.clone();
                let filed = &filed;
                async move {
                    let name = format!("system-{i:03}");
                    file(
                        &admin,
                        &ns,
                        &name,
                        request_spec(&policy, RequestClass::Production, &cpu_of(i)),
                    )
                    .await
                    .map_err(|e| anyhow!("filing {ns}/{name}: {e:#}"))?;
                    decide(cp, &ns, &name, "Approved", "chaos")
                        .await
                        .map_err(|e| anyhow!("approving {ns}/{name}: {e:#}"))?;
                    filed.fetch_add(1, Ordering::Relaxed);
                    Ok(())
                }
            })
            .buffer_unordered(16)
            .collect()
            .await;
        filing_done.store(true, Ordering::Release);
        results.into_iter().collect::<Result<Vec<()>>>()
    };

    // Meanwhile: SIGKILL at pseudo-random moments while provisioning is under way.
    let chaos = async {
        let mut kills = Vec::new(); // (seconds since start, filed, active) at each kill
        loop {
            // Both draws happen every round, in this order, so a seed fixes the schedule.
            let pause_ms = 1_000 + rng.below(4_000);
            let down_ms = rng.below(1_000);
            tokio::time::sleep(Duration::from_millis(pause_ms)).await;
            let list = list_requests(&admin, &namespaces).await?;
            let now_active = active(&list);
            let now_filed = filed.load(Ordering::Relaxed);
            if filing_done.load(Ordering::Acquire) && now_active == TOTAL {
                break; // all done: a kill now would not be "while provisioning"
            }
            with_operator(|o| o.kill());
            kills.push((started.elapsed().as_secs_f64(), now_filed, now_active));
            println!(
                "[chaos] kill {} at {:.1}s (after a {pause_ms} ms pause; down {down_ms} ms): {now_filed} filed, {now_active} active",
                kills.len(),
                started.elapsed().as_secs_f64()
            );
            tokio::time::sleep(Duration::from_millis(down_ms)).await;
            with_operator(|o| o.restart()).transpose()?;
            if kills.len() > MIN_KILLS {
                break;
            }
        }
        anyhow::Ok(kills)
    };
    let (filing, kills) = tokio::join!(filing, chaos);
    filing?;
    let kills = kills?;
    ensure!(
        kills.len() >= MIN_KILLS,
        "only {} kills happened before everything was Active: {kills:?}",
        kills.len()
    );
    let filed_at = started.elapsed();

    // Everything converges.
    let admin2 = admin.clone();
    let ns2 = namespaces.clone();
    let last = std::sync::Mutex::new(0usize);
    wait_for(
        // slowest seen 59.1 s (four runs: 25.9–59.1 s); 5× margin
        Duration::from_secs(480),
        format!("all {TOTAL} requests Active"),
        || {
            let admin = admin2.clone();
            let namespaces = ns2.clone();
            let last = &last;
            async move {
                let n = active(&list_requests(&admin, &namespaces).await?);
                let mut l = last.lock().unwrap_or_else(|p| p.into_inner());
                if n != *l {
                    *l = n;
                    eprintln!("[chaos] {n}/{TOTAL} active");
                }
                Ok((n == TOTAL).then_some(()))
            }
        },
    )
    .await
    .map_err(|e| anyhow!("{e}\n--- operator log ---\n{}", operator_log()))?;
    let converged_at = started.elapsed();
    ensure!(
        with_operator(|o| o.running()).unwrap_or(false),
        "the operator is not running"
    );

    // Exactly one tenant namespace per request, owned by its UID; no orphans anywhere.
    let requests = list_requests(&admin, &namespaces).await?;
    ensure!(requests.len() == TOTAL, "{} requests", requests.len());
    let by_key: BTreeMap<(String, String), &CloudResourceRequest> = requests
        .iter()
        .map(|r| ((r.namespace().unwrap_or_default(), r.name_any()), r))
        .collect();
    let managed = Api::<Namespace>::all(admin.clone())
        .list(&ListParams::default().labels("govcloud.io/managed=true"))
        .await?
        .items;
    let mut owned: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    let mut problems = Vec::new();
    for n in &managed {
        let labels = n.labels();
        let key = (
            labels
                .get("govcloud.io/request-namespace")
                .cloned()
                .unwrap_or_default(),
            labels
                .get("govcloud.io/request-name")
                .cloned()
                .unwrap_or_default(),
        );
        let owner = n.annotations().get("govcloud.io/owner-uid").cloned();
        if !namespaces.contains(&key.0) {
            // another test's request (none in this binary): it must still exist
            let exists = Api::<CloudResourceRequest>::namespaced(admin.clone(), &key.0)
                .get_opt(&key.1)
                .await?
                .is_some();
            if !exists {
                problems.push(format!("orphan {} → {key:?}", n.name_any()));
            }
            continue;
        }
        match by_key.get(&key) {
            None => problems.push(format!("orphan {} → {key:?}", n.name_any())),
            Some(r) if r.metadata.uid != owner => problems.push(format!(
                "{} owner-uid {owner:?}, request {key:?} has {:?}",
                n.name_any(),
                r.metadata.uid
            )),
            Some(_) => owned.entry(key).or_default().push(n.name_any()),
        }
    }
    let quotas: BTreeMap<String, ResourceQuota> = Api::<ResourceQuota>::all(admin.clone())
        .list(&ListParams::default().fields("metadata.name=govcloud-grant"))
        .await?
        .items
        .into_iter()
        .map(|q| (q.namespace().unwrap_or_default(), q))
        .collect();
    let mut tenants = BTreeSet::new();
    for (key, r) in &by_key {
        let st = r.status.clone().unwrap_or_default();
        let tenant = st.tenant_namespace.clone().unwrap_or_default();
        match owned.get(key).map(Vec::as_slice) {
            Some([one]) if *one == tenant => {}
            other => problems.push(format!(
                "{key:?}: status.tenantNamespace {tenant:?}, managed namespaces {other:?}"
            )),
        }
        if !tenants.insert(tenant.clone()) {
            problems.push(format!("{key:?}: tenant {tenant} shared"));
        }
        if st.grant.as_ref() != Some(&r.spec.resources) {
            problems.push(format!(
                "{key:?}: grant {:?} differs from the approved {:?}",
                st.grant, r.spec.resources
            ));
        }
        let want_cpu = match &r.spec.resources.cpu {
            Some(IntOrString::String(s)) => s.clone(),
            Some(IntOrString::Int(i)) => i.to_string(),
            None => String::new(),
        };
        let hard_cpu = quotas
            .get(&tenant)
            .and_then(|q| q.spec.as_ref())
            .and_then(|s| s.hard.as_ref())
            .and_then(|h| h.get("requests.cpu"))
            .map(|q| q.0.clone());
        if hard_cpu.as_deref() != Some(want_cpu.as_str()) {
            problems.push(format!(
                "{key:?}: quota govcloud-grant requests.cpu {hard_cpu:?}, granted {want_cpu}"
            ));
        }
    }
    // No restart ever judged a request before its policy was loaded (which would have
    // marked it Invalid for a "missing" policy, however briefly).
    for ns in &namespaces {
        let invalid = Api::<k8s_openapi::api::core::v1::Event>::namespaced(admin.clone(), ns)
            .list(&ListParams::default().fields("reason=Invalid"))
            .await?
            .items;
        for e in invalid {
            problems.push(format!(
                "{ns}/{}: Invalid Event: {}",
                e.involved_object.name.unwrap_or_default(),
                e.message.unwrap_or_default()
            ));
        }
    }
    let log =
        with_operator(|o| std::fs::read_to_string(&o.log).unwrap_or_default()).unwrap_or_default();
    if log.contains("panicked") {
        problems.push("the operator panicked".into());
    }
    println!(
        "[chaos] {TOTAL} requests, {} kills {:?}; filed and approved in {:.1}s, all Active at {:.1}s; {} managed namespaces checked",
        kills.len(),
        kills
            .iter()
            .map(|(t, f, a)| format!("{t:.0}s:{f}/{a}"))
            .collect::<Vec<_>>(),
        filed_at.as_secs_f64(),
        converged_at.as_secs_f64(),
        managed.len()
    );
    ensure!(
        problems.is_empty(),
        "{} problems:\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
    Ok(())
}
