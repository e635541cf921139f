//! Assertions that something does NOT happen over a window of time.
//!
//! A sleep followed by one read only proves the state at the end of the sleep: a write that
//! happened and was undone, or a deletion that started and was caught by a finalizer, goes
//! unseen. These helpers watch the objects for the whole window instead (the watch's
//! initial list gives the state at the start, every event after it is checked) and fail on
//! the first observation of the forbidden state, with the history of what was seen.

use std::{collections::BTreeMap, fmt::Debug, fmt::Display, time::Duration};

use anyhow::{Result, bail};
use futures::StreamExt;
use kube::{
    Api, Resource, ResourceExt,
    runtime::{watcher, watcher::Event},
};
use serde::de::DeserializeOwned;
use tokio::time::Instant;

/// One observation of a watched object.
#[derive(Debug)]
pub enum Seen<'a, K> {
    /// Listed by the watch's (re)initialisation: the state at that moment.
    Listed(&'a K),
    /// Created or modified after the watch started.
    Applied(&'a K),
    /// Deleted after the watch started.
    Deleted(&'a K),
}

impl<K: Resource> Seen<'_, K> {
    fn describe(&self) -> String {
        let (what, k) = match self {
            Seen::Listed(k) => ("listed", k),
            Seen::Applied(k) => ("applied", k),
            Seen::Deleted(k) => ("deleted", k),
        };
        format!(
            "{what} {}/{} rv={}",
            k.namespace().unwrap_or_default(),
            k.name_any(),
            k.resource_version().unwrap_or_default()
        )
    }
}

/// Watches what `config` selects through `api` for all of `window` and fails on the first
/// observation for which `forbidden` returns a reason. Fails too if the watch never lists
/// (then the window was not observed at all).
pub async fn never_during<K>(
    api: &Api<K>,
    config: watcher::Config,
    window: Duration,
    what: impl Display,
    mut forbidden: impl FnMut(Seen<'_, K>) -> Option<String>,
) -> Result<()>
where
    K: Resource + Clone + Debug + DeserializeOwned + Send + 'static,
{
    never_during_inner(api, config, window, &what, |seen, _| {
        seen.and_then(&mut forbidden)
    })
    .await
}

/// [`never_during`] for the one object `name`: `forbidden` gets `None` when the object does
/// not exist (not listed when the watch (re)starts, or deleted).
pub async fn never_during_named<K>(
    api: &Api<K>,
    name: &str,
    window: Duration,
    what: impl Display,
    mut forbidden: impl FnMut(Option<&K>) -> Option<String>,
) -> Result<()>
where
    K: Resource + Clone + Debug + DeserializeOwned + Send + 'static,
{
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    never_during_inner(api, config, window, &what, |seen, init_done_empty| {
        if init_done_empty {
            return forbidden(None);
        }
        match seen {
            Some(Seen::Listed(k)) | Some(Seen::Applied(k)) => forbidden(Some(k)),
            Some(Seen::Deleted(_)) => forbidden(None),
            None => None,
        }
    })
    .await
}

async fn never_during_inner<K, F>(
    api: &Api<K>,
    config: watcher::Config,
    window: Duration,
    what: &dyn Display,
    mut check: F,
) -> Result<()>
where
    K: Resource + Clone + Debug + DeserializeOwned + Send + 'static,
    F: for<'a> FnMut(OneOrEmpty<'a, K>, bool) -> Option<String>,
{
    let started = Instant::now();
    let deadline = started + window;
    let mut history: Vec<String> = Vec::new();
    let mut stream = watcher(api.clone(), config).boxed();
    let mut synced = false;
    let mut listed_in_this_init = 0usize;
    loop {
        let item = match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) => break,
            Ok(None) => bail!("the watch for {what} ended early; seen: {history:#?}"),
            Ok(Some(item)) => item,
        };
        let at = started.elapsed().as_secs_f64();
        let (seen, init_done_empty) = match &item {
            Ok(Event::Init) => {
                listed_in_this_init = 0;
                history.push(format!("{at:.1}s watch (re)listing"));
                continue;
            }
            Ok(Event::InitApply(k)) => {
                listed_in_this_init += 1;
                (Some(Seen::Listed(k)), false)
            }
            Ok(Event::InitDone) => {
                synced = true;
                history.push(format!("{at:.1}s listed {listed_in_this_init}"));
                (None, listed_in_this_init == 0)
            }
            Ok(Event::Apply(k)) => (Some(Seen::Applied(k)), false),
            Ok(Event::Delete(k)) => (Some(Seen::Deleted(k)), false),
            Err(e) => {
                // the watcher re-lists by itself; the error is only history
                history.push(format!("{at:.1}s watch error: {e}"));
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        if let Some(s) = &seen {
            history.push(format!("{at:.1}s {}", s.describe()));
        }
        if let Some(reason) = check(seen, init_done_empty) {
            bail!("{what}: {reason} at {at:.1}s into a {window:?} window; seen: {history:#?}");
        }
    }
    if !synced {
        bail!("the watch for {what} never listed within {window:?}; seen: {history:#?}");
    }
    Ok(())
}

type OneOrEmpty<'a, K> = Option<Seen<'a, K>>;

/// Forbids any change, after `baseline` was read, of the objects it lists: another
/// resourceVersion, a deletion, or a new object with a key of ours. `key` names an object
/// as in `baseline` (`None`: not ours, ignored). For [`never_during`].
pub fn unchanged_from<K: Resource>(
    baseline: BTreeMap<String, String>,
    key: impl Fn(&K) -> Option<String>,
) -> impl FnMut(Seen<'_, K>) -> Option<String> {
    move |seen| {
        let (k, deleted) = match seen {
            Seen::Listed(k) | Seen::Applied(k) => (k, false),
            Seen::Deleted(k) => (k, true),
        };
        let key = key(k)?;
        let rv = k.resource_version().unwrap_or_default();
        match baseline.get(&key) {
            None => Some(format!("{key} appeared (rv {rv})")),
            Some(_) if deleted => Some(format!("{key} deleted")),
            Some(first) if *first == rv => None,
            Some(first) => Some(format!("{key} written (rv {first} → {rv})")),
        }
    }
}
