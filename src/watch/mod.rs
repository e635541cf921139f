//! The operator's watches, tuned to recover quickly from an API server restart.
//!
//! Three things bound how long a restart can leave the operator blind:
//! - every API request must get its response headers within [`RESPONSE_HEADERS_WITHIN`]
//!   (a whole list within [`WHOLE_LIST_HEADERS_WITHIN`], [`response_deadline`]): after a
//!   restart, a request that reached the server while it was still starting could
//!   otherwise wait for tens of seconds before its answer (often 410 Gone) came;
//! - watches end after [`WATCH_SECONDS`] and resume (server-side `timeoutSeconds`);
//! - retries start at 0.5 s and are capped at 4 s ([`WatchBackoff`]), for every watch,
//!   including the namespace and policy watches the controllers would otherwise run with
//!   kube's default backoff of up to 30 s.
//!
//! Lists come whole from the API server's watch cache and are decoded as they arrive
//! ([`stream`]), so a cold start neither waits for the API server to decode every stored
//! object from etcd nor holds a whole list response in memory.

use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use kube::runtime::reflector;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;

use crate::decode::{Quarantine, Tolerant};
use crate::health::Health;
use crate::metrics::Metrics;

/// Server-side lifetime of one watch request (seconds).
pub const WATCH_SECONDS: u32 = 20;

/// The longest any API request may wait for its response headers. Watches stream their
/// body afterwards, so this bounds how long a watch takes to start, not how long it runs.
pub const RESPONSE_HEADERS_WITHIN: Duration = Duration::from_secs(10);

/// The same bound for a whole list from the watch cache ([`stream`]): the API server
/// begins that answer only once it has encoded all of it (4–5 s for 10,000 requests on an
/// idle two-core machine), so [`RESPONSE_HEADERS_WITHIN`] would cut it at a scale not far
/// above that, and every retry would be cut the same way.
pub const WHOLE_LIST_HEADERS_WITHIN: Duration = Duration::from_secs(120);

/// How long a request to `uri` may wait for its response headers.
pub fn headers_within(uri: &http::Uri) -> Duration {
    let query = uri.query().unwrap_or_default();
    let has = |pair: &str| query.split('&').any(|p| p == pair);
    let whole_list = has("resourceVersion=0")
        && !has("watch=true")
        && !query.split('&').any(|p| p.starts_with("limit="));
    if whole_list {
        WHOLE_LIST_HEADERS_WITHIN
    } else {
        RESPONSE_HEADERS_WITHIN
    }
}

/// A tower layer failing any request whose response has not begun within
/// [`headers_within`] its URI; the caller's retry (watch backoff, reconcile requeue) then
/// tries again on a fresh connection. After an API server restart, a request that reached
/// the server while it was still starting could otherwise wait for tens of seconds before
/// its answer (often 410 Gone) came.
pub fn response_deadline() -> ResponseDeadlineLayer {
    ResponseDeadlineLayer
}

/// See [`response_deadline`].
#[derive(Debug, Clone, Copy)]
pub struct ResponseDeadlineLayer;

impl<S> tower::Layer<S> for ResponseDeadlineLayer {
    type Service = ResponseDeadline<S>;

    fn layer(&self, inner: S) -> ResponseDeadline<S> {
        ResponseDeadline { inner }
    }
}

/// See [`response_deadline`].
#[derive(Debug, Clone)]
pub struct ResponseDeadline<S> {
    inner: S,
}

impl<S, B> tower::Service<http::Request<B>> for ResponseDeadline<S>
where
    S: tower::Service<http::Request<B>>,
    S::Error: Into<tower::BoxError>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = tower::BoxError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<S::Response, tower::BoxError>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let within = headers_within(request.uri());
        let response = self.inner.call(request);
        Box::pin(async move {
            match tokio::time::timeout(within, response).await {
                Ok(answer) => answer.map_err(Into::into),
                Err(_) => Err(Box::new(tower::timeout::error::Elapsed::new()) as tower::BoxError),
            }
        })
    }
}

