//! `audit`: selection, CSV for auditors, the verdict and the timeline.

use std::collections::BTreeMap;

use chrono::{Duration, TimeZone, Utc};
use govcloud_core::api::{GovCloudRecord, RecordRequest, RecordStatus, RecordSubject};
use govcloud_core::policy::record::{self, Step, Subject};

use super::audit::*;

fn chain(request: &str, unit: &str, words: &[&str]) -> (Vec<GovCloudRecord>, RecordStatus) {
    let uid = format!("{request}-uid");
    let subject = Subject {
        subject: RecordSubject {
            kind: "CloudResourceRequest".into(),
            name: request.into(),
            uid: uid.clone(),
        },
        request: RecordRequest {
            name: request.into(),
            uid: Some(uid.clone()),
        },
        unit: Some(unit.into()),
    };
    let t0 = Utc
        .with_ymd_and_hms(2026, 3, 2, 1, 0, 0)
        .single()
        .unwrap_or_default();
    let mut head: Option<RecordStatus> = None;
    let mut out = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let step = Step {
            step: (*w).into(),
            warning: false,
            message: format!("{w}, \"quoted\", done"),
            actor: (*w == "Approved").then(|| "alice".to_string()),
            generation: Some(1),
            phase: None,
            details: BTreeMap::new(),
        };
        let at = t0 + Duration::days(i as i64);
        let spec = record::next(&subject, head.as_ref(), &step, at, at + Duration::days(400));
        head = Some(record::advance(head.as_ref(), &spec));
        let mut r = GovCloudRecord::new(&record::record_name(&uid, spec.sequence), spec);
        r.metadata.namespace = Some("unit-finance".into());
        out.push(r);
    }
    (out, head.unwrap_or_default())
}

#[test]
fn records_are_selected_by_request_unit_and_period() {
    let (mut all, _) = chain("portal", "市财政局", &["Filed", "Approved", "Active"]);
    all.extend(chain("crm", "市税务局", &["Filed"]).0);
    let by_request = Filter {
        request: Some("portal".into()),
        ..Filter::default()
    };
    assert_eq!(select(&all, &by_request).len(), 3);
    let by_unit = Filter {
        unit: Some("市税务局".into()),
        ..Filter::default()
    };
    assert_eq!(select(&all, &by_unit).len(), 1);
    let zone = chrono_tz::Asia::Shanghai;
    // 2026-03-03 in Beijing: the second day's record only (01:00 UTC is 09:00 +08).
    let day = Filter {
        since: parse_time("2026-03-03", zone, false).ok(),
        until: parse_time("2026-03-03", zone, true).ok(),
        ..Filter::default()
    };
    let words: Vec<_> = select(&all, &day)
        .iter()
        .map(|r| r.spec.step.clone())
        .collect();
    assert_eq!(words, ["Approved"]);
    assert!(parse_time("March", zone, false).is_err());
    assert_eq!(
        parse_time("2026-03-03T00:00:00Z", zone, true).ok(),
        Utc.with_ymd_and_hms(2026, 3, 3, 0, 0, 0).single()
    );
}

#[test]
fn csv_has_a_header_quotes_what_needs_it_and_one_line_per_record() {
    let (all, _) = chain("portal", "市财政局", &["Filed", "Approved"]);
    let csv = render_csv(&select(&all, &Filter::default()));
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0], CSV_COLUMNS.join(","));
    assert!(
        lines[2].contains(",Approved,false,alice,1,,\"Approved, \"\"quoted\"\", done\","),
        "{}",
        lines[2]
    );
    assert!(lines[2].starts_with(
        "unit-finance,portal,市财政局,CloudResourceRequest,portal,2,2026-03-03T01:00:00+00:00,"
    ));
}

#[test]
fn the_verdict_names_what_was_removed() {
    let (mut all, head) = chain("portal", "市财政局", &["Filed", "Approved", "Active"]);
    let anchors = BTreeMap::from([("portal-uid".to_string(), head)]);
    let reports = verify_records(&all, &anchors, &Filter::default());
    assert!(render_verdict(&reports).contains("intact"));
    all.remove(1);
    let reports = verify_records(&all, &anchors, &Filter::default());
    let text = render_verdict(&reports);
    assert!(text.contains("record 2 was removed"), "{text}");
    assert_eq!(verdict_json(&reports)[0]["intact"], false);
}

#[test]
fn the_timeline_shows_who_decided() {
    let (all, _) = chain("portal", "市财政局", &["Filed", "Approved"]);
    let text = render_timeline(&all, "portal", chrono_tz::Asia::Shanghai);
    assert!(
        text.contains("2026-03-03 09:00 +08:00  Approved by alice"),
        "{text}"
    );
    assert!(render_timeline(&all, "other", chrono_tz::Asia::Shanghai).is_empty());
}
