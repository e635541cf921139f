//! ResourceChange and ExitRequest end to end against a real control plane.

#[path = "change_and_exit/exits.rs"]
mod exits;
mod support;

use std::time::Duration;

use chrono::SubsecRound;
use govcloud_operator::api::{
    ChangePhase, CloudResourceRequest, ExitPhase, ExitRequest, ExitRequestSpec, ProjectInfo,
    RequestClass, RequestPhase, ResourceAmounts, ResourceChange, ResourceChangeSpec,
};
use k8s_openapi::api::core::v1::{Namespace, ResourceQuota};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use support::govcloud::*;
use support::window::never_during_named;
use support::{ControlPlane, create_namespace, unique_ns, wait_for, wait_until};

// slowest seen 6.4 s (an exit's transition to AwaitingBackupConfirmation); 5× margin
const T: Duration = Duration::from_secs(60);
/// How long a state that must NOT change is watched.
const HOLD: Duration = Duration::from_secs(3);

fn amounts(cpu: Option<&str>, memory: Option<&str>) -> ResourceAmounts {
    ResourceAmounts {
        cpu: cpu.map(|c| IntOrString::String(c.into())),
        memory: memory.map(|m| IntOrString::String(m.into())),
        ..Default::default()
    }
}

fn change_spec(request: &str, resources: Option<ResourceAmounts>) -> ResourceChangeSpec {
    ResourceChangeSpec {
        request: request.into(),
        resources,
        extend_to: None,
        convert_to: None,
        reason: Some("load".into()),
        justification: None,
        recurring: false,
        access_groups: None,
        zone: None,
    }
}

async fn file_change(
    client: &Client,
    ns: &str,
    name: &str,
    spec: ResourceChangeSpec,
) -> anyhow::Result<()> {
    Api::<ResourceChange>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &ResourceChange::new(name, spec))
        .await?;
    Ok(())
}

async fn decide_on<K>(cp: &ControlPlane, ns: &str, name: &str, decision: &str) -> anyhow::Result<()>
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(cp.approver().await?, ns);
    let patch = serde_json::json!({"status": {"approval": {"decision": decision, "reviewer": "alice", "comment": "reviewed"}}});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(patch))
        .await?;
    Ok(())
}

async fn change_phase(
    client: &Client,
    ns: &str,
    name: &str,
    phase: ChangePhase,
) -> anyhow::Result<ResourceChange> {
    let api: Api<ResourceChange> = Api::namespaced(client.clone(), ns);
    let result = wait_for(T, format!("change {ns}/{name} {phase:?}"), || async {
        let c = api.get(name).await?;
        Ok((c.status.as_ref().and_then(|s| s.phase) == Some(phase)).then_some(c))
    })
    .await;
    match result {
        Ok(c) => Ok(c),
        Err(e) => Err(anyhow::anyhow!(
            "{e}\nstatus: {:?}",
            api.get(name).await.ok().and_then(|c| c.status)
        )),
    }
}

