//! Scale benchmark against the local real control plane. Prints a table and JSON:
//!
//! - the N requests are filed under a shipped preset (`examples/policies/shanghai.yaml`,
//!   as users run it) with its capacity pool sized to fit N, so every grant passes the
//!   pool's reservation;
//! - time until N approved requests are all Active, against two baselines measured in the
//!   same run: applying the same child objects with one sequential
//!   `kubectl apply --server-side`, and with the same objects split over 4 parallel kubectl
//!   processes;
//! - approval-to-Active latency of single requests filed one by one while the N others
//!   exist (p50/p99);
//! - API requests per request, by verb, and record writes (GovCloudRecords created, SN 31)
//!   per request, from `govcloud_records_written_total`;
//! - the operator's peak RSS;
//! - the API requests the operator made, by verb;
//! - when it settled (every request has its first allocation figures, and writes have
//!   stopped), and its writes during a quiet period after that
//!   (Lease renewals excluded: they are leader election, not object writes);
//! - a cold restart: time until every request was reconciled again, and its writes.
//!
//! `scripts/bench [--requests N] [--quiet-seconds S] [--json PATH]`; defaults 1000, 300.

#[path = "scale/admission.rs"]
mod admission;
#[path = "scale/cpu.rs"]
mod cpu;
#[path = "scale/probe.rs"]
mod probe;
#[path = "../tests/support/mod.rs"]
mod support;
#[path = "scale/workload.rs"]
mod workload;

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use anyhow::Result;
use futures::StreamExt;
use govcloud_operator::api::{CloudResourceRequest, RequestClass, RequestPhase};
use kube::runtime::watcher;
use kube::{Api, ResourceExt};
use probe::*;
use support::govcloud::{decide, file, installed, request_spec, with_operator};
use workload::{apply_baseline, percentile, shipped_preset_with_pool, single_request_latencies};

/// The policy the N requests are filed under: the Shanghai preset, as shipped.
const BENCH_POLICY: &str = "shanghai";
/// kubectl processes of the parallel baseline.
const PARALLEL: usize = 4;
/// Single requests timed from approval to Active.
const LATENCY_SAMPLES: usize = 20;
/// How many of the N requests are Active, and how many have their first measurement.
#[derive(Debug, Clone, Copy, Default)]
struct Progress {
    active: usize,
    measured: usize,
}

