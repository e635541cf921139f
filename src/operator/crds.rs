//! Waiting for the CRDs: an operator started before them waits, it does not crash-loop.

use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::{Api, Client};
use tokio::sync::watch;

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
