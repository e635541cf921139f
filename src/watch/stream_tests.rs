use k8s_openapi::api::core::v1::{LimitRange, Namespace};
use kube::ResourceExt;
use tokio::sync::mpsc;

use super::*;
use crate::decode::Tolerant;

/// Decodes `body` as a list of `K` on this thread, collecting what was sent.
fn decoded<K: DeserializeOwned>(body: &str) -> (Result<String, kube::Error>, Vec<K>) {
    let (tx, mut rx) = mpsc::channel(1024);
    let result = decode_list(body.as_bytes(), &tx);
    drop(tx);
    let mut objects = Vec::new();
    while let Ok(o) = rx.try_recv() {
        objects.push(o);
    }
    (result, objects)
}

fn namespace(name: &str) -> String {
    format!(
        r#"{{"apiVersion":"v1","kind":"Namespace","metadata":{{"name":"{name}","resourceVersion":"7"}}}}"#
    )
}

#[test]
fn a_list_is_decoded_item_by_item_whatever_the_order_of_its_keys() {
    // The API server encodes a custom resource's list with its keys sorted: metadata,
    // and so the resourceVersion, comes after the items.
    let body = format!(
        r#"{{"apiVersion":"v1","items":[{},{}],"kind":"NamespaceList","metadata":{{"resourceVersion":"42","continue":""}}}}"#,
        namespace("a"),
        namespace("b")
    );
    let (rv, objects) = decoded::<Namespace>(&body);
    assert_eq!(rv.expect("decodes"), "42");
    let names: Vec<String> = objects.iter().map(|n| n.name_any()).collect();
    assert_eq!(names, ["a", "b"]);

    let before = format!(
        r#"{{"metadata":{{"resourceVersion":"43"}},"unknown":{{"x":[1,2]}},"items":[{}]}}"#,
        namespace("c")
    );
    let (rv, objects) = decoded::<Namespace>(&before);
    assert_eq!(rv.expect("decodes"), "43");
    assert_eq!(objects.len(), 1);
}

#[test]
fn an_empty_list_may_carry_null_items() {
    for body in [
        r#"{"items":null,"metadata":{"resourceVersion":"5"}}"#,
        r#"{"items":[],"metadata":{"resourceVersion":"5"}}"#,
    ] {
        let (rv, objects) = decoded::<Namespace>(body);
        assert_eq!(rv.expect("decodes"), "5");
        assert!(objects.is_empty());
    }
    // No resourceVersion at all: empty, which the watch reports as NoResourceVersion.
    let (rv, _) = decoded::<Namespace>(r#"{"items":[]}"#);
    assert_eq!(rv.expect("decodes"), "");
}

#[test]
fn a_cut_body_is_an_error_after_the_objects_before_the_cut() {
    let body = format!(
        r#"{{"items":[{},{},{{"metadata":{{"name":"#,
        namespace("a"),
        namespace("b")
    );
    let (rv, objects) = decoded::<Namespace>(&body);
    assert!(matches!(rv, Err(kube::Error::SerdeError(_))), "{rv:?}");
    // What came before the cut was sent; the watch then yields the error and lists again,
    // and the next Init discards this partial list.
    assert_eq!(objects.len(), 2);
    let (rv, _) = decoded::<Namespace>(&format!(r#"{{"items":[{}]}} trailing"#, namespace("a")));
    assert!(rv.is_err(), "trailing bytes are refused");
}

#[test]
fn one_object_that_does_not_decode_does_not_fail_the_list() {
    let bad = r#"{"apiVersion":"v1","kind":"LimitRange","metadata":{"name":"bad","namespace":"t","resourceVersion":"8"},"spec":{"limits":"not a list"}}"#;
    let good = r#"{"apiVersion":"v1","kind":"LimitRange","metadata":{"name":"good","namespace":"t","resourceVersion":"9"},"spec":{"limits":[]}}"#;
    let body = format!(r#"{{"items":[{bad},{good}],"metadata":{{"resourceVersion":"9"}}}}"#);
    let (rv, objects) = decoded::<Tolerant<LimitRange>>(&body);
    assert_eq!(rv.expect("decodes"), "9");
    assert!(
        matches!(&objects[0], Tolerant::Undecodable(u) if u.meta.name.as_deref() == Some("bad"))
    );
    assert!(matches!(&objects[1], Tolerant::Decoded(l) if l.name_any() == "good"));
}

#[test]
fn a_dropped_watch_stops_the_reader() {
    let (tx, rx) = mpsc::channel(1);
    drop(rx);
    let body = format!(r#"{{"items":[{}]}}"#, namespace("a"));
    let result = decode_list::<Namespace>(body.as_bytes(), &tx);
    assert!(result.is_err());
}

#[test]
fn lists_come_whole_from_the_watch_cache_and_watches_resume() {
    let target = Target::all::<Namespace>().selected("govcloud.io/managed=true");
    let list = target.list_request().expect("a request");
    let query = list.uri().query().expect("a query").to_string();
    assert!(query.contains("resourceVersion=0"), "{query}");
    assert!(
        query.contains("labelSelector=govcloud.io%2Fmanaged%3Dtrue"),
        "{query}"
    );
    assert!(!query.contains("limit="), "{query}");
    assert!(!query.contains("resourceVersionMatch"), "{query}");
    assert_eq!(
        super::super::headers_within(list.uri()),
        super::super::WHOLE_LIST_HEADERS_WITHIN
    );

    let watch = target.watch_request("42").expect("a request");
    let query = watch.uri().query().expect("a query").to_string();
    for part in [
        "watch=true",
        "resourceVersion=42",
        "timeoutSeconds=20",
        "allowWatchBookmarks=true",
    ] {
        assert!(query.contains(part), "{query} lacks {part}");
    }
    assert_eq!(
        super::super::headers_within(watch.uri()),
        super::super::RESPONSE_HEADERS_WITHIN
    );

    // Metadata only: the API server is asked for PartialObjectMetadata.
    let meta = Target::all::<LimitRange>()
        .metadata_only()
        .list_request()
        .expect("a request");
    let accept = meta
        .headers()
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(accept.contains("as=PartialObjectMetadataList"), "{accept}");
    assert_eq!(meta.uri().path(), "/api/v1/limitranges");
}
