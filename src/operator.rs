//! Starting and stopping the operator: connect, wait for the CRDs, run the watches and the
//! controllers, serve health and metrics, shut down on SIGTERM.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector;
use kube::{Api, Client};
use tokio::sync::watch;

use std::collections::HashMap;

use k8s_openapi::api::core::v1::Namespace;
use kube::ResourceExt;
use kube::runtime::Controller;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;

use crate::api::{CloudResourceRequest, ExitRequest, GovCloudPolicy, ResourceChange, WorkCalendar};
use crate::cli::RunArgs;
use crate::controller::calendar_wakes::{CalendarWakes, Wakers};
use crate::controller::{Config, Context, change, exit, measure, policy, request, wake_channel};
use crate::decode::Quarantine;
use crate::health::{self, Health};
use crate::metrics::Metrics;
use crate::policy::tenant;

/// Why the operator stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// No cluster configuration (KUBECONFIG or in-cluster) could be loaded.
    #[error("cannot connect to the cluster: {0}")]
    Connect(#[source] kube::Error),
    /// Another replica took the Lease while this one was leading.
    #[error("lost the leader lease")]
    LostLease,
    /// The health/metrics server could not start.
    #[error("cannot serve health and metrics on {addr}: {source}")]
    Serve {
        /// The address.
        addr: std::net::SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// The CRDs the operator needs, by name.
pub fn required_crds() -> Vec<String> {
    crate::crds::all()
        .into_iter()
        .filter_map(|c| c.metadata.name)
        .collect()
}

fn established(crd: &CustomResourceDefinition) -> bool {
    crd.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
        })
}

/// Waits until every CRD is installed and established, logging what is missing; never
/// gives up (an operator started before its CRDs should wait, not crash-loop).
pub async fn wait_for_crds(client: &Client, mut shutdown: watch::Receiver<bool>) -> bool {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut delay = Duration::from_millis(500);
    loop {
        let mut missing = Vec::new();
        for name in required_crds() {
            match api.get_opt(&name).await {
                Ok(Some(crd)) if established(&crd) => {}
                Ok(_) => missing.push(name),
                Err(e) => {
                    tracing::warn!(error = %e, crd = %name, "cannot read CRD");
                    missing.push(name);
                }
            }
        }
        if missing.is_empty() {
            return true;
        }
        tracing::warn!(missing = ?missing, "waiting for CRDs to be installed (kubectl apply -f crds/)");
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.changed() => return false,
        }
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}

/// Runs the operator until SIGTERM or Ctrl-C.
pub async fn run(args: RunArgs) -> Result<(), RunError> {
    let health = Arc::new(Health::new(args.watch_stall()));
    let metrics = Arc::new(Metrics::new());
    let client = counted_client(metrics.clone()).await?;
    // `stop` ends everything: SIGTERM/Ctrl-C, or the loss of the lease.
    let (stop_tx, stop_rx) = watch::channel(false);
    let stop_tx = Arc::new(stop_tx);

    let mut server_stop = stop_rx.clone();
    let addr = args.listen;
    let server = tokio::spawn(health::serve(
        addr,
        health.clone(),
        metrics.clone(),
        async move {
            let _ = server_stop.changed().await;
        },
    ));
    let signal_stop = stop_tx.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutdown requested");
        let _ = signal_stop.send(true);
    });

    let mut lost = false;
    if wait_for_crds(&client, stop_rx.clone()).await {
        if args.leader_election {
            health.set_standby(true);
            if let Some((mut leading, task)) = acquire_lease(&args, &client, stop_rx.clone()).await
            {
                health.set_standby(false);
                tracing::info!("leading: starting watches and controllers");
                let (ctl_tx, ctl_rx) = watch::channel(false);
                let mut stop = stop_rx.clone();
                let guard = tokio::spawn(async move {
                    // Stop the controllers on shutdown or when the lease is lost.
                    let lost = tokio::select! {
                        _ = stop.changed() => false,
                        _ = async { while leading.changed().await.is_ok() && *leading.borrow() {} } => true,
                    };
                    let _ = ctl_tx.send(true);
                    // Dropping the receiver releases the lease, so a standby takes over at once.
                    drop(leading);
                    lost
                });
                run_controllers(&args, client, health.clone(), metrics, ctl_rx).await;
                lost = guard.await.unwrap_or(true);
                let _ = task.await;
                if lost {
                    tracing::error!("lost the lease: stopping so a fresh start can stand by");
                    let _ = stop_tx.send(true);
                }
            }
        } else {
            tracing::info!("CRDs established; starting watches");
            run_controllers(&args, client, health, metrics, stop_rx.clone()).await;
        }
    }
    let _ = stop_tx.send(true);
    let served = match server.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(source)) => Err(RunError::Serve { addr, source }),
        Err(_) => Ok(()),
    };
    if lost {
        Err(RunError::LostLease)
    } else {
        served
    }
}

