//! GovCloudRecords are append-only (SN 31: operation logs kept complete; GY 22: who decided
//! must still show long afterwards): the operator creates them and its retention pass
//! removes them. RBAC alone would let anyone with edit rights on records (or a cluster
//! admin's GitOps tool) rewrite, forge or remove one, so the webhook refuses every create,
//! update and delete of a record by anyone but the operator's own identity.
//!
//! One exception: the deletion of a record whose namespace is being deleted passes, so
//! deleting a namespace still deletes its records with everything else (as it deletes
//! the requests they describe) instead of leaving it Terminating. Deleting a namespace is
//! itself a write RBAC gives only to cluster administrators.

use serde_json::Value;

use super::{Operation, Refusal, malformed};

/// The plural name of GovCloudRecords in `govcloud.io`.
pub const RECORDS_RESOURCE: &str = "govcloudrecords";
/// The rule's name in refusals.
pub const RECORDS_RULE: &str = "append-only-record";

/// One write of a GovCloudRecord under review.
#[derive(Debug, Clone)]
pub struct RecordWrite<'a> {
    /// The API group of the resource written.
    pub group: &'a str,
    /// The plural resource name written.
    pub resource: &'a str,
    /// CREATE, UPDATE, DELETE or CONNECT.
    pub operation: Operation,
    /// The object before the write (UPDATE, DELETE: what is deleted).
    pub old: Option<&'a Value>,
    /// The object after the write (CREATE, UPDATE; absent on DELETE).
    pub new: Option<&'a Value>,
    /// The authenticated username of the writer.
    pub username: &'a str,
    /// The operator's own username: its writes pass.
    pub operator: &'a str,
    /// Whether the record's namespace is being deleted (from the webhook's cache).
    pub namespace_terminating: bool,
}

/// Whether `group`/`plural` names GovCloudRecords.
pub fn is_record_resource(group: &str, plural: &str) -> bool {
    group == crate::api::GROUP && plural == RECORDS_RESOURCE
}

/// Refuses every write of a record but the operator's (and the deletion of a namespace's
/// records with the namespace); a write that cannot be read is refused, whoever sends it.
pub fn guard_record(w: &RecordWrite<'_>) -> Result<(), Refusal> {
    if !is_record_resource(w.group, w.resource) {
        return Err(malformed(format!(
            "{}/{} is not {}/{RECORDS_RESOURCE}",
            w.group,
            w.resource,
            crate::api::GROUP
        )));
    }
    if w.username.is_empty() {
        return Err(Refusal::new(
            RECORDS_RULE,
            "the write carries no username, so who wrote the record cannot be known (GY 22)",
        ));
    }
    // What is written (CREATE, UPDATE) and what is replaced or deleted (UPDATE, DELETE)
    // must be records: anything else means the review is not what it claims to be.
    let (verb, name) = match w.operation {
        Operation::Create => ("create", record_name(w.new, "object")?),
        Operation::Update => {
            record_name(w.new, "object")?;
            ("update", record_name(w.old, "oldObject")?)
        }
        Operation::Delete => ("delete", record_name(w.old, "oldObject")?),
        Operation::Connect => return Err(malformed("CONNECT is not a write of a record")),
    };
    if !w.operator.is_empty() && w.username == w.operator {
        return Ok(());
    }
    if w.operation == Operation::Delete && w.namespace_terminating {
        return Ok(());
    }
    Err(Refusal::new(
        RECORDS_RULE,
        format!(
            "GovCloudRecords are append-only (SN 31, GY 22): written once by the operator and \
             removed only by its retention pass; {} may not {verb} record {name}",
            w.username
        ),
    ))
}

