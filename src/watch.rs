//! The operator's watches, tuned to recover quickly from an API server restart.
//!
//! Three things bound how long a restart can leave the operator blind:
//! - every API request must get its response headers within [`RESPONSE_HEADERS_WITHIN`]
//!   ([`response_timeout`]): after a restart, a request that reached the server while it
//!   was still starting could otherwise wait for tens of seconds before its answer (often
//!   410 Gone) came;
//! - watches end after [`WATCH_SECONDS`] and resume (server-side `timeoutSeconds`);
//! - retries start at 0.5 s and are capped at 4 s ([`WatchBackoff`]), for every watch,
//!   including the namespace and policy watches the controllers would otherwise run with
//!   kube's default backoff of up to 30 s.

use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use kube::runtime::reflector;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use crate::decode::{Quarantine, Tolerant};
use crate::health::Health;
use crate::metrics::Metrics;

/// Server-side lifetime of one watch request (seconds).
pub const WATCH_SECONDS: u32 = 20;

/// The longest any API request may wait for its response headers. Watches stream their
/// body afterwards, so this bounds how long a watch takes to start, not how long it runs.
pub const RESPONSE_HEADERS_WITHIN: Duration = Duration::from_secs(10);

/// A tower layer failing any request whose response has not begun within
/// [`RESPONSE_HEADERS_WITHIN`]; the caller's retry (watch backoff, reconcile requeue)
/// then tries again on a fresh connection.
pub fn response_timeout() -> tower::timeout::TimeoutLayer {
    tower::timeout::TimeoutLayer::new(RESPONSE_HEADERS_WITHIN)
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

/// The watcher configuration every watch uses: requests end after [`WATCH_SECONDS`] and
/// resume, so a watch left hanging by a restarted server is replaced within seconds.
///
/// Lists are read from etcd in pages of 500 (kube's default), not from the API server's
/// watch cache (`resourceVersion=0`, as client-go lists). Measured in session 8 with
/// 1,000 requests: the cache served all of them in 0.8–1.7 s against 1.4 s per page of
/// 500 from etcd, yet the bench's cold restart did not get faster (4.8–4.9 s against
/// 4.0–4.5 s); the cache sends a list whole, ignoring the page size, so at 10,000
/// requests a restart would hold one list response of ~50 MB at once, and its view may
/// be a moment behind etcd. Kept as it was.
pub fn config() -> watcher::Config {
    watcher::Config::default().timeout(WATCH_SECONDS)
}

/// A cluster-wide watch of `K` with [`WatchBackoff`], reported to `health` under `name`
/// (readiness, stall detection for `/livez`, and the watch-error metric), kept in
/// `writer`'s store without `metadata.managedFields`: the operator never reads them, and
/// with several writers per object (vendor, approver, operator) they are a large share of
/// each object's size, so of the memory of 10,000 requests. Objects that do not decode as
/// `K` are reported and kept out of the store by `quarantine` (see [`crate::decode`]), so
/// one of them never stops the watch.
pub fn reflected<K>(
    client: Client,
    config: watcher::Config,
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
    let observed = watcher(Api::<Tolerant<K>>::all(client), config)
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
        })
        .modify(|obj| trim(obj));
    reflector::reflector(writer, observed)
}

/// The annotation `kubectl apply` writes: a second copy of the object, never read here.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The webhook's stamp of who created an object (`govcloud.io/requested-by`): read by
/// people and by the webhook from the object it reviews, never by the controllers.
pub const REQUESTED_BY: &str = crate::policy::admission::REQUESTED_BY_ANNOTATION;

/// What the stores keep of an object: nothing the operator never reads (issues 11, 13) —
/// neither managedFields, nor `kubectl apply`'s copy of the whole object, nor the
/// webhook's stamp of the creator (about 1.2 KiB per request in memory: a map node, a
/// key and a JSON value, kept 10,000 times). The operator never writes an object back
/// from its store copy (status goes by server-side apply of its own fields, finalizers by
/// a merge patch), so what is dropped here is never dropped from the cluster.
pub fn trim<K: Resource>(obj: &mut K) {
    obj.managed_fields_mut().clear();
    let annotations = obj.annotations_mut();
    annotations.remove(LAST_APPLIED);
    annotations.remove(REQUESTED_BY);
    if annotations.is_empty() {
        // An empty map may still hold its allocated node.
        obj.meta_mut().annotations = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stores_drop_what_is_never_read() {
        let mut ns = k8s_openapi::api::core::v1::Namespace::default();
        ns.annotations_mut()
            .insert(LAST_APPLIED.into(), "{\"huge\": true}".into());
        ns.annotations_mut()
            .insert("govcloud.io/owner-uid".into(), "u".into());
        ns.annotations_mut()
            .insert(REQUESTED_BY.into(), "{\"username\":\"vendor\"}".into());
        ns.managed_fields_mut().push(Default::default());
        trim(&mut ns);
        assert!(ns.managed_fields().is_empty());
        assert_eq!(
            ns.annotations().keys().collect::<Vec<_>>(),
            ["govcloud.io/owner-uid"]
        );
        // Nothing left: no map at all.
        let mut bare = k8s_openapi::api::core::v1::Namespace::default();
        bare.annotations_mut()
            .insert(REQUESTED_BY.into(), "{}".into());
        trim(&mut bare);
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
    fn watches_end_well_before_the_response_timeout_matters() {
        // The header timeout must not cut a healthy watch: headers come at once, and the
        // body runs for WATCH_SECONDS afterwards.
        assert_eq!(config().timeout, Some(WATCH_SECONDS));
        assert!(RESPONSE_HEADERS_WITHIN < Duration::from_secs(u64::from(WATCH_SECONDS)));
    }
}
