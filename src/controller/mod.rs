//! Reconcilers, one module per kind. Each reconcile is a pipeline:
//! gather (read the cluster and the stores) → decide (pure, in `policy`) → apply
//! (server-side apply under one field manager) → write status (only when it changed) →
//! publish Events → requeue at the next deadline.

pub mod calendar_cache;
pub mod calendar_wakes;
pub mod change;
pub mod exit;
pub mod guard;
pub mod measure;
pub mod policy;
pub mod prometheus;
pub mod prune;
pub mod record;
pub mod request;
pub mod tenant;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action as Requeue;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::runtime::reflector::{Lookup, ObjectRef, Store};
use kube::{Api, Client, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::{
    CloudResourceRequest, CloudResourceRequestStatus, ExitRequest, GovCloudPolicy, ResourceChange,
    WorkCalendar,
};
use crate::metrics::Metrics;
use crate::policy::calendar::Calendar;
use crate::policy::calendars::compose_calendar;
use crate::policy::granted_rules;
use crate::policy::notice::Notice;
use crate::policy::rules::{self, Rules};

/// The one field manager of the operator for everything it writes.
pub const FIELD_MANAGER: &str = "govcloud.io/operator";

/// Errors of a reconcile. `category()` is the stable word used in metrics and Events.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API server refused or failed a call.
    #[error("kubernetes API call failed: {0}")]
    Kube(#[source] kube::Error),
    /// An object lacks metadata the API server always sets (name, namespace, uid).
    #[error("object is missing {0}")]
    MissingMetadata(&'static str),
    /// A value could not be serialized for the API.
    #[error("cannot serialize: {0}")]
    Serialize(#[source] serde_json::Error),
    /// The reconcile panicked (a bug); caught by [`guard::reconcile`] so that only this
    /// object waits and retries (issue 14). The text is the panic's message, cut short.
    #[error("reconcile panicked: {0}")]
    Panic(String),
}

impl Error {
    /// A fixed word for metrics labels and Event reasons.
    pub fn category(&self) -> &'static str {
        match self {
            Error::Kube(kube::Error::Api(e)) if e.code == 409 => "conflict",
            Error::Kube(kube::Error::Api(e)) if e.code == 403 => "forbidden",
            Error::Kube(kube::Error::Api(e)) if e.code == 404 => "notfound",
            Error::Kube(kube::Error::Api(_)) => "apiserver",
            Error::Kube(_) => "transport",
            Error::MissingMetadata(_) => "metadata",
            Error::Serialize(_) => "serialize",
            Error::Panic(_) => "panic",
        }
    }
}

impl From<kube::Error> for Error {
    fn from(e: kube::Error) -> Self {
        Error::Kube(e)
    }
}

/// Settings of the running operator.
#[derive(Debug, Clone)]
pub struct Config {
    /// The operator's own namespace.
    pub namespace: String,
    /// Policy for requests that name none.
    pub default_policy: String,
    /// Longest requeue.
    pub max_requeue: Duration,
    /// How often an Active grant's utilization is measured.
    pub utilization_interval: Duration,
    /// How often the record retention pass runs (SN 31).
    pub record_retention_interval: Duration,
}

/// What every reconcile gets.
pub struct Context {
    /// The API client.
    pub client: Client,
    /// One shared recorder so Events aggregate.
    pub recorder: Recorder,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Objects that currently do not decode: a stale copy of one is never acted on.
    pub quarantine: Arc<crate::decode::Quarantine>,
    /// Settings.
    pub config: Config,
    /// GovCloudPolicy objects.
    pub policies: Store<GovCloudPolicy>,
    /// WorkCalendar objects.
    pub calendars: Store<WorkCalendar>,
    /// CloudResourceRequest objects.
    pub requests: Store<CloudResourceRequest>,
    /// ExitRequest objects.
    pub exits: Store<ExitRequest>,
    /// Serializes capacity decisions (see [`CapacityLedger`]).
    pub capacity: tokio::sync::Mutex<CapacityLedger>,
    /// Per-object retry counts for the error backoff.
    pub retries: Mutex<HashMap<String, u32>>,
    /// ResourceChange objects.
    pub changes: Store<ResourceChange>,
    /// Requests to look at again (capacity freed, a change approved, an exit due).
    pub wake: Wake<CloudResourceRequest>,
    /// Changes to look at again (applied by their request).
    pub wake_changes: Wake<ResourceChange>,
    /// Exits to look at again (their request changed phase).
    pub wake_exits: Wake<ExitRequest>,
    /// Managed namespaces (label `govcloud.io/managed=true`), from the namespace watch.
    pub namespaces: Store<Namespace>,
    /// Prometheus, when `--prometheus-url` is set.
    pub prometheus: Option<prometheus_http_query::Client>,
    /// Each request's (by UID) measurement schedule and the measurement waiting for its
    /// reconcile (see [`measure`]).
    pub measurements: Mutex<HashMap<String, measure::Measurement>>,
    /// When each tenant (by request UID) was last checked against its applied hash.
    pub verified_at: Mutex<HashMap<String, std::time::Instant>>,
}

/// How many wakes a controller's channel holds.
pub const WAKE_CAPACITY: usize = 4096;

/// A channel that makes a controller reconcile an object: bounded, and a wake that does
/// not fit is dropped rather than waited for or queued without limit. Dropping is safe:
/// a wake only makes a reconcile come sooner, never decides anything itself. Every
/// reconcile requeues itself at its next deadline (or after `--max-requeue-seconds`) and
/// then reads the stores afresh, so a dropped wake delays an object at most until then;
/// and a full channel means that controller already has thousands of objects queued.
pub struct Wake<K: Lookup>(tokio::sync::mpsc::Sender<ObjectRef<K>>);

impl<K: Lookup> Wake<K> {
    /// Asks for a reconcile of `obj`; never blocks (see [`Wake`] for why a full channel
    /// may drop it).
    pub fn send(&self, obj: ObjectRef<K>) -> Result<(), ObjectRef<K>> {
        self.0.try_send(obj).map_err(|e| {
            let obj = e.into_inner();
            tracing::debug!(object = %obj, "wake channel full or closed: left to the requeue");
            obj
        })
    }
}

impl<K: Lookup> Clone for Wake<K> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

/// A [`Wake`] and the stream of its wakes, for `Controller::reconcile_on`.
pub fn wake_channel<K>() -> (
    Wake<K>,
    impl futures::Stream<Item = ObjectRef<K>> + Send + 'static,
)
where
    K: Lookup + 'static,
    ObjectRef<K>: Send,
{
    let (tx, mut rx) = tokio::sync::mpsc::channel(WAKE_CAPACITY);
    (
        Wake(tx),
        futures::stream::poll_fn(move |cx| rx.poll_recv(cx)),
    )
}

/// What the operator itself changed about pool capacity that the store may not show yet
/// (its watch lags its own writes): grants just reserved, and requests just released.
#[derive(Debug, Default)]
pub struct CapacityLedger {
    /// Request UID → grant reserved.
    pub reserved: HashMap<String, crate::policy::quantity::Amounts>,
    /// UIDs of requests that released their capacity (reclaimed or deleted); final.
    pub released: std::collections::HashSet<String>,
}

/// A policy as the decisions see it.
pub enum PolicyLookup {
    /// Usable rules and the calendar they count on.
    Ready(Box<Rules>, Calendar),
    /// No such policy.
    Missing(String),
    /// The policy (or its calendar) is unusable; the message says why.
    Invalid(String),
}

impl Context {
    /// Whether every store a decision reads has completed its first list. Until then a
    /// request would be judged against a policy or calendar not loaded yet (and found
    /// Invalid for a "missing" policy), so reconciles wait. Checked without awaiting: a
    /// reconcile that waited would hold one of the controller's slots, and with every slot
    /// waiting the controller would stop reading the very watches that fill the stores.
    pub fn stores_ready(&self) -> bool {
        fn ready<K: Resource + Clone + 'static>(store: &Store<K>) -> bool
        where
            K::DynamicType: Eq + std::hash::Hash + Clone,
        {
            use futures::FutureExt;
            store
                .wait_until_ready()
                .now_or_never()
                .is_some_and(|r| r.is_ok())
        }
        ready(&self.policies)
            && ready(&self.calendars)
            && ready(&self.requests)
            && ready(&self.changes)
            && ready(&self.exits)
            && ready(&self.namespaces)
    }

    /// The rules and calendar of policy `name`.
    pub fn policy(&self, name: &str) -> PolicyLookup {
        let key = kube::runtime::reflector::ObjectRef::<GovCloudPolicy>::new(name);
        if self.quarantine.holds_named::<GovCloudPolicy>(None, name) {
            // Not "missing": it exists, but this release cannot read it (crate::decode).
            return PolicyLookup::Invalid(format!(
                "GovCloudPolicy {name:?} cannot be read by this operator release"
            ));
        }
        let Some(policy) = self.policies.get(&key) else {
            return PolicyLookup::Missing(name.to_string());
        };
        match rules::resolve(name, &policy.spec) {
            Err(errors) => PolicyLookup::Invalid(format!(
                "GovCloudPolicy {name:?} is invalid: {}",
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            )),
            Ok(mut rules) => match self.calendar(&rules.calendar) {
                Ok(cal) => {
                    // Recorded with a grant's rules, to say which version they are.
                    rules.generation = policy.metadata.generation;
                    PolicyLookup::Ready(Box::new(rules), cal)
                }
                Err(msg) => PolicyLookup::Invalid(format!("GovCloudPolicy {name:?}: {msg}")),
            },
        }
    }

    /// The calendar of the rules recorded with a grant (`status.grantedRules`), for when
    /// its policy is unavailable: the embedded cn-statutory data when there is no record,
    /// or when the calendar it names is gone too — then with why.
    pub fn recorded_calendar(
        &self,
        status: Option<&CloudResourceRequestStatus>,
    ) -> (Calendar, Option<String>) {
        let name = status
            .and_then(|s| s.granted_rules.as_ref())
            .and_then(|g| g.rules.calendar.as_deref());
        match name.map(|n| self.calendar(n)) {
            Some(Ok(cal)) => (cal, None),
            Some(Err(why)) => (Calendar::cn_statutory(), Some(why)),
            None => (Calendar::cn_statutory(), None),
        }
    }

    /// The rules a request's ResourceChanges and ExitRequests are judged by, with their
    /// calendar: its policy's, or while that is missing or invalid, those recorded with
    /// its grant — so an approved exit or change of a granted request still completes.
    pub fn rules_of(&self, request: &CloudResourceRequest) -> Option<(Rules, Calendar)> {
        let name = request
            .spec
            .policy
            .clone()
            .unwrap_or_else(|| self.config.default_policy.clone());
        match self.policy(&name) {
            PolicyLookup::Ready(rules, cal) => Some((*rules, cal)),
            PolicyLookup::Missing(_) | PolicyLookup::Invalid(_) => {
                let status = request.status.as_ref().filter(|s| s.grant.is_some())?;
                let rules = granted_rules::restore(status.granted_rules.as_ref()?).ok()?;
                Some((rules, self.recorded_calendar(Some(status)).0))
            }
        }
    }

    /// The calendar named by a policy: `cn-statutory` with every WorkCalendar's years laid
    /// over it, or one WorkCalendar alone.
    pub fn calendar(&self, name: &str) -> Result<Calendar, String> {
        static CACHE: std::sync::LazyLock<calendar_cache::CalendarCache> =
            std::sync::LazyLock::new(Default::default);
        let state = self.calendars.state();
        let calendars: Vec<&WorkCalendar> = state.iter().map(|c| &**c).collect();
        CACHE.get_or_build(name, &calendars, || {
            let (cal, skipped) = compose_calendar(name, calendars.iter().copied())?;
            for msg in skipped {
                tracing::warn!(%msg, "skipping calendar year");
            }
            self.metrics.calendar_years.set(cal.years().len() as i64);
            // Issue 15: a year without published data is counted on its provisional
            // calendar (the law's holidays) rather than weekends alone, and said to be
            // (CalendarIncomplete).
            Ok(cal.with_provisional())
        })
    }
}

/// How soon a reconcile that found the stores not yet loaded looks again.
pub const STORES_LOADING_RETRY: Duration = Duration::from_millis(250);

/// Writes `status` with server-side apply when it differs from `current` (a converged
/// object sees no write).
pub async fn write_status<K, S>(
    api: &Api<K>,
    name: &str,
    current: Option<&S>,
    status: &S,
) -> Result<bool, Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
    S: Serialize + PartialEq,
{
    if current == Some(status) {
        return Ok(false);
    }
    let body = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": serde_json::to_value(status).map_err(Error::Serialize)?,
    });
    api.patch_status(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(body),
    )
    .await?;
    Ok(true)
}

