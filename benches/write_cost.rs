//! What one write of each kind costs the control plane (issue 11): CPU milliseconds of the
//! API server, of etcd and of the whole machine per write. The scale bench says the API
//! server's CPU is the bound of the throughput targets on a small machine; this says what
//! each of the writes a request costs adds to it, next to a tenant child's.
//!
//! Against its own control plane (the webhook registered as in the scale bench, a second
//! operator process serving it), it files N requests under the shipped Shanghai preset
//! and lets the operator take them to Active, stops the operator, then makes N writes of one
//! kind at a time, 16 at once, as the operator would:
//! - tenant children: a Namespace created, a ResourceQuota applied (server-side) into it;
//! - a request's status applied (server-side, the operator's field manager, through the
//!   mutating and validating webhooks), changing one condition's message: most of the
//!   operator's status writes change a few fields, and the server's work is the whole
//!   stored object's either way;
//! - a request's metadata merge-patched (as the finalizer was added before the webhook did
//!   it at create);
//! - a GovCloudRecord created (through the records webhook), copied from one the operator
//!   wrote;
//! - an Event (`events.k8s.io/v1`) created, copied from one the operator published;
//! - the rules recorded with a grant as one JSON text (as written now) against the object
//!   earlier releases wrote (an Active request's status applied to fresh requests), and,
//!   last, a status write with the webhook configurations removed (what the two admission
//!   reviews of a request's write cost).
//!
//! `cargo bench --bench write_cost [-- --requests N]`; default 500. The figures are CPU
//! time, so they compare across runs better than wall times on a machine of varying speed,
//! but not across machines.

#[path = "scale/admission.rs"]
mod admission;
#[path = "scale/cpu.rs"]
mod cpu;
#[path = "../tests/support/mod.rs"]
mod support;

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use futures::StreamExt;
use govcloud_operator::api::{CloudResourceRequest, GovCloudRecord, RequestClass, RequestPhase};
use k8s_openapi::api::core::v1::ResourceQuota;
use k8s_openapi::api::events::v1::Event;
use kube::api::{ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use support::govcloud::{decide, file, installed, request_spec, with_operator};

/// Writes in flight at once in each phase.
const WRITERS: usize = 16;
/// The operator's field manager (`src/controller/mod.rs`).
const OPERATOR_MANAGER: &str = "govcloud.io/operator";

/// One phase's figures.
struct Phase {
    name: &'static str,
    writes: usize,
    seconds: f64,
    spent: Vec<(String, f64)>,
}

impl Phase {
    fn ms_per_write(&self, process: &str) -> f64 {
        cpu::of(&self.spent, process) * 1000.0 / self.writes.max(1) as f64
    }
}

/// Runs `jobs`, [`WRITERS`] at once, and measures the CPU they cost.
async fn measure<F>(name: &'static str, processes: &cpu::Processes, jobs: Vec<F>) -> Result<Phase>
where
    F: Future<Output = Result<()>>,
{
    let writes = jobs.len();
    let before = processes.sample();
    let started = Instant::now();
    let results: Vec<Result<()>> = futures::stream::iter(jobs)
        .buffer_unordered(WRITERS)
        .collect()
        .await;
    let seconds = started.elapsed().as_secs_f64();
    let spent = cpu::spent(&before, &processes.sample());
    results
        .into_iter()
        .collect::<Result<Vec<()>>>()
        .with_context(|| format!("phase {name}"))?;
    eprintln!(
        "[write-cost] {name}: {writes} writes in {seconds:.1}s; CPU seconds: {}",
        cpu::line(&spent)
    );
    // Let the controller-manager and the watchers catch up before the next phase.
    tokio::time::sleep(Duration::from_secs(5)).await;
    Ok(Phase {
        name,
        writes,
        seconds,
        spent,
    })
}

/// The object `of` as a new object named `name`: the server's fields cleared.
fn copied_meta(of: &ObjectMeta, name: String) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: of.namespace.clone(),
        labels: of.labels.clone(),
        annotations: of.annotations.clone(),
        ..Default::default()
    }
}

/// A request's status as the operator applies it: without `approval`, the approvers' field.
fn operator_status(r: &CloudResourceRequest) -> serde_json::Value {
    let mut status = serde_json::to_value(&r.status).unwrap_or_default();
    if let Some(s) = status.as_object_mut() {
        s.remove("approval");
    }
    status
}

