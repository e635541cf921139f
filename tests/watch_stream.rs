//! Issue 11: the operator's list-then-watch loop (`watch::stream`) against a real API
//! server: a label-selected list read whole from the watch cache yields exactly the
//! selected objects between `Init` and `InitDone` (the same set a list from etcd returns),
//! whole or as metadata only, and changes after it arrive as `Apply`; a watch ended by its
//! server-side timeout resumes from where it was, without listing again; one whose
//! resourceVersion the server no longer has (`410 Gone`) lists again.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::{Result, bail};
use futures::{Stream, StreamExt};
use govcloud_operator::api::GovCloudPolicy;
use govcloud_operator::watch::Target;
use govcloud_operator::watch::stream::{watch, watch_from};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::core::PartialObjectMeta;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Resource, ResourceExt};
use support::{create_namespace, unique_ns};

const SELECTED: usize = 240;
const OTHERS: usize = 60;

/// The names listed between Init and InitDone.
async fn listed<K: Resource>(
    events: &mut (impl Stream<Item = Result<Event<K>, watcher::Error>> + Unpin),
) -> Result<BTreeSet<String>> {
    let mut names = BTreeSet::new();
    let mut started = false;
    loop {
        let next = tokio::time::timeout(Duration::from_secs(60), events.next()).await?;
        match next {
            Some(Ok(Event::Init)) => {
                started = true;
                names.clear();
            }
            Some(Ok(Event::InitApply(o))) if started => {
                names.insert(o.meta().name.clone().unwrap_or_default());
            }
            Some(Ok(Event::InitDone)) if started => return Ok(names),
            Some(Ok(e)) => bail!("unexpected event before the list ended: {}", kind(&e)),
            Some(Err(e)) => bail!("the watch failed: {e}"),
            None => bail!("the watch ended"),
        }
    }
}

/// The name of the first object applied after the list.
async fn first_apply<K: Resource>(
    events: &mut (impl Stream<Item = Result<Event<K>, watcher::Error>> + Unpin),
) -> Result<String> {
    let found = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(e) = events.next().await {
            if let Ok(Event::Apply(o)) = e {
                return o.meta().name.clone();
            }
        }
        None
    })
    .await?;
    found.ok_or_else(|| anyhow::anyhow!("the watch ended"))
}

fn kind<K>(e: &Event<K>) -> &'static str {
    match e {
        Event::Apply(_) => "Apply",
        Event::Delete(_) => "Delete",
        Event::Init => "Init",
        Event::InitApply(_) => "InitApply",
        Event::InitDone => "InitDone",
    }
}

/// Waits until a list from the API server's watch cache (`resourceVersion=0`, where the
/// loop's first list reads) holds every one of `names`. That cache may be a moment behind
/// etcd (two CI runs saw an empty first list right after a create), and these tests
/// compare the loop's list with what was just written; from here on the cache only moves
/// forward, so the loop's list holds them too.
async fn until_cached<K>(
    api: &Api<K>,
    selector: Option<&str>,
    names: &BTreeSet<String>,
) -> Result<()>
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let mut from_cache = ListParams::default().match_any();
    if let Some(selector) = selector {
        from_cache = from_cache.labels(selector);
    }
    support::wait_for(
        Duration::from_secs(30),
        format!("the watch cache to hold {} objects", names.len()),
        || {
            let (api, from_cache) = (api.clone(), from_cache.clone());
            async move {
                let list = api.list(&from_cache).await?;
                let held: BTreeSet<String> = list
                    .items
                    .iter()
                    .filter_map(|o| o.meta().name.clone())
                    .collect();
                Ok(names.is_subset(&held).then_some(()))
            }
        },
    )
    .await
}

/// A new namespace's ConfigMaps, an admin client, and a label unique to that namespace.
async fn configmaps(prefix: &str) -> Result<(kube::Client, Api<ConfigMap>, String)> {
    let admin = support::control_plane()?.admin().await?;
    let ns = unique_ns(prefix);
    create_namespace(&admin, &ns).await?;
    let api = Api::namespaced(admin.clone(), &ns);
    Ok((admin, api, format!("{prefix}-test-{ns}")))
}

