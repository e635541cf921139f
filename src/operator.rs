//! Starting and stopping the operator: connect, wait for the CRDs, run the watches and the
//! controllers, serve health and metrics, shut down on SIGTERM.

use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use crate::api::{CloudResourceRequest, ExitRequest, GovCloudPolicy, ResourceChange, WorkCalendar};
use crate::cli::RunArgs;
use crate::health::{self, Health};
use crate::metrics::Metrics;

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

/// Stores of every kind, kept current by watches.
#[derive(Clone)]
pub struct Stores {
    /// GovCloudPolicy objects.
    pub policies: Store<GovCloudPolicy>,
    /// WorkCalendar objects.
    pub calendars: Store<WorkCalendar>,
    /// CloudResourceRequest objects.
    pub requests: Store<CloudResourceRequest>,
    /// ResourceChange objects.
    pub changes: Store<ResourceChange>,
    /// ExitRequest objects.
    pub exits: Store<ExitRequest>,
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
        run_watches(client, health, metrics, shutdown_rx.clone()).await;
    }
    match server.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(source)) => Err(RunError::Serve { addr, source }),
        Err(_) => Ok(()),
    }
}

async fn run_watches(
    client: Client,
    health: Arc<Health>,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) {
    let cfg = watcher::Config::default;
    let (_policies, w1) = reflector::store::<GovCloudPolicy>();
    let (_calendars, w2) = reflector::store::<WorkCalendar>();
    let (_requests, w3) = reflector::store::<CloudResourceRequest>();
    let (_changes, w4) = reflector::store::<ResourceChange>();
    let (_exits, w5) = reflector::store::<ExitRequest>();
    let (h, m) = (&health, &metrics);
    let streams = futures::stream::select_all(vec![
        reflected(
            Api::all(client.clone()),
            cfg(),
            w1,
            "govcloudpolicies",
            h.clone(),
            m.clone(),
        )
        .map(|_| ())
        .boxed(),
        reflected(
            Api::all(client.clone()),
            cfg(),
            w2,
            "workcalendars",
            h.clone(),
            m.clone(),
        )
        .map(|_| ())
        .boxed(),
        reflected(
            Api::all(client.clone()),
            cfg(),
            w3,
            "cloudresourcerequests",
            h.clone(),
            m.clone(),
        )
        .map(|_| ())
        .boxed(),
        reflected(
            Api::all(client.clone()),
            cfg(),
            w4,
            "resourcechanges",
            h.clone(),
            m.clone(),
        )
        .map(|_| ())
        .boxed(),
        reflected(
            Api::all(client.clone()),
            cfg(),
            w5,
            "exitrequests",
            h.clone(),
            m.clone(),
        )
        .map(|_| ())
        .boxed(),
    ]);
    tokio::select! {
        _ = streams.for_each(|_| async {}) => {}
        _ = shutdown.changed() => {}
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
