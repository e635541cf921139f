//! `kubectl govcloud audit`: the operation record (SN 31) for people and auditors —
//! selecting records by request, unit and period, and rendering them as a table, CSV or
//! JSON; the verdict of `audit verify`; a request's timeline for `describe`. Pure: the
//! records come from `audit_run`.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use govcloud_core::api::{GovCloudRecord, RecordStatus};
use govcloud_core::policy::record::CHECKPOINT_STEP;
use govcloud_core::policy::record_verify::{ChainReport, verify};
use kube::ResourceExt;
use serde_json::{Value, json};

use super::format::{local_time, table};

/// Which records.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Of this request (by name; its changes and exits included).
    pub request: Option<String>,
    /// Of this applicant unit.
    pub unit: Option<String>,
    /// At or after.
    pub since: Option<DateTime<Utc>>,
    /// Before.
    pub until: Option<DateTime<Utc>>,
}

impl Filter {
    /// Whether `r` belongs to the request and unit asked for (whole chains: `verify` uses
    /// this part only).
    pub fn chain_matches(&self, r: &GovCloudRecord) -> bool {
        self.request
            .as_ref()
            .is_none_or(|n| &r.spec.request.name == n)
            && self
                .unit
                .as_ref()
                .is_none_or(|u| r.spec.unit.as_ref() == Some(u))
    }

    /// Whether `r` is one to list: its chain matches and its step is in the period.
    /// Checkpoints are listed too: they say what retention removed.
    pub fn matches(&self, r: &GovCloudRecord) -> bool {
        self.chain_matches(r)
            && self.since.is_none_or(|s| r.spec.at >= s)
            && self.until.is_none_or(|u| r.spec.at < u)
    }
}

/// `--since`/`--until`: an RFC 3339 instant, or a date meaning the start of that day in
/// `zone` (`until_end`: the end of that day, so `--until 2026-03-31` includes the 31st).
pub fn parse_time(text: &str, zone: Tz, until_end: bool) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("{text:?} is neither a date (YYYY-MM-DD) nor an RFC 3339 time"))?;
    let day = if until_end {
        date.succ_opt()
            .ok_or_else(|| format!("{text:?} is too late"))?
    } else {
        date
    };
    zone.from_local_datetime(&day.and_time(NaiveTime::MIN))
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| format!("{text:?} does not exist in {zone}"))
}

/// The records to show, oldest first (then by chain and sequence).
pub fn select<'a>(records: &'a [GovCloudRecord], filter: &Filter) -> Vec<&'a GovCloudRecord> {
    let mut out: Vec<&GovCloudRecord> = records.iter().filter(|r| filter.matches(r)).collect();
    out.sort_by(|a, b| {
        (a.spec.at, &a.spec.subject.uid, a.spec.sequence).cmp(&(
            b.spec.at,
            &b.spec.subject.uid,
            b.spec.sequence,
        ))
    });
    out
}