/// A client whose every request is counted by verb in `govcloud_api_requests_total`.
async fn counted_client(metrics: Arc<Metrics>) -> Result<Client, RunError> {
    let config = kube::Config::infer()
        .await
        .map_err(|e| RunError::Connect(kube::Error::InferConfig(e)))?;
    let builder = kube::client::ClientBuilder::try_from(config).map_err(RunError::Connect)?;
    let count = tower::util::MapRequestLayer::new(move |req: http::Request<kube::client::Body>| {
        let verb =
            crate::metrics::verb_of(req.method().as_str(), req.uri().path(), req.uri().query());
        metrics
            .api_requests
            .get_or_create(&crate::metrics::VerbLabels {
                verb,
                resource: crate::metrics::resource_of(req.uri().path()),
            })
            .inc();
        req
    });
    Ok(builder
        .with_layer(&crate::watch::response_timeout())
        .with_layer(&count)
        .build())
}

/// The name of the Lease the replicas compete for.
pub const LEASE_NAME: &str = "govcloud-operator";

fn identity(args: &RunArgs) -> String {
    args.leader_identity
        .clone()
        .or_else(|| std::env::var("POD_NAME").ok())
        .unwrap_or_else(|| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_string())
                .unwrap_or_else(|_| "host".into());
            format!("{host}-{}", std::process::id())
        })
}

type LeaseTask =
    tokio::task::JoinHandle<kube_lease_manager::Result<kube_lease_manager::LeaseManager>>;