#[tokio::test]
async fn a_selected_list_streams_from_the_watch_cache_then_changes_follow() -> Result<()> {
    let (admin, api, label) = configmaps("stream").await?;
    for i in 0..SELECTED + OTHERS {
        let mut cm = ConfigMap::default();
        cm.metadata.name = Some(format!("cm-{i:04}"));
        if i < SELECTED {
            cm.metadata.labels = Some([(label.clone(), "true".to_string())].into());
        }
        cm.data = Some([("payload".to_string(), "x".repeat(512))].into());
        api.create(&PostParams::default(), &cm).await?;
    }
    let selector = format!("{label}=true");
    let from_etcd: BTreeSet<String> = api
        .list(&ListParams::default().labels(&selector))
        .await?
        .items
        .iter()
        .map(|c| c.name_any())
        .collect();
    assert_eq!(from_etcd.len(), SELECTED);
    until_cached(&api, Some(&selector), &from_etcd).await?;

    let target = Target::all::<ConfigMap>().selected(&selector);
    let mut whole = Box::pin(watch::<ConfigMap>(admin.clone(), target.clone()));
    assert_eq!(listed(&mut whole).await?, from_etcd);
    let mut metadata = Box::pin(watch::<PartialObjectMeta<ConfigMap>>(
        admin.clone(),
        target.metadata_only(),
    ));
    assert_eq!(listed(&mut metadata).await?, from_etcd);

    // A change after the list: an unselected object gains the label.
    let patch = serde_json::json!({"metadata": {"labels": {label.clone(): "true"}}});
    api.patch("cm-0299", &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    assert_eq!(first_apply(&mut whole).await?, "cm-0299");
    assert_eq!(first_apply(&mut metadata).await?, "cm-0299");
    Ok(())
}

#[tokio::test]
async fn a_watch_resumes_after_its_server_side_timeout_without_listing_again() -> Result<()> {
    let (admin, api, label) = configmaps("resume").await?;
    let labelled = |name: &str| {
        let mut cm = ConfigMap::default();
        cm.metadata.name = Some(name.to_string());
        cm.metadata.labels = Some([(label.clone(), "true".to_string())].into());
        cm
    };
    api.create(&PostParams::default(), &labelled("first"))
        .await?;
    let selector = format!("{label}=true");
    let first = BTreeSet::from(["first".to_string()]);
    until_cached(&api, Some(&selector), &first).await?;
    let target = Target::all::<ConfigMap>().selected(&selector);
    let mut events = Box::pin(watch::<ConfigMap>(admin.clone(), target));
    assert_eq!(listed(&mut events).await?, first);

    // Past the watch's server-side lifetime (WATCH_SECONDS), so the first watch request
    // has ended and a second one follows from its resourceVersion.
    let lifetime = Duration::from_secs(u64::from(govcloud_operator::watch::WATCH_SECONDS));
    tokio::time::sleep(lifetime + Duration::from_secs(3)).await;
    api.create(&PostParams::default(), &labelled("second"))
        .await?;
    let next = tokio::time::timeout(Duration::from_secs(30), events.next()).await?;
    match next {
        Some(Ok(Event::Apply(o))) => assert_eq!(o.name_any(), "second"),
        Some(Ok(e)) => bail!("expected Apply(second), got {} (a relist?)", kind(&e)),
        Some(Err(e)) => bail!("the watch failed: {e}"),
        None => bail!("the watch ended"),
    }
    Ok(())
}

#[tokio::test]
async fn a_watch_from_a_resource_version_the_server_no_longer_has_lists_again() -> Result<()> {
    let cp = support::control_plane()?;
    let admin = cp.admin().await?;
    // A kind whose watch cache begins now: it is filled by a list at the current revision,
    // and has nothing older. (The built-in kinds' caches began with the API server, at
    // revision 1, so no resourceVersion is too old for them until their window moves.)
    support::apply_crds(&admin).await?;
    support::govcloud::fast_policy(&admin, "gone-test", |_| {}).await?;
    let from_etcd: BTreeSet<String> = Api::<GovCloudPolicy>::all(admin.clone())
        .list(&ListParams::default())
        .await?
        .items
        .iter()
        .map(|p| p.name_any())
        .collect();
    assert!(from_etcd.contains("gone-test"));
    // This kind's watch cache has just begun: wait until it holds the policy.
    until_cached(&Api::<GovCloudPolicy>::all(admin.clone()), None, &from_etcd).await?;

    // resourceVersion 1 is older than that list: the watch is answered `410 Gone`.
    let target = Target::all::<GovCloudPolicy>();
    let mut events = Box::pin(watch_from::<GovCloudPolicy>(admin.clone(), target, "1"));
    let first = tokio::time::timeout(Duration::from_secs(30), events.next()).await?;
    match first {
        Some(Err(watcher::Error::WatchError(status))) if status.code == 410 => {}
        Some(Ok(e)) => bail!("expected 410 Gone first, got {}", kind(&e)),
        Some(Err(e)) => bail!("expected 410 Gone first, got {e}"),
        None => bail!("the watch ended"),
    }
    // Then a fresh list, not a retry from the same resourceVersion.
    assert_eq!(listed(&mut events).await?, from_etcd);
    Ok(())
}
