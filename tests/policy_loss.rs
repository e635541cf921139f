//! A granted request outlives a mistake in its GovCloudPolicy (issue 14): deleted or made
//! invalid, the policy no longer stops expiry, suspension and reclamation of grants made
//! under it — they go on by the rules recorded in `status.grantedRulesJson` (or, for grants
//! of earlier releases, the object `status.grantedRules`) — and putting the policy right
//! rewrites only the requests whose outcome changed.

mod support;

use std::time::Duration;

use govcloud_operator::api::{
    CloudResourceRequest, CloudResourceRequestStatus, DataDisposition, ExitPhase, ExitRequest,
    ExitRequestSpec, GovCloudPolicy, RequestClass, RequestPhase,
};
use k8s_openapi::api::core::v1::{Event, Namespace};
use kube::api::{DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use support::govcloud::*;
use support::{create_namespace, crr_resource, unique_ns, wait_until};

const T: Duration = Duration::from_secs(90);

/// When the first Event with `reason` about `name` was recorded.
async fn event_time(
    client: &kube::Client,
    ns: &str,
    name: &str,
    reason: &str,
) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    let list = Api::<Event>::namespaced(client.clone(), ns)
        .list(&ListParams::default().fields(&format!("involvedObject.name={name}")))
        .await?;
    list.items
        .iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .filter_map(|e| {
            e.event_time
                .as_ref()
                .map(|t| t.0)
                .or(e.first_timestamp.as_ref().map(|t| t.0))
                .or(e.metadata.creation_timestamp.as_ref().map(|t| t.0))
        })
        .min()
        .and_then(|t| chrono::DateTime::from_timestamp(t.as_second(), 0))
        .ok_or_else(|| anyhow::anyhow!("no {reason} Event for {ns}/{name}"))
}

/// The request's status and resourceVersion.
async fn read(
    api: &Api<CloudResourceRequest>,
    name: &str,
) -> anyhow::Result<(CloudResourceRequestStatus, String)> {
    let r = api.get(name).await?;
    Ok((
        r.status.clone().unwrap_or_default(),
        r.resource_version().unwrap_or_default(),
    ))
}

#[tokio::test]
async fn a_test_grant_is_suspended_and_reclaimed_after_its_policy_is_deleted() -> anyhow::Result<()>
{
    let cp = installed(&[]).await?;
    let admin = cp.admin().await?;
    let ns = unique_ns("policy-gone");
    create_namespace(&admin, &ns).await?;
    fast_policy(&admin, &ns, |p| {
        p["classes"]["Test"]["maxDuration"] = "40s".into();
        p["expiry"] = serde_json::json!({"warnBefore": "5s", "suspendFor": "15s"});
    })
    .await?;
    file(
        &admin,
        &ns,
        "trial",
        request_spec(&ns, RequestClass::Test, "2"),
    )
    .await?;
    decide(cp, &ns, "trial", "Approved", "").await?;
    let active = wait_phase(&admin, &ns, "trial", RequestPhase::Active, T).await?;
    let st = active.status.clone().unwrap_or_default();
    let recorded = st
        .granted_rules
        .0
        .clone()
        .expect("the rules are recorded with the grant");
    assert_eq!(recorded.policy, ns);
    assert_eq!(recorded.class, Some(RequestClass::Test));
    let d = st.deadlines.clone().unwrap_or_default();
    let (expires_at, reclaim_at) = (d.expires_at.unwrap(), d.reclaim_at.unwrap());
    let tenant = st.tenant_namespace.clone().unwrap();

    // Someone deletes the policy while the grant runs.
    Api::<GovCloudPolicy>::all(admin.clone())
        .delete(&ns, &DeleteParams::default())
        .await?;
    let flagged = wait_condition(&admin, &ns, "trial", "PolicyUnavailable", "True", T).await?;
    let c = condition(&flagged, "PolicyUnavailable").unwrap();
    assert_eq!(c.reason, "PolicyMissing");
    assert!(
        c.message.contains("not found") && c.message.contains("stay in force"),
        "{}",
        c.message
    );
    let fst = flagged.status.clone().unwrap_or_default();
    assert_ne!(
        fst.phase,
        Some(RequestPhase::Invalid),
        "a grant is not made Invalid"
    );
    assert_eq!(
        fst.deadlines.as_ref().and_then(|d| d.expires_at),
        Some(expires_at)
    );
    assert!(fst.next_deadline.is_some(), "the next deadline is kept");
    assert_eq!(
        wait_event(&admin, &ns, "trial", "PolicyUnavailable", T).await?,
        "Warning"
    );

    let suspended = wait_phase(&admin, &ns, "trial", RequestPhase::Suspended, T).await?;
    let since = condition(&suspended, "Suspended")
        .unwrap()
        .last_transition_time;
    assert!(
        (since - expires_at).num_seconds().abs() <= 3,
        "suspended at {since}, expiry {expires_at}: woken at the recorded deadline"
    );
    let reclaimed = wait_phase(&admin, &ns, "trial", RequestPhase::Reclaimed, T).await?;
    let stopped = reclaimed
        .status
        .as_ref()
        .and_then(|s| s.billing.as_ref())
        .and_then(|b| b.stopped_at)
        .unwrap();
    assert!(
        stopped >= reclaim_at,
        "reclaimed at {stopped}, due {reclaim_at}"
    );
    // Reclamation started at the recorded deadline (the namespace's deletion then takes
    // what the namespace controller takes).
    let started = event_time(&admin, &ns, "trial", "Reclaiming").await?;
    assert!(
        (started - reclaim_at).num_seconds().abs() <= 3,
        "reclaiming from {started}, due {reclaim_at}"
    );
    wait_until(T, "tenant namespace deleted", || async {
        Ok(Api::<Namespace>::all(admin.clone())
            .get_opt(&tenant)
            .await?
            .is_none())
    })
    .await?;
    Ok(())
}

