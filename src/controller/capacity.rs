//! Pool capacity from what exists (issue 13): the pure index of `policy::capacity`, kept
//! by the watches' events (requests, their approved changes not yet applied, managed
//! tenant namespaces whose request is gone or does not report their grant yet), one lock
//! per pool, and the ledger of what the operator itself just wrote that the stores may not
//! show yet.
//!
//! Issue 11: a decision reads the index instead of scanning every request, and the pool
//! lock covers only the decision and its entry in the ledger, never an API call — so
//! grants in one pool are decided one at a time but provisioned concurrently.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;

use super::Context;
use crate::api::{
    ChangePhase, CloudResourceRequest, CloudResourceRequestStatus, ResourceAmounts, ResourceChange,
};
use crate::index::namespace_view::NamespaceView;
use crate::policy::capacity::{self, CapacityIndex, Hold, Holder, Owner, Turn};
use crate::policy::change::{self, GrantChange};
use crate::policy::quantity::Amounts;

/// What the operator itself changed about pool capacity that the store may not show yet
/// (its watch lags its own writes): grants just decided, and requests just released.
#[derive(Debug, Default)]
pub struct CapacityLedger {
    /// Request UID → the grant last decided (reserved, or changed by a ResourceChange),
    /// until the store reports it.
    pub reserved: HashMap<String, Amounts>,
    /// UIDs of requests that released their capacity (reclaimed or deleted); final.
    pub released: HashSet<String>,
}

impl CapacityLedger {
    /// Forgets the grant decided for request `uid` once `status` (as its store shows it)
    /// reports that grant: the entry is for while the store lags, and says nothing more
    /// now. Issue 11: otherwise every grant decided in a run stays in the ledger until its
    /// request is deleted (~200 bytes each, 10,000 in the bench's first run). Like a
    /// restarted operator, which has no ledger at all, this counts on the store not going
    /// back behind a status it has shown (one API server's watch cache never does; a
    /// relist served by a lagging second API server could, for a moment).
    pub fn forget_reported(&mut self, uid: &str, status: Option<&CloudResourceRequestStatus>) {
        // Called for every request event: parse the status only for a request with an
        // entry (almost none once the stores have caught up).
        let Some(decided) = self.reserved.get(uid) else {
            return;
        };
        let reported = status
            .and_then(|s| s.grant.as_ref())
            .map(|g| Amounts::parse("status.grant", g).unwrap_or_default());
        if reported.as_ref() == Some(decided) {
            self.reserved.remove(uid);
        }
    }
}

/// The watches whose first list the index needs before a decision may read it.
#[derive(Debug, Clone, Copy)]
pub enum Listed {
    Requests = 0,
    Changes = 1,
    Namespaces = 2,
}

/// The index of every pool and the ledger it is raised by, under one lock.
#[derive(Debug, Default)]
pub struct Book {
    /// Per pool, what each holder holds: the stores, raised to the ledger.
    pub index: CapacityIndex,
    /// What this operator decided that the stores may not show yet.
    pub ledger: CapacityLedger,
    /// The requests in the store by UID, and whether their grant is counted through them
    /// (a tenant namespace naming a UID not here is an orphan; one whose owner is
    /// `Unreported` counts on its own).
    owners: HashMap<Arc<str>, Owner>,
    /// Managed tenant namespaces by the owner UID they carry. Almost always one each: a
    /// `Vec` (24 bytes and one name) where a `BTreeSet` allocated a node for eleven
    /// (issue 11: ~250 bytes per request).
    owned: HashMap<Arc<str>, Vec<String>>,
    /// The owner UID each managed tenant namespace carries.
    owner_of: HashMap<String, Arc<str>>,
    /// Which watches have completed a list since the start.
    listed: [bool; 3],
}