/// The name of the record `object` (the review's field `field`), or why it is not one.
fn record_name(object: Option<&Value>, field: &str) -> Result<String, Refusal> {
    let Some(object) = object else {
        return Err(malformed(format!("the request carries no {field}")));
    };
    if !object.is_object() {
        return Err(malformed(format!("{field} is not a JSON object")));
    }
    let kind = object.get("kind").and_then(Value::as_str);
    let api_version = object.get("apiVersion").and_then(Value::as_str);
    let expected = format!("{}/v1alpha1", crate::api::GROUP);
    if kind != Some("GovCloudRecord") || api_version != Some(expected.as_str()) {
        return Err(malformed(format!(
            "{field} is not a {expected} GovCloudRecord"
        )));
    }
    // A generateName create has no name yet: say so instead of refusing.
    match object.pointer("/metadata/name") {
        Some(Value::String(n)) => Ok(n.clone()),
        None | Some(Value::Null) => match object.pointer("/metadata/generateName") {
            Some(Value::String(g)) => Ok(format!("{g}…")),
            _ => Err(malformed(format!("{field} has no metadata.name"))),
        },
        Some(_) => Err(malformed(format!(
            "{field}'s metadata.name is not a string"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    const OPERATOR: &str = "system:serviceaccount:govcloud-system:govcloud-operator";

    fn record(name: &str) -> Value {
        json!({
            "apiVersion": "govcloud.io/v1alpha1", "kind": "GovCloudRecord",
            "metadata": {"name": name, "namespace": "unit-a"},
            "spec": {"sequence": 1, "step": "Approved", "actor": "alice"},
        })
    }

    fn write<'a>(
        operation: Operation,
        old: Option<&'a Value>,
        new: Option<&'a Value>,
        username: &'a str,
    ) -> RecordWrite<'a> {
        RecordWrite {
            group: "govcloud.io",
            resource: RECORDS_RESOURCE,
            operation,
            old,
            new,
            username,
            operator: OPERATOR,
            namespace_terminating: false,
        }
    }

    /// The writes of each operation as the API server sends them: `object` is null on
    /// DELETE, `oldObject` on CREATE.
    fn each_operation<'a>(
        old: &'a Value,
        new: &'a Value,
        username: &'a str,
    ) -> Vec<RecordWrite<'a>> {
        vec![
            write(Operation::Create, None, Some(new), username),
            write(Operation::Update, Some(old), Some(new), username),
            write(Operation::Delete, Some(old), None, username),
        ]
    }

    #[test]
    fn nobody_but_the_operator_creates_updates_or_deletes_a_record() {
        let (old, mut new) = (record("u-1-2"), record("u-1-2"));
        new["spec"]["actor"] = json!("mallory");
        for user in [
            "admin",
            "approver",
            "system:serviceaccount:argocd:argocd-application-controller",
        ] {
            for w in each_operation(&old, &new, user) {
                let refusal = guard_record(&w).expect_err(user);
                assert_eq!(refusal.rule, RECORDS_RULE);
                let text = refusal.to_string();
                for needle in [
                    "append-only",
                    "SN 31",
                    "GY 22",
                    "retention pass",
                    user,
                    "u-1-2",
                ] {
                    assert!(text.contains(needle), "{needle}: {text}");
                }
            }
        }
        for w in each_operation(&old, &new, OPERATOR) {
            assert_eq!(guard_record(&w), Ok(()), "{:?}", w.operation);
        }
    }

    #[test]
    fn an_empty_operator_name_lets_nobody_through() {
        let r = record("u-1-1");
        for w in each_operation(&r, &r, "") {
            let w = RecordWrite { operator: "", ..w };
            assert!(guard_record(&w).is_err());
        }
        for w in each_operation(&r, &r, "admin") {
            let w = RecordWrite { operator: "", ..w };
            assert_eq!(guard_record(&w).map_err(|r| r.rule), Err(RECORDS_RULE));
        }
    }

    #[test]
    fn records_go_with_their_namespace_only() {
        let r = record("u-1-1");
        let delete = RecordWrite {
            namespace_terminating: true,
            ..write(
                Operation::Delete,
                Some(&r),
                None,
                "system:serviceaccount:kube-system:namespace-controller",
            )
        };
        assert_eq!(guard_record(&delete), Ok(()));
        // A terminating namespace opens deletion only: a record is not rewritten on its way out.
        let update = RecordWrite {
            namespace_terminating: true,
            ..write(Operation::Update, Some(&r), Some(&r), "admin")
        };
        assert!(guard_record(&update).is_err());
    }

    #[test]
    fn what_cannot_be_read_is_refused_even_for_the_operator() {
        let r = record("u-1-1");
        let not_a_record =
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}});
        let nameless =
            json!({"apiVersion": "govcloud.io/v1alpha1", "kind": "GovCloudRecord", "metadata": {}});
        let bad_name = json!({"apiVersion": "govcloud.io/v1alpha1", "kind": "GovCloudRecord", "metadata": {"name": 7}});
        let scalar = json!("a record");
        let cases = [
            write(Operation::Create, None, None, OPERATOR),
            write(Operation::Create, None, Some(&scalar), OPERATOR),
            write(Operation::Create, None, Some(&not_a_record), OPERATOR),
            write(Operation::Create, None, Some(&nameless), OPERATOR),
            write(Operation::Create, None, Some(&bad_name), OPERATOR),
            write(Operation::Update, None, Some(&r), OPERATOR),
            write(Operation::Update, Some(&r), None, OPERATOR),
            write(Operation::Delete, None, None, OPERATOR),
            write(Operation::Delete, Some(&not_a_record), None, OPERATOR),
            write(Operation::Connect, Some(&r), Some(&r), OPERATOR),
            RecordWrite {
                resource: "cloudresourcerequests",
                ..write(Operation::Create, None, Some(&r), OPERATOR)
            },
            RecordWrite {
                group: "example.com",
                ..write(Operation::Create, None, Some(&r), OPERATOR)
            },
        ];
        for w in cases {
            let refusal = guard_record(&w).expect_err("malformed");
            assert_eq!(refusal.rule, "malformed", "{w:?}: {refusal}");
        }
        // A generateName create by someone else is refused for the rule, with a name.
        let generated = json!({"apiVersion": "govcloud.io/v1alpha1", "kind": "GovCloudRecord", "metadata": {"generateName": "forged-"}});
        let refusal = guard_record(&write(Operation::Create, None, Some(&generated), "admin"))
            .expect_err("forged");
        assert!(refusal.message.contains("forged-"), "{refusal}");
    }

    proptest! {
        /// Whatever is sent, only the operator's well-formed writes pass (and deletions in a
        /// terminating namespace).
        #[test]
        fn only_the_operator_passes(
            user in "[a-z:]{0,12}",
            op in 0..4usize,
            terminating in any::<bool>(),
            old in prop::option::of(Just(record("u-1-3"))),
            new in prop::option::of(Just(record("u-1-3"))),
        ) {
            let operation = [Operation::Create, Operation::Update, Operation::Delete, Operation::Connect][op].clone();
            let w = RecordWrite {
                namespace_terminating: terminating,
                ..write(operation.clone(), old.as_ref(), new.as_ref(), &user)
            };
            if guard_record(&w).is_ok() {
                prop_assert!(
                    user == OPERATOR || (operation == Operation::Delete && terminating),
                    "{user} {operation:?} passed"
                );
            }
        }
    }
}