/// The request's status as stored (not through the typed decode, which reads both forms
/// of the recorded rules alike).
async fn stored_status(
    client: &kube::Client,
    ns: &str,
    name: &str,
) -> anyhow::Result<serde_json::Value> {
    let raw: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &crr_resource());
    Ok(raw.get(name).await?.data["status"].clone())
}

#[tokio::test]
async fn rules_recorded_as_an_object_by_an_earlier_release_still_hold_and_become_text()
-> anyhow::Result<()> {
    let cp = installed(&[]).await?;
    let admin = cp.admin().await?;
    let ns = unique_ns("rules-object");
    create_namespace(&admin, &ns).await?;
    fast_policy(&admin, &ns, |_| {}).await?;
    file(
        &admin,
        &ns,
        "older",
        request_spec(&ns, RequestClass::Production, "1"),
    )
    .await?;
    decide(cp, &ns, "older", "Approved", "").await?;
    wait_phase(&admin, &ns, "older", RequestPhase::Active, T).await?;
    let written = stored_status(&admin, &ns, "older").await?;
    assert!(written.get("grantedRules").is_none(), "{written}");
    let rules: serde_json::Value = serde_json::from_str(
        written["grantedRulesJson"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("no grantedRulesJson: {written}"))?,
    )?;
    assert_eq!(rules["policy"], ns.as_str());

    // The status an earlier release wrote: the same rules as an object and no text, under
    // the operator's field manager.
    let mut earlier = written.clone();
    let fields = earlier
        .as_object_mut()
        .ok_or_else(|| anyhow::anyhow!("status is not an object"))?;
    fields.remove("approval");
    fields.remove("grantedRulesJson");
    fields.insert("grantedRules".into(), rules.clone());
    let body = serde_json::json!({"apiVersion": "govcloud.io/v1alpha1", "kind": "CloudResourceRequest", "status": earlier});
    Api::<CloudResourceRequest>::namespaced(admin.clone(), &ns)
        .patch_status(
            "older",
            &PatchParams::apply("govcloud.io/operator").force(),
            &Patch::Apply(body),
        )
        .await?;
    let stored = stored_status(&admin, &ns, "older").await?;
    assert_eq!(stored["grantedRules"], rules);
    assert!(stored.get("grantedRulesJson").is_none(), "{stored}");

    // The policy goes: the grant goes on by the object's rules (not Invalid), and the
    // operator's write of that condition stores them as text and drops the object.
    Api::<GovCloudPolicy>::all(admin.clone())
        .delete(&ns, &DeleteParams::default())
        .await?;
    let flagged = wait_condition(&admin, &ns, "older", "PolicyUnavailable", "True", T).await?;
    assert_eq!(
        flagged.status.as_ref().and_then(|s| s.phase),
        Some(RequestPhase::Active)
    );
    let rewritten = stored_status(&admin, &ns, "older").await?;
    assert!(rewritten.get("grantedRules").is_none(), "{rewritten}");
    let text = rewritten["grantedRulesJson"].as_str().unwrap_or_default();
    assert_eq!(serde_json::from_str::<serde_json::Value>(text)?, rules);
    Ok(())
}

