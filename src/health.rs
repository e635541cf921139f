//! Health of the operator's watches, served as `/livez` and `/readyz` beside `/metrics`.
//!
//! `/readyz` turns OK only once every watch has completed its first list (the caches are
//! synced); `/livez` fails when any watch has been failing for longer than the stall limit,
//! so a kubelet restarts an operator whose watches cannot recover. Neither is always OK.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use kube::runtime::watcher;

use crate::metrics::{Metrics, WatchLabels};

#[derive(Debug, Default, Clone, Copy)]
struct WatchState {
    synced: bool,
    broken_since: Option<Instant>,
    /// When the watch was declared: its first list's duration is logged from here.
    registered: Option<Instant>,
}

/// The state of every watch the operator runs.
#[derive(Debug)]
pub struct Health {
    watches: Mutex<BTreeMap<&'static str, WatchState>>,
    stall: Duration,
    standby: std::sync::atomic::AtomicBool,
    /// 0: no webhook; 1: the webhook does not serve (yet); 2: it serves.
    webhook: std::sync::atomic::AtomicU8,
}

impl Health {
    /// `stall`: how long a watch may keep failing before `/livez` fails.
    pub fn new(stall: Duration) -> Self {
        Self {
            watches: Mutex::new(BTreeMap::new()),
            stall,
            standby: std::sync::atomic::AtomicBool::new(false),
            webhook: std::sync::atomic::AtomicU8::new(0),
        }
    }

    /// The admission webhook's state: `None` when this replica serves none, else whether
    /// it serves. A replica whose webhook does not serve is not ready, leader or standby.
    pub fn set_webhook(&self, serving: Option<bool>) {
        let v = match serving {
            None => 0,
            Some(false) => 1,
            Some(true) => 2,
        };
        self.webhook.store(v, std::sync::atomic::Ordering::Release);
    }

    /// Whether the webhook serves, or none is configured.
    pub fn webhook_ready(&self) -> bool {
        self.webhook.load(std::sync::atomic::Ordering::Acquire) != 1
    }

    /// A replica waiting for the lease runs no watches and is ready as a standby.
    pub fn set_standby(&self, standby: bool) {
        self.standby
            .store(standby, std::sync::atomic::Ordering::Release);
    }

    /// Whether this replica waits for the lease.
    pub fn is_standby(&self) -> bool {
        self.standby.load(std::sync::atomic::Ordering::Acquire)
    }

    fn with<R>(&self, f: impl FnOnce(&mut BTreeMap<&'static str, WatchState>) -> R) -> R {
        // A poisoned lock only means another thread panicked mid-update of plain flags.
        let mut guard = self.watches.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    /// Declares a watch that must sync before the operator is ready.
    pub fn register(&self, name: &'static str) {
        self.with(|w| {
            w.entry(name).or_default().registered = Some(Instant::now());
        });
    }

    /// Feeds one item of a watch stream.
    pub fn observe<K>(
        &self,
        name: &'static str,
        item: &Result<watcher::Event<K>, watcher::Error>,
        metrics: &Metrics,
    ) {
        let first_list = self.observe_at(
            name,
            item.as_ref()
                .map(|e| matches!(e, watcher::Event::InitDone))
                .map_err(|_| ()),
            Instant::now(),
        );
        if let Some(took) = first_list {
            // Which watch a slow start waits on (issue 11: a cold restart).
            tracing::info!(
                watch = name,
                seconds = took.as_secs_f64(),
                "first list complete"
            );
        }
        if item.is_err() {
            metrics
                .watch_errors
                .get_or_create(&WatchLabels { resource: name })
                .inc();
        }
    }

    /// `Ok(true)`: a list completed; `Ok(false)`: any other event; `Err`: the watch failed.
    /// Returns how long the watch took to list, when this completed its first list.
    fn observe_at(
        &self,
        name: &'static str,
        item: Result<bool, ()>,
        now: Instant,
    ) -> Option<Duration> {
        self.with(|w| {
            let state = w.entry(name).or_default();
            match item {
                Ok(list_done) => {
                    state.broken_since = None;
                    let first = list_done && !state.synced;
                    state.synced |= list_done;
                    first.then(|| {
                        state
                            .registered
                            .map_or(Duration::ZERO, |r| now.saturating_duration_since(r))
                    })
                }
                Err(()) => {
                    state.broken_since.get_or_insert(now);
                    None
                }
            }
        })
    }

    /// Every registered watch has synced at least once.
    pub fn ready(&self) -> bool {
        self.webhook_ready()
            && (self.is_standby() || self.with(|w| !w.is_empty() && w.values().all(|s| s.synced)))
    }

    /// No watch has been failing for longer than the stall limit; the names of those that have.
    pub fn stalled(&self, now: Instant) -> Vec<&'static str> {
        self.with(|w| {
            w.iter()
                .filter(|(_, s)| {
                    s.broken_since
                        .is_some_and(|since| now.duration_since(since) > self.stall)
                })
                .map(|(name, _)| *name)
                .collect()
        })
    }
}

#[derive(Clone)]
struct AppState {
    health: Arc<Health>,
    metrics: Arc<Metrics>,
}

async fn livez(State(s): State<AppState>) -> impl IntoResponse {
    let stalled = s.health.stalled(Instant::now());
    if stalled.is_empty() {
        (StatusCode::OK, "ok\n".to_string())
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("watches broken: {}\n", stalled.join(", ")),
        )
    }
}

