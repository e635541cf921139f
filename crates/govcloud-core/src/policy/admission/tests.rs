//! Each rule of the webhook, and that malformed input is refused, never allowed.

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::api::{EmergencyRules, GovCloudPolicySpec, NamingRules, RequestClass, ReviewRules};

const OPERATOR: &str = "system:serviceaccount:govcloud-system:govcloud-operator";

fn caller(name: &str, groups: &[&str]) -> Caller {
    Caller {
        username: name.into(),
        uid: None,
        groups: groups.iter().map(|g| g.to_string()).collect(),
    }
}

fn request(extra: Value) -> Value {
    let mut r = json!({
        "apiVersion": "govcloud.io/v1alpha1", "kind": "CloudResourceRequest",
        "metadata": {"name": "portal", "namespace": "unit-a", "generation": 3,
                     "finalizers": [TENANT_PROTECTION_FINALIZER]},
        "spec": {"class": "Production", "applicantUnit": "A",
                 "system": {"name": "p", "securityLevel": 3, "zone": "Internet"},
                 "resources": {"cpu": "4"}},
    });
    merge(&mut r, extra);
    r
}

fn merge(a: &mut Value, b: Value) {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                if v.is_null() {
                    a.remove(&k);
                } else {
                    merge(a.entry(k).or_insert(Value::Null), v);
                }
            }
        }
        (a, b) => *a = b,
    }
}

fn stamped(by: &Caller) -> Value {
    json!({"metadata": {"annotations": {REQUESTED_BY_ANNOTATION: requested_by(by)}}})
}

fn policy() -> GovCloudPolicySpec {
    GovCloudPolicySpec {
        emergency: Some(EmergencyRules {
            allowed_classes: Some(vec![RequestClass::Emergency]),
            ..Default::default()
        }),
        review: Some(ReviewRules {
            forbid_same_group: Some(true),
            ..Default::default()
        }),
        naming: Some(NamingRules {
            tenant_namespace_prefix: Some("tenant-".into()),
        }),
        ..Default::default()
    }
}

fn absent(_: &str) -> NamespaceUse {
    NamespaceUse::Absent
}

fn check(
    op: Operation,
    sub: Option<&str>,
    old: Option<&Value>,
    new: Option<&Value>,
    who: &Caller,
) -> Result<(), Refusal> {
    let p = policy();
    let facts = Facts {
        policy: Some(&p),
        policy_name: "test",
        namespace: &|n: &str| {
            if n == "velero" || n == "unit-a-taken" {
                NamespaceUse::Other
            } else {
                absent(n)
            }
        },
    };
    validate(
        &Write {
            kind: Kind::Request,
            operation: op,
            subresource: sub,
            old,
            new,
            caller: who,
            operator: OPERATOR,
        },
        &facts,
    )
}

fn rule(r: Result<(), Refusal>) -> &'static str {
    match r {
        Ok(()) => "allowed",
        Err(e) => e.rule,
    }
}

// What a create is given: the requester stamp and the tenant-protection finalizer.
#[path = "tests_create.rs"]
mod create;

#[test]
fn approval_is_stamped_with_the_token_user_time_and_generation() {
    let approver = caller("approver", &["govcloud:approvers"]);
    let old = request(stamped(&caller("vendor", &[])));
    let mut new = old.clone();
    merge(
        &mut new,
        json!({"status": {"approval": {"decision": "Approved", "reviewer": "someone-else", "decidedAt": "2020-01-01T00:00:00Z"}}}),
    );
    let now = Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap();
    let w = Write {
        kind: Kind::Request,
        operation: Operation::Update,
        subresource: Some("status"),
        old: Some(&old),
        new: Some(&new),
        caller: &approver,
        operator: OPERATOR,
    };
    let out = mutate(&w, now).unwrap().unwrap();
    assert_eq!(
        out.pointer("/status/approval/reviewer"),
        Some(&json!("approver"))
    );
    assert_eq!(
        out.pointer("/status/approval/decidedAt"),
        Some(&json!("2026-11-30T12:00:00Z"))
    );
    assert_eq!(out.pointer("/status/approval/generation"), Some(&json!(3)));
    assert_eq!(
        rule(check(
            Operation::Update,
            Some("status"),
            Some(&old),
            Some(&out),
            &approver
        )),
        "allowed"
    );
    assert_eq!(
        rule(check(
            Operation::Update,
            Some("status"),
            Some(&old),
            Some(&new),
            &approver
        )),
        "reviewer",
        "an unstamped reviewer (mutating webhook skipped) is refused"
    );
}