/// Watch retry delays: 0.5 s doubling to 4 s, reset by any success. kube's default grows
/// to 30 s, which after an API server restart left watches idle for most of a minute.
#[derive(Debug, Clone, Copy)]
pub struct WatchBackoff {
    next: Duration,
}

impl Default for WatchBackoff {
    fn default() -> Self {
        Self {
            next: Duration::from_millis(500),
        }
    }
}

impl Iterator for WatchBackoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let delay = self.next;
        self.next = (self.next * 2).min(Duration::from_secs(4));
        Some(delay)
    }
}

impl kube::runtime::utils::Backoff for WatchBackoff {
    fn reset(&mut self) {
        *self = Self::default();
    }
}

/// The controllers' own backoff over their merged trigger streams. Each watch already
/// backs off by itself ([`WatchBackoff`]); kube's default adds a second, shared backoff
/// on top that grows to 30 s with every error from any trigger, which after an API server
/// restart kept every trigger of a controller idle for half a minute. This one only
/// prevents a busy loop.
#[derive(Debug, Clone, Copy, Default)]
pub struct TriggerBackoff;

impl Iterator for TriggerBackoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        Some(Duration::from_millis(100))
    }
}

impl kube::runtime::utils::Backoff for TriggerBackoff {
    fn reset(&mut self) {}
}

pub mod stream;

pub use stream::Target;

/// The label every tenant namespace and every object the operator owns in one carries.
pub fn managed_selector() -> String {
    format!("{}=true", crate::policy::tenant::MANAGED_LABEL)
}

/// A watch of `target` (objects of kind `K`, [`stream::watch`]: listed whole from the watch
/// cache and decoded as the list arrives) with [`WatchBackoff`], reported to `health` under
/// `name` (readiness, stall detection for `/livez`, and the watch-error metric), kept in
/// `writer`'s store without what the operator never reads ([`trim`], applied as each
/// object is decoded). Objects that do not decode as `K` are reported and kept out of the
/// store by `quarantine` (see [`crate::decode`]), so one of them never stops the watch.
pub fn reflected<K>(
    client: Client,
    target: Target,
    writer: reflector::store::Writer<K>,
    name: &'static str,
    health: Arc<Health>,
    metrics: Arc<Metrics>,
    quarantine: Arc<Quarantine>,
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
    let store = writer.as_reader();
    let observed = stream::watch::<Tolerant<K>>(client, target)
        .backoff(WatchBackoff::default())
        .inspect(move |item| {
            health.observe(name, item, &metrics);
            if let Err(e) = item {
                tracing::warn!(watch = name, error = %e, "watch failed; retrying");
            }
        })
        .filter_map(move |item| {
            futures::future::ready(match item {
                Ok(event) => quarantine.sort(name, event, &store).map(Ok),
                Err(e) => Some(Err(e)),
            })
        });
    reflector::reflector(writer, observed)
}

