//! Kubernetes Events (`events.k8s.io/v1`) with a bounded memory of recent ones.
//!
//! Why not kube's `Recorder`: it keeps every Event it published for six minutes, keyed by
//! the object reference *with its resourceVersion*, and scans that whole cache on every
//! publish. Every notice here follows a status write, so the resourceVersion differs each
//! time and nothing ever aggregates, while at 10,000 requests about 30,000 Events sat in
//! the cache (tens of MiB, issue 11) and each publish scanned them under one lock. This
//! one aggregates repeats of the same notice on the same object (by UID, reason, type and
//! text) into a series, remembers only a name and a count per recent Event, and keeps at
//! most [`REMEMBERED`] of them.

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::{Event as K8sEvent, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::events::{Event, EventType, Reporter};
use kube::{Api, Client};

/// How long a repeat joins the series of the first Event (kube's own figure).
const SERIES_WITHIN: SignedDuration = SignedDuration::from_mins(6);

/// The most recent Events remembered for aggregation; past that the oldest half of the
/// memory is dropped (a repeat then starts a new Event, nothing else is lost).
pub const REMEMBERED: usize = 4096;

/// Publishes Events; clones share the memory of recent ones.
#[derive(Clone)]
pub struct Recorder {
    client: Client,
    reporter: Reporter,
    recent: std::sync::Arc<Mutex<Recent>>,
}

impl Recorder {
    /// A recorder reporting as `reporter`.
    pub fn new(client: Client, reporter: Reporter) -> Self {
        Self {
            client,
            reporter,
            recent: Default::default(),
        }
    }

    /// Publishes `ev` about `regarding`: a new Event, or the next count of the series of
    /// the same notice published within [`SERIES_WITHIN`].
    pub async fn publish(
        &self,
        ev: &Event,
        regarding: &ObjectReference,
    ) -> Result<(), kube::Error> {
        let now = Timestamp::now();
        let namespace = regarding
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_string());
        let key = key_of(ev, regarding);
        let repeat = self
            .recent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .repeat(key, now);
        let api: Api<K8sEvent> = Api::namespaced(self.client.clone(), &namespace);
        let name = match repeat {
            Some((name, count)) => {
                let series = serde_json::json!({
                    "series": EventSeries { count, last_observed_time: MicroTime(now) }
                });
                api.patch(&name, &PatchParams::default(), &Patch::Merge(&series))
                    .await?;
                name
            }
            None => {
                let event = self.event(ev, regarding, &namespace, now);
                let name = event.metadata.name.clone().unwrap_or_default();
                api.create(&PostParams::default(), &event).await?;
                name
            }
        };
        self.recent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .published(key, name, now);
        Ok(())
    }

    fn event(
        &self,
        ev: &Event,
        regarding: &ObjectReference,
        namespace: &str,
        now: Timestamp,
    ) -> K8sEvent {
        let controller = &self.reporter.controller;
        K8sEvent {
            action: Some(ev.action.clone()),
            reason: Some(ev.reason.clone()),
            event_time: Some(MicroTime(now)),
            regarding: Some(regarding.clone()),
            note: ev.note.clone(),
            metadata: ObjectMeta {
                namespace: Some(namespace.to_string()),
                name: Some(format!(
                    "{}.{:x}",
                    regarding.name.as_deref().unwrap_or(controller),
                    now.as_nanosecond()
                )),
                ..Default::default()
            },
            reporting_controller: Some(controller.clone()),
            reporting_instance: Some(
                self.reporter
                    .instance
                    .clone()
                    .unwrap_or_else(|| controller.clone()),
            ),
            type_: Some(
                match ev.type_ {
                    EventType::Normal => "Normal",
                    EventType::Warning => "Warning",
                }
                .to_string(),
            ),
            related: ev.secondary.clone(),
            ..Default::default()
        }
    }
}

/// What makes two notices the same: the object (UID, or namespace and name), the reason,
/// the type and the text; not the object's resourceVersion.
fn key_of(ev: &Event, regarding: &ObjectReference) -> u64 {
    let mut h = DefaultHasher::new();
    match &regarding.uid {
        Some(uid) => uid.hash(&mut h),
        None => (&regarding.namespace, &regarding.name, &regarding.kind).hash(&mut h),
    }
    ev.reason.hash(&mut h);
    ev.action.hash(&mut h);
    matches!(ev.type_, EventType::Warning).hash(&mut h);
    ev.note.hash(&mut h);
    h.finish()
}

