use super::*;
use crate::api::CloudResourceRequest;
use kube::core::ObjectList;
use kube::runtime::reflector;
use serde_json::json;

/// A request of `class`: `Pilot` is a class only a newer release knows (spec enums stay
/// closed: an unknown class cannot be governed by this release's rules).
fn request(name: &str, class: &str) -> serde_json::Value {
    json!({
        "apiVersion": "govcloud.io/v1alpha1",
        "kind": "CloudResourceRequest",
        "metadata": {"name": name, "namespace": "unit-a", "uid": format!("uid-{name}"), "resourceVersion": "1"},
        "spec": {
            "class": class,
            "applicantUnit": "unit A",
            "system": {"name": "s", "securityLevel": 2, "zone": "Internet"},
            "resources": {"cpu": "1"}
        },
        "status": {"phase": "Active"}
    })
}

type Crr = CloudResourceRequest;

fn tolerant(v: serde_json::Value) -> Tolerant<Crr> {
    // Through a string, as the watcher reads it from the wire.
    serde_json::from_str(&v.to_string()).expect("a Tolerant never fails on valid JSON")
}

fn quarantine() -> (Quarantine, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::new());
    (Quarantine::new(metrics.clone(), None), metrics)
}

#[test]
fn an_object_that_does_not_decode_keeps_its_metadata_and_the_reason() {
    match tolerant(request("a", "Test")) {
        Tolerant::Decoded(r) => assert_eq!(r.metadata.name.as_deref(), Some("a")),
        Tolerant::Undecodable(u) => panic!("a valid request must decode: {}", u.error),
    }
    match tolerant(request("b", "Pilot")) {
        Tolerant::Undecodable(u) => {
            assert_eq!(u.meta.name.as_deref(), Some("b"));
            assert_eq!(u.meta.namespace.as_deref(), Some("unit-a"));
            assert_eq!(u.meta.uid.as_deref(), Some("uid-b"));
            assert!(u.error.contains("Pilot"), "{}", u.error);
        }
        Tolerant::Decoded(_) => panic!("an unknown class must not decode"),
    }
    // A spec field of the wrong JSON type.
    let mut wrong = request("c", "Test");
    wrong["spec"]["system"]["securityLevel"] = json!("three");
    assert!(matches!(tolerant(wrong), Tolerant::Undecodable(_)));
}

#[test]
fn one_undecodable_object_does_not_fail_the_list() {
    let list = json!({
        "apiVersion": "govcloud.io/v1alpha1",
        "kind": "CloudResourceRequestList",
        "metadata": {"resourceVersion": "7"},
        "items": [request("a", "Test"), request("b", "Pilot")]
    })
    .to_string();
    // Negative control: the typed list fails as a whole, as the watch did.
    assert!(serde_json::from_str::<ObjectList<Crr>>(&list).is_err());
    let tolerant: ObjectList<Tolerant<Crr>> =
        serde_json::from_str(&list).expect("the tolerant list decodes");
    assert_eq!(tolerant.items.len(), 2);
    assert_eq!(tolerant.metadata.resource_version.as_deref(), Some("7"));
}

fn gauge(metrics: &Metrics) -> i64 {
    metrics
        .undecodable
        .get_or_create(&UndecodableLabels {
            kind: "CloudResourceRequest".into(),
        })
        .get()
}

fn names(store: &Store<Crr>) -> Vec<String> {
    let mut n: Vec<String> = store
        .state()
        .iter()
        .filter_map(|r| r.metadata.name.clone())
        .collect();
    n.sort();
    n
}

#[test]
fn undecodable_objects_stay_out_of_the_store_and_stale_copies_are_evicted() {
    use watcher::Event as E;
    let (q, metrics) = quarantine();
    let (store, mut writer) = reflector::store::<Crr>();
    let mut feed = |ev: E<Tolerant<Crr>>| {
        let out = q.sort("requests", ev, &store);
        if let Some(ev) = &out {
            writer.apply_watcher_event(ev);
        }
        out
    };
    feed(E::Init);
    assert!(feed(E::InitApply(tolerant(request("a", "Test")))).is_some());
    assert!(
        feed(E::InitApply(tolerant(request("b", "Pilot")))).is_none(),
        "withheld from the store"
    );
    assert!(matches!(feed(E::InitDone), Some(E::InitDone)));
    assert_eq!(names(&store), ["a"]);
    assert_eq!(q.count::<Crr>(), 1);
    assert_eq!(gauge(&metrics), 1);
    let failures = || {
        metrics
            .decode_failures
            .get_or_create(&UndecodableLabels {
                kind: "CloudResourceRequest".into(),
            })
            .get()
    };
    assert_eq!(failures(), 1);

    // `a` decoded before and no longer does: its stale copy leaves the store.
    let Some(E::Delete(evicted)) = feed(E::Apply(tolerant(request("a", "Pilot")))) else {
        panic!("the stale copy must be evicted");
    };
    assert_eq!(evicted.metadata.name.as_deref(), Some("a"));
    assert!(names(&store).is_empty());
    let stale = serde_json::from_value::<Crr>(request("a", "Test")).expect("valid");
    assert!(q.holds(&stale), "a stale copy is never acted on");
    assert_eq!(gauge(&metrics), 2);
    assert_eq!(failures(), 2);

    // The same resourceVersion again (a relist) is not reported twice.
    feed(E::Init);
    feed(E::InitApply(tolerant(request("a", "Pilot"))));
    feed(E::InitApply(tolerant(request("b", "Pilot"))));
    feed(E::InitDone);
    assert_eq!(failures(), 2);
    assert_eq!(gauge(&metrics), 2);

    // `a` decodes again: back in the store, released.
    assert!(feed(E::Apply(tolerant(request("a", "Test")))).is_some());
    assert_eq!(names(&store), ["a"]);
    assert!(!q.holds(&stale));
    assert_eq!(gauge(&metrics), 1);

    // `b` is deleted while undecodable; nothing of it was in the store.
    assert!(feed(E::Delete(tolerant(request("b", "Pilot")))).is_none());
    assert_eq!(q.count::<Crr>(), 0);
    assert_eq!(gauge(&metrics), 0);
}

#[test]
fn a_relist_forgets_undecodable_objects_that_are_gone() {
    use watcher::Event as E;
    let (q, metrics) = quarantine();
    let (store, _writer) = reflector::store::<Crr>();
    q.sort("requests", E::Init, &store);
    q.sort(
        "requests",
        E::InitApply(tolerant(request("b", "Pilot"))),
        &store,
    );
    q.sort("requests", E::InitDone, &store);
    assert!(q.holds_named::<Crr>(Some("unit-a"), "b"));
    // Deleted while the watch was down: the next list no longer has it.
    q.sort("requests", E::Init, &store);
    q.sort("requests", E::InitDone, &store);
    assert!(!q.holds_named::<Crr>(Some("unit-a"), "b"));
    assert_eq!(gauge(&metrics), 0);
}

#[test]
fn managed_fields_are_not_decoded() {
    let mut sent = request("m", "Test");
    sent["metadata"]["managedFields"] = json!([{
        "manager": "govcloud.io/operator",
        "operation": "Apply",
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:status": {"f:phase": {}}}
    }]);
    match tolerant(sent) {
        Tolerant::Decoded(r) => {
            assert_eq!(r.metadata.name.as_deref(), Some("m"));
            assert_eq!(r.metadata.managed_fields, None);
        }
        Tolerant::Undecodable(u) => panic!("a valid request must decode: {}", u.error),
    }
}