async fn readyz(State(s): State<AppState>) -> impl IntoResponse {
    if !s.health.webhook_ready() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "admission webhook not serving (or not registered)\n",
        )
    } else if s.health.is_standby() {
        (StatusCode::OK, "ok (standby: waiting for the lease)\n")
    } else if s.health.ready() {
        (StatusCode::OK, "ok\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "caches not synced\n")
    }
}

async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.encode(),
    )
}

/// Binds `addr` and serves until `shutdown` resolves.
pub async fn serve(
    addr: SocketAddr,
    health: Arc<Health>,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .route("/metrics", get(self::metrics))
        .with_state(AppState { health, metrics });
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "serving /livez, /readyz and /metrics");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_list_reports_its_duration_once() {
        let h = Health::new(Duration::from_secs(60));
        h.register("a");
        let later = Instant::now() + Duration::from_secs(3);
        assert_eq!(h.observe_at("a", Ok(false), later), None, "not a list");
        assert_eq!(h.observe_at("a", Err(()), later), None);
        let took = h.observe_at("a", Ok(true), later).expect("the first list");
        assert!(took >= Duration::from_secs(3), "{took:?}");
        assert_eq!(h.observe_at("a", Ok(true), later), None, "a relist");
    }

    #[test]
    fn ready_only_after_every_watch_synced() {
        let h = Health::new(Duration::from_secs(60));
        assert!(!h.ready(), "nothing registered is not ready");
        h.register("a");
        h.register("b");
        let now = Instant::now();
        h.observe_at("a", Ok(true), now);
        assert!(!h.ready());
        h.observe_at("b", Ok(false), now);
        assert!(!h.ready(), "an event before InitDone is not a sync");
        h.observe_at("b", Ok(true), now);
        assert!(h.ready());
    }

    #[test]
    fn not_ready_while_the_webhook_does_not_serve_even_on_standby() {
        let h = Health::new(Duration::from_secs(60));
        h.set_standby(true);
        assert!(h.ready());
        h.set_webhook(Some(false));
        assert!(!h.ready());
        h.set_webhook(Some(true));
        assert!(h.ready());
    }

    #[test]
    fn live_until_a_watch_stays_broken_past_the_limit() {
        let h = Health::new(Duration::from_secs(60));
        h.register("a");
        let t0 = Instant::now();
        h.observe_at("a", Err(()), t0);
        h.observe_at("a", Err(()), t0 + Duration::from_secs(30));
        assert!(h.stalled(t0 + Duration::from_secs(59)).is_empty());
        assert_eq!(h.stalled(t0 + Duration::from_secs(61)), vec!["a"]);
        h.observe_at("a", Ok(false), t0 + Duration::from_secs(62));
        assert!(
            h.stalled(t0 + Duration::from_secs(120)).is_empty(),
            "recovered"
        );
    }
}
