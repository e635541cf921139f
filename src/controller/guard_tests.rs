//! The panic guard without a cluster: the context's client points at a closed loopback
//! port, so the Warning Event is attempted, fails, and is only logged.

use std::sync::Arc;
use std::time::Duration;

use kube::runtime::controller::Action as Requeue;
use kube::runtime::events::Reporter;

use crate::controller::events::Recorder;
use kube::runtime::reflector::{self, store::Writer};
use kube::runtime::watcher;

use super::super::{Config, Context, Error};
use super::{error_policy, reconcile};
use crate::api::{
    CloudResourceRequest, ExitRequest, GovCloudPolicy, GovCloudPolicySpec, ResourceChange,
    WorkCalendar,
};
use crate::metrics::Metrics;

/// The store writers: kept alive, or the stores would read as never ready.
struct Writers {
    _policies: Writer<GovCloudPolicy>,
    _calendars: Writer<WorkCalendar>,
    _requests: Writer<CloudResourceRequest>,
    _exits: Writer<ExitRequest>,
    _changes: Writer<ResourceChange>,
    _namespaces: Writer<crate::index::namespace_view::NamespaceView>,
}

fn store<K>(ready: bool) -> (reflector::Store<K>, Writer<K>)
where
    K: kube::Resource<DynamicType = ()> + Clone + 'static,
{
    let (reader, mut writer) = reflector::store::<K>();
    if ready {
        writer.apply_watcher_event(&watcher::Event::Init);
        writer.apply_watcher_event(&watcher::Event::InitDone);
    }
    (reader, writer)
}

fn context(ready: bool) -> (Arc<Context>, Writers) {
    // Port 9 (discard) on loopback: nothing listens, every API call fails at once.
    let client = kube::Client::try_from(kube::Config::new(
        "http://127.0.0.1:9".parse().expect("a valid URL"),
    ))
    .expect("a client");
    let (policies, w1) = store(ready);
    let (calendars, w2) = store(ready);
    let (requests, w3) = store(ready);
    let (exits, w4) = store(ready);
    let (changes, w5) = store(ready);
    let (namespaces, w6) = store(ready);
    let metrics = Arc::new(Metrics::new());
    let ctx = Context {
        client: client.clone(),
        recorder: Recorder::new(
            client.clone(),
            Reporter {
                controller: "govcloud-operator".into(),
                instance: None,
            },
        ),
        quarantine: Arc::new(crate::decode::Quarantine::new(metrics.clone(), None)),
        metrics,
        config: Config {
            namespace: "govcloud-system".into(),
            default_policy: "shanghai".into(),
            max_requeue: Duration::from_secs(300),
            utilization_interval: Duration::from_secs(3600),
            record_retention_interval: Duration::from_secs(3600),
        },
        stores: crate::controller::Stores {
            policies,
            calendars,
            requests,
            exits,
            changes,
            namespaces,
            changes_by_request: Default::default(),
            exits_by_request: Default::default(),
            resolved: Default::default(),
            tenant_objects: Default::default(),
            loading: Default::default(),
        },
        capacity: Default::default(),
        wakes: crate::controller::Wakes {
            requests: crate::controller::wake_channel().0,
            changes: crate::controller::wake_channel().0,
            exits: crate::controller::wake_channel().0,
        },
        prometheus: None,
        objects: Default::default(),
    };
    if ready {
        // The capacity index has seen its watches list, as the stores have.
        use kube::runtime::watcher::Event;
        crate::controller::capacity::on_request(&ctx, &Event::InitDone);
        crate::controller::capacity::on_change(&ctx, &Event::InitDone);
        crate::controller::capacity::on_namespace(&ctx, &Event::InitDone);
        list_owned_objects(&ctx);
    }
    let writers = Writers {
        _policies: w1,
        _calendars: w2,
        _requests: w3,
        _exits: w4,
        _changes: w5,
        _namespaces: w6,
    };
    (Arc::new(ctx), writers)
}

fn policy(name: &str, uid: &str) -> Arc<GovCloudPolicy> {
    let mut p = GovCloudPolicy::new(name, GovCloudPolicySpec::default());
    p.metadata.uid = Some(uid.into());
    Arc::new(p)
}

#[tokio::test]
async fn a_panicking_reconcile_is_an_error_of_that_object_alone() {
    let (ctx, _writers) = context(true);
    let bad = policy("bad", "uid-bad");
    let result = reconcile("GovCloudPolicy", bad.clone(), ctx.clone(), |_, _| async {
        let amounts: Vec<u64> = Vec::new();
        // A bug: an index out of range.
        let _ = amounts[usize::from(amounts.is_empty())];
        Ok(Requeue::await_change())
    })
    .await;
    let err = result.expect_err("a panic is an error, not an unwinding controller");
    assert!(
        matches!(&err, Error::Panic(m) if m.contains("index out of bounds")),
        "{err}"
    );
    assert_eq!(err.category(), "panic");

    // kube-runtime hands the error to the error policy: counted by category (no object
    // name or text in the labels) and retried with this object's own backoff.
    let requeue = error_policy("GovCloudPolicy", &*bad, &err, &ctx);
    assert_eq!(requeue, Requeue::requeue(Duration::from_secs(1)));
    let again = error_policy("GovCloudPolicy", &*bad, &err, &ctx);
    assert_eq!(again, Requeue::requeue(Duration::from_secs(2)));
    let text = ctx.metrics.encode();
    assert!(
        text.contains(
            "govcloud_reconcile_failures_total{kind=\"GovCloudPolicy\",category=\"panic\",step=\"reconcile\"} 2"
        ),
        "{text}"
    );
    assert!(
        !text.contains("index out of bounds") && !text.contains("uid-bad"),
        "{text}"
    );

    // Everything else goes on: another object reconciles, and its backoff is its own.
    let good = policy("good", "uid-good");
    let ok = reconcile("GovCloudPolicy", good.clone(), ctx.clone(), |_, _| async {
        Ok(Requeue::await_change())
    })
    .await;
    assert_eq!(
        ok.expect("the next object is unaffected"),
        Requeue::await_change()
    );
    let retries = ctx
        .objects
        .retries
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    assert_eq!(retries.get("uid-bad"), Some(&2));
    assert_eq!(retries.get("uid-good"), None);
    assert!(
        ctx.metrics
            .encode()
            .contains("govcloud_reconciles_total{kind=\"GovCloudPolicy\"} 2"),
        "both reconciles are timed and counted"
    );

    // The same object, fixed, succeeds and its backoff starts over.
    let fixed = reconcile("GovCloudPolicy", bad.clone(), ctx.clone(), |_, _| async {
        Ok(Requeue::await_change())
    })
    .await;
    assert!(fixed.is_ok());
    let retries = ctx
        .objects
        .retries
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    assert_eq!(retries.get("uid-bad"), None);
}

