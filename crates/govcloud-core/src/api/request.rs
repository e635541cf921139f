//! CloudResourceRequest: a unit's claim for cloud resources for one system.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use kube_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Approval, Condition, NextDeadline, ResourceAmounts, Utilization};

/// A claim for cloud resources, filed in the applicant unit's namespace (GY 6, XB 19, SN 11).
/// Once approved the operator provisions a tenant namespace with quota and governs its
/// lifetime: deadlines in statutory working days, expiry of time-boxed classes, utilization,
/// and release on exit — never deleting data that the rules and an approval do not allow.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    crates(kube_core = "::kube_core"),
    group = "govcloud.io",
    version = "v1alpha1",
    kind = "CloudResourceRequest",
    namespaced,
    status = "CloudResourceRequestStatus",
    shortname = "crr",
    category = "govcloud",
    derive = "PartialEq",
    doc = "A claim for government-cloud resources for one system, reviewed by the bureau and provisioned as a governed tenant namespace.",
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Class", type_ = "string", json_path = ".spec.class"),
    printcolumn(
        name = "Unit",
        type_ = "string",
        json_path = ".spec.applicantUnit",
        priority = 1
    ),
    printcolumn(
        name = "Tenant",
        type_ = "string",
        json_path = ".status.tenantNamespace"
    ),
    printcolumn(
        name = "Next",
        type_ = "string",
        json_path = ".status.nextDeadline.name"
    ),
    printcolumn(name = "Due", type_ = "string", json_path = ".status.nextDeadline.at"),
    printcolumn(
        name = "Monthly",
        type_ = "string",
        json_path = ".status.billing.monthlyCost",
        priority = 1
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct CloudResourceRequestSpec {
    /// The GovCloudPolicy (jurisdiction) whose rules apply. Defaults to the operator's
    /// `--default-policy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub policy: Option<String>,
    /// Production, or one of the time-boxed classes: Test (GY 7, SH 19), Development
    /// (SH 22), Emergency (SH 23) and Temporary (SH 24).
    pub class: RequestClass,
    /// The first-level budget unit filing the request (云资源申请单位, XB 9).
    #[schemars(length(min = 1, max = 256))]
    pub applicant_unit: String,
    /// The unit that runs the system on the resources (使用单位). Defaults to the applicant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub user_unit: Option<String>,
    /// The system the resources are for.
    pub system: SystemInfo,
    /// The approved project and its quota (SH 20, SH 22), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<ProjectInfo>,
    /// The resources asked for, with the sizing basis in the project documents (GY 6).
    pub resources: ResourceAmounts,
    /// How long a time-boxed class is needed: `30d`, `3mo`, `2wd` (or `90s`/`10m`/`2h`
    /// in test policies). Capped by the policy's class maximum. Ignored for Production.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9]{1,6}(wd|d|mo|s|m|h)$"))]
    pub duration: Option<String>,
    /// The load shape; periodic or burst load must be declared (SH 18, XB 19.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<Workload>,
    /// Fast track (XB 26): one approver's decision, due within the policy's
    /// `emergency.reviewWithin`, opens it at once; the paperwork follows within
    /// `emergency.paperworkWithin` (XB 39.5). The policy names the classes allowed and a
    /// size cap (`emergency.allowedClasses`, `emergency.maxSize`).
    #[serde(default)]
    pub emergency: bool,
    /// Migration of an existing system needs proof (XB 19.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migration: Option<Migration>,
    /// Who may use the tenant namespace (YX 17, XB 36, SN 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<Access>,
    /// Name of the tenant namespace. Defaults to `<namespace>-<name>` (shortened with a
    /// hash suffix when longer than 63 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    )]
    pub tenant_namespace: Option<String>,
}

/// The class of a request.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, JsonSchema,
)]
pub enum RequestClass {
    Production,
    Test,
    Development,
    Emergency,
    Temporary,
}

impl RequestClass {
    /// The name as written in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestClass::Production => "Production",
            RequestClass::Test => "Test",
            RequestClass::Development => "Development",
            RequestClass::Emergency => "Emergency",
            RequestClass::Temporary => "Temporary",
        }
    }

    /// Whether the class is time-boxed (expires, is suspended and then reclaimed).
    pub fn is_time_boxed(self) -> bool {
        !matches!(self, RequestClass::Production)
    }
}

