//! The watches of the objects the operator owns in tenant namespaces (label
//! `govcloud.io/managed=true`), feeding [`crate::index::tenant_objects`]: a converged
//! tenant is checked, and its allocation figures read, from memory instead of with GETs
//! (issue 11). A deleted object, or a quota whose `hard` someone edited, wakes the request
//! it belongs to, which repairs it.
//!
//! The quota is watched whole (its `hard` and `status` are read); the LimitRange,
//! RoleBinding and NetworkPolicy only as metadata, since only their presence is checked.
//! Nothing is cached but what the index keeps.

use std::sync::{Arc, RwLock};

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{LimitRange, ResourceQuota};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use super::Wake;
use super::prometheus::allocation;
use crate::api::CloudResourceRequest;
use crate::health::Health;
use crate::index::tenant_objects::{Disturbed, Owned, Seen, TenantObjects};
use crate::metrics::Metrics;
use crate::policy::tenant as names;
use crate::watch::Target;

/// Everything a watch of owned objects needs.
#[derive(Clone)]
pub struct Feed {
    /// The index the events go into.
    pub index: Arc<RwLock<TenantObjects>>,
    /// Wakes the owning request of a disturbed tenant.
    pub wake: Wake<CloudResourceRequest>,
    /// Readiness and stall detection of each watch.
    pub health: Arc<Health>,
    /// The watch-error metric.
    pub metrics: Arc<Metrics>,
}

/// The four watches, each running until the process stops.
pub fn run(client: &Client, feed: &Feed) -> Vec<tokio::task::JoinHandle<()>> {
    vec![
        tokio::spawn(drive(
            Owned::Quota,
            whole::<ResourceQuota>(client, feed, "resourcequotas"),
            feed.clone(),
        )),
        tokio::spawn(drive(
            Owned::LimitRange,
            metadata::<LimitRange>(client, feed, "limitranges"),
            feed.clone(),
        )),
        tokio::spawn(drive(
            Owned::RoleBinding,
            metadata::<RoleBinding>(client, feed, "rolebindings"),
            feed.clone(),
        )),
        tokio::spawn(drive(
            Owned::NetworkPolicy,
            metadata::<NetworkPolicy>(client, feed, "networkpolicies"),
            feed.clone(),
        )),
    ]
}

/// The name the operator gives the owned object of `kind`; anything else carrying the
/// managed label is not the operator's and is ignored.
fn name_of(kind: Owned) -> &'static str {
    match kind {
        Owned::Quota => names::QUOTA_NAME,
        Owned::LimitRange => names::LIMIT_RANGE_NAME,
        Owned::RoleBinding => names::ROLE_BINDING_NAME,
        Owned::NetworkPolicy => names::NETWORK_POLICY_NAME,
    }
}

/// The owned objects of kind `K`: those with the managed label.
fn target<K: Resource<DynamicType = ()>>() -> Target {
    Target::all::<K>().selected(&crate::watch::managed_selector())
}

/// A watch of whole objects, as (namespace, what was seen) per event.
fn whole<K>(
    client: &Client,
    feed: &Feed,
    name: &'static str,
) -> impl Stream<Item = watcher::Event<(String, String, Seen)>> + Send + 'static
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
    K: Observed,
{
    observed(
        crate::watch::stream::watch::<K>(client.clone(), target::<K>()),
        feed,
        name,
    )
}

/// A watch of metadata only.
fn metadata<K>(
    client: &Client,
    feed: &Feed,
    name: &'static str,
) -> impl Stream<Item = watcher::Event<(String, String, Seen)>> + Send + 'static
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    observed(
        crate::watch::stream::watch::<PartialObjectMeta<K>>(
            client.clone(),
            target::<K>().metadata_only(),
        ),
        feed,
        name,
    )
}

/// What the index keeps of an object.
pub trait Observed {
    /// Its quota figures, for a quota.
    fn seen(&self) -> Seen;
}

impl Observed for ResourceQuota {
    fn seen(&self) -> Seen {
        Seen {
            owner: owner(self),
            hard: self
                .spec
                .as_ref()
                .and_then(|s| s.hard.as_ref())
                .map(|hard| hard.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect())
                .unwrap_or_default(),
            allocation: allocation(self),
        }
    }
}

