//! Effects on a tenant namespace: look, provision, suspend, resume, reclaim. The operator
//! only ever writes to a namespace carrying its request's owner UID; a new namespace is
//! created with a plain create, so one that appeared meanwhile is never taken over.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{
    LimitRange, LimitRangeItem, LimitRangeSpec, Namespace, Pod, ResourceQuota, ResourceQuotaSpec,
};
use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::api::rbac::v1::{RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client, ResourceExt};
use serde::Serialize;

use super::error::Step;
use super::{During, Error, FIELD_MANAGER};
use crate::index::namespace_view::NamespaceView;
use crate::policy::request::TenantState;
use crate::policy::tenant::{self as names, TenantSpec};

/// What was found of the tenant namespace.
pub struct Observed {
    /// The state for the decision.
    pub state: TenantState,
    /// The namespace's own UID (for a guarded delete).
    pub uid: Option<String>,
    /// The hash of the tenant spec last applied (annotation).
    pub applied_hash: Option<String>,
}

/// Looks up namespace `name` and whether it belongs to the request with `owner_uid`.
///
/// A namespace this request owns is read from `known` (the watch of managed namespaces,
/// always as fresh as the event that triggered the reconcile); anything else, a namespace
/// not there or not this request's, is read from the API server, so that creating a
/// namespace or reporting a conflict never rests on a watch that may lag.
pub async fn observe(
    client: &Client,
    known: &Store<NamespaceView>,
    name: &str,
    owner_uid: &str,
) -> Result<Observed, Error> {
    if let Some(ns) = known.get(&ObjectRef::new(name))
        && ns.owner_uid.as_deref() == Some(owner_uid)
    {
        return Ok(observed(&ns, owner_uid));
    }
    let api: Api<Namespace> = Api::all(client.clone());
    let Some(ns) = api
        .get_opt(name)
        .await
        .during(Error::Observe, "Namespace")?
    else {
        return Ok(Observed {
            state: TenantState::Absent,
            uid: None,
            applied_hash: None,
        });
    };
    Ok(observed(&NamespaceView::from(ns), owner_uid))
}

fn observed(ns: &NamespaceView, owner_uid: &str) -> Observed {
    let state = if ns.owner_uid.as_deref() == Some(owner_uid) {
        TenantState::Owned {
            terminating: ns.terminating,
        }
    } else {
        TenantState::Foreign {
            owner_uid: ns.owner_uid.clone(),
        }
    };
    Observed {
        state,
        uid: ns.metadata.uid.clone(),
        applied_hash: ns.applied_hash.clone(),
    }
}

/// Whether any pod exists in `namespace` (one item is enough).
pub async fn has_pods(client: &Client, namespace: &str) -> Result<bool, Error> {
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    Ok(!api
        .list_metadata(&ListParams::default().limit(1))
        .await
        .during(Error::Observe, "Pod")?
        .items
        .is_empty())
}

fn meta(name: &str, namespace: Option<&str>, spec: &TenantSpec) -> ObjectMeta {
    let mut labels = BTreeMap::new();
    labels.insert(names::MANAGED_LABEL.to_string(), "true".to_string());
    for key in [names::REQUEST_NAMESPACE_LABEL, names::REQUEST_NAME_LABEL] {
        if let Some(v) = spec.labels.get(key) {
            labels.insert(key.to_string(), v.clone());
        }
    }
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: namespace.map(str::to_string),
        labels: Some(labels),
        ..Default::default()
    }
}

/// Applies `obj` as `step` (which names the failing step and kind).
async fn apply<K>(api: &Api<K>, name: &str, obj: &K, step: Step) -> Result<(), Error>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Serialize,
{
    let kind = match K::kind(&()) {
        std::borrow::Cow::Borrowed(kind) => kind,
        std::borrow::Cow::Owned(_) => "object",
    };
    api.patch(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(obj),
    )
    .await
    .during(step, kind)?;
    Ok(())
}

