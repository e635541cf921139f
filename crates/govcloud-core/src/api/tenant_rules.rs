//! How a GovCloudPolicy hardens its tenant namespaces (issue 13): Pod Security Admission
//! level, egress allowed per zone, and object counts in the quota.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The hardening of every tenant namespace of the policy. Everything left out has a safe
/// default: `restricted` Pod Security, egress within the tenant and to DNS only, and the
/// default object counts.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantRules {
    /// Pod Security Admission labels of the tenant namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_security: Option<PodSecurityRules>,
    /// CIDRs a tenant may reach beyond its own namespace and DNS, per zone
    /// (`EGovExtranet`, `Internet`): XB 15.2 keeps the two zones apart.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub egress: BTreeMap<String, Vec<String>>,
    /// ResourceQuota object counts (`secrets`, `configmaps`, `services`,
    /// `persistentvolumeclaims`, …): replace the defaults key by key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub object_counts: BTreeMap<String, i64>,
}

/// Pod Security Admission (Kubernetes 1.23+ enforces the labels; older clusters ignore
/// them).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodSecurityRules {
    /// The level enforced: `privileged`, `baseline` or `restricted` (default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforce: Option<String>,
    /// A level per class (`Test`, `Development`, …), overriding `enforce`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub classes: BTreeMap<String, String>,
}
