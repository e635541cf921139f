//! Issue 13: pool use is counted from what exists — grants, approved scale-ups not yet
//! applied, and orphan tenant namespaces.

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::*;
use crate::api::ResourceAmounts;
use crate::index::namespace_view::NamespaceView;

fn cpu(n: &str) -> Amounts {
    Amounts::parse(
        "t",
        &ResourceAmounts {
            cpu: Some(IntOrString::String(n.into())),
            ..Default::default()
        },
    )
    .unwrap()
}

fn granted(n: &str) -> CloudResourceRequestStatus {
    CloudResourceRequestStatus {
        grant: Some(cpu(n).to_api()),
        ..Default::default()
    }
}

fn change(n: &str) -> GrantChange {
    GrantChange {
        name: format!("to-{n}"),
        uid: format!("c-{n}"),
        decided_at: None,
        resources: cpu(n),
        extend_to: None,
        convert_to: None,
        access_groups: None,
        zone: None,
    }
}

#[test]
fn an_approved_scale_up_holds_its_room_before_it_is_applied() {
    assert_eq!(held(Some(&granted("8")), &[]), Some(cpu("8")));
    assert_eq!(held(Some(&granted("8")), &[change("12")]), Some(cpu("12")));
    // A scale-down holds the larger grant until it is applied.
    assert_eq!(held(Some(&granted("8")), &[change("2")]), Some(cpu("8")));
    assert_eq!(
        held(Some(&granted("8")), &[change("12"), change("10")]),
        Some(cpu("12"))
    );
    assert_eq!(held(None, &[change("12")]), None, "no grant, nothing held");
}

#[test]
fn two_approved_scale_ups_cannot_count_on_the_same_room() {
    // Pool of 20: a and b hold 8 each; each wants 12.
    let mut index = CapacityIndex::default();
    let a = Holder::Request("a".into());
    let b = Holder::Request("b".into());
    index.set(a.clone(), Some(("p".into(), cpu("8"))));
    index.set(b.clone(), Some(("p".into(), cpu("8"))));
    let pool = cpu("20");
    // a's scale-up fits.
    assert!(
        index
            .in_use("p", std::slice::from_ref(&a))
            .plus(&cpu("12"))
            .exceeding(&pool)
            .is_empty()
    );
    // Once approved (held by a before it is applied), b's no longer does.
    index.set(
        a.clone(),
        held(Some(&granted("8")), &[change("12")]).map(|h| ("p".into(), h)),
    );
    assert!(
        !index
            .in_use("p", std::slice::from_ref(&b))
            .plus(&cpu("12"))
            .exceeding(&pool)
            .is_empty()
    );
}

/// Tenant namespace `unit-portal` of pool `p`, owned by request `owner` and built for a
/// grant of 6 vCPU, as the operator keeps it.
fn tenant_namespace(owner: &str) -> NamespaceView {
    let labels = [(POOL_LABEL.to_string(), "p".to_string())].into();
    let annotations = [
        (
            crate::policy::tenant::OWNER_UID_ANNOTATION.to_string(),
            owner.to_string(),
        ),
        (GRANT_ANNOTATION.to_string(), grant_annotation(&cpu("6"))),
    ]
    .into();
    NamespaceView::from(k8s_openapi::api::core::v1::Namespace {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: Some("unit-portal".into()),
            labels: Some(labels),
            annotations: Some(annotations),
            ..Default::default()
        },
        ..Default::default()
    })
}

#[test]
fn an_orphan_namespace_still_counts_and_is_reported() {
    let ns = tenant_namespace("gone");
    let orphan = Some((Holder::Orphan("unit-portal".into()), "p".into(), cpu("6")));
    assert_eq!(tenant_holder(&ns, |_| Owner::Gone), orphan);
    assert_eq!(
        tenant_holder(&ns, |_| Owner::Counted),
        None,
        "its request is alive and counts its grant"
    );
    let mut index = CapacityIndex::default();
    index.set(
        Holder::Orphan("unit-portal".into()),
        Some(("p".into(), cpu("6"))),
    );
    index.set(Holder::Request("r".into()), Some(("p".into(), cpu("4"))));
    assert_eq!(
        index.in_use("p", &[Holder::Request("new".into())]),
        cpu("10")
    );
    assert_eq!(index.orphans("p"), ["unit-portal"]);
    assert_eq!(index.orphan_counts().get("p"), Some(&1));
    // Deleted: it no longer counts.
    index.set(Holder::Orphan("unit-portal".into()), None);
    assert_eq!(
        index.in_use("p", &[Holder::Request("new".into())]),
        cpu("4")
    );
    assert!(index.orphans("p").is_empty());
}

