//! The operation record (SN 31) against a real control plane: a request's life becomes a
//! chain of GovCloudRecords that outlives the request, `kubectl govcloud audit verify`
//! finds a removed or altered record, a crash between a record and its status neither
//! loses nor duplicates a step, and retention leaves a checkpoint verify accepts.

#[path = "audit_record/crashes.rs"]
mod crashes;
mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context as _, Result};
use govcloud_operator::api::{
    ChangePhase, CloudResourceRequest, DataDisposition, ExitPhase, ExitRequest, ExitRequestSpec,
    GovCloudRecord, RecordStatus, RequestClass, RequestPhase, ResourceAmounts, ResourceChange,
    ResourceChangeSpec,
};
use govcloud_operator::policy::record::{self, Facts, Subject};
use govcloud_operator::policy::record_verify::{Finding, verify};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use support::govcloud::*;
use support::records::*;
use support::{Identity, wait_for, wait_until};

// slowest seen: a request's exit to Completed in about 8 s; generous margin
const T: Duration = Duration::from_secs(90);
/// The operator's retention pass runs this often here.
const FLAGS: &[&str] = &["--record-retention-interval-seconds", "1"];
/// Tests that kill the shared operator take turns.
static KILLS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
async fn a_request_life_is_a_chain_that_outlives_it_and_verify_finds_tampering() -> Result<()> {
    let cp = installed(FLAGS).await?;
    let admin = cp.admin().await?;
    let ns = namespace_with_policy(cp, "audit-life", |_| {}).await?;
    let r = file(
        &admin,
        &ns,
        "portal",
        request_spec(&ns, RequestClass::Production, "8"),
    )
    .await?;
    let uid = r.uid().context("uid")?;
    decide(cp, &ns, "portal", "Approved", "ok").await?;
    wait_phase(&admin, &ns, "portal", RequestPhase::Active, T).await?;

    // A scale-down, approved automatically and applied to the grant.
    let change = ResourceChangeSpec {
        request: "portal".into(),
        resources: Some(ResourceAmounts {
            cpu: Some(IntOrString::String("4".into())),
            memory: Some(IntOrString::String("8Gi".into())),
            ..Default::default()
        }),
        extend_to: None,
        convert_to: None,
        reason: Some("less load".into()),
        justification: None,
        recurring: false,
        access_groups: None,
        zone: None,
    };
    Api::<ResourceChange>::namespaced(cp.vendor().await?, &ns)
        .create(
            &PostParams::default(),
            &ResourceChange::new("smaller", change),
        )
        .await?;
    let changes: Api<ResourceChange> = Api::namespaced(admin.clone(), &ns);
    wait_until(T, "change applied", || async {
        Ok(
            changes.get("smaller").await?.status.and_then(|s| s.phase)
                == Some(ChangePhase::Applied),
        )
    })
    .await?;

    // The exit: approved, backup confirmed, reclaimed.
    let exit = ExitRequestSpec {
        request: "portal".into(),
        reason: Some("replaced".into()),
        last_used_on: None,
        data_disposition: Some(DataDisposition {
            backup_confirmed: true,
            backup_location: Some("oss://archive/portal".into()),
        }),
    };
    Api::<ExitRequest>::namespaced(cp.vendor().await?, &ns)
        .create(&PostParams::default(), &ExitRequest::new("leave", exit))
        .await?;
    let exits: Api<ExitRequest> = Api::namespaced(admin.clone(), &ns);
    wait_until(T, "exit submitted", || async {
        Ok(exits
            .get("leave")
            .await?
            .status
            .and_then(|s| s.phase)
            .is_some())
    })
    .await?;
    approve::<ExitRequest>(cp, &ns, "leave").await?;
    wait_until(T, "exit completed", || async {
        Ok(exits.get("leave").await?.status.and_then(|s| s.phase) == Some(ExitPhase::Completed))
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e}\n{}", operator_log()))?;
    let reclaimed = wait_phase(&admin, &ns, "portal", RequestPhase::Reclaimed, T).await?;
    let anchor = reclaimed
        .status
        .and_then(|s| s.record)
        .context("status.record")?;

    // The request's chain: every step once, in order, who decided, what was granted.
    let chain = chain_of(&admin, &ns, &uid).await?;
    let words = steps(&chain);
    assert!(contiguous(&chain), "{words:?}");
    assert!(
        in_order(
            &words,
            &["Filed", "Approved", "Active", "ChangeApplied", "Reclaimed"]
        ),
        "{words:?}"
    );
    assert_eq!(anchor.recorded_through, chain.len() as u64, "{words:?}");
    assert_eq!(
        anchor.head,
        chain
            .last()
            .map(|r| r.spec.digest.clone())
            .unwrap_or_default()
    );
    assert_eq!(
        anchor.recent.last().map(|e| e.step.as_str()),
        words.last().map(String::as_str)
    );
    let approved = chain
        .iter()
        .find(|r| r.spec.step == "Approved")
        .context("Approved")?;
    assert_eq!(approved.spec.actor.as_deref(), Some("alice"));
    assert_eq!(approved.spec.unit.as_deref(), Some("市财政局"));
    let active = chain
        .iter()
        .find(|r| r.spec.step == "Active")
        .context("Active")?;
    assert_eq!(
        active.spec.details.get("grant.cpu").map(String::as_str),
        Some("8")
    );
    let applied = chain
        .iter()
        .find(|r| r.spec.step == "ChangeApplied")
        .context("ChangeApplied")?;
    assert_eq!(
        applied.spec.details.get("grant.cpu").map(String::as_str),
        Some("4")
    );
    // The exit's own chain names who approved it.
    let all = records(&admin, &ns).await?;
    let exit_steps: Vec<_> = all
        .iter()
        .filter(|r| r.spec.subject.kind == "ExitRequest")
        .collect();
    assert!(
        exit_steps
            .iter()
            .any(|r| r.spec.step == "Approved" && r.spec.actor.as_deref() == Some("alice")),
        "{:?}",
        exit_steps.iter().map(|r| &r.spec.step).collect::<Vec<_>>()
    );
    assert!(
        exit_steps
            .iter()
            .all(|r| r.spec.request.uid.as_deref() == Some(uid.as_str()))
    );

    // Deleting the request leaves its records.
    Api::<CloudResourceRequest>::namespaced(admin.clone(), &ns)
        .delete("portal", &DeleteParams::default())
        .await?;
    wait_until(T, "request gone", || async {
        Ok(Api::<CloudResourceRequest>::namespaced(admin.clone(), &ns)
            .get_opt("portal")
            .await?
            .is_none())
    })
    .await?;
    assert_eq!(chain_of(&admin, &ns, &uid).await?.len(), chain.len());
    let anchors = BTreeMap::from([(uid.clone(), anchor.clone())]);
    let specs: Vec<_> = records(&admin, &ns)
        .await?
        .into_iter()
        .map(|r| r.spec)
        .collect();
    assert!(verify(&specs, &anchors).iter().all(|c| c.intact()));

    // People read the record (the approver's role), as a table, CSV and the verdict.
    let (code, out, err) = plugin(cp, Identity::Approver, &["audit", "verify", "-n", &ns]).await?;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("intact"), "{out}");
    let (code, csv, err) = plugin(
        cp,
        Identity::Approver,
        &["audit", "-n", &ns, "--request", "portal", "--format", "csv"],
    )
    .await?;
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("namespace,request,unit,kind,subject,sequence,at,step"));
    assert!(
        lines
            .iter()
            .any(|l| l.contains(",Approved,") && l.contains("alice")),
        "{csv}"
    );
    assert_eq!(lines.len() - 1, all.len(), "{csv}");
    // Nobody but the operator writes records.
    let as_approver: Api<GovCloudRecord> = Api::namespaced(cp.approver().await?, &ns);
    let refused = as_approver
        .delete(&chain[0].name_any(), &DeleteParams::default())
        .await;
    assert!(matches!(refused, Err(kube::Error::Api(e)) if e.code == 403));

    // Tampering: an edited record, then a removed one, are both found.
    let api: Api<GovCloudRecord> = Api::namespaced(admin.clone(), &ns);
    let middle = &chain[chain.len() / 2];
    let edit = serde_json::json!({"spec": {"message": "approved by mallory"}});
    api.patch(
        &middle.name_any(),
        &PatchParams::default(),
        &Patch::Merge(edit),
    )
    .await?;
    let (code, out, _) = plugin(cp, Identity::Approver, &["audit", "verify", "-n", &ns]).await?;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("record {} was altered", middle.spec.sequence)),
        "{out}"
    );
    let other = &chain[1];
    api.delete(&other.name_any(), &DeleteParams::default())
        .await?;
    let specs: Vec<_> = records(&admin, &ns)
        .await?
        .into_iter()
        .map(|r| r.spec)
        .collect();
    let findings: Vec<Finding> = verify(&specs, &anchors)
        .into_iter()
        .flat_map(|c| c.findings)
        .collect();
    assert!(
        findings.contains(&Finding::Removed { from: 2, to: 2 }),
        "{findings:?}"
    );
    Ok(())
}

