//! The operator's own list-then-watch loop: kube's `watcher` with the list read whole from
//! the API server's watch cache and decoded object by object as its body arrives.
//!
//! Why not kube's `watcher` (issue 11, cold restart at 10,000 requests): it lists either
//! page by page from etcd, where the API server decodes every stored object of the kind
//! (1.3 ms per request object on this machine kind, 13 s for 10,000 even when a label
//! selector keeps none of them; the requests' paged list bounded the restart at 20–26 s),
//! or whole from the watch cache (`resourceVersion=0`, 4–5 s for the same 10,000), but then
//! it holds the whole response body (55 MB for 10,000 requests) and the whole decoded list
//! at once: the five label-selected lists alone took a restart's peak from 126.5 to
//! 393.5 MiB. Here the body is read as a stream on a blocking thread and each object goes
//! to the store as soon as it is decoded, so a whole list costs no more memory than the
//! store it fills.
//!
//! The events are kube's ([`watcher::Event`], [`watcher::Error`]), in kube's order — `Init`,
//! `InitApply`…, `InitDone`, then `Apply`/`Delete` — so reflectors, the quarantine and the
//! watch backoff take them unchanged. As with kube's watcher: a watch that ends resumes
//! from the last resourceVersion seen, a `410 Gone` lists again, and errors are yielded
//! for the caller's backoff.

use std::io::Read;
use std::pin::Pin;
use std::time::Duration;

