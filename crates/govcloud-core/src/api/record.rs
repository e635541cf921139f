//! GovCloudRecord: one step in the life of a request, a change or an exit, kept as an
//! immutable object (SN 31: operation logs kept complete for at least one year; GY 22 and
//! the reviews of XB 20 / SH 21 need to show who decided what, long afterwards).
//!
//! Records are created by the operator, never updated, and removed only by its retention
//! pass. Each carries the digest of the previous record of the same subject, so a removed
//! or altered entry breaks the chain (`kubectl govcloud audit verify`); retention leaves a
//! checkpoint so that verification tells retention from tampering (`policy::record`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use kube_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One recorded step (or a retention checkpoint) of a request, change or exit.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    crates(kube_core = "::kube_core"),
    group = "govcloud.io",
    version = "v1alpha1",
    kind = "GovCloudRecord",
    namespaced,
    shortname = "gcrec",
    category = "govcloud",
    derive = "PartialEq",
    doc = "An immutable record of one step in the life of a CloudResourceRequest, ResourceChange or ExitRequest (SN 31), chained by digest.",
    printcolumn(name = "Request", type_ = "string", json_path = ".spec.request.name"),
    printcolumn(name = "Kind", type_ = "string", json_path = ".spec.subject.kind"),
    printcolumn(name = "Seq", type_ = "integer", json_path = ".spec.sequence"),
    printcolumn(name = "Step", type_ = "string", json_path = ".spec.step"),
    printcolumn(name = "Actor", type_ = "string", json_path = ".spec.actor"),
    printcolumn(name = "At", type_ = "string", json_path = ".spec.at"),
    printcolumn(
        name = "Unit",
        type_ = "string",
        json_path = ".spec.unit",
        priority = 1
    ),
    printcolumn(
        name = "Message",
        type_ = "string",
        json_path = ".spec.message",
        priority = 1
    )
)]
#[serde(rename_all = "camelCase")]
pub struct GovCloudRecordSpec {
    /// The request the step belongs to (for a change or an exit: the request it names).
    pub request: RecordRequest,
    /// The applicant unit of that request (absent when the request was not found).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// The object the step happened to; its UID keys the chain.
    pub subject: RecordSubject,
    /// Position in the subject's chain, from 1, without gaps.
    pub sequence: u64,
    /// When the operator decided the step.
    pub at: DateTime<Utc>,
    /// A fixed CamelCase word: the Event reason of the step (`Submitted`, `Approved`,
    /// `Active`, `ChangeApplied`, `Suspended`, `Reclaimed`, `ExpiringSoon` …), or
    /// `Checkpoint` for a retention checkpoint.
    pub step: String,
    /// Whether the step is a warning.
    #[serde(default)]
    pub warning: bool,
    /// For people.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// Who decided, when a person did (the reviewer of an approval or rejection, or who
    /// overrode a hold).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// The generation of the subject the step applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
    /// The subject's phase after the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// Facts of the step (e.g. the amounts granted: `grant.cpu`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, String>,
    /// The digest of the previous record of the chain (absent for the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
    /// Kept at least until then (SN 31: the policy's `records.retention` after `at`).
    pub retain_until: DateTime<Utc>,
    /// Set on a retention checkpoint only: the records through `through` were removed by
    /// retention, and the next record's `previous` is `digest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<RecordCheckpoint>,
    /// `sha256:<hex>` of the canonical JSON of every other field of this spec.
    pub digest: String,
}

/// The request a record belongs to.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordRequest {
    /// Its name.
    pub name: String,
    /// Its UID, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
}

/// The object a record describes.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordSubject {
    /// `CloudResourceRequest`, `ResourceChange` or `ExitRequest`.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// Its UID: the key of the chain.
    pub uid: String,
}

/// What retention removed, and where the chain continues.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordCheckpoint {
    /// The last sequence number removed.
    pub through: u64,
    /// The digest of that record: the `previous` of record `through + 1`.
    pub digest: String,
}

/// The record chain as the subject's status reports it: written after the records, so a
/// crash in between leaves records ahead of the status, never behind.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordStatus {
    /// The sequence number of the last record written.
    pub recorded_through: u64,
    /// Its digest: the anchor `audit verify` checks the chain's end against.
    pub head: String,
    /// The most recent steps (at most 10), newest last; the full history is in the
    /// GovCloudRecords.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recent: Vec<RecordEntry>,
}

/// One step in the status' recent history.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordEntry {
    /// Its sequence number.
    pub sequence: u64,
    /// When.
    pub at: DateTime<Utc>,
    /// The step.
    pub step: String,
}