/// Publishes `notices` as Events on `obj`; failures are logged, never fatal.
pub async fn publish<K: Resource<DynamicType = ()>>(ctx: &Context, obj: &K, notices: &[Notice]) {
    let reference = obj.object_ref(&());
    for n in notices {
        let event = Event {
            type_: if n.warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: n.reason.to_string(),
            note: Some(n.message.chars().take(1000).collect()),
            action: n.reason.to_string(),
            secondary: None,
        };
        if let Err(e) = ctx.recorder.publish(&event, &reference).await {
            tracing::warn!(error = %e, reason = n.reason, "cannot publish event");
        }
    }
}

/// Requeue at `wake_at` (capped), or after the cap to heal drift.
pub fn requeue_at(wake_at: Option<DateTime<Utc>>, now: DateTime<Utc>, max: Duration) -> Requeue {
    let wait = wake_at
        .and_then(|t| (t - now).to_std().ok())
        .map(|d| d + Duration::from_millis(50))
        .unwrap_or(max)
        .min(max);
    Requeue::requeue(wait)
}

/// The error policy shared by the reconcilers: a Warning-free backoff that grows per
/// object (1 s, 2 s, 4 s … 5 min) and resets on success.
pub fn backoff(ctx: &Context, key: &str) -> Requeue {
    let mut retries = ctx.retries.lock().unwrap_or_else(|p| p.into_inner());
    let n = retries.entry(key.to_string()).or_insert(0);
    *n = n.saturating_add(1);
    let secs = 1u64 << (*n - 1).min(8);
    Requeue::requeue(Duration::from_secs(secs.min(300)))
}

/// Forgets the retry count of `key` after a success.
pub fn reset_backoff(ctx: &Context, key: &str) {
    let mut retries = ctx.retries.lock().unwrap_or_else(|p| p.into_inner());
    retries.remove(key);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::CloudResourceRequest;
    use futures::StreamExt;

    #[tokio::test]
    async fn a_full_wake_channel_drops_instead_of_blocking_or_growing() {
        let (wake, mut woken) = wake_channel::<CloudResourceRequest>();
        let obj = |i: usize| ObjectRef::<CloudResourceRequest>::new(&format!("r{i}")).within("ns");
        for i in 0..WAKE_CAPACITY {
            assert!(wake.send(obj(i)).is_ok());
        }
        assert_eq!(
            wake.send(obj(WAKE_CAPACITY)),
            Err(obj(WAKE_CAPACITY)),
            "dropped, not queued"
        );
        assert_eq!(woken.next().await, Some(obj(0)));
        assert!(
            wake.send(obj(WAKE_CAPACITY)).is_ok(),
            "room again once read"
        );
    }
}
