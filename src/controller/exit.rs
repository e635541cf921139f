//! The ExitRequest reconciler: gather the request and its policy → `policy::exit::decide`
//! → status. Its watch event wakes the request it names (which deletes the tenant
//! namespace once the exit is `Reclaiming`); the request's events wake this controller
//! again (see `dependents`), so it sees `Reclaimed`.

use std::sync::Arc;

use chrono::{SubsecRound, Utc};
use kube::Api;
use kube::runtime::controller::Action as Requeue;
use kube::runtime::reflector::ObjectRef;

use super::{Context, Error, guard, publish, record, requeue_at, write_status};
use crate::api::{CloudResourceRequest, ExitRequest, ExitRequestStatus};
use crate::policy::calendar::Calendar;
use crate::policy::exit::{ExitInputs, decide};

/// The kind, for metrics.
pub const KIND: &str = "ExitRequest";

/// Reconciles one exit (under the shared guards: readiness, metrics, panics).
pub async fn reconcile(obj: Arc<ExitRequest>, ctx: Arc<Context>) -> Result<Requeue, Error> {
    guard::reconcile(KIND, obj, ctx, |obj, ctx| async move {
        reconcile_exit(&obj, &ctx).await
    })
    .await
}

/// The shared error policy.
pub fn error_policy(obj: Arc<ExitRequest>, err: &Error, ctx: Arc<Context>) -> Requeue {
    guard::error_policy(KIND, &*obj, err, &ctx)
}

async fn reconcile_exit(obj: &ExitRequest, ctx: &Context) -> Result<Requeue, Error> {
    let name = guard::name(obj)?;
    let namespace = guard::namespace(obj)?;
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
        .stores
        .requests
        .get(&ObjectRef::<CloudResourceRequest>::new(&obj.spec.request).within(namespace));
    let found = request.as_ref().and_then(|r| ctx.rules_of(r));
    let fallback = Calendar::cn_statutory();
    let (rules, calendar) = match &found {
        Some((r, c)) => (Some(&**r), c),
        None => (None, &fallback),
    };
    let mut outcome = decide(&ExitInputs {
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
    // The record of the steps first (SN 31).
    record::exit_steps(ctx, obj, &current, &mut outcome.status, &outcome.notices).await?;
    write_status(&api, name, Some(&strip(&current)), &strip(&outcome.status)).await?;
    publish(ctx, obj, &outcome.notices).await;
    Ok(requeue_at(outcome.wake_at, now, ctx.config.max_requeue))
}
