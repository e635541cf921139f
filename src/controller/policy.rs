//! The GovCloudPolicy reconciler: a policy's own status says whether it can be used, with
//! every unusable field named (`Invalid`), so a bureau sees a mistake where it made it
//! rather than on every request that uses the policy.

use std::sync::Arc;

use chrono::{SubsecRound, Utc};
use kube::Api;
use kube::runtime::controller::Action as Requeue;

use super::{Context, Error, guard, requeue_at, write_status};
use crate::api::{GovCloudPolicy, GovCloudPolicyStatus};
use crate::policy::conditions::{self, Wanted, types};
use crate::policy::rules;

/// The kind, for metrics.
pub const KIND: &str = "GovCloudPolicy";

/// Reconciles one policy (under the shared guards: readiness, metrics, panics).
pub async fn reconcile(obj: Arc<GovCloudPolicy>, ctx: Arc<Context>) -> Result<Requeue, Error> {
    guard::reconcile(KIND, obj, ctx, |obj, ctx| async move {
        reconcile_policy(&obj, &ctx).await
    })
    .await
}

/// The shared error policy.
pub fn error_policy(obj: Arc<GovCloudPolicy>, err: &Error, ctx: Arc<Context>) -> Requeue {
    guard::error_policy(KIND, &*obj, err, &ctx)
}

async fn reconcile_policy(obj: &GovCloudPolicy, ctx: &Context) -> Result<Requeue, Error> {
    let name = guard::name(obj)?;
    let now = Utc::now().trunc_subsecs(0);
    let current = obj.status.clone().unwrap_or_default();
    let calendar_problem = ctx
        .calendar(obj.spec.calendar.as_deref().unwrap_or(rules::CN_STATUTORY))
        .err();
    let wanted = match (rules::resolve(name, &obj.spec), calendar_problem) {
        (Ok(_), None) => vec![Wanted::no(types::INVALID, "Valid", "every field is usable")],
        (Err(errors), calendar) => {
            let mut msgs: Vec<String> = errors.iter().map(ToString::to_string).collect();
            msgs.extend(calendar);
            vec![Wanted::yes(types::INVALID, "InvalidField", msgs.join("; "))]
        }
        (Ok(_), Some(calendar)) => vec![Wanted::yes(types::INVALID, "InvalidField", calendar)],
    };
    let mut wanted = wanted;
    // Issue 13: tenants whose request is gone still count against this pool; said here.
    wanted.extend(super::capacity::orphan_condition(
        &ctx.capacity.book().index,
        name,
        &current.conditions,
    ));
    let generation = obj.metadata.generation;
    let status = GovCloudPolicyStatus {
        conditions: conditions::merge(&current.conditions, wanted, now, generation),
        observed_generation: generation,
    };
    let api: Api<GovCloudPolicy> = Api::all(ctx.client.clone());
    write_status(&api, name, Some(&current), &status).await?;
    // Looked at again after the requeue cap even without an event: a calendar event wakes
    // the policies using it, and this heals one missed meanwhile.
    Ok(requeue_at(None, now, ctx.config.max_requeue))
}