#[test]
fn self_approval_is_refused_and_so_is_the_same_group_when_the_policy_says_so() {
    let vendor = caller("vendor", &["unit-a:ops", "system:authenticated"]);
    let old = request(stamped(&vendor));
    let mut new = old.clone();
    merge(
        &mut new,
        json!({"status": {"approval": {"decision": "Approved", "reviewer": "vendor"}}}),
    );
    assert_eq!(
        rule(check(
            Operation::Update,
            Some("status"),
            Some(&old),
            Some(&new),
            &vendor
        )),
        "self-approval"
    );
    let colleague = caller("colleague", &["unit-a:ops", "system:authenticated"]);
    merge(
        &mut new,
        json!({"status": {"approval": {"reviewer": "colleague"}}}),
    );
    let r = check(
        Operation::Update,
        Some("status"),
        Some(&old),
        Some(&new),
        &colleague,
    );
    assert!(
        matches!(&r, Err(e) if e.rule == "self-approval" && e.message.contains("unit-a:ops")),
        "{r:?}"
    );
    let outsider = caller("outsider", &["bureau", "system:authenticated"]);
    merge(
        &mut new,
        json!({"status": {"approval": {"reviewer": "outsider"}}}),
    );
    assert_eq!(
        rule(check(
            Operation::Update,
            Some("status"),
            Some(&old),
            Some(&new),
            &outsider
        )),
        "allowed"
    );
}

#[test]
fn status_other_than_approval_is_the_operators_alone() {
    let approver = caller("approver", &[]);
    let old = request(json!({"status": {"phase": "Submitted"}}));
    for forged in [
        json!({"status": {"grant": {"cpu": "999"}}}),
        json!({"status": {"tenantNamespace": "kube-system"}}),
        json!({"status": {"phase": "Active"}}),
        json!({"status": {"suspendedReplicas": {"Deployment/x": 3}}}),
        json!({"status": {"billing": {"monthlyCost": "0.00"}}}),
    ] {
        let mut new = old.clone();
        merge(&mut new, forged.clone());
        let r = check(
            Operation::Update,
            Some("status"),
            Some(&old),
            Some(&new),
            &approver,
        );
        assert!(
            matches!(&r, Err(e) if e.rule == "operator-status"),
            "{forged}: {r:?}"
        );
        let op = caller(OPERATOR, &[]);
        assert_eq!(
            rule(check(
                Operation::Update,
                Some("status"),
                Some(&old),
                Some(&new),
                &op
            )),
            "allowed"
        );
    }
}

#[test]
fn only_the_operator_removes_the_finalizer_or_the_requester_stamp() {
    let vendor = caller("vendor", &[]);
    let old = request(stamped(&vendor));
    let mut new = old.clone();
    merge(&mut new, json!({"metadata": {"finalizers": []}}));
    assert_eq!(
        rule(check(
            Operation::Update,
            None,
            Some(&old),
            Some(&new),
            &vendor
        )),
        "tenant-protection"
    );
    assert_eq!(
        rule(check(
            Operation::Update,
            None,
            Some(&old),
            Some(&new),
            &caller(OPERATOR, &[])
        )),
        "allowed"
    );
    let mut new = old.clone();
    merge(
        &mut new,
        json!({"metadata": {"annotations": {REQUESTED_BY_ANNOTATION: null}}}),
    );
    assert_eq!(
        rule(check(
            Operation::Update,
            None,
            Some(&old),
            Some(&new),
            &vendor
        )),
        "requested-by"
    );
}

