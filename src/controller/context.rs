//! The parts of the reconcilers' [`Context`](super::Context), grouped by what they are:
//! the watch stores, the wake channels, and what is kept about each object between
//! reconciles.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;

use crate::index::by_request::ByRequest;
use crate::index::namespace_view::NamespaceView;
use crate::index::resolved::ResolvedCache;
use crate::index::tenant_objects::TenantObjects;

use super::{Wake, measure};
use crate::api::{CloudResourceRequest, ExitRequest, GovCloudPolicy, ResourceChange, WorkCalendar};

/// The stores the watches fill, and the indexes kept beside them: every decision reads
/// the cluster from here.
pub struct Stores {
    /// GovCloudPolicy objects.
    pub policies: Store<GovCloudPolicy>,
    /// WorkCalendar objects.
    pub calendars: Store<WorkCalendar>,
    /// CloudResourceRequest objects.
    pub requests: Store<CloudResourceRequest>,
    /// ResourceChange objects.
    pub changes: Store<ResourceChange>,
    /// ExitRequest objects.
    pub exits: Store<ExitRequest>,
    /// Managed namespaces (label `govcloud.io/managed=true`), from the namespace watch,
    /// each reduced to what the controllers read.
    pub namespaces: Store<NamespaceView>,
    /// ResourceChanges by the request they name, fed by the change watch.
    pub changes_by_request: Arc<RwLock<ByRequest>>,
    /// ExitRequests by the request they name, fed by the exit watch.
    pub exits_by_request: Arc<RwLock<ByRequest>>,
    /// Policies resolved and calendars composed, by the resourceVersions they come from.
    pub resolved: Mutex<ResolvedCache>,
    /// The objects owned in each tenant namespace, fed by their watches
    /// ([`super::owned_watch`]).
    pub tenant_objects: Arc<RwLock<TenantObjects>>,
    /// When the watches started, and how long their first lists took.
    pub loading: Loading,
}

/// How long the stores took to load: from the start of leading until every watch had
/// listed once, the part of a cold restart that is spent waiting on the API server
/// rather than reconciling (issue 11: the restart pass at 10,000 requests).
#[derive(Debug)]
pub struct Loading {
    since: std::time::Instant,
    took: std::sync::OnceLock<std::time::Duration>,
}

impl Default for Loading {
    fn default() -> Self {
        Self {
            since: std::time::Instant::now(),
            took: std::sync::OnceLock::new(),
        }
    }
}

impl Loading {
    /// Notes that every store is loaded: how long that took, the first time only.
    pub fn loaded(&self) -> Option<std::time::Duration> {
        let mut first = false;
        let took = *self.took.get_or_init(|| {
            first = true;
            self.since.elapsed()
        });
        first.then_some(took)
    }

    /// How long loading took, once it is over.
    pub fn took(&self) -> Option<std::time::Duration> {
        self.took.get().copied()
    }
}

impl Stores {
    /// The ResourceChanges in `namespace` naming request `request` (a lookup, no scan).
    pub fn changes_of(&self, namespace: &str, request: &str) -> Vec<Arc<ResourceChange>> {
        of_request(&self.changes, &self.changes_by_request, namespace, request)
    }

    /// The ExitRequests in `namespace` naming request `request` (a lookup, no scan).
    pub fn exits_of(&self, namespace: &str, request: &str) -> Vec<Arc<ExitRequest>> {
        of_request(&self.exits, &self.exits_by_request, namespace, request)
    }
}

fn of_request<K>(
    store: &Store<K>,
    index: &RwLock<ByRequest>,
    namespace: &str,
    request: &str,
) -> Vec<Arc<K>>
where
    K: kube::Resource<DynamicType = ()> + Clone + 'static,
{
    let names = index
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .names(namespace, request);
    // The store is written before the index (see [`feed`]): a name whose object is
    // already gone from it is skipped.
    names
        .iter()
        .filter_map(|name| store.get(&ObjectRef::new(name).within(namespace)))
        .collect()
}