/// The recent Events: per notice key, the Event's name, its count and when it was last
/// published. Sans-IO.
#[derive(Debug, Default)]
pub struct Recent {
    events: HashMap<u64, Remembered>,
}

#[derive(Debug)]
struct Remembered {
    name: String,
    count: i32,
    last: Timestamp,
}

impl Recent {
    /// The Event to count a repeat of notice `key` on, and its next count, if one was
    /// published within [`SERIES_WITHIN`] of `now`.
    pub fn repeat(&self, key: u64, now: Timestamp) -> Option<(String, i32)> {
        self.events
            .get(&key)
            .filter(|r| r.last + SERIES_WITHIN > now)
            .map(|r| (r.name.clone(), r.count.saturating_add(1)))
    }

    /// Notice `key` was published as Event `name` at `now` (new, or counted again).
    pub fn published(&mut self, key: u64, name: String, now: Timestamp) {
        match self.events.get_mut(&key) {
            Some(r) if r.name == name => {
                r.count = r.count.saturating_add(1);
                r.last = now;
            }
            _ => {
                self.events.insert(
                    key,
                    Remembered {
                        name,
                        count: 1,
                        last: now,
                    },
                );
            }
        }
        if self.events.len() > REMEMBERED {
            self.forget(now);
        }
    }

    /// Drops what can no longer join a series, and if that is not enough, the older half.
    fn forget(&mut self, now: Timestamp) {
        self.events.retain(|_, r| r.last + SERIES_WITHIN > now);
        if self.events.len() > REMEMBERED / 2 {
            let mut times: Vec<Timestamp> = self.events.values().map(|r| r.last).collect();
            times.sort_unstable();
            let cut = times[times.len() / 2];
            self.events.retain(|_, r| r.last > cut);
        }
    }

    /// How many Events are remembered.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    fn notice(reason: &str, note: &str) -> Event {
        Event {
            type_: EventType::Normal,
            reason: reason.into(),
            note: Some(note.into()),
            action: reason.into(),
            secondary: None,
        }
    }

    fn object(uid: &str, resource_version: &str) -> ObjectReference {
        ObjectReference {
            uid: Some(uid.into()),
            name: Some("portal".into()),
            namespace: Some("unit-a".into()),
            resource_version: Some(resource_version.into()),
            ..Default::default()
        }
    }

    #[test]
    fn the_same_notice_on_the_same_object_is_one_key_whatever_its_version() {
        let overdue = notice("ReviewOverdue", "3 working days");
        assert_eq!(
            key_of(&overdue, &object("u1", "10")),
            key_of(&overdue, &object("u1", "11"))
        );
        assert_ne!(
            key_of(&overdue, &object("u1", "10")),
            key_of(&overdue, &object("u2", "10"))
        );
        assert_ne!(
            key_of(&overdue, &object("u1", "10")),
            key_of(
                &notice("ReviewOverdue", "4 working days"),
                &object("u1", "10")
            ),
            "another text is another Event"
        );
    }

    #[test]
    fn a_repeat_within_six_minutes_counts_on_the_first_event() {
        let mut recent = Recent::default();
        assert_eq!(recent.repeat(1, at(0)), None);
        recent.published(1, "portal.a".into(), at(0));
        assert_eq!(recent.repeat(1, at(60)), Some(("portal.a".into(), 2)));
        recent.published(1, "portal.a".into(), at(60));
        assert_eq!(recent.repeat(1, at(120)), Some(("portal.a".into(), 3)));
        assert_eq!(recent.repeat(1, at(60 + 360)), None, "the series has ended");
        recent.published(1, "portal.b".into(), at(60 + 360));
        assert_eq!(recent.repeat(1, at(60 + 361)), Some(("portal.b".into(), 2)));
    }

    #[test]
    fn memory_stays_bounded() {
        let mut recent = Recent::default();
        for i in 0..(REMEMBERED as u64 * 10) {
            recent.published(i, format!("e{i}"), at(0));
        }
        assert!(recent.len() <= REMEMBERED, "{}", recent.len());
        // The newest are kept, for as long as they can join a series.
        for i in 0..(REMEMBERED as u64 * 10) {
            recent.published(i, format!("e{i}"), at(i as i64));
        }
        assert!(recent.len() <= REMEMBERED);
        let newest = REMEMBERED as u64 * 10 - 1;
        assert!(recent.repeat(newest, at(newest as i64 + 1)).is_some());
        recent.published(u64::MAX, "late".into(), at(1_000_000));
        assert!(recent.len() <= REMEMBERED);
    }
}
