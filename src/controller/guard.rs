//! The one reconcile wrapper every controller runs through: the readiness guard, the
//! timer and metrics, the per-object backoff, and a panic guard.
//!
//! A panic in one object's reconcile must not stop governance for every tenant (issue 14):
//! kube-runtime re-raises a reconciler's panic, which would end the controller and with
//! it the process. Here the reconcile runs under `catch_unwind`; a panic becomes
//! [`Error::Panic`] — counted under the category `panic`, shown as a Warning Event on the
//! object, and retried with that object's own backoff — while every other object goes on.
//! (The build keeps the default `panic = "unwind"`: with `abort` nothing could be caught.)

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use futures::FutureExt;
use kube::Resource;
use kube::runtime::controller::Action as Requeue;

use super::{Context, Error, STORES_LOADING_RETRY, backoff, publish, reset_backoff};
use crate::policy::request::Notice;

/// The Event reason of a reconcile that panicked.
pub const PANICKED: &str = "ReconcilePanicked";

/// How much of a panic's message is kept (Events and logs, never metric labels).
const PANIC_MESSAGE_CHARS: usize = 300;

/// Runs `inner` for `obj` of `kind` under the shared guards. Until every store has its
/// first list the object is looked at again shortly (see [`Context::stores_ready`]).
pub async fn reconcile<K, F, Fut>(
    kind: &'static str,
    obj: Arc<K>,
    ctx: Arc<Context>,
    inner: F,
) -> Result<Requeue, Error>
where
    K: Resource<DynamicType = ()>,
    F: FnOnce(Arc<K>, Arc<Context>) -> Fut,
    Fut: Future<Output = Result<Requeue, Error>>,
{
    if !ctx.stores_ready() {
        return Ok(Requeue::requeue(STORES_LOADING_RETRY));
    }
    if ctx.quarantine.holds(obj.as_ref()) {
        // The store's copy is stale: the object no longer decodes (crate::decode). Left
        // alone until it decodes again; its watch event wakes it then, and the requeue cap
        // looks again meanwhile.
        return Ok(Requeue::requeue(ctx.config.max_requeue));
    }
    let started = Instant::now();
    let key = backoff_key(&*obj);
    let result = match AssertUnwindSafe(inner(obj.clone(), ctx.clone()))
        .catch_unwind()
        .await
    {
        Ok(result) => result,
        Err(payload) => {
            let message = panic_message(payload.as_ref());
            tracing::error!(kind, object = %obj.meta().name.as_deref().unwrap_or_default(), panic = %message, "reconcile panicked");
            let notice = Notice {
                warning: true,
                reason: PANICKED,
                message: format!(
                    "the operator failed on this object and will retry it with backoff; other objects are not affected: {message}"
                ),
            };
            publish(&ctx, &*obj, &[notice]).await;
            Err(Error::Panic(message))
        }
    };
    if let Err(e) = &result
        && first_failure(&ctx, &key)
        && e.reported_on_object()
        && !matches!(e, Error::Panic(_))
    {
        // Said once per run of failures (the backoff retries it quietly), naming the
        // step; a panic has its own Event above.
        let notice = Notice {
            warning: true,
            reason: e.reason(),
            message: format!("{e}; retrying with backoff"),
        };
        publish(&ctx, &*obj, &[notice]).await;
    }
    ctx.metrics.observe_reconcile(kind, started.elapsed());
    if result.is_ok() {
        reset_backoff(&ctx, &key);
    }
    result
}

/// The shared error policy: counts the failure by its category, logs it, and backs off
/// for this object alone (1 s, 2 s, 4 s … 5 min; reset by the next success).
pub fn error_policy<K: Resource>(
    kind: &'static str,
    obj: &K,
    err: &Error,
    ctx: &Context,
) -> Requeue {
    ctx.metrics
        .observe_failure(kind, err.category(), err.step());
    let meta = obj.meta();
    let name = meta.name.as_deref().unwrap_or_default();
    let namespace = meta.namespace.as_deref().unwrap_or_default();
    let (category, step) = (err.category(), err.step());
    if err.routine() {
        tracing::info!(kind, name, namespace, category, step, error = %err, "reconcile stopped");
    } else {
        tracing::warn!(kind, name, namespace, category, step, error = %err, "reconcile failed");
    }
    backoff(ctx, &backoff_key(obj))
}

/// The object's name, which the API server always sets.
pub fn name<K: Resource>(obj: &K) -> Result<&str, Error> {
    obj.meta()
        .name
        .as_deref()
        .ok_or(Error::MissingMetadata("metadata.name"))
}

/// The object's namespace (namespaced kinds), which the API server always sets.
pub fn namespace<K: Resource>(obj: &K) -> Result<&str, Error> {
    obj.meta()
        .namespace
        .as_deref()
        .ok_or(Error::MissingMetadata("metadata.namespace"))
}

/// The object's UID, which the API server always sets.
pub fn uid<K: Resource>(obj: &K) -> Result<&str, Error> {
    obj.meta()
        .uid
        .as_deref()
        .ok_or(Error::MissingMetadata("metadata.uid"))
}

/// Whether the object has no failure counted since its last success.
fn first_failure(ctx: &Context, key: &str) -> bool {
    !ctx.objects
        .retries
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .contains_key(key)
}

/// The key of the object's retry count: its UID (empty without one, as before).
fn backoff_key<K: Resource>(obj: &K) -> String {
    obj.meta().uid.clone().unwrap_or_default()
}

/// The text of a panic payload (`panic!` carries a `&str` or a `String`), cut short.
fn panic_message(payload: &(dyn Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message");
    let mut message: String = text.chars().take(PANIC_MESSAGE_CHARS).collect();
    if text.chars().nth(PANIC_MESSAGE_CHARS).is_some() {
        message.push('…');
    }
    message
}

#[cfg(test)]
#[path = "guard_tests.rs"]
mod tests;