/// The operator has settled when its writes have stopped for this long.
const SETTLE: Duration = Duration::from_secs(10);

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let a = args();
    let n = a.requests;
    eprintln!("[bench] {n} requests, quiet period {}s", a.quiet);
    let cp = support::control_plane()?;

    // Baselines: the same child objects, applied directly, first by one kubectl process,
    // then split over PARALLEL processes (what a careful script would do).
    // Their CPU seconds are read like the operator's run below: with the cores
    // saturated, the ratio of the API server's seconds per request is the floor of the
    // throughput ratio, whatever the operator does with its own time.
    let control_plane = cpu::Processes::of(cp.dir(), &[]);
    let before = control_plane.sample();
    let baseline = apply_baseline(cp, n, "baseline", 1).await?;
    let cpu_sequential = cpu::spent(&before, &control_plane.sample());
    eprintln!(
        "[bench] sequential baseline: {:.1}s; CPU seconds: {}",
        baseline.as_secs_f64(),
        cpu::line(&cpu_sequential)
    );
    let before = control_plane.sample();
    let parallel_baseline = apply_baseline(cp, n, "parallel", PARALLEL).await?;
    let cpu_parallel = cpu::spent(&before, &control_plane.sample());
    eprintln!(
        "[bench] {PARALLEL}-way parallel baseline: {:.1}s; CPU seconds: {}",
        parallel_baseline.as_secs_f64(),
        cpu::line(&cpu_parallel)
    );
    tokio::time::sleep(Duration::from_secs(5)).await;

    // The operator: N requests filed and approved while it is stopped (set-up, timed
    // separately), then a fresh operator process is started and timed until every request
    // is Active: the same work as the baseline (the children of N tenants) plus the
    // operator's own (finalizers, status, Events), and its start-up.
    installed(&[]).await?;
    let webhook = admission::start(cp).await?;
    let admin = cp.admin().await?;
    shipped_preset_with_pool(&admin, n).await?;
    let namespaces: Vec<String> = (0..n.div_ceil(100))
        .map(|i| format!("bench-{i:03}"))
        .collect();
    for ns in &namespaces {
        support::create_namespace(&admin, ns).await?;
    }
    with_operator(|o| o.terminate(Duration::from_secs(30))).transpose()?;
    let filing = Instant::now();
    let jobs = (0..n).map(|i| {
        let (admin, ns) = (admin.clone(), namespaces[i / 100].clone());
        async move {
            let name = format!("system-{i:05}");
            file(
                &admin,
                &ns,
                &name,
                request_spec(BENCH_POLICY, RequestClass::Production, "1"),
            )
            .await?;
            decide(cp, &ns, &name, "Approved", "").await
        }
    });
    let results: Vec<Result<()>> = futures::stream::iter(jobs)
        .buffer_unordered(32)
        .collect()
        .await;
    results.into_iter().collect::<Result<Vec<()>>>()?;
    let filed = filing.elapsed();
    eprintln!(
        "[bench] filed and approved {n} requests in {:.1}s",
        filed.as_secs_f64()
    );

    // Active requests, and those with their first measurement, are counted from a watch,
    // not by listing N objects again and again (which would compete with the operator for
    // the API server).
    let api: Api<CloudResourceRequest> = Api::all(admin.clone());
    let (active_tx, mut active_rx) = tokio::sync::watch::channel(Progress::default());
    let counter = tokio::spawn(async move {
        let (mut active, mut measured) = (HashSet::new(), HashSet::new());
        let mut events = std::pin::pin!(watcher(api, watcher::Config::default()));
        while let Some(event) = events.next().await {
            let (watcher::Event::Apply(r) | watcher::Event::InitApply(r)) = (match event {
                Ok(e) => e,
                Err(_) => continue,
            }) else {
                continue;
            };
            let key = (r.namespace().unwrap_or_default(), r.name_any());
            let status = r.status.as_ref();
            if status.and_then(|s| s.phase) == Some(RequestPhase::Active) {
                active.insert(key.clone());
            } else {
                active.remove(&key);
            }
            if status.and_then(|s| s.utilization.as_ref()).is_some() {
                measured.insert(key);
            } else {
                measured.remove(&key);
            }
            let _ = active_tx.send(Progress {
                active: active.len(),
                measured: measured.len(),
            });
        }
    });
    let started = Instant::now();
    with_operator(|o| o.restart()).transpose()?;
    let processes = cpu::Processes::of(
        cp.dir(),
        &[
            ("operator", with_operator(|o| o.pid()).flatten()),
            ("webhook", webhook.pid()),
        ],
    );
    let cpu_at_start = processes.sample();
    let mut peak_rss = 0;
    while active_rx.borrow_and_update().active < n {
        peak_rss = peak_rss.max(peak_rss_kib());
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(3600),
            "only {}/{n} Active after an hour",
            active_rx.borrow().active
        );
        let _ = tokio::time::timeout(Duration::from_millis(500), active_rx.changed()).await;
    }
    let to_active = started.elapsed();
    eprintln!("[bench] all Active in {:.1}s", to_active.as_secs_f64());
    let cpu_to_active = cpu::spent(&cpu_at_start, &processes.sample());
    eprintln!(
        "[bench] CPU seconds until all Active ({:.1} s of wall time, 2 cores): {}",
        to_active.as_secs_f64(),
        cpu::line(&cpu_to_active)
    );

    // Settling: after the last request turns Active the operator still records each
    // tenant's first allocation figures, 30 s after it turned Active once the quota
    // controller has filled in the quota's `status.used` (minutes late at 10,000
    // namespaces). Convergence is when every request has them and the writes have stopped
    // for SETTLE; the quiet period starts then.
    let mut last = writes(&api_requests());
    let mut still_since = Instant::now();
    while still_since.elapsed() < SETTLE || active_rx.borrow().measured < n {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(3600),
            "not converged after an hour: {}/{n} measured",
            active_rx.borrow().measured
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        peak_rss = peak_rss.max(peak_rss_kib());
        let now = writes(&api_requests());
        if now != last {
            (last, still_since) = (now, Instant::now());
        }
    }
    counter.abort();
    let settled = started.elapsed().saturating_sub(SETTLE);
    eprintln!(
        "[bench] settled (last write) at {:.1}s",
        settled.as_secs_f64()
    );
    let converged = api_requests();
    let converged_records = records_written();

    // Single requests while the N others exist: approval to Active, one at a time.
    let latencies = single_request_latencies(cp, &admin, &namespaces[0], LATENCY_SAMPLES).await?;
    let (p50, p99) = (percentile(&latencies, 50), percentile(&latencies, 99));
    eprintln!(
        "[bench] single request approval→Active: p50 {:.0} ms, p99 {:.0} ms",
        p50.as_secs_f64() * 1000.0,
        p99.as_secs_f64() * 1000.0
    );
    // Let the single requests' allocation figures land before the quiet period starts: a
    // tenant is first measured 30 s after it turns Active (FIRST_MEASUREMENT_AFTER), once
    // its quota shows what is used — a write of convergence, not of a quiet cluster.
    let requests: Api<CloudResourceRequest> = Api::namespaced(admin.clone(), &namespaces[0]);
    let measuring = Instant::now();
    loop {
        let unmeasured = requests
            .list(&Default::default())
            .await?
            .into_iter()
            .filter(|r| {
                r.metadata
                    .name
                    .as_deref()
                    .is_some_and(|n| n.starts_with("single-"))
            })
            .filter(|r| {
                r.status
                    .as_ref()
                    .and_then(|s| s.utilization.as_ref())
                    .is_none()
            })
            .count();
        if unmeasured == 0 || measuring.elapsed() > Duration::from_secs(180) {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let mut last = writes(&api_requests());
    let mut still_since = Instant::now();
    while still_since.elapsed() < SETTLE {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = writes(&api_requests());
        if now != last {
            (last, still_since) = (now, Instant::now());
        }
    }

    // Quiet period.
    let quiet_start = api_requests();
    let before = writes(&quiet_start);
    tokio::time::sleep(Duration::from_secs(a.quiet)).await;
    peak_rss = peak_rss.max(peak_rss_kib());
    let quiet_rss = rss_kib();
    let after_quiet = api_requests();
    let quiet_writes = writes(&after_quiet) - before;
    if quiet_writes > 0 {
        // Which writes broke the quiet, by verb and resource (a diagnosis, not a figure).
        for ((verb, resource), n) in &after_quiet {
            let was = quiet_start.get(&(verb.clone(), resource.clone())).copied();
            let grew = n - was.unwrap_or(0);
            if grew > 0 && is_write(verb, resource) {
                eprintln!("[bench] quiet-period writes: {grew} {verb} {resource}");
            }
        }
    }

    // Cold restart: a new process passes over every request.
    with_operator(|o| o.terminate(Duration::from_secs(30))).transpose()?;
    let restarted = Instant::now();
    with_operator(|o| o.restart()).transpose()?;
    while reconciles() < n as u64 {
        anyhow::ensure!(
            restarted.elapsed() < Duration::from_secs(1800),
            "restart pass incomplete"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let restart_pass = restarted.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after_restart = api_requests();
    let restart_records = records_written();
    let restart_writes = writes(&after_restart);
    let restart_rss = peak_rss_kib();
    let restart_loaded = stores_loaded_seconds();
    // Which watch the restart waited on (a diagnosis, not a figure).
    for line in first_lists_of_last_start() {
        eprintln!("[bench] restart: {line}");
    }

    // Report.
    let ratio = to_active.as_secs_f64() / baseline.as_secs_f64().max(0.001);
    let parallel_ratio = to_active.as_secs_f64() / parallel_baseline.as_secs_f64().max(0.001);
    let rss_target_mib = if n <= 1000 { 60 } else { 120 };
    let restart_target = Duration::from_secs(10);
    let mut by_verb: BTreeMap<String, u64> = BTreeMap::new();
    for ((verb, _), count) in &converged {
        *by_verb.entry(verb.clone()).or_default() += count;
    }
    let per_request: BTreeMap<String, String> = by_verb
        .iter()
        .map(|(verb, count)| (verb.clone(), format!("{:.2}", *count as f64 / n as f64)))
        .collect();
    // Part of the creates above: one per recorded step (SN 31).
    let records_per_request = converged_records as f64 / n as f64;
    let met = |ok: bool| if ok { "met" } else { "NOT met" };
    // The API server's CPU per request in each of the three runs.
    let apiserver_ms =
        |spent: &[(String, f64)]| cpu::of(spent, "kube-apiserver") * 1000.0 / n as f64;
    let mut rows = vec![
        ("requests", n.to_string(), String::new()),
        (
            "set-up: filed and approved (not timed)",
            format!("{:.1} s", filed.as_secs_f64()),
            String::new(),
        ),
        (
            "baseline: sequential kubectl apply --server-side",
            format!("{:.1} s", baseline.as_secs_f64()),
            String::new(),
        ),
        (
            "baseline: 4 parallel kubectl processes",
            format!("{:.1} s", parallel_baseline.as_secs_f64()),
            String::new(),
        ),
        (
            "operator: all Active",
            format!("{:.1} s", to_active.as_secs_f64()),
            String::new(),
        ),
        (
            "operator: settled (last write)",
            format!("{:.1} s", settled.as_secs_f64()),
            String::new(),
        ),
        (
            "ratio operator / sequential baseline",
            format!("{ratio:.2}"),
            format!("≤ 0.80: {}", met(ratio <= 0.8)),
        ),
        (
            "ratio operator / parallel baseline",
            format!("{parallel_ratio:.2}"),
            format!("≤ 1.50: {}", met(parallel_ratio <= 1.5)),
        ),
        (
            "API server CPU per request: sequential / parallel / operator",
            format!(
                "{:.1} / {:.1} / {:.1} ms",
                apiserver_ms(&cpu_sequential),
                apiserver_ms(&cpu_parallel),
                apiserver_ms(&cpu_to_active)
            ),
            String::new(),
        ),
        (
            "single request approval→Active p50",
            format!("{:.0} ms", p50.as_secs_f64() * 1000.0),
            String::new(),
        ),
        (
            "single request approval→Active p99",
            format!("{:.0} ms", p99.as_secs_f64() * 1000.0),
            format!("≤ 1000 ms: {}", met(p99 <= Duration::from_secs(1))),
        ),
        (
            "peak RSS",
            format!("{:.1} MiB", peak_rss.max(restart_rss) as f64 / 1024.0),
            format!(
                "≤ {rss_target_mib} MiB: {}",
                met(peak_rss.max(restart_rss) <= rss_target_mib * 1024)
            ),
        ),
        (
            "RSS after the quiet period / peak of the first run / of the restart",
            format!(
                "{:.1} / {:.1} / {:.1} MiB",
                quiet_rss as f64 / 1024.0,
                peak_rss as f64 / 1024.0,
                restart_rss as f64 / 1024.0
            ),
            String::new(),
        ),
        (
            "API requests per request until settled",
            format!("{per_request:?}"),
            String::new(),
        ),
        (
            "record writes per request until settled",
            format!("{records_per_request:.2} ({converged_records})"),
            String::new(),
        ),
        (
            "writes in the quiet period",
            format!("{quiet_writes} in {} s", a.quiet),
            format!("= 0: {}", met(quiet_writes == 0)),
        ),
        (
            "cold restart pass",
            format!("{:.1} s", restart_pass.as_secs_f64()),
            format!("≤ 10 s: {}", met(restart_pass <= restart_target)),
        ),
        (
            "of which loading the stores (every watch listed)",
            format!("{restart_loaded:.1} s"),
            String::new(),
        ),
        (
            "writes in the restart pass",
            restart_writes.to_string(),
            format!("= 0: {}", met(restart_writes == 0)),
        ),
        (
            "record writes in the restart pass",
            restart_records.to_string(),
            // Exactly once: a restart records no step twice.
            format!("= 0: {}", met(restart_records == 0)),
        ),
    ];
    let (adm50, adm99, admissions) = admission::latency(&webhook)?;
    rows.push((
        "admission p50 / p99 (bucket bounds)",
        format!("{adm50:.1} / {adm99:.1} ms of {admissions}"),
        format!("p99 ≤ 10 ms: {}", met(adm99 <= 10.0)),
    ));
    println!("\n{:<48} {:>28}  target", "measure", "value");
    for (k, v, target) in &rows {
        println!("{k:<48} {v:>28}  {target}");
    }
    let json = serde_json::json!({
        "requests": n,
        "filing_seconds": filed.as_secs_f64(),
        "baseline_seconds": baseline.as_secs_f64(),
        "parallel_baseline_seconds": parallel_baseline.as_secs_f64(),
        "parallel_ratio": parallel_ratio,
        "single_request_p50_ms": p50.as_secs_f64() * 1000.0,
        "single_request_p99_ms": p99.as_secs_f64() * 1000.0,
        "api_requests_per_request_by_verb": per_request,
        "records_written_per_request": records_per_request,
        "records_written": converged_records,
        "operator_seconds": to_active.as_secs_f64(),
        "settled_seconds": settled.as_secs_f64(),
        "ratio": ratio,
        "peak_rss_kib": peak_rss.max(restart_rss),
        "quiet_rss_kib": quiet_rss,
        "api_requests_by_verb": by_verb,
        "api_requests": converged.iter().map(|((v, r), c)| serde_json::json!({"verb": v, "resource": r, "count": c})).collect::<Vec<_>>(),
        "quiet_seconds": a.quiet,
        "quiet_writes": quiet_writes,
        "cpu_seconds_to_active": cpu::json(&cpu_to_active),
        "cpu_seconds_sequential_baseline": cpu::json(&cpu_sequential),
        "cpu_seconds_parallel_baseline": cpu::json(&cpu_parallel),
        "apiserver_cpu_ms_per_request": {
            "sequential_baseline": apiserver_ms(&cpu_sequential),
            "parallel_baseline": apiserver_ms(&cpu_parallel),
            "operator_to_active": apiserver_ms(&cpu_to_active),
        },
        "restart_pass_seconds": restart_pass.as_secs_f64(),
        "restart_stores_loaded_seconds": restart_loaded,
        "restart_writes": restart_writes,
        "restart_records_written": restart_records,
        "admission_p50_ms": adm50,
        "admission_p99_ms": adm99,
        "admissions": admissions,
        "restart_api_requests": after_restart.iter().map(|((v, r), c)| serde_json::json!({"verb": v, "resource": r, "count": c})).collect::<Vec<_>>(),
    });
    println!("{}", serde_json::to_string_pretty(&json)?);
    if let Some(path) = a.json {
        std::fs::write(path, serde_json::to_string_pretty(&json)?)?;
    }
    Ok(())
}
