//! Per-object notice series: only open objects, only notice conditions, the unit of the
//! request a change or exit names, and series removed when objects close.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use kube::runtime::reflector::store;
use kube::runtime::watcher;
use prometheus_client::encoding::text::encode;
use prometheus_client::registry::Registry;

use super::*;
use crate::api::{
    CloudResourceRequestStatus, ExitPhase, ExitRequestSpec, ExitRequestStatus, NextDeadline,
    RequestClass, RequestDeadlines, RequestPhase,
};

fn condition(type_: &str, status: &str) -> Condition {
    Condition {
        type_: type_.into(),
        status: status.into(),
        reason: "R".into(),
        message: "a message with \"quotes\" never shown".into(),
        last_transition_time: Utc::now(),
        observed_generation: None,
    }
}

fn request(
    name: &str,
    phase: RequestPhase,
    conditions: Vec<Condition>,
) -> Arc<CloudResourceRequest> {
    let spec: crate::api::CloudResourceRequestSpec = serde_json::from_value(serde_json::json!({
        "class": RequestClass::Test,
        "applicantUnit": "市财政局",
        "system": {"name": "s", "securityLevel": 2, "zone": "EGovExtranet"},
        "resources": {"cpu": "1"}
    }))
    .unwrap_or_else(|e| panic!("spec: {e}"));
    let mut r = CloudResourceRequest::new(name, spec);
    r.metadata.namespace = Some("unit-finance".into());
    let at = Utc.with_ymd_and_hms(2026, 5, 1, 0, 0, 0).single();
    r.status = Some(CloudResourceRequestStatus {
        phase: Some(phase),
        conditions,
        deadlines: Some(RequestDeadlines {
            expires_at: at,
            ..Default::default()
        }),
        next_deadline: at.map(|at| NextDeadline {
            name: "expiresAt".into(),
            at,
        }),
        ..Default::default()
    });
    Arc::new(r)
}

fn exit(request: &str, phase: ExitPhase) -> Arc<ExitRequest> {
    let mut e = ExitRequest::new(
        "leave",
        ExitRequestSpec {
            request: request.into(),
            reason: None,
            last_used_on: None,
            data_disposition: None,
        },
    );
    e.metadata.namespace = Some("unit-finance".into());
    e.status = Some(ExitRequestStatus {
        phase: Some(phase),
        deadlines: Some(crate::api::ExitDeadlines {
            transition_ends_at: Utc.with_ymd_and_hms(2026, 5, 2, 0, 0, 0).single(),
            ..Default::default()
        }),
        ..Default::default()
    });
    Arc::new(e)
}

#[test]
fn open_objects_export_their_notice_conditions_and_deadlines() {
    let requests = vec![
        request(
            "portal",
            RequestPhase::Active,
            vec![
                condition("ExpiringSoon", "True"),
                condition("Ready", "True"),
                condition("ReviewOverdue", "False"),
                // A repeated type (status is writable by approvers) is one series.
                condition("ExpiringSoon", "True"),
            ],
        ),
        request(
            "old",
            RequestPhase::Reclaimed,
            vec![condition("ExpiringSoon", "True")],
        ),
    ];
    let exits = vec![exit("portal", ExitPhase::Transition)];
    let objects = OpenObjects::new(&requests, &[], &exits);
    let mut conditions = Vec::new();
    let mut deadlines = Vec::new();
    for o in objects.iter() {
        conditions.extend(o.notices().map(|c| (o.name, c)));
        deadlines.extend(o.deadlines().map(|(d, at)| (o.kind, o.name, o.unit, d, at)));
    }
    assert_eq!(
        conditions,
        [("portal", "ExpiringSoon")],
        "Ready is no notice; a closed object has none"
    );
    assert_eq!(
        deadlines,
        [
            (
                "CloudResourceRequest",
                "portal",
                "市财政局",
                "next",
                1_777_593_600
            ),
            (
                "CloudResourceRequest",
                "portal",
                "市财政局",
                "expiresAt",
                1_777_593_600
            ),
            // The exit carries its request's unit.
            (
                "ExitRequest",
                "leave",
                "市财政局",
                "transitionEndsAt",
                1_777_680_000
            ),
        ]
    );
}

/// The registry's text, with `m` registered as a collector.
fn scrape(m: &Arc<ObjectMetrics>) -> String {
    let mut registry = Registry::with_prefix("govcloud");
    registry.register_collector(Box::new(m.clone()));
    let mut text = String::new();
    let _ = encode(&mut text, &registry);
    text
}

#[test]
fn each_scrape_reads_the_stores_so_series_go_when_their_object_closes() {
    let m = Arc::new(ObjectMetrics::default());
    assert!(
        !scrape(&m).contains("namespace="),
        "no stores yet: no series"
    );
    let (requests, mut writer) = store::<CloudResourceRequest>();
    let (changes, _) = store::<ResourceChange>();
    let (exits, _) = store::<ExitRequest>();
    m.read_from(Sources {
        requests,
        changes,
        exits,
    });
    let open = request(
        "portal",
        RequestPhase::Suspended,
        vec![condition("Suspended", "True")],
    );
    writer.apply_watcher_event(&watcher::Event::Apply((*open).clone()));
    let text = scrape(&m);
    assert!(
        text.contains(r#"govcloud_object_condition{namespace="unit-finance",name="portal",kind="CloudResourceRequest",unit="市财政局",condition="Suspended"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"govcloud_object_deadline_timestamp_seconds{namespace="unit-finance",name="portal",kind="CloudResourceRequest",unit="市财政局",deadline="expiresAt"} 1777593600"#),
        "{text}"
    );
    assert!(!text.contains("never shown"));
    assert!(
        text.contains("# HELP govcloud_object_condition 1 while an open request, change or exit has this notice condition True (by namespace, name, kind, applicant unit).\n"),
        "{text}"
    );
    let closed = request(
        "portal",
        RequestPhase::Reclaimed,
        vec![condition("Suspended", "True")],
    );
    writer.apply_watcher_event(&watcher::Event::Apply((*closed).clone()));
    let text = scrape(&m);
    assert!(!text.contains("portal"), "{text}");
    assert!(
        text.contains("# TYPE govcloud_object_condition gauge"),
        "the families stay described with no series: {text}"
    );
}
