//! Starting and stopping the operator: connect, wait for the CRDs, run the watches and the
//! controllers, serve health and metrics, shut down on SIGTERM.

use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::runtime::reflector;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use std::collections::HashMap;

use k8s_openapi::api::core::v1::Namespace;
use kube::ResourceExt;
use kube::runtime::Controller;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;

use crate::api::{CloudResourceRequest, ExitRequest, GovCloudPolicy, ResourceChange, WorkCalendar};
use crate::cli::RunArgs;
use crate::controller::{Config, Context, change, exit, request};
use crate::health::{self, Health};
use crate::metrics::Metrics;
use crate::policy::tenant;

/// Why the operator stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// No cluster configuration (KUBECONFIG or in-cluster) could be loaded.
    #[error("cannot connect to the cluster: {0}")]
    Connect(#[source] kube::Error),
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

/// A watch of `K` kept in `writer`'s store, reported to `health` under `name`.
pub fn reflected<K>(
    api: Api<K>,
    config: watcher::Config,
    writer: reflector::store::Writer<K>,
    name: &'static str,
    health: Arc<Health>,
    metrics: Arc<Metrics>,
) -> impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static
where
    K: Resource<DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    health.register(name);
    let stream = watcher(api, config).default_backoff().inspect(move |item| {
        health.observe(name, item, &metrics);
        if let Err(e) = item {
            tracing::warn!(watch = name, error = %e, "watch failed; retrying");
        }
    });
    reflector::reflector(writer, stream)
}

/// Runs the operator until SIGTERM or Ctrl-C.
pub async fn run(args: RunArgs) -> Result<(), RunError> {
    let client = Client::try_default().await.map_err(RunError::Connect)?;
    let health = Arc::new(Health::new(args.watch_stall()));
    let metrics = Arc::new(Metrics::new());
    let (shutdown_tx, shutdown_rx) = watch::channel(false);

    let mut server_shutdown = shutdown_rx.clone();
    let addr = args.listen;
    let server = tokio::spawn(health::serve(
        addr,
        health.clone(),
        metrics.clone(),
        async move {
            let _ = server_shutdown.changed().await;
        },
    ));
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutdown requested");
        let _ = shutdown_tx.send(true);
    });

    if wait_for_crds(&client, shutdown_rx.clone()).await {
        tracing::info!("CRDs established; starting watches");
        run_controllers(&args, client, health, metrics, shutdown_rx.clone()).await;
    }
    match server.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(source)) => Err(RunError::Serve { addr, source }),
        Err(_) => Ok(()),
    }
}

