//! ResourceChange: a change to an Active request's grant (GY 9, XB 22, SN 15, SH 19, SH 20).

use chrono::{DateTime, Utc};
use kube_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Approval, Condition, NextDeadline, RequestClass, ResourceAmounts, Zone};

/// A change to the grant of an Active CloudResourceRequest in the same namespace: new
/// amounts, a later expiry for a time-boxed class, or conversion of a Test request to
/// Production after validation.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    crates(kube_core = "::kube_core"),
    group = "govcloud.io",
    version = "v1alpha1",
    kind = "ResourceChange",
    namespaced,
    status = "ResourceChangeStatus",
    shortname = "rchg",
    category = "govcloud",
    derive = "PartialEq",
    doc = "A change to the grant of an Active CloudResourceRequest, reviewed and applied within working-day deadlines.",
    printcolumn(name = "Request", type_ = "string", json_path = ".spec.request"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(
        name = "Cost Delta",
        type_ = "string",
        json_path = ".status.costDelta.monthly"
    ),
    printcolumn(
        name = "Next",
        type_ = "string",
        json_path = ".status.nextDeadline.name"
    ),
    printcolumn(name = "Due", type_ = "string", json_path = ".status.nextDeadline.at"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ResourceChangeSpec {
    /// The CloudResourceRequest (same namespace) whose grant changes.
    #[schemars(length(min = 1, max = 253))]
    pub request: String,
    /// New absolute amounts for the keys listed; keys left out are unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceAmounts>,
    /// New expiry date (`YYYY-MM-DD`, policy time zone) for a time-boxed class; must be
    /// filed before `extensionRequestBy` (SH 23, SH 24).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"))]
    pub extend_to: Option<String>,
    /// Convert the class, e.g. Test → Production after validation (SH 19).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub convert_to: Option<RequestClass>,
    /// New access groups (the tenant RoleBinding's subjects), replacing the granted ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_groups: Option<Vec<String>>,
    /// Move the grant to another network zone (XB 15.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<Zone>,
    /// Why the change is needed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4096))]
    pub reason: Option<String>,
    /// The justified adjustment plan, required when the cost increase passes the policy's
    /// threshold (GY 9).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 16384))]
    pub justification: Option<String>,
    /// A recurring change needs a justification only the first time (GY 9).
    #[serde(default)]
    pub recurring: bool,
}

/// Where the change stands.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum ChangePhase {
    Submitted,
    Approved,
    Rejected,
    Applied,
    Invalid,
    /// A phase this release does not know, written by a newer one (kept after a
    /// rollback). Never written back (serializing it fails) and never in the CRD's enum;
    /// the decisions leave such an object alone (issue 14: a rollback must not undo
    /// what the newer release did).
    #[serde(other, skip_serializing)]
    #[schemars(skip)]
    Unrecognized,
}

impl ChangePhase {
    /// The name as shown in `status.phase`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangePhase::Submitted => "Submitted",
            ChangePhase::Approved => "Approved",
            ChangePhase::Rejected => "Rejected",
            ChangePhase::Applied => "Applied",
            ChangePhase::Invalid => "Invalid",
            ChangePhase::Unrecognized => "Unrecognized",
        }
    }

    /// Whether nothing the request does can move this change on: decided against, applied,
    /// or a phase of a newer release that this one leaves alone.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ChangePhase::Applied | ChangePhase::Rejected | ChangePhase::Unrecognized
        )
    }
}

/// The cost effect of a change.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CostDelta {
    /// Added monthly cost (negative for a reduction), two decimals.
    pub monthly: String,
    /// Added cost relative to the current monthly cost, e.g. `"0.33"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio: Option<String>,
}

/// The deadlines of a change.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangeDeadlines {
    /// Review due (GY 9, XB 22.4, SH 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_by: Option<DateTime<Utc>>,
    /// Applied by the provider after approval (GY 9, SN 15).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply_by: Option<DateTime<Utc>>,
}

/// What the operator has observed and decided about a change.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceChangeStatus {
    /// Where the change stands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<ChangePhase>,
    /// The bureau's decision, patched by an approver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<Approval>,
    /// The generation the approval applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_generation: Option<i64>,
    /// The decision the operator last took in (`approval` as it then was): a later
    /// `approval` that differs is a new decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reviewed_approval: Option<Approval>,
    /// The spec as approved (at `approvedGeneration`): the request applies this copy,
    /// never the current spec; a spec edited since voids the approval (`ApprovalStale`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_spec: Option<ResourceChangeSpec>,
    /// Approved by the operator because it only scales down and the policy allows that.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_approved: Option<bool>,
    /// The cost effect at the policy's prices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_delta: Option<CostDelta>,
    /// The cost increase needs a justified adjustment plan (GY 9).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires_justification: Option<bool>,
    /// The new total passes the policy's share of the project quota (SH 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires_escalation: Option<bool>,
    /// When the decision in force took effect (`approval.decidedAt`, or when first seen;
    /// for an automatic approval, when it was made).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<DateTime<Utc>>,
    /// When the current generation was submitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_at: Option<DateTime<Utc>>,
    /// When the change was applied to the grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_at: Option<DateTime<Utc>>,
    /// Review and apply deadlines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadlines: Option<ChangeDeadlines>,
    /// The soonest deadline still ahead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_deadline: Option<NextDeadline>,
    /// Conditions: Ready, Invalid, ReviewOverdue, ApplyOverdue, RequiresEscalation,
    /// CalendarIncomplete.
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