/// The capacity state of the running operator: the book and one lock per pool, so
/// decisions in one pool never wait for another pool's.
#[derive(Default)]
pub struct Capacity {
    book: Mutex<Book>,
    pools: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Capacity {
    /// Serializes the capacity decisions of pool `pool`: held across a decision and its
    /// entry in the ledger, released before any API call.
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

    /// The book (never held across an await).
    pub fn book(&self) -> MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether every watch the index is fed by has listed once (until then no decision
    /// may count on it: a pool would look emptier than it is).
    pub fn ready(&self) -> bool {
        self.book().listed.iter().all(|l| *l)
    }
}

/// The approved changes of request `name` not yet applied by `status`: the approved
/// copies only, while the spec still matches them (issue 13: an edit since voids the
/// approval).
pub fn pending_changes(
    ctx: &Context,
    namespace: &str,
    name: &str,
    status: Option<&CloudResourceRequestStatus>,
) -> Vec<GrantChange> {
    let applied: Vec<String> = status
        .iter()
        .flat_map(|s| s.applied_changes.iter().map(|a| a.uid.clone()))
        .collect();
    let approved: Vec<_> = ctx
        .stores
        .changes_of(namespace, name)
        .into_iter()
        .filter(|c| c.status.as_ref().and_then(|s| s.phase) == Some(ChangePhase::Approved))
        .collect();
    let listed: Vec<_> = approved
        .iter()
        .filter_map(|c| {
            let status = c.status.as_ref()?;
            let snapshot = status
                .approved_spec
                .as_ref()
                .filter(|s| **s == c.spec && s.request == name)?;
            Some((
                c.metadata.name.as_deref().unwrap_or_default(),
                c.metadata.uid.as_deref().unwrap_or_default(),
                status.decided_at,
                snapshot,
            ))
        })
        .collect();
    change::pending_for(&applied, &listed)
}

/// What request `r` holds as the stores show it, raised to what this operator decided
/// last while the store lags behind it.
fn holding(ctx: &Context, book: &Book, r: &CloudResourceRequest) -> Option<(String, Hold)> {
    let uid = r.metadata.uid.as_deref()?;
    if book.ledger.released.contains(uid) {
        return None;
    }
    let namespace = r.namespace()?;
    let pending = pending_changes(ctx, &namespace, &r.name_any(), r.status.as_ref());
    let hold = capacity::hold(r.status.as_ref(), &pending);
    let hold = match (hold, book.ledger.reserved.get(uid)) {
        (Some(h), Some(decided)) => Some(h.at_least(decided)),
        (h, decided) => h.or_else(|| decided.cloned().map(Hold::fixed)),
    };
    hold.map(|h| (ctx.policy_name(r), h))
}

/// How live request `r` stands as an owner: `Unreported` while neither its status nor
/// this operator's ledger holds a grant for it (nor has it released one), so a tenant
/// namespace it owns counts on its own.
fn standing(book: &Book, uid: &str, r: &CloudResourceRequest) -> Owner {
    let unreported = r.status.as_ref().is_none_or(|s| s.grant.is_none())
        && !book.ledger.reserved.contains_key(uid)
        && !book.ledger.released.contains(uid);
    if unreported {
        Owner::Unreported
    } else {
        Owner::Counted
    }
}

impl Book {
    /// Counts request `r` again from the stores and the ledger, and its tenant namespaces.
    fn refresh(&mut self, ctx: &Context, r: &CloudResourceRequest) {
        let Some(uid) = r.metadata.uid.as_deref() else {
            return;
        };
        let uid = self.intern(uid);
        self.ledger.forget_reported(&uid, r.status.as_ref());
        let hold = holding(ctx, self, r);
        self.index.set_hold(Holder::Request(uid.clone()), hold);
        let now = standing(self, &uid, r);
        if self.owners.insert(uid.clone(), now) != Some(now) {
            // Its tenant namespaces: no orphans now, and counted on their own only while
            // its grant is unreported.
            for ns in self.owned.get(&uid).cloned().unwrap_or_default() {
                self.count_namespace(ctx, &ns);
            }
        }
    }

    /// The book's shared copy of UID `uid` (a new one if it holds none).
    fn intern(&self, uid: &str) -> Arc<str> {
        if let Some((shared, _)) = self.owners.get_key_value(uid) {
            return shared.clone();
        }
        if let Some((shared, _)) = self.owned.get_key_value(uid) {
            return shared.clone();
        }
        Arc::from(uid)
    }

    /// Forgets request `uid`: its namespaces, if any remain, are orphans now.
    fn forget(&mut self, ctx: &Context, uid: &str) {
        self.index.set(Holder::Request(uid.into()), None);
        self.owners.remove(uid);
        for ns in self.owned.get(uid).cloned().unwrap_or_default() {
            self.count_namespace(ctx, &ns);
        }
    }

    /// Counts managed tenant namespace `name` again: an orphan, on its own, or nothing.
    fn count_namespace(&mut self, ctx: &Context, name: &str) {
        let found = ctx
            .stores
            .namespaces
            .get(&ObjectRef::<NamespaceView>::new(name));
        let counted = found.as_ref().and_then(|ns| {
            let owner = |uid: &str| self.owners.get(uid).copied().unwrap_or(Owner::Gone);
            capacity::tenant_holder(ns, owner)
        });
        self.index.set(Holder::Orphan(name.into()), None);
        self.index.set(Holder::Unreported(name.into()), None);
        if let Some((holder, pool, held)) = counted {
            self.index.set(holder, Some((pool, held)));
        }
    }

    /// Counts everything again from the stores (after a watch's list).
    fn rebuild(&mut self, ctx: &Context) {
        self.index = CapacityIndex::default();
        self.owners.clear();
        self.owned.clear();
        self.owner_of.clear();
        for ns in ctx.stores.namespaces.state() {
            if let Some(owner) = &ns.owner_uid {
                self.own(ns.name().to_string(), owner);
            }
        }
        let requests = ctx.stores.requests.state();
        for r in &requests {
            if let Some(uid) = r.metadata.uid.as_deref() {
                let uid = self.intern(uid);
                let hold = holding(ctx, self, r);
                self.owners.insert(uid.clone(), standing(self, &uid, r));
                self.index.set_hold(Holder::Request(uid), hold);
            }
        }
        let names: Vec<String> = self.owned.values().flatten().cloned().collect();
        for ns in names {
            self.count_namespace(ctx, &ns);
        }
    }

    /// Notes that tenant namespace `name` carries owner UID `owner`.
    fn own(&mut self, name: String, owner: &str) {
        let owner = self.intern(owner);
        let names = self.owned.entry(owner.clone()).or_default();
        if !names.contains(&name) {
            names.push(name.clone());
        }
        self.owner_of.insert(name, owner);
    }

    /// Forgets the owner tenant namespace `name` carried.
    fn disown(&mut self, name: &str) {
        if let Some(owner) = self.owner_of.remove(name)
            && let Some(owned) = self.owned.get_mut(&owner)
        {
            owned.retain(|n| n != name);
            if owned.is_empty() {
                self.owned.remove(&owner);
            }
        }
    }

    /// Marks `watch` listed and counts everything again.
    fn listed(&mut self, ctx: &Context, watch: Listed) {
        self.listed[watch as usize] = true;
        self.rebuild(ctx);
    }
}

/// Keeps the index in step with a request watch event (its store already has it).
pub fn on_request(ctx: &Context, event: &watcher::Event<CloudResourceRequest>) {
    let mut book = ctx.capacity.book();
    match event {
        watcher::Event::Apply(r) => book.refresh(ctx, r),
        watcher::Event::Delete(r) => {
            if let Some(uid) = r.metadata.uid.as_deref() {
                book.forget(ctx, uid);
            }
        }
        watcher::Event::InitDone => book.listed(ctx, Listed::Requests),
        watcher::Event::Init | watcher::Event::InitApply(_) => {}
    }
}

/// Keeps the index in step with a change watch event: the request it names counts its
/// approved changes again.
pub fn on_change(ctx: &Context, event: &watcher::Event<ResourceChange>) {
    let mut book = ctx.capacity.book();
    match event {
        watcher::Event::Apply(c) | watcher::Event::Delete(c) => {
            let Some(namespace) = c.namespace() else {
                return;
            };
            let mut named = vec![c.spec.request.clone()];
            if let Some(approved) = c.status.as_ref().and_then(|s| s.approved_spec.as_ref())
                && approved.request != c.spec.request
            {
                named.push(approved.request.clone());
            }
            for name in named {
                let key = ObjectRef::<CloudResourceRequest>::new(&name).within(&namespace);
                if let Some(r) = ctx.stores.requests.get(&key) {
                    book.refresh(ctx, &r);
                }
            }
        }
        watcher::Event::InitDone => book.listed(ctx, Listed::Changes),
        watcher::Event::Init | watcher::Event::InitApply(_) => {}
    }
}

/// Keeps the index in step with a managed-namespace watch event.
pub fn on_namespace(ctx: &Context, event: &watcher::Event<NamespaceView>) {
    let mut book = ctx.capacity.book();
    match event {
        watcher::Event::Apply(ns) | watcher::Event::Delete(ns) => {
            let name = ns.name().to_string();
            book.disown(&name);
            if matches!(event, watcher::Event::Apply(_))
                && let Some(owner) = &ns.owner_uid
            {
                book.own(name.clone(), owner);
            }
            book.count_namespace(ctx, &name);
        }
        watcher::Event::InitDone => book.listed(ctx, Listed::Namespaces),
        watcher::Event::Init | watcher::Event::InitApply(_) => {}
    }
}

/// What pool `pool` has in use by everyone but request `uid`, for a decision about its
/// `pending` approved changes (none: a new grant, after every approved scale-up; else the
/// earliest one's turn: scale-ups approved later do not count against it).
pub fn in_use(ctx: &Context, pool: &str, uid: &str, pending: &[GrantChange]) -> Amounts {
    let book = ctx.capacity.book();
    // Itself: the request, and its own tenant namespaces counted while its grant is
    // unreported (they hold its own room, not someone else's).
    let me: Vec<Holder> = std::iter::once(Holder::Request(uid.into()))
        .chain(
            book.owned
                .get(uid)
                .into_iter()
                .flatten()
                .map(|ns| Holder::Unreported(ns.as_str().into())),
        )
        .collect();
    match pending.iter().map(Turn::of).min() {
        Some(turn) => book.index.in_use_before(pool, &me, &turn),
        None => book.index.in_use(pool, &me),
    }
}

/// Records the grant just decided for request `r` (before any write reports it): called
/// under its pool's lock, so the next decision in the pool counts it. Should a later
/// write of this pass fail, the entry stays (the pool errs on the full side) until the
/// request's next decision replaces it.
pub fn decided(
    ctx: &Context,
    r: &CloudResourceRequest,
    before: Option<&ResourceAmounts>,
    after: Option<&ResourceAmounts>,
) {
    let Some(uid) = r.metadata.uid.clone() else {
        return;
    };
    let mut book = ctx.capacity.book();
    match after {
        Some(grant) if after != before => {
            let amounts = Amounts::parse("status.grant", grant).unwrap_or_default();
            book.ledger.reserved.insert(uid, amounts);
        }
        // Nothing granted: a reservation of an earlier attempt whose write failed no
        // longer holds anything.
        None if book.ledger.reserved.remove(&uid).is_some() => {}
        _ => return,
    }
    book.refresh(ctx, r);
}

/// Request `uid` released its capacity (reclaimed or deleted): final.
pub fn released(ctx: &Context, uid: &str) {
    let mut book = ctx.capacity.book();
    book.ledger.reserved.remove(uid);
    book.ledger.released.insert(uid.to_string());
    book.index.set(Holder::Request(uid.into()), None);
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
    let book = ctx.capacity.book();
    let index = &book.index;
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
        let wanted = orphan_condition(index, &name, current);
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

#[cfg(test)]
#[path = "capacity_ledger_tests.rs"]
mod tests;
