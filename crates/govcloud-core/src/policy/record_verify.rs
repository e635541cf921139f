//! Verifying record chains, and planning retention (SN 31) so that verification can tell
//! the two apart: retention removes a chain's oldest records only after a checkpoint says
//! which, and where the chain goes on; anything else missing or changed is tampering.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::record::{CHECKPOINT_STEP, digest};
use crate::api::{
    GovCloudRecordSpec, RecordCheckpoint, RecordRequest, RecordStatus, RecordSubject,
};

/// Something wrong with a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// The record's content does not match its own digest: edited in place.
    Altered { sequence: u64 },
    /// Records `from..=to` are missing, and no checkpoint says retention removed them.
    Removed { from: u64, to: u64 },
    /// The record does not point to the digest of the one before it (or of the
    /// checkpoint): that one was replaced.
    BrokenLink { sequence: u64 },
    /// Two records claim the same place.
    Duplicate { sequence: u64 },
    /// The chain's end does not match the digest its subject's status reports.
    HeadMismatch { sequence: u64 },
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::Altered { sequence } => {
                write!(
                    f,
                    "record {sequence} was altered: its digest does not match its content"
                )
            }
            Finding::Removed { from, to } if from == to => {
                write!(
                    f,
                    "record {from} was removed (no retention checkpoint covers it)"
                )
            }
            Finding::Removed { from, to } => {
                write!(
                    f,
                    "records {from}-{to} were removed (no retention checkpoint covers them)"
                )
            }
            Finding::BrokenLink { sequence } => write!(
                f,
                "record {sequence} does not follow the record before it: that one was replaced or altered"
            ),
            Finding::Duplicate { sequence } => write!(f, "two records claim sequence {sequence}"),
            Finding::HeadMismatch { sequence } => write!(
                f,
                "record {sequence} is not the one the subject's status reports: the last record was replaced"
            ),
        }
    }
}

/// The verdict on one subject's chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Whose chain.
    pub subject: RecordSubject,
    /// The request it belongs to.
    pub request: RecordRequest,
    /// Records present after the checkpoint.
    pub records: usize,
    /// The last sequence number present (0: none).
    pub last: u64,
    /// Records 1..=this were removed by retention (0: none).
    pub retained_through: u64,
    /// What is wrong; empty when the chain is intact.
    pub findings: Vec<Finding>,
}

impl ChainReport {
    /// Whether nothing is wrong.
    pub fn intact(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Verifies every chain among `entries` (records and checkpoints, in any order). `anchors`
/// maps a subject UID to what its status reports, for subjects that still exist.
pub fn verify(
    entries: &[GovCloudRecordSpec],
    anchors: &BTreeMap<String, RecordStatus>,
) -> Vec<ChainReport> {
    let mut chains: BTreeMap<&str, Vec<&GovCloudRecordSpec>> = BTreeMap::new();
    for e in entries {
        chains.entry(e.subject.uid.as_str()).or_default().push(e);
    }
    let mut reports: Vec<ChainReport> = anchors
        .iter()
        .filter(|(uid, a)| a.recorded_through > 0 && !chains.contains_key(uid.as_str()))
        .map(|(uid, a)| ChainReport {
            // A subject whose status reports records none of which is left.
            subject: RecordSubject {
                uid: uid.clone(),
                ..RecordSubject::default()
            },
            request: RecordRequest::default(),
            records: 0,
            last: 0,
            retained_through: 0,
            findings: vec![Finding::Removed {
                from: 1,
                to: a.recorded_through,
            }],
        })
        .collect();
    reports.extend(chains.into_values().map(|chain| {
        verify_chain(
            &chain,
            chain.first().and_then(|e| anchors.get(&e.subject.uid)),
        )
    }));
    reports
}

/// The newest checkpoint of a chain: `(through, digest)`.
fn checkpoint_of(chain: &[&GovCloudRecordSpec]) -> Option<RecordCheckpoint> {
    chain
        .iter()
        .filter_map(|e| e.checkpoint.clone())
        .max_by_key(|c| c.through)
}

fn verify_chain(chain: &[&GovCloudRecordSpec], anchor: Option<&RecordStatus>) -> ChainReport {
    let mut findings = Vec::new();
    for e in chain {
        if digest(e) != e.digest {
            findings.push(Finding::Altered {
                sequence: e.sequence,
            });
        }
    }
    let checkpoint = checkpoint_of(chain);
    let through = checkpoint.as_ref().map_or(0, |c| c.through);
    let mut records: Vec<&GovCloudRecordSpec> = chain
        .iter()
        .copied()
        .filter(|e| e.checkpoint.is_none() && e.sequence > through)
        .collect();
    records.sort_by_key(|e| e.sequence);
    let mut expected = through.saturating_add(1);
    let mut previous: Option<&str> = checkpoint.as_ref().map(|c| c.digest.as_str());
    let mut last: Option<&GovCloudRecordSpec> = None;
    for r in &records {
        if last.is_some_and(|l| l.sequence == r.sequence) {
            findings.push(Finding::Duplicate {
                sequence: r.sequence,
            });
            continue;
        }
        if r.sequence > expected {
            findings.push(Finding::Removed {
                from: expected,
                to: r.sequence - 1,
            });
        } else if r.previous.as_deref() != previous {
            findings.push(Finding::BrokenLink {
                sequence: r.sequence,
            });
        }
        previous = Some(r.digest.as_str());
        expected = r.sequence.saturating_add(1);
        last = Some(r);
    }
    let last_seq = last.map_or(through, |l| l.sequence);
    if let Some(a) = anchor {
        // The status is written after its records: records may be ahead of it, never behind.
        if a.recorded_through > last_seq {
            findings.push(Finding::Removed {
                from: last_seq.saturating_add(1),
                to: a.recorded_through,
            });
        } else if a.recorded_through > through
            && let Some(r) = records.iter().find(|r| r.sequence == a.recorded_through)
            && r.digest != a.head
        {
            findings.push(Finding::HeadMismatch {
                sequence: a.recorded_through,
            });
        }
    }
    let first = chain.first();
    ChainReport {
        subject: first.map(|e| e.subject.clone()).unwrap_or_default(),
        request: first.map(|e| e.request.clone()).unwrap_or_default(),
        records: records.len(),
        last: last_seq,
        retained_through: through,
        findings,
    }
}

/// What one retention pass does to one chain, in this order: create `checkpoint`, then
/// remove the records and the superseded checkpoints named. A crash part-way leaves
/// records the newest checkpoint already covers; the next pass removes them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RetentionPlan {
    /// A new checkpoint to create first.
    pub checkpoint: Option<GovCloudRecordSpec>,
    /// Sequence numbers of records to remove.
    pub records: Vec<u64>,
    /// `through` of checkpoints to remove.
    pub checkpoints: Vec<u64>,
}

impl RetentionPlan {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.checkpoint.is_none() && self.records.is_empty() && self.checkpoints.is_empty()
    }
}