/// Keeps `index` in step with a watch of objects naming a request (`request_of`): fed
/// with each event after the watch's store took it.
pub fn feed<K>(index: &RwLock<ByRequest>, event: &watcher::Event<K>, request_of: fn(&K) -> &str)
where
    K: kube::Resource,
{
    let key = |obj: &K| {
        let meta = obj.meta();
        (
            meta.namespace.clone().unwrap_or_default(),
            meta.name.clone().unwrap_or_default(),
        )
    };
    let mut index = index.write().unwrap_or_else(|p| p.into_inner());
    match event {
        watcher::Event::Apply(obj) => {
            let (ns, name) = key(obj);
            index.upsert(&ns, &name, request_of(obj));
        }
        watcher::Event::Delete(obj) => {
            let (ns, name) = key(obj);
            index.remove(&ns, &name);
        }
        watcher::Event::Init => index.begin_relist(),
        watcher::Event::InitApply(obj) => {
            let (ns, name) = key(obj);
            index.relisted(&ns, &name, request_of(obj));
        }
        watcher::Event::InitDone => index.end_relist(),
    }
}

/// The channels that make a controller look at an object again.
pub struct Wakes {
    /// Requests (capacity freed, a change approved, an exit due).
    pub requests: Wake<CloudResourceRequest>,
    /// Changes (applied by their request).
    pub changes: Wake<ResourceChange>,
    /// Exits (their request changed phase).
    pub exits: Wake<ExitRequest>,
}

/// What the operator keeps about each object between its reconciles (forgotten when the
/// object goes, see [`super::prune`]).
#[derive(Default)]
pub struct ObjectBook {
    /// Per-object retry counts for the error backoff.
    pub retries: Mutex<HashMap<String, u32>>,
    /// Each request's (by UID) measurement schedule and the measurement waiting for its
    /// reconcile (see [`measure`]).
    pub measurements: Mutex<HashMap<String, measure::Measurement>>,
    /// When each tenant (by request UID) was last applied, and how disturbed the index
    /// had seen it then (see `request::ensure_tenant`).
    pub verified_at: Mutex<HashMap<String, Verified>>,
}

/// A tenant applied at `at`, when the index had counted `disturbances` of it.
#[derive(Debug, Clone, Copy)]
pub struct Verified {
    /// When.
    pub at: std::time::Instant,
    /// [`TenantObjects::disturbances`] then.
    pub disturbances: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ResourceChange, ResourceChangeSpec};

    fn change(ns: &str, name: &str, request: &str) -> ResourceChange {
        let mut c = ResourceChange::new(
            name,
            ResourceChangeSpec {
                request: request.into(),
                resources: None,
                extend_to: None,
                convert_to: None,
                reason: None,
                justification: None,
                recurring: false,
                access_groups: None,
                zone: None,
            },
        );
        c.metadata.namespace = Some(ns.into());
        c
    }

    fn request_of(c: &ResourceChange) -> &str {
        c.spec.request.as_str()
    }

    /// The watch's events keep the index as the store: applied, moved, deleted, and a
    /// relist (after a watch gap) that drops what was deleted meanwhile.
    #[test]
    fn watch_events_feed_the_index() {
        let index = RwLock::new(ByRequest::default());
        let names = |ns: &str, r: &str| index.read().map(|i| i.names(ns, r)).unwrap_or_default();
        feed(
            &index,
            &watcher::Event::Apply(change("a", "c1", "r")),
            request_of,
        );
        feed(
            &index,
            &watcher::Event::Apply(change("a", "c2", "r")),
            request_of,
        );
        feed(
            &index,
            &watcher::Event::Apply(change("b", "c1", "r")),
            request_of,
        );
        assert_eq!(names("a", "r"), ["c1", "c2"]);
        feed(
            &index,
            &watcher::Event::Apply(change("a", "c2", "s")),
            request_of,
        );
        assert_eq!(
            (names("a", "r"), names("a", "s")),
            (vec!["c1".into()], vec!["c2".into()])
        );
        feed(
            &index,
            &watcher::Event::Delete(change("a", "c1", "r")),
            request_of,
        );
        assert!(names("a", "r").is_empty());
        feed(&index, &watcher::Event::Init, request_of);
        feed(
            &index,
            &watcher::Event::InitApply(change("a", "c3", "r")),
            request_of,
        );
        assert_eq!(names("b", "r"), ["c1"], "kept until the relist is done");
        feed(&index, &watcher::Event::InitDone, request_of);
        assert_eq!(names("a", "r"), ["c3"]);
        assert!(names("b", "r").is_empty() && names("a", "s").is_empty());
    }
}
