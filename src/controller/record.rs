//! Writing the operation record (SN 31): every step a decision announces becomes a
//! GovCloudRecord, created before the status that reports it, and the retention pass that
//! removes records after the policy's `records.retention` behind a checkpoint. What a
//! record says, its digest and the chain are pure (`policy::record`).
//!
//! Exactly once: a record's name comes from its subject's UID and the sequence number in
//! the subject's status. A crash between the record and the status leaves the record
//! ahead; the retry decides again from the same status, computes the same name, gets 409,
//! reads the record there and takes it as written (the same step: nothing more to write).
//! Records are only created, read by name and listed by the retention pass: the operator
//! keeps no watch or cache of them.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{SubsecRound, Utc};
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};
use tokio::sync::watch;

use super::{Context, During, Error, FIELD_MANAGER};

/// The kind every call here is about.
const KIND: &str = "GovCloudRecord";
use crate::api::{
    CloudResourceRequest, CloudResourceRequestStatus, Decision, ExitPhase, ExitRequest,
    ExitRequestStatus, GovCloudRecord, GovCloudRecordSpec, RecordRequest, RecordStatus,
    RecordSubject, ResourceChange, ResourceChangeStatus,
};
use crate::policy::duration::PolicyDuration;
use crate::policy::notice::Notice;
use crate::policy::record::{self, Facts, Step, Subject};

/// Records the steps of a request's decision, before its status is written; sets
/// `status.record`.
pub async fn request_steps(
    ctx: &Context,
    req: &CloudResourceRequest,
    current: &CloudResourceRequestStatus,
    status: &mut CloudResourceRequestStatus,
    notices: &[Notice],
) -> Result<(), Error> {
    let facts = Facts {
        reviewer: status
            .reviewed_approval
            .as_ref()
            .and_then(|a| a.reviewer.clone()),
        overridden_by: current
            .approval
            .as_ref()
            .and_then(|a| a.reclaim_override.as_ref())
            .and_then(|o| o.by.clone()),
        generation: req.metadata.generation,
        phase: status.phase.map(|p| p.as_str().to_string()),
        details: grant_details(current, status),
        first_seen: current.phase.is_none() && current.record.is_none(),
        // The request's approval has its own Event.
        approved_by: None,
    };
    let subject = subject_of(
        "CloudResourceRequest",
        req.metadata.name.as_deref(),
        req.metadata.uid.as_deref(),
        Some(req),
    )?;
    let steps = record::steps(notices, &facts);
    status.record = write(ctx, req, &subject, current.record.as_ref(), &steps).await?;
    Ok(())
}

/// Records the steps of a ResourceChange's decision; sets `status.record`.
pub async fn change_steps(
    ctx: &Context,
    obj: &ResourceChange,
    current: &ResourceChangeStatus,
    status: &mut ResourceChangeStatus,
    notices: &[Notice],
) -> Result<(), Error> {
    let facts = Facts {
        reviewer: current.approval.as_ref().and_then(|a| a.reviewer.clone()),
        generation: obj.metadata.generation,
        phase: status.phase.map(|p| p.as_str().to_string()),
        first_seen: current.phase.is_none() && current.record.is_none(),
        ..Facts::default()
    };
    let request = request_of(ctx, obj.namespace().as_deref(), &obj.spec.request);
    let mut subject = subject_of(
        "ResourceChange",
        obj.metadata.name.as_deref(),
        obj.metadata.uid.as_deref(),
        request.as_deref(),
    )?;
    subject.request.name = obj.spec.request.clone();
    let steps = record::steps(notices, &facts);
    status.record = write(ctx, obj, &subject, current.record.as_ref(), &steps).await?;
    Ok(())
}

/// Records the steps of an ExitRequest's decision; sets `status.record`.
pub async fn exit_steps(
    ctx: &Context,
    obj: &ExitRequest,
    current: &ExitRequestStatus,
    status: &mut ExitRequestStatus,
    notices: &[Notice],
) -> Result<(), Error> {
    let approval = current.approval.as_ref();
    let facts = Facts {
        reviewer: approval.and_then(|a| a.reviewer.clone()),
        overridden_by: approval
            .and_then(|a| a.reclaim_override.as_ref())
            .and_then(|o| o.by.clone()),
        generation: obj.metadata.generation,
        phase: status.phase.map(|p| p.as_str().to_string()),
        first_seen: current.phase.is_none() && current.record.is_none(),
        // SN 16: the approval moves the exit on to its transition or reclamation.
        approved_by: approval
            .filter(|a| a.decision == Decision::Approved)
            .filter(|_| {
                matches!(current.phase, None | Some(ExitPhase::Submitted))
                    && matches!(
                        status.phase,
                        Some(
                            ExitPhase::Approved
                                | ExitPhase::Transition
                                | ExitPhase::Reclaiming
                                | ExitPhase::Completed
                        )
                    )
            })
            .map(|a| a.reviewer.clone().unwrap_or_else(|| "the bureau".into())),
        ..Facts::default()
    };
    let request = request_of(ctx, obj.namespace().as_deref(), &obj.spec.request);
    let mut subject = subject_of(
        "ExitRequest",
        obj.metadata.name.as_deref(),
        obj.metadata.uid.as_deref(),
        request.as_deref(),
    )?;
    subject.request.name = obj.spec.request.clone();
    let steps = record::steps(notices, &facts);
    status.record = write(ctx, obj, &subject, current.record.as_ref(), &steps).await?;
    Ok(())
}

