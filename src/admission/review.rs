//! One AdmissionReview in, one out: read the request, ask the core's rules, answer.
//!
//! Anything that cannot be read is refused with a message (never a panic, never an allow);
//! the rules read the caches, so an admission makes no API call.

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use kube::core::DynamicObject;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview, Operation};
use kube::runtime::reflector::{ObjectRef, Store};
use serde_json::Value;

use crate::api::GovCloudPolicy;
use crate::index::namespace_view::NamespaceView;
use crate::metrics::{AdmissionLabels, Metrics};
use crate::policy::admission::{self as rules, Caller, Facts, Kind, NamespaceUse, Write};

/// What the webhook knows: its caches and who the operator is.
pub struct Reviewer {
    /// The operator's username: its writes pass.
    pub operator: String,
    /// The policy of requests that name none.
    pub default_policy: String,
    /// GovCloudPolicies.
    pub policies: Store<GovCloudPolicy>,
    /// Every namespace (for the tenant-namespace rule), as the webhook reads them.
    pub namespaces: Store<NamespaceView>,
    /// Where the latency goes.
    pub metrics: Arc<Metrics>,
}

/// Which endpoint was called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/mutate`: the stamps.
    Mutate,
    /// `/validate`: the refusals.
    Validate,
    /// `/validate-services`: Services in tenant namespaces.
    Services,
    /// `/validate-records`: GovCloudRecords, written by the operator alone.
    Records,
}

fn operation_name(op: &Operation) -> &'static str {
    match op {
        Operation::Create => "CREATE",
        Operation::Update => "UPDATE",
        Operation::Delete => "DELETE",
        Operation::Connect => "CONNECT",
    }
}

impl Reviewer {
    /// Answers the AdmissionReview in `body` (JSON).
    pub fn answer(&self, endpoint: Endpoint, body: &[u8]) -> AdmissionReview<DynamicObject> {
        let started = Instant::now();
        let review: AdmissionReview<DynamicObject> = match serde_json::from_slice(body) {
            Ok(r) => r,
            Err(e) => {
                self.observe("Unknown", "Unknown", started);
                return AdmissionResponse::invalid(format!(
                    "govcloud-operator cannot read this AdmissionReview: {e}"
                ))
                .into_review();
            }
        };
        let request: AdmissionRequest<DynamicObject> = match review.try_into() {
            Ok(r) => r,
            Err(e) => {
                self.observe("Unknown", "Unknown", started);
                return AdmissionResponse::invalid(format!(
                    "govcloud-operator: the AdmissionReview carries no request: {e}"
                ))
                .into_review();
            }
        };
        let kind_name = Kind::from_resource(&request.resource.group, &request.resource.resource)
            .map(Kind::as_str)
            .unwrap_or(if request.resource.resource == "services" {
                "Service"
            } else if rules::is_record_resource(&request.resource.group, &request.resource.resource)
            {
                "GovCloudRecord"
            } else {
                "Unknown"
            });
        let response = self.decide(endpoint, &request);
        self.observe(kind_name, operation_name(&request.operation), started);
        response.into_review()
    }

    fn observe(&self, kind: &'static str, operation: &'static str, started: Instant) {
        self.metrics
            .admission
            .get_or_create(&AdmissionLabels { kind, operation })
            .observe(started.elapsed().as_secs_f64());
    }