#[test]
fn spec_rules() {
    let vendor = caller("vendor", &[]);
    let base = request(stamped(&vendor));
    let with = |extra: Value| {
        let mut v = base.clone();
        merge(&mut v, extra);
        v
    };
    let create = |v: &Value| rule(check(Operation::Create, None, None, Some(v), &vendor));
    assert_eq!(create(&base), "allowed");
    assert_eq!(
        create(&with(json!({"spec": {"emergency": true}}))),
        "emergency"
    );
    assert_eq!(
        create(&with(
            json!({"spec": {"emergency": true, "class": "Emergency", "duration": "30d"}})
        )),
        "allowed"
    );
    assert_eq!(
        create(&with(
            json!({"spec": {"access": {"groups": ["ok", "system:authenticated"]}}})
        )),
        "system-group"
    );
    assert_eq!(
        create(&with(json!({"spec": {"tenantNamespace": "velero"}}))),
        "tenant-namespace"
    );
    assert_eq!(
        create(&with(json!({"spec": {"tenantNamespace": "unit-a-taken"}}))),
        "tenant-namespace"
    );
    assert_eq!(
        create(&with(json!({"spec": {"tenantNamespace": "unit-a-portal"}}))),
        "allowed"
    );
    assert_eq!(
        create(&with(json!({"spec": {"tenantNamespace": "tenant-portal"}}))),
        "allowed"
    );
    // A granted request keeps its tenant namespace.
    let granted = with(
        json!({"spec": {"tenantNamespace": "unit-a-portal"}, "status": {"grant": {"cpu": "4"}}}),
    );
    let mut moved = granted.clone();
    merge(
        &mut moved,
        json!({"spec": {"tenantNamespace": "unit-a-other"}}),
    );
    assert_eq!(
        rule(check(
            Operation::Update,
            None,
            Some(&granted),
            Some(&moved),
            &vendor
        )),
        "tenant-namespace"
    );
}

#[test]
fn change_and_exit_keep_their_target() {
    let vendor = caller("vendor", &[]);
    let old =
        json!({"metadata": {"name": "c", "namespace": "unit-a"}, "spec": {"request": "portal"}});
    let new =
        json!({"metadata": {"name": "c", "namespace": "unit-a"}, "spec": {"request": "other"}});
    for kind in [Kind::Change, Kind::Exit] {
        let r = validate(
            &Write {
                kind,
                operation: Operation::Update,
                subresource: None,
                old: Some(&old),
                new: Some(&new),
                caller: &vendor,
                operator: OPERATOR,
            },
            &Facts {
                policy: None,
                policy_name: "x",
                namespace: &absent,
            },
        );
        assert_eq!(rule(r), "immutable-request");
    }
}

#[test]
fn external_ips_are_refused() {
    assert!(service_external_ips(Some(&json!({"spec": {"externalIPs": ["1.2.3.4"]}}))).is_err());
    assert!(service_external_ips(Some(&json!({"spec": {"ports": []}}))).is_ok());
    assert!(service_external_ips(None).is_err());
}

fn junk() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[a-z:/.-]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("metadata".to_string()),
                    Just("status".to_string()),
                    Just("spec".to_string()),
                    Just("annotations".to_string()),
                    Just("finalizers".to_string()),
                    Just("approval".to_string()),
                    Just("emergency".to_string()),
                    "[a-z]{1,6}".prop_map(String::from)
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    /// Whatever is sent, the rules never panic, and a write whose old object was a valid
    /// stamped, protected request is never allowed when it forges status, drops the
    /// finalizer or the stamp.
    #[test]
    fn malformed_input_is_refused_never_allowed_by_accident(patch in junk(), sub in prop_oneof![Just(None), Just(Some("status"))]) {
        let vendor = caller("vendor", &[]);
        let old = request(stamped(&vendor));
        let mut new = old.clone();
        merge(&mut new, patch);
        let r = check(Operation::Update, sub, Some(&old), Some(&new), &vendor);
        let w = Write { kind: Kind::Request, operation: Operation::Update, subresource: sub, old: Some(&old), new: Some(&new), caller: &vendor, operator: OPERATOR };
        let _ = mutate(&w, Utc::now());
        if r.is_ok() {
            prop_assert_eq!(new.pointer("/metadata/annotations").and_then(|a| a.get(REQUESTED_BY_ANNOTATION)), old.pointer("/metadata/annotations").and_then(|a| a.get(REQUESTED_BY_ANNOTATION)));
            prop_assert!(new.pointer("/metadata/finalizers").and_then(Value::as_array).is_some_and(|f| f.contains(&json!(TENANT_PROTECTION_FINALIZER))));
            if sub == Some("status") {
                let mut a = new.get("status").cloned().unwrap_or(Value::Null);
                if let Some(m) = a.as_object_mut() { m.remove("approval"); }
                prop_assert!(a.is_null() || a == json!({}), "forged status allowed: {}", a);
            }
        }
        let create = check(Operation::Create, None, None, Some(&new), &vendor);
        if create.is_ok() {
            prop_assert!(new.get("spec").is_some());
        }
    }
}
