//! Objects that do not decode are reported and skipped, never allowed to stop a watch.
//!
//! A watch of a typed kind fails its whole list when one object does not deserialize —
//! e.g. a `status.phase` written by a newer release and kept after a rollback — and
//! retries forever: its store never fills, and no object of any kind is reconciled. So
//! every watch lists [`Tolerant`] objects instead, whose decoding never fails: an object
//! that does not decode keeps its metadata and the error, is reported once per
//! resourceVersion (log, Event on the object, `govcloud_undecodable_objects` gauge and
//! `govcloud_decode_failures` counter, labelled by kind only) and is kept out of the
//! typed store, so the rest of its kind is reconciled as usual. An object that decoded
//! before and no longer does is evicted from the store, and the [`Quarantine`] remembers
//! it until it decodes again or is deleted, so a stale copy is never acted on.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use kube::runtime::events::{Event, EventType};

use crate::controller::events::Recorder;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use serde::de::{Deserialize, DeserializeOwned, Deserializer};

use crate::metrics::{Metrics, UndecodableLabels};

/// An object of kind `K` as listed or watched: decoded, or not decodable.
#[derive(Clone, Debug)]
pub enum Tolerant<K> {
    /// The object decoded as `K`.
    Decoded(K),
    /// The object does not decode as `K`; its metadata and the reason are kept.
    Undecodable(Box<Undecodable>),
}

/// What is known of an object that does not decode.
#[derive(Clone, Debug, Default)]
pub struct Undecodable {
    /// Its metadata, when that much decodes (the API server validates metadata, so it
    /// practically always does); empty otherwise.
    pub meta: ObjectMeta,
    /// Why it does not decode.
    pub error: String,
}

impl<'de, K: DeserializeOwned> Deserialize<'de> for Tolerant<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Only malformed JSON fails here, and that fails the response, not one object.
        let mut value = serde_json::Value::deserialize(deserializer)?;
        // Cut before the typed decode, not after (issue 11: the transient memory and CPU
        // of listing 10,000 requests).
        crate::watch::trim(&mut value);
        Ok(match K::deserialize(&value) {
            Ok(obj) => Tolerant::Decoded(obj),
            Err(e) => Tolerant::Undecodable(Box::new(Undecodable {
                meta: value
                    .get("metadata")
                    .and_then(|m| ObjectMeta::deserialize(m).ok())
                    .unwrap_or_default(),
                error: e.to_string(),
            })),
        })
    }
}

impl<K: Resource<DynamicType = ()>> Resource for Tolerant<K> {
    type DynamicType = ();
    type Scope = K::Scope;

    fn kind(dt: &()) -> Cow<'_, str> {
        K::kind(dt)
    }
    fn group(dt: &()) -> Cow<'_, str> {
        K::group(dt)
    }
    fn version(dt: &()) -> Cow<'_, str> {
        K::version(dt)
    }
    fn plural(dt: &()) -> Cow<'_, str> {
        K::plural(dt)
    }
    fn meta(&self) -> &ObjectMeta {
        match self {
            Tolerant::Decoded(obj) => obj.meta(),
            Tolerant::Undecodable(u) => &u.meta,
        }
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        match self {
            Tolerant::Decoded(obj) => obj.meta_mut(),
            Tolerant::Undecodable(u) => &mut u.meta,
        }
    }
}

/// An object by kind, namespace and name.
type Key = (String, Option<String>, String);

fn key_of<K: Resource<DynamicType = ()>>(meta: &ObjectMeta) -> Key {
    (
        K::kind(&()).into_owned(),
        meta.namespace.clone(),
        meta.name.clone().unwrap_or_default(),
    )
}

#[derive(Default)]
struct State {
    /// Every object currently not decodable → the resourceVersion last reported.
    broken: HashMap<Key, Option<String>>,
    /// Per watch, during a (re)list: the undecodable objects listed so far.
    listing: HashMap<&'static str, HashSet<Key>>,
}

/// The objects that currently do not decode, shared by every watch and consulted by the
/// reconcilers. Bounded by the number of objects: an entry goes when its object decodes
/// again, is deleted, or is missing from a fresh list.
pub struct Quarantine {
    state: Mutex<State>,
    metrics: Arc<Metrics>,
    recorder: Option<Recorder>,
}