    fn decide(
        &self,
        endpoint: Endpoint,
        req: &AdmissionRequest<DynamicObject>,
    ) -> AdmissionResponse {
        let base = AdmissionResponse::from(req);
        let to_json =
            |o: &Option<DynamicObject>| o.as_ref().and_then(|o| serde_json::to_value(o).ok());
        let (old, new) = (to_json(&req.old_object), to_json(&req.object));
        if endpoint == Endpoint::Services {
            return match rules::service_external_ips(new.as_ref()) {
                Ok(()) => base,
                Err(r) => refuse(base, format!("govcloud: {r}")),
            };
        }
        if endpoint == Endpoint::Records {
            return self.guard_record(base, req, old.as_ref(), new.as_ref());
        }
        let Some(kind) = Kind::from_resource(&req.resource.group, &req.resource.resource) else {
            return refuse(
                base,
                format!(
                    "govcloud-operator's webhook does not decide on {}/{}: the webhook \
                 configuration selects too much",
                    req.resource.group, req.resource.resource
                ),
            );
        };
        let caller = Caller {
            username: req.user_info.username.clone().unwrap_or_default(),
            uid: req.user_info.uid.clone(),
            groups: req.user_info.groups.clone().unwrap_or_default(),
        };
        if caller.username.is_empty() {
            return refuse(
                base,
                "govcloud: the write carries no username, so who asked or decided cannot be \
                 recorded (GY 22)"
                    .into(),
            );
        }
        let write = Write {
            kind,
            operation: req.operation.clone(),
            subresource: req.sub_resource.as_deref(),
            old: old.as_ref(),
            new: new.as_ref(),
            caller: &caller,
            operator: &self.operator,
        };
        match endpoint {
            Endpoint::Mutate => match rules::mutate(&write, Utc::now()) {
                Ok(None) => base,
                Ok(Some(stamped)) => {
                    let Some(sent) = new.as_ref() else {
                        return base;
                    };
                    let patch = json_patch::diff(sent, &stamped);
                    match base.clone().with_patch(patch) {
                        Ok(r) => r,
                        Err(e) => refuse(base, format!("govcloud: cannot stamp the write: {e}")),
                    }
                }
                Err(r) => refuse(base, format!("govcloud: {r}")),
            },
            Endpoint::Validate | Endpoint::Services | Endpoint::Records => {
                let policy_name = rules::policy_name(new.as_ref(), &self.default_policy);
                let policy = self.policies.get(&ObjectRef::new(policy_name));
                let namespaces = &self.namespaces;
                let lookup = |name: &str| -> NamespaceUse {
                    match namespaces.get(&ObjectRef::new(name)) {
                        None => NamespaceUse::Absent,
                        Some(ns) => match (ns.managed, &ns.request) {
                            (true, Some((namespace, name))) => NamespaceUse::Tenant {
                                namespace: namespace.clone(),
                                name: name.clone(),
                            },
                            _ => NamespaceUse::Other,
                        },
                    }
                };
                let facts = Facts {
                    policy: policy.as_deref().map(|p| &p.spec),
                    policy_name,
                    namespace: &lookup,
                };
                match rules::validate(&write, &facts) {
                    Ok(()) => base,
                    Err(r) => refuse(base, format!("govcloud: {r}")),
                }
            }
        }
    }
}

impl Reviewer {
    /// `/validate-records`: records are append-only (SN 31, GY 22); the namespace's
    /// deletion state comes from the cache, so this makes no API call either.
    fn guard_record(
        &self,
        base: AdmissionResponse,
        req: &AdmissionRequest<DynamicObject>,
        old: Option<&Value>,
        new: Option<&Value>,
    ) -> AdmissionResponse {
        let namespace_terminating = req.namespace.as_deref().is_some_and(|ns| {
            self.namespaces
                .get(&ObjectRef::new(ns))
                .is_some_and(|n| n.metadata.deletion_timestamp.is_some())
        });
        let write = rules::RecordWrite {
            group: &req.resource.group,
            resource: &req.resource.resource,
            operation: req.operation.clone(),
            old,
            new,
            username: req.user_info.username.as_deref().unwrap_or_default(),
            operator: &self.operator,
            namespace_terminating,
        };
        match rules::guard_record(&write) {
            Ok(()) => base,
            Err(r) => refuse(base, format!("govcloud: {r}")),
        }
    }
}

/// A refusal: HTTP 403 Forbidden from the API server, with `message` as its text.
fn refuse(base: AdmissionResponse, message: String) -> AdmissionResponse {
    let mut r = base.deny(message);
    r.result.code = 403;
    r.result.reason = "Forbidden".into();
    r
}

