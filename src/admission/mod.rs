//! The admission webhook (issue 12), served by every replica, leader or standby.
//!
//! - [`certs`]: the CA and serving certificate in a shared Secret, created and renewed by
//!   whichever replica gets there first.
//! - [`tls`]: the serving certificate, swapped in place when the Secret changes.
//! - [`registration`]: keeps the webhook configurations' `caBundle` on this CA.
//! - [`review`]: an AdmissionReview in, the core's decision (`policy::admission`) out.
//! - [`server`]: HTTPS with `/mutate`, `/validate`, `/validate-services` and
//!   `/validate-records`.
//!
//! The webhook reads policies and namespaces from caches of its own, started at once and
//! regardless of the lease (a standby answers too), so an admission makes no API call.
//! `/readyz` fails until the webhook serves (and, with `--require-admission`, until both
//! webhook configurations trust this CA).

pub mod certs;
pub mod registration;
pub mod review;
pub mod server;
pub mod tls;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Api, Client};
use tokio::sync::watch;

use crate::api::GovCloudPolicy;
use crate::cli::{AdmissionArgs, RunArgs};
use crate::decode::Quarantine;
use crate::health::Health;
use crate::index::namespace_view::NamespaceView;
use crate::metrics::Metrics;

/// How often the serving certificate's expiry and the configurations' caBundle are checked
/// at most (less for short test lifetimes).
const CHECK_EVERY: Duration = Duration::from_secs(30);

/// Serves the webhook on `args.admission.webhook_listen` until `stop`; does nothing
/// without it.
pub async fn run(
    args: RunArgs,
    client: Client,
    health: Arc<Health>,
    metrics: Arc<Metrics>,
    stop: watch::Receiver<bool>,
) {
    let a: AdmissionArgs = args.admission.clone();
    let Some(addr) = a.webhook_listen else {
        return;
    };
    health.set_webhook(Some(false));
    if a.operator_username.is_empty() {
        tracing::warn!(
            "--operator-username is empty: the operator's own status writes will be refused by its webhook"
        );
    }
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(%addr, error = %e, "cannot listen for admission reviews; not ready");
            return;
        }
    };
    // Caches of its own: the controllers' run only on the leader.
    let quarantine = Arc::new(Quarantine::new(metrics.clone(), None));
    let (policies, w_policies) = reflector::store::<GovCloudPolicy>();
    let (namespaces, w_namespaces) = reflector::store::<NamespaceView>();
    let p = tokio::spawn(
        crate::watch::reflected(
            client.clone(),
            crate::watch::Target::all::<GovCloudPolicy>(),
            w_policies,
            "admission-govcloudpolicies",
            health.clone(),
            metrics.clone(),
            quarantine.clone(),
        )
        .for_each(|_| futures::future::ready(())),
    );
    let n = tokio::spawn(
        crate::watch::reflected(
            client.clone(),
            crate::watch::Target::all::<NamespaceView>(),
            w_namespaces,
            "admission-namespaces",
            health.clone(),
            metrics.clone(),
            quarantine,
        )
        .for_each(|_| futures::future::ready(())),
    );

    let spec = certs::CertSpec {
        namespace: args.namespace.clone(),
        name: a.webhook_secret.clone(),
        hosts: certs::expand_hosts(&a.webhook_hosts, &args.namespace),
        lifetime: Duration::from_secs(a.webhook_cert_seconds.max(30)),
    };
    let certs = Arc::new(tls::Reloading::default());
    let (ca_tx, ca_rx) = watch::channel(String::new());
    let keeper = tokio::spawn(keep_certs(
        client.clone(),
        spec.clone(),
        certs.clone(),
        ca_tx,
        stop.clone(),
    ));
    let registered = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let registrar = tokio::spawn(registration::keep(
        client.clone(),
        a.webhook_configuration.clone(),
        ca_rx,
        registered.clone(),
        stop.clone(),
    ));

    let tls = match tls::server_config(certs.clone()) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot configure TLS for the webhook");
            return;
        }
    };
    let reviewer = Arc::new(review::Reviewer {
        operator: a.operator_username.clone(),
        default_policy: args.default_policy.clone(),
        policies: policies.clone(),
        namespaces: namespaces.clone(),
        metrics,
    });
    let mut waiting = stop.clone();
    let caches = async {
        let _ = policies.wait_until_ready().await;
        let _ = namespaces.wait_until_ready().await;
        while !certs.loaded() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::select! {
        _ = caches => {}
        _ = stopped(&mut waiting) => return,
    }
    tracing::info!(%addr, "serving admission reviews");
    let readiness = tokio::spawn(report_ready(
        health.clone(),
        registered,
        a.require_admission,
        stop.clone(),
    ));
    server::serve(listener, tls, server::router(reviewer), stop).await;
    health.set_webhook(Some(false));
    for t in [keeper, registrar, readiness, p, n] {
        t.abort();
    }
}

/// Ready while serving; with `--require-admission` only while registered.
async fn report_ready(
    health: Arc<Health>,
    registered: Arc<std::sync::atomic::AtomicBool>,
    require: bool,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let ok = !require || registered.load(std::sync::atomic::Ordering::Acquire);
        health.set_webhook(Some(ok));
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = stopped(&mut stop) => return,
        }
    }
}

/// Keeps the Secret current (creating or renewing it) and the served certificate equal to
/// the Secret's, watching the Secret so a renewal by another replica is picked up at once.
async fn keep_certs(
    client: Client,
    spec: certs::CertSpec,
    served: Arc<tls::Reloading>,
    ca: watch::Sender<String>,
    mut stop: watch::Receiver<bool>,
) {
    let install = |m: &certs::Material| match served.install(m) {
        Ok(true) => {
            tracing::info!(not_after = ?m.not_after, "serving a new webhook certificate");
            ca.send_if_modified(|c| {
                let changed = *c != m.ca_cert;
                if changed {
                    c.clone_from(&m.ca_cert);
                }
                changed
            });
        }
        Ok(false) => {}
        Err(e) => tracing::error!(error = %e, "the webhook Secret holds an unusable certificate"),
    };
    let api: Api<Secret> = Api::namespaced(client.clone(), &spec.namespace);
    let mut events = Box::pin(
        watcher(
            api,
            watcher::Config::default()
                .fields(&format!("metadata.name={}", spec.name))
                .timeout(crate::watch::WATCH_SECONDS),
        )
        .backoff(crate::watch::WatchBackoff::default())
        .applied_objects(),
    );
    let every = (spec.lifetime / 6).min(CHECK_EVERY);
    let mut delay = Duration::from_millis(0);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(delay) => {
                delay = match certs::ensure(&client, &spec).await {
                    Ok(m) => {
                        install(&m);
                        every
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot keep the webhook certificate; retrying");
                        Duration::from_secs(2)
                    }
                };
            }
            event = events.next() => match event {
                Some(Ok(secret)) => {
                    if let Some(m) = certs::material(&secret) {
                        install(&m);
                    }
                }
                Some(Err(e)) => tracing::debug!(error = %e, "webhook Secret watch"),
                None => return,
            },
            _ = stopped(&mut stop) => return,
        }
    }
}

/// Resolves once `stop` turns true (holding no guard across the wait).
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}