/// Creates (when absent) or updates the tenant namespace and applies every owned object.
pub async fn provision(client: &Client, spec: &TenantSpec, exists: bool) -> Result<(), Error> {
    let ns_api: Api<Namespace> = Api::all(client.clone());
    let mut annotations = spec.annotations.clone();
    annotations.insert(names::SPEC_HASH_ANNOTATION.to_string(), spec.hash());
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(spec.namespace.clone()),
            labels: Some(spec.labels.clone()),
            annotations: Some(annotations),
            ..Default::default()
        },
        ..Default::default()
    };
    if exists {
        apply(&ns_api, &spec.namespace, &namespace, Error::Namespace).await?;
    } else {
        // A plain create: if someone made the namespace meanwhile this fails (409) and the
        // next pass sees it as foreign, instead of adopting it.
        ns_api
            .create(
                &PostParams {
                    field_manager: Some(FIELD_MANAGER.to_string()),
                    ..Default::default()
                },
                &namespace,
            )
            .await
            .during(Error::Namespace, "Namespace")?;
    }
    let ns = spec.namespace.as_str();
    let quota = ResourceQuota {
        metadata: meta(names::QUOTA_NAME, Some(ns), spec),
        spec: Some(ResourceQuotaSpec {
            hard: Some(
                spec.quota
                    .iter()
                    .map(|(k, v)| (k.clone(), Quantity(v.clone())))
                    .collect(),
            ),
            ..Default::default()
        }),
        ..Default::default()
    };
    apply(
        &Api::<ResourceQuota>::namespaced(client.clone(), ns),
        names::QUOTA_NAME,
        &quota,
        Error::Quota,
    )
    .await?;
    // Quota on requests/limits makes every container declare them; these defaults let a
    // plain manifest run.
    let q = |s: &str| Quantity(s.to_string());
    let limits = LimitRange {
        metadata: meta(names::LIMIT_RANGE_NAME, Some(ns), spec),
        spec: Some(LimitRangeSpec {
            limits: vec![LimitRangeItem {
                type_: "Container".to_string(),
                default: Some(
                    [
                        ("cpu".to_string(), q("500m")),
                        ("memory".to_string(), q("512Mi")),
                    ]
                    .into(),
                ),
                default_request: Some(
                    [
                        ("cpu".to_string(), q("100m")),
                        ("memory".to_string(), q("128Mi")),
                    ]
                    .into(),
                ),
                ..Default::default()
            }],
        }),
    };
    apply(
        &Api::<LimitRange>::namespaced(client.clone(), ns),
        names::LIMIT_RANGE_NAME,
        &limits,
        Error::LimitRange,
    )
    .await?;
    let binding = RoleBinding {
        metadata: meta(names::ROLE_BINDING_NAME, Some(ns), spec),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".to_string(),
            kind: "ClusterRole".to_string(),
            name: names::ROLE_BINDING_NAME.to_string(),
        },
        subjects: Some(
            spec.groups
                .iter()
                .map(|g| Subject {
                    kind: "Group".to_string(),
                    name: g.clone(),
                    api_group: Some("rbac.authorization.k8s.io".to_string()),
                    namespace: None,
                })
                .collect(),
        ),
    };
    apply(
        &Api::<RoleBinding>::namespaced(client.clone(), ns),
        names::ROLE_BINDING_NAME,
        &binding,
        Error::RoleBinding,
    )
    .await?;
    // Only pods of the same tenant namespace may connect in (YX 17, XB 36); out, only to
    // them, to DNS, and to what the policy allows the zone (XB 15.2, issue 13).
    let isolation = isolation(ns, spec);
    apply(
        &Api::<NetworkPolicy>::namespaced(client.clone(), ns),
        names::NETWORK_POLICY_NAME,
        &isolation,
        Error::NetworkPolicy,
    )
    .await?;
    Ok(())
}

