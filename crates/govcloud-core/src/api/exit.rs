//! ExitRequest: leaving the cloud — transition, backup, then reclamation (SN 16, GY 11,
//! SH 21, XB 23, YX 9).

use chrono::{DateTime, Utc};
use kube_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Approval, Condition, NextDeadline};

/// The termination of a CloudResourceRequest in the same namespace. After approval the
/// unit has a transition period to migrate off and back up; the tenant namespace is
/// deleted only after the backup is confirmed.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    crates(kube_core = "::kube_core"),
    group = "govcloud.io",
    version = "v1alpha1",
    kind = "ExitRequest",
    namespaced,
    status = "ExitRequestStatus",
    shortname = "rexit",
    category = "govcloud",
    derive = "PartialEq",
    doc = "The termination of a CloudResourceRequest: approval, a transition period, confirmed backup, then reclamation.",
    printcolumn(name = "Request", type_ = "string", json_path = ".spec.request"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
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
pub struct ExitRequestSpec {
    /// The CloudResourceRequest (same namespace) to terminate.
    #[schemars(length(min = 1, max = 253))]
    pub request: String,
    /// Why the system leaves (YX 9, XB 23.1: exit needs a plan).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4096))]
    pub reason: Option<String>,
    /// The last day the system was used (`YYYY-MM-DD`); the exit must be filed within the
    /// policy's `exit.submitWithin` of it (SN 16).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"))]
    pub last_used_on: Option<String>,
    /// What happens to the data (SH 26, XB 23).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_disposition: Option<DataDisposition>,
}

/// The data's fate before reclamation.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataDisposition {
    /// The unit confirms its data is backed up or migrated; without it nothing is wiped.
    #[serde(default)]
    pub backup_confirmed: bool,
    /// Where the backup is kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub backup_location: Option<String>,
}

/// Where the exit stands.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum ExitPhase {
    Submitted,
    Approved,
    Rejected,
    Transition,
    Reclaiming,
    Completed,
    Invalid,
    /// A phase this release does not know, written by a newer one (kept after a
    /// rollback). Never written back (serializing it fails) and never in the CRD's enum;
    /// the decisions leave such an object alone (issue 14: a rollback must not undo
    /// what the newer release did).
    #[serde(other, skip_serializing)]
    #[schemars(skip)]
    Unrecognized,
}

impl ExitPhase {
    /// The name as shown in `status.phase`.
    pub fn as_str(self) -> &'static str {
        match self {
            ExitPhase::Submitted => "Submitted",
            ExitPhase::Approved => "Approved",
            ExitPhase::Rejected => "Rejected",
            ExitPhase::Transition => "Transition",
            ExitPhase::Reclaiming => "Reclaiming",
            ExitPhase::Completed => "Completed",
            ExitPhase::Invalid => "Invalid",
            ExitPhase::Unrecognized => "Unrecognized",
        }
    }

    /// Whether nothing the request does can move this exit on: decided against, done, or
    /// a phase of a newer release that this one leaves alone.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ExitPhase::Completed | ExitPhase::Rejected | ExitPhase::Unrecognized
        )
    }
}

/// The deadlines of an exit.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExitDeadlines {
    /// Review due (SH 21, YX 9).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_by: Option<DateTime<Utc>>,
    /// The transition period ends (SN 16).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transition_ends_at: Option<DateTime<Utc>>,
    /// Resources reclaimed (SH 21, GY 11).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reclaim_by: Option<DateTime<Utc>>,
}

/// What the operator has observed and decided about an exit.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExitRequestStatus {
    /// Where the exit stands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<ExitPhase>,
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
    /// The spec as approved (at `approvedGeneration`): the request acts on this copy,
    /// never the current spec; an edit since (other than the backup confirmation) voids
    /// the approval (`ApprovalStale`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_spec: Option<ExitRequestSpec>,
    /// When the decision in force took effect (`approval.decidedAt`, or when first seen;
    /// for an automatic approval, when it was made).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<DateTime<Utc>>,
    /// When the current generation was submitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_at: Option<DateTime<Utc>>,
    /// When reclamation completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
    /// Review, transition and reclamation deadlines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadlines: Option<ExitDeadlines>,
    /// The soonest deadline still ahead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_deadline: Option<NextDeadline>,
    /// Conditions: Invalid, LateSubmission, ReviewOverdue, AwaitingBackupConfirmation,
    /// ReclaimOverdue, CalendarIncomplete.
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
