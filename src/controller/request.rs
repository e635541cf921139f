//! The CloudResourceRequest reconciler: gather → `policy::request::decide` → apply → status.
//!
//! The finalizer is managed here rather than with `kube::runtime::finalizer`, because a
//! deleted request may have to wait for an ExitRequest for months: with `finalizer()` a
//! cleanup that is not done yet is an error and would be retried and counted as a failure.

use std::sync::Arc;

use chrono::{SubsecRound, Utc};
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::controller::Action as Requeue;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};

use super::context::Verified;
use super::{
    Context, Error, PolicyLookup, guard, measure, publish, record, requeue_at, tenant, write_status,
};
use crate::api::{
    CloudResourceRequest, CloudResourceRequestStatus, ExitPhase, RequestPhase, ResourceChange,
    ResourceChangeSpec,
};
use crate::policy::capacity::holds_capacity;
use crate::policy::conditions::{self, types};
use crate::policy::exit::binding as exit_binding;
use crate::policy::quantity::Amounts;
use crate::policy::request::{Action, Inputs, PolicyState, TenantState, decide};
use crate::policy::tenant as tenant_names;
use crate::policy::utilization;

#[path = "request_downsize.rs"]
mod downsize;
use downsize::file_auto_downsize;
#[path = "request_finalizer.rs"]
mod finalizer;
use finalizer::{ensure_finalizer, remove_finalizer};

/// Holds a provisioned request until its tenant namespace is reclaimed.
pub const FINALIZER: &str = "govcloud.io/tenant-protection";
/// The kind, for metrics.
pub const KIND: &str = "CloudResourceRequest";

/// Reconciles one request (under the shared guards: readiness, metrics, panics).
pub async fn reconcile(
    req: Arc<CloudResourceRequest>,
    ctx: Arc<Context>,
) -> Result<Requeue, Error> {
    guard::reconcile(KIND, req, ctx, |req, ctx| async move {
        reconcile_request(&req, &ctx).await
    })
    .await
}

/// The shared error policy.
pub fn error_policy(req: Arc<CloudResourceRequest>, err: &Error, ctx: Arc<Context>) -> Requeue {
    guard::error_policy(KIND, &*req, err, &ctx)
}

fn policy_of(req: &CloudResourceRequest, ctx: &Context) -> String {
    ctx.policy_name(req)
}