/// The network zone; the Internet zone and the e-gov extranet zone are physically
/// isolated (XB 15.2).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum Zone {
    EGovExtranet,
    Internet,
}

impl Zone {
    /// The name as written in manifests and labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Zone::EGovExtranet => "EGovExtranet",
            Zone::Internet => "Internet",
        }
    }
}

/// The declared load shape (SH 18, XB 19.2).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum Workload {
    Steady,
    Periodic,
    Burst,
}

/// The system to be hosted.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SystemInfo {
    /// The system's name.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// MLPS (等保) level: only non-classified systems of level 3 or below are hosted
    /// (SH 2, SH 7, XB 2, XB 6).
    #[schemars(range(min = 1, max = 3))]
    pub security_level: u8,
    /// The network zone.
    pub zone: Zone,
}

/// The project behind the request.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectInfo {
    /// The project's identifier, e.g. `SH-2026-0042`.
    #[schemars(length(min = 1, max = 128))]
    pub id: String,
    /// The resources approved for the whole project; Development requests may use at most
    /// the policy's share of it (SH 22), and changes above the policy's share need
    /// escalation (SH 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<ResourceAmounts>,
}

/// Migration of an existing system (XB 19.3).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Migration {
    /// The system runs elsewhere today.
    pub from_existing: bool,
    /// Why it moves: the old contract's expiry, or the old platform being insufficient.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4096))]
    pub proof: Option<String>,
}

/// Access to the tenant namespace.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Access {
    /// Groups bound to ClusterRole `govcloud-tenant` in the tenant namespace.
    #[serde(default)]
    #[schemars(length(max = 32))]
    pub groups: Vec<String>,
}

/// Where the request stands.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum RequestPhase {
    Submitted,
    Approved,
    Rejected,
    Provisioning,
    Active,
    Suspended,
    Reclaiming,
    Reclaimed,
    Invalid,
    /// A phase this release does not know, written by a newer one (kept after a
    /// rollback). Never written back (serializing it fails) and never in the CRD's enum;
    /// the decisions leave such an object alone (issue 14: a rollback must not undo
    /// what the newer release did).
    #[serde(other, skip_serializing)]
    #[schemars(skip)]
    Unrecognized,
}

impl RequestPhase {
    /// Every phase, for metrics.
    pub const ALL: [RequestPhase; 9] = [
        RequestPhase::Submitted,
        RequestPhase::Approved,
        RequestPhase::Rejected,
        RequestPhase::Provisioning,
        RequestPhase::Active,
        RequestPhase::Suspended,
        RequestPhase::Reclaiming,
        RequestPhase::Reclaimed,
        RequestPhase::Invalid,
    ];

    /// The name as shown in `status.phase`.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestPhase::Submitted => "Submitted",
            RequestPhase::Approved => "Approved",
            RequestPhase::Rejected => "Rejected",
            RequestPhase::Provisioning => "Provisioning",
            RequestPhase::Active => "Active",
            RequestPhase::Suspended => "Suspended",
            RequestPhase::Reclaiming => "Reclaiming",
            RequestPhase::Reclaimed => "Reclaimed",
            RequestPhase::Invalid => "Invalid",
            RequestPhase::Unrecognized => "Unrecognized",
        }
    }

    /// Whether nothing more happens to this request: reclaimed, rejected, or a phase of a
    /// newer release that this one leaves alone (as `ChangePhase::is_final`).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RequestPhase::Reclaimed | RequestPhase::Rejected | RequestPhase::Unrecognized
        )
    }
}

