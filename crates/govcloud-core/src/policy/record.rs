//! The operation record (SN 31, GY 22): what a GovCloudRecord says, its digest, the chain
//! of a subject's records, retention with a checkpoint, and verification that tells
//! retention from tampering. Pure: the operator writes what this builds
//! (`controller::record`), the plugin verifies what it lists.
//!
//! - A record's name is derived from its subject's UID and its sequence number, and the
//!   sequence comes from the subject's `status.record.recordedThrough`: a retry after a
//!   crash between the record and the status recomputes the same name, finds it (409),
//!   and continues from it — no gap and no duplicate.
//! - Each record carries the digest of the one before it; the status carries the digest
//!   of the last one (`head`), anchoring the chain's end while the subject exists.
//! - Retention removes only a chain's oldest records, and only after writing a checkpoint
//!   naming the last removed sequence and its digest.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::calendar::Calendar;
use super::deadline;
use super::duration::PolicyDuration;
use super::notice::Notice;
use crate::api::{
    GovCloudRecordSpec, RecordEntry, RecordRequest, RecordRules, RecordStatus, RecordSubject,
};

/// The step word of a retention checkpoint.
pub const CHECKPOINT_STEP: &str = "Checkpoint";
/// The step word of the first time the operator sees an object.
pub const FILED_STEP: &str = "Filed";
/// SN 31: operation logs are kept for at least one year.
pub const DEFAULT_RETENTION: PolicyDuration = PolicyDuration::Months(12);
/// How many steps `status.record.recent` keeps.
pub const RECENT: usize = 10;
/// Label: the UID of a record's subject (the chain's key).
pub const SUBJECT_UID_LABEL: &str = "govcloud.io/subject-uid";
/// Label: the UID of the request a record belongs to.
pub const REQUEST_UID_LABEL: &str = "govcloud.io/request-uid";

/// Steps decided by a person: their record names who (GY 22, 谁审批谁负责).
const DECIDED_BY_A_PERSON: [&str; 3] = ["Approved", "Rejected", "ReclaimOverridden"];

/// The object a chain describes, and what every one of its records repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// Kind, name and UID.
    pub subject: RecordSubject,
    /// The request it belongs to.
    pub request: RecordRequest,
    /// The applicant unit, when the request is known.
    pub unit: Option<String>,
}

/// One step to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The step word (an Event reason).
    pub step: String,
    /// Warning or not.
    pub warning: bool,
    /// For people.
    pub message: String,
    /// Who decided, for a person's decision.
    pub actor: Option<String>,
    /// The generation it applies to.
    pub generation: Option<i64>,
    /// The phase after it.
    pub phase: Option<String>,
    /// Facts of the step.
    pub details: BTreeMap<String, String>,
}

/// What a subject's decision says about itself, for its steps.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// The reviewer of the decision in force, if any.
    pub reviewer: Option<String>,
    /// Who overrode a reclaim hold, if anyone.
    pub overridden_by: Option<String>,
    /// The generation the step applies to.
    pub generation: Option<i64>,
    /// The phase after the step.
    pub phase: Option<String>,
    /// Facts attached to every step of this pass (grant amounts, deadlines).
    pub details: BTreeMap<String, String>,
    /// Whether the object is seen for the first time (a `Filed` step comes first).
    pub first_seen: bool,
    /// A person's approval took effect in this pass, by this reviewer: recorded as an
    /// `Approved` step even when no Event of that name announces it (an exit's approval
    /// shows only as its next phase).
    pub approved_by: Option<String>,
}

