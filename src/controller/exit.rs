//! The ExitRequest reconciler: gather the request and its policy → `policy::exit::decide`
//! → status. When the exit reaches `Reclaiming` it wakes the request, which deletes the
//! tenant namespace; the request wakes this controller again when it is `Reclaimed`.

use std::sync::Arc;
use std::time::Instant;

use chrono::{SubsecRound, Utc};
use kube::runtime::controller::Action as Requeue;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};

use super::{
    Context, Error, PolicyLookup, backoff, publish, requeue_at, reset_backoff, write_status,
};
use crate::api::{CloudResourceRequest, ExitRequest, ExitRequestStatus};
use crate::policy::calendar::Calendar;
use crate::policy::exit::{ExitInputs, decide};

/// The kind, for metrics.
pub const KIND: &str = "ExitRequest";

/// Reconciles one exit.
pub async fn reconcile(obj: Arc<ExitRequest>, ctx: Arc<Context>) -> Result<Requeue, Error> {
    if !ctx.stores_ready() {
        return Ok(Requeue::requeue(super::STORES_LOADING_RETRY));
    }
    if ctx.quarantine.holds(obj.as_ref()) {
        // The store's copy is stale: the object no longer decodes (crate::decode). Left
        // alone until it decodes again; its watch event wakes it then.
        return Ok(Requeue::await_change());
    }
    let started = Instant::now();
    let result = reconcile_exit(&obj, &ctx).await;
    ctx.metrics.observe_reconcile(KIND, started.elapsed());
    if result.is_ok() {
        reset_backoff(&ctx, &obj.uid().unwrap_or_default());
    }
    result
}

/// Counts the failure and backs off per object.
pub fn error_policy(obj: Arc<ExitRequest>, err: &Error, ctx: Arc<Context>) -> Requeue {
    ctx.metrics.observe_failure(KIND, err.category());
    tracing::warn!(exit = %obj.name_any(), category = err.category(), error = %err, "reconcile failed");
    backoff(&ctx, &obj.uid().unwrap_or_default())
}

async fn reconcile_exit(obj: &ExitRequest, ctx: &Context) -> Result<Requeue, Error> {
    let name = obj
        .metadata
        .name
        .as_deref()
        .ok_or(Error::MissingMetadata("metadata.name"))?;
    let namespace = obj
        .metadata
        .namespace
        .as_deref()
        .ok_or(Error::MissingMetadata("metadata.namespace"))?;
    // Whole seconds: status timestamps stay readable, and a deadline is never acted on early.
    let now = Utc::now().trunc_subsecs(0);
    let filed_at = obj
        .metadata
        .creation_timestamp
        .as_ref()
        .and_then(|t| chrono::DateTime::from_timestamp(t.0.as_second(), 0))
        .unwrap_or(now);
    let current = obj.status.clone().unwrap_or_default();
    let request = ctx
        .requests
        .get(&ObjectRef::<CloudResourceRequest>::new(&obj.spec.request).within(namespace));
    let policy_name = request.as_ref().map(|r| {
        r.spec
            .policy
            .clone()
            .unwrap_or_else(|| ctx.config.default_policy.clone())
    });
    let lookup = policy_name.as_deref().map(|p| ctx.policy(p));
    let fallback = Calendar::cn_statutory();
    let (rules, calendar) = match &lookup {
        Some(PolicyLookup::Ready(r, c)) => (Some(r.as_ref()), c),
        _ => (None, &fallback),
    };
    let outcome = decide(&ExitInputs {
        generation: obj.metadata.generation.unwrap_or(0),
        filed_at,
        spec: &obj.spec,
        status: &current,
        request: request.as_deref(),
        rules,
        calendar,
        now,
    });
    let api: Api<ExitRequest> = Api::namespaced(ctx.client.clone(), namespace);
    let strip = |s: &ExitRequestStatus| ExitRequestStatus {
        approval: None,
        ..s.clone()
    };
    write_status(&api, name, Some(&strip(&current)), &strip(&outcome.status)).await?;
    publish(ctx, obj, &outcome.notices).await;
    if outcome.wake_request {
        let _ = ctx
            .wake
            .send(ObjectRef::new(&obj.spec.request).within(namespace));
    }
    Ok(requeue_at(outcome.wake_at, now, ctx.config.max_requeue))
}