use futures::{AsyncRead, Stream, StreamExt};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;
use kube::Client;
use kube::api::{ListParams, WatchEvent, WatchParams};
use kube::core::Request;
use kube::runtime::watcher::{self, Event};
use kube::{Resource, ResourceExt};
use serde::de::{self, DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::WATCH_SECONDS;

/// Decoded objects waiting for the stream's consumer: the reader stops when this many
/// are queued, so a slow consumer holds the list's body back in the socket, not in memory.
const QUEUED_OBJECTS: usize = 64;

/// A watch that has received nothing for this long (its server-side timeout is
/// [`WATCH_SECONDS`]) is taken as dead and started again from its resourceVersion.
const IDLE: Duration = Duration::from_secs(WATCH_SECONDS as u64 * 2);

/// What a watch lists and follows: one kind, cluster-wide, optionally by label, whole or
/// as metadata only.
#[derive(Clone, Debug)]
pub struct Target {
    url: String,
    selector: Option<String>,
    metadata_only: bool,
}

impl Target {
    /// Every object of kind `K`.
    pub fn all<K: Resource<DynamicType = ()>>() -> Self {
        Self {
            url: K::url_path(&(), None),
            selector: None,
            metadata_only: false,
        }
    }

    /// Only the objects carrying the labels `selector` selects.
    #[must_use]
    pub fn selected(mut self, selector: &str) -> Self {
        self.selector = Some(selector.to_string());
        self
    }

    /// Objects as `PartialObjectMeta` (the metadata only).
    #[must_use]
    pub fn metadata_only(mut self) -> Self {
        self.metadata_only = true;
        self
    }

    /// The whole list from the watch cache: `resourceVersion=0` and no limit, as
    /// client-go's informers list.
    fn list_request(&self) -> Result<http::Request<Vec<u8>>, kube::Error> {
        let mut params = ListParams {
            resource_version: Some("0".to_string()),
            ..ListParams::default()
        };
        params.label_selector.clone_from(&self.selector);
        let request = Request::new(&self.url);
        if self.metadata_only {
            request.list_metadata(&params)
        } else {
            request.list(&params)
        }
        .map_err(kube::Error::BuildRequest)
    }

    fn watch_request(&self, resource_version: &str) -> Result<http::Request<Vec<u8>>, kube::Error> {
        let mut params = WatchParams::default().timeout(WATCH_SECONDS);
        params.label_selector.clone_from(&self.selector);
        let request = Request::new(&self.url);
        if self.metadata_only {
            request.watch_metadata(&params, resource_version)
        } else {
            request.watch(&params, resource_version)
        }
        .map_err(kube::Error::BuildRequest)
    }
}

type Events<K> = Pin<Box<dyn Stream<Item = kube::Result<WatchEvent<K>>> + Send>>;

enum State<K> {
    /// Nothing listed yet, or the last list or watch needs a fresh list.
    Empty,
    /// A list is being read: its objects arrive on `objects`; `reader` ends with the
    /// list's resourceVersion.
    Listing {
        objects: mpsc::Receiver<K>,
        reader: JoinHandle<Result<String, kube::Error>>,
    },
    /// Listed (or a watch ended) at `resource_version`; a watch starts from there.
    Listed { resource_version: String },
    /// Following changes after `resource_version`.
    Watching {
        resource_version: String,
        events: Events<K>,
    },
}

/// The events of `target`, as kube's `watcher` yields them (see the module doc).
pub fn watch<K>(
    client: Client,
    target: Target,
) -> impl Stream<Item = Result<Event<K>, watcher::Error>> + Send + 'static
where
    K: Resource + DeserializeOwned + Clone + Send + 'static,
{
    follow(client, target, State::Empty)
}

/// The events of `target` after `resource_version`, as if a list had ended there: changes
/// follow from it, or, once the server no longer has it (`410 Gone`), a fresh list. For
/// tests of the resume paths; the operator starts every watch with [`watch`].
#[doc(hidden)]
pub fn watch_from<K>(
    client: Client,
    target: Target,
    resource_version: &str,
) -> impl Stream<Item = Result<Event<K>, watcher::Error>> + Send + 'static
where
    K: Resource + DeserializeOwned + Clone + Send + 'static,
{
    let resource_version = resource_version.to_string();
    follow(client, target, State::Listed { resource_version })
}

fn follow<K>(
    client: Client,
    target: Target,
    state: State<K>,
) -> impl Stream<Item = Result<Event<K>, watcher::Error>> + Send + 'static
where
    K: Resource + DeserializeOwned + Clone + Send + 'static,
{
    futures::stream::unfold(
        (client, target, state),
        |(client, target, mut state)| async move {
            loop {
                let (event, next) = step(&client, &target, state).await;
                state = next;
                if let Some(event) = event {
                    return Some((event, (client, target, state)));
                }
            }
        },
    )
}

type Step<K> = (Option<Result<Event<K>, watcher::Error>>, State<K>);

async fn step<K>(client: &Client, target: &Target, state: State<K>) -> Step<K>
where
    K: Resource + DeserializeOwned + Clone + Send + 'static,
{
    match state {
        State::Empty => match start_list(client, target).await {
            Ok((objects, reader)) => (Some(Ok(Event::Init)), State::Listing { objects, reader }),
            Err(e) => (
                Some(Err(watcher::Error::InitialListFailed(e))),
                State::Empty,
            ),
        },
        State::Listing {
            mut objects,
            reader,
        } => {
            if let Some(object) = objects.recv().await {
                return (
                    Some(Ok(Event::InitApply(object))),
                    State::Listing { objects, reader },
                );
            }
            match reader.await {
                Ok(Ok(resource_version)) if !resource_version.is_empty() => (
                    Some(Ok(Event::InitDone)),
                    State::Listed { resource_version },
                ),
                Ok(Ok(_)) => (Some(Err(watcher::Error::NoResourceVersion)), State::Empty),
                Ok(Err(e)) => (
                    Some(Err(watcher::Error::InitialListFailed(e))),
                    State::Empty,
                ),
                Err(e) => {
                    let e = kube::Error::ReadEvents(std::io::Error::other(e));
                    (
                        Some(Err(watcher::Error::InitialListFailed(e))),
                        State::Empty,
                    )
                }
            }
        }
        State::Listed { resource_version } => {
            let request = target.watch_request(&resource_version);
            let started = match request {
                Ok(request) => client.request_events::<K>(request).await,
                Err(e) => Err(e),
            };
            match started {
                Ok(events) => (
                    None,
                    State::Watching {
                        resource_version,
                        events: events.boxed(),
                    },
                ),
                Err(kube::Error::Api(status)) if status.code == 410 => {
                    (Some(Err(watcher::Error::WatchError(status))), State::Empty)
                }
                Err(e) => (
                    Some(Err(watcher::Error::WatchStartFailed(e))),
                    State::Listed { resource_version },
                ),
            }
        }
        State::Watching {
            resource_version,
            mut events,
        } => match tokio::time::timeout(IDLE, events.next()).await {
            Ok(Some(Ok(WatchEvent::Added(object) | WatchEvent::Modified(object)))) => {
                followed(object, Event::Apply, events)
            }
            Ok(Some(Ok(WatchEvent::Deleted(object)))) => followed(object, Event::Delete, events),
            Ok(Some(Ok(WatchEvent::Bookmark(mark)))) => (
                None,
                State::Watching {
                    resource_version: mark.metadata.resource_version,
                    events,
                },
            ),
            // 410 Gone: too far behind to resume; list again.
            Ok(Some(Ok(WatchEvent::Error(status)))) if status.code == 410 => {
                (Some(Err(watcher::Error::WatchError(status))), State::Empty)
            }
            Ok(Some(Ok(WatchEvent::Error(status)))) => (
                Some(Err(watcher::Error::WatchError(status))),
                State::Watching {
                    resource_version,
                    events,
                },
            ),
            Ok(Some(Err(e))) => (
                Some(Err(watcher::Error::WatchFailed(e))),
                State::Watching {
                    resource_version,
                    events,
                },
            ),
            // Ended (the server-side timeout) or silent for too long: resume.
            Ok(None) | Err(_) => (None, State::Listed { resource_version }),
        },
    }
}

/// The event for a watched `object`, which also moves the watch's resourceVersion.
fn followed<K: Resource>(object: K, event: fn(K) -> Event<K>, events: Events<K>) -> Step<K> {
    match object.resource_version().filter(|v| !v.is_empty()) {
        Some(resource_version) => (
            Some(Ok(event(object))),
            State::Watching {
                resource_version,
                events,
            },
        ),
        None => (Some(Err(watcher::Error::NoResourceVersion)), State::Empty),
    }
}

/// Sends the list request and, once its response has begun, reads the body on a blocking
/// thread that decodes one object at a time onto the returned channel.
async fn start_list<K>(
    client: &Client,
    target: &Target,
) -> Result<(mpsc::Receiver<K>, JoinHandle<Result<String, kube::Error>>), kube::Error>
where
    K: DeserializeOwned + Send + 'static,
{
    let request = target.list_request()?;
    let body = client.request_stream(request).await?;
    let (tx, rx) = mpsc::channel(QUEUED_OBJECTS);
    let runtime = tokio::runtime::Handle::current();
    let reader = tokio::task::spawn_blocking(move || {
        let body = BlockingRead {
            body: Box::pin(body),
            runtime,
        };
        decode_list(std::io::BufReader::with_capacity(1 << 16, body), &tx)
    });
    Ok((rx, reader))
}

/// The response body as a blocking reader, for serde_json's streaming decoder.
struct BlockingRead<B> {
    body: Pin<Box<B>>,
    runtime: tokio::runtime::Handle,
}

impl<B: AsyncRead> Read for BlockingRead<B> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.runtime
            .block_on(futures::AsyncReadExt::read(&mut self.body, buf))
    }
}

