//! The ResourceChange reconciler: gather the request and its policy → `policy::change::decide`
//! → status. Its watch event wakes the request it names, which applies an approved change
//! to its grant; the request's events wake this controller again (see `dependents`) to
//! mark it Applied.

use std::sync::Arc;

use chrono::{SubsecRound, Utc};
use kube::runtime::controller::Action as Requeue;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};

use super::{Context, Error, guard, publish, record, requeue_at, write_status};
use crate::api::{CloudResourceRequest, ResourceChange, ResourceChangeStatus};
use crate::policy::calendar::Calendar;
use crate::policy::change::{ChangeInputs, decide};

/// The kind, for metrics.
pub const KIND: &str = "ResourceChange";

/// Reconciles one change (under the shared guards: readiness, metrics, panics).
pub async fn reconcile(obj: Arc<ResourceChange>, ctx: Arc<Context>) -> Result<Requeue, Error> {
    guard::reconcile(KIND, obj, ctx, |obj, ctx| async move {
        reconcile_change(&obj, &ctx).await
    })
    .await
}

/// The shared error policy.
pub fn error_policy(obj: Arc<ResourceChange>, err: &Error, ctx: Arc<Context>) -> Requeue {
    guard::error_policy(KIND, &*obj, err, &ctx)
}

async fn reconcile_change(obj: &ResourceChange, ctx: &Context) -> Result<Requeue, Error> {
    let name = guard::name(obj)?;
    let namespace = guard::namespace(obj)?;
    let uid = guard::uid(obj)?;
    // Whole seconds: status timestamps stay readable, and a deadline is never acted on early.
    let now = Utc::now().trunc_subsecs(0);
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
    // GY 9: an earlier recurring change of this request that carried a justification.
    let applied_uids: Vec<String> = request
        .as_ref()
        .and_then(|r| r.status.as_ref())
        .map(|s| s.applied_changes.iter().map(|a| a.uid.clone()).collect())
        .unwrap_or_default();
    let prior_recurring_justified = ctx
        .stores
        .changes_of(namespace, &obj.spec.request)
        .iter()
        .any(|c| {
            c.spec.recurring
                && c.spec
                    .justification
                    .as_deref()
                    .is_some_and(|j| !j.trim().is_empty())
                && c.uid()
                    .is_some_and(|u| applied_uids.contains(&u) && u != uid)
        });
    let mut outcome = decide(&ChangeInputs {
        uid,
        generation: obj.metadata.generation.unwrap_or(0),
        spec: &obj.spec,
        status: &current,
        request: request.as_deref(),
        rules,
        calendar,
        prior_recurring_justified,
        now,
    });
    let api: Api<ResourceChange> = Api::namespaced(ctx.client.clone(), namespace);
    // The record of the steps first (SN 31).
    record::change_steps(ctx, obj, &current, &mut outcome.status, &outcome.notices).await?;
    write_status(
        &api,
        name,
        Some(&without_approval(&current)),
        &without_approval(&outcome.status),
    )
    .await?;
    publish(ctx, obj, &outcome.notices).await;
    Ok(requeue_at(outcome.wake_at, now, ctx.config.max_requeue))
}

fn without_approval(s: &ResourceChangeStatus) -> ResourceChangeStatus {
    ResourceChangeStatus {
        approval: None,
        ..s.clone()
    }
}
