use super::*;
use crate::format::DEFAULT_ZONE;
use govcloud_core::api::RequestPhase;
use serde_json::json;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn cond(type_: &str, status: &str, t: &str, message: &str) -> serde_json::Value {
    json!({"type": type_, "status": status, "reason": "Because", "message": message,
           "lastTransitionTime": t})
}

fn reclaimed_request() -> CloudResourceRequest {
    serde_json::from_value(json!({
        "apiVersion": "govcloud.io/v1alpha1", "kind": "CloudResourceRequest",
        "metadata": {"name": "trial", "namespace": "unit-finance",
                     "creationTimestamp": "2026-09-30T10:00:00Z"},
        "spec": {"policy": "shanghai", "class": "Test", "applicantUnit": "市财政局",
                 "system": {"name": "tax-portal", "securityLevel": 3, "zone": "EGovExtranet"},
                 "resources": {"cpu": "8", "memory": "8Gi"}, "duration": "30d"},
        "status": {
            "phase": "Reclaimed",
            "submittedAt": "2026-09-30T10:00:00Z",
            "approval": {"decision": "Approved", "reviewer": "alice", "comment": "ok",
                         "decidedAt": "2026-10-08T02:00:00Z", "generation": 1},
            "tenantNamespace": "unit-finance-trial",
            "grant": {"cpu": "8", "memory": "8Gi"},
            "billing": {"startedAt": "2026-10-08T02:05:00Z", "stoppedAt": "2026-11-20T00:00:00Z",
                        "monthlyCost": "0.00", "currency": "CNY"},
            "deadlines": {"reviewBy": "2026-10-13T16:00:00Z", "warnAt": "2026-10-26T16:00:00Z",
                          "expiresAt": "2026-11-09T16:00:00Z", "reclaimAt": "2026-11-16T16:00:00Z",
                          "deployBy": "2026-10-22T16:00:00Z"},
            "appliedChanges": [{"name": "more-cpu", "uid": "u1", "appliedAt": "2026-10-09T03:00:00Z"}],
            "conditions": [
                cond("Ready", "False", "2026-11-20T00:00:00Z", "reclaimed"),
                cond("NotDeployed", "True", "2026-10-22T16:00:00Z", "no pod by deployBy (SN 11)")
            ]
        }
    }))
    .unwrap()
}

#[test]
fn request_timeline_tells_the_story_in_order() {
    let r = reclaimed_request();
    let change: ResourceChange = serde_json::from_value(json!({
        "apiVersion": "govcloud.io/v1alpha1", "kind": "ResourceChange",
        "metadata": {"name": "more-cpu", "namespace": "unit-finance"},
        "spec": {"request": "trial", "resources": {"cpu": "16"}},
        "status": {"phase": "Applied", "costDelta": {"monthly": "0.00"}}
    }))
    .unwrap();
    let now = at("2026-12-01T00:00:00Z");
    let events = request_timeline(&r, std::slice::from_ref(&change), &[], now);
    let whats: Vec<&str> = events.iter().map(|e| e.what.as_str()).collect();
    assert_eq!(
        whats,
        [
            "Submitted",
            "Approved by alice (generation 1): \"ok\"",
            "Active: provisioned in namespace unit-finance-trial, billing started at 0.00 CNY/month",
            "Change more-cpu applied: cpu 16",
            "Warned of the coming expiry",
            "Suspended: the grant expired",
            "Reclaimed: tenant namespace deleted, billing stopped",
        ]
    );
    let text = render_request(&r, &[change], &[], DEFAULT_ZONE, now);
    assert!(
        text.contains("  2026-10-08 10:00 +08:00  Approved by alice"),
        "{text}"
    );
    assert!(text.contains("Phase:     Reclaimed"), "{text}");
    assert!(text.contains("Granted:   cpu 8, memory 8Gi"), "{text}");
    // deployBy is overdue (its condition holds); reviewBy merely passed.
    let deploy = text.lines().find(|l| l.contains("deployBy")).unwrap();
    assert!(deploy.ends_with("OVERDUE"), "{deploy}");
    let review = text.lines().find(|l| l.contains("reviewBy")).unwrap();
    assert!(review.ends_with("passed"), "{review}");
    assert!(
        text.contains("Conditions (True):\n  NotDeployed (Because): no pod by deployBy (SN 11)\n"),
        "{text}"
    );
    assert!(!text.contains("Ready (Because)"), "{text}");
    assert!(
        text.contains("Changes:\n  NAME       PHASE     CHANGE"),
        "{text}"
    );
}

