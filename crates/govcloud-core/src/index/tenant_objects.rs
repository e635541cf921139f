//! The objects the operator owns in each tenant namespace (DESIGN.md "What provisioned
//! means"), as the watches last saw them: the ResourceQuota's `hard` and allocation
//! figures, and whether the LimitRange, RoleBinding and NetworkPolicy exist.
//!
//! Issue 11: checking a converged tenant, and reading its allocation figures, used to take
//! GETs (four per tenant in a restart's pass, and one per measurement retry while the
//! quota controller had not filled in `status.used`: 54,049 at 10,000 requests). Fed by
//! watches of the owned objects, the same answers come from memory. Only what the
//! decisions read is kept, a few hundred bytes per tenant.
//!
//! Fed like a watch store: [`TenantObjects::applied`] and [`TenantObjects::deleted`] for
//! each event, and a relist ([`TenantObjects::begin_relist`], [`TenantObjects::applied`]
//! for each object, [`TenantObjects::end_relist`]) that counts an object not relisted as
//! deleted while the watch was away.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::policy::quantity::parse_quantity;
use crate::policy::utilization::Ratios;

/// The objects the operator owns in a tenant namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Owned {
    /// The ResourceQuota `govcloud-grant`.
    Quota,
    /// The LimitRange `govcloud-defaults`.
    LimitRange,
    /// The RoleBinding `govcloud-tenant`.
    RoleBinding,
    /// The NetworkPolicy `govcloud-isolation`.
    NetworkPolicy,
}

impl Owned {
    /// All four, in index order.
    pub const ALL: [Owned; 4] = [
        Owned::Quota,
        Owned::LimitRange,
        Owned::RoleBinding,
        Owned::NetworkPolicy,
    ];

    fn slot(self) -> usize {
        self as usize
    }
}

/// What one event says of an owned object.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Seen {
    /// The request the object belongs to (its labels): namespace, name.
    pub owner: Option<(String, String)>,
    /// For the quota: its `spec.hard`.
    pub hard: BTreeMap<String, String>,
    /// For the quota: allocation ratios from its `status` (`None` until the quota
    /// controller has filled `status.used` in).
    pub allocation: Option<Ratios>,
}

/// What an event changed, for the caller to act on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Disturbed {
    /// The requests whose tenant lost an object or whose quota's `hard` changed: their
    /// reconcile should look again (a drift is repaired, or our own change confirmed).
    pub owners: Vec<(String, String)>,
}

#[derive(Debug, Clone, Default)]
struct Tenant {
    owner: Option<(String, String)>,
    present: [bool; 4],
    /// The quota's `hard`, as [`Amounts`] (none while the quota is absent).
    hard: Option<Amounts>,
    allocation: Option<Ratios>,
    /// How many times an owned object was seen deleted, or the quota's `hard` changed: a
    /// reconcile that trusts its own recent apply while the watches catch up compares
    /// this count to tell someone else's change since.
    disturbances: u64,
}

/// The owned objects of every tenant namespace, by namespace.
#[derive(Debug, Default)]
pub struct TenantObjects {
    tenants: HashMap<String, Tenant>,
    listed: [bool; 4],
    relisting: [Option<HashSet<String>>; 4],
}

impl TenantObjects {
    /// Object `kind` in namespace `namespace` exists as `seen` (an applied or relisted
    /// event). Returns the owner to wake when the quota's `hard` changed.
    pub fn applied(&mut self, namespace: &str, kind: Owned, seen: Seen) -> Disturbed {
        if let Some(relist) = &mut self.relisting[kind.slot()] {
            relist.insert(namespace.to_string());
        }
        let tenant = self.tenants.entry(namespace.to_string()).or_default();
        let mut disturbed = Disturbed::default();
        if seen.owner.is_some() {
            tenant.owner = seen.owner;
        }
        if kind == Owned::Quota {
            let now = Amounts::of(&seen.hard);
            if tenant.present[kind.slot()] && tenant.hard != Some(now) {
                tenant.disturbances += 1;
                disturbed.owners.extend(tenant.owner.clone());
            }
            tenant.hard = Some(now);
            tenant.allocation = seen.allocation;
        }
        tenant.present[kind.slot()] = true;
        disturbed
    }