async fn reconcile_request(req: &CloudResourceRequest, ctx: &Context) -> Result<Requeue, Error> {
    let name = guard::name(req)?;
    let namespace = guard::namespace(req)?;
    let uid = guard::uid(req)?;
    let generation = req.metadata.generation.unwrap_or(0);
    let api: Api<CloudResourceRequest> = Api::namespaced(ctx.client.clone(), namespace);
    let current = req.status.clone().unwrap_or_default();
    let deleting = req.metadata.deletion_timestamp.is_some();
    // Whole seconds: status timestamps stay readable, and a deadline is never acted on early.
    let now = Utc::now().trunc_subsecs(0);

    // Gather: the policy and its calendar.
    let policy_name = policy_of(req, ctx);
    let spec_policy = ctx.spec_policy_name(req);
    let lookup = ctx.policy(&policy_name);
    // Unavailable: a granted request goes on by the rules recorded with its grant, on the
    // calendar those name (decided in `policy::granted_rules`).
    let (recorded_calendar, calendar_gone) = match &lookup {
        PolicyLookup::Ready(..) => (None, None),
        _ => {
            let (cal, gone) = ctx.recorded_calendar(Some(&current));
            (Some(cal), gone)
        }
    };
    let fallback_calendar = crate::policy::calendar::Calendar::cn_statutory();
    let unavailable_calendar = recorded_calendar.as_ref().unwrap_or(&fallback_calendar);
    let (policy, calendar) = match &lookup {
        PolicyLookup::Ready(rules, cal) => (PolicyState::Ready(rules), cal),
        PolicyLookup::Missing(n) => (PolicyState::Missing(n), unavailable_calendar),
        PolicyLookup::Invalid(msg) => (PolicyState::Invalid(msg), unavailable_calendar),
    };
    // Gather: the tenant namespace, once one is granted.
    let may_provision =
        // An emergency waits for a decision too (XB 26): only its paperwork comes later.
        current.grant.is_none() && current.approval.is_some();
    let tenant_name = match &current.tenant_namespace {
        Some(ns) if current.grant.is_some() => Some(ns.clone()),
        _ if may_provision => Some(
            req.spec
                .tenant_namespace
                .clone()
                .unwrap_or_else(|| tenant_names::default_name(namespace, name)),
        ),
        _ => None,
    };
    let observed = match &tenant_name {
        Some(ns) if tenant_names::forbidden_reason(ns, &ctx.config.namespace).is_none() => {
            Some(tenant::observe(&ctx.client, &ctx.stores.namespaces, ns, uid).await?)
        }
        _ => None,
    };
    let active = current
        .billing
        .as_ref()
        .is_some_and(|b| b.started_at.is_some() && b.stopped_at.is_none());
    let deployed = conditions::find(&current.conditions, types::NOT_DEPLOYED)
        .is_some_and(|c| c.status == "False");
    let has_pods = match (&observed, &current.tenant_namespace) {
        // Pods matter only once the deployment deadline has come (SN 11).
        (Some(o), Some(ns))
            if active
                && !deployed
                && o.state == (TenantState::Owned { terminating: false })
                && current
                    .deadlines
                    .as_ref()
                    .and_then(|d| d.deploy_by)
                    .is_some_and(|d| now >= d) =>
        {
            Some(tenant::has_pods(&ctx.client, ns).await?)
        }
        _ => None,
    };

    // Gather: approved ResourceChanges not yet in the grant.
    let pending_changes = super::capacity::pending_changes(ctx, namespace, name, Some(&current));

    // Gather: an approved exit whose transition is over asks for reclamation.
    // Issue 13: by the approved copy of the exit only, while the spec still matches it
    // (a retargeted exit reclaims nothing).
    let exit_reclaim = ctx.stores.exits_of(namespace, name).iter().any(|e| {
        e.status.as_ref().is_some_and(|s| {
            s.phase == Some(ExitPhase::Reclaiming)
                && s.approved_spec
                    .as_ref()
                    .is_some_and(|a| a.request == name && exit_binding(a) == exit_binding(&e.spec))
        })
    });

    // Gather: a utilization measurement the measurement task handed over (SN 14). None
    // is taken while the policy is unavailable: notices already issued run their course
    // by the recorded rules, and measuring resumes with the policy.
    let handed = measure::take(ctx, uid, &current, now);
    let measured = match (&lookup, current.phase, handed) {
        (PolicyLookup::Ready(..), Some(RequestPhase::Active), handed) if active && !deleting => {
            match handed {
                measure::Handover::Fresh(m) => Some(m),
                measure::Handover::Nothing => None,
                measure::Handover::Awaiting => {
                    return Ok(Requeue::requeue(measure::tick(
                        ctx.config.utilization_interval,
                    )));
                }
            }
        }
        _ => None,
    };
    let objection = req
        .annotations()
        .get(utilization::OBJECTION_ANNOTATION)
        .map(String::as_str);

    // Gather: capacity in use in this request's pool by everyone else — grants, approved
    // changes not yet applied, orphan tenant namespaces (issue 13). Decisions that may
    // take capacity (a new grant, a change) are serialized per pool, the lock held only
    // until the decision is in the ledger (issue 11: never across an API call).
    let reserving = (current.grant.is_none() || !pending_changes.is_empty())
        && matches!(&lookup, PolicyLookup::Ready(r, _) if r.capacity.is_some());
    let guard = if reserving {
        Some(ctx.capacity.lock_pool(&policy_name).await)
    } else {
        None
    };
    let in_use = if reserving {
        super::capacity::in_use(ctx, &policy_name, uid, &pending_changes)
    } else {
        Amounts::default()
    };

    // Decide.
    let inputs = Inputs {
        name,
        namespace,
        uid,
        spec_policy: &spec_policy,
        generation,
        spec: &req.spec,
        status: &current,
        deleting,
        policy,
        calendar,
        calendar_gone: calendar_gone.as_deref(),
        operator_namespace: &ctx.config.namespace,
        tenant: observed.as_ref().map(|o| o.state.clone()),
        has_pods,
        capacity_in_use: &in_use,
        exit_reclaim,
        pending_changes: &pending_changes,
        measured: measured.as_ref(),
        objection,
        now,
    };
    let mut outcome = decide(&inputs);
    // The grant decided counts at once, before any write reports it.
    super::capacity::decided(
        ctx,
        req,
        current.grant.as_ref(),
        outcome.status.grant.as_ref(),
    );
    drop(guard);
    // Whether this pass's steps are already recorded (before an early status write).
    let mut recorded_steps = false;

    // Apply.
    match &outcome.action {
        Action::None => {}
        Action::Reserve => {
            ensure_finalizer(&api, req).await?;
        }
        Action::Activate {
            tenant: spec,
            restore,
        } => {
            ensure_finalizer(&api, req).await?;
            ensure_tenant(ctx, uid, spec, observed.as_ref()).await?;
            if !restore.is_empty() {
                tenant::scale(&ctx.client, &spec.namespace, restore).await?;
            }
        }
        Action::Suspend { tenant: spec } => {
            ensure_tenant(ctx, uid, spec, observed.as_ref()).await?;
            let running = tenant::running_workloads(&ctx.client, &spec.namespace).await?;
            // Record replicas before scaling down, so a crash in between loses nothing.
            let mut recorded = current.suspended_replicas.clone();
            for (k, v) in &running {
                recorded.entry(k.clone()).or_insert(*v);
            }
            outcome.status.suspended_replicas = recorded;
            if !running.is_empty() {
                record::request_steps(ctx, req, &current, &mut outcome.status, &outcome.notices)
                    .await?;
                recorded_steps = true;
                write_request_status(&api, name, &current, &outcome.status).await?;
                let zeros = running.keys().map(|k| (k.clone(), 0)).collect();
                tenant::scale(&ctx.client, &spec.namespace, &zeros).await?;
            }
        }
        Action::Reclaim {
            namespace: tenant_ns,
        } => {
            // Issue 13: only a namespace seen carrying this request's owner UID, and
            // with its UID as the delete's precondition.
            match observed.as_ref() {
                Some(tenant::Observed {
                    state: TenantState::Owned { .. },
                    uid: Some(ns_uid),
                    ..
                }) => tenant::reclaim(&ctx.client, tenant_ns, ns_uid).await?,
                _ => {
                    tracing::warn!(namespace = %tenant_ns, "not deleting: not seen carrying this request's owner UID")
                }
            }
        }
    }

    // The record of the steps (SN 31), then status (only when it changed), then Events.
    let namespace_going = !recorded_steps
        && match record::request_steps(ctx, req, &current, &mut outcome.status, &outcome.notices)
            .await
        {
            Ok(()) => false,
            // Nothing can be created in a namespace being deleted, and the records there
            // go with it. A request that holds nothing any more is let go without its last
            // step's record (and the status that would report it), rather than holding its
            // namespace in Terminating for ever; one holding a tenant keeps its finalizer.
            Err(e) if outcome.release_finalizer && e.routine() => {
                tracing::info!(
                    request = name,
                    namespace,
                    "its namespace is being deleted: released without recording the last step"
                );
                true
            }
            Err(e) => return Err(e),
        };
    if !namespace_going {
        write_request_status(&api, name, &current, &outcome.status).await?;
        if !outcome.notices.is_empty() {
            tracing::info!(request = name, namespace, phase = ?outcome.status.phase, "transition");
        }
        publish(ctx, req, &outcome.notices).await;
    }
    // The changes and exits waiting on this request are woken by its watch event, once the
    // store holds the status just written (see `dependents`).

    let releases = holds_capacity(Some(&current))
        && (!holds_capacity(Some(&outcome.status)) || outcome.release_finalizer);
    if outcome.release_finalizer {
        remove_finalizer(&api, req).await?;
        // The request is going away: forget its per-request bookkeeping.
        ctx.objects
            .measurements
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(uid);
        ctx.objects
            .verified_at
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(uid);
    }
    if releases {
        super::capacity::released(ctx, uid);
        wake_capacity_waiters(ctx);
    }
    if let Some((change_name, amounts)) = &outcome.downsize {
        file_auto_downsize(ctx, namespace, name, change_name, amounts, &outcome.status).await?;
    }
    if outcome.release_finalizer {
        return Ok(Requeue::await_change());
    }
    let mut wake_at = outcome.wake_at;
    if outcome.monitored {
        // The measurement task wakes the request when it hands a measurement over; this
        // is the fallback should that wake be dropped.
        let next_measurement = measure::look_again_at(ctx, uid, now);
        wake_at = Some(wake_at.map_or(next_measurement, |w| w.min(next_measurement)));
    }
    Ok(requeue_at(wake_at, now, ctx.config.max_requeue))
}