fn request_of(
    ctx: &Context,
    namespace: Option<&str>,
    name: &str,
) -> Option<Arc<CloudResourceRequest>> {
    ctx.stores
        .requests
        .get(&ObjectRef::new(name).within(namespace.unwrap_or_default()))
}

fn subject_of(
    kind: &str,
    name: Option<&str>,
    uid: Option<&str>,
    request: Option<&CloudResourceRequest>,
) -> Result<Subject, Error> {
    Ok(Subject {
        subject: RecordSubject {
            kind: kind.to_string(),
            name: name
                .ok_or(Error::MissingMetadata("metadata.name"))?
                .to_string(),
            uid: uid
                .ok_or(Error::MissingMetadata("metadata.uid"))?
                .to_string(),
        },
        request: RecordRequest {
            name: request
                .and_then(|r| r.metadata.name.clone())
                .unwrap_or_default(),
            uid: request.and_then(|r| r.metadata.uid.clone()),
        },
        unit: request.map(|r| r.spec.applicant_unit.clone()),
    })
}

/// What a request's grant is, when this pass changed it (GY 22: the record shows what was
/// granted, not only that something was).
fn grant_details(
    old: &CloudResourceRequestStatus,
    new: &CloudResourceRequestStatus,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let changed = old.grant != new.grant
        || old.granted_class != new.granted_class
        || old.phase != new.phase
        || old.extended_to != new.extended_to;
    let Some(grant) = new.grant.as_ref().filter(|_| changed) else {
        return out;
    };
    if let Ok(serde_json::Value::Object(amounts)) = serde_json::to_value(grant) {
        for (k, v) in amounts {
            let text = v.as_str().map_or_else(|| v.to_string(), str::to_string);
            out.insert(format!("grant.{k}"), text);
        }
    }
    if let Some(class) = new.granted_class {
        out.insert("class".into(), class.as_str().into());
    }
    if let Some(ns) = &new.tenant_namespace {
        out.insert("tenantNamespace".into(), ns.clone());
    }
    if let Some(at) = new.deadlines.as_ref().and_then(|d| d.expires_at) {
        out.insert("expiresAt".into(), at.to_rfc3339());
    }
    if let Some(cost) = new.billing.as_ref().and_then(|b| b.monthly_cost.clone()) {
        out.insert("monthlyCost".into(), cost);
    }
    out
}

/// The retention of the records of `request`'s steps: its policy's `records.retention`,
/// or SN 31's year when the policy or the field is missing.
fn retention_of(ctx: &Context, request: &RecordRequest, namespace: &str) -> PolicyDuration {
    let policy = request_of(ctx, Some(namespace), &request.name)
        // The policy the grant was recorded under, when there is one (issue 13).
        .map(|r| ctx.policy_name(&r))
        .unwrap_or_else(|| ctx.config.default_policy.clone());
    let spec = ctx
        .stores
        .policies
        .get(&ObjectRef::new(&policy))
        .and_then(|p| p.spec.records.clone());
    record::retention(spec.as_ref()).unwrap_or(record::DEFAULT_RETENTION)
}

