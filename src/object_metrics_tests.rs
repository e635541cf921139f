//! Per-object notice series: only open objects, only notice conditions, the unit of the
//! request a change or exit names, and series removed when objects close.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use prometheus_client::encoding::text::encode;
use prometheus_client::registry::Registry;

use super::*;
use crate::api::{
    CloudResourceRequestStatus, ExitRequestSpec, ExitRequestStatus, NextDeadline, RequestClass,
    RequestDeadlines,
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
            ],
        ),
        request(
            "old",
            RequestPhase::Reclaimed,
            vec![condition("ExpiringSoon", "True")],
        ),
    ];
    let exits = vec![exit("portal", ExitPhase::Transition)];
    let d = desired(&requests, &[], &exits);
    let conditions: Vec<_> = d
        .conditions
        .iter()
        .map(|c| (c.name.as_str(), c.condition))
        .collect();
    assert_eq!(
        conditions,
        [("portal", "ExpiringSoon")],
        "Ready is no notice; a closed object has none"
    );
    let expires = ObjectDeadline {
        namespace: "unit-finance".into(),
        name: "portal".into(),
        kind: "CloudResourceRequest",
        unit: "市财政局".into(),
        deadline: "expiresAt",
    };
    assert_eq!(d.deadlines.get(&expires), Some(&1_777_593_600));
    let transition = ObjectDeadline {
        namespace: "unit-finance".into(),
        name: "leave".into(),
        kind: "ExitRequest",
        unit: "市财政局".into(),
        deadline: "transitionEndsAt",
    };
    assert!(
        d.deadlines.contains_key(&transition),
        "the exit carries its request's unit"
    );
    assert_eq!(d.deadlines.len(), 3, "{:?}", d.deadlines);
}

#[test]
fn series_go_when_their_object_closes() {
    let mut registry = Registry::with_prefix("govcloud");
    let m = ObjectMetrics::register(&mut registry);
    let open = vec![request(
        "portal",
        RequestPhase::Suspended,
        vec![condition("Suspended", "True")],
    )];
    m.update(desired(&open, &[], &[]));
    let mut text = String::new();
    let _ = encode(&mut text, &registry);
    assert!(
        text.contains(r#"govcloud_object_condition{namespace="unit-finance",name="portal",kind="CloudResourceRequest",unit="市财政局",condition="Suspended"} 1"#),
        "{text}"
    );
    assert!(!text.contains("never shown"));
    let closed = vec![request(
        "portal",
        RequestPhase::Reclaimed,
        vec![condition("Suspended", "True")],
    )];
    m.update(desired(&closed, &[], &[]));
    let mut text = String::new();
    let _ = encode(&mut text, &registry);
    assert!(!text.contains("portal"), "{text}");
}
