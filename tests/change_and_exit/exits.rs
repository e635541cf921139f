//! ExitRequests: the transition, the backup, reclamation; rejected and dangling exits.

use super::*;

fn exit_spec(last_used: &str, backup: bool) -> ExitRequestSpec {
    ExitRequestSpec {
        request: "portal".into(),
        reason: Some("replaced by the provincial system".into()),
        last_used_on: Some(last_used.into()),
        data_disposition: Some(govcloud_operator::api::DataDisposition {
            backup_confirmed: backup,
            backup_location: Some("oss://archive/portal".into()),
        }),
    }
}

#[tokio::test]
async fn an_exit_transitions_waits_for_the_backup_then_reclaims_and_releases_the_request()
-> anyhow::Result<()> {
    let cp = installed(&[]).await?;
    let admin = cp.admin().await?;
    let ns = active_request(cp, "exit", |p| p["exit"] = serde_json::json!({"reviewWithin": "600s", "transition": "6s", "submitWithin": "1mo"}), None, RequestClass::Production).await?;
    let tenant = format!("{ns}-portal");
    let exits: Api<ExitRequest> = Api::namespaced(cp.vendor().await?, &ns);
    // Last used long ago: filed late (SN 16), still processed.
    exits
        .create(
            &PostParams::default(),
            &ExitRequest::new("leave", exit_spec("2025-01-10", false)),
        )
        .await?;
    let e = exit_phase(&admin, &ns, "leave", ExitPhase::Submitted).await?;
    assert!(message(&e.status.unwrap().conditions, "LateSubmission").contains("SN 16"));

    // Deleting the request while its exit is open stays blocked.
    Api::<CloudResourceRequest>::namespaced(admin.clone(), &ns)
        .delete("portal", &DeleteParams::default())
        .await?;
    wait_condition(&admin, &ns, "portal", "DeletionBlocked", "True", T).await?;

    let approving_from = chrono::Utc::now().trunc_subsecs(0);
    decide_on::<ExitRequest>(cp, &ns, "leave", "Approved").await?;
    let e = exit_phase(&admin, &ns, "leave", ExitPhase::Transition).await?;
    let seen = chrono::Utc::now();
    let st = e.status.unwrap();
    let decided = st.decided_at.expect("status.decidedAt once approved");
    assert!(
        approving_from <= decided && decided <= seen,
        "decidedAt {decided} outside [{approving_from}, {seen}]"
    );
    let d = st.deadlines.unwrap();
    // SN 16: a transition (6 s here) from the approval, then reclaimed within the 600 s
    // review period counted from the transition's end (the policy's default).
    assert_eq!(
        d.transition_ends_at,
        Some(decided + chrono::Duration::seconds(6)),
        "transitionEndsAt = decidedAt + 6 s"
    );
    assert_eq!(
        d.reclaim_by,
        Some(decided + chrono::Duration::seconds(606)),
        "reclaimBy = transitionEndsAt + 600 s"
    );
    let r = Api::<CloudResourceRequest>::namespaced(admin.clone(), &ns)
        .get("portal")
        .await?;
    assert_eq!(
        r.status.unwrap().phase,
        Some(RequestPhase::Active),
        "the unit can still work during the transition"
    );

    // The transition ends without a confirmed backup: nothing is deleted.
    wait_until(T, "AwaitingBackupConfirmation", || async {
        Ok(exits.get("leave").await?.status.is_some_and(|s| {
            s.conditions
                .iter()
                .any(|c| c.type_ == "AwaitingBackupConfirmation" && c.status == "True")
        }))
    })
    .await?;
    // Watched over the whole window, not sampled once at its end.
    never_during_named(
        &Api::<Namespace>::all(admin.clone()),
        &tenant,
        HOLD,
        "the tenant namespace without a confirmed backup",
        |n| match n {
            None => Some("deleted".to_string()),
            Some(n) if n.metadata.deletion_timestamp.is_some() => Some("being deleted".into()),
            Some(_) => None,
        },
    )
    .await?;

    // The unit confirms its backup: reclaimed, billing stopped, the request released.
    exits
        .patch(
            "leave",
            &PatchParams::default(),
            &Patch::Merge(
                serde_json::json!({"spec": {"dataDisposition": {"backupConfirmed": true}}}),
            ),
        )
        .await?;
    let done = exit_phase(&admin, &ns, "leave", ExitPhase::Completed).await?;
    assert!(done.status.unwrap().completed_at.is_some());
    wait_until(T, "tenant namespace gone", || async {
        Ok(Api::<Namespace>::all(admin.clone())
            .get_opt(&tenant)
            .await?
            .is_none())
    })
    .await?;
    wait_until(T, "request released by its finalizer", || async {
        Ok(Api::<CloudResourceRequest>::namespaced(admin.clone(), &ns)
            .get_opt("portal")
            .await?
            .is_none())
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn a_rejected_or_dangling_exit_changes_nothing() -> anyhow::Result<()> {
    let cp = installed(&[]).await?;
    let admin = cp.admin().await?;
    let ns = active_request(cp, "exit-no", |_| {}, None, RequestClass::Production).await?;
    let exits: Api<ExitRequest> = Api::namespaced(admin.clone(), &ns);
    let mut dangling = exit_spec("2026-11-01", true);
    dangling.request = "nobody".into();
    exits
        .create(
            &PostParams::default(),
            &ExitRequest::new("dangling", dangling),
        )
        .await?;
    let e = exit_phase(&admin, &ns, "dangling", ExitPhase::Invalid).await?;
    assert!(message(&e.status.unwrap().conditions, "Invalid").contains("spec.request"));
    exits
        .create(
            &PostParams::default(),
            &ExitRequest::new("leave", exit_spec("2026-11-20", true)),
        )
        .await?;
    exit_phase(&admin, &ns, "leave", ExitPhase::Submitted).await?;
    decide_on::<ExitRequest>(cp, &ns, "leave", "Rejected").await?;
    exit_phase(&admin, &ns, "leave", ExitPhase::Rejected).await?;
    never_during_named(
        &Api::<CloudResourceRequest>::namespaced(admin.clone(), &ns),
        "portal",
        HOLD,
        "the request after a rejected and a dangling exit",
        |r| {
            let phase = r.and_then(|r| r.status.as_ref()).and_then(|s| s.phase);
            (phase != Some(RequestPhase::Active)).then(|| format!("phase {phase:?}"))
        },
    )
    .await?;
    Ok(())
}