/// `status` with its first condition's message changed: a small change, as most of the
/// operator's status writes are; the server's work is the whole stored object's anyway.
fn touched(mut status: serde_json::Value) -> serde_json::Value {
    if let Some(c) = status
        .pointer_mut("/conditions/0")
        .and_then(|c| c.as_object_mut())
    {
        let message = c
            .get("message")
            .and_then(|m| m.as_str())
            .unwrap_or_default();
        let changed = format!("{message} ");
        c.insert("message".into(), serde_json::json!(changed));
    }
    status
}

/// One server-side apply of each `(namespace, name, status)` as the operator.
fn status_applies(
    admin: &Client,
    targets: Vec<(String, String, serde_json::Value)>,
) -> Vec<impl Future<Output = Result<()>>> {
    targets
        .into_iter()
        .map(|(ns, name, status)| {
            let api: Api<CloudResourceRequest> = Api::namespaced(admin.clone(), &ns);
            async move {
                let patch = serde_json::json!({"apiVersion": "govcloud.io/v1alpha1", "kind": "CloudResourceRequest", "status": status});
                api.patch_status(
                    &name,
                    &PatchParams::apply(OPERATOR_MANAGER).force(),
                    &Patch::Apply(patch),
                )
                .await?;
                Ok(())
            }
        })
        .collect()
}

/// What the form of the rules recorded with a grant costs each write of a request: an
/// Active request's status applied to requests that never had one, with the rules as one
/// JSON text (`status.grantedRulesJson`, as written now) and as an object
/// (`status.grantedRules`, as earlier releases wrote them), then changed once more (as the
/// first allocation figures are).
async fn granted_rules_phases(
    admin: &Client,
    processes: &cpu::Processes,
    active: &CloudResourceRequest,
    n: usize,
) -> Result<(Vec<Phase>, serde_json::Value)> {
    let text = operator_status(active);
    let mut object = text.clone();
    if let Some(s) = object.as_object_mut() {
        let rules = s
            .remove("grantedRulesJson")
            .and_then(|t| t.as_str().and_then(|t| serde_json::from_str(t).ok()))
            .context("the Active request has no grantedRulesJson")?;
        s.insert("grantedRules".into(), rules);
    }
    let ns = "cost-fresh";
    support::create_namespace(admin, ns).await?;
    let filing = (0..n)
        .flat_map(|i| [format!("object-{i:05}"), format!("text-{i:05}")])
        .map(|name| async move {
            file(
                admin,
                ns,
                &name,
                request_spec("shanghai", RequestClass::Production, "1"),
            )
            .await?;
            Ok(())
        });
    let filed: Vec<Result<()>> = futures::stream::iter(filing)
        .buffer_unordered(WRITERS)
        .collect()
        .await;
    filed.into_iter().collect::<Result<Vec<()>>>()?;
    let targets =
        |prefix: &str, status: &serde_json::Value| -> Vec<(String, String, serde_json::Value)> {
            (0..n)
                .map(|i| (ns.to_string(), format!("{prefix}-{i:05}"), status.clone()))
                .collect()
        };
    let mut phases = Vec::new();
    let text_later = touched(text.clone());
    for (name, prefix, status) in [
        // Alternated (text, object, object, text), so whatever warms up as the phases
        // go favours neither form.
        ("first status, rules as text", "text", text),
        (
            "first status, rules as an object (before)",
            "object",
            object.clone(),
        ),
        (
            "a later status write, rules as an object",
            "object",
            touched(object),
        ),
        (
            "a later status write, rules as text",
            "text",
            text_later.clone(),
        ),
    ] {
        phases.push(
            measure(
                name,
                processes,
                status_applies(admin, targets(prefix, &status)),
            )
            .await?,
        );
    }
    Ok((phases, text_later))
}