/// Waits until this replica holds the Lease (or shutdown). Keeps trying while the Lease's
/// namespace is missing or the API is unreachable.
async fn acquire_lease(
    args: &RunArgs,
    client: &Client,
    mut stop: watch::Receiver<bool>,
) -> Option<(watch::Receiver<bool>, LeaseTask)> {
    let me = identity(args);
    let mut delay = Duration::from_secs(1);
    let manager = loop {
        let built = kube_lease_manager::LeaseManagerBuilder::new(client.clone(), LEASE_NAME)
            .with_namespace(args.namespace.clone())
            .with_identity(me.clone())
            .with_duration(args.lease_seconds.max(2))
            .with_grace((args.lease_seconds / 3).max(1))
            .with_field_manager(format!("govcloud.io/lease-{me}"))
            .build()
            .await;
        match built {
            Ok(m) => break m,
            Err(e) => {
                tracing::warn!(error = %e, namespace = %args.namespace, "cannot use the Lease yet; retrying")
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.changed() => return None,
        }
        delay = (delay * 2).min(Duration::from_secs(15));
    };
    let (mut leading, task) = manager.watch().await;
    tracing::info!(identity = %me, lease = LEASE_NAME, "standing by for the lease");
    loop {
        if *leading.borrow_and_update() {
            tracing::info!(identity = %me, "acquired the lease");
            return Some((leading, task));
        }
        tokio::select! {
            changed = leading.changed() => if changed.is_err() { return None },
            _ = stop.changed() => {
                drop(leading);
                let _ = task.await;
                return None;
            }
        }
    }
}

async fn run_controllers(
    args: &RunArgs,
    client: Client,
    health: Arc<Health>,
    metrics: Arc<Metrics>,
    shutdown: watch::Receiver<bool>,
) {
    let cfg = crate::watch::config;
    use crate::watch::reflected;
    // Each kind is watched once. Policies and calendars feed several controllers: their
    // one watch fills a shared store whose events every controller that needs them
    // subscribes to (the subscriptions are taken before the watch starts).
    let (policies, w_policies) = reflector::store_shared::<GovCloudPolicy>(SHARED_EVENTS);
    let (calendars, w_calendars) = reflector::store_shared::<WorkCalendar>(SHARED_EVENTS);
    let (Some(policy_events), Some(calendar_events)) =
        (w_policies.subscribe(), w_calendars.subscribe())
    else {
        tracing::error!("shared stores cannot be subscribed to");
        return;
    };
    let (requests, w_requests) = reflector::store::<CloudResourceRequest>();
    let (exits, w_exits) = reflector::store::<ExitRequest>();
    let (changes, w_changes) = reflector::store::<ResourceChange>();
    let (namespaces, w_namespaces) = reflector::store::<Namespace>();
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "govcloud-operator".into(),
            instance: std::env::var("POD_NAME").ok(),
        },
    );
    // Objects no watch can decode are reported and skipped (see crate::decode).
    let quarantine = Arc::new(Quarantine::new(metrics.clone(), Some(recorder.clone())));
    let (h, m, q) = (&health, &metrics, &quarantine);
    let policy_root = reflected(
        client.clone(),
        cfg(),
        w_policies,
        "govcloudpolicies",
        h.clone(),
        m.clone(),
        q.clone(),
    );
    let calendar_root = reflected(
        client.clone(),
        cfg(),
        w_calendars,
        "workcalendars",
        h.clone(),
        m.clone(),
        q.clone(),
    );
    let request_stream = reflected(
        client.clone(),
        cfg(),
        w_requests,
        "cloudresourcerequests",
        h.clone(),
        m.clone(),
        q.clone(),
    );
    let exit_stream = reflected(
        client.clone(),
        cfg(),
        w_exits,
        "exitrequests",
        h.clone(),
        m.clone(),
        q.clone(),
    );
    let change_stream = reflected(
        client.clone(),
        cfg(),
        w_changes,
        "resourcechanges",
        h.clone(),
        m.clone(),
        q.clone(),
    );
    let (wake_tx, wake_rx) = wake_channel();
    let (wake_changes_tx, wake_changes_rx) = wake_channel();
    let (wake_exits_tx, wake_exits_rx) = wake_channel();
    let (wake_policies, wake_policies_rx) = wake_channel::<GovCloudPolicy>();
    let ctx = Arc::new(Context {
        client: client.clone(),
        recorder,
        quarantine: quarantine.clone(),
        metrics: metrics.clone(),
        config: Config {
            namespace: args.namespace.clone(),
            default_policy: args.default_policy.clone(),
            max_requeue: args.max_requeue(),
            utilization_interval: std::time::Duration::from_secs(args.utilization_interval_seconds.max(1)),
            record_retention_interval: std::time::Duration::from_secs(args.record_retention_interval_seconds.max(1)),
        },
        policies: policies.clone(),
        calendars,
        namespaces,
        requests: requests.clone(),
        exits: exits.clone(),
        changes: changes.clone(),
        capacity: tokio::sync::Mutex::new(Default::default()),
        retries: std::sync::Mutex::new(HashMap::new()),
        wake: wake_tx.clone(),
        wake_changes: wake_changes_tx.clone(),
        wake_exits: wake_exits_tx.clone(),
        prometheus: args.prometheus_url.as_deref().filter(|u| !u.trim().is_empty()).and_then(|url| match prometheus_http_query::Client::try_from(url) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::error!(%url, error = %e, "--prometheus-url is not usable; utilization falls back to allocation");
                None
            }
        }),
        measurements: std::sync::Mutex::new(HashMap::new()),
        verified_at: std::sync::Mutex::new(HashMap::new()),
    });

    // Requests of a policy are looked at again when the policy changes; requests, changes,
    // exits and policies counting on a calendar when it changes (deadlines move); a
    // request when its tenant namespace does.
    let by_policy = requests.clone();
    let default_policy = args.default_policy.clone();
    let for_policy = move |p: Arc<GovCloudPolicy>| {
        let name = p.name_any();
        by_policy
            .state()
            .into_iter()
            .filter(|r| r.spec.policy.as_deref().unwrap_or(&default_policy) == name)
            .map(|r| ObjectRef::from_obj(r.as_ref()))
            .collect::<Vec<_>>()
    };
    let calendar_wakes = CalendarWakes {
        policies: policies.clone(),
        requests: requests.clone(),
        changes: changes.clone(),
        exits: exits.clone(),
        default_policy: args.default_policy.clone(),
    };
    let (deleted, wakers) = (
        calendar_wakes.clone(),
        Wakers {
            requests: wake_tx.clone(),
            changes: wake_changes_tx,
            exits: wake_exits_tx,
            policies: wake_policies,
        },
    );
    let drive_calendars = tokio::spawn(calendar_root.for_each(move |event| {
        if let Ok(kube::runtime::watcher::Event::Delete(cal)) = &event {
            deleted.deleted(&cal.name_any(), &wakers);
        }
        futures::future::ready(())
    }));
    // Likewise a deleted policy wakes its requests (a shared stream would not carry it).
    let (deleted_policy, wake_requests) = (for_policy.clone(), wake_tx.clone());
    let drive_policies = tokio::spawn(policy_root.for_each(move |event| {
        if let Ok(kube::runtime::watcher::Event::Delete(p)) = event {
            for r in deleted_policy(Arc::new(p)) {
                let _ = wake_requests.send(r);
            }
        }
        futures::future::ready(())
    }));
    let for_namespace = |ns: Namespace| {
        let labels = ns.labels();
        match (
            labels.get(tenant::REQUEST_NAMESPACE_LABEL),
            labels.get(tenant::REQUEST_NAME_LABEL),
        ) {
            (Some(rns), Some(rname)) => {
                Some(ObjectRef::<CloudResourceRequest>::new(rname).within(rns))
            }
            _ => None,
        }
    };
    // Managed namespaces: a tenant's ownership and applied hash are read from here.
    let namespace_stream = reflected(
        client.clone(),
        cfg().labels(&format!("{}=true", tenant::MANAGED_LABEL)),
        w_namespaces,
        "namespaces",
        h.clone(),
        m.clone(),
        q.clone(),
    );
    // Phase and overdue gauges, recounted from the stores every 15 s.
    let inventory = tokio::spawn(count_inventory(ctx.clone(), shutdown.clone()));
    // Utilization measurement, outside the reconcile slots (see controller::measure).
    let measurement = tokio::spawn(measure::run(ctx.clone(), shutdown.clone()));
    // Records past their retention are removed behind a checkpoint (SN 31).
    let retention = tokio::spawn(crate::controller::record::run_retention(
        ctx.clone(),
        ctx.config.record_retention_interval,
        shutdown.clone(),
    ));
    let stop = |rx: &watch::Receiver<bool>| {
        let mut rx = rx.clone();
        async move {
            let _ = rx.changed().await;
        }
    };
    let request_controller = Controller::for_stream(request_stream.touched_objects(), requests)
        .with_config(kube::runtime::controller::Config::default().concurrency(16))
        .watches_shared_stream(policy_events.clone(), for_policy)
        .watches_shared_stream(
            calendar_events.clone(),
            calendar_wakes.mapper(CalendarWakes::requests),
        )
        .watches_stream(namespace_stream.touched_objects(), for_namespace)
        .reconcile_on(wake_rx)
        .trigger_backoff(crate::watch::TriggerBackoff)
        .graceful_shutdown_on(stop(&shutdown))
        .run(request::reconcile, request::error_policy, ctx.clone())
        .for_each(|r| log_controller_error(request::KIND, r));
    let change_controller = Controller::for_stream(change_stream.touched_objects(), changes)
        .watches_shared_stream(
            calendar_events.clone(),
            calendar_wakes.mapper(CalendarWakes::changes),
        )
        .reconcile_on(wake_changes_rx)
        .trigger_backoff(crate::watch::TriggerBackoff)
        .graceful_shutdown_on(stop(&shutdown))
        .run(change::reconcile, change::error_policy, ctx.clone())
        .for_each(|r| log_controller_error(change::KIND, r));
    let exit_controller = Controller::for_stream(exit_stream.touched_objects(), exits)
        .watches_shared_stream(
            calendar_events.clone(),
            calendar_wakes.mapper(CalendarWakes::exits),
        )
        .reconcile_on(wake_exits_rx)
        .trigger_backoff(crate::watch::TriggerBackoff)
        .graceful_shutdown_on(stop(&shutdown))
        .run(exit::reconcile, exit::error_policy, ctx.clone())
        .for_each(|r| log_controller_error(exit::KIND, r));
    // Policies are few: the shared policy watch keeps their status (field errors) current,
    // and a calendar event looks at the policies counting on it.
    let policy_controller = Controller::for_shared_stream(policy_events, policies)
        .watches_shared_stream(
            calendar_events,
            calendar_wakes.mapper(CalendarWakes::policies),
        )
        .reconcile_on(wake_policies_rx)
        .trigger_backoff(crate::watch::TriggerBackoff)
        .graceful_shutdown_on(stop(&shutdown))
        .run(policy::reconcile, policy::error_policy, ctx.clone())
        .for_each(|r| log_controller_error(policy::KIND, r));
    let controllers = async {
        tokio::join!(
            request_controller,
            change_controller,
            exit_controller,
            policy_controller
        )
    };
    // A graceful shutdown lets running reconciles finish, but a controller stopped before
    // its stores were first filled would wait for them forever: after the grace period it
    // is left behind, so SIGTERM always ends the process well before a kubelet's SIGKILL.
    let mut stopping = shutdown.clone();
    tokio::select! {
        _ = controllers => {}
        _ = async {
            let _ = stopping.wait_for(|stop| *stop).await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => {
            tracing::warn!(grace = ?SHUTDOWN_GRACE, "controllers still busy after the shutdown grace period; stopping anyway");
        }
    }
    inventory.abort();
    measurement.abort();
    retention.abort();
    drive_calendars.abort();
    drive_policies.abort();
}