async fn exit_phase(
    client: &Client,
    ns: &str,
    name: &str,
    phase: ExitPhase,
) -> anyhow::Result<ExitRequest> {
    let api: Api<ExitRequest> = Api::namespaced(client.clone(), ns);
    wait_for(T, format!("exit {ns}/{name} {phase:?}"), || async {
        let c = api.get(name).await?;
        Ok((c.status.as_ref().and_then(|s| s.phase) == Some(phase)).then_some(c))
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e}\n{}", operator_log()))
}

fn message(conditions: &[govcloud_operator::api::Condition], type_: &str) -> String {
    conditions
        .iter()
        .find(|c| c.type_ == type_ && c.status == "True")
        .map(|c| c.message.clone())
        .unwrap_or_default()
}

/// A namespace with a fast policy and an Active Production request `portal` (8 vCPU, 8Gi:
/// 600.00 a month at the test prices), optionally with a project quota.
async fn active_request(
    cp: &ControlPlane,
    prefix: &str,
    tweak: impl FnOnce(&mut serde_json::Value),
    project_cpu: Option<&str>,
    class: RequestClass,
) -> anyhow::Result<String> {
    let admin = cp.admin().await?;
    let ns = unique_ns(prefix);
    create_namespace(&admin, &ns).await?;
    fast_policy(&admin, &ns, |p| {
        p["review"] = serde_json::json!({"acceptWithin": "600s", "decideWithin": "600s"});
        p["changes"] = serde_json::json!({"reviewWithin": "600s", "applyWithin": "600s", "autoApproveScaleDown": true,
            "justificationAbove": {"monthlyCost": "100000", "ratio": "30%"}, "escalateAboveProjectQuota": "120%"});
        tweak(p)
    })
    .await?;
    let mut spec = request_spec(&ns, class, "8");
    spec.project = project_cpu.map(|c| ProjectInfo {
        id: "P-1".into(),
        quota: Some(amounts(Some(c), Some("100Gi"))),
    });
    file(&admin, &ns, "portal", spec).await?;
    decide(cp, &ns, "portal", "Approved", "ok").await?;
    wait_phase(&admin, &ns, "portal", RequestPhase::Active, T).await?;
    Ok(ns)
}

async fn quota_cpu(client: &Client, tenant: &str) -> anyhow::Result<String> {
    let q = Api::<ResourceQuota>::namespaced(client.clone(), tenant)
        .get("govcloud-grant")
        .await?;
    Ok(q.spec
        .and_then(|s| s.hard)
        .and_then(|h| h.get("requests.cpu").map(|q| q.0.clone()))
        .unwrap_or_default())
}

#[tokio::test]
async fn changes_to_missing_or_inactive_requests_are_invalid() -> anyhow::Result<()> {
    let cp = installed(&[]).await?;
    let admin = cp.admin().await?;
    let ns = unique_ns("chg-invalid");
    create_namespace(&admin, &ns).await?;
    fast_policy(&admin, &ns, |p| {
        p["review"] = serde_json::json!({"acceptWithin": "600s", "decideWithin": "600s"})
    })
    .await?;
    file(
        &admin,
        &ns,
        "pending",
        request_spec(&ns, RequestClass::Production, "2"),
    )
    .await?;
    wait_phase(&admin, &ns, "pending", RequestPhase::Submitted, T).await?;
    file_change(
        &cp.vendor().await?,
        &ns,
        "ghost",
        change_spec("nobody", Some(amounts(Some("4"), None))),
    )
    .await?;
    file_change(
        &cp.vendor().await?,
        &ns,
        "early",
        change_spec("pending", Some(amounts(Some("4"), None))),
    )
    .await?;
    let ghost = change_phase(&admin, &ns, "ghost", ChangePhase::Invalid).await?;
    assert!(message(&ghost.status.unwrap().conditions, "Invalid").contains("spec.request"));
    let early = change_phase(&admin, &ns, "early", ChangePhase::Invalid).await?;
    assert!(message(&early.status.unwrap().conditions, "Invalid").contains("not Active"));
    Ok(())
}

#[tokio::test]
async fn costs_justification_and_escalation_follow_gy9_and_sh20() -> anyhow::Result<()> {
    let cp = installed(&[]).await?;
    let admin = cp.admin().await?;
    let ns = active_request(cp, "chg-cost", |_| {}, Some("10"), RequestClass::Production).await?;
    let vendor = cp.vendor().await?;
    // 8 → 16 vCPU: +480.00 a month on 600.00 = +80 % > 30 %: needs a justification.
    file_change(
        &vendor,
        &ns,
        "double",
        change_spec("portal", Some(amounts(Some("16"), None))),
    )
    .await?;
    let c = change_phase(&admin, &ns, "double", ChangePhase::Invalid).await?;
    let st = c.status.unwrap();
    assert_eq!(
        st.cost_delta.as_ref().map(|d| d.monthly.as_str()),
        Some("480.00")
    );
    assert_eq!(
        st.cost_delta.as_ref().and_then(|d| d.ratio.as_deref()),
        Some("0.80")
    );
    assert_eq!(st.requires_justification, Some(true));
    assert!(
        message(&st.conditions, "Invalid").contains("spec.justification"),
        "{:?}",
        st.conditions
    );
    // With a justification it goes to review — and 16 > 120 % of the project's 10 vCPU: escalated.
    let api: Api<ResourceChange> = Api::namespaced(vendor.clone(), &ns);
    api.patch(
        "double",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"spec": {"justification": "tax season; plan 2026-07"}})),
    )
    .await?;
    let c = change_phase(&admin, &ns, "double", ChangePhase::Submitted).await?;
    let st = c.status.unwrap();
    assert_eq!(st.requires_escalation, Some(true));
    assert!(message(&st.conditions, "RequiresEscalation").contains("SH 20"));
    assert!(st.deadlines.unwrap().review_by.is_some());
    Ok(())
}