/// Creates one record per step after `head`, in order; returns the status' new record
/// field (`head` itself when there is nothing to write).
async fn write<K: kube::Resource>(
    ctx: &Context,
    obj: &K,
    subject: &Subject,
    head: Option<&RecordStatus>,
    steps: &[Step],
) -> Result<Option<RecordStatus>, Error> {
    let mut head = head.cloned();
    if steps.is_empty() {
        return Ok(head);
    }
    let namespace = obj
        .meta()
        .namespace
        .clone()
        .ok_or(Error::MissingMetadata("metadata.namespace"))?;
    let api: Api<GovCloudRecord> = Api::namespaced(ctx.client.clone(), &namespace);
    let retention = retention_of(ctx, &subject.request, &namespace);
    // Whole seconds, like every status timestamp.
    let at = Utc::now().trunc_subsecs(0);
    let retain_until = record::retain_until(at, retention);
    let mut i = 0;
    while let Some(step) = steps.get(i) {
        let spec = record::next(subject, head.as_ref(), step, at, retain_until);
        let name = record::record_name(&subject.subject.uid, spec.sequence);
        match create(&api, &name, &spec).await {
            Ok(()) => {
                head = Some(record::advance(head.as_ref(), &spec));
                ctx.metrics.record_writes.inc();
                i += 1;
            }
            Err(Error::Record(_, kube::Error::Api(e))) if e.code == 409 => {
                // Written before a crash (or by the other replica a moment ago).
                let existing = api.get(&name).await.during(Error::Record, KIND)?.spec;
                if record::digest(&existing) != existing.digest {
                    tracing::warn!(record = %name, "existing record does not match its digest");
                }
                if record::same_step(&existing, &spec) {
                    i += 1;
                } else {
                    tracing::info!(record = %name, step = %existing.step, "a record of an earlier decision is in this place: keeping it");
                }
                head = Some(record::advance(head.as_ref(), &existing));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(head)
}

async fn create(
    api: &Api<GovCloudRecord>,
    name: &str,
    spec: &GovCloudRecordSpec,
) -> Result<(), Error> {
    let mut obj = GovCloudRecord::new(name, spec.clone());
    let mut labels = BTreeMap::from([(
        record::SUBJECT_UID_LABEL.to_string(),
        spec.subject.uid.clone(),
    )]);
    if let Some(uid) = &spec.request.uid {
        labels.insert(record::REQUEST_UID_LABEL.to_string(), uid.clone());
    }
    obj.metadata.labels = Some(labels);
    let params = PostParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        ..Default::default()
    };
    api.create(&params, &obj)
        .await
        .during(Error::Record, KIND)?;
    Ok(())
}

/// The retention pass, every `interval` while the process leads: lists the records (in
/// pages; they are not cached), and for each chain creates a checkpoint and removes the
/// records whose retention has passed (`policy::record_verify::plan_retention`).
pub async fn run_retention(
    ctx: Arc<Context>,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        if ctx.stores_ready()
            && let Err(e) = retention_pass(&ctx).await
        {
            tracing::warn!(error = %e, "record retention pass failed; retried at the next");
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// One retention pass over every record.
pub async fn retention_pass(ctx: &Context) -> Result<(), Error> {
    let api: Api<GovCloudRecord> = Api::all(ctx.client.clone());
    let mut chains: BTreeMap<(String, String), Vec<GovCloudRecordSpec>> = BTreeMap::new();
    let mut params = ListParams::default().limit(500);
    loop {
        let page = api.list(&params).await.during(Error::Record, KIND)?;
        for r in page.items {
            let ns = r.namespace().unwrap_or_default();
            chains
                .entry((ns, r.spec.subject.uid.clone()))
                .or_default()
                .push(r.spec);
        }
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => break,
        }
    }
    let live: HashSet<String> = ctx
        .stores
        .requests
        .state()
        .iter()
        .filter_map(|o| o.uid())
        .chain(ctx.stores.changes.state().iter().filter_map(|o| o.uid()))
        .chain(ctx.stores.exits.state().iter().filter_map(|o| o.uid()))
        .collect();
    let now = Utc::now();
    for ((namespace, uid), chain) in chains {
        let plan = crate::policy::record_verify::plan_retention(&chain, now, !live.contains(&uid));
        if plan.is_empty() {
            continue;
        }
        let api: Api<GovCloudRecord> = Api::namespaced(ctx.client.clone(), &namespace);
        if let Some(cp) = &plan.checkpoint {
            let through = cp.checkpoint.as_ref().map_or(0, |c| c.through);
            match create(&api, &record::checkpoint_name(&uid, through), cp).await {
                Ok(()) => {}
                // Created by a pass that stopped before its removals.
                Err(Error::Record(_, kube::Error::Api(e))) if e.code == 409 => {}
                Err(e) => return Err(e),
            }
        }
        for seq in &plan.records {
            delete(&api, &record::record_name(&uid, *seq)).await?;
        }
        for through in &plan.checkpoints {
            delete(&api, &record::checkpoint_name(&uid, *through)).await?;
        }
        tracing::info!(%namespace, subject = %uid, removed = plan.records.len(), "records past their retention removed (SN 31)");
    }
    Ok(())
}

async fn delete(api: &Api<GovCloudRecord>, name: &str) -> Result<(), Error> {
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(Error::Record(KIND, e)),
    }
}
