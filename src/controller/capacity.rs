//! Pool capacity from what exists (issue 13): the pure index of `policy::capacity` fed by
//! the stores (granted requests, their approved changes not yet applied, managed tenant
//! namespaces whose request is gone), one lock per pool, and the ledger of what the
//! operator itself just wrote that the stores may not show yet.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use kube::ResourceExt;

use super::Context;
use crate::api::ChangePhase;
use crate::policy::capacity::{self, CapacityIndex, Holder, TenantNamespace};
use crate::policy::change::{self, GrantChange};
use crate::policy::quantity::Amounts;

/// What the operator itself changed about pool capacity that the store may not show yet
/// (its watch lags its own writes): grants just written, and requests just released.
#[derive(Debug, Default)]
pub struct CapacityLedger {
    /// Request UID → the grant last written (reserved, or changed by a ResourceChange).
    pub reserved: HashMap<String, Amounts>,
    /// UIDs of requests that released their capacity (reclaimed or deleted); final.
    pub released: HashSet<String>,
}

/// The capacity state of the running operator: the ledger and one lock per pool, so
/// decisions in one pool never wait for another pool's.
#[derive(Default)]
pub struct Capacity {
    ledger: Mutex<CapacityLedger>,
    pools: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Capacity {
    /// Serializes the capacity decisions of pool `pool` (held across the decision and the
    /// status write that records it).
    pub async fn lock_pool(&self, pool: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = self
            .pools
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(pool.to_string())
            .or_default()
            .clone();
        lock.lock_owned().await
    }

    /// The ledger (never held across an await).
    pub fn ledger(&self) -> MutexGuard<'_, CapacityLedger> {
        self.ledger.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The approved changes not yet applied of every request, by (namespace, request name):
/// the approved copies only, while the spec still matches them.
pub fn approved_changes(ctx: &Context) -> HashMap<(String, String), Vec<GrantChange>> {
    let mut by_request: HashMap<(String, String), Vec<_>> = HashMap::new();
    let changes = ctx.stores.changes.state();
    for c in &changes {
        let Some(status) = c.status.as_ref() else {
            continue;
        };
        let Some(snapshot) = status
            .approved_spec
            .as_ref()
            .filter(|s| status.phase == Some(ChangePhase::Approved) && **s == c.spec)
        else {
            continue;
        };
        by_request
            .entry((c.namespace().unwrap_or_default(), snapshot.request.clone()))
            .or_default()
            .push((
                c.metadata.name.as_deref().unwrap_or_default(),
                c.metadata.uid.as_deref().unwrap_or_default(),
                status.decided_at,
                snapshot,
            ));
    }
    by_request
        .into_iter()
        .map(|(k, listed)| (k, change::pending_for(&[], &listed)))
        .collect()
}

/// The index of every pool as the stores and the ledger show it now.
pub fn index(ctx: &Context) -> CapacityIndex {
    let requests = ctx.stores.requests.state();
    let changes = approved_changes(ctx);
    let ledger = ctx.capacity.ledger();
    let mut index = CapacityIndex::default();
    let mut live = BTreeSet::new();
    for r in &requests {
        let Some(uid) = r.metadata.uid.as_deref() else {
            continue;
        };
        live.insert(uid);
        if ledger.released.contains(uid) {
            continue;
        }
        let key = (r.namespace().unwrap_or_default(), r.name_any());
        let applied: Vec<&str> = r
            .status
            .iter()
            .flat_map(|s| s.applied_changes.iter().map(|a| a.uid.as_str()))
            .collect();
        let pending: Vec<GrantChange> = changes
            .get(&key)
            .into_iter()
            .flatten()
            .filter(|c| !applied.contains(&c.uid.as_str()))
            .cloned()
            .collect();
        let held = capacity::held(r.status.as_ref(), &pending);
        // What this operator wrote last counts too while the store lags behind it.
        let held = match (held, ledger.reserved.get(uid)) {
            (Some(h), Some(w)) => Some(capacity::max(&h, w)),
            (h, w) => h.or_else(|| w.cloned()),
        };
        index.set(
            Holder::Request(uid.to_string()),
            held.map(|h| (ctx.policy_name(r), h)),
        );
    }
    drop(ledger);
    for ns in ctx.stores.namespaces.state() {
        let (labels, annotations) = (ns.labels(), ns.annotations());
        let tenant = TenantNamespace {
            name: ns.metadata.name.as_deref().unwrap_or_default(),
            labels,
            annotations,
        };
        if let Some(hold) = capacity::orphan(&tenant, &live) {
            index.set(Holder::Orphan(tenant.name.to_string()), Some(hold));
        }
    }
    index
}

/// Condition of a GovCloudPolicy: managed tenant namespaces whose request is gone still
/// count against its pool (issue 13).
pub const ORPHAN_TENANTS: &str = "OrphanTenants";

/// The `OrphanTenants` condition policy `name` wants, if any: True naming the orphans,
/// False only to clear one that was True (no write on every policy otherwise).
pub fn orphan_condition(
    index: &CapacityIndex,
    name: &str,
    current: &[crate::api::Condition],
) -> Option<crate::policy::conditions::Wanted> {
    use crate::policy::conditions::{self, Wanted};
    let orphans = index.orphans(name);
    if orphans.is_empty() {
        return conditions::is_true(current, ORPHAN_TENANTS).then(|| {
            Wanted::no(
                ORPHAN_TENANTS,
                "NoOrphans",
                "every managed tenant namespace of this pool has its request",
            )
        });
    }
    Some(Wanted::yes(
        ORPHAN_TENANTS,
        "RequestGone",
        format!(
            "{} managed tenant namespace(s) whose request is gone still count against this pool: {}; delete them once their data is dealt with",
            orphans.len(),
            orphans.join(", ")
        ),
    ))
}

/// Sets the orphan metric (a count, no object names) and wakes every policy whose
/// `OrphanTenants` condition no longer says what the stores show.
pub fn report_orphans(ctx: &Context, wake: &super::Wake<crate::api::GovCloudPolicy>) {
    let index = index(ctx);
    let total: usize = index.orphan_counts().values().sum();
    ctx.metrics
        .orphan_tenants
        .set(i64::try_from(total).unwrap_or(i64::MAX));
    for p in ctx.stores.policies.state() {
        let name = p.name_any();
        let current = p
            .status
            .as_ref()
            .map(|s| s.conditions.as_slice())
            .unwrap_or_default();
        let wanted = orphan_condition(&index, &name, current);
        let says = crate::policy::conditions::find(current, ORPHAN_TENANTS)
            .map(|c| (c.status == "True", c.message.clone()));
        let should = wanted.map(|w| (w.status, w.message));
        let stale = match (&says, &should) {
            (_, None) => false,
            (Some(s), Some(w)) => s != w,
            (None, Some(_)) => true,
        };
        if stale {
            let _ = wake.send(kube::runtime::reflector::ObjectRef::from_obj(p.as_ref()));
        }
    }
}