#[tokio::test]
async fn scale_downs_are_auto_approved_and_changes_apply_in_order() -> anyhow::Result<()> {
    let cp = installed(&[]).await?;
    let admin = cp.admin().await?;
    let ns = active_request(cp, "chg-apply", |_| {}, None, RequestClass::Production).await?;
    let tenant = format!("{ns}-portal");
    file_change(
        &admin,
        &ns,
        "shrink",
        change_spec("portal", Some(amounts(Some("4"), None))),
    )
    .await?;
    let c = change_phase(&admin, &ns, "shrink", ChangePhase::Applied).await?;
    assert_eq!(c.status.as_ref().unwrap().auto_approved, Some(true));
    assert_eq!(quota_cpu(&admin, &tenant).await?, "4");
    let r = wait_phase(&admin, &ns, "portal", RequestPhase::Active, T).await?;
    assert_eq!(
        r.status
            .as_ref()
            .and_then(|s| s.billing.as_ref())
            .and_then(|b| b.monthly_cost.as_deref()),
        Some("360.00")
    );

    // Two increases approved together: both land, neither lost.
    file_change(
        &admin,
        &ns,
        "more-cpu",
        change_spec("portal", Some(amounts(Some("5"), None))),
    )
    .await?;
    file_change(
        &admin,
        &ns,
        "more-memory",
        change_spec("portal", Some(amounts(None, Some("10Gi")))),
    )
    .await?;
    change_phase(&admin, &ns, "more-cpu", ChangePhase::Submitted).await?;
    change_phase(&admin, &ns, "more-memory", ChangePhase::Submitted).await?;
    decide_on::<ResourceChange>(cp, &ns, "more-cpu", "Approved").await?;
    decide_on::<ResourceChange>(cp, &ns, "more-memory", "Approved").await?;
    let a = change_phase(&admin, &ns, "more-cpu", ChangePhase::Applied).await?;
    change_phase(&admin, &ns, "more-memory", ChangePhase::Applied).await?;
    assert!(a.status.unwrap().applied_at.is_some());
    let r = Api::<CloudResourceRequest>::namespaced(admin.clone(), &ns)
        .get("portal")
        .await?;
    let st = r.status.unwrap();
    assert_eq!(
        st.grant.as_ref().unwrap().cpu,
        Some(IntOrString::String("5".into()))
    );
    assert_eq!(
        st.grant.as_ref().unwrap().memory,
        Some(IntOrString::String("10Gi".into()))
    );
    assert_eq!(st.applied_changes.len(), 3);
    assert_eq!(quota_cpu(&admin, &tenant).await?, "5");
    wait_event(&admin, &ns, "portal", "ChangeApplied", T).await?;
    Ok(())
}

