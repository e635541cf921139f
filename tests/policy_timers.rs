//! Policies are judged on complete information and follow the calendars they count on,
//! and every kind is watched once however many controllers read it (issue 14).

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use govcloud_operator::api::{
    GovCloudPolicy, RequestClass, RequestPhase, WorkCalendar, WorkCalendarSpec,
};
use kube::Api;
use kube::api::{DeleteParams, PostParams};
use support::govcloud::*;
use support::{unique_ns, wait_for};

const T: Duration = Duration::from_secs(60);

/// The policy's `Invalid` condition: (status, message).
async fn invalid(
    api: &Api<GovCloudPolicy>,
    name: &str,
) -> anyhow::Result<Option<(String, String)>> {
    let p = api.get(name).await?;
    Ok(p.status
        .unwrap_or_default()
        .conditions
        .into_iter()
        .find(|c| c.type_ == "Invalid")
        .map(|c| (c.status, c.message)))
}

#[tokio::test]
async fn a_policy_follows_the_workcalendar_it_names() -> anyhow::Result<()> {
    let cp = installed(&[]).await?;
    let admin = cp.admin().await?;
    let policies: Api<GovCloudPolicy> = Api::all(admin.clone());
    let calendars: Api<WorkCalendar> = Api::all(admin.clone());
    let (policy, calendar) = (unique_ns("pt-policy"), unique_ns("pt-cal"));

    // Its calendar does not exist yet: Invalid, naming it.
    let named = calendar.clone();
    fast_policy(&admin, &policy, move |p| {
        p["calendar"] = serde_json::json!(named)
    })
    .await?;
    let (_, message) = wait_for(T, "the policy Invalid for its missing calendar", || async {
        Ok(invalid(&policies, &policy)
            .await?
            .filter(|(s, _)| s == "True"))
    })
    .await?;
    assert!(message.contains(&calendar), "{message}");

    // The calendar appears: the policy, untouched, becomes valid.
    calendars
        .create(
            &PostParams::default(),
            &WorkCalendar::new(&calendar, WorkCalendarSpec { years: vec![] }),
        )
        .await?;
    wait_for(T, "the policy valid once its calendar exists", || async {
        Ok(invalid(&policies, &policy)
            .await?
            .filter(|(s, _)| s == "False"))
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e}\n{}", operator_log()))?;

    // The calendar goes: Invalid again.
    calendars
        .delete(&calendar, &DeleteParams::default())
        .await?;
    wait_for(
        T,
        "the policy Invalid once its calendar is deleted",
        || async {
            Ok(invalid(&policies, &policy)
                .await?
                .filter(|(s, _)| s == "True"))
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}\n{}", operator_log()))?;
    Ok(())
}

/// `govcloud_api_requests_total{verb="list",...}` by resource, from the operator's metrics.
fn lists_by_resource(metrics: &str) -> BTreeMap<String, u64> {
    metrics
        .lines()
        .filter(|l| l.starts_with("govcloud_api_requests_total{") && l.contains(r#"verb="list""#))
        .filter_map(|l| {
            let resource = l.split(r#"resource=""#).nth(1)?.split('"').next()?;
            let count = l.rsplit(' ').next()?.parse::<f64>().ok()?;
            Some((resource.to_string(), count as u64))
        })
        .collect()
}

#[tokio::test]
async fn each_kind_is_watched_once() -> anyhow::Result<()> {
    installed(&[]).await?;
    // Every watch lists its kind once when it starts, then only watches (it resumes from
    // its last resourceVersion when a watch request ends). Two watches of one kind, one
    // per controller reading it, would list it twice. Ready (not on standby) means every
    // watch has synced, so has listed.
    const KINDS: [&str; 6] = [
        "govcloudpolicies",
        "workcalendars",
        "cloudresourcerequests",
        "resourcechanges",
        "exitrequests",
        "namespaces",
    ];
    let lists = wait_for(
        T,
        "the operator leading with its watches synced",
        || async {
            let ready = with_operator(|op| {
                op.get("/readyz")
                    .map(|(c, body)| c == 200 && !body.contains("standby"))
                    .unwrap_or(false)
            });
            if ready != Some(true) {
                return Ok(None);
            }
            let metrics =
                with_operator(|op| op.get("/metrics").map(|(_, m)| m).unwrap_or_default())
                    .unwrap_or_default();
            let lists = lists_by_resource(&metrics);
            Ok(Some(lists).filter(|l| KINDS.iter().all(|k| l.contains_key(*k))))
        },
    )
    .await?;
    for kind in KINDS {
        assert_eq!(
            lists.get(kind),
            Some(&1),
            "{kind} listed (watched) once: {lists:?}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn deleting_a_policy_wakes_its_requests() -> anyhow::Result<()> {
    let cp = installed(&[]).await?;
    let admin = cp.admin().await?;
    let ns = unique_ns("pt-del");
    support::create_namespace(&admin, &ns).await?;
    // Review deadlines far away: nothing but the deletion brings the request back soon.
    fast_policy(&admin, &ns, |p| {
        p["review"] = serde_json::json!({"acceptWithin": "600s", "decideWithin": "600s"});
    })
    .await?;
    file(
        &admin,
        &ns,
        "waiting",
        request_spec(&ns, RequestClass::Production, "2"),
    )
    .await?;
    wait_phase(&admin, &ns, "waiting", RequestPhase::Submitted, T).await?;
    Api::<GovCloudPolicy>::all(admin.clone())
        .delete(&ns, &DeleteParams::default())
        .await?;
    let r = wait_phase(&admin, &ns, "waiting", RequestPhase::Invalid, T).await?;
    let message = condition(&r, "Invalid")
        .map(|c| c.message.clone())
        .unwrap_or_default();
    assert!(message.contains("not found"), "{message}");
    Ok(())
}