#[tokio::test]
async fn putting_a_broken_policy_right_rewrites_only_what_changed() -> anyhow::Result<()> {
    let cp = installed(&[]).await?;
    let admin = cp.admin().await?;
    let ns = unique_ns("policy-typo");
    create_namespace(&admin, &ns).await?;
    fast_policy(&admin, &ns, |_| {}).await?;
    let api: Api<CloudResourceRequest> = Api::namespaced(admin.clone(), &ns);
    let policies: Api<GovCloudPolicy> = Api::all(admin.clone());
    for name in ["one", "two"] {
        file(
            &admin,
            &ns,
            name,
            request_spec(&ns, RequestClass::Production, "1"),
        )
        .await?;
        decide(cp, &ns, name, "Approved", "").await?;
    }
    for name in ["one", "two"] {
        wait_phase(&admin, &ns, name, RequestPhase::Active, T).await?;
    }
    // Settled: a pass with nothing to change writes nothing (the first measurement of
    // utilization comes later; these tests run with the default hour-long interval).
    let settle = Duration::from_secs(3);
    tokio::time::sleep(settle).await;
    let (before, rv_before) = read(&api, "one").await?;
    let (_, rv_two) = read(&api, "two").await?;

    // An edit that keeps the policy valid and changes no outcome: every request of the
    // policy is looked at again, and none is written (the record is not refreshed).
    policies
        .patch(
            &ns,
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"jurisdiction": "测试市二"}})),
        )
        .await?;
    wait_until(T, "policy edit observed", || async {
        Ok(policies
            .get_status(&ns)
            .await?
            .status
            .and_then(|s| s.observed_generation)
            == Some(2))
    })
    .await?;
    tokio::time::sleep(settle).await;
    assert_eq!(
        read(&api, "one").await?.1,
        rv_before,
        "a valid edit changing nothing writes nothing"
    );
    assert_eq!(read(&api, "two").await?.1, rv_two);

    // A typo makes the policy invalid: each grant goes on by its recorded rules and says so.
    policies
        .patch(
            &ns,
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"timeZone": "Mars/Olympus"}})),
        )
        .await?;
    for name in ["one", "two"] {
        let r = wait_condition(&admin, &ns, name, "PolicyUnavailable", "True", T).await?;
        let c = condition(&r, "PolicyUnavailable").unwrap();
        assert_eq!(c.reason, "PolicyInvalid");
        assert!(c.message.contains("spec.timeZone"), "{}", c.message);
        assert!(
            !c.message.contains("GovCloudPolicy \"GovCloudPolicy"),
            "{}",
            c.message
        );
        assert_eq!(
            r.status.as_ref().and_then(|s| s.phase),
            Some(RequestPhase::Active)
        );
    }

    // Fixed: the condition goes (one write each), and the status is what it was before.
    policies
        .patch(
            &ns,
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"timeZone": "Asia/Shanghai"}})),
        )
        .await?;
    for name in ["one", "two"] {
        wait_condition(&admin, &ns, name, "Ready", "True", T).await?;
        wait_until(T, format!("{name}: PolicyUnavailable gone"), || async {
            Ok(read(&api, name)
                .await?
                .0
                .conditions
                .iter()
                .all(|c| c.type_ != "PolicyUnavailable"))
        })
        .await?;
    }
    let (after, rv_after) = read(&api, "one").await?;
    let unrecorded = |s: &CloudResourceRequestStatus| CloudResourceRequestStatus {
        record: None,
        ..s.clone()
    };
    assert_eq!(
        unrecorded(&after),
        unrecorded(&before),
        "back to exactly the status it had"
    );
    // Only the record remembers (SN 31): one more step, the policy's loss.
    let steps = |s: &CloudResourceRequestStatus| {
        s.record
            .iter()
            .flat_map(|r| r.recent.iter().map(|e| e.step.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        steps(&after).get(steps(&before).len()..),
        Some(&["PolicyUnavailable".to_string()][..]),
        "{:?}",
        after.record
    );
    tokio::time::sleep(settle).await;
    assert_eq!(
        read(&api, "one").await?.1,
        rv_after,
        "no write after the one that removed the condition"
    );
    let reasons: Vec<String> = events(&admin, &ns, "one")
        .await?
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    assert_eq!(
        reasons
            .iter()
            .filter(|r| r.as_str() == "PolicyUnavailable")
            .count(),
        1,
        "{reasons:?}"
    );
    assert!(!reasons.iter().any(|r| r == "Invalid"), "{reasons:?}");
    Ok(())
}

#[tokio::test]
async fn an_approved_exit_completes_on_the_recorded_rules_after_the_policy_is_deleted()
-> anyhow::Result<()> {
    let cp = installed(&[]).await?;
    let admin = cp.admin().await?;
    let ns = unique_ns("policy-exit");
    create_namespace(&admin, &ns).await?;
    fast_policy(&admin, &ns, |p| {
        p["exit"] =
            serde_json::json!({"reviewWithin": "20s", "transition": "6s", "submitWithin": "1mo"});
    })
    .await?;
    file(
        &admin,
        &ns,
        "portal",
        request_spec(&ns, RequestClass::Production, "1"),
    )
    .await?;
    decide(cp, &ns, "portal", "Approved", "").await?;
    let active = wait_phase(&admin, &ns, "portal", RequestPhase::Active, T).await?;
    let tenant = active.status.and_then(|s| s.tenant_namespace).unwrap();
    Api::<GovCloudPolicy>::all(admin.clone())
        .delete(&ns, &DeleteParams::default())
        .await?;
    wait_condition(&admin, &ns, "portal", "PolicyUnavailable", "True", T).await?;

    // The unit leaves while the policy is gone: the exit is judged by the recorded rules.
    let exits: Api<ExitRequest> = Api::namespaced(admin.clone(), &ns);
    let spec = ExitRequestSpec {
        request: "portal".into(),
        reason: Some("replaced".into()),
        last_used_on: None,
        data_disposition: Some(DataDisposition {
            backup_confirmed: true,
            backup_location: Some("oss://archive/portal".into()),
        }),
    };
    exits
        .create(&PostParams::default(), &ExitRequest::new("leave", spec))
        .await?;
    let submitted = exit_phase(&exits, "leave", ExitPhase::Submitted).await?;
    assert!(
        submitted
            .status
            .and_then(|s| s.deadlines)
            .and_then(|d| d.review_by)
            .is_some(),
        "reviewed within the recorded exit.reviewWithin"
    );
    let approver: Api<ExitRequest> = Api::namespaced(cp.approver().await?, &ns);
    approver
        .patch_status(
            "leave",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"status": {"approval": {"decision": "Approved", "reviewer": "alice"}}})),
        )
        .await?;
    let transition = exit_phase(&exits, "leave", ExitPhase::Transition).await?;
    let d = transition
        .status
        .and_then(|s| s.deadlines)
        .unwrap_or_default();
    let (decided, ends) = (
        exits
            .get("leave")
            .await?
            .status
            .and_then(|s| s.decided_at)
            .unwrap(),
        d.transition_ends_at.unwrap(),
    );
    assert_eq!((ends - decided).num_seconds(), 6, "the recorded transition");
    wait_phase(&admin, &ns, "portal", RequestPhase::Reclaimed, T).await?;
    exit_phase(&exits, "leave", ExitPhase::Completed).await?;
    wait_until(T, "tenant namespace deleted", || async {
        Ok(Api::<Namespace>::all(admin.clone())
            .get_opt(&tenant)
            .await?
            .is_none())
    })
    .await?;
    Ok(())
}

async fn exit_phase(
    api: &Api<ExitRequest>,
    name: &str,
    phase: ExitPhase,
) -> anyhow::Result<ExitRequest> {
    support::wait_for(T, format!("exit {name} {phase:?}"), || async {
        let e = api.get(name).await?;
        Ok((e.status.as_ref().and_then(|s| s.phase) == Some(phase)).then_some(e))
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e}\n{}", operator_log()))
}
