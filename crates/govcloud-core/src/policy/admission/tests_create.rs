//! What the mutating webhook gives a create: the requester stamp (whatever was sent) and,
//! for a request, the tenant-protection finalizer.

use super::*;

#[test]
fn create_is_stamped_with_the_caller_whatever_was_sent() {
    let vendor = caller("vendor", &["govcloud:vendors"]);
    let forged = request(
        json!({"metadata": {"annotations": {REQUESTED_BY_ANNOTATION: "{\"username\":\"approver\"}"}}}),
    );
    let out = created(Kind::Request, &forged, &vendor).unwrap().unwrap();
    let stamp: Value = serde_json::from_str(
        out.pointer("/metadata/annotations/govcloud.io~1requested-by")
            .and_then(Value::as_str)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(stamp["username"], "vendor");
    assert_eq!(stamp["groups"], json!(["govcloud:vendors"]));
    assert_eq!(
        rule(check(Operation::Create, None, None, Some(&out), &vendor)),
        "allowed"
    );
    assert_eq!(
        rule(check(Operation::Create, None, None, Some(&forged), &vendor)),
        "requested-by",
        "an unstamped create (mutating webhook skipped) is refused"
    );
}

/// The mutation of a create of `kind` carrying `object`, by `who`.
fn created(kind: Kind, object: &Value, who: &Caller) -> Result<Option<Value>, Refusal> {
    let w = Write {
        kind,
        operation: Operation::Create,
        subresource: None,
        old: None,
        new: Some(object),
        caller: who,
        operator: OPERATOR,
    };
    mutate(&w, Utc::now())
}

/// The finalizers, read as the webhook reads them.
fn finalizers_of(v: &Value) -> Vec<&str> {
    finalizers(v).expect("a list of strings")
}

#[test]
fn a_created_request_carries_the_tenant_protection_finalizer_from_its_first_version() {
    let vendor = caller("vendor", &["govcloud:vendors"]);
    // Sent without any finalizer: stamped and protected in one mutation.
    let bare = request(json!({"metadata": {"finalizers": null}}));
    let out = created(Kind::Request, &bare, &vendor).unwrap().unwrap();
    assert_eq!(finalizers_of(&out), [TENANT_PROTECTION_FINALIZER]);
    assert_eq!(
        annotation(&out, REQUESTED_BY_ANNOTATION).unwrap(),
        Some(requested_by(&vendor).as_str())
    );
    assert_eq!(
        rule(check(Operation::Create, None, None, Some(&out), &vendor)),
        "allowed"
    );
    // Someone else's finalizer is kept, ours appended once.
    let other = request(json!({"metadata": {"finalizers": ["example.com/backup"]}}));
    let out = created(Kind::Request, &other, &vendor).unwrap().unwrap();
    assert_eq!(
        finalizers_of(&out),
        ["example.com/backup", TENANT_PROTECTION_FINALIZER]
    );
    // Stamped and protected already: nothing to change.
    assert_eq!(created(Kind::Request, &out, &vendor).unwrap(), None);
    // Only a request protects a tenant: a change or an exit gets the stamp alone.
    for kind in [Kind::Change, Kind::Exit] {
        let out = created(kind, &bare, &vendor).unwrap().unwrap();
        assert!(finalizers_of(&out).is_empty(), "{kind:?}: {out}");
    }
    // Finalizers that are not a list of strings are refused, not replaced.
    for bad in [json!("govcloud.io/tenant-protection"), json!([1])] {
        let odd = request(json!({"metadata": {"finalizers": bad}}));
        assert_eq!(
            created(Kind::Request, &odd, &vendor).map_err(|e| e.rule),
            Err("malformed")
        );
    }
}
