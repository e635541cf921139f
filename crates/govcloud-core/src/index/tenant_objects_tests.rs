use super::*;
use proptest::prelude::*;

fn hard(cpu: &str, memory: &str) -> BTreeMap<String, String> {
    [
        ("requests.cpu".to_string(), cpu.to_string()),
        ("requests.memory".to_string(), memory.to_string()),
    ]
    .into()
}

fn owner() -> Option<(String, String)> {
    Some(("unit-a".into(), "portal".into()))
}

fn quota(cpu: &str, memory: &str) -> Seen {
    Seen {
        owner: owner(),
        hard: hard(cpu, memory),
        allocation: None,
    }
}

fn object() -> Seen {
    Seen {
        owner: owner(),
        ..Seen::default()
    }
}

fn listed_all(index: &mut TenantObjects) {
    for kind in Owned::ALL {
        index.begin_relist(kind);
        index.end_relist(kind);
    }
}

fn provisioned(index: &mut TenantObjects, ns: &str) {
    index.applied(ns, Owned::Quota, quota("4", "8Gi"));
    for kind in [Owned::LimitRange, Owned::RoleBinding, Owned::NetworkPolicy] {
        index.applied(ns, kind, object());
    }
}

#[test]
fn a_tenant_is_in_sync_when_all_four_are_there_with_the_granted_hard() {
    let mut index = TenantObjects::default();
    assert!(!index.listed());
    listed_all(&mut index);
    assert!(index.listed());
    assert!(
        !index.in_sync("unit-a-portal", &hard("4", "8Gi")),
        "nothing seen"
    );
    index.applied("unit-a-portal", Owned::Quota, quota("4", "8Gi"));
    assert!(
        !index.in_sync("unit-a-portal", &hard("4", "8Gi")),
        "three objects missing"
    );
    provisioned(&mut index, "unit-a-portal");
    assert!(index.in_sync("unit-a-portal", &hard("4", "8Gi")));
    assert!(
        index.in_sync("unit-a-portal", &hard("4000m", "8192Mi")),
        "amounts compare as quantities"
    );
    assert!(!index.in_sync("unit-a-portal", &hard("8", "8Gi")));
    let mut more = hard("4", "8Gi");
    more.insert("requests.storage".into(), "100Gi".into());
    assert!(!index.in_sync("unit-a-portal", &more), "a key missing");
    let mut renamed = hard("4", "8Gi");
    let cpu = renamed.remove("requests.cpu").expect("a cpu amount");
    renamed.insert("limits.gpu".into(), cpu);
    assert!(!index.in_sync("unit-a-portal", &renamed), "another key");
    // Amounts that are not quantities compare as their text.
    index.applied("unit-a-portal", Owned::Quota, quota("4", "lots"));
    assert!(index.in_sync("unit-a-portal", &hard("4", "lots")));
    assert!(!index.in_sync("unit-a-portal", &hard("4", "Lots")));
    assert!(!index.in_sync("unit-a-portal", &hard("4", "8Gi")));
}

#[test]
fn a_deleted_object_wakes_its_owner_and_is_counted() {
    let mut index = TenantObjects::default();
    listed_all(&mut index);
    provisioned(&mut index, "t");
    assert_eq!(index.disturbances("t"), 0);
    let disturbed = index.deleted("t", Owned::NetworkPolicy);
    assert_eq!(disturbed.owners, owner().into_iter().collect::<Vec<_>>());
    assert_eq!(index.disturbances("t"), 1);
    assert!(!index.in_sync("t", &hard("4", "8Gi")));
    assert_eq!(
        index.deleted("t", Owned::NetworkPolicy).owners.len(),
        1,
        "a repeated delete still names the owner"
    );
    assert_eq!(index.disturbances("t"), 1, "but is not counted twice");
    index.applied("t", Owned::NetworkPolicy, object());
    assert!(index.in_sync("t", &hard("4", "8Gi")));
    assert!(
        index.deleted("unknown", Owned::Quota).owners.is_empty(),
        "nothing known, nobody to wake"
    );
}

#[test]
fn a_changed_hard_wakes_the_owner_but_a_status_update_does_not() {
    let mut index = TenantObjects::default();
    listed_all(&mut index);
    assert!(
        index
            .applied("t", Owned::Quota, quota("4", "8Gi"))
            .owners
            .is_empty(),
        "first sight"
    );
    let mut with_figures = quota("4", "8Gi");
    with_figures.allocation = Some(Ratios {
        cpu: Some(rust_decimal::Decimal::new(5, 1)),
        ..Ratios::default()
    });
    assert!(
        index
            .applied("t", Owned::Quota, with_figures.clone())
            .owners
            .is_empty(),
        "the quota controller filling status in"
    );
    assert_eq!(index.allocation("t"), with_figures.allocation);
    assert_eq!(index.disturbances("t"), 0);
    assert_eq!(
        index.applied("t", Owned::Quota, quota("2", "8Gi")).owners,
        owner().into_iter().collect::<Vec<_>>(),
        "someone edited the hard"
    );
    assert_eq!(index.disturbances("t"), 1);
    assert_eq!(index.allocation("t"), None, "the figures of the new quota");
}

