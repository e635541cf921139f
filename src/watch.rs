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
use kube::{Api, Client, Resource};
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
/// Lists are read from etcd in pages of [`LIST_PAGE`] (label-selected ones too:
/// [`selected_config`]), not from the API server's watch cache (`resourceVersion=0`, as client-go lists). Measured in session 8 with
/// 1,000 requests: the cache served all of them in 0.8–1.7 s against 1.4 s per page of
/// 500 from etcd, yet the bench's cold restart did not get faster (loading the stores
/// took 4.8–5.0 s against 4.0–4.4 s); the cache sends a list whole, ignoring the page size, so at 10,000
/// requests a restart would hold one list response of ~50 MB at once, and its view may
/// be a moment behind etcd. Kept as it was.
pub fn config() -> watcher::Config {
    watcher::Config::default()
        .timeout(WATCH_SECONDS)
        .page_size(LIST_PAGE)
}

/// The configuration of a watch of the objects carrying the label `govcloud.io/managed`
/// (tenant namespaces and the objects the operator owns in them): [`config`] with the
/// selector, read from etcd page by page like every other list.
///
/// Not from the API server's watch cache, though a label-selected list from etcd makes
/// the API server decode every object of the kind to find the selected ones (at 10,000
/// requests, with the bench's 20,000 unlabelled namespaces and children beside them, the
/// five such lists took 11–15 s of a cold restart). Measured in session 10: from the cache
/// (`resourceVersion=0`, which kube sends only on a list without a limit) they took
/// 0.5–2.1 s, but the cache sends each list whole, and the five whole lists at once took
/// the restarted process's peak from 126.5 to 393.5 MiB, for a restart 26.5 → 20.6 s
/// that the requests' own list still bounds (20.0 s). Memory won.
pub fn selected_config(selector: &str) -> watcher::Config {
    config().labels(selector)
}

/// Objects per list page. Issue 11: a cold start lists every kind at once, and each page
/// is held whole (response body, then decoded objects) until the store takes it; kube's
/// default of 500 made the restarted process peak ~19 MiB above its settled size with
/// 1,000 requests. The API server's cost per object is the same in smaller pages.
pub const LIST_PAGE: u32 = 100;

/// A cluster-wide watch of `K` with [`WatchBackoff`], reported to `health` under `name`
/// (readiness, stall detection for `/livez`, and the watch-error metric), kept in
/// `writer`'s store without what the operator never reads ([`trim`], applied as each object
/// is decoded). Objects that do not decode as
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
    fn every_list_is_paged_from_etcd_label_selected_ones_too() {
        use kube::runtime::watcher::ListSemantic;
        let selected = selected_config("govcloud.io/managed=true");
        assert_eq!(
            selected.label_selector.as_deref(),
            Some("govcloud.io/managed=true")
        );
        // A whole list from the watch cache at a restart cost 267 MiB of peak at 10,000.
        for c in [selected, config()] {
            assert_eq!(c.list_semantic, ListSemantic::MostRecent);
            assert_eq!(c.page_size, Some(LIST_PAGE));
            assert_eq!(c.timeout, Some(WATCH_SECONDS));
        }
    }

    #[test]
    fn watches_end_well_before_the_response_timeout_matters() {
        // The header timeout must not cut a healthy watch: headers come at once, and the
        // body runs for WATCH_SECONDS afterwards.
        assert_eq!(config().timeout, Some(WATCH_SECONDS));
        assert!(RESPONSE_HEADERS_WITHIN < Duration::from_secs(u64::from(WATCH_SECONDS)));
    }
}