#[tokio::test]
async fn an_unreviewed_change_is_flagged_overdue() -> anyhow::Result<()> {
    let cp = installed(&[]).await?;
    let admin = cp.admin().await?;
    let ns = active_request(
        cp,
        "chg-overdue",
        |p| p["changes"]["reviewWithin"] = "3s".into(),
        None,
        RequestClass::Production,
    )
    .await?;
    // Let the override land after active_request's defaults: the policy is read per reconcile.
    let api: Api<govcloud_operator::api::GovCloudPolicy> = Api::all(admin.clone());
    api.patch(
        &ns,
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"spec": {"changes": {"reviewWithin": "3s"}}})),
    )
    .await?;
    file_change(
        &admin,
        &ns,
        "grow",
        change_spec("portal", Some(amounts(Some("9"), None))),
    )
    .await?;
    let api: Api<ResourceChange> = Api::namespaced(admin.clone(), &ns);
    wait_until(T, "ReviewOverdue on the change", || async {
        Ok(api.get("grow").await?.status.is_some_and(|s| {
            s.conditions
                .iter()
                .any(|c| c.type_ == "ReviewOverdue" && c.status == "True")
        }))
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn extensions_move_the_expiry_and_late_ones_are_refused() -> anyhow::Result<()> {
    let cp = installed(&[]).await?;
    let admin = cp.admin().await?;
    let ns = active_request(
        cp,
        "chg-extend",
        |p| {
            p["classes"]["Temporary"] =
                serde_json::json!({"maxDuration": "600s", "extensionNoticeBefore": "590s"})
        },
        None,
        RequestClass::Temporary,
    )
    .await?;
    let before = Api::<CloudResourceRequest>::namespaced(admin.clone(), &ns)
        .get("portal")
        .await?;
    let st = before.status.unwrap();
    let started = st
        .billing
        .as_ref()
        .and_then(|b| b.started_at)
        .expect("billing.startedAt once Active");
    let d = st.deadlines.unwrap();
    // SH 21–24: a 600 s term from the start of billing; extensions must be asked for
    // 590 s before its end, i.e. 10 s after the start (both whole seconds: the operator
    // stamps times cut to the second).
    assert_eq!(
        d.expires_at,
        Some(started + chrono::Duration::seconds(600)),
        "expiresAt = billing start + 600 s"
    );
    assert_eq!(
        d.extension_request_by,
        Some(started + chrono::Duration::seconds(10)),
        "extensionRequestBy = expiresAt - 590 s"
    );
    // Wait (by the clock, not by a guess) until the notice period is over: late.
    let late_from = started + chrono::Duration::seconds(11);
    while chrono::Utc::now() < late_from {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut spec = change_spec("portal", None);
    spec.extend_to = Some("2030-01-31".into());
    file_change(&admin, &ns, "late", spec.clone()).await?;
    let late = change_phase(&admin, &ns, "late", ChangePhase::Invalid).await?;
    assert!(message(&late.status.unwrap().conditions, "Invalid").contains("too late"));

    // In time (another request whose notice period is still open): approved → expiry moves.
    let ns2 = active_request(
        cp,
        "chg-extend2",
        |p| {
            p["classes"]["Temporary"] =
                serde_json::json!({"maxDuration": "600s", "extensionNoticeBefore": "5s"})
        },
        None,
        RequestClass::Temporary,
    )
    .await?;
    file_change(&admin, &ns2, "extend", spec).await?;
    change_phase(&admin, &ns2, "extend", ChangePhase::Submitted).await?;
    decide_on::<ResourceChange>(cp, &ns2, "extend", "Approved").await?;
    change_phase(&admin, &ns2, "extend", ChangePhase::Applied).await?;
    let r = Api::<CloudResourceRequest>::namespaced(admin.clone(), &ns2)
        .get("portal")
        .await?;
    let expires = r.status.unwrap().deadlines.unwrap().expires_at.unwrap();
    assert_eq!(
        expires.to_rfc3339(),
        "2030-01-31T16:00:00+00:00",
        "end of 2030-01-31 in Asia/Shanghai"
    );
    Ok(())
}

#[tokio::test]
async fn a_test_request_converts_to_production_and_stops_expiring() -> anyhow::Result<()> {
    let cp = installed(&[]).await?;
    let admin = cp.admin().await?;
    let ns = active_request(cp, "chg-convert", |_| {}, None, RequestClass::Test).await?;
    let before = Api::<CloudResourceRequest>::namespaced(admin.clone(), &ns)
        .get("portal")
        .await?;
    assert!(
        before
            .status
            .as_ref()
            .unwrap()
            .deadlines
            .as_ref()
            .unwrap()
            .expires_at
            .is_some()
    );
    let mut spec = change_spec("portal", None);
    spec.convert_to = Some(RequestClass::Production);
    spec.justification = Some("validation passed (SH 19)".into());
    file_change(&admin, &ns, "go-live", spec).await?;
    change_phase(&admin, &ns, "go-live", ChangePhase::Submitted).await?;
    decide_on::<ResourceChange>(cp, &ns, "go-live", "Approved").await?;
    change_phase(&admin, &ns, "go-live", ChangePhase::Applied).await?;
    let r = wait_for(T, "converted request", || async {
        let r = Api::<CloudResourceRequest>::namespaced(admin.clone(), &ns)
            .get("portal")
            .await?;
        Ok(
            (r.status.as_ref().and_then(|s| s.granted_class) == Some(RequestClass::Production))
                .then_some(r),
        )
    })
    .await?;
    let st = r.status.unwrap();
    assert!(
        st.deadlines.unwrap().expires_at.is_none(),
        "no expiry any more"
    );
    assert_eq!(
        st.billing.unwrap().monthly_cost.as_deref(),
        Some("600.00"),
        "no longer a free test"
    );
    let n = Api::<Namespace>::all(admin.clone())
        .get(&format!("{ns}-portal"))
        .await?;
    assert_eq!(
        n.metadata
            .labels
            .unwrap()
            .get("govcloud.io/class")
            .map(String::as_str),
        Some("Production")
    );
    Ok(())
}
