//! The API client the operator uses.

use std::sync::Arc;

use kube::Client;

use super::RunError;
use crate::metrics::Metrics;

/// A client whose every request is counted by verb in `govcloud_api_requests_total`.
pub(super) async fn counted_client(metrics: Arc<Metrics>) -> Result<Client, RunError> {
    let config = kube::Config::infer()
        .await
        .map_err(|e| RunError::Connect(kube::Error::InferConfig(e)))?;
    // Which API server, as the credentials found name it: a kubeconfig's server, or in a pod
    // (no kubeconfig) the cluster's own Service address from the kubelet's environment.
    tracing::info!(server = %config.cluster_url, "API server");
    let builder = kube::client::ClientBuilder::try_from(config).map_err(RunError::Connect)?;
    let count = tower::util::MapRequestLayer::new(move |req: http::Request<kube::client::Body>| {
        // Every request the operator makes: GOVCLOUD_LOG=govcloud_operator::api=trace.
        tracing::trace!(target: "govcloud_operator::api", method = %req.method(), path = %req.uri().path(), "api request");
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
        .with_layer(&crate::watch::response_deadline())
        .with_layer(&count)
        .build())
}
