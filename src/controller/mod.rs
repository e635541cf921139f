//! Reconcilers, one module per kind. Each reconcile is a pipeline:
//! gather (read the cluster and the stores) → decide (pure, in `policy`) → apply
//! (server-side apply under one field manager) → write status (only when it changed) →
//! publish Events → requeue at the next deadline.

pub mod calendar_wakes;
pub mod capacity;
pub mod change;
pub mod context;
pub mod dependents;
pub mod error;
pub mod events;
pub mod exit;
pub mod guard;
pub mod measure;
pub mod owned_watch;
pub mod policy;
pub mod prometheus;
pub mod prune;
pub mod record;
pub mod request;
pub mod tenant;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action as Requeue;
use kube::runtime::events::{Event, EventType};

use events::Recorder;
use kube::runtime::reflector::{Lookup, ObjectRef, Store};
use kube::{Api, Client, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::{CloudResourceRequest, CloudResourceRequestStatus, GovCloudPolicy, WorkCalendar};
use crate::index::resolved::{Built, Resolved};
use crate::metrics::Metrics;
use crate::policy::calendar::Calendar;
use crate::policy::granted_rules;
use crate::policy::notice::Notice;
use crate::policy::rules::Rules;
pub use capacity::{Capacity, CapacityLedger};
pub use context::{ObjectBook, Stores, Wakes};
pub use error::{During, Error};

/// The one field manager of the operator for everything it writes.
pub const FIELD_MANAGER: &str = "govcloud.io/operator";

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
    /// What the watches hold.
    pub stores: Stores,
    /// Pool capacity: one lock per pool and the ledger of the operator's own writes.
    pub capacity: Capacity,
    /// Asking a controller to look at an object again.
    pub wakes: Wakes,
    /// Prometheus, when `--prometheus-url` is set.
    pub prometheus: Option<prometheus_http_query::Client>,
    /// What the operator keeps about each object between reconciles.
    pub objects: ObjectBook,
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

/// A policy as the decisions see it.
pub enum PolicyLookup {
    /// Usable rules and the calendar they count on.
    Ready(Arc<Rules>, Calendar),
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
    /// The capacity index counts once its watches have listed (a pool must not look
    /// emptier than it is).
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
        if self.stores.loading.took().is_some() {
            // Stores never go back to unloaded: a relist keeps the old state until it
            // replaces it.
            return true;
        }
        let ready = ready(&self.stores.policies)
            && ready(&self.stores.calendars)
            && ready(&self.stores.requests)
            && ready(&self.stores.changes)
            && ready(&self.stores.exits)
            && ready(&self.stores.namespaces)
            && self.capacity.ready()
            && self
                .stores
                .tenant_objects
                .read()
                .is_ok_and(|index| index.listed());
        if let Some(took) = ready.then(|| self.stores.loading.loaded()).flatten() {
            self.metrics.stores_loaded_seconds.set(took.as_secs_f64());
            tracing::info!(
                seconds = took.as_secs_f64(),
                "every watch has listed: reconciling"
            );
        }
        ready
    }

    /// The rules and calendar of policy `name`, resolved once per version of the policy
    /// and its WorkCalendars (see [`crate::index::resolved`]).
    pub fn policy(&self, name: &str) -> PolicyLookup {
        let key = kube::runtime::reflector::ObjectRef::<GovCloudPolicy>::new(name);
        if self.quarantine.holds_named::<GovCloudPolicy>(None, name) {
            // Not "missing": it exists, but this release cannot read it (crate::decode).
            return PolicyLookup::Invalid(format!(
                "GovCloudPolicy {name:?} cannot be read by this operator release"
            ));
        }
        let Some(policy) = self.stores.policies.get(&key) else {
            return PolicyLookup::Missing(name.to_string());
        };
        let state = self.stores.calendars.state();
        let calendars: Vec<&WorkCalendar> = state.iter().map(|c| &**c).collect();
        let resolved = self
            .stores
            .resolved
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .policy(&policy, &calendars, &mut |built| self.calendar_built(built));
        match resolved {
            Resolved::Ready(rules, cal) => PolicyLookup::Ready(rules, cal),
            Resolved::Invalid(msg) => PolicyLookup::Invalid(msg),
        }
    }

    /// The calendar of the rules recorded with a grant (`status.grantedRulesJson`), for when
    /// its policy is unavailable: the embedded cn-statutory data when there is no record,
    /// or when the calendar it names is gone too — then with why.
    pub fn recorded_calendar(
        &self,
        status: Option<&CloudResourceRequestStatus>,
    ) -> (Calendar, Option<String>) {
        let name = status
            .and_then(|s| s.granted_rules.get())
            .and_then(|g| g.rules.calendar.as_deref());
        match name.map(|n| self.calendar(n)) {
            Some(Ok(cal)) => (cal, None),
            Some(Err(why)) => (Calendar::cn_statutory(), Some(why)),
            None => (Calendar::cn_statutory(), None),
        }
    }

    /// The policy a request's spec names (the default policy when it names none).
    pub fn spec_policy_name(&self, request: &CloudResourceRequest) -> String {
        request
            .spec
            .policy
            .clone()
            .unwrap_or_else(|| self.config.default_policy.clone())
    }

    /// The policy a request lives by: for a grant, the one recorded with it (its rules and
    /// its pool hold the grant whatever `spec.policy` says later, issue 13); before a
    /// grant, the one the spec names.
    pub fn policy_name(&self, request: &CloudResourceRequest) -> String {
        crate::policy::request::frozen::policy_of(
            &request.spec,
            request.status.as_ref(),
            &self.config.default_policy,
        )
        .to_string()
    }

    /// The rules a request's ResourceChanges and ExitRequests are judged by, with their
    /// calendar: its policy's, or while that is missing or invalid, those recorded with
    /// its grant — so an approved exit or change of a granted request still completes.
    pub fn rules_of(&self, request: &CloudResourceRequest) -> Option<(Arc<Rules>, Calendar)> {
        let name = self.policy_name(request);
        match self.policy(&name) {
            PolicyLookup::Ready(rules, cal) => Some((rules, cal)),
            PolicyLookup::Missing(_) | PolicyLookup::Invalid(_) => {
                let status = request.status.as_ref().filter(|s| s.grant.is_some())?;
                let rules = granted_rules::restore(status.granted_rules.get()?).ok()?;
                Some((Arc::new(rules), self.recorded_calendar(Some(status)).0))
            }
        }
    }

    /// The calendar named by a policy: `cn-statutory` with every WorkCalendar's years laid
    /// over it, or one WorkCalendar alone; composed once per version of the WorkCalendars.
    pub fn calendar(&self, name: &str) -> Result<Calendar, String> {
        let state = self.stores.calendars.state();
        let calendars: Vec<&WorkCalendar> = state.iter().map(|c| &**c).collect();
        self.stores
            .resolved
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .calendar(name, &calendars, &mut |built| self.calendar_built(built))
    }

    /// A calendar was (re)composed: its skipped years are logged, its coverage counted.
    fn calendar_built(&self, built: Built<'_>) {
        for msg in built.skipped {
            tracing::warn!(%msg, "skipping calendar year");
        }
        self.metrics
            .calendar_years
            .set(built.calendar.years().len() as i64);
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
    .await
    .during(Error::Status, static_kind::<K>())?;
    Ok(true)
}

/// `K`'s kind as a static word (every kind here has a fixed one).
fn static_kind<K: Resource<DynamicType = ()>>() -> &'static str {
    match K::kind(&()) {
        std::borrow::Cow::Borrowed(kind) => kind,
        std::borrow::Cow::Owned(_) => "object",
    }
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
        if let Err(e) = ctx
            .recorder
            .publish(&event, &reference)
            .await
            .during(Error::Event, static_kind::<K>())
        {
            if e.routine() {
                // The namespace refuses every new object now: the other notices would
                // only be refused too.
                tracing::debug!(error = %e, reason = n.reason, "no events: namespace terminating");
                break;
            } else {
                tracing::warn!(error = %e, step = e.step(), reason = n.reason, "cannot publish event");
            }
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
    let mut retries = ctx
        .objects
        .retries
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    let n = retries.entry(key.to_string()).or_insert(0);
    *n = n.saturating_add(1);
    let secs = 1u64 << (*n - 1).min(8);
    Requeue::requeue(Duration::from_secs(secs.min(300)))
}

/// Forgets the retry count of `key` after a success.
pub fn reset_backoff(ctx: &Context, key: &str) {
    let mut retries = ctx
        .objects
        .retries
        .lock()
        .unwrap_or_else(|p| p.into_inner());
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
