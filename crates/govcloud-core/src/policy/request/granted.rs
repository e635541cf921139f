//! A granted request before it is active: provisioning, and the approved
//! ResourceChanges folded into the grant.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::decision::Verdict;
use super::{Action, Clock, Inputs, Pass, TenantState, active::lifecycle_granted_active};
use crate::api::{Billing, CloudResourceRequestStatus, ProvisioningFrom, RequestPhase};
use crate::policy::conditions::{Wanted, types};
use crate::policy::quantity::{Amounts, format_money};
use crate::policy::rules::Rules;
use crate::policy::tenant::{self, TenantInput};

pub(super) fn provision_deadline(
    clock: &mut Clock<'_>,
    rules: &Rules,
    st: &CloudResourceRequestStatus,
    emergency: bool,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if emergency {
        return None;
    }
    let from = match rules.provision_from {
        // Unrecognized never leaves `rules::resolve` (refused there): counted like the default.
        ProvisioningFrom::Approval | ProvisioningFrom::Unrecognized => st.decided_at.unwrap_or(now),
        // SH 19 ¶1: reviewed and opened within one window from the filing.
        ProvisioningFrom::Filing => st.submitted_at.unwrap_or(now),
    };
    Some(clock.add(from, rules.provision_within))
}

pub(super) fn overdue_provisioning(
    p: &mut Pass,
    provision_by: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) {
    if let Some(by) = provision_by {
        if now >= by {
            p.wanted.push(Wanted::yes(
                types::PROVISIONING_OVERDUE,
                "ProvisioningDeadlinePassed",
                format!("resources not opened by {} (GY 7)", by.to_rfc3339()),
            ));
        } else {
            p.upcoming.push(("provisionBy", by));
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn lifecycle_granted(
    i: &Inputs<'_>,
    rules: &Rules,
    st: &mut CloudResourceRequestStatus,
    clock: &mut Clock<'_>,
    verdict: Verdict,
    p: &mut Pass,
) {
    let now = i.now;
    let emergency = i.spec.emergency;
    let namespace = st.tenant_namespace.clone().unwrap_or_default();
    let opened = st
        .billing
        .as_ref()
        .is_some_and(|b| b.started_at.is_some() && b.stopped_at.is_none());
    if opened && !i.exit_reclaim {
        apply_changes(i, rules, st, p);
    }
    let class = st.granted_class.unwrap_or(i.spec.class);
    let grant = st
        .grant
        .as_ref()
        .and_then(|g| Amounts::parse("status.grant", g).ok())
        .unwrap_or_default();
    // Built from the record only (issue 13): a spec edited after approval changes nothing.
    let groups = super::frozen::groups(st, i.spec);
    let zone = super::frozen::zone(st, i.spec);
    let pool = st
        .granted_policy
        .clone()
        .unwrap_or_else(|| rules.name.clone());
    let tenant_spec = |closed: bool| {
        tenant::desired(TenantInput {
            namespace: &namespace,
            request_namespace: i.namespace,
            request_name: i.name,
            request_uid: i.uid,
            zone: zone.as_str(),
            class: class.as_str(),
            grant: &grant,
            groups: &groups,
            pool: &pool,
            pod_security: rules.hardening.level(class),
            egress: rules.hardening.egress(zone),
            object_counts: &rules.hardening.object_counts,
            closed,
        })
    };
    let started = st.billing.as_ref().and_then(|b| b.started_at);
    let stopped = st.billing.as_ref().and_then(|b| b.stopped_at);
    let free = rules.class(class).is_some_and(|c| c.free);
    // A grant validated at cheaper prices may cost more than any sum of money at the
    // policy's current ones (issue 14): no figure is shown then, rather than a wrong one.
    let monthly = if free {
        Some("0.00".to_string())
    } else {
        grant.monthly_cost(&rules.prices).ok().map(format_money)
    };
    let billing = |started_at, stopped_at| Billing {
        started_at,
        stopped_at,
        monthly_cost: monthly.clone(),
        currency: Some(rules.currency.clone()),
    };

    if let Some(stopped) = stopped {
        st.phase = Some(RequestPhase::Reclaimed);
        st.billing = Some(billing(started, Some(stopped)));
        p.wanted.push(Wanted::no(
            types::READY,
            "Reclaimed",
            format!("tenant namespace {namespace} was reclaimed"),
        ));
        p.release_finalizer = i.deleting;
        return;
    }

    // GY 7: opening due after approval (kept once granted, as history).
    p.deadlines.provision_by = provision_deadline(clock, rules, st, emergency, now);
    let Some(started) = started else {
        // Granted, not yet active: provision.
        match &i.tenant {
            Some(TenantState::Foreign { owner_uid }) => {
                st.phase = Some(RequestPhase::Provisioning);
                p.wanted.push(Wanted::yes(
                    types::NAMESPACE_CONFLICT,
                    "NotOwned",
                    format!(
                        "namespace {namespace} exists and is not owned by this request (owner uid: {}); it is left untouched",
                        owner_uid.clone().unwrap_or_else(|| "none".into())
                    ),
                ));
                p.wanted.push(Wanted::no(
                    types::READY,
                    "NamespaceConflict",
                    format!("namespace {namespace} belongs to someone else"),
                ));
                overdue_provisioning(p, p.deadlines.provision_by, now);
                if i.deleting {
                    p.release_finalizer = true;
                }
            }
            Some(TenantState::Owned { terminating: true }) => {
                st.phase = Some(RequestPhase::Provisioning);
                p.wanted.push(Wanted::no(
                    types::READY,
                    "NamespaceTerminating",
                    format!("namespace {namespace} is being deleted; waiting"),
                ));
                overdue_provisioning(p, p.deadlines.provision_by, now);
            }
            _ if i.deleting => {
                // Deleted before it was ever active: nothing of the unit's is there.
                st.phase = Some(RequestPhase::Provisioning);
                p.release_finalizer = i.tenant == Some(TenantState::Absent);
                // Issue 13: only a namespace seen carrying this request's owner UID.
                if matches!(i.tenant, Some(TenantState::Owned { .. })) {
                    p.action = Action::Reclaim {
                        namespace: namespace.clone(),
                    };
                }
            }
            _ => {
                p.action = Action::Activate {
                    tenant: tenant_spec(false),
                    restore: BTreeMap::new(),
                };
                st.phase = Some(RequestPhase::Active);
                st.billing = Some(billing(Some(now), None));
                // Re-enter with the activation time for the deadlines.
                return lifecycle_granted_active(
                    i,
                    rules,
                    st,
                    clock,
                    verdict,
                    p,
                    now,
                    &tenant_spec,
                );
            }
        }
        return;
    };
    st.billing = Some(billing(Some(started), None));
    lifecycle_granted_active(i, rules, st, clock, verdict, p, started, &tenant_spec)
}

/// Folds approved ResourceChanges into the grant, in order (GY 9, SH 19, SH 23–24). A
/// change that would overflow the pool waits.
fn apply_changes(i: &Inputs<'_>, rules: &Rules, st: &mut CloudResourceRequestStatus, p: &mut Pass) {
    for change in i.pending_changes {
        if st.applied_changes.iter().any(|a| a.uid == change.uid) {
            continue;
        }
        let grant = st
            .grant
            .as_ref()
            .and_then(|g| Amounts::parse("status.grant", g).ok())
            .unwrap_or_default();
        let next = grant.overlay(&change.resources);
        if let Some(cap) = &rules.capacity {
            let over = i.capacity_in_use.plus(&next).exceeding(cap);
            if !over.is_empty() && !next.is_within(&grant) {
                p.wanted.push(Wanted::yes(
                    types::INSUFFICIENT_CAPACITY,
                    "ChangeWaitsForCapacity",
                    format!("ResourceChange {} does not fit the pool of policy {:?}; waiting for capacity", change.name, rules.name),
                ));
                return;
            }
        }
        if next != grant && next.is_within(&grant) {
            p.last_downsize = Some(i.now);
        }
        st.grant = Some(next.to_api());
        if let Some(class) = change.convert_to {
            st.granted_class = Some(class);
            if !class.is_time_boxed() {
                st.granted_duration = None;
                st.extended_to = None;
            }
        }
        if let Some(groups) = &change.access_groups {
            st.granted_access_groups = Some(groups.clone());
        }
        if let Some(zone) = change.zone {
            st.granted_zone = Some(zone);
        }
        if let Some(date) = change.extend_to {
            st.extended_to = Some(date.format("%Y-%m-%d").to_string());
        }
        st.applied_changes.push(crate::api::AppliedChange {
            name: change.name.clone(),
            uid: change.uid.clone(),
            applied_at: i.now,
        });
    }
}