/// An exit naming no existing request is recorded too, with no unit (the helm test's
/// operator found this: a record must not stop a decision).
#[tokio::test]
async fn an_exit_for_a_missing_request_is_recorded_without_a_unit() -> Result<()> {
    let cp = installed(FLAGS).await?;
    let admin = cp.admin().await?;
    let ns = namespace_with_policy(cp, "audit-orphan", |_| {}).await?;
    let exit = ExitRequestSpec {
        request: "no-such-request".into(),
        reason: Some("replaced".into()),
        last_used_on: None,
        data_disposition: None,
    };
    let e = Api::<ExitRequest>::namespaced(cp.vendor().await?, &ns)
        .create(&PostParams::default(), &ExitRequest::new("leave", exit))
        .await?;
    let exits: Api<ExitRequest> = Api::namespaced(admin.clone(), &ns);
    wait_until(T, "the exit to get a phase", || async {
        Ok(exits
            .get("leave")
            .await?
            .status
            .and_then(|s| s.phase)
            .is_some())
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e}\n{}", operator_log()))?;
    let chain = chain_of(&admin, &ns, &e.uid().context("uid")?).await?;
    assert_eq!(chain.first().map(|r| r.spec.step.as_str()), Some("Filed"));
    assert!(
        chain
            .iter()
            .all(|r| r.spec.unit.is_none() && r.spec.request.uid.is_none())
    );
    Ok(())
}