/// The annotation `kubectl apply` writes: a second copy of the object, never read here.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// What the stores keep of an object, cut from its JSON before the typed decode
/// ([`crate::decode::Tolerant`]): nothing the operator never reads (issues 11, 13) —
/// neither managedFields (the largest part of a request as the API server sends it), nor
/// `kubectl apply`'s copy of the whole object, nor the webhook's stamp of the creator
/// (about 1.2 KiB per request in memory: a map node, a key and a JSON value, kept 10,000
/// times; people and the webhook read it from the cluster, the controllers never). The
/// operator never writes an object back from its store copy (status goes by server-side
/// apply of its own fields, finalizers by a merge patch), so what is dropped here is
/// never dropped from the cluster.
pub fn trim(object: &mut serde_json::Value) {
    let Some(meta) = object.get_mut("metadata").and_then(|m| m.as_object_mut()) else {
        return;
    };
    meta.remove("managedFields");
    if let Some(annotations) = meta.get_mut("annotations").and_then(|a| a.as_object_mut()) {
        annotations.remove(LAST_APPLIED);
        annotations.remove(crate::policy::admission::REQUESTED_BY_ANNOTATION);
        if annotations.is_empty() {
            // No map at all rather than an empty one (which may hold an allocated node).
            meta.remove("annotations");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stores_drop_what_is_never_read() {
        use crate::policy::admission::REQUESTED_BY_ANNOTATION as REQUESTED_BY;
        use k8s_openapi::api::core::v1::Namespace;
        use kube::ResourceExt;
        let mut sent = serde_json::json!({
            "metadata": {
                "name": "t",
                "annotations": {
                    LAST_APPLIED: "{\"huge\": true}",
                    "govcloud.io/owner-uid": "u",
                    REQUESTED_BY: "{\"username\":\"vendor\"}"
                },
                "managedFields": [{"manager": "vendor"}]
            }
        });
        trim(&mut sent);
        let ns: Namespace = serde_json::from_value(sent).expect("a namespace");
        assert!(ns.managed_fields().is_empty());
        assert_eq!(
            ns.annotations().keys().collect::<Vec<_>>(),
            ["govcloud.io/owner-uid"]
        );
        // Nothing left: no map at all.
        let mut bare = serde_json::json!({
            "metadata": {"name": "b", "annotations": {REQUESTED_BY: "{}"}}
        });
        trim(&mut bare);
        let bare: Namespace = serde_json::from_value(bare).expect("a namespace");
        assert_eq!(bare.metadata.annotations, None);
    }
    use kube::runtime::utils::Backoff;

    #[test]
    fn backoff_doubles_to_four_seconds_and_resets() {
        let mut b = WatchBackoff::default();
        let delays: Vec<u64> = b.by_ref().take(6).map(|d| d.as_millis() as u64).collect();
        assert_eq!(delays, [500, 1000, 2000, 4000, 4000, 4000]);
        b.reset();
        assert_eq!(b.next(), Some(Duration::from_millis(500)));
    }

    #[test]
    fn trigger_backoff_stays_short() {
        let mut b = TriggerBackoff;
        assert!(
            b.by_ref()
                .take(100)
                .all(|d| d == Duration::from_millis(100))
        );
    }

    #[test]
    fn only_whole_lists_wait_long_for_their_headers() {
        let within = |uri: &str| headers_within(&uri.parse().expect("a URI"));
        let requests = "/apis/govcloud.io/v1alpha1/cloudresourcerequests";
        assert_eq!(
            within(&format!("{requests}?resourceVersion=0")),
            WHOLE_LIST_HEADERS_WITHIN
        );
        assert_eq!(
            within(
                "/api/v1/namespaces?labelSelector=govcloud.io%2Fmanaged%3Dtrue&resourceVersion=0"
            ),
            WHOLE_LIST_HEADERS_WITHIN
        );
        for short in [
            format!("{requests}?limit=100&resourceVersion=0"),
            format!("{requests}?watch=true&timeoutSeconds=20&resourceVersion=0"),
            format!("{requests}?resourceVersion=10"),
            format!("{requests}?resourceVersion=0x"),
            requests.to_string(),
            "/api/v1/namespaces/t".to_string(),
        ] {
            assert_eq!(within(&short), RESPONSE_HEADERS_WITHIN, "{short}");
        }
    }

    #[test]
    fn watches_end_well_before_the_response_timeout_matters() {
        // The header timeout must not cut a healthy watch: headers come at once, and the
        // body runs for WATCH_SECONDS afterwards.
        assert!(RESPONSE_HEADERS_WITHIN < Duration::from_secs(u64::from(WATCH_SECONDS)));
        assert!(RESPONSE_HEADERS_WITHIN < WHOLE_LIST_HEADERS_WITHIN);
    }
}
