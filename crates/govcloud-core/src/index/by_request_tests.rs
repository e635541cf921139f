use super::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

#[test]
fn looks_up_by_namespace_and_request() {
    let mut index = ByRequest::default();
    index.upsert("unit-a", "grow", "portal");
    index.upsert("unit-a", "extend", "portal");
    index.upsert("unit-a", "other", "billing");
    index.upsert("unit-b", "grow", "portal");
    assert_eq!(index.names("unit-a", "portal"), ["extend", "grow"]);
    assert_eq!(index.names("unit-b", "portal"), ["grow"]);
    assert_eq!(index.names("unit-c", "portal"), Vec::<String>::new());
    assert_eq!(index.len(), 4);
}

#[test]
fn an_object_naming_another_request_moves() {
    let mut index = ByRequest::default();
    index.upsert("ns", "c", "r1");
    index.upsert("ns", "c", "r2");
    assert!(index.names("ns", "r1").is_empty());
    assert_eq!(index.names("ns", "r2"), ["c"]);
    index.remove("ns", "c");
    assert!(index.names("ns", "r2").is_empty() && index.is_empty());
    index.remove("ns", "c");
    assert!(index.is_empty(), "removing twice is harmless");
}

#[test]
fn a_relist_replaces_the_content_when_it_ends() {
    let mut index = ByRequest::default();
    index.upsert("ns", "gone", "r");
    index.upsert("ns", "kept", "r");
    index.begin_relist();
    index.relisted("ns", "kept", "r");
    index.relisted("ns", "new", "r");
    assert_eq!(
        index.names("ns", "r"),
        ["gone", "kept"],
        "unchanged until the list is complete"
    );
    index.end_relist();
    assert_eq!(index.names("ns", "r"), ["kept", "new"]);
}

/// One watch event on a small world of namespaces, objects and requests.
#[derive(Debug, Clone)]
enum Op {
    Upsert(u8, u8, u8),
    Remove(u8, u8),
    Relist(Vec<(u8, u8, u8)>),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..2, 0u8..6, 0u8..3).prop_map(|(n, o, r)| Op::Upsert(n, o, r)),
        3 => (0u8..2, 0u8..6).prop_map(|(n, o)| Op::Remove(n, o)),
        1 => prop::collection::vec((0u8..2, 0u8..6, 0u8..3), 0..8).prop_map(Op::Relist),
    ]
}

proptest! {
    /// After any sequence of events the index answers what a scan of the objects (as a
    /// store holds them) answers.
    #[test]
    fn answers_like_a_scan(ops in prop::collection::vec(op(), 0..60)) {
        let mut index = ByRequest::default();
        // (namespace, object) → request: what the store holds.
        let mut store: BTreeMap<(String, String), String> = BTreeMap::new();
        let s = |i: u8, p: &str| format!("{p}{i}");
        for op in ops {
            match op {
                Op::Upsert(n, o, r) => {
                    index.upsert(&s(n, "ns"), &s(o, "o"), &s(r, "r"));
                    store.insert((s(n, "ns"), s(o, "o")), s(r, "r"));
                }
                Op::Remove(n, o) => {
                    index.remove(&s(n, "ns"), &s(o, "o"));
                    store.remove(&(s(n, "ns"), s(o, "o")));
                }
                Op::Relist(objects) => {
                    index.begin_relist();
                    store.clear();
                    for (n, o, r) in objects {
                        index.relisted(&s(n, "ns"), &s(o, "o"), &s(r, "r"));
                        store.insert((s(n, "ns"), s(o, "o")), s(r, "r"));
                    }
                    index.end_relist();
                }
            }
            for n in 0..2 {
                for r in 0..3 {
                    let scanned: Vec<String> = store
                        .iter()
                        .filter(|((ns, _), req)| *ns == s(n, "ns") && **req == s(r, "r"))
                        .map(|((_, name), _)| name.clone())
                        .collect();
                    prop_assert_eq!(index.names(&s(n, "ns"), &s(r, "r")), scanned);
                }
            }
            prop_assert_eq!(index.len(), store.len());
        }
    }
}