/// The later status write once more with the webhook configurations removed: what the two
/// admission reviews of every write of a request cost the API server.
async fn without_webhooks(
    admin: &Client,
    processes: &cpu::Processes,
    text_later: serde_json::Value,
    n: usize,
) -> Result<Phase> {
    use k8s_openapi::api::admissionregistration::v1::{
        MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
    };
    let name = "govcloud-operator";
    Api::<MutatingWebhookConfiguration>::all(admin.clone())
        .delete(name, &Default::default())
        .await?;
    Api::<ValidatingWebhookConfiguration>::all(admin.clone())
        .delete(name, &Default::default())
        .await?;
    // The API server drops them from its webhook set within moments.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let status = touched(text_later);
    let targets = (0..n)
        .map(|i| {
            (
                "cost-fresh".to_string(),
                format!("text-{i:05}"),
                status.clone(),
            )
        })
        .collect();
    measure(
        "a later status write, rules as text, no webhook",
        processes,
        status_applies(admin, targets),
    )
    .await
}

/// Every `K` in `namespaces` (those the operator wrote: the records and Events copied).
async fn listed<K>(admin: &Client, namespaces: &[String]) -> Result<Vec<K>>
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let mut all = Vec::new();
    for ns in namespaces {
        all.extend(
            Api::<K>::namespaced(admin.clone(), ns)
                .list(&ListParams::default())
                .await?
                .items,
        );
    }
    Ok(all)
}

fn requests_arg() -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--requests")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(500)
}