fn details_text(r: &GovCloudRecord) -> String {
    r.spec
        .details
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// For people: one line per record.
pub fn render_table(records: &[&GovCloudRecord], zone: Tz) -> String {
    let rows: Vec<Vec<String>> = records
        .iter()
        .map(|r| {
            vec![
                local_time(r.spec.at, zone),
                r.spec.request.name.clone(),
                format!(
                    "{}/{}",
                    short_kind(&r.spec.subject.kind),
                    r.spec.subject.name
                ),
                r.spec.sequence.to_string(),
                r.spec.step.clone(),
                r.spec.actor.clone().unwrap_or_default(),
                r.spec.message.clone(),
            ]
        })
        .collect();
    table(
        &["AT", "REQUEST", "SUBJECT", "SEQ", "STEP", "BY", "MESSAGE"],
        &rows,
    )
}

fn short_kind(kind: &str) -> &str {
    match kind {
        "CloudResourceRequest" => "crr",
        "ResourceChange" => "rchg",
        "ExitRequest" => "rexit",
        other => other,
    }
}

/// The CSV columns, in order.
pub const CSV_COLUMNS: [&str; 17] = [
    "namespace",
    "request",
    "unit",
    "kind",
    "subject",
    "sequence",
    "at",
    "step",
    "warning",
    "actor",
    "generation",
    "phase",
    "message",
    "details",
    "previous",
    "digest",
    "retainUntil",
];

/// RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// For auditors: CSV with a header line, times in UTC (RFC 3339).
pub fn render_csv(records: &[&GovCloudRecord]) -> String {
    let mut out = CSV_COLUMNS.join(",");
    out.push_str("\r\n");
    for r in records {
        let s = &r.spec;
        let fields = [
            r.namespace().unwrap_or_default(),
            s.request.name.clone(),
            s.unit.clone().unwrap_or_default(),
            s.subject.kind.clone(),
            s.subject.name.clone(),
            s.sequence.to_string(),
            s.at.to_rfc3339(),
            s.step.clone(),
            s.warning.to_string(),
            s.actor.clone().unwrap_or_default(),
            s.generation.map(|g| g.to_string()).unwrap_or_default(),
            s.phase.clone().unwrap_or_default(),
            s.message.clone(),
            details_text(r),
            s.previous.clone().unwrap_or_default(),
            s.digest.clone(),
            s.retain_until.to_rfc3339(),
        ];
        out.push_str(
            &fields
                .iter()
                .map(|f| csv_field(f))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push_str("\r\n");
    }
    out
}

/// For scripts: the records' specs with their namespace and name.
pub fn to_json(records: &[&GovCloudRecord]) -> Value {
    Value::Array(
        records
            .iter()
            .map(|r| {
                json!({
                    "namespace": r.namespace(),
                    "name": r.name_any(),
                    "record": r.spec,
                })
            })
            .collect(),
    )
}

/// The verdict on every chain among `records` (those `filter` keeps, whole), against the
/// anchors in the statuses of the subjects that still exist.
pub fn verify_records(
    records: &[GovCloudRecord],
    anchors: &BTreeMap<String, RecordStatus>,
    filter: &Filter,
) -> Vec<ChainReport> {
    let specs: Vec<_> = records
        .iter()
        .filter(|r| filter.chain_matches(r))
        .map(|r| r.spec.clone())
        .collect();
    verify(&specs, anchors)
}

/// For people: one line per chain, and every finding.
pub fn render_verdict(reports: &[ChainReport]) -> String {
    let rows: Vec<Vec<String>> = reports
        .iter()
        .map(|c| {
            vec![
                if c.subject.kind.is_empty() {
                    format!("uid {}", c.subject.uid)
                } else {
                    format!("{}/{}", short_kind(&c.subject.kind), c.subject.name)
                },
                c.request.name.clone(),
                c.records.to_string(),
                if c.retained_through == 0 {
                    "-".to_string()
                } else {
                    format!("1-{}", c.retained_through)
                },
                if c.intact() {
                    "intact".to_string()
                } else {
                    c.findings
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                },
            ]
        })
        .collect();
    table(
        &["SUBJECT", "REQUEST", "RECORDS", "RETAINED", "RESULT"],
        &rows,
    )
}

/// For scripts: the same verdict.
pub fn verdict_json(reports: &[ChainReport]) -> Value {
    Value::Array(
        reports
            .iter()
            .map(|c| {
                json!({
                    "subject": c.subject,
                    "request": c.request,
                    "records": c.records,
                    "last": c.last,
                    "retainedThrough": c.retained_through,
                    "intact": c.intact(),
                    "findings": c.findings.iter().map(ToString::to_string).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

/// `describe`'s record section: the request's steps and those of its changes and exits,
/// oldest first, from the records (which outlive Events and conditions).
pub fn render_timeline(records: &[GovCloudRecord], request: &str, zone: Tz) -> String {
    let filter = Filter {
        request: Some(request.to_string()),
        ..Filter::default()
    };
    let selected = select(records, &filter);
    if selected.is_empty() {
        return String::new();
    }
    let mut out = String::from("Record (SN 31, `kubectl govcloud audit`):\n");
    for r in selected {
        let who = r
            .spec
            .actor
            .as_ref()
            .map(|a| format!(" by {a}"))
            .unwrap_or_default();
        let subject = if r.spec.subject.kind == "CloudResourceRequest" {
            String::new()
        } else {
            format!(
                " [{}/{}]",
                short_kind(&r.spec.subject.kind),
                r.spec.subject.name
            )
        };
        let step = if r.spec.step == CHECKPOINT_STEP {
            "(earlier records removed by retention)".to_string()
        } else {
            r.spec.step.clone()
        };
        out.push_str(&format!(
            "  {}  {step}{who}{subject}: {}\n",
            local_time(r.spec.at, zone),
            r.spec.message
        ));
    }
    out
}
