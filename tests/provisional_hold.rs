//! Issue 15 on a real control plane: no data is wiped on a deadline counted without the
//! year's published calendar.
//!
//! A Test grant's expiry counted in working days cannot be waited for in a test, so the
//! destructive step exercised here is the exit wipe: the policy counts on its own
//! WorkCalendar, which lacks the year of the approval, and the exit's one-working-day
//! transition is counted from an approval the approver dates three weeks back
//! (`status.approval.decidedAt` is the approver's statement of when they decided). The
//! transition therefore ended long ago, on the provisional calendar of that year: the exit
//! must hold the wipe, say why, and proceed once the year is loaded or the bureau
//! overrides.

mod support;

use std::time::Duration;

use chrono::{Datelike, Utc};
use govcloud_operator::api::{
    ExitPhase, ExitRequest, ExitRequestSpec, RequestClass, RequestPhase, WorkCalendar,
};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use support::govcloud::*;
use support::{ControlPlane, create_namespace, unique_ns, wait_for, wait_until};

const T: Duration = Duration::from_secs(60);
/// How long the held wipe is watched.
const WINDOW: Duration = Duration::from_secs(8);

struct Setup {
    ns: String,
    tenant: String,
    calendar: String,
    /// The (Beijing) year of the approval: the year the transition was counted in.
    year: i32,
}

/// An Active Production request `portal` under a fast policy counting on WorkCalendar
/// `<ns>-cal`, which holds only a year long past; an approved exit `leave` with its backup
/// confirmed and a transition of one working day from an approval 21 days ago.
async fn held_exit(cp: &ControlPlane, prefix: &str) -> anyhow::Result<Setup> {
    let admin = cp.admin().await?;
    let ns = unique_ns(prefix);
    create_namespace(&admin, &ns).await?;
    let calendar = format!("{ns}-cal");
    let decided = Utc::now() - chrono::Duration::days(21);
    let year = decided.with_timezone(&chrono_tz::Asia::Shanghai).year();
    let wc: WorkCalendar = serde_json::from_value(serde_json::json!({
        "apiVersion": "govcloud.io/v1alpha1", "kind": "WorkCalendar",
        "metadata": {"name": calendar},
        "spec": {"years": [{"year": 2001, "days": []}]}
    }))?;
    Api::<WorkCalendar>::all(admin.clone())
        .create(&PostParams::default(), &wc)
        .await?;
    fast_policy(&admin, &ns, |p| {
        p["calendar"] = serde_json::json!(calendar);
        p["review"] = serde_json::json!({"acceptWithin": "600s", "decideWithin": "600s"});
        p["exit"] = serde_json::json!({"reviewWithin": "600s", "transition": "1wd", "submitWithin": "600s"});
    })
    .await?;
    file(
        &admin,
        &ns,
        "portal",
        request_spec(&ns, RequestClass::Production, "8"),
    )
    .await?;
    decide(cp, &ns, "portal", "Approved", "ok").await?;
    wait_phase(&admin, &ns, "portal", RequestPhase::Active, T).await?;
    Api::<ExitRequest>::namespaced(cp.vendor().await?, &ns)
        .create(
            &PostParams::default(),
            &ExitRequest::new(
                "leave",
                ExitRequestSpec {
                    request: "portal".into(),
                    reason: Some("replaced by the provincial system".into()),
                    last_used_on: None,
                    data_disposition: Some(govcloud_operator::api::DataDisposition {
                        backup_confirmed: true,
                        backup_location: Some("oss://archive/portal".into()),
                    }),
                },
            ),
        )
        .await?;
    let approval = serde_json::json!({"status": {"approval": {
        "decision": "Approved", "reviewer": "alice", "comment": "reviewed",
        "decidedAt": decided.to_rfc3339()}}});
    Api::<ExitRequest>::namespaced(cp.approver().await?, &ns)
        .patch_status("leave", &PatchParams::default(), &Patch::Merge(approval))
        .await?;
    Ok(Setup {
        tenant: format!("{ns}-portal"),
        ns,
        calendar,
        year,
    })
}

fn condition(e: &ExitRequest, type_: &str) -> Option<govcloud_operator::api::Condition> {
    e.status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == type_).cloned())
}