impl<K: Resource> Observed for PartialObjectMeta<K> {
    fn seen(&self) -> Seen {
        Seen {
            owner: owner(self),
            ..Seen::default()
        }
    }
}

/// The request an owned object belongs to, from the labels the operator gave it.
fn owner<K: Resource>(obj: &K) -> Option<(String, String)> {
    let labels = obj.labels();
    Some((
        labels.get(names::REQUEST_NAMESPACE_LABEL)?.clone(),
        labels.get(names::REQUEST_NAME_LABEL)?.clone(),
    ))
}

/// The stream of `watch` with the watch backoff, reported to health under `name`, each
/// object reduced to (namespace, name, what was seen).
fn observed<K>(
    watch: impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static,
    feed: &Feed,
    name: &'static str,
) -> impl Stream<Item = watcher::Event<(String, String, Seen)>> + Send + 'static
where
    K: Resource + Observed + Send + 'static,
{
    feed.health.register(name);
    let (health, metrics) = (feed.health.clone(), feed.metrics.clone());
    watch
        .backoff(crate::watch::WatchBackoff::default())
        .inspect(move |item| {
            health.observe(name, item, &metrics);
            if let Err(e) = item {
                tracing::warn!(watch = name, error = %e, "watch failed; retrying");
            }
        })
        .filter_map(|item| futures::future::ready(item.ok()))
        .map(|event| event.map(reduce))
}

fn reduce<K: Resource + Observed>(obj: K) -> (String, String, Seen) {
    (
        obj.meta().namespace.clone().unwrap_or_default(),
        obj.name_any(),
        obj.seen(),
    )
}

/// A small extension: `Event::map` over the object.
trait MapEvent<K> {
    fn map<T>(self, f: impl Fn(K) -> T) -> watcher::Event<T>;
}

impl<K> MapEvent<K> for watcher::Event<K> {
    fn map<T>(self, f: impl Fn(K) -> T) -> watcher::Event<T> {
        match self {
            watcher::Event::Apply(o) => watcher::Event::Apply(f(o)),
            watcher::Event::Delete(o) => watcher::Event::Delete(f(o)),
            watcher::Event::Init => watcher::Event::Init,
            watcher::Event::InitApply(o) => watcher::Event::InitApply(f(o)),
            watcher::Event::InitDone => watcher::Event::InitDone,
        }
    }
}

/// Feeds the index with every event of one watch, and wakes the owners it disturbs.
async fn drive(
    kind: Owned,
    events: impl Stream<Item = watcher::Event<(String, String, Seen)>> + Send + 'static,
    feed: Feed,
) {
    events
        .for_each(|event| {
            let disturbed = apply(&feed.index, kind, event);
            for (namespace, name) in disturbed.owners {
                let _ = feed
                    .wake
                    .send(ObjectRef::<CloudResourceRequest>::new(&name).within(&namespace));
            }
            futures::future::ready(())
        })
        .await;
}

/// One event into the index (objects not named as the operator names them are skipped).
pub fn apply(
    index: &RwLock<TenantObjects>,
    kind: Owned,
    event: watcher::Event<(String, String, Seen)>,
) -> Disturbed {
    let mut index = index.write().unwrap_or_else(|p| p.into_inner());
    let ours = |name: &str| name == name_of(kind);
    match event {
        watcher::Event::Apply((ns, name, seen)) if ours(&name) => index.applied(&ns, kind, seen),
        watcher::Event::InitApply((ns, name, seen)) if ours(&name) => {
            // A relisted object disturbs nobody: every request is looked at after a start.
            index.applied(&ns, kind, seen);
            Disturbed::default()
        }
        watcher::Event::Delete((ns, name, _)) if ours(&name) => index.deleted(&ns, kind),
        watcher::Event::Init => {
            index.begin_relist(kind);
            Disturbed::default()
        }
        watcher::Event::InitDone => index.end_relist(kind),
        _ => Disturbed::default(),
    }
}

/// A tenant namespace deleted: the index forgets it.
pub fn on_namespace(
    index: &RwLock<TenantObjects>,
    event: &watcher::Event<crate::index::namespace_view::NamespaceView>,
) {
    if let watcher::Event::Delete(ns) = event {
        index
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .forget(&ns.name_any());
    }
}
