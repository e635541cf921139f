//! The emergency fast track (XB 26, XB 39.5), and a policy whose bad field is reported in its status.

use super::*;

#[tokio::test]
async fn emergency_waits_for_a_decision_then_opens_and_its_paperwork_follows() -> anyhow::Result<()>
{
    let cp = installed(&[]).await?;
    let admin = cp.admin().await?;
    let ns = unique_ns("emergency");
    create_namespace(&admin, &ns).await?;
    fast_policy(&admin, &ns, |p| {
        p["emergency"]["paperworkWithin"] = "4s".into();
        p["emergency"]["reviewWithin"] = "600s".into();
    })
    .await?;
    let mut spec = request_spec(&ns, RequestClass::Emergency, "2");
    spec.emergency = true;
    file(&admin, &ns, "flood", spec).await?;
    // XB 26: consent before opening — even without the webhook, nothing opens undecided.
    let waiting = wait_phase(&admin, &ns, "flood", RequestPhase::Submitted, T).await?;
    let st = waiting.status.as_ref().unwrap();
    assert!(
        st.grant.is_none() && st.tenant_namespace.is_none(),
        "{st:?}"
    );
    let review_by = st.deadlines.as_ref().and_then(|d| d.review_by).unwrap();
    let filed = waiting
        .metadata
        .creation_timestamp
        .as_ref()
        .unwrap()
        .0
        .as_second();
    assert!(
        (review_by.timestamp() - filed - 600).abs() <= 2,
        "the emergency review period"
    );
    never_during_named(
        &Api::<CloudResourceRequest>::namespaced(admin.clone(), &ns),
        "flood",
        HOLD,
        "an undecided emergency opened",
        |r| {
            r.and_then(|r| r.status.as_ref())
                .and_then(|s| s.grant.as_ref())
                .map(|g| format!("granted {g:?} before any decision"))
        },
    )
    .await?;
    decide(cp, &ns, "flood", "Approved", "flood relief").await?;
    let active = wait_phase(&admin, &ns, "flood", RequestPhase::Active, T).await?;
    assert!(condition(&active, "PaperworkPending").is_some_and(|c| c.status == "True"));
    wait_condition(&admin, &ns, "flood", "PaperworkOverdue", "True", T).await?;
    // The approver records the paperwork: both conditions clear.
    let api: Api<CloudResourceRequest> = Api::namespaced(cp.approver().await?, &ns);
    let done = serde_json::json!({"status": {"approval": {"paperworkComplete": true}}});
    api.patch_status("flood", &PatchParams::default(), &Patch::Merge(&done))
        .await?;
    let reader: Api<CloudResourceRequest> = Api::namespaced(admin.clone(), &ns);
    wait_until(
        T,
        "PaperworkPending and PaperworkOverdue cleared",
        || async {
            let r = reader.get("flood").await?;
            Ok(["PaperworkPending", "PaperworkOverdue"]
                .iter()
                .all(|c| condition(&r, c).is_none_or(|c| c.status != "True")))
        },
    )
    .await?;
    // A rejection after opening still suspends it, data kept.
    decide(cp, &ns, "flood", "Rejected", "not an emergency").await?;
    let suspended = wait_phase(&admin, &ns, "flood", RequestPhase::Suspended, T).await?;
    let tenant = suspended
        .status
        .as_ref()
        .unwrap()
        .tenant_namespace
        .clone()
        .unwrap();
    assert!(
        Api::<Namespace>::all(admin.clone())
            .get_opt(&tenant)
            .await?
            .is_some(),
        "data kept"
    );
    Ok(())
}

#[tokio::test]
async fn a_policy_with_a_bad_field_says_so_in_its_status() -> anyhow::Result<()> {
    let cp = installed(&[]).await?;
    let admin = cp.admin().await?;
    let name = unique_ns("bad-policy");
    fast_policy(&admin, &name, |p| {
        p["timeZone"] = "Mars/Olympus".into();
        p["prices"]["cpu"] = "cheap".into();
    })
    .await
    .or_else(|e| {
        if e.to_string().contains("422") {
            Ok(())
        } else {
            Err(e)
        }
    })?;
    let api: Api<govcloud_operator::api::GovCloudPolicy> = Api::all(admin.clone());
    if api.get_opt(&name).await?.is_none() {
        // The schema refused the price pattern; try only the time zone, which no schema can check.
        fast_policy(&admin, &name, |p| p["timeZone"] = "Mars/Olympus".into()).await?;
    }
    let message = support::wait_for(T, "the policy's Invalid condition", || async {
        let p = api.get(&name).await?;
        Ok(p.status
            .and_then(|s| {
                s.conditions
                    .into_iter()
                    .find(|c| c.type_ == "Invalid" && c.status == "True")
            })
            .map(|c| c.message))
    })
    .await?;
    assert!(message.contains("spec.timeZone"), "{message}");
    Ok(())
}