async fn run_controllers(
    args: &RunArgs,
    client: Client,
    health: Arc<Health>,
    metrics: Arc<Metrics>,
    shutdown: watch::Receiver<bool>,
) {
    let cfg = watcher::Config::default;
    let (policies, w_policies) = reflector::store::<GovCloudPolicy>();
    let (calendars, w_calendars) = reflector::store::<WorkCalendar>();
    let (requests, w_requests) = reflector::store::<CloudResourceRequest>();
    let (exits, w_exits) = reflector::store::<ExitRequest>();
    let (changes, w_changes) = reflector::store::<ResourceChange>();
    let (h, m) = (&health, &metrics);
    let policy_stream = reflected(
        Api::all(client.clone()),
        cfg(),
        w_policies,
        "govcloudpolicies",
        h.clone(),
        m.clone(),
    );
    let calendar_stream = reflected(
        Api::all(client.clone()),
        cfg(),
        w_calendars,
        "workcalendars",
        h.clone(),
        m.clone(),
    );
    let request_stream = reflected(
        Api::all(client.clone()),
        cfg(),
        w_requests,
        "cloudresourcerequests",
        h.clone(),
        m.clone(),
    );
    let exit_stream = reflected(
        Api::all(client.clone()),
        cfg(),
        w_exits,
        "exitrequests",
        h.clone(),
        m.clone(),
    );
    let change_stream = reflected(
        Api::all(client.clone()),
        cfg(),
        w_changes,
        "resourcechanges",
        h.clone(),
        m.clone(),
    );
    let (wake_tx, wake_rx) = tokio::sync::mpsc::unbounded_channel();
    let (wake_changes_tx, wake_changes_rx) = tokio::sync::mpsc::unbounded_channel();
    let (wake_exits_tx, wake_exits_rx) = tokio::sync::mpsc::unbounded_channel();
    let ctx = Arc::new(Context {
        client: client.clone(),
        recorder: Recorder::new(
            client.clone(),
            Reporter {
                controller: "govcloud-operator".into(),
                instance: std::env::var("POD_NAME").ok(),
            },
        ),
        metrics: metrics.clone(),
        config: Config {
            namespace: args.namespace.clone(),
            default_policy: args.default_policy.clone(),
            max_requeue: args.max_requeue(),
            utilization_interval: std::time::Duration::from_secs(args.utilization_interval_seconds.max(1)),
        },
        policies,
        calendars,
        requests: requests.clone(),
        exits: exits.clone(),
        changes: changes.clone(),
        capacity: tokio::sync::Mutex::new(Default::default()),
        retries: std::sync::Mutex::new(HashMap::new()),
        wake: wake_tx,
        wake_changes: wake_changes_tx,
        wake_exits: wake_exits_tx,
        prometheus: args.prometheus_url.as_deref().and_then(|url| match prometheus_http_query::Client::try_from(url) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::error!(%url, error = %e, "--prometheus-url is not usable; utilization falls back to allocation");
                None
            }
        }),
        measured_at: std::sync::Mutex::new(HashMap::new()),
    });

    // Requests of a policy are looked at again when the policy changes; all of them when a
    // calendar changes (deadlines move); a request when its exit or tenant namespace does.
    let by_policy = requests.clone();
    let default_policy = args.default_policy.clone();
    let for_policy = move |p: GovCloudPolicy| {
        let name = p.name_any();
        by_policy
            .state()
            .into_iter()
            .filter(|r| r.spec.policy.as_deref().unwrap_or(&default_policy) == name)
            .map(|r| ObjectRef::from_obj(r.as_ref()))
            .collect::<Vec<_>>()
    };
    let all_requests = requests.clone();
    let for_calendar = move |_: WorkCalendar| {
        all_requests
            .state()
            .into_iter()
            .map(|r| ObjectRef::from_obj(r.as_ref()))
            .collect::<Vec<_>>()
    };
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
    let managed = watcher::Config::default().labels(&format!("{}=true", tenant::MANAGED_LABEL));
    let stop = |rx: &watch::Receiver<bool>| {
        let mut rx = rx.clone();
        async move {
            let _ = rx.changed().await;
        }
    };
    let request_controller = Controller::for_stream(request_stream.touched_objects(), requests)
        .with_config(kube::runtime::controller::Config::default().concurrency(16))
        .watches_stream(policy_stream.touched_objects(), for_policy)
        .watches_stream(calendar_stream.touched_objects(), for_calendar)
        .watches(
            Api::<Namespace>::all(client.clone()),
            managed,
            for_namespace,
        )
        .reconcile_on(tokio_stream_from(wake_rx))
        .graceful_shutdown_on(stop(&shutdown))
        .run(request::reconcile, request::error_policy, ctx.clone())
        .for_each(|r| log_controller_error(request::KIND, r));
    let change_controller = Controller::for_stream(change_stream.touched_objects(), changes)
        .reconcile_on(tokio_stream_from(wake_changes_rx))
        .graceful_shutdown_on(stop(&shutdown))
        .run(change::reconcile, change::error_policy, ctx.clone())
        .for_each(|r| log_controller_error(change::KIND, r));
    let exit_controller = Controller::for_stream(exit_stream.touched_objects(), exits)
        .reconcile_on(tokio_stream_from(wake_exits_rx))
        .graceful_shutdown_on(stop(&shutdown))
        .run(exit::reconcile, exit::error_policy, ctx)
        .for_each(|r| log_controller_error(exit::KIND, r));
    tokio::join!(request_controller, change_controller, exit_controller);
}

async fn log_controller_error<T, E: std::fmt::Display>(kind: &'static str, result: Result<T, E>) {
    if let Err(e) = result {
        tracing::debug!(kind, error = %e, "controller event");
    }
}

/// An unbounded receiver as a stream.
fn tokio_stream_from<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<T>,
) -> impl Stream<Item = T> + Send + 'static {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
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