    /// Object `kind` in namespace `namespace` was deleted. Returns its owner to wake.
    pub fn deleted(&mut self, namespace: &str, kind: Owned) -> Disturbed {
        let Some(tenant) = self.tenants.get_mut(namespace) else {
            return Disturbed::default();
        };
        remove(tenant, kind);
        Disturbed {
            owners: tenant.owner.iter().cloned().collect(),
        }
    }

    /// A relist of `kind` starts (after the watch started or lost its place).
    pub fn begin_relist(&mut self, kind: Owned) {
        self.relisting[kind.slot()] = Some(HashSet::new());
    }

    /// The relist of `kind` is complete: what it did not deliver was deleted meanwhile.
    pub fn end_relist(&mut self, kind: Owned) -> Disturbed {
        let mut disturbed = Disturbed::default();
        if let Some(relisted) = self.relisting[kind.slot()].take() {
            for (namespace, tenant) in &mut self.tenants {
                if tenant.present[kind.slot()] && !relisted.contains(namespace) {
                    remove(tenant, kind);
                    disturbed.owners.extend(tenant.owner.clone());
                }
            }
        }
        self.listed[kind.slot()] = true;
        disturbed
    }

    /// The tenant namespace `namespace` is gone: its entry goes too.
    pub fn forget(&mut self, namespace: &str) {
        self.tenants.remove(namespace);
    }

    /// Whether every kind has been listed once (until then nothing here may be trusted).
    pub fn listed(&self) -> bool {
        self.listed.iter().all(|l| *l)
    }

    /// Whether the tenant's owned objects are as applied: the quota's `hard` equal to
    /// `hard` (as amounts: `1Gi` is `1024Mi`), and the other three present.
    pub fn in_sync(&self, namespace: &str, hard: &BTreeMap<String, String>) -> bool {
        self.tenants
            .get(namespace)
            .is_some_and(|t| t.present.iter().all(|p| *p) && t.hard == Some(Amounts::of(hard)))
    }

    /// How many times an owned object of the tenant was seen deleted, or its quota's
    /// `hard` changed, so far.
    pub fn disturbances(&self, namespace: &str) -> u64 {
        self.tenants.get(namespace).map_or(0, |t| t.disturbances)
    }

    /// The allocation ratios of the tenant's quota, once the quota controller has
    /// filled them in.
    pub fn allocation(&self, namespace: &str) -> Option<Ratios> {
        self.tenants
            .get(namespace)
            .and_then(|t| t.allocation.clone())
    }

    /// How many tenant namespaces are known (for tests and figures).
    pub fn len(&self) -> usize {
        self.tenants.len()
    }

    /// Whether no tenant namespace is known.
    pub fn is_empty(&self) -> bool {
        self.tenants.is_empty()
    }
}

fn remove(tenant: &mut Tenant, kind: Owned) {
    if tenant.present[kind.slot()] {
        tenant.disturbances += 1;
    }
    tenant.present[kind.slot()] = false;
    if kind == Owned::Quota {
        tenant.hard = None;
        tenant.allocation = None;
    }
}

/// A quota's `hard` as a digest of its keys and amounts: equal for the same keys with
/// the same amounts (`1Gi` is `1024Mi`; unparsable amounts count as their text). Only
/// equality is ever asked of a stored `hard`, and a map of eight entries was ~1 KiB per
/// tenant, a tenth of the operator's memory per request (issue 11). Two different `hard`s
/// share a digest with a chance of 2^-64: the one cost would be an edited quota left
/// unrepaired until its request's next change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Amounts(u64);

impl Amounts {
    fn of(hard: &BTreeMap<String, String>) -> Self {
        use std::hash::{Hash, Hasher};
        // Fixed keys: the same digest in every process (not that it leaves this one).
        let mut h = std::hash::DefaultHasher::new();
        hard.len().hash(&mut h);
        for (key, amount) in hard {
            key.hash(&mut h);
            match parse_quantity(amount) {
                Ok(parsed) => (0u8, parsed.normalize().to_string()).hash(&mut h),
                Err(_) => (1u8, amount).hash(&mut h),
            }
        }
        Self(h.finish())
    }
}

#[cfg(test)]
#[path = "tenant_objects_tests.rs"]
mod tests;