#[test]
fn a_relist_drops_what_was_deleted_while_the_watch_was_away() {
    let mut index = TenantObjects::default();
    listed_all(&mut index);
    provisioned(&mut index, "t1");
    provisioned(&mut index, "t2");
    index.begin_relist(Owned::RoleBinding);
    index.applied("t1", Owned::RoleBinding, object());
    assert!(
        index.in_sync("t2", &hard("4", "8Gi")),
        "kept until the relist ends"
    );
    let disturbed = index.end_relist(Owned::RoleBinding);
    assert_eq!(disturbed.owners.len(), 1);
    assert!(index.in_sync("t1", &hard("4", "8Gi")));
    assert!(!index.in_sync("t2", &hard("4", "8Gi")));
    assert_eq!(index.disturbances("t2"), 1);
    index.forget("t2");
    assert_eq!(index.len(), 1);
}

#[test]
fn not_listed_until_every_kind_has_listed_once() {
    let mut index = TenantObjects::default();
    for kind in &Owned::ALL[..3] {
        index.begin_relist(*kind);
        index.end_relist(*kind);
    }
    assert!(!index.listed());
    index.begin_relist(Owned::NetworkPolicy);
    assert!(!index.listed(), "a relist under way is not a list");
    index.end_relist(Owned::NetworkPolicy);
    assert!(index.listed());
}

#[derive(Debug, Clone)]
enum Event {
    Apply(u8, u8, u8),
    Delete(u8, u8),
    Relist(u8, Vec<u8>),
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        (0u8..3, 0u8..4, 1u8..4).prop_map(|(ns, kind, cpu)| Event::Apply(ns, kind, cpu)),
        (0u8..3, 0u8..4).prop_map(|(ns, kind)| Event::Delete(ns, kind)),
        (0u8..4, proptest::collection::vec(0u8..3, 0..3))
            .prop_map(|(kind, namespaces)| Event::Relist(kind, namespaces)),
    ]
}

proptest! {
    /// After any sequence of events the index answers as a plain model of the objects
    /// that exist: (namespace, kind) → quota cpu.
    #[test]
    fn the_index_follows_the_objects(events in proptest::collection::vec(event(), 0..40)) {
        let mut index = TenantObjects::default();
        listed_all(&mut index);
        let mut model: BTreeMap<(u8, u8), u8> = BTreeMap::new();
        let mut disturbances: BTreeMap<u8, u64> = BTreeMap::new();
        let ns = |n: u8| format!("t{n}");
        let seen = |cpu: u8| Seen { owner: owner(), hard: hard(&cpu.to_string(), "1Gi"), allocation: None };
        for e in events {
            match e {
                Event::Apply(n, k, cpu) => {
                    index.applied(&ns(n), Owned::ALL[k as usize], seen(cpu));
                    if let Some(was) = model.insert((n, k), cpu)
                        && k == 0
                        && was != cpu
                    {
                        *disturbances.entry(n).or_default() += 1;
                    }
                }
                Event::Delete(n, k) => {
                    index.deleted(&ns(n), Owned::ALL[k as usize]);
                    if model.remove(&(n, k)).is_some() {
                        *disturbances.entry(n).or_default() += 1;
                    }
                }
                Event::Relist(k, namespaces) => {
                    index.begin_relist(Owned::ALL[k as usize]);
                    for n in &namespaces {
                        index.applied(&ns(*n), Owned::ALL[k as usize], seen(1));
                        if let Some(was) = model.insert((*n, k), 1)
                            && k == 0
                            && was != 1
                        {
                            *disturbances.entry(*n).or_default() += 1;
                        }
                    }
                    index.end_relist(Owned::ALL[k as usize]);
                    for n in 0..3 {
                        if !namespaces.contains(&n) && model.remove(&(n, k)).is_some() {
                            *disturbances.entry(n).or_default() += 1;
                        }
                    }
                }
            }
        }
        for n in 0..3u8 {
            let all = (0..4u8).all(|k| model.contains_key(&(n, k)));
            for cpu in 1..4u8 {
                let want = all && model.get(&(n, 0)) == Some(&cpu);
                prop_assert_eq!(index.in_sync(&ns(n), &hard(&cpu.to_string(), "1Gi")), want);
            }
            prop_assert_eq!(index.disturbances(&ns(n)), disturbances.get(&n).copied().unwrap_or(0));
        }
    }
}