#[test]
fn exits_appear_in_the_request_timeline() {
    let mut r = reclaimed_request();
    let st = r.status.as_mut().unwrap();
    st.phase = Some(RequestPhase::Active);
    st.billing.as_mut().unwrap().stopped_at = None;
    st.deadlines.as_mut().unwrap().warn_at = None;
    let exit: ExitRequest = serde_json::from_value(json!({
        "apiVersion": "govcloud.io/v1alpha1", "kind": "ExitRequest",
        "metadata": {"name": "bye", "namespace": "unit-finance"},
        "spec": {"request": "trial", "dataDisposition": {"backupConfirmed": true}},
        "status": {"phase": "Transition", "submittedAt": "2026-10-20T00:00:00Z",
                   "approval": {"decision": "Approved", "reviewer": "bob", "decidedAt": "2026-10-21T00:00:00Z"},
                   "deadlines": {"transitionEndsAt": "2027-01-21T00:00:00Z"}}
    }))
    .unwrap();
    let now = at("2026-10-22T00:00:00Z");
    let whats: Vec<String> = request_timeline(&r, &[], std::slice::from_ref(&exit), now)
        .into_iter()
        .map(|e| e.what)
        .collect();
    assert!(whats.contains(&"Exit bye filed".to_string()), "{whats:?}");
    assert!(
        whats.contains(&"Exit bye Approved by bob".to_string()),
        "{whats:?}"
    );
    assert!(!whats.iter().any(|w| w.starts_with("Warned")), "{whats:?}");
    let text = render_request(&r, &[], &[exit], DEFAULT_ZONE, now);
    assert!(text.contains("Exits:\n  NAME   PHASE"), "{text}");
    let expires = text.lines().find(|l| l.contains("expiresAt")).unwrap();
    assert!(expires.ends_with("in 18d16h"), "{expires}");
}

#[test]
fn a_fresh_change_and_exit_describe() {
    let change: ResourceChange = serde_json::from_value(json!({
        "apiVersion": "govcloud.io/v1alpha1", "kind": "ResourceChange",
        "metadata": {"name": "more", "namespace": "ns", "creationTimestamp": "2026-10-08T01:00:00Z"},
        "spec": {"request": "portal", "resources": {"cpu": "48"}, "reason": "tax season"},
        "status": {"phase": "Rejected", "requiresEscalation": true,
                   "approval": {"decision": "Rejected", "reviewer": "alice", "comment": "too much",
                                "decidedAt": "2026-10-09T01:00:00Z"},
                   "deadlines": {"reviewBy": "2026-10-14T16:00:00Z"}}
    }))
    .unwrap();
    let now = at("2026-10-10T00:00:00Z");
    let text = render_change(&change, DEFAULT_ZONE, now);
    assert!(text.contains("Wants:     cpu 48"), "{text}");
    assert!(text.contains("Rejected by alice: \"too much\""), "{text}");
    assert!(text.contains("escalation"), "{text}");
    assert!(
        text.contains("reviewBy   2026-10-15 00:00 +08:00   in 4d16h"),
        "{text}"
    );
    let exit: ExitRequest = serde_json::from_value(json!({
        "apiVersion": "govcloud.io/v1alpha1", "kind": "ExitRequest",
        "metadata": {"name": "bye", "namespace": "ns", "creationTimestamp": "2026-10-08T01:00:00Z"},
        "spec": {"request": "portal"},
    }))
    .unwrap();
    let text = render_exit(&exit, DEFAULT_ZONE, now);
    assert!(
        text.contains("Phase:     (not yet seen by the operator)"),
        "{text}"
    );
    assert!(text.contains("Backup:    not confirmed"), "{text}");
    assert!(text.contains("Deadlines:\n  (none yet)"), "{text}");
}
