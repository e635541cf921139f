//! Types shared by several kinds: amounts of resources, approvals, conditions.

use chrono::{DateTime, Utc};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Amounts of each kind of cloud resource (GY 2). Kubernetes quantity syntax: `"32"`,
/// `500m`, `128Gi`, `2Ti`; whole numbers for the countable kinds. A key left out means
/// zero in a request and "unchanged" in a ResourceChange.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceAmounts {
    /// vCPUs, e.g. `"32"` or `"500m"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<IntOrString>,
    /// Memory, e.g. `128Gi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<IntOrString>,
    /// Block storage requested through PersistentVolumeClaims, e.g. `2Ti`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<IntOrString>,
    /// GPU cards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<IntOrString>,
    /// Load balancers (SLB): Services of type LoadBalancer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancers: Option<IntOrString>,
    /// Public IPs (EIP): Services of type NodePort exposed to the Internet zone.
    #[serde(default, rename = "publicIPs", skip_serializing_if = "Option::is_none")]
    pub public_ips: Option<IntOrString>,
}

/// An approver's decision.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum Decision {
    Approved,
    Rejected,
}

/// The bureau's decision, written by an approver (ClusterRole `govcloud-approver`) with
/// `kubectl patch ... --subresource=status`. The operator reads it and never writes it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Approval {
    /// `Approved` or `Rejected`.
    pub decision: Decision,
    /// Who decided (a person or the bureau's account).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reviewer: Option<String>,
    /// The reasons; required in practice for a rejection (XB 20: a refusal states reasons).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4096))]
    pub comment: Option<String>,
    /// When the decision was made (RFC 3339). Defaults to when the operator first saw it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<DateTime<Utc>>,
    /// The `metadata.generation` the approver reviewed. When absent the operator takes the
    /// generation current when it first observes the decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
    /// The bureau lets a reclamation (namespace deletion, data wiped) proceed although its
    /// deadline was counted on a provisional calendar or on weekends alone (condition
    /// `ReclaimHeld`). Read on CloudResourceRequests (expiry) and ExitRequests (the exit
    /// wipe) only. Not part of the decision: adding it does not re-decide anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reclaim_override: Option<ReclaimOverride>,
    /// The emergency's full paperwork is in (XB 26: opened first, paperwork completed
    /// afterwards; XB 39.5: missing paperwork is a violation). Read on emergency requests
    /// only; clears `PaperworkPending`. Not part of the decision: adding it re-decides
    /// nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paperwork_complete: Option<bool>,
}

/// An approver's go-ahead for a reclamation held on a provisional count.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReclaimOverride {
    /// Why the count can be trusted, e.g. the year's notice was checked by hand.
    #[schemars(length(min = 1, max = 4096))]
    pub reason: String,
    /// Who decided; defaults to the approval's `reviewer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// A status condition in the Kubernetes convention (metav1.Condition). A condition that
/// applies is `"True"`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// The condition type, e.g. `Ready`, `ReviewOverdue`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// A CamelCase word saying why.
    pub reason: String,
    /// A sentence for people.
    pub message: String,
    /// When `status` last changed.
    pub last_transition_time: DateTime<Utc>,
    /// The `metadata.generation` this condition was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// The soonest deadline still ahead, for `kubectl get` columns.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NextDeadline {
    /// Which deadline, named as in `status.deadlines` (e.g. `reviewBy`).
    pub name: String,
    /// When it falls due (RFC 3339).
    pub at: DateTime<Utc>,
}
