//! Leader election: replicas compete for one Lease; only its holder runs the controllers.

use std::time::Duration;

use kube::Client;
use tokio::sync::watch;

use crate::cli::RunArgs;

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

pub(super) type LeaseTask =
    tokio::task::JoinHandle<kube_lease_manager::Result<kube_lease_manager::LeaseManager>>;

/// Waits until this replica holds the Lease (or shutdown). Keeps trying while the Lease's
/// namespace is missing or the API is unreachable.
pub(super) async fn acquire_lease(
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