#[test]
fn a_holder_moving_pools_leaves_the_old_one() {
    let mut index = CapacityIndex::default();
    let a = Holder::Request("a".into());
    index.set(a.clone(), Some(("p".into(), cpu("8"))));
    index.set(a.clone(), Some(("q".into(), cpu("8"))));
    let other = Holder::Request("x".into());
    assert_eq!(
        index.in_use("p", std::slice::from_ref(&other)),
        Amounts::default()
    );
    assert_eq!(index.in_use("q", std::slice::from_ref(&other)), cpu("8"));
}

#[test]
fn the_grant_annotation_round_trips() {
    let g = cpu("8").plus(
        &Amounts::parse(
            "t",
            &ResourceAmounts {
                memory: Some(IntOrString::String("32Gi".into())),
                ..Default::default()
            },
        )
        .unwrap(),
    );
    assert_eq!(parse_grant_annotation(&grant_annotation(&g)), g);
    assert_eq!(parse_grant_annotation("garbage,cpu=x"), Amounts::default());
}

#[test]
fn approved_scale_ups_take_their_room_in_the_order_they_were_approved() {
    // Pool of 20: a and b hold 8 each; each has an approved scale-up to 12, a's first.
    // Counting every raise, each would wait for the other forever.
    let at = |s: &str| Some(s.parse::<chrono::DateTime<chrono::Utc>>().unwrap());
    let mut grow_a = change("12");
    grow_a.uid = "c-a".into();
    grow_a.decided_at = at("2026-11-30T09:00:00Z");
    let mut grow_b = change("12");
    grow_b.uid = "c-b".into();
    grow_b.decided_at = at("2026-11-30T09:00:05Z");
    let (a, b) = (Holder::Request("a".into()), Holder::Request("b".into()));
    let mut index = CapacityIndex::default();
    let hold_of = |c: &GrantChange| hold(Some(&granted("8")), std::slice::from_ref(c));
    index.set_hold(a.clone(), hold_of(&grow_a).map(|h| ("p".into(), h)));
    index.set_hold(b.clone(), hold_of(&grow_b).map(|h| ("p".into(), h)));
    let pool = cpu("20");
    let fits = |in_use: Amounts| in_use.plus(&cpu("12")).exceeding(&pool).is_empty();
    assert!(
        fits(index.in_use_before("p", std::slice::from_ref(&a), &Turn::of(&grow_a))),
        "a was approved first: b's later raise does not count against it"
    );
    assert!(
        !fits(index.in_use_before("p", std::slice::from_ref(&b), &Turn::of(&grow_b))),
        "b comes after a: a's raise counts"
    );
    // A new grant comes after every approved scale-up.
    assert_eq!(
        index.in_use("p", &[Holder::Request("new".into())]),
        cpu("24")
    );
    // Without a decision time a change comes last; equal times go by UID.
    let mut undated = grow_a.clone();
    undated.decided_at = None;
    assert!(Turn::of(&grow_b) < Turn::of(&undated));
    let mut same_time = grow_b.clone();
    same_time.decided_at = grow_a.decided_at;
    assert!(Turn::of(&grow_a) < Turn::of(&same_time));
}

/// Issue 11: the tenant is applied before the status that reports its grant. A crash in
/// between leaves a namespace whose living request holds nothing by its status: it counts
/// on its own (not as an orphan) until the status reports the grant.
#[test]
fn a_tenant_applied_before_its_grant_is_reported_still_counts() {
    let ns = tenant_namespace("opening");
    let owner = |uid: &str| {
        assert_eq!(uid, "opening");
        Owner::Unreported
    };
    let Some((holder, pool, held)) = tenant_holder(&ns, owner) else {
        panic!("a tenant whose grant is unreported holds nothing")
    };
    assert_eq!(holder, Holder::Unreported("unit-portal".into()));
    let mut index = CapacityIndex::default();
    index.set(holder.clone(), Some((pool, held)));
    assert_eq!(
        index.in_use("p", &[Holder::Request("new".into())]),
        cpu("6")
    );
    assert!(index.orphans("p").is_empty(), "not reported as an orphan");
    // The status reports the grant: the request counts it, the namespace no longer.
    assert_eq!(
        index.in_use("p", &[Holder::Request("opening".into()), holder.clone()]),
        Amounts::default(),
        "its own tenant does not stand in the way of its own grant"
    );
    assert_eq!(tenant_holder(&ns, |_| Owner::Counted), None);
    index.set(holder, None);
    index.set(
        Holder::Request("opening".into()),
        Some(("p".into(), cpu("6"))),
    );
    assert_eq!(
        index.in_use("p", &[Holder::Request("new".into())]),
        cpu("6")
    );
}