/// Waits for `ReclaimHeld` True on the exit, then watches the wipe stay held over
/// [`WINDOW`]: the exit never reclaims and the tenant namespace is never deleted.
async fn assert_held(admin: &Client, s: &Setup) -> anyhow::Result<()> {
    let exits: Api<ExitRequest> = Api::namespaced(admin.clone(), &s.ns);
    let held = wait_for(T, "exit ReclaimHeld=True", || async {
        let e = exits.get("leave").await?;
        Ok(condition(&e, "ReclaimHeld")
            .filter(|c| c.status == "True")
            .map(|c| (e, c)))
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e}\n{}", operator_log()))?;
    let (exit, c) = held;
    assert_eq!(c.reason, "ProvisionalCalendar");
    let year = s.year.to_string();
    assert!(
        c.message.contains(&year) && c.message.contains(&s.calendar),
        "names the year and the WorkCalendar to load: {}",
        c.message
    );
    let ends = exit
        .status
        .as_ref()
        .and_then(|st| st.deadlines.as_ref())
        .and_then(|d| d.transition_ends_at)
        .ok_or_else(|| anyhow::anyhow!("no transitionEndsAt"))?;
    assert!(ends < Utc::now(), "the transition ended at {ends}");
    let incomplete = condition(&exit, "CalendarIncomplete")
        .ok_or_else(|| anyhow::anyhow!("no CalendarIncomplete"))?;
    assert!(incomplete.message.contains("provisional") && incomplete.message.contains(&year));
    assert_eq!(
        wait_event(admin, &s.ns, "leave", "ReclaimHeld", T).await?,
        "Warning"
    );

    let namespaces: Api<Namespace> = Api::all(admin.clone());
    let requests: Api<govcloud_operator::api::CloudResourceRequest> =
        Api::namespaced(admin.clone(), &s.ns);
    let until = tokio::time::Instant::now() + WINDOW;
    while tokio::time::Instant::now() < until {
        let ns = namespaces.get_opt(&s.tenant).await?;
        assert!(
            ns.is_some_and(|n| n.metadata.deletion_timestamp.is_none()),
            "the tenant namespace must not be deleted while the wipe is held"
        );
        let e = exits.get("leave").await?;
        assert_eq!(
            e.status.and_then(|st| st.phase),
            Some(ExitPhase::Transition)
        );
        let r = requests.get("portal").await?;
        assert_eq!(r.status.and_then(|st| st.phase), Some(RequestPhase::Active));
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    Ok(())
}

async fn assert_reclaimed(admin: &Client, s: &Setup) -> anyhow::Result<()> {
    wait_phase(admin, &s.ns, "portal", RequestPhase::Reclaimed, T).await?;
    wait_until(T, "tenant namespace gone", || async {
        Ok(Api::<Namespace>::all(admin.clone())
            .get_opt(&s.tenant)
            .await?
            .is_none())
    })
    .await?;
    let exits: Api<ExitRequest> = Api::namespaced(admin.clone(), &s.ns);
    wait_until(T, "exit Completed", || async {
        Ok(exits.get("leave").await?.status.and_then(|st| st.phase) == Some(ExitPhase::Completed))
    })
    .await
}

#[tokio::test]
async fn a_wipe_counted_on_a_provisional_year_waits_for_the_bureaus_override() -> anyhow::Result<()>
{
    let cp = installed(&[]).await?;
    let admin = cp.admin().await?;
    let s = held_exit(cp, "hold-override").await?;
    assert_held(&admin, &s).await?;

    // The bureau lets it proceed: recorded (who) on the exit and in a Warning Event.
    let over = serde_json::json!({"status": {"approval": {"reclaimOverride": {
        "reason": "the unit moved out; the dates were checked by hand", "by": "director-wang"}}}});
    Api::<ExitRequest>::namespaced(cp.approver().await?, &s.ns)
        .patch_status("leave", &PatchParams::default(), &Patch::Merge(over))
        .await?;
    assert_eq!(
        wait_event(&admin, &s.ns, "leave", "ReclaimOverridden", T).await?,
        "Warning"
    );
    assert_reclaimed(&admin, &s).await
}

#[tokio::test]
async fn loading_the_year_recounts_and_releases_the_wipe() -> anyhow::Result<()> {
    let cp = installed(&[]).await?;
    let admin = cp.admin().await?;
    let s = held_exit(cp, "hold-load").await?;
    assert_held(&admin, &s).await?;

    // The year's calendar arrives (no days listed: weekends only, as published).
    let year = serde_json::json!({"spec": {"years": [
        {"year": 2001, "days": []}, {"year": s.year, "days": []}]}});
    Api::<WorkCalendar>::all(admin.clone())
        .patch(&s.calendar, &PatchParams::default(), &Patch::Merge(year))
        .await?;
    assert_reclaimed(&admin, &s).await
}