/// Files `n` requests under the shipped preset (its pool sized to fit), approves them and
/// waits until the operator has them all Active; returns their namespaces.
async fn active_requests(
    cp: &support::ControlPlane,
    admin: &Client,
    n: usize,
) -> Result<Vec<String>> {
    let path = support::repo_root().join("examples/policies/shanghai.yaml");
    let mut preset: serde_json::Value = serde_yaml::from_str(&std::fs::read_to_string(path)?)?;
    preset["spec"]["capacity"] =
        serde_json::json!({"cpu": (n * 2).to_string(), "memory": format!("{}Gi", n * 16)});
    support::apply_yaml(admin, &serde_yaml::to_string(&preset)?, None).await?;
    let namespaces: Vec<String> = (0..n.div_ceil(100))
        .map(|i| format!("cost-{i:03}"))
        .collect();
    for ns in &namespaces {
        support::create_namespace(admin, ns).await?;
    }
    let jobs = (0..n).map(|i| {
        let ns = namespaces[i / 100].clone();
        async move {
            let name = format!("system-{i:05}");
            file(
                admin,
                &ns,
                &name,
                request_spec("shanghai", RequestClass::Production, "1"),
            )
            .await?;
            decide(cp, &ns, &name, "Approved", "").await
        }
    });
    let filed: Vec<Result<()>> = futures::stream::iter(jobs)
        .buffer_unordered(WRITERS)
        .collect()
        .await;
    filed.into_iter().collect::<Result<Vec<()>>>()?;
    let api: Api<CloudResourceRequest> = Api::all(admin.clone());
    support::wait_until(
        Duration::from_secs(1800),
        format!("{n} requests Active"),
        || async {
            let active = api
                .list(&ListParams::default())
                .await?
                .items
                .iter()
                .filter(|r| r.status.as_ref().and_then(|s| s.phase) == Some(RequestPhase::Active))
                .count();
            Ok(active >= n)
        },
    )
    .await?;
    Ok(namespaces)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let n = requests_arg();
    let cp = installed(&[]).await?;
    let webhook = admission::start(cp).await?;
    let admin = cp.admin().await?;
    let namespaces = active_requests(cp, &admin, n).await?;
    // The operator stops: from here only the bench writes (the webhook process serves).
    with_operator(|o| o.terminate(Duration::from_secs(30))).transpose()?;
    let processes = cpu::Processes::of(cp.dir(), &[("webhook", webhook.pid())]);
    let mut phases = Vec::new();

    let jobs = (0..n).map(|i| {
        let admin = admin.clone();
        async move {
            support::create_namespace(&admin, &format!("cost-tenant-{i:05}")).await?;
            Ok(())
        }
    });
    phases.push(measure("Namespace created (child)", &processes, jobs.collect()).await?);

    let jobs = (0..n).map(|i| {
        let admin = admin.clone();
        async move {
            let ns = format!("cost-tenant-{i:05}");
            let quota = serde_json::json!({
                "apiVersion": "v1", "kind": "ResourceQuota",
                "metadata": {"name": "govcloud-grant", "namespace": ns},
                "spec": {"hard": {"requests.cpu": "1", "limits.cpu": "1", "requests.memory": "8Gi", "limits.memory": "8Gi"}},
            });
            Api::<ResourceQuota>::namespaced(admin, &ns)
                .patch("govcloud-grant", &PatchParams::apply("bench"), &Patch::Apply(quota))
                .await?;
            Ok(())
        }
    });
    phases.push(measure("ResourceQuota applied (child)", &processes, jobs.collect()).await?);

    let requests = Api::<CloudResourceRequest>::all(admin.clone())
        .list(&ListParams::default())
        .await?
        .items;
    let targets = requests
        .iter()
        .map(|r| {
            let ns = r.namespace().unwrap_or_default();
            (ns, r.name_any(), touched(operator_status(r)))
        })
        .collect();
    phases.push(
        measure(
            "request status applied (operator)",
            &processes,
            status_applies(&admin, targets),
        )
        .await?,
    );

    let jobs = requests.iter().map(|r| {
        let api: Api<CloudResourceRequest> =
            Api::namespaced(admin.clone(), &r.namespace().unwrap_or_default());
        let name = r.name_any();
        async move {
            let patch = serde_json::json!({"metadata": {"labels": {"write-cost": "touched"}}});
            api.patch(&name, &PatchParams::default(), &Patch::Merge(patch))
                .await?;
            Ok(())
        }
    });
    phases.push(measure("request metadata merge-patched", &processes, jobs.collect()).await?);

    let mut text_later = None;
    if let Some(active) = requests.first() {
        let (more, text) = granted_rules_phases(&admin, &processes, active, n).await?;
        phases.extend(more);
        text_later = Some(text);
    }

    let records: Vec<GovCloudRecord> = listed(&admin, &namespaces).await?;
    let jobs = records.iter().take(n).enumerate().map(|(i, r)| {
        let copy = GovCloudRecord {
            metadata: copied_meta(&r.metadata, format!("write-cost-{i:05}")),
            spec: r.spec.clone(),
        };
        let api: Api<GovCloudRecord> =
            Api::namespaced(admin.clone(), &r.namespace().unwrap_or_default());
        async move {
            api.create(&PostParams::default(), &copy).await?;
            Ok(())
        }
    });
    phases.push(measure("GovCloudRecord created", &processes, jobs.collect()).await?);

    let events: Vec<Event> = listed(&admin, &namespaces).await?;
    let jobs = events.iter().take(n).enumerate().map(|(i, e)| {
        let mut copy = e.clone();
        copy.metadata = copied_meta(&e.metadata, format!("write-cost-{i:05}"));
        let api: Api<Event> = Api::namespaced(admin.clone(), &e.namespace().unwrap_or_default());
        async move {
            api.create(&PostParams::default(), &copy).await?;
            Ok(())
        }
    });
    phases.push(measure("Event created", &processes, jobs.collect()).await?);

    // Last: the reviews' share, with the webhook gone (the records' phase needed it).
    if let Some(text) = text_later {
        phases.push(without_webhooks(&admin, &processes, text, n).await?);
    }

    println!(
        "\n{:<46} {:>7} {:>8} {:>12} {:>9} {:>9} {:>9}",
        "write (16 at once)", "writes", "wall s", "API server", "etcd", "webhook", "machine"
    );
    println!(
        "{:<46} {:>7} {:>8} {:>12} {:>9} {:>9} {:>9}",
        "", "", "", "ms/write", "ms/write", "ms/write", "ms/write"
    );
    let mut json = Vec::new();
    for p in &phases {
        println!(
            "{:<46} {:>7} {:>8.1} {:>12.2} {:>9.2} {:>9.2} {:>9.2}",
            p.name,
            p.writes,
            p.seconds,
            p.ms_per_write("kube-apiserver"),
            p.ms_per_write("etcd"),
            p.ms_per_write("webhook"),
            p.ms_per_write(cpu::MACHINE)
        );
        json.push(serde_json::json!({
            "write": p.name,
            "writes": p.writes,
            "seconds": p.seconds,
            "cpu_seconds": cpu::json(&p.spent),
        }));
    }
    let (p50, p99, reviews) = admission::latency(&webhook)?;
    println!("admission reviews: {reviews}, p50 {p50:.1} ms, p99 {p99:.1} ms (bucket bounds)");
    println!("{}", serde_json::to_string_pretty(&json)?);
    Ok(())
}
