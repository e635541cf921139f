//! The HTTPS server: TLS from [`super::tls::Reloading`], four POST endpoints.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::post;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::review::{Endpoint, Reviewer, to_body};

/// The largest AdmissionReview read (the API server's own request limit is 3 MiB per
/// object; a review carries two).
const MAX_BODY: usize = 8 << 20;

async fn handle(reviewer: Arc<Reviewer>, endpoint: Endpoint, body: Bytes) -> impl IntoResponse {
    let review = reviewer.answer(endpoint, &body);
    (
        [(header::CONTENT_TYPE, "application/json")],
        to_body(&review),
    )
}

/// The endpoints.
pub fn router(reviewer: Arc<Reviewer>) -> Router {
    Router::new()
        .route(
            "/mutate",
            post(|State(r): State<Arc<Reviewer>>, body: Bytes| handle(r, Endpoint::Mutate, body)),
        )
        .route(
            "/validate",
            post(|State(r): State<Arc<Reviewer>>, body: Bytes| handle(r, Endpoint::Validate, body)),
        )
        .route(
            "/validate-services",
            post(|State(r): State<Arc<Reviewer>>, body: Bytes| handle(r, Endpoint::Services, body)),
        )
        .route(
            "/validate-records",
            post(|State(r): State<Arc<Reviewer>>, body: Bytes| handle(r, Endpoint::Records, body)),
        )
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(reviewer)
}

/// Serves `app` over TLS on `listener` until `stop` turns true.
pub async fn serve(
    listener: TcpListener,
    tls: tokio_rustls::rustls::ServerConfig,
    app: Router,
    mut stop: watch::Receiver<bool>,
) {
    let acceptor = TlsAcceptor::from(Arc::new(tls));
    loop {
        let (tcp, peer): (tokio::net::TcpStream, SocketAddr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "webhook accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = super::stopped(&mut stop) => return,
        };
        let (acceptor, app) = (acceptor.clone(), app.clone());
        tokio::spawn(async move {
            let tls = match acceptor.accept(tcp).await {
                Ok(t) => t,
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "webhook TLS handshake failed");
                    return;
                }
            };
            let service = TowerToHyperService::new(app);
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(tls), service)
                .await
            {
                tracing::debug!(%peer, error = %e, "webhook connection ended");
            }
        });
    }
}
