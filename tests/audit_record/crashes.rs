//! Crash safety and retention of the record: no gap, no duplicate; removal behind a checkpoint.

use super::*;

/// The state a crash between a record and its status leaves: the record of the next step
/// exists, the status does not report it. The operator must take it as written.
#[tokio::test]
async fn a_crash_between_record_and_status_neither_loses_nor_duplicates() -> Result<()> {
    let cp = installed(FLAGS).await?;
    let admin = cp.admin().await?;
    let ns = namespace_with_policy(cp, "audit-crash", |_| {}).await?;
    let _turn = KILLS.lock().await;
    with_operator(|o| o.kill());
    let started = async {
        let r = file(
            &admin,
            &ns,
            "portal",
            request_spec(&ns, RequestClass::Test, "2"),
        )
        .await?;
        let uid = r.uid().context("uid")?;
        // What the operator's first pass writes before its status: record 1, `Filed`.
        let subject = Subject {
            subject: govcloud_operator::api::RecordSubject {
                kind: "CloudResourceRequest".into(),
                name: "portal".into(),
                uid: uid.clone(),
            },
            request: govcloud_operator::api::RecordRequest {
                name: "portal".into(),
                uid: Some(uid.clone()),
            },
            unit: Some(r.spec.applicant_unit.clone()),
        };
        let filed = record::steps(
            &[],
            &Facts {
                first_seen: true,
                ..Facts::default()
            },
        );
        let at = chrono::Utc::now() - chrono::Duration::seconds(1);
        let at = chrono::SubsecRound::trunc_subsecs(at, 0);
        let spec = record::next(
            &subject,
            None,
            &filed[0],
            at,
            at + chrono::Duration::days(400),
        );
        Api::<GovCloudRecord>::namespaced(admin.clone(), &ns)
            .create(
                &PostParams::default(),
                &GovCloudRecord::new(&record::record_name(&uid, 1), spec.clone()),
            )
            .await?;
        anyhow::Ok((uid, spec))
    }
    .await;
    with_operator(|o| o.restart()).transpose()?;
    let (uid, before_crash) = started?;
    let r = wait_phase(&admin, &ns, "portal", RequestPhase::Submitted, T).await?;
    let status: RecordStatus = r.status.and_then(|s| s.record).context("status.record")?;
    let chain = chain_of(&admin, &ns, &uid).await?;
    let words = steps(&chain);
    assert_eq!(words, ["Filed", "Submitted"], "no duplicate Filed, no gap");
    assert_eq!(
        chain[0].spec, before_crash,
        "the record written before the crash stands"
    );
    assert_eq!(
        chain[1].spec.previous.as_deref(),
        Some(before_crash.digest.as_str())
    );
    assert_eq!(status.recorded_through, 2);
    let specs: Vec<_> = chain.into_iter().map(|r| r.spec).collect();
    let anchors = BTreeMap::from([(uid, status)]);
    assert!(verify(&specs, &anchors).iter().all(|c| c.intact()));
    Ok(())
}