/// How many events of a shared watch wait for its slowest subscriber before the watch
/// itself waits (every subscriber is a controller, which reads its triggers at once).
const SHARED_EVENTS: usize = 1024;

/// How long running reconciles may take to finish after SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

async fn count_inventory(ctx: Arc<Context>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let requests = ctx.requests.state();
        let changes = ctx.changes.state();
        let exits = ctx.exits.state();
        let true_conditions = |cs: &[crate::api::Condition]| {
            cs.iter()
                .filter(|c| c.status == "True")
                .map(|c| c.type_.clone())
                .collect::<Vec<String>>()
        };
        let rows: Vec<(&'static str, Option<&'static str>, Vec<String>)> = requests
            .iter()
            .map(|r| {
                (
                    "CloudResourceRequest",
                    r.status.as_ref().and_then(|s| s.phase).map(|p| p.as_str()),
                    true_conditions(
                        r.status
                            .as_ref()
                            .map(|s| s.conditions.as_slice())
                            .unwrap_or_default(),
                    ),
                )
            })
            .chain(changes.iter().map(|c| {
                (
                    "ResourceChange",
                    c.status.as_ref().and_then(|s| s.phase).map(|p| p.as_str()),
                    true_conditions(
                        c.status
                            .as_ref()
                            .map(|s| s.conditions.as_slice())
                            .unwrap_or_default(),
                    ),
                )
            }))
            .chain(exits.iter().map(|e| {
                (
                    "ExitRequest",
                    e.status.as_ref().and_then(|s| s.phase).map(|p| p.as_str()),
                    true_conditions(
                        e.status
                            .as_ref()
                            .map(|s| s.conditions.as_slice())
                            .unwrap_or_default(),
                    ),
                )
            }))
            .collect();
        // Per-object deadlines and notice conditions (issue 16: the chart's alert rules).
        ctx.metrics
            .objects
            .update(crate::object_metrics::desired(&requests, &changes, &exits));
        ctx.metrics.set_inventory(
            rows.iter()
                .map(|(k, p, cs)| (*k, *p, cs.iter().map(String::as_str).collect())),
        );
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(15)) => {}
            _ = shutdown.changed() => return,
        }
    }
}

async fn log_controller_error<T, E: std::fmt::Display>(kind: &'static str, result: Result<T, E>) {
    if let Err(e) = result {
        tracing::debug!(kind, error = %e, "controller event");
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => futures::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = futures::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
