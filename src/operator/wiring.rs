//! The watches, their stores and the controllers, wired together: each kind is watched
//! once, and the events of one watch wake every controller that depends on that kind.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::StreamExt;
use kube::runtime::events::Reporter;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{Controller, WatchStreamExt, reflector};
use kube::{Client, ResourceExt};
use tokio::sync::watch;

use super::inventory::count_inventory;
use crate::api::{CloudResourceRequest, ExitRequest, GovCloudPolicy, ResourceChange, WorkCalendar};
use crate::cli::RunArgs;
use crate::controller::calendar_wakes::{CalendarWakes, Wakers};
use crate::controller::context::feed;
use crate::controller::events::Recorder;
use crate::controller::{
    Config, Context, ObjectBook, Stores, Wakes, change, exit, measure, owned_watch, policy,
    request, wake_channel,
};
use crate::decode::Quarantine;
use crate::health::Health;
use crate::index::by_request::ByRequest;
use crate::index::namespace_view::NamespaceView;
use crate::index::resolved::ResolvedCache;
use crate::index::tenant_objects::TenantObjects;
use crate::metrics::Metrics;

pub(super) async fn run_controllers(
    args: &RunArgs,
    client: Client,
    health: Arc<Health>,
    metrics: Arc<Metrics>,
    shutdown: watch::Receiver<bool>,
) {
    use crate::watch::Target;
    use crate::watch::reflected;
    // Each kind is watched once. Policies and calendars feed several controllers: their
    // one watch fills a shared store whose events every controller that needs them
    // subscribes to (the subscriptions are taken before the watch starts).
    let (policies, w_policies) = reflector::store_shared::<GovCloudPolicy>(SHARED_EVENTS);
    let (calendars, w_calendars) = reflector::store_shared::<WorkCalendar>(SHARED_EVENTS);
    let (Some(policy_events), Some(calendar_events)) =
        (w_policies.subscribe(), w_calendars.subscribe())
    else {
        tracing::error!("shared stores cannot be subscribed to");
        return;
    };
    let (requests, w_requests) = reflector::store::<CloudResourceRequest>();
    let (exits, w_exits) = reflector::store::<ExitRequest>();
    let (changes, w_changes) = reflector::store::<ResourceChange>();
    let (namespaces, w_namespaces) = reflector::store::<NamespaceView>();
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "govcloud-operator".into(),
            instance: std::env::var("POD_NAME").ok(),
        },
    );
    // Objects no watch can decode are reported and skipped (see crate::decode).
    let quarantine = Arc::new(Quarantine::new(metrics.clone(), Some(recorder.clone())));
    let (h, m, q) = (&health, &metrics, &quarantine);
    let policy_root = reflected(
        client.clone(),
        Target::all::<GovCloudPolicy>(),
        w_policies,
        "govcloudpolicies",
        h.clone(),
        m.clone(),
        q.clone(),
    );
    let calendar_root = reflected(
        client.clone(),
        Target::all::<WorkCalendar>(),
        w_calendars,
        "workcalendars",
        h.clone(),
        m.clone(),
        q.clone(),
    );
    let request_stream = reflected(
        client.clone(),
        Target::all::<CloudResourceRequest>(),
        w_requests,
        "cloudresourcerequests",
        h.clone(),
        m.clone(),
        q.clone(),
    );
    let exit_stream = reflected(
        client.clone(),
        Target::all::<ExitRequest>(),
        w_exits,
        "exitrequests",
        h.clone(),
        m.clone(),
        q.clone(),
    );
    // Changes and exits by the request they name, kept in step by their watches (each
    // event after the store took it), so no reconcile scans them all.
    let changes_by_request = Arc::new(RwLock::new(ByRequest::default()));
    let exits_by_request = Arc::new(RwLock::new(ByRequest::default()));
    let change_stream = reflected(
        client.clone(),
        Target::all::<ResourceChange>(),
        w_changes,
        "resourcechanges",
        h.clone(),
        m.clone(),
        q.clone(),
    );
    let (wake_tx, wake_rx) = wake_channel();
    // The objects owned in tenant namespaces, as their watches last saw them (issue 11).
    let tenant_objects = Arc::new(RwLock::new(TenantObjects::default()));
    let owned_watches = owned_watch::run(
        &client,
        &owned_watch::Feed {
            index: tenant_objects.clone(),
            wake: wake_tx.clone(),
            health: h.clone(),
            metrics: m.clone(),
        },
    );
    let (wake_changes_tx, wake_changes_rx) = wake_channel();
    let (wake_exits_tx, wake_exits_rx) = wake_channel();
    let (wake_policies, wake_policies_rx) = wake_channel::<GovCloudPolicy>();
    let ctx = Arc::new(Context {
        client: client.clone(),
        recorder,
        quarantine: quarantine.clone(),
        metrics: metrics.clone(),
        config: Config {
            namespace: args.namespace.clone(),
            default_policy: args.default_policy.clone(),
            max_requeue: args.max_requeue(),
            utilization_interval: std::time::Duration::from_secs(args.utilization_interval_seconds.max(1)),
            record_retention_interval: std::time::Duration::from_secs(args.record_retention_interval_seconds.max(1)),
        },
        stores: Stores {
            policies: policies.clone(),
            calendars,
            namespaces,
            requests: requests.clone(),
            exits: exits.clone(),
            changes: changes.clone(),
            changes_by_request: changes_by_request.clone(),
            exits_by_request: exits_by_request.clone(),
            resolved: std::sync::Mutex::new(ResolvedCache::default()),
            tenant_objects: tenant_objects.clone(),
            loading: Default::default(),
        },
        capacity: Default::default(),
        wakes: Wakes {
            requests: wake_tx.clone(),
            changes: wake_changes_tx.clone(),
            exits: wake_exits_tx.clone(),
        },
        prometheus: args.prometheus_url.as_deref().filter(|u| !u.trim().is_empty()).and_then(|url| match prometheus_http_query::Client::try_from(url) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::error!(%url, error = %e, "--prometheus-url is not usable; utilization falls back to allocation");
                None
            }
        }),
        objects: ObjectBook::default(),
    });

    // Requests of a policy are looked at again when the policy changes; requests, changes,
    // exits and policies counting on a calendar when it changes (deadlines move); a
    // request when its tenant namespace does.
    let by_policy = requests.clone();
    let default_policy = args.default_policy.clone();
    let for_policy = move |p: Arc<GovCloudPolicy>| {
        let name = p.name_any();
        by_policy
            .state()
            .into_iter()
            .filter(|r| {
                // The spec's policy, and the one a grant was recorded under (issue 13).
                r.spec.policy.as_deref().unwrap_or(&default_policy) == name
                    || crate::policy::request::frozen::policy_of(
                        &r.spec,
                        r.status.as_ref(),
                        &default_policy,
                    ) == name
            })
            .map(|r| ObjectRef::from_obj(r.as_ref()))
            .collect::<Vec<_>>()
    };
    let calendar_wakes = CalendarWakes {
        policies: policies.clone(),
        requests: requests.clone(),
        changes: changes.clone(),
        exits: exits.clone(),
        default_policy: args.default_policy.clone(),
    };
    let (deleted, wakers) = (
        calendar_wakes.clone(),
        Wakers {
            requests: wake_tx.clone(),
            changes: wake_changes_tx,
            exits: wake_exits_tx,
            policies: wake_policies.clone(),
        },
    );
    let drive_calendars = tokio::spawn(calendar_root.for_each(move |event| {
        if let Ok(kube::runtime::watcher::Event::Delete(cal)) = &event {
            deleted.deleted(&cal.name_any(), &wakers);
        }
        futures::future::ready(())
    }));
    // Likewise a deleted policy wakes its requests (a shared stream would not carry it).
    let (deleted_policy, wake_requests) = (for_policy.clone(), wake_tx.clone());
    let forget = ctx.clone();
    let drive_policies = tokio::spawn(policy_root.for_each(move |event| {
        if let Ok(kube::runtime::watcher::Event::Delete(p)) = event {
            forget
                .stores
                .resolved
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .forget_policy(&p.name_any());
            for r in deleted_policy(Arc::new(p)) {
                let _ = wake_requests.send(r);
            }
        }
        futures::future::ready(())
    }));
    let waiters = requests.clone();
    let for_namespace = move |ns: NamespaceView| {
        let mut out: Vec<ObjectRef<CloudResourceRequest>> = match &ns.request {
            Some((rns, rname)) => vec![ObjectRef::<CloudResourceRequest>::new(rname).within(rns)],
            None => Vec::new(),
        };
        // Issue 13: an orphan tenant namespace going away frees its pool: the requests
        // waiting for capacity look again. Only a namespace being deleted is asked whether
        // it is an orphan (every request is scanned for its owner), so the namespace events
        // of a busy start cost no scan.
        let going = ns.metadata.deletion_timestamp.is_some();
        let orphan = || {
            ns.owner_uid.as_ref().is_some_and(|uid| {
                !waiters
                    .state()
                    .iter()
                    .any(|r| r.metadata.uid.as_ref() == Some(uid))
            })
        };
        if going && orphan() {
            out.extend(
                waiters
                    .state()
                    .iter()
                    .filter(|r| {
                        r.status.as_ref().is_some_and(|s| {
                            crate::policy::conditions::is_true(
                                &s.conditions,
                                crate::policy::conditions::types::INSUFFICIENT_CAPACITY,
                            )
                        })
                    })
                    .map(|r| ObjectRef::from_obj(r.as_ref())),
            );
        }
        out
    };
    // Managed namespaces: a tenant's ownership and applied hash are read from here.
    let namespace_stream = reflected(
        client.clone(),
        Target::all::<NamespaceView>().selected(&crate::watch::managed_selector()),
        w_namespaces,
        "namespaces",
        h.clone(),
        m.clone(),
        q.clone(),
    );
    // Per-object deadlines and notice conditions (issue 16: the chart's alert rules),
    // read from these stores at each scrape.
    metrics.objects.read_from(crate::object_metrics::Sources {
        requests: requests.clone(),
        changes: changes.clone(),
        exits: exits.clone(),
    });
    // Phase and overdue gauges, recounted from the stores every 15 s.
    let inventory = tokio::spawn(count_inventory(
        ctx.clone(),
        wake_policies,
        shutdown.clone(),
    ));
    // Utilization measurement, outside the reconcile slots (see controller::measure).
    let measurement = tokio::spawn(measure::run(ctx.clone(), shutdown.clone()));
    // Records past their retention are removed behind a checkpoint (SN 31).
    let retention = tokio::spawn(crate::controller::record::run_retention(
        ctx.clone(),
        ctx.config.record_retention_interval,
        shutdown.clone(),
    ));
    let stop = |rx: &watch::Receiver<bool>| {
        let mut rx = rx.clone();
        async move {
            let _ = rx.changed().await;
        }
    };
    // Each request event, once its store has it, wakes the changes and exits waiting on it.
    // It also keeps the capacity index in step (issue 11: no scan per decision).
    let dependents = ctx.clone();
    let request_stream = request_stream.inspect(move |event| {
        if let Ok(event) = event {
            crate::controller::capacity::on_request(&dependents, event);
            if let kube::runtime::watcher::Event::Apply(request) = event {
                crate::controller::dependents::wake_waiting_on(&dependents, request);
            }
        }
    });
    let counted = ctx.clone();
    let namespace_stream = namespace_stream.inspect(move |event| {
        if let Ok(event) = event {
            crate::controller::capacity::on_namespace(&counted, event);
            owned_watch::on_namespace(&tenant_objects, event);
        }
    });
    let request_controller = Controller::for_stream(request_stream.touched_objects(), requests)
        .with_config(kube::runtime::controller::Config::default().concurrency(16))
        .watches_shared_stream(policy_events.clone(), for_policy)
        .watches_shared_stream(
            calendar_events.clone(),
            calendar_wakes.mapper(CalendarWakes::requests),
        )
        .watches_stream(namespace_stream.touched_objects(), for_namespace)
        .reconcile_on(wake_rx)
        .trigger_backoff(crate::watch::TriggerBackoff)
        .graceful_shutdown_on(stop(&shutdown))
        .run(request::reconcile, request::error_policy, ctx.clone())
        .for_each(|r| log_controller_error(request::KIND, r));
    // Each change or exit event, once its store has it, also wakes the request it names:
    // the request applies approved changes and reclaims for exits it reads from the store.
    let wake_named = wake_tx.clone();
    let counted = ctx.clone();
    let change_stream = change_stream.inspect(move |event| {
        if let Ok(event) = event {
            feed(&changes_by_request, event, |c: &ResourceChange| {
                c.spec.request.as_str()
            });
            crate::controller::capacity::on_change(&counted, event);
            if let kube::runtime::watcher::Event::Apply(change) = event {
                wake_named_request(&wake_named, change, &change.spec.request);
            }
        }
    });
    let wake_named = wake_tx.clone();
    let exit_stream = exit_stream.inspect(move |event| {
        if let Ok(event) = event {
            feed(&exits_by_request, event, |e: &ExitRequest| {
                e.spec.request.as_str()
            });
            if let kube::runtime::watcher::Event::Apply(exit) = event {
                wake_named_request(&wake_named, exit, &exit.spec.request);
            }
        }
    });
    let change_controller = Controller::for_stream(change_stream.touched_objects(), changes)
        .watches_shared_stream(
            calendar_events.clone(),
            calendar_wakes.mapper(CalendarWakes::changes),
        )
        .reconcile_on(wake_changes_rx)
        .trigger_backoff(crate::watch::TriggerBackoff)
        .graceful_shutdown_on(stop(&shutdown))
        .run(change::reconcile, change::error_policy, ctx.clone())
        .for_each(|r| log_controller_error(change::KIND, r));
    let exit_controller = Controller::for_stream(exit_stream.touched_objects(), exits)
        .watches_shared_stream(
            calendar_events.clone(),
            calendar_wakes.mapper(CalendarWakes::exits),
        )
        .reconcile_on(wake_exits_rx)
        .trigger_backoff(crate::watch::TriggerBackoff)
        .graceful_shutdown_on(stop(&shutdown))
        .run(exit::reconcile, exit::error_policy, ctx.clone())
        .for_each(|r| log_controller_error(exit::KIND, r));
    // Policies are few: the shared policy watch keeps their status (field errors) current,
    // and a calendar event looks at the policies counting on it.
    let policy_controller = Controller::for_shared_stream(policy_events, policies)
        .watches_shared_stream(
            calendar_events,
            calendar_wakes.mapper(CalendarWakes::policies),
        )
        .reconcile_on(wake_policies_rx)
        .trigger_backoff(crate::watch::TriggerBackoff)
        .graceful_shutdown_on(stop(&shutdown))
        .run(policy::reconcile, policy::error_policy, ctx.clone())
        .for_each(|r| log_controller_error(policy::KIND, r));
    let controllers = async {
        tokio::join!(
            request_controller,
            change_controller,
            exit_controller,
            policy_controller
        )
    };
    // A graceful shutdown lets running reconciles finish, but a controller stopped before
    // its stores were first filled would wait for them forever: after the grace period it
    // is left behind, so SIGTERM always ends the process well before a kubelet's SIGKILL.
    let mut stopping = shutdown.clone();
    tokio::select! {
        _ = controllers => {}
        _ = async {
            let _ = stopping.wait_for(|stop| *stop).await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => {
            tracing::warn!(grace = ?SHUTDOWN_GRACE, "controllers still busy after the shutdown grace period; stopping anyway");
        }
    }
    inventory.abort();
    measurement.abort();
    retention.abort();
    drive_calendars.abort();
    drive_policies.abort();
    for watch in owned_watches {
        watch.abort();
    }
}

/// Wakes the request named by `object` (a change or exit in the request's namespace).
fn wake_named_request<K: kube::Resource>(
    wake: &crate::controller::Wake<CloudResourceRequest>,
    object: &K,
    request: &str,
) {
    if let Some(namespace) = object.meta().namespace.as_deref() {
        let _ = wake.send(ObjectRef::new(request).within(namespace));
    }
}

/// How many events of a shared watch wait for its slowest subscriber before the watch
/// itself waits (every subscriber is a controller, which reads its triggers at once).
const SHARED_EVENTS: usize = 1024;

/// How long running reconciles may take to finish after SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

async fn log_controller_error<T, E: std::fmt::Display>(kind: &'static str, result: Result<T, E>) {
    if let Err(e) = result {
        tracing::debug!(kind, error = %e, "controller event");
    }
}