/// What the operator has observed and decided. `status.approval` belongs to approvers.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CloudResourceRequestStatus {
    /// Where the request stands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<RequestPhase>,
    /// The bureau's decision, patched by an approver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<Approval>,
    /// The generation the approval applies to. A spec edited after approval does not change
    /// the grant (that takes a ResourceChange) and is flagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_generation: Option<i64>,
    /// The generation a rejection applies to; editing the spec afterwards resubmits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected_generation: Option<i64>,
    /// The approval as the operator last acted on it: a change to `status.approval` after
    /// this is a new decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reviewed_approval: Option<Approval>,
    /// When the decision in force took effect (`approval.decidedAt`, or when first seen).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<DateTime<Utc>>,
    /// When the current generation was submitted for review (the start of `reviewBy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_at: Option<DateTime<Utc>>,
    /// What is granted now: the approved spec plus applied ResourceChanges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<ResourceAmounts>,
    /// The class granted now (changes after a `convertTo`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granted_class: Option<RequestClass>,
    /// The duration granted to a time-boxed class (the approved `spec.duration`, capped by
    /// the class maximum).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granted_duration: Option<String>,
    /// The access groups granted: the tenant RoleBinding's subjects. Recorded at the grant
    /// and changed only by an approved ResourceChange (`spec.accessGroups`); editing
    /// `spec.access.groups` afterwards changes nothing (`UnappliedSpecChange`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granted_access_groups: Option<Vec<String>>,
    /// The network zone granted (XB 15.2): recorded at the grant, changed only by an
    /// approved ResourceChange (`spec.zone`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granted_zone: Option<Zone>,
    /// The GovCloudPolicy the grant was made under: its rules and its pool (`capacity`)
    /// hold the grant for its whole life, whatever `spec.policy` says later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granted_policy: Option<String>,
    /// An approved extension: the new expiry date (`YYYY-MM-DD`, end of that day).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extended_to: Option<String>,
    /// The policy's rules as they were when the grant was recorded: the grant goes on by
    /// them (expiry, suspension, reclamation) while its policy is missing or invalid.
    /// `status.grantedRulesJson` (one JSON text; `status.grantedRules` from earlier
    /// releases): see [`super::RecordedRules`]. Decoded shared: every request under the
    /// same rules holds one copy in memory.
    #[serde(flatten)]
    pub granted_rules: super::RecordedRules,
    /// The tenant namespace the operator provisions and owns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_namespace: Option<String>,
    /// Every deadline, computed in statutory working days where the rules say so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadlines: Option<RequestDeadlines>,
    /// The soonest deadline still ahead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_deadline: Option<NextDeadline>,
    /// Billing (GY 7, XB 21.1: from the confirmed opening date).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing: Option<Billing>,
    /// Utilization of the grant (SN 14, GY 10, SH 25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utilization: Option<Utilization>,
    /// ResourceChanges applied to the grant, in the order they were applied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applied_changes: Vec<AppliedChange>,
    /// Replicas recorded when workloads were scaled to zero, restored on resume; keys are
    /// `Deployment/<name>` and `StatefulSet/<name>`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub suspended_replicas: BTreeMap<String, i32>,
    /// Conditions: Ready, Invalid, ReviewOverdue, ProvisioningOverdue, NotDeployed,
    /// PaperworkPending, PaperworkOverdue, ExpiringSoon, Suspended, NamespaceConflict,
    /// InsufficientCapacity, LowUtilization, HighUtilization, CalendarIncomplete,
    /// DeletionBlocked, UnappliedSpecChange (the spec was edited after approval), and
    /// PolicyUnavailable (the policy is missing or invalid: the recorded rules apply).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The generation the status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The GovCloudRecords of this object: how far they reach, and the latest steps
    /// (SN 31). Written after the records it reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<super::RecordStatus>,
}

/// A ResourceChange that became part of the grant.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppliedChange {
    /// The ResourceChange's name.
    pub name: String,
    /// The ResourceChange's UID.
    pub uid: String,
    /// When it was applied.
    pub applied_at: DateTime<Utc>,
}

/// The deadlines of a request (RFC 3339).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestDeadlines {
    /// Review decision due (XB 20: accept + opinion; SN 11).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_by: Option<DateTime<Utc>>,
    /// Resources opened by the provider (GY 7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provision_by: Option<DateTime<Utc>>,
    /// The unit starts deploying (SN 11).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy_by: Option<DateTime<Utc>>,
    /// Emergency paperwork due (XB 26, GY 12).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paperwork_by: Option<DateTime<Utc>>,
    /// The unit is warned of the coming expiry (SH 21).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warn_at: Option<DateTime<Utc>>,
    /// A time-boxed class expires and is suspended (GY 7, SH 22–24).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// Last moment to request an extension (SH 23, SH 24: 15 wd before expiry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_request_by: Option<DateTime<Utc>>,
    /// The suspended tenant namespace is reclaimed (SH 21).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reclaim_at: Option<DateTime<Utc>>,
}

/// Billing of a request.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Billing {
    /// When billing started: the confirmed opening (GY 7, XB 21.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    /// When billing stopped: reclamation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_at: Option<DateTime<Utc>>,
    /// Catalogue price × grant per month, two decimals (SH 15, SH 27); `"0.00"` for a free class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_cost: Option<String>,
    /// Currency of `monthlyCost`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}