impl Quarantine {
    /// `recorder`: where Events about undecodable objects go (none in unit tests).
    pub fn new(metrics: Arc<Metrics>, recorder: Option<Recorder>) -> Self {
        Self {
            state: Mutex::new(State::default()),
            metrics,
            recorder,
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        // A poisoned lock only means another thread panicked mid-update of plain maps.
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    /// Whether `obj` (a possibly stale copy) is known not to decode: then it must not be
    /// acted on.
    pub fn holds<K: Resource<DynamicType = ()>>(&self, obj: &K) -> bool {
        let key = key_of::<K>(obj.meta());
        self.with(|s| s.broken.contains_key(&key))
    }

    /// Whether the object of `K` named `name` (in `namespace`) is known not to decode.
    pub fn holds_named<K: Resource<DynamicType = ()>>(
        &self,
        namespace: Option<&str>,
        name: &str,
    ) -> bool {
        let key = (
            K::kind(&()).into_owned(),
            namespace.map(str::to_string),
            name.to_string(),
        );
        self.with(|s| s.broken.contains_key(&key))
    }

    /// How many objects of `K` currently do not decode.
    pub fn count<K: Resource<DynamicType = ()>>(&self) -> usize {
        let kind = K::kind(&());
        self.with(|s| s.broken.keys().filter(|k| k.0 == kind).count())
    }

    fn set_gauge<K: Resource<DynamicType = ()>>(&self, s: &State) {
        let kind = K::kind(&()).into_owned();
        let n = s.broken.keys().filter(|k| k.0 == kind).count();
        self.metrics
            .undecodable
            .get_or_create(&UndecodableLabels { kind })
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// Forgets `meta`'s object: it decodes again, or is gone.
    fn release<K: Resource<DynamicType = ()>>(&self, meta: &ObjectMeta) {
        let key = key_of::<K>(meta);
        self.with(|s| {
            if s.broken.remove(&key).is_some() {
                tracing::info!(kind = %key.0, namespace = key.1.as_deref().unwrap_or_default(), name = %key.2, "object decodes again (or is gone)");
                self.set_gauge::<K>(s);
            }
        });
    }

    /// Records an undecodable object; reports it unless this resourceVersion already was.
    fn quarantine<K: Resource<DynamicType = ()>>(&self, watch: &'static str, u: &Undecodable) {
        let key = key_of::<K>(&u.meta);
        let fresh = self.with(|s| {
            if let Some(listed) = s.listing.get_mut(watch) {
                listed.insert(key.clone());
            }
            let fresh = s.broken.get(&key) != Some(&u.meta.resource_version);
            s.broken
                .insert(key.clone(), u.meta.resource_version.clone());
            self.set_gauge::<K>(s);
            fresh
        });
        if !fresh {
            return;
        }
        self.metrics
            .decode_failures
            .get_or_create(&UndecodableLabels {
                kind: key.0.clone(),
            })
            .inc();
        tracing::error!(
            kind = %key.0,
            namespace = key.1.as_deref().unwrap_or_default(),
            name = %key.2,
            error = %u.error,
            "object does not decode (written by a newer release?); skipped and left untouched"
        );
        self.publish::<K>(u);
    }

    fn publish<K: Resource<DynamicType = ()>>(&self, u: &Undecodable) {
        let (Some(recorder), Some(_)) = (self.recorder.clone(), u.meta.name.as_ref()) else {
            return;
        };
        let reference = ObjectReference {
            api_version: Some(K::api_version(&()).into_owned()),
            kind: Some(K::kind(&()).into_owned()),
            name: u.meta.name.clone(),
            namespace: u.meta.namespace.clone(),
            uid: u.meta.uid.clone(),
            resource_version: u.meta.resource_version.clone(),
            ..ObjectReference::default()
        };
        // An Event note is limited to 1 kB; the decode error is usually far shorter.
        let note: String = format!(
            "This operator cannot read the object (written by a newer release?), so it leaves it untouched: {}",
            u.error
        )
        .chars()
        .take(1000)
        .collect();
        let event = Event {
            type_: EventType::Warning,
            reason: "Undecodable".into(),
            note: Some(note),
            action: "Decode".into(),
            secondary: None,
        };
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                if let Err(e) = recorder.publish(&event, &reference).await {
                    tracing::warn!(error = %e, "cannot publish the Undecodable Event");
                }
            });
        }
    }

    /// Sorts one event of watch `watch` into what the typed store and controller see:
    /// decodable objects pass; an undecodable one is reported and withheld, and a copy of
    /// it the store still holds from when it decoded is evicted (as a deletion).
    pub fn sort<K>(
        &self,
        watch: &'static str,
        event: watcher::Event<Tolerant<K>>,
        store: &Store<K>,
    ) -> Option<watcher::Event<K>>
    where
        K: Resource<DynamicType = ()> + Clone,
    {
        use watcher::Event as E;
        let stale = |meta: &ObjectMeta| {
            let name = meta.name.as_deref()?;
            let r = ObjectRef::<K>::new(name);
            let r = match &meta.namespace {
                Some(ns) => r.within(ns),
                None => r,
            };
            store.get(&r).map(|obj| E::Delete((*obj).clone()))
        };
        match event {
            E::Init => {
                self.with(|s| s.listing.insert(watch, HashSet::new()));
                Some(E::Init)
            }
            E::InitApply(Tolerant::Decoded(obj)) => {
                self.release::<K>(obj.meta());
                Some(E::InitApply(obj))
            }
            E::InitApply(Tolerant::Undecodable(u)) => {
                // The store is replaced at InitDone by what was listed: nothing to evict.
                self.quarantine::<K>(watch, &u);
                None
            }
            E::InitDone => {
                // Objects quarantined before and missing from the fresh list are gone.
                self.with(|s| {
                    let listed = s.listing.remove(watch).unwrap_or_default();
                    let kind = K::kind(&());
                    s.broken.retain(|k, _| k.0 != kind || listed.contains(k));
                    self.set_gauge::<K>(s);
                });
                Some(E::InitDone)
            }
            E::Apply(Tolerant::Decoded(obj)) => {
                self.release::<K>(obj.meta());
                Some(E::Apply(obj))
            }
            E::Apply(Tolerant::Undecodable(u)) => {
                self.quarantine::<K>(watch, &u);
                stale(&u.meta)
            }
            E::Delete(Tolerant::Decoded(obj)) => {
                self.release::<K>(obj.meta());
                Some(E::Delete(obj))
            }
            E::Delete(Tolerant::Undecodable(u)) => {
                self.release::<K>(&u.meta);
                stale(&u.meta)
            }
        }
    }
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;
