//! The GovCloudPolicy reconciler: a policy's own status says whether it can be used, with
//! every unusable field named (`Invalid`), so a bureau sees a mistake where it made it
//! rather than on every request that uses the policy.

use std::sync::Arc;

use chrono::{SubsecRound, Utc};
use kube::runtime::controller::Action as Requeue;
use kube::{Api, ResourceExt};

use super::{Context, Error, backoff, requeue_at, reset_backoff, write_status};
use crate::api::{GovCloudPolicy, GovCloudPolicyStatus};
use crate::policy::conditions::{self, Wanted, types};
use crate::policy::rules;

/// The kind, for metrics.
pub const KIND: &str = "GovCloudPolicy";

/// Reconciles one policy.
pub async fn reconcile(obj: Arc<GovCloudPolicy>, ctx: Arc<Context>) -> Result<Requeue, Error> {
    // Judged on complete information only: before the calendars are loaded, a policy
    // naming a WorkCalendar would be found Invalid.
    if !ctx.stores_ready() {
        return Ok(Requeue::requeue(super::STORES_LOADING_RETRY));
    }
    if ctx.quarantine.holds(obj.as_ref()) {
        // A stale copy of a policy that no longer decodes (crate::decode): left alone.
        return Ok(Requeue::requeue(ctx.config.max_requeue));
    }
    let started = std::time::Instant::now();
    let name = obj
        .metadata
        .name
        .as_deref()
        .ok_or(Error::MissingMetadata("metadata.name"))?;
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
    let generation = obj.metadata.generation;
    let status = GovCloudPolicyStatus {
        conditions: conditions::merge(&current.conditions, wanted, now, generation),
        observed_generation: generation,
    };
    let api: Api<GovCloudPolicy> = Api::all(ctx.client.clone());
    let result = write_status(&api, name, Some(&current), &status)
        .await
        // Looked at again after the requeue cap even without an event: a calendar event
        // wakes the policies using it, and this heals one missed meanwhile.
        .map(|_| requeue_at(None, now, ctx.config.max_requeue));
    ctx.metrics.observe_reconcile(KIND, started.elapsed());
    if result.is_ok() {
        reset_backoff(&ctx, &obj.uid().unwrap_or_default());
    }
    result
}

/// Counts the failure and backs off per object.
pub fn error_policy(obj: Arc<GovCloudPolicy>, err: &Error, ctx: Arc<Context>) -> Requeue {
    ctx.metrics.observe_failure(KIND, err.category());
    tracing::warn!(policy = %obj.name_any(), category = err.category(), error = %err, "reconcile failed");
    backoff(&ctx, &obj.uid().unwrap_or_default())
}