/// Decodes a list response from `reader`, sending each item to `objects` as soon as it is
/// decoded; the list's resourceVersion.
pub(crate) fn decode_list<K: DeserializeOwned>(
    reader: impl Read,
    objects: &mpsc::Sender<K>,
) -> Result<String, kube::Error> {
    let mut decoder = serde_json::Deserializer::from_reader(reader);
    let resource_version = ListSeed { objects }
        .deserialize(&mut decoder)
        .map_err(kube::Error::SerdeError)?;
    decoder.end().map_err(kube::Error::SerdeError)?;
    Ok(resource_version.unwrap_or_default())
}

/// A list object: `items` sent one by one, `metadata.resourceVersion` kept, the rest
/// skipped.
struct ListSeed<'a, K> {
    objects: &'a mpsc::Sender<K>,
}

impl<'de, K: DeserializeOwned> DeserializeSeed<'de> for ListSeed<'_, K> {
    type Value = Option<String>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, K: DeserializeOwned> de::Visitor<'de> for ListSeed<'_, K> {
    type Value = Option<String>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a Kubernetes list")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut resource_version = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "items" => map.next_value_seed(Items {
                    objects: self.objects,
                })?,
                "metadata" => resource_version = map.next_value::<ListMeta>()?.resource_version,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(resource_version)
    }
}

/// A list's `items` (`null` when there are none).
struct Items<'a, K> {
    objects: &'a mpsc::Sender<K>,
}

impl<'de, K: DeserializeOwned> DeserializeSeed<'de> for Items<'_, K> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, K: DeserializeOwned> de::Visitor<'de> for Items<'_, K> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list's items")
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(object) = seq.next_element::<K>()? {
            self.objects
                .blocking_send(object)
                .map_err(|_| de::Error::custom("the watch stopped reading its list"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