/// The steps of one decision: the Events it publishes, in order, after a `Filed` step
/// for an object seen for the first time. The same pure output the controllers turn into
/// Events, so what is recorded is exactly what was announced.
pub fn steps(notices: &[Notice], facts: &Facts) -> Vec<Step> {
    // An object this release cannot read (or one of such a request) is left exactly as
    // it is: no record either, since recording would write its status.
    if notices
        .iter()
        .any(|n| n.reason == super::unknown::UNKNOWN_PHASE)
    {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(notices.len() + 1);
    if facts.first_seen {
        out.push(Step {
            step: FILED_STEP.to_string(),
            warning: false,
            message: "filed; first seen by the operator".to_string(),
            actor: None,
            generation: facts.generation,
            phase: facts.phase.clone(),
            details: BTreeMap::new(),
        });
    }
    if let Some(by) = facts
        .approved_by
        .as_ref()
        .filter(|_| !notices.iter().any(|n| n.reason == "Approved"))
    {
        out.push(Step {
            step: "Approved".to_string(),
            warning: false,
            message: format!("approved by {by}"),
            actor: Some(by.clone()),
            generation: facts.generation,
            phase: facts.phase.clone(),
            details: BTreeMap::new(),
        });
    }
    // A person's approval comes before what it caused (a request approved and opened in
    // one pass announces `Active` first); otherwise the Events' order.
    let (decisions, rest): (Vec<&Notice>, Vec<&Notice>) =
        notices.iter().partition(|n| n.reason == "Approved");
    for n in decisions.into_iter().chain(rest) {
        let actor = match n.reason {
            "ReclaimOverridden" => facts.overridden_by.clone(),
            r if DECIDED_BY_A_PERSON.contains(&r) => facts.reviewer.clone(),
            _ => None,
        };
        out.push(Step {
            step: n.reason.to_string(),
            warning: n.warning,
            message: n.message.clone(),
            actor,
            generation: facts.generation,
            phase: facts.phase.clone(),
            details: facts.details.clone(),
        });
    }
    out
}

/// The retention of a policy's records; `None` rules mean the default (SN 31: a year).
pub fn retention(rules: Option<&RecordRules>) -> Result<PolicyDuration, String> {
    match rules.and_then(|r| r.retention.as_deref()) {
        None => Ok(DEFAULT_RETENTION),
        Some(s) => s
            .parse()
            .map_err(|e| format!("spec.records.retention: {e}")),
    }
}

/// Until when a record of a step at `at` is kept: `retention` later, counted as every
/// other period (Civil Code arts. 200–204) in Beijing time on the statutory calendar, so
/// it is never shorter than the retention.
pub fn retain_until(at: DateTime<Utc>, retention: PolicyDuration) -> DateTime<Utc> {
    deadline::add(
        at,
        retention,
        &Calendar::cn_statutory(),
        chrono_tz::Asia::Shanghai,
    )
    .at
}

/// The name of record `sequence` of the subject with `uid`: derived, so a retry finds it.
pub fn record_name(uid: &str, sequence: u64) -> String {
    format!("{uid}-{sequence:08}")
}

/// The name of the checkpoint through `through` of the subject with `uid`.
pub fn checkpoint_name(uid: &str, through: u64) -> String {
    format!("{uid}-checkpoint-{through:08}")
}

/// `sha256:<hex>` of the canonical JSON of `spec` without its `digest`.
pub fn digest(spec: &GovCloudRecordSpec) -> String {
    let mut unsigned = spec.clone();
    unsigned.digest = String::new();
    let value = serde_json::to_value(&unsigned).unwrap_or(serde_json::Value::Null);
    let mut text = String::new();
    canonical(&value, &mut text);
    let hash = Sha256::digest(text.as_bytes());
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for b in hash {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// JSON with object keys sorted and no whitespace: one text for one value, whatever the
/// field order of the type or of the API server's copy.
pub fn canonical(v: &serde_json::Value, out: &mut String) {
    match v {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String((*k).clone()).to_string());
                out.push(':');
                if let Some(item) = map.get(*k) {
                    canonical(item, out);
                }
            }
            out.push('}');
        }
        serde_json::Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The record that follows `head` in the chain of `subject`.
pub fn next(
    subject: &Subject,
    head: Option<&RecordStatus>,
    step: &Step,
    at: DateTime<Utc>,
    retain_until: DateTime<Utc>,
) -> GovCloudRecordSpec {
    let mut spec = GovCloudRecordSpec {
        request: subject.request.clone(),
        unit: subject.unit.clone(),
        subject: subject.subject.clone(),
        sequence: head.map_or(0, |h| h.recorded_through).saturating_add(1),
        at,
        step: step.step.clone(),
        warning: step.warning,
        message: step.message.clone(),
        actor: step.actor.clone(),
        generation: step.generation,
        phase: step.phase.clone(),
        details: step.details.clone(),
        previous: head.map(|h| h.head.clone()).filter(|h| !h.is_empty()),
        retain_until,
        checkpoint: None,
        digest: String::new(),
    };
    spec.digest = digest(&spec);
    spec
}

/// The status after `written` joined the chain.
pub fn advance(head: Option<&RecordStatus>, written: &GovCloudRecordSpec) -> RecordStatus {
    let mut recent = head.map(|h| h.recent.clone()).unwrap_or_default();
    recent.push(RecordEntry {
        sequence: written.sequence,
        at: written.at,
        step: written.step.clone(),
    });
    let excess = recent.len().saturating_sub(RECENT);
    recent.drain(..excess);
    RecordStatus {
        recorded_through: written.sequence,
        head: written.digest.clone(),
        recent,
    }
}

/// Whether `existing` (found under the name of `intended`) records the same step: a retry
/// after a crash between the record and the status. Its time may differ (the retry decides
/// again), its place and step may not.
pub fn same_step(existing: &GovCloudRecordSpec, intended: &GovCloudRecordSpec) -> bool {
    existing.subject.uid == intended.subject.uid
        && existing.sequence == intended.sequence
        && existing.step == intended.step
        && existing.checkpoint.is_none()
}
