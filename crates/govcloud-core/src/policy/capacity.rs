//! Pool capacity accounting, counted from what exists (issue 13): a pool's use is the sum
//! of its granted requests' grants, raised by their approved but not yet applied
//! ResourceChanges, plus the managed tenant namespaces whose request is gone (orphans: the
//! namespace still holds what it was granted until it is deleted) or does not report its
//! grant yet (applied before the status: `tenant_holder`). Pure: the operator
//! feeds it what its watches hold; each pool is its policy (`status.grantedPolicy`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::change::GrantChange;
use super::quantity::{Amounts, ResourceKind, format_quantity, parse_quantity};
use crate::api::CloudResourceRequestStatus;
use crate::index::namespace_view::NamespaceView;

/// Label of a tenant namespace: the policy whose pool holds its grant.
pub const POOL_LABEL: &str = "govcloud.io/policy";
/// Annotation of a tenant namespace: the grant it was built for (`cpu=8,memory=8Gi,…`),
/// so an orphan still counts what it holds.
pub const GRANT_ANNOTATION: &str = "govcloud.io/grant";

/// Whether a request holds pool capacity: granted and not yet reclaimed (billing not
/// stopped). Shared by the grant decision, the capacity ledger and its pruning.
pub fn holds_capacity(status: Option<&CloudResourceRequestStatus>) -> bool {
    status.is_some_and(|s| {
        s.grant.is_some() && s.billing.as_ref().and_then(|b| b.stopped_at).is_none()
    })
}

/// An approved scale-up's turn: approved scale-ups take their room in the order they
/// were approved (ties by UID), so two that each fit alone but not together never wait
/// for each other — the earlier one counts only the raises approved before it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Turn {
    decided_at: DateTime<Utc>,
    uid: String,
}

impl Turn {
    /// The turn of change `c` (one without a decision time comes last).
    pub fn of(c: &GrantChange) -> Self {
        Turn {
            decided_at: c.decided_at.unwrap_or(DateTime::<Utc>::MAX_UTC),
            uid: c.uid.clone(),
        }
    }
}

/// What a holder holds of its pool: a grant, and the raises of its approved changes not
/// yet applied, each with its turn.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hold {
    /// The grant (or an orphan namespace's recorded grant).
    pub grant: Amounts,
    /// The grant raised by each approved change, with that change's turn.
    pub raises: Vec<(Turn, Amounts)>,
}

impl Hold {
    /// A hold with no pending raises.
    pub fn fixed(grant: Amounts) -> Self {
        Hold {
            grant,
            raises: Vec::new(),
        }
    }

    /// What it holds for a decision taking its turn at `before`: the grant, raised kind
    /// by kind to every raise approved earlier (`None`: to every raise).
    pub fn counted(&self, before: Option<&Turn>) -> Amounts {
        self.raises
            .iter()
            .filter(|(turn, _)| before.is_none_or(|b| turn < b))
            .fold(self.grant.clone(), |held, (_, raised)| max(&held, raised))
    }

    /// The same, its grant raised to at least `floor` (what the operator just decided).
    pub fn at_least(mut self, floor: &Amounts) -> Self {
        self.grant = max(&self.grant, floor);
        self
    }
}

/// What a request holds of its pool: its grant and, kind by kind, every approved change
/// not yet applied (an approved scale-up holds its room before it is applied, so two
/// approved scale-ups cannot both count on the same room). `None`: it holds nothing.
pub fn hold(status: Option<&CloudResourceRequestStatus>, approved: &[GrantChange]) -> Option<Hold> {
    if !holds_capacity(status) {
        return None;
    }
    let grant = status
        .and_then(|s| s.grant.as_ref())
        .and_then(|g| Amounts::parse("status.grant", g).ok())
        .unwrap_or_default();
    let raises = approved
        .iter()
        .map(|c| (Turn::of(c), grant.overlay(&c.resources)))
        .collect();
    Some(Hold { grant, raises })
}

/// What a request holds of its pool, every approved change counted.
pub fn held(
    status: Option<&CloudResourceRequestStatus>,
    approved: &[GrantChange],
) -> Option<Amounts> {
    hold(status, approved).map(|h| h.counted(None))
}

/// Kind by kind, the larger.
pub fn max(a: &Amounts, b: &Amounts) -> Amounts {
    let mut out = Amounts::default();
    for kind in ResourceKind::ALL {
        let i = kind as usize;
        out.0[i] = match (a.0[i], b.0[i]) {
            (None, None) => None,
            (x, y) => Some(x.unwrap_or_default().max(y.unwrap_or_default())),
        };
    }
    out
}

/// The grant annotation's text for `grant`.
pub fn grant_annotation(grant: &Amounts) -> String {
    ResourceKind::ALL
        .into_iter()
        .filter(|k| grant.has(*k))
        .map(|k| format!("{}={}", k.key(), format_quantity(k, grant.get(k))))
        .collect::<Vec<_>>()
        .join(",")
}

/// Parses a grant annotation; a malformed one counts as nothing it cannot read.
pub fn parse_grant_annotation(text: &str) -> Amounts {
    let mut out = Amounts::default();
    for part in text.split(',') {
        let Some((key, value)) = part.split_once('=') else {
            continue;
        };
        if let Some(kind) = ResourceKind::ALL
            .into_iter()
            .find(|k| k.key() == key.trim())
            && let Ok(v) = parse_quantity(value.trim())
        {
            out.0[kind as usize] = Some(v);
        }
    }
    out
}

