//! A namespace as the operator keeps it in memory: the few things the controllers and the
//! webhook read of it, not the whole Namespace.
//!
//! Why (issue 11, memory at 10,000 requests): a decoded Namespace held ~2 KiB per tenant,
//! most of it its label and annotation maps (a `BTreeMap` allocates a node of eleven
//! entries however few it holds), and the webhook keeps every namespace of the cluster.
//! The controllers only ever read the owner's UID, the applied tenant hash, the pool and
//! grant, the owning request's name, and whether the namespace is going away; the webhook
//! whether it is managed, for which request, and whether it is being deleted. Those are
//! kept as plain fields and the maps are dropped as each namespace is decoded.

use std::borrow::Cow;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube_core::{ClusterResourceScope, Resource};
use serde::Deserialize;

use crate::policy::capacity::{GRANT_ANNOTATION, POOL_LABEL};
use crate::policy::tenant::{
    MANAGED_LABEL, OWNER_UID_ANNOTATION, REQUEST_NAME_LABEL, REQUEST_NAMESPACE_LABEL,
    SPEC_HASH_ANNOTATION,
};

/// What the operator reads of a namespace. Decodes from a Namespace.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(from = "Namespace")]
pub struct NamespaceView {
    /// Its name, UID, resourceVersion and deletionTimestamp; no labels, annotations or
    /// managed fields (those read are the fields below).
    pub metadata: ObjectMeta,
    /// Label `govcloud.io/managed` is `true`: a tenant namespace.
    pub managed: bool,
    /// Annotation `govcloud.io/owner-uid`: the request it belongs to.
    pub owner_uid: Option<String>,
    /// Annotation `govcloud.io/tenant-hash`: the tenant spec last applied.
    pub applied_hash: Option<String>,
    /// Label `govcloud.io/policy`: the capacity pool it is counted in.
    pub pool: Option<String>,
    /// Annotation `govcloud.io/grant`: what it was granted.
    pub grant: Option<String>,
    /// Labels `govcloud.io/request-namespace` and `-name`: the owning request.
    pub request: Option<(String, String)>,
    /// Deleted, or its phase is `Terminating`.
    pub terminating: bool,
}

impl From<Namespace> for NamespaceView {
    fn from(ns: Namespace) -> Self {
        let mut meta = ns.metadata;
        let mut labels = meta.labels.take().unwrap_or_default();
        let mut annotations = meta.annotations.take().unwrap_or_default();
        let request = match (
            labels.remove(REQUEST_NAMESPACE_LABEL),
            labels.remove(REQUEST_NAME_LABEL),
        ) {
            (Some(namespace), Some(name)) => Some((namespace, name)),
            _ => None,
        };
        let managed = labels.get(MANAGED_LABEL).map(String::as_str) == Some("true");
        let terminating = meta.deletion_timestamp.is_some()
            || ns.status.and_then(|s| s.phase).as_deref() == Some("Terminating");
        Self {
            metadata: ObjectMeta {
                name: meta.name,
                uid: meta.uid,
                resource_version: meta.resource_version,
                deletion_timestamp: meta.deletion_timestamp,
                ..ObjectMeta::default()
            },
            managed,
            owner_uid: annotations.remove(OWNER_UID_ANNOTATION),
            applied_hash: annotations.remove(SPEC_HASH_ANNOTATION),
            pool: labels.remove(POOL_LABEL),
            grant: annotations.remove(GRANT_ANNOTATION),
            request,
            terminating,
        }
    }
}

impl NamespaceView {
    /// Its name.
    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or_default()
    }
}

impl Resource for NamespaceView {
    type DynamicType = ();
    type Scope = ClusterResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        Cow::Borrowed("Namespace")
    }
    fn group(_: &()) -> Cow<'_, str> {
        Cow::Borrowed("")
    }
    fn version(_: &()) -> Cow<'_, str> {
        Cow::Borrowed("v1")
    }
    fn plural(_: &()) -> Cow<'_, str> {
        Cow::Borrowed("namespaces")
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_what_the_operator_reads_and_drops_the_maps() {
        let ns: NamespaceView = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": "t-1",
                "uid": "ns-uid",
                "resourceVersion": "12",
                "labels": {
                    "govcloud.io/managed": "true",
                    "govcloud.io/policy": "pool-a",
                    "govcloud.io/request-namespace": "bureau",
                    "govcloud.io/request-name": "erp",
                    "govcloud.io/zone": "internal"
                },
                "annotations": {
                    "govcloud.io/owner-uid": "req-uid",
                    "govcloud.io/tenant-hash": "abc",
                    "govcloud.io/grant": "cpu=2,memory=4Gi",
                    "other": "x"
                }
            },
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"}
        }))
        .expect("decodes");
        assert_eq!(ns.name(), "t-1");
        assert!(ns.managed);
        assert_eq!(ns.metadata.uid.as_deref(), Some("ns-uid"));
        assert_eq!(ns.metadata.resource_version.as_deref(), Some("12"));
        assert_eq!(ns.metadata.labels, None);
        assert_eq!(ns.metadata.annotations, None);
        assert_eq!(ns.owner_uid.as_deref(), Some("req-uid"));
        assert_eq!(ns.applied_hash.as_deref(), Some("abc"));
        assert_eq!(ns.pool.as_deref(), Some("pool-a"));
        assert_eq!(ns.grant.as_deref(), Some("cpu=2,memory=4Gi"));
        assert_eq!(ns.request, Some(("bureau".into(), "erp".into())));
        assert!(!ns.terminating);
        assert_eq!(NamespaceView::url_path(&(), None), "/api/v1/namespaces");
    }

    #[test]
    fn going_away_by_deletion_or_phase_and_a_half_named_request_is_none() {
        let deleted: NamespaceView = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "a", "deletionTimestamp": "2026-12-01T00:00:00Z",
                         "labels": {"govcloud.io/request-name": "erp"}}
        }))
        .expect("decodes");
        assert!(deleted.terminating);
        assert!(!deleted.managed);
        assert_eq!(deleted.request, None);
        let phase: NamespaceView = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "b"}, "status": {"phase": "Terminating"}
        }))
        .expect("decodes");
        assert!(phase.terminating);
        assert!(phase.metadata.deletion_timestamp.is_none());
    }
}