/// Writes `status` when it differs from `current`, without `approval` (the approvers').
async fn write_request_status(
    api: &Api<CloudResourceRequest>,
    name: &str,
    current: &CloudResourceRequestStatus,
    status: &CloudResourceRequestStatus,
) -> Result<bool, Error> {
    write_status(
        api,
        name,
        Some(&without_approval(current)),
        &without_approval(status),
    )
    .await
}

/// The status as the operator writes it: `approval` belongs to approvers.
fn without_approval(status: &CloudResourceRequestStatus) -> CloudResourceRequestStatus {
    CloudResourceRequestStatus {
        approval: None,
        ..status.clone()
    }
}

/// Requests waiting for capacity are looked at again.
fn wake_capacity_waiters(ctx: &Context) {
    for r in ctx.stores.requests.state() {
        // New grants and scale-ups alike wait with InsufficientCapacity.
        if r.status
            .as_ref()
            .is_some_and(|s| conditions::is_true(&s.conditions, types::INSUFFICIENT_CAPACITY))
        {
            let _ = ctx.wakes.requests.send(ObjectRef::from_obj(r.as_ref()));
        }
    }
}

/// Applies the tenant namespace unless it is known to be as desired: its namespace
/// carries the hash of this exact spec and the owned objects, as their watches last saw
/// them, are intact. A converged tenant costs no request at all, not even after a restart
/// (issue 11: the check used to take four GETs per tenant).
///
/// Right after our own apply the watches may not have caught up yet: for
/// [`WATCH_CATCH_UP`] the apply is trusted unless an owned object was seen deleted, or the
/// quota's `hard` changed, since (either wakes the request, which then repairs it at once).
async fn ensure_tenant(
    ctx: &Context,
    uid: &str,
    spec: &crate::policy::tenant::TenantSpec,
    observed: Option<&tenant::Observed>,
) -> Result<(), Error> {
    let exists = matches!(observed.map(|o| &o.state), Some(TenantState::Owned { .. }));
    let hash_matches =
        exists && observed.and_then(|o| o.applied_hash.as_deref()) == Some(spec.hash().as_str());
    let (in_sync, disturbances) = {
        let index = ctx
            .stores
            .tenant_objects
            .read()
            .unwrap_or_else(|p| p.into_inner());
        (
            index.in_sync(&spec.namespace, &spec.quota),
            index.disturbances(&spec.namespace),
        )
    };
    let verified = |ctx: &Context| {
        ctx.objects
            .verified_at
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                uid.to_string(),
                Verified {
                    at: std::time::Instant::now(),
                    disturbances,
                },
            );
    };
    if hash_matches {
        if in_sync {
            return Ok(());
        }
        let last = ctx
            .objects
            .verified_at
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(uid)
            .copied();
        if last.is_some_and(|v| v.at.elapsed() < WATCH_CATCH_UP && v.disturbances == disturbances) {
            return Ok(());
        }
        tracing::info!(namespace = %spec.namespace, "owned objects drifted: re-applying");
    }
    tenant::provision(&ctx.client, spec, exists).await?;
    verified(ctx);
    Ok(())
}

/// How long our own apply of a tenant is trusted while the watches of its owned objects
/// catch up (they lag by milliseconds, more on a loaded API server).
const WATCH_CATCH_UP: std::time::Duration = std::time::Duration::from_secs(10);