/// Who holds capacity in a pool. Names are shared (`Arc<str>`): the index keys a holder
/// twice, and the operator's book holds the same UIDs again (issue 11: one copy of each
/// at 10,000 requests instead of five).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Holder {
    /// A request, by UID.
    Request(Arc<str>),
    /// A managed tenant namespace whose request is gone, by name.
    Orphan(Arc<str>),
    /// A managed tenant namespace whose living request's status reports no grant yet, by
    /// name: the tenant is applied before the status that reports its grant.
    Unreported(Arc<str>),
}

/// How the request a tenant namespace names as its owner stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// No live request has the UID.
    Gone,
    /// Alive, and neither its status nor this operator's ledger holds a grant for it.
    Unreported,
    /// Alive, and its grant (or a released one) is counted through the request.
    Counted,
}

/// Who a managed tenant namespace counts as in its pool, and what it holds: an orphan
/// while its request is gone (it still holds what it was granted until it is deleted,
/// issue 13), on its own while its request's status reports no grant (issue 11: approval
/// to Active is one pass, the tenant applied before the status, so a crash between the two
/// must not free its room), and nothing while its request counts it. Namespaces of an
/// earlier release carry no pool label and are not counted (their request counts them).
pub fn tenant_holder(
    ns: &NamespaceView,
    owner_of: impl Fn(&str) -> Owner,
) -> Option<(Holder, String, Amounts)> {
    let owner = ns.owner_uid.as_deref()?;
    let holder = match owner_of(owner) {
        Owner::Gone => Holder::Orphan(ns.name().into()),
        Owner::Unreported => Holder::Unreported(ns.name().into()),
        Owner::Counted => return None,
    };
    let pool = ns.pool.as_ref()?;
    let amounts = ns
        .grant
        .as_deref()
        .map(parse_grant_annotation)
        .unwrap_or_default();
    Some((holder, pool.clone(), amounts))
}

/// Per pool, what each holder holds. Updated holder by holder as the watches report.
#[derive(Debug, Default, Clone)]
pub struct CapacityIndex {
    pools: HashMap<Arc<str>, BTreeMap<Holder, Hold>>,
    /// Each holder's pool: the pool's name shared with `pools`' key.
    pool_of: HashMap<Holder, Arc<str>>,
}

impl CapacityIndex {
    /// Records what `holder` holds now, with no pending raises (`None`: nothing).
    pub fn set(&mut self, holder: Holder, hold: Option<(String, Amounts)>) {
        self.set_hold(holder, hold.map(|(pool, a)| (pool, Hold::fixed(a))));
    }

    /// Records what `holder` holds now (`None`: nothing, e.g. reclaimed or gone).
    pub fn set_hold(&mut self, holder: Holder, hold: Option<(String, Hold)>) {
        if let Some(old) = self.pool_of.remove(&holder)
            && let Some(p) = self.pools.get_mut(&old)
        {
            p.remove(&holder);
            if p.is_empty() {
                self.pools.remove(&old);
            }
        }
        if let Some((pool, held)) = hold {
            let pool = match self.pools.get_key_value(pool.as_str()) {
                Some((shared, _)) => shared.clone(),
                None => Arc::from(pool),
            };
            self.pools
                .entry(pool.clone())
                .or_default()
                .insert(holder.clone(), held);
            self.pool_of.insert(holder, pool);
        }
    }

    /// What pool `pool` has in use by everyone but `except` (a request and its tenant
    /// namespaces), every approved raise counted (for a new grant: it comes after every
    /// approved scale-up).
    pub fn in_use(&self, pool: &str, except: &[Holder]) -> Amounts {
        self.counted(pool, except, None)
    }

    /// What pool `pool` has in use by everyone but `except` for a scale-up taking its
    /// turn at `turn`: the raises approved later do not count against it.
    pub fn in_use_before(&self, pool: &str, except: &[Holder], turn: &Turn) -> Amounts {
        self.counted(pool, except, Some(turn))
    }

    fn counted(&self, pool: &str, except: &[Holder], before: Option<&Turn>) -> Amounts {
        self.pools
            .get(pool)
            .into_iter()
            .flatten()
            .filter(|(h, _)| !except.contains(h))
            .fold(Amounts::default(), |sum, (_, held)| {
                sum.plus(&held.counted(before))
            })
    }

    /// The orphan tenant namespaces counted in `pool`, by name.
    pub fn orphans(&self, pool: &str) -> Vec<&str> {
        self.pools
            .get(pool)
            .into_iter()
            .flatten()
            .filter_map(|(h, _)| match h {
                Holder::Orphan(n) => Some(&**n),
                Holder::Request(_) | Holder::Unreported(_) => None,
            })
            .collect()
    }

    /// Every pool's number of orphans (for the metric: no object names).
    pub fn orphan_counts(&self) -> BTreeMap<&str, usize> {
        self.pools
            .keys()
            .map(|p| (&**p, self.orphans(p).len()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Billing, ResourceAmounts};

    #[test]
    fn a_grant_holds_capacity_until_billing_stops() {
        assert!(!holds_capacity(None));
        let mut status = CloudResourceRequestStatus::default();
        assert!(!holds_capacity(Some(&status)), "no grant yet");
        status.grant = Some(ResourceAmounts::default());
        assert!(holds_capacity(Some(&status)), "granted");
        status.billing = Some(Billing {
            stopped_at: Some(chrono::Utc::now()),
            ..Default::default()
        });
        assert!(!holds_capacity(Some(&status)), "reclaimed: billing stopped");
    }
}

#[cfg(test)]
#[path = "capacity_tests.rs"]
mod index_tests;