/// Kills at random moments while requests go from filing to Active: every chain ends up
/// with each step once, without gaps, and verifies.
#[tokio::test]
async fn killed_at_random_the_chains_have_no_gap_and_no_duplicate() -> Result<()> {
    let cp = installed(FLAGS).await?;
    let admin = cp.admin().await?;
    let ns = namespace_with_policy(cp, "audit-chaos", |_| {}).await?;
    let _turn = KILLS.lock().await;
    let names: Vec<String> = (0..4).map(|i| format!("r{i}")).collect();
    let mut seed: u64 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(7);
    eprintln!("seed {seed}");
    let mut jitter = |max: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % max
    };
    for n in &names {
        file(
            &admin,
            &ns,
            n,
            request_spec(&ns, RequestClass::Production, "1"),
        )
        .await?;
        tokio::time::sleep(Duration::from_millis(jitter(300))).await;
        with_operator(|o| o.kill());
        tokio::time::sleep(Duration::from_millis(jitter(200))).await;
        with_operator(|o| o.restart()).transpose()?;
        decide(cp, &ns, n, "Approved", "ok").await?;
        tokio::time::sleep(Duration::from_millis(jitter(400))).await;
        with_operator(|o| o.kill());
        tokio::time::sleep(Duration::from_millis(jitter(200))).await;
        with_operator(|o| o.restart()).transpose()?;
    }
    let mut anchors = BTreeMap::new();
    for n in &names {
        let r = wait_phase(&admin, &ns, n, RequestPhase::Active, T).await?;
        let uid = r.uid().context("uid")?;
        let status = r.status.and_then(|s| s.record).context("status.record")?;
        let chain = chain_of(&admin, &ns, &uid).await?;
        let words = steps(&chain);
        assert!(contiguous(&chain), "{n}: {words:?}");
        for once in ["Filed", "Approved", "Active"] {
            assert_eq!(
                words.iter().filter(|w| *w == once).count(),
                1,
                "{n}: {words:?}"
            );
        }
        // (Submitted only when a pass saw the request before its approval.)
        assert!(
            words.iter().filter(|w| *w == "Submitted").count() <= 1,
            "{n}: {words:?}"
        );
        anchors.insert(uid, status);
    }
    let specs: Vec<_> = records(&admin, &ns)
        .await?
        .into_iter()
        .map(|r| r.spec)
        .collect();
    for c in verify(&specs, &anchors) {
        assert!(c.intact(), "{:?}", c);
    }
    Ok(())
}

/// Records past the policy's retention go, behind a checkpoint: verify tells that from
/// tampering, and the chain goes on from the checkpoint.
#[tokio::test]
async fn retention_removes_old_records_behind_a_checkpoint() -> Result<()> {
    let cp = installed(FLAGS).await?;
    let admin = cp.admin().await?;
    let ns = namespace_with_policy(cp, "audit-keep", |p| {
        p["records"] = serde_json::json!({"retention": "8s"})
    })
    .await?;
    let r = file(
        &admin,
        &ns,
        "portal",
        request_spec(&ns, RequestClass::Production, "1"),
    )
    .await?;
    let uid = r.uid().context("uid")?;
    decide(cp, &ns, "portal", "Approved", "ok").await?;
    let active = wait_phase(&admin, &ns, "portal", RequestPhase::Active, T).await?;
    let through = active
        .status
        .and_then(|s| s.record)
        .map(|s| s.recorded_through)
        .context("status.record")?;
    let checkpoint = wait_for(T, "a checkpoint and no old records", || async {
        let all = records(&admin, &ns).await?;
        let cp = all.iter().find_map(|r| r.spec.checkpoint.clone());
        let old = all
            .iter()
            .filter(|r| r.spec.checkpoint.is_none() && r.spec.sequence <= through)
            .count();
        Ok(cp.filter(|c| c.through >= through && old == 0))
    })
    .await?;
    // One more step (a deletion the finalizer holds) follows the checkpoint.
    Api::<CloudResourceRequest>::namespaced(admin.clone(), &ns)
        .delete("portal", &DeleteParams::default())
        .await?;
    let blocked = wait_condition(&admin, &ns, "portal", "DeletionBlocked", "True", T).await?;
    let anchor = blocked
        .status
        .and_then(|s| s.record)
        .context("status.record")?;
    let all = records(&admin, &ns).await?;
    let next = all
        .iter()
        .find(|r| r.spec.step == "DeletionBlocked")
        .context("DeletionBlocked recorded")?;
    assert_eq!(next.spec.sequence, checkpoint.through + 1);
    assert_eq!(
        next.spec.previous.as_deref(),
        Some(checkpoint.digest.as_str())
    );
    let specs: Vec<_> = all.into_iter().map(|r| r.spec).collect();
    let reports = verify(&specs, &BTreeMap::from([(uid, anchor)]));
    assert!(reports.iter().all(|c| c.intact()), "{reports:?}");
    assert!(reports.iter().any(|c| c.retained_through >= through));
    Ok(())
}
