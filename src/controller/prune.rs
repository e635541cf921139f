//! Per-object bookkeeping kept in memory (measurement schedules, verification times, retry
//! counts, the capacity ledger) is forgotten once its object is gone. Releasing a
//! finalizer already forgets some of it, but an object deleted while its reconciles were
//! failing, or without a finalizer, never passes there: the maps would grow with every
//! object ever seen. A periodic prune against the stores catches them all.

use std::collections::{HashMap, HashSet};

use kube::ResourceExt;

use super::{CapacityLedger, Context};
use crate::api::CloudResourceRequest;

/// Keeps only the entries whose key is in `live`; returns how many were dropped.
pub fn retain_live<V>(map: &mut HashMap<String, V>, live: &HashSet<String>) -> usize {
    let before = map.len();
    map.retain(|k, _| live.contains(k));
    before - map.len()
}

/// What the stores say is still there.
#[derive(Debug, Default)]
pub struct Live {
    /// UIDs of the requests in the store.
    pub requests: HashSet<String>,
    /// UIDs of every object of every kind in the stores (retry counts are per object).
    pub objects: HashSet<String>,
    /// Requests the store still shows holding capacity.
    pub holding: HashSet<String>,
}

impl Live {
    /// From the requests and the UIDs of the other kinds' objects.
    pub fn of(
        requests: &[std::sync::Arc<CloudResourceRequest>],
        others: impl IntoIterator<Item = String>,
    ) -> Self {
        let uids = || requests.iter().filter_map(|r| r.uid());
        let requests_set: HashSet<String> = uids().collect();
        Live {
            objects: requests_set.iter().cloned().chain(others).collect(),
            holding: requests
                .iter()
                .filter(|r| crate::policy::capacity::holds_capacity(r.status.as_ref()))
                .filter_map(|r| r.uid())
                .collect(),
            requests: requests_set,
        }
    }

    /// Drops what the stores no longer justify; returns how many entries went.
    pub fn apply<M, V>(
        &self,
        measurements: &mut HashMap<String, M>,
        verified_at: &mut HashMap<String, V>,
        retries: &mut HashMap<String, u32>,
        ledger: &mut CapacityLedger,
    ) -> usize {
        let released = ledger.released.len();
        // A released request that the store still shows holding capacity: its watch has
        // not caught up with the release, which is all `released` is for. Once the store
        // shows it released (or gone), the entry says nothing the store does not.
        ledger.released.retain(|uid| self.holding.contains(uid));
        retain_live(measurements, &self.requests)
            + retain_live(verified_at, &self.requests)
            + retain_live(retries, &self.objects)
            + retain_live(&mut ledger.reserved, &self.requests)
            + (released - ledger.released.len())
    }
}

/// Forgets what the stores no longer justify. Only with every store loaded: an empty
/// store before its first list would look like every object gone.
pub async fn prune(ctx: &Context) {
    if !ctx.stores_ready() {
        return;
    }
    let others: Vec<String> = ctx
        .stores
        .changes
        .state()
        .iter()
        .filter_map(|c| c.uid())
        .chain(ctx.stores.exits.state().iter().filter_map(|e| e.uid()))
        .chain(ctx.stores.policies.state().iter().filter_map(|p| p.uid()))
        .collect();
    let live = Live::of(&ctx.stores.requests.state(), others);
    let mut book = ctx.capacity.book();
    let dropped = live.apply(
        &mut ctx
            .objects
            .measurements
            .lock()
            .unwrap_or_else(|p| p.into_inner()),
        &mut ctx
            .objects
            .verified_at
            .lock()
            .unwrap_or_else(|p| p.into_inner()),
        &mut ctx
            .objects
            .retries
            .lock()
            .unwrap_or_else(|p| p.into_inner()),
        &mut book.ledger,
    );
    drop(book);
    if dropped > 0 {
        tracing::debug!(dropped, "forgot the bookkeeping of objects that are gone");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_of_gone_objects_are_dropped_and_live_ones_kept() {
        let mut map: HashMap<String, u32> =
            [("a".into(), 1), ("b".into(), 2), ("c".into(), 3)].into();
        let live: HashSet<String> = ["a".to_string(), "c".to_string(), "d".to_string()].into();
        assert_eq!(retain_live(&mut map, &live), 1);
        let mut keys: Vec<_> = map.keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["a", "c"]);
        assert_eq!(retain_live(&mut map, &live), 0, "nothing more to drop");
        assert_eq!(retain_live(&mut map, &HashSet::new()), 2);
        assert!(map.is_empty());
    }

    fn request(uid: &str, holding: bool) -> std::sync::Arc<CloudResourceRequest> {
        let status = if holding {
            serde_json::json!({"grant": {"cpu": "1"}, "billing": {"startedAt": "2026-01-05T02:00:00Z"}})
        } else {
            serde_json::json!({"grant": {"cpu": "1"}, "billing": {"startedAt": "2026-01-05T02:00:00Z", "stoppedAt": "2026-02-05T02:00:00Z"}})
        };
        std::sync::Arc::new(
            serde_json::from_value(serde_json::json!({
                "apiVersion": "govcloud.io/v1alpha1", "kind": "CloudResourceRequest",
                "metadata": {"name": uid, "namespace": "ns", "uid": uid},
                "spec": {
                    "class": "Production", "applicantUnit": "u",
                    "system": {"name": "s", "securityLevel": 2, "zone": "EGovExtranet"},
                    "resources": {"cpu": "1"}
                },
                "status": status
            }))
            .unwrap_or_else(|e| panic!("request: {e}")),
        )
    }

    #[test]
    fn bookkeeping_of_gone_or_settled_objects_is_forgotten() {
        // Store: "held" still shows its grant (the release not yet seen), "settled" shows
        // it released, "gone" is deleted. A change "chg" is still there.
        let live = Live::of(
            &[request("held", true), request("settled", false)],
            ["chg".to_string()],
        );
        let map = |keys: &[&str]| -> HashMap<String, u32> {
            keys.iter().map(|k| (k.to_string(), 1)).collect()
        };
        let mut measurements = map(&["held", "settled", "gone"]);
        let mut verified = map(&["held", "gone"]);
        let mut retries = map(&["settled", "gone", "chg", "gone-change"]);
        let mut ledger = CapacityLedger::default();
        ledger
            .released
            .extend(["held", "settled", "gone"].map(String::from));
        ledger.reserved.insert("gone".into(), Default::default());
        ledger.reserved.insert("held".into(), Default::default());
        let dropped = live.apply(&mut measurements, &mut verified, &mut retries, &mut ledger);
        let sorted = |m: &HashMap<String, u32>| {
            let mut k: Vec<String> = m.keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(sorted(&measurements), ["held", "settled"]);
        assert_eq!(sorted(&verified), ["held"]);
        assert_eq!(sorted(&retries), ["chg", "settled"]);
        assert_eq!(
            ledger.released,
            ["held".to_string()].into(),
            "kept only while the store lags"
        );
        assert_eq!(ledger.reserved.keys().collect::<Vec<_>>(), ["held"]);
        assert_eq!(dropped, 1 + 1 + 2 + 1 + 2);
    }
}