/// The tenant's NetworkPolicy: ingress from its own pods only; egress to its own pods,
/// to DNS (port 53, UDP and TCP, in the cluster) and to the CIDRs its zone allows.
pub fn isolation(ns: &str, spec: &TenantSpec) -> NetworkPolicy {
    let own_pods = || NetworkPolicyPeer {
        pod_selector: Some(LabelSelector::default()),
        ..Default::default()
    };
    let dns_port = |protocol: &str| NetworkPolicyPort {
        port: Some(IntOrString::Int(53)),
        protocol: Some(protocol.to_string()),
        ..Default::default()
    };
    let mut egress = vec![
        NetworkPolicyEgressRule {
            to: Some(vec![own_pods()]),
            ports: None,
        },
        NetworkPolicyEgressRule {
            to: Some(vec![NetworkPolicyPeer {
                namespace_selector: Some(LabelSelector::default()),
                ..Default::default()
            }]),
            ports: Some(vec![dns_port("UDP"), dns_port("TCP")]),
        },
    ];
    if !spec.egress.is_empty() {
        egress.push(NetworkPolicyEgressRule {
            to: Some(
                spec.egress
                    .iter()
                    .map(|cidr| NetworkPolicyPeer {
                        ip_block: Some(IPBlock {
                            cidr: cidr.clone(),
                            except: None,
                        }),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ports: None,
        });
    }
    NetworkPolicy {
        metadata: meta(names::NETWORK_POLICY_NAME, Some(ns), spec),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector::default()),
            policy_types: Some(vec!["Ingress".to_string(), "Egress".to_string()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(vec![own_pods()]),
                ports: None,
            }]),
            egress: Some(egress),
        }),
    }
}

/// Replicas of every Deployment and StatefulSet with more than zero, keyed `Kind/name`.
pub async fn running_workloads(
    client: &Client,
    namespace: &str,
) -> Result<BTreeMap<String, i32>, Error> {
    let mut out = BTreeMap::new();
    for d in Api::<Deployment>::namespaced(client.clone(), namespace)
        .list(&ListParams::default())
        .await
        .during(Error::Scaling, "Deployment")?
        .items
    {
        let replicas = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        if replicas > 0 {
            out.insert(format!("Deployment/{}", d.name_any()), replicas);
        }
    }
    for s in Api::<StatefulSet>::namespaced(client.clone(), namespace)
        .list(&ListParams::default())
        .await
        .during(Error::Scaling, "StatefulSet")?
        .items
    {
        let replicas = s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        if replicas > 0 {
            out.insert(format!("StatefulSet/{}", s.name_any()), replicas);
        }
    }
    Ok(out)
}

/// Sets the replicas of each `Kind/name` in `namespace`; gone workloads are skipped.
pub async fn scale(
    client: &Client,
    namespace: &str,
    replicas: &BTreeMap<String, i32>,
) -> Result<(), Error> {
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        ..Default::default()
    };
    for (key, n) in replicas {
        let patch = Patch::Merge(serde_json::json!({ "spec": { "replicas": n } }));
        let (kind, result) = match key.split_once('/') {
            Some(("Deployment", name)) => (
                "Deployment",
                Api::<Deployment>::namespaced(client.clone(), namespace)
                    .patch(name, &params, &patch)
                    .await
                    .map(|_| ()),
            ),
            Some(("StatefulSet", name)) => (
                "StatefulSet",
                Api::<StatefulSet>::namespaced(client.clone(), namespace)
                    .patch(name, &params, &patch)
                    .await
                    .map(|_| ()),
            ),
            _ => continue,
        };
        match result {
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            other => other.during(Error::Scaling, kind)?,
        }
    }
    Ok(())
}

/// Deletes the tenant namespace, guarded by its UID so a namespace re-created by someone
/// else under the same name is never deleted. Already gone counts as done.
///
/// Always with a UID precondition (issue 13): only the very namespace that was seen
/// carrying the request's owner UID is deleted, never one recreated under its name.
pub async fn reclaim(client: &Client, name: &str, namespace_uid: &str) -> Result<(), Error> {
    let api: Api<Namespace> = Api::all(client.clone());
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: Some(namespace_uid.to_string()),
            resource_version: None,
        }),
        ..Default::default()
    };
    match api.delete(name, &params).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(Error::Deletion("Namespace", e)),
    }
}