/// The JSON of a review, for the HTTP body.
pub fn to_body(review: &AdmissionReview<DynamicObject>) -> Vec<u8> {
    serde_json::to_vec(review).unwrap_or_else(|e| {
        // Serializing our own response cannot really fail; answer with a refusal anyway.
        Value::String(format!("cannot serialize the admission response: {e}"))
            .to_string()
            .into_bytes()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reviewer() -> Reviewer {
        let (policies, _) = kube::runtime::reflector::store::<GovCloudPolicy>();
        let (namespaces, _) = kube::runtime::reflector::store::<NamespaceView>();
        Reviewer {
            operator: "system:serviceaccount:govcloud-system:govcloud-operator".into(),
            default_policy: "shanghai".into(),
            policies,
            namespaces,
            metrics: Arc::new(Metrics::new()),
        }
    }

    fn review(resource: &str, sub: Option<&str>, user: Option<&str>, object: Value) -> Vec<u8> {
        serde_json::json!({
            "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {
                "uid": "u-1",
                "kind": {"group": "govcloud.io", "version": "v1alpha1", "kind": "X"},
                "resource": {"group": "govcloud.io", "version": "v1alpha1", "resource": resource},
                "subResource": sub,
                "name": "r", "namespace": "unit-a", "operation": "UPDATE",
                "userInfo": {"username": user, "groups": ["govcloud:approvers"]},
                "object": object, "oldObject": object,
            }
        })
        .to_string()
        .into_bytes()
    }

    fn refused(r: &AdmissionReview<DynamicObject>) -> Option<String> {
        r.response
            .as_ref()
            .filter(|r| !r.allowed)
            .map(|r| r.result.message.clone())
    }

    #[test]
    fn what_cannot_be_read_is_refused_with_a_reason_never_allowed() {
        let r = reviewer();
        for body in [&b"not json"[..], b"{}", b"{\"request\": 7}", b""] {
            for endpoint in [Endpoint::Mutate, Endpoint::Validate, Endpoint::Services] {
                let answer = r.answer(endpoint, body);
                let why = refused(&answer).unwrap_or_default();
                assert!(
                    why.contains("govcloud"),
                    "{body:?} {endpoint:?}: {answer:?}"
                );
            }
        }
    }

    #[test]
    fn unexpected_kinds_and_anonymous_writes_are_refused() {
        let r = reviewer();
        let obj = serde_json::json!({"apiVersion": "govcloud.io/v1alpha1", "kind": "X",
                                     "metadata": {"name": "r", "namespace": "unit-a"}});
        let other = r.answer(
            Endpoint::Validate,
            &review("widgets", None, Some("approver"), obj.clone()),
        );
        assert!(
            refused(&other).is_some_and(|m| m.contains("does not decide on govcloud.io/widgets"))
        );
        let anonymous = r.answer(
            Endpoint::Validate,
            &review("cloudresourcerequests", Some("status"), None, obj.clone()),
        );
        assert!(refused(&anonymous).is_some_and(|m| m.contains("no username")));
        let ok = r.answer(
            Endpoint::Validate,
            &review(
                "cloudresourcerequests",
                Some("status"),
                Some("approver"),
                obj,
            ),
        );
        assert_eq!(refused(&ok), None, "an unchanged status passes");
        assert_eq!(ok.response.map(|r| r.uid), Some("u-1".to_string()));
    }

    #[test]
    fn records_are_guarded_on_their_own_endpoint() {
        let r = reviewer();
        let record = serde_json::json!({"apiVersion": "govcloud.io/v1alpha1", "kind": "GovCloudRecord",
                                        "metadata": {"name": "u-1-1", "namespace": "unit-a"}});
        let body = |user: &str, op: &str| {
            let mut v: Value = serde_json::from_slice(&review(
                "govcloudrecords",
                None,
                Some(user),
                record.clone(),
            ))
            .unwrap_or_default();
            v["request"]["operation"] = op.into();
            if op == "DELETE" {
                v["request"]["object"] = Value::Null;
            }
            v.to_string().into_bytes()
        };
        for op in ["CREATE", "UPDATE", "DELETE"] {
            let refused_for = refused(&r.answer(Endpoint::Records, &body("approver", op)));
            assert!(
                refused_for
                    .as_deref()
                    .is_some_and(|m| m.contains("append-only") && m.contains("SN 31")),
                "{op}: {refused_for:?}"
            );
            let operator = r.answer(Endpoint::Records, &body(&r.operator, op));
            assert_eq!(refused(&operator), None, "{op}");
        }
    }
}