#[tokio::test]
async fn a_panic_with_a_long_formatted_message_is_cut_short() {
    let (ctx, _writers) = context(true);
    let long = "x".repeat(5000);
    let result = reconcile("GovCloudPolicy", policy("p", "u"), ctx, |_, _| async move {
        if !long.is_empty() {
            panic!("bad state: {long}");
        }
        Ok(Requeue::await_change())
    })
    .await;
    match result {
        Err(Error::Panic(m)) => {
            assert!(m.starts_with("bad state: xxx"), "{m}");
            assert!(m.chars().count() <= 301, "{}", m.len());
        }
        other => panic!("expected Error::Panic, got {other:?}"),
    }
}

#[tokio::test]
async fn nothing_is_reconciled_before_the_stores_are_loaded() {
    let (ctx, _writers) = context(false);
    let result = reconcile(
        "GovCloudPolicy",
        policy("p", "u"),
        ctx.clone(),
        |_, _| async { panic!("must not run before the stores are ready") },
    )
    .await;
    assert_eq!(
        result.expect("a short requeue"),
        Requeue::requeue(super::STORES_LOADING_RETRY)
    );
    assert!(
        !ctx.metrics.encode().contains("govcloud_reconciles_total{"),
        "a deferred reconcile is not counted as one"
    );
}

/// The index of the objects owned in tenant namespaces has seen its four watches list.
fn list_owned_objects(ctx: &Context) {
    use crate::index::tenant_objects::Owned;
    use kube::runtime::watcher::Event;
    for kind in Owned::ALL {
        crate::controller::owned_watch::apply(&ctx.stores.tenant_objects, kind, Event::Init);
        crate::controller::owned_watch::apply(&ctx.stores.tenant_objects, kind, Event::InitDone);
    }
}

/// Every index the decisions read gates the reconciles as the stores do: with every
/// store loaded, a reconcile still waits while the capacity index or the owned objects'
/// index has not seen its watches list (a pool would look emptier than it is; a tenant
/// would look drifted and be re-applied). Once everything has loaded, the time it took is
/// published, once.
#[tokio::test]
async fn nothing_is_reconciled_before_the_indexes_are_loaded() {
    use kube::runtime::watcher::Event;
    let (ctx, _writers) = context(true);
    *ctx.stores
        .tenant_objects
        .write()
        .unwrap_or_else(|p| p.into_inner()) = Default::default();
    *ctx.capacity.book() = Default::default();
    assert!(
        !ctx.stores_ready(),
        "neither the owned objects' nor the capacity index has listed"
    );
    list_owned_objects(&ctx);
    assert!(!ctx.stores_ready(), "the capacity index has not listed");
    assert_eq!(ctx.stores.loading.took(), None);
    assert!(
        ctx.metrics
            .encode()
            .contains("govcloud_stores_loaded_seconds 0.0"),
        "nothing loaded yet"
    );
    crate::controller::capacity::on_request(&ctx, &Event::InitDone);
    crate::controller::capacity::on_change(&ctx, &Event::InitDone);
    crate::controller::capacity::on_namespace(&ctx, &Event::InitDone);
    assert!(ctx.stores_ready());
    let took = ctx.stores.loading.took().expect("loaded");
    assert_eq!(
        ctx.metrics.stores_loaded_seconds.get(),
        took.as_secs_f64(),
        "the loading time is published"
    );
    assert!(took > std::time::Duration::ZERO);
    // Loaded is for good: the indexes only ever count their first lists.
    assert!(ctx.stores_ready());
    assert_eq!(ctx.stores.loading.took(), Some(took));
}

/// A failed API call says which step made it, all the way out of a real reconciler: the
/// policy reconciler's status write fails (nothing listens on the client's port) and the
/// error, its log line and its count name the step `status` and the kind.
#[tokio::test]
async fn a_failed_call_is_reported_with_its_step() {
    let (ctx, _writers) = context(true);
    let obj = policy("p", "uid-p");
    let err = crate::controller::policy::reconcile(obj.clone(), ctx.clone())
        .await
        .expect_err("no API server listens");
    assert!(
        matches!(&err, Error::Status("GovCloudPolicy", _)),
        "the status write is named: {err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("writing the status of the GovCloudPolicy failed"),
        "{err}"
    );
    assert_eq!((err.step(), err.category()), ("status", "transport"));
    let _ = error_policy("GovCloudPolicy", &*obj, &err, &ctx);
    let text = ctx.metrics.encode();
    assert!(
        text.contains(
            "govcloud_reconcile_failures_total{kind=\"GovCloudPolicy\",category=\"transport\",step=\"status\"} 1"
        ),
        "{text}"
    );
}
