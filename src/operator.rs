//! Starting and stopping the operator: connect, wait for the CRDs, run the watches and the
//! controllers, serve health and metrics, shut down on SIGTERM.
//!
//! - [`crds`]: waiting until the CRDs are installed and established.
//! - [`client`]: the API client, every request counted by verb.
//! - [`lease`]: leader election on a Lease.
//! - [`wiring`]: the watches, their stores and the four controllers, wired together.
//! - [`inventory`]: the phase and overdue gauges, recounted from the stores.
//! - [`signal`]: SIGTERM and Ctrl-C.

use std::sync::Arc;

use tokio::sync::watch;

use crate::cli::RunArgs;
use crate::health::{self, Health};
use crate::metrics::Metrics;

pub mod client;
pub mod crds;
pub mod inventory;
pub mod lease;
pub mod signal;
pub mod wiring;

pub use crds::{required_crds, wait_for_crds};
pub use lease::LEASE_NAME;
pub use signal::shutdown_signal;

use client::counted_client;
use lease::acquire_lease;
use wiring::run_controllers;

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
    // The admission webhook runs on every replica, leader or not (src/admission/).
    let admission = tokio::spawn(crate::admission::run(
        args.clone(),
        client.clone(),
        health.clone(),
        metrics.clone(),
        stop_rx.clone(),
    ));
    let signal_stop = stop_tx.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutdown requested");
        let _ = signal_stop.send(true);
    });

    let mut lost = false;
    if wait_for_crds(&client, stop_rx.clone()).await {
        if !args.controllers {
            // Webhook only: ready as soon as the webhook serves, never reconciling.
            health.set_standby(true);
            let mut stop = stop_rx.clone();
            let _ = stop.wait_for(|s| *s).await;
        } else if args.leader_election {
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
    let _ = admission.await;
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