/// The retention pass for one chain at `now`: its oldest records whose `retainUntil` has
/// passed, and only an unbroken run from the start (a younger record is never removed
/// before an older one is). `subject_gone`: the subject no longer exists, so once every
/// record has expired nothing of the chain is kept, not even a checkpoint.
pub fn plan_retention(
    chain: &[GovCloudRecordSpec],
    now: DateTime<Utc>,
    subject_gone: bool,
) -> RetentionPlan {
    let mut plan = RetentionPlan::default();
    let refs: Vec<&GovCloudRecordSpec> = chain.iter().collect();
    let current = checkpoint_of(&refs);
    let through = current.as_ref().map_or(0, |c| c.through);
    let mut records: Vec<&GovCloudRecordSpec> =
        chain.iter().filter(|e| e.checkpoint.is_none()).collect();
    records.sort_by_key(|e| e.sequence);
    // Left over from an interrupted pass: already covered by the checkpoint.
    plan.records.extend(
        records
            .iter()
            .filter(|r| r.sequence <= through)
            .map(|r| r.sequence),
    );
    let mut expected = through.saturating_add(1);
    let mut expired: Vec<&GovCloudRecordSpec> = Vec::new();
    for r in records.iter().filter(|r| r.sequence > through) {
        if r.sequence != expected || r.retain_until > now {
            break;
        }
        expired.push(r);
        expected = r.sequence.saturating_add(1);
    }
    let remaining = records.iter().filter(|r| r.sequence > through).count() - expired.len();
    plan.records.extend(expired.iter().map(|r| r.sequence));
    let superseded = |keep: u64| {
        chain
            .iter()
            .filter_map(|e| e.checkpoint.as_ref())
            .filter(|c| c.through < keep)
            .map(|c| c.through)
            .collect::<Vec<_>>()
    };
    if subject_gone && remaining == 0 {
        // Nothing will ever follow: the whole chain goes, checkpoints too.
        plan.checkpoints = superseded(u64::MAX);
        return plan;
    }
    match expired.last() {
        Some(newest) => {
            let mut cp = GovCloudRecordSpec {
                request: newest.request.clone(),
                unit: newest.unit.clone(),
                subject: newest.subject.clone(),
                sequence: newest.sequence,
                at: now,
                step: CHECKPOINT_STEP.to_string(),
                warning: false,
                message: format!(
                    "records 1-{} removed by retention (SN 31); the chain goes on from record {}",
                    newest.sequence,
                    newest.sequence.saturating_add(1)
                ),
                actor: None,
                generation: None,
                phase: None,
                details: BTreeMap::new(),
                previous: None,
                retain_until: newest.retain_until,
                checkpoint: Some(RecordCheckpoint {
                    through: newest.sequence,
                    digest: newest.digest.clone(),
                }),
                digest: String::new(),
            };
            cp.digest = digest(&cp);
            plan.checkpoints = superseded(newest.sequence);
            plan.checkpoint = Some(cp);
        }
        None => plan.checkpoints = superseded(through),
    }
    plan
}
