//! The lifecycle of a CloudResourceRequest as a pure function:
//! (request, policy, calendar, what the cluster looks like, now) → desired status, one
//! action, the next wake-up, and the Events to publish.
//!
//! The stages, each with the rule it encodes:
//! - **Submitted** — review due within acceptWithin + decideWithin (XB 20, SN 11); past it
//!   `ReviewOverdue`. Editing the spec before a grant resubmits (a new review deadline).
//! - **Approved** — by an approver's `status.approval` for the generation it names (or the
//!   generation current when first seen). A pool without room: `InsufficientCapacity`.
//! - **Provisioning** — the grant is recorded in status first (so capacity is reserved
//!   across restarts), then the tenant namespace is applied; due within
//!   provisioning.within (GY 7). A namespace the operator does not own: `NamespaceConflict`.
//! - **Active** — billing starts (GY 7, XB 21.1); deployment due within deployment.within
//!   (SN 11); emergency paperwork due within emergency.paperworkWithin (XB 26).
//! - **Suspended** — at expiry of a time-boxed class (GY 7, SH 21–24) or when emergency
//!   paperwork is rejected: quota closed to new pods, workloads scaled to zero.
//! - **Reclaiming / Reclaimed** — after suspendFor (SH 21) or a completed exit: the tenant
//!   namespace is deleted, billing stops.
//!
//! Nothing here deletes on its own account: deleting the request only releases its
//! finalizer when nothing was provisioned or everything was already reclaimed.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::calendar::Calendar;
use super::conditions::{self, Wanted, types};
use super::deadline::{self, Deadline};
use super::duration::PolicyDuration;
use super::hold::{Gaps, Hold, override_notice, reclaim_hold};
pub use super::notice::Notice;
pub use super::policy_state::PolicyState;
use super::quantity::{Amounts, FieldError, ResourceKind, format_money};
use super::rules::Rules;
use super::tenant::{self, TenantInput, TenantSpec};
use crate::api::{
    Approval, Billing, CloudResourceRequestSpec, CloudResourceRequestStatus, Decision,
    ProvisioningFrom, RequestClass, RequestDeadlines, RequestPhase,
};

/// The tenant namespace as the operator found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantState {
    /// It does not exist.
    Absent,
    /// It exists and carries this request's owner UID.
    Owned {
        /// It is being deleted.
        terminating: bool,
    },
    /// It exists and belongs to someone else.
    Foreign {
        /// The owner UID it carries, if any.
        owner_uid: Option<String>,
    },
}

/// Everything the decision needs.
pub struct Inputs<'a> {
    /// The request's name.
    pub name: &'a str,
    /// The request's namespace.
    pub namespace: &'a str,
    /// The request's UID.
    pub uid: &'a str,
    /// `metadata.generation`.
    pub generation: i64,
    /// The spec.
    pub spec: &'a CloudResourceRequestSpec,
    /// The current status (default when none).
    pub status: &'a CloudResourceRequestStatus,
    /// `metadata.deletionTimestamp` is set.
    pub deleting: bool,
    /// The policy.
    pub policy: PolicyState<'a>,
    /// The working-day calendar of the policy (of the recorded rules, when the policy is
    /// unavailable and the request holds a grant).
    pub calendar: &'a Calendar,
    /// Why `calendar` is the embedded cn-statutory data instead of the calendar the
    /// recorded rules name (its WorkCalendar is gone too); said in `PolicyUnavailable`.
    pub calendar_gone: Option<&'a str>,
    /// The operator's own namespace.
    pub operator_namespace: &'a str,
    /// The tenant namespace, when it was looked up (`None`: not needed yet).
    pub tenant: Option<TenantState>,
    /// Whether a pod exists in the tenant namespace (`None`: not looked up).
    pub has_pods: Option<bool>,
    /// Grants held by other requests of the same policy (for `capacity`).
    pub capacity_in_use: &'a Amounts,
    /// An approved exit says: reclaim now (its transition ended and the backup is confirmed).
    pub exit_reclaim: bool,
    /// Approved ResourceChanges not yet in the grant, oldest decision first.
    pub pending_changes: &'a [super::change::GrantChange],
    /// A fresh utilization measurement, when one was taken this pass.
    pub measured: Option<&'a super::utilization::Measured>,
    /// The unit's objection to an optimization notice (annotation `govcloud.io/objection`).
    pub objection: Option<&'a str>,
    /// The time of the decision.
    pub now: DateTime<Utc>,
}

/// What the controller must do to the cluster before writing the status.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Action {
    /// Nothing.
    #[default]
    None,
    /// Write the status (the grant is reserved) and come back to provision.
    Reserve,
    /// Apply the tenant namespace and its objects (open), restoring `restore` replicas of
    /// workloads scaled down by an earlier suspension.
    Activate {
        /// The desired tenant namespace.
        tenant: TenantSpec,
        /// Replicas to restore (`Deployment/<name>` → replicas).
        restore: BTreeMap<String, i32>,
    },
    /// Close the quota to new pods and scale every Deployment and StatefulSet to zero,
    /// recording their replicas in `status.suspendedReplicas` first.
    Suspend {
        /// The desired (closed) tenant namespace.
        tenant: TenantSpec,
    },
    /// Delete the tenant namespace (data wiped): only when the rules allow.
    Reclaim {
        /// The namespace to delete.
        namespace: String,
    },
}

/// The outcome of one decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The status to write (after the action succeeded).
    pub status: CloudResourceRequestStatus,
    /// What to do first.
    pub action: Action,
    /// When to look again (the next deadline); `None`: only when something changes.
    pub wake_at: Option<DateTime<Utc>>,
    /// The finalizer may be removed: nothing provisioned, or all reclaimed.
    pub release_finalizer: bool,
    /// Events to publish.
    pub notices: Vec<Notice>,
    /// File an automatic ResourceChange to these amounts (an ignored optimization notice
    /// under `onIgnored: Downsize`), named after the notice.
    pub downsize: Option<(String, Amounts)>,
    /// The grant is Active and its utilization is monitored.
    pub monitored: bool,
}

/// A spec checked against its policy.
#[derive(Debug, Clone)]
pub struct Checked {
    /// Requested amounts.
    pub requested: Amounts,
    /// The tenant namespace name.
    pub tenant_namespace: String,
    /// The effective duration of a time-boxed class (requested, capped by the class max).
    pub duration: Option<PolicyDuration>,
}

/// Validates `spec` against `rules`; every problem names its field.
pub fn validate(
    spec: &CloudResourceRequestSpec,
    rules: &Rules,
    namespace: &str,
    name: &str,
    operator_namespace: &str,
    reference: DateTime<Utc>,
    calendar: &Calendar,
) -> Result<Checked, Vec<FieldError>> {
    let mut errors = Vec::new();
    let requested = Amounts::parse("spec.resources", &spec.resources).unwrap_or_else(|e| {
        errors.extend(e);
        Amounts::default()
    });
    if errors.is_empty()
        && ResourceKind::ALL
            .iter()
            .all(|k| requested.get(*k).is_zero())
    {
        errors.push(FieldError::new("spec.resources", "asks for nothing: give at least one of cpu, memory, storage, gpu, loadBalancers, publicIPs"));
    }
    // Issue 14: an amount whose cost at the policy's prices is beyond any sum of money is
    // refused here, naming the field, instead of overflowing when the grant is billed.
    if let Err(overflow) = requested.monthly_cost(&rules.prices) {
        errors.push(overflow.field_error("spec.resources", &rules.name));
    }
    let project_quota = match spec.project.as_ref().and_then(|p| p.quota.as_ref()) {
        None => None,
        Some(q) => Amounts::parse("spec.project.quota", q)
            .map_err(|e| errors.extend(e))
            .ok(),
    };
    if spec.system.security_level == 0 || spec.system.security_level > 3 {
        errors.push(FieldError::new(
            "spec.system.securityLevel",
            format!(
                "{} is outside 1..3: only systems of MLPS level 3 or below are hosted (SH 7, XB 6)",
                spec.system.security_level
            ),
        ));
    }
    if spec
        .migration
        .as_ref()
        .is_some_and(|m| m.from_existing && m.proof.as_deref().is_none_or(|p| p.trim().is_empty()))
    {
        errors.push(FieldError::new("spec.migration.proof", "a migration of an existing system needs proof: the old contract's end or the old platform's shortfall (XB 19.3)"));
    }
    let tenant_namespace = spec
        .tenant_namespace
        .clone()
        .unwrap_or_else(|| tenant::default_name(namespace, name));
    if let Some(why) = tenant::forbidden_reason(&tenant_namespace, operator_namespace) {
        let field = if spec.tenant_namespace.is_some() {
            "spec.tenantNamespace"
        } else {
            "metadata.name"
        };
        errors.push(FieldError::new(
            field,
            format!("cannot be used as the tenant namespace: {why}"),
        ));
    }
    let mut duration = None;
    let parsed_duration: Option<PolicyDuration> = spec.duration.as_deref().and_then(|text| {
        text.parse()
            .map_err(|e| errors.push(FieldError::new("spec.duration", format!("{e}"))))
            .ok()
    });
    if parsed_duration.is_some_and(|d| d.is_zero()) && spec.class.is_time_boxed() {
        errors.push(FieldError::new(
            "spec.duration",
            format!(
                "{:?} grants nothing: a time-boxed grant must last longer than zero",
                spec.duration.as_deref().unwrap_or_default()
            ),
        ));
    }
    if let Some(limits) = rules.class(spec.class) {
        let requested_duration = parsed_duration.unwrap_or(limits.max_duration);
        let tz = rules.time_zone;
        let wanted = deadline::add(reference, requested_duration, calendar, tz).at;
        let cap = deadline::add(reference, limits.max_duration, calendar, tz).at;
        if wanted > cap {
            errors.push(FieldError::new(
                "spec.duration",
                format!(
                    "{requested_duration} exceeds the {} maximum of {} in policy {:?} ({})",
                    spec.class.as_str(),
                    limits.max_duration,
                    rules.name,
                    class_article(spec.class)
                ),
            ));
        }
        duration = Some(requested_duration);
        if let Some(share) = limits.max_project_share {
            match &project_quota {
                None => errors.push(FieldError::new(
                    "spec.project.quota",
                    format!("a {} request needs the project quota: it may use at most {}% of it (SH 22)", spec.class.as_str(), share.saturating_mul(rust_decimal::Decimal::ONE_HUNDRED)),
                )),
                Some(quota) => {
                    for kind in ResourceKind::ALL {
                        // No cap beyond the largest decimal: nothing exceeds it.
                        let cap = quota.get(kind).checked_mul(share);
                        if cap.is_some_and(|cap| requested.get(kind) > cap) {
                            errors.push(FieldError::new(
                                format!("spec.resources.{}", kind.key()),
                                format!(
                                    "exceeds {}% of the project quota ({} of {}) allowed for {} (SH 22)",
                                    share.saturating_mul(rust_decimal::Decimal::ONE_HUNDRED).normalize(),
                                    super::quantity::format_quantity(kind, requested.get(kind)),
                                    super::quantity::format_quantity(kind, quota.get(kind)),
                                    spec.class.as_str()
                                ),
                            ));
                        }
                    }
                }
            }
        }
        if spec.class == RequestClass::Development
            && (requested.get(ResourceKind::PublicIps) > rust_decimal::Decimal::ZERO
                || requested.get(ResourceKind::LoadBalancers) > rust_decimal::Decimal::ZERO)
        {
            errors.push(FieldError::new("spec.resources.publicIPs", "development resources may not serve externally: no public IPs or load balancers (SH 22)"));
        }
    }
    if let Some(capacity) = &rules.capacity {
        for kind in requested.exceeding(capacity) {
            errors.push(FieldError::new(
                format!("spec.resources.{}", kind.key()),
                format!(
                    "exceeds the whole pool of policy {:?} ({})",
                    rules.name,
                    super::quantity::format_quantity(kind, capacity.get(kind))
                ),
            ));
        }
    }
    if errors.is_empty() {
        Ok(Checked {
            requested,
            tenant_namespace,
            duration,
        })
    } else {
        Err(errors)
    }
}

fn class_article(class: RequestClass) -> &'static str {
    match class {
        RequestClass::Test => "GY 7, SH 19",
        RequestClass::Development => "SH 22",
        RequestClass::Emergency => "SH 23",
        RequestClass::Temporary => "SH 24",
        RequestClass::Production => "",
    }
}

/// How the approver's decision applies to the current generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Undecided,
    Approved,
    Rejected,
    /// A decision for another generation than the current one.
    Stale(i64),
}

/// Updates the decision bookkeeping in `st` and says how the decision stands.
fn take_decision(
    st: &mut CloudResourceRequestStatus,
    generation: i64,
    now: DateTime<Utc>,
) -> Verdict {
    let current = st.approval.clone();
    // The reclaim override (issue 15) is not part of the decision: adding it re-decides
    // nothing (no new decidedAt, no second "Approved").
    let bare = |a: &Option<Approval>| {
        a.clone().map(|mut a| {
            a.reclaim_override = None;
            a.paperwork_complete = None;
            a
        })
    };
    if bare(&current) != bare(&st.reviewed_approval) {
        if let Some(a) = &current {
            let applies_to = a.generation.unwrap_or(generation);
            if applies_to != generation {
                return Verdict::Stale(applies_to);
            }
            st.reviewed_approval = Some(a.clone());
            st.decided_at = Some(a.decided_at.unwrap_or(now));
            match a.decision {
                Decision::Approved => {
                    st.approved_generation = Some(applies_to);
                    st.rejected_generation = None;
                }
                Decision::Rejected => {
                    st.rejected_generation = Some(applies_to);
                }
            }
        } else {
            // The approval was removed: nothing is decided any more for what is not granted.
            st.reviewed_approval = None;
            st.decided_at = None;
            st.rejected_generation = None;
            if st.grant.is_none() {
                st.approved_generation = None;
            }
        }
    }
    match (
        &st.reviewed_approval,
        st.approved_generation,
        st.rejected_generation,
    ) {
        (
            Some(Approval {
                decision: Decision::Rejected,
                ..
            }),
            _,
            Some(g),
        ) if g == generation || st.grant.is_some() => Verdict::Rejected,
        (
            Some(Approval {
                decision: Decision::Approved,
                ..
            }),
            Some(g),
            _,
        ) if g == generation || st.grant.is_some() => Verdict::Approved,
        _ => Verdict::Undecided,
    }
}

struct Clock<'a> {
    rules: &'a Rules,
    calendar: &'a Calendar,
    /// The years every count so far relied on without published data (issue 15).
    gaps: Gaps,
}

impl Clock<'_> {
    fn add(&mut self, t: DateTime<Utc>, d: PolicyDuration) -> DateTime<Utc> {
        self.counted(t, d).at
    }
    fn sub(&mut self, t: DateTime<Utc>, d: PolicyDuration) -> DateTime<Utc> {
        let dl = deadline::sub(t, d, self.calendar, self.rules.time_zone);
        self.gaps.note(self.calendar, self.rules.time_zone, t, dl);
        dl.at
    }
    /// `add`, keeping the whole result so a caller can note its own gaps.
    fn counted(&mut self, t: DateTime<Utc>, d: PolicyDuration) -> Deadline {
        let dl = deadline::add(t, d, self.calendar, self.rules.time_zone);
        self.gaps.note(self.calendar, self.rules.time_zone, t, dl);
        dl
    }
    fn note(&self, gaps: &mut Gaps, t: DateTime<Utc>, d: Deadline) {
        gaps.note(self.calendar, self.rules.time_zone, t, d);
    }
}

fn phase_notice(phase: RequestPhase, st: &CloudResourceRequestStatus) -> Notice {
    let ns = st.tenant_namespace.clone().unwrap_or_default();
    let (warning, reason, message) = match phase {
        RequestPhase::Submitted => (false, "Submitted", "submitted for review".to_string()),
        RequestPhase::Approved => (
            false,
            "Approved",
            "approved; waiting to provision".to_string(),
        ),
        RequestPhase::Rejected => (
            true,
            "Rejected",
            format!(
                "rejected: {}",
                st.reviewed_approval
                    .as_ref()
                    .and_then(|a| a.comment.clone())
                    .unwrap_or_else(|| "no reason given".into())
            ),
        ),
        RequestPhase::Provisioning => (
            false,
            "Provisioning",
            format!("provisioning tenant namespace {ns}"),
        ),
        RequestPhase::Active => (
            false,
            "Active",
            format!("tenant namespace {ns} is active; billing started"),
        ),
        RequestPhase::Suspended => (
            true,
            "Suspended",
            format!("tenant namespace {ns} suspended: quota closed, workloads scaled to zero"),
        ),
        RequestPhase::Reclaiming => (
            true,
            "Reclaiming",
            format!("reclaiming tenant namespace {ns}: its data is being deleted"),
        ),
        RequestPhase::Reclaimed => (
            false,
            "Reclaimed",
            format!("tenant namespace {ns} reclaimed; billing stopped"),
        ),
        RequestPhase::Unrecognized => return super::unknown::unknown_phase("CloudResourceRequest"),
        RequestPhase::Invalid => (
            true,
            "Invalid",
            "the spec is invalid; see the Invalid condition".to_string(),
        ),
    };
    Notice {
        warning,
        reason,
        message,
    }
}

/// Conditions whose turning True is worth an Event, and whether it is a Warning.
fn condition_event(type_: &str) -> Option<(bool, &'static str)> {
    Some(match type_ {
        types::REVIEW_OVERDUE => (true, "ReviewOverdue"),
        types::PROVISIONING_OVERDUE => (true, "ProvisioningOverdue"),
        types::NOT_DEPLOYED => (true, "NotDeployed"),
        types::PAPERWORK_PENDING => (false, "PaperworkPending"),
        types::PAPERWORK_OVERDUE => (true, "PaperworkOverdue"),
        types::EXPIRING_SOON => (true, "ExpiringSoon"),
        types::NAMESPACE_CONFLICT => (true, "NamespaceConflict"),
        types::INSUFFICIENT_CAPACITY => (true, "InsufficientCapacity"),
        types::CALENDAR_INCOMPLETE => (true, "CalendarIncomplete"),
        types::DELETION_BLOCKED => (true, "DeletionBlocked"),
        types::UNAPPLIED_SPEC_CHANGE => (true, "UnappliedSpecChange"),
        types::RECLAIM_HELD => (true, "ReclaimHeld"),
        super::utilization::types::LOW => (true, "LowUtilization"),
        super::utilization::types::HIGH => (true, "HighUtilization"),
        super::utilization::types::METRICS_UNAVAILABLE => (true, "MetricsUnavailable"),
        super::utilization::types::OBJECTED => (false, "OptimizationObjected"),
        super::utilization::types::BUDGET_EXCLUDED => (true, "BudgetExcluded"),
        _ => return None,
    })
}

/// Events for what changed between `old` and `new`.
pub fn notices(old: &CloudResourceRequestStatus, new: &CloudResourceRequestStatus) -> Vec<Notice> {
    let mut out = Vec::new();
    if old.submitted_at.is_some()
        && new.submitted_at != old.submitted_at
        && new.phase == Some(RequestPhase::Submitted)
    {
        out.push(Notice {
            warning: false,
            reason: "Resubmitted",
            message: "the spec changed: resubmitted for review with a new review deadline".into(),
        });
    } else if let Some(phase) = new.phase.filter(|p| Some(*p) != old.phase) {
        out.push(phase_notice(phase, new));
    }
    if new.reviewed_approval != old.reviewed_approval
        && let Some(a) = new
            .reviewed_approval
            .as_ref()
            .filter(|a| a.decision == Decision::Approved)
        && new.phase != Some(RequestPhase::Approved)
    {
        let by = a.reviewer.clone().unwrap_or_else(|| "the bureau".into());
        out.push(Notice {
            warning: false,
            reason: "Approved",
            message: format!("approved by {by}"),
        });
    }
    for applied in new.applied_changes.iter().skip(old.applied_changes.len()) {
        out.push(Notice {
            warning: false,
            reason: "ChangeApplied",
            message: format!("ResourceChange {} applied to the grant", applied.name),
        });
    }
    for c in &new.conditions {
        if c.status == "True"
            && !conditions::is_true(&old.conditions, &c.type_)
            && let Some((warning, reason)) = condition_event(&c.type_)
        {
            out.push(Notice {
                warning,
                reason,
                message: c.message.clone(),
            });
        }
    }
    out
}

fn invalid_outcome(i: &Inputs<'_>, mut st: CloudResourceRequestStatus, message: String) -> Outcome {
    // Invalid wins over every other phase; nothing is created and nothing is removed.
    st.phase = Some(RequestPhase::Invalid);
    let mut wanted = vec![
        Wanted::no(types::READY, "Invalid", "the spec is invalid"),
        Wanted::yes(types::INVALID, "InvalidSpec", message),
    ];
    let provisioned = st.grant.is_some();
    if i.deleting && provisioned {
        wanted.push(Wanted::yes(
            types::DELETION_BLOCKED,
            "ExitRequired",
            deletion_blocked_message(&st),
        ));
    }
    st.conditions = conditions::merge(&i.status.conditions, wanted, i.now, Some(i.generation));
    st.observed_generation = Some(i.generation);
    st.next_deadline = None;
    let notices = notices(i.status, &st);
    Outcome {
        status: st,
        action: Action::None,
        wake_at: None,
        release_finalizer: i.deleting && !provisioned,
        notices,
        downsize: None,
        monitored: false,
    }
}

fn deletion_blocked_message(st: &CloudResourceRequestStatus) -> String {
    format!(
        "deleting this request does not delete tenant namespace {}: file an ExitRequest; the request is kept until the exit completes",
        st.tenant_namespace.clone().unwrap_or_default()
    )
}

/// Decides the request's next state.
pub fn decide(i: &Inputs<'_>) -> Outcome {
    if i.status.phase == Some(RequestPhase::Unrecognized) {
        // Issue 14: a phase only a newer release knows. Nothing is provisioned, suspended,
        // reclaimed, released or written; the request is reported and left as it is.
        return Outcome {
            status: i.status.clone(),
            action: Action::None,
            wake_at: None,
            release_finalizer: false,
            notices: vec![super::unknown::unknown_phase("CloudResourceRequest")],
            downsize: None,
            monitored: false,
        };
    }
    let rules = match i.policy {
        PolicyState::Ready(r) => r,
        unavailable => {
            // A granted request goes on by the rules recorded with its grant; only a
            // request without one waits for a valid policy.
            let Some((recorded, wanted)) =
                super::granted_rules::fallback(i.status, unavailable, i.calendar_gone)
            else {
                // The message used to quote the reason as if it were a policy name.
                let why = match unavailable {
                    PolicyState::Invalid(why) => why.to_string(),
                    PolicyState::Missing(name) => format!("GovCloudPolicy {name:?} not found"),
                    PolicyState::Ready(r) => format!("GovCloudPolicy {:?}", r.name),
                };
                return invalid_outcome(i, i.status.clone(), format!("spec.policy: {why}"));
            };
            let mut out = decide_by(i, &recorded);
            if !conditions::is_true(&i.status.conditions, types::POLICY_UNAVAILABLE) {
                out.notices.push(Notice {
                    warning: true,
                    reason: "PolicyUnavailable",
                    message: wanted.message.clone(),
                });
            }
            out.status
                .conditions
                .retain(|c| c.type_ != types::POLICY_UNAVAILABLE);
            out.status.conditions.extend(conditions::merge(
                &i.status.conditions,
                vec![wanted],
                i.now,
                Some(i.generation),
            ));
            return out;
        }
    };
    decide_by(i, rules)
}

/// Decides by `rules`: the policy's, or those recorded with the grant.
fn decide_by(i: &Inputs<'_>, rules: &Rules) -> Outcome {
    let now = i.now;
    let mut st = i.status.clone();
    let granted = st.grant.is_some();
    let generation_changed = st.observed_generation != Some(i.generation);
    // A spec edited before anything is granted is a resubmission (XB 20: the unit may resubmit).
    if st.submitted_at.is_none()
        || (generation_changed && !granted && st.observed_generation.is_some())
    {
        st.submitted_at = Some(now);
    }
    let reference = st.submitted_at.unwrap_or(now);
    let checked = validate(
        i.spec,
        rules,
        i.namespace,
        i.name,
        i.operator_namespace,
        reference,
        i.calendar,
    );
    let checked = match checked {
        Ok(c) => c,
        Err(errors) if !granted => {
            let message = errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ");
            return invalid_outcome(i, st, message);
        }
        Err(errors) => {
            // Already granted: the lifecycle runs on the grant; the bad edit is flagged.
            let message = errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ");
            let mut out = decide_lifecycle(i, rules, st, None);
            out.status.phase = Some(RequestPhase::Invalid);
            let wanted = vec![Wanted::yes(types::INVALID, "InvalidSpec", message)];
            let mut conds = out.status.conditions.clone();
            conds.retain(|c| c.type_ != types::INVALID);
            conds.extend(conditions::merge(
                &i.status.conditions,
                wanted,
                now,
                Some(i.generation),
            ));
            out.status.conditions = conds;
            out.notices = notices(i.status, &out.status);
            return out;
        }
    };
    decide_lifecycle(i, rules, st, Some(checked))
}

/// What one pass accumulates on its way to an [`Outcome`].
#[derive(Default)]
struct Pass {
    wanted: Vec<Wanted>,
    deadlines: RequestDeadlines,
    upcoming: Vec<(&'static str, DateTime<Utc>)>,
    action: Action,
    release_finalizer: bool,
    extra: Vec<Notice>,
    downsize: Option<(String, Amounts)>,
    monitored: bool,
    last_downsize: Option<DateTime<Utc>>,
}

fn decide_lifecycle(
    i: &Inputs<'_>,
    rules: &Rules,
    mut st: CloudResourceRequestStatus,
    checked: Option<Checked>,
) -> Outcome {
    let now = i.now;
    let mut clock = Clock {
        rules,
        calendar: i.calendar,
        gaps: Gaps::default(),
    };
    let verdict = take_decision(&mut st, i.generation, now);
    let mut p = Pass::default();
    let emergency = i.spec.emergency;

    if let Verdict::Stale(g) = verdict {
        p.wanted.push(Wanted::no(
            types::READY,
            "StaleDecision",
            format!("the decision in status.approval is for generation {g} but the spec is at generation {}: decide again", i.generation),
        ));
    }

    if st.grant.is_none() {
        // Not granted yet: review, decision, capacity.
        let checked = checked.as_ref();
        // XB 26: an emergency still waits for one decision (consent before opening); only
        // the paperwork comes later. It is reviewed within the policy's emergency period.
        let go = verdict == Verdict::Approved;
        // The review deadline is shown while the review lasts. Once approved it is gone:
        // it would be dropped anyway in the next pass (granted), and recording it in the
        // pass that grants would cost every activation a second status write.
        if !go {
            let submitted = st.submitted_at.unwrap_or(now);
            let review_by = match super::emergency::review_within(rules, emergency) {
                Some(d) => clock.add(submitted, d),
                None => rules
                    .review_periods()
                    .iter()
                    .fold(submitted, |t, d| clock.add(t, *d)),
            };
            p.deadlines.review_by = Some(review_by);
        }
        if i.deleting {
            st.phase = Some(match verdict {
                Verdict::Rejected => RequestPhase::Rejected,
                _ => RequestPhase::Submitted,
            });
            p.release_finalizer = true;
        } else if verdict == Verdict::Rejected {
            st.phase = Some(RequestPhase::Rejected);
            let why = st
                .reviewed_approval
                .as_ref()
                .and_then(|a| a.comment.clone())
                .unwrap_or_else(|| "no reason given".into());
            p.wanted.push(Wanted::no(
                types::READY,
                "Rejected",
                format!("rejected: {why}; edit the spec to resubmit"),
            ));
        } else if !go {
            st.phase = Some(RequestPhase::Submitted);
            let review_by = p.deadlines.review_by.unwrap_or(now);
            if now >= review_by {
                p.wanted.push(Wanted::yes(
                    types::REVIEW_OVERDUE,
                    "ReviewDeadlinePassed",
                    format!("no decision by {} (XB 20, SN 11)", review_by.to_rfc3339()),
                ));
            } else {
                p.upcoming.push(("reviewBy", review_by));
            }
            if !p.wanted.iter().any(|w| w.type_ == types::READY) {
                p.wanted.push(Wanted::no(
                    types::READY,
                    "AwaitingReview",
                    "waiting for the bureau's decision",
                ));
            }
        } else if let Some(checked) = checked {
            let provision_by = provision_deadline(&mut clock, rules, &st, emergency, now);
            p.deadlines.provision_by = provision_by;
            let over = rules
                .capacity
                .as_ref()
                .map(|cap| i.capacity_in_use.plus(&checked.requested).exceeding(cap))
                .unwrap_or_default();
            if !over.is_empty() {
                st.phase = Some(RequestPhase::Approved);
                let kinds: Vec<_> = over.iter().map(|k| k.key()).collect();
                p.wanted.push(Wanted::yes(
                    types::INSUFFICIENT_CAPACITY,
                    "PoolFull",
                    format!("the pool of policy {:?} has no room for this grant ({}); waiting for capacity to free", rules.name, kinds.join(", ")),
                ));
                p.wanted.push(Wanted::no(
                    types::READY,
                    "WaitingForCapacity",
                    "approved; waiting for capacity",
                ));
                overdue_provisioning(&mut p, provision_by, now);
            } else {
                // Reserve: record the grant before anything is created (crash-safe capacity).
                st.phase = Some(RequestPhase::Provisioning);
                st.grant = Some(checked.requested.to_api());
                st.granted_class = Some(i.spec.class);
                st.granted_duration = checked.duration.map(|d| d.to_string());
                st.tenant_namespace = Some(checked.tenant_namespace.clone());
                p.wanted.push(Wanted::no(
                    types::READY,
                    "Provisioning",
                    format!("provisioning tenant namespace {}", checked.tenant_namespace),
                ));
                p.action = Action::Reserve;
                // The reservation write exists to keep pool capacity across restarts;
                // without a pool limit the grant is recorded with the opening instead.
                if rules.capacity.is_none() && i.tenant.is_some() && !i.deleting {
                    p.wanted.clear();
                    lifecycle_granted(i, rules, &mut st, &mut clock, verdict, &mut p);
                }
            }
        }
    } else {
        lifecycle_granted(i, rules, &mut st, &mut clock, verdict, &mut p);
    }

    // Record the rules the grant lives by, once (at the grant, or on the first pass of a
    // grant made by an earlier release): they stay in force if the policy goes away.
    if st.grant.is_some() && st.granted_rules.is_none() && st.phase != Some(RequestPhase::Reclaimed)
    {
        st.granted_rules = Some(super::granted_rules::record(
            rules,
            st.granted_class.unwrap_or(i.spec.class),
        ));
    }
    // The spec no longer matches the grant: only a ResourceChange changes a grant.
    if let (Some(grant), Some(checked)) = (&st.grant, &checked) {
        let granted_amounts = Amounts::parse("status.grant", grant).unwrap_or_default();
        let class_changed = st.granted_class.is_some_and(|c| c != i.spec.class);
        if granted_amounts != checked.requested || class_changed {
            p.wanted.push(Wanted::yes(
                types::UNAPPLIED_SPEC_CHANGE,
                "GrantUnchanged",
                "the spec was edited after approval; the grant is unchanged: file a ResourceChange to change it".to_string(),
            ));
        }
    }
    // Issue 15: every deadline counted on unpublished data says so, naming the years.
    if let Some(w) = clock.gaps.calendar_incomplete() {
        p.wanted.push(w);
    }
    let has_ready = p.wanted.iter().any(|w| w.type_ == types::READY);
    if !has_ready {
        p.wanted
            .insert(0, Wanted::no(types::READY, "Pending", "in progress"));
    }
    st.conditions = conditions::settle(
        &i.status.conditions,
        std::mem::take(&mut p.wanted),
        now,
        i.generation,
    );
    st.observed_generation = Some(i.generation);
    let deadlines = std::mem::take(&mut p.deadlines);
    st.deadlines = (deadlines != RequestDeadlines::default()).then_some(deadlines);
    st.next_deadline = conditions::next_deadline(&mut p.upcoming);
    let wake_at = p.upcoming.iter().map(|(_, t)| *t).find(|t| *t > now);
    let mut notices = notices(i.status, &st);
    notices.extend(p.extra);
    Outcome {
        status: st,
        action: p.action,
        wake_at,
        release_finalizer: p.release_finalizer,
        notices,
        downsize: p.downsize,
        monitored: p.monitored,
    }
}

fn provision_deadline(
    clock: &mut Clock<'_>,
    rules: &Rules,
    st: &CloudResourceRequestStatus,
    emergency: bool,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if emergency {
        return None;
    }
    let from = match rules.provision_from {
        // Unrecognized never leaves `rules::resolve` (refused there): counted like the default.
        ProvisioningFrom::Approval | ProvisioningFrom::Unrecognized => st.decided_at.unwrap_or(now),
        // SH 19 ¶1: reviewed and opened within one window from the filing.
        ProvisioningFrom::Filing => st.submitted_at.unwrap_or(now),
    };
    Some(clock.add(from, rules.provision_within))
}

fn overdue_provisioning(p: &mut Pass, provision_by: Option<DateTime<Utc>>, now: DateTime<Utc>) {
    if let Some(by) = provision_by {
        if now >= by {
            p.wanted.push(Wanted::yes(
                types::PROVISIONING_OVERDUE,
                "ProvisioningDeadlinePassed",
                format!("resources not opened by {} (GY 7)", by.to_rfc3339()),
            ));
        } else {
            p.upcoming.push(("provisionBy", by));
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn lifecycle_granted(
    i: &Inputs<'_>,
    rules: &Rules,
    st: &mut CloudResourceRequestStatus,
    clock: &mut Clock<'_>,
    verdict: Verdict,
    p: &mut Pass,
) {
    let now = i.now;
    let emergency = i.spec.emergency;
    let namespace = st.tenant_namespace.clone().unwrap_or_default();
    let opened = st
        .billing
        .as_ref()
        .is_some_and(|b| b.started_at.is_some() && b.stopped_at.is_none());
    if opened && !i.exit_reclaim {
        apply_changes(i, rules, st, p);
    }
    let class = st.granted_class.unwrap_or(i.spec.class);
    let grant = st
        .grant
        .as_ref()
        .and_then(|g| Amounts::parse("status.grant", g).ok())
        .unwrap_or_default();
    let groups = i
        .spec
        .access
        .as_ref()
        .map(|a| a.groups.clone())
        .unwrap_or_default();
    let tenant_spec = |closed: bool| {
        tenant::desired(TenantInput {
            namespace: &namespace,
            request_namespace: i.namespace,
            request_name: i.name,
            request_uid: i.uid,
            zone: i.spec.system.zone.as_str(),
            class: class.as_str(),
            grant: &grant,
            groups: &groups,
            closed,
        })
    };
    let started = st.billing.as_ref().and_then(|b| b.started_at);
    let stopped = st.billing.as_ref().and_then(|b| b.stopped_at);
    let free = rules.class(class).is_some_and(|c| c.free);
    // A grant validated at cheaper prices may cost more than any sum of money at the
    // policy's current ones (issue 14): no figure is shown then, rather than a wrong one.
    let monthly = if free {
        Some("0.00".to_string())
    } else {
        grant.monthly_cost(&rules.prices).ok().map(format_money)
    };
    let billing = |started_at, stopped_at| Billing {
        started_at,
        stopped_at,
        monthly_cost: monthly.clone(),
        currency: Some(rules.currency.clone()),
    };

    if let Some(stopped) = stopped {
        st.phase = Some(RequestPhase::Reclaimed);
        st.billing = Some(billing(started, Some(stopped)));
        p.wanted.push(Wanted::no(
            types::READY,
            "Reclaimed",
            format!("tenant namespace {namespace} was reclaimed"),
        ));
        p.release_finalizer = i.deleting;
        return;
    }

    // GY 7: opening due after approval (kept once granted, as history).
    p.deadlines.provision_by = provision_deadline(clock, rules, st, emergency, now);
    let Some(started) = started else {
        // Granted, not yet active: provision.
        match &i.tenant {
            Some(TenantState::Foreign { owner_uid }) => {
                st.phase = Some(RequestPhase::Provisioning);
                p.wanted.push(Wanted::yes(
                    types::NAMESPACE_CONFLICT,
                    "NotOwned",
                    format!(
                        "namespace {namespace} exists and is not owned by this request (owner uid: {}); it is left untouched",
                        owner_uid.clone().unwrap_or_else(|| "none".into())
                    ),
                ));
                p.wanted.push(Wanted::no(
                    types::READY,
                    "NamespaceConflict",
                    format!("namespace {namespace} belongs to someone else"),
                ));
                overdue_provisioning(p, p.deadlines.provision_by, now);
                if i.deleting {
                    p.release_finalizer = true;
                }
            }
            Some(TenantState::Owned { terminating: true }) => {
                st.phase = Some(RequestPhase::Provisioning);
                p.wanted.push(Wanted::no(
                    types::READY,
                    "NamespaceTerminating",
                    format!("namespace {namespace} is being deleted; waiting"),
                ));
                overdue_provisioning(p, p.deadlines.provision_by, now);
            }
            _ if i.deleting => {
                // Deleted before it was ever active: nothing of the unit's is there.
                st.phase = Some(RequestPhase::Provisioning);
                p.release_finalizer = i.tenant == Some(TenantState::Absent);
                if !p.release_finalizer {
                    p.action = Action::Reclaim {
                        namespace: namespace.clone(),
                    };
                }
            }
            _ => {
                p.action = Action::Activate {
                    tenant: tenant_spec(false),
                    restore: BTreeMap::new(),
                };
                st.phase = Some(RequestPhase::Active);
                st.billing = Some(billing(Some(now), None));
                // Re-enter with the activation time for the deadlines.
                return lifecycle_granted_active(
                    i,
                    rules,
                    st,
                    clock,
                    verdict,
                    p,
                    now,
                    &tenant_spec,
                );
            }
        }
        return;
    };
    st.billing = Some(billing(Some(started), None));
    lifecycle_granted_active(i, rules, st, clock, verdict, p, started, &tenant_spec)
}

/// Folds approved ResourceChanges into the grant, in order (GY 9, SH 19, SH 23–24). A
/// change that would overflow the pool waits.
fn apply_changes(i: &Inputs<'_>, rules: &Rules, st: &mut CloudResourceRequestStatus, p: &mut Pass) {
    for change in i.pending_changes {
        if st.applied_changes.iter().any(|a| a.uid == change.uid) {
            continue;
        }
        let grant = st
            .grant
            .as_ref()
            .and_then(|g| Amounts::parse("status.grant", g).ok())
            .unwrap_or_default();
        let next = grant.overlay(&change.resources);
        if let Some(cap) = &rules.capacity {
            let over = i.capacity_in_use.plus(&next).exceeding(cap);
            if !over.is_empty() && !next.is_within(&grant) {
                p.wanted.push(Wanted::yes(
                    types::INSUFFICIENT_CAPACITY,
                    "ChangeWaitsForCapacity",
                    format!("ResourceChange {} does not fit the pool of policy {:?}; waiting for capacity", change.name, rules.name),
                ));
                return;
            }
        }
        if next != grant && next.is_within(&grant) {
            p.last_downsize = Some(i.now);
        }
        st.grant = Some(next.to_api());
        if let Some(class) = change.convert_to {
            st.granted_class = Some(class);
            if !class.is_time_boxed() {
                st.granted_duration = None;
                st.extended_to = None;
            }
        }
        if let Some(date) = change.extend_to {
            st.extended_to = Some(date.format("%Y-%m-%d").to_string());
        }
        st.applied_changes.push(crate::api::AppliedChange {
            name: change.name.clone(),
            uid: change.uid.clone(),
            applied_at: i.now,
        });
    }
}

#[allow(clippy::too_many_arguments)]
fn lifecycle_granted_active(
    i: &Inputs<'_>,
    rules: &Rules,
    st: &mut CloudResourceRequestStatus,
    clock: &mut Clock<'_>,
    verdict: Verdict,
    p: &mut Pass,
    started: DateTime<Utc>,
    tenant_spec: &dyn Fn(bool) -> TenantSpec,
) {
    let now = i.now;
    let namespace = st.tenant_namespace.clone().unwrap_or_default();
    let class = st.granted_class.unwrap_or(i.spec.class);
    let emergency = i.spec.emergency;

    // SN 11: deployment starts within deployment.within of allocation.
    let deploy_by = clock.add(started, rules.deploy_within);
    p.deadlines.deploy_by = Some(deploy_by);
    let deployed_before = conditions::find(&i.status.conditions, types::NOT_DEPLOYED)
        .is_some_and(|c| c.status == "False");
    let deployed = deployed_before || i.has_pods == Some(true);
    if deployed {
        p.wanted.push(Wanted::no(
            types::NOT_DEPLOYED,
            "Deployed",
            "workloads are running in the tenant namespace",
        ));
    } else if now >= deploy_by && i.has_pods == Some(false) {
        p.wanted.push(Wanted::yes(
            types::NOT_DEPLOYED,
            "NoPods",
            format!(
                "no pod in {namespace} by {} (SN 11)",
                deploy_by.to_rfc3339()
            ),
        ));
    } else if now < deploy_by {
        p.upcoming.push(("deployBy", deploy_by));
    }

    // XB 26: emergency paperwork.
    let mut rejected_after_grant = false;
    if emergency {
        let paperwork_by = clock.add(started, rules.paperwork_within);
        p.deadlines.paperwork_by = Some(paperwork_by);
        match verdict {
            Verdict::Rejected => rejected_after_grant = true,
            _ if super::emergency::paperwork_complete(st.approval.as_ref()) => {}
            _ => {
                p.wanted.push(Wanted::yes(
                    types::PAPERWORK_PENDING,
                    "AwaitingPaperwork",
                    format!(
                        "opened on the emergency fast track; paperwork due by {} \
                         (status.approval.paperworkComplete; XB 26)",
                        paperwork_by.to_rfc3339()
                    ),
                ));
                if now >= paperwork_by {
                    p.wanted.push(Wanted::yes(
                        types::PAPERWORK_OVERDUE,
                        "PaperworkDeadlinePassed",
                        format!(
                            "no paperwork by {} (XB 26, XB 39.5)",
                            paperwork_by.to_rfc3339()
                        ),
                    ));
                } else {
                    p.upcoming.push(("paperworkBy", paperwork_by));
                }
            }
        }
    } else if verdict == Verdict::Rejected {
        rejected_after_grant = true;
    }

    // Time-boxed classes (GY 7, SH 21–24).
    let mut expired = false;
    let mut reclaim_due = false;
    let mut reclaim_gaps = Gaps::default();
    if class.is_time_boxed()
        && let Some(limits) = rules.class(class)
    {
        {
            let granted: PolicyDuration = st
                .granted_duration
                .as_deref()
                .and_then(|d| d.parse().ok())
                .unwrap_or(limits.max_duration);
            let nominal = clock.counted(started, granted);
            let cap = clock.counted(started, limits.max_duration);
            // Issue 15: the years the reclaim deadline relied on without published data.
            let chosen = if nominal.at <= cap.at { nominal } else { cap };
            clock.note(&mut reclaim_gaps, started, chosen);
            let mut expires_at = chosen.at;
            if let Some(ext) = st
                .extended_to
                .as_deref()
                .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            {
                // A date the bureau granted: nothing counted.
                expires_at = deadline::end_of_day(ext, rules.time_zone);
                reclaim_gaps = Gaps::default();
            }
            let warn_at = clock.sub(expires_at, rules.warn_before).max(started);
            let reclaim = clock.counted(expires_at, rules.suspend_for);
            clock.note(&mut reclaim_gaps, expires_at, reclaim);
            let reclaim_at = reclaim.at;
            p.deadlines.expires_at = Some(expires_at);
            p.deadlines.warn_at = Some(warn_at);
            p.deadlines.reclaim_at = Some(reclaim_at);
            if let Some(notice) = limits.extension_notice_before {
                let by = clock.sub(expires_at, notice).max(started);
                p.deadlines.extension_request_by = Some(by);
                if now < by {
                    p.upcoming.push(("extensionRequestBy", by));
                }
            }
            expired = now >= expires_at;
            reclaim_due = now >= reclaim_at;
            if !expired {
                if now >= warn_at {
                    p.wanted.push(Wanted::yes(
                        types::EXPIRING_SOON,
                        "ExpiryNear",
                        format!(
                            "{} resources expire at {}; back up data now (SH 21, SH 26)",
                            class.as_str(),
                            expires_at.to_rfc3339()
                        ),
                    ));
                } else {
                    p.upcoming.push(("warnAt", warn_at));
                }
                p.upcoming.push(("expiresAt", expires_at));
            } else if !reclaim_due {
                p.upcoming.push(("reclaimAt", reclaim_at));
            }
        }
    }

    if i.deleting {
        p.wanted.push(Wanted::yes(
            types::DELETION_BLOCKED,
            "ExitRequired",
            deletion_blocked_message(st),
        ));
    }

    // Issue 15: no data wiped on a provisional count; the suspension below still holds.
    // An exit's reclamation is held by the exit itself (policy::exit).
    let hold = match reclaim_due && !i.exit_reclaim {
        true => reclaim_hold(&reclaim_gaps, i.status.approval.as_ref(), &rules.calendar),
        false => Hold::Proceed,
    };
    // Once the namespace is being deleted there is nothing left to hold.
    let hold = match hold {
        Hold::Held(_) if i.status.phase == Some(RequestPhase::Reclaiming) => Hold::Proceed,
        hold => hold,
    };
    p.extra.extend(override_notice(&i.status.conditions, &hold));
    let held = match hold {
        Hold::Proceed => false,
        Hold::Held(w) => {
            p.wanted.push(w);
            true
        }
        Hold::Overridden(w) => {
            p.wanted.push(w);
            false
        }
    };
    if (reclaim_due && !held) || i.exit_reclaim {
        match &i.tenant {
            Some(TenantState::Absent) => {
                st.phase = Some(RequestPhase::Reclaimed);
                if let Some(b) = st.billing.as_mut() {
                    b.stopped_at = Some(now);
                }
                p.wanted.retain(|w| {
                    w.type_ != types::DELETION_BLOCKED && w.type_ != types::NOT_DEPLOYED
                });
                p.wanted.push(Wanted::no(
                    types::READY,
                    "Reclaimed",
                    format!("tenant namespace {namespace} was reclaimed"),
                ));
                p.release_finalizer = i.deleting;
            }
            Some(TenantState::Foreign { .. }) => {
                st.phase = Some(RequestPhase::Reclaiming);
                p.wanted.push(Wanted::yes(
                    types::NAMESPACE_CONFLICT,
                    "NotOwned",
                    format!(
                        "namespace {namespace} is no longer owned by this request; not deleting it"
                    ),
                ));
            }
            _ => {
                st.phase = Some(RequestPhase::Reclaiming);
                let why = if i.exit_reclaim {
                    "the exit's transition ended with the backup confirmed"
                } else {
                    "the suspension period after expiry ended (SH 21)"
                };
                p.wanted.push(Wanted::no(
                    types::READY,
                    "Reclaiming",
                    format!("reclaiming {namespace}: {why}"),
                ));
                p.action = Action::Reclaim {
                    namespace: namespace.clone(),
                };
            }
        }
        return;
    }

    // Utilization (SN 14, GY 10, SH 25): measured only while the grant is open.
    let util = super::utilization::evaluate(&super::utilization::UtilizationInputs {
        rules,
        calendar: i.calendar,
        started,
        grant: &st
            .grant
            .as_ref()
            .and_then(|g| Amounts::parse("status.grant", g).ok())
            .unwrap_or_default(),
        previous: st.utilization.as_ref(),
        measured: if expired || rejected_after_grant {
            None
        } else {
            i.measured
        },
        objection: i.objection,
        last_downsize: p.last_downsize,
        now,
    });
    st.utilization = util.status;
    p.wanted.extend(util.wanted);
    p.extra.extend(util.notices);
    if let Some(at) = util.wake_at {
        p.upcoming.push(("respondBy", at));
    }
    if let (Some(target), Some(notice)) = (
        util.downsize,
        st.utilization.as_ref().and_then(|u| u.notice.as_ref()),
    ) {
        p.downsize = Some((
            format!("{}-auto-downsize-{}", i.name, notice.issued_at.timestamp()),
            target,
        ));
    }
    let neglected = util.suspend;
    p.monitored = !(expired || rejected_after_grant || neglected);

    if expired || rejected_after_grant || neglected {
        st.phase = Some(RequestPhase::Suspended);
        let (reason, why) = if expired {
            (
                "Expired",
                format!(
                    "the {} grant expired; reclaimed after {} unless extended (SH 21)",
                    class.as_str(),
                    rules.suspend_for
                ),
            )
        } else if rejected_after_grant {
            ("Rejected", "the bureau rejected the request after it was opened; data is kept, file an ExitRequest to release it".to_string())
        } else {
            ("UtilizationNoticeIgnored", "an optimization notice for low utilization was ignored: suspended (SH 25); data is kept".to_string())
        };
        p.wanted
            .push(Wanted::yes(types::SUSPENDED, reason, why.clone()));
        p.wanted.push(Wanted::no(types::READY, "Suspended", why));
        if !matches!(i.tenant, Some(TenantState::Foreign { .. })) {
            p.action = Action::Suspend {
                tenant: tenant_spec(true),
            };
        }
        return;
    }

    match &i.tenant {
        Some(TenantState::Foreign { owner_uid }) => {
            p.wanted.push(Wanted::yes(
                types::NAMESPACE_CONFLICT,
                "NotOwned",
                format!("namespace {namespace} is not owned by this request (owner uid: {}); left untouched", owner_uid.clone().unwrap_or_else(|| "none".into())),
            ));
            st.phase = Some(RequestPhase::Active);
        }
        _ => {
            st.phase = Some(RequestPhase::Active);
            let restore = std::mem::take(&mut st.suspended_replicas);
            if matches!(p.action, Action::None) || matches!(p.action, Action::Activate { .. }) {
                p.action = Action::Activate {
                    tenant: tenant_spec(false),
                    restore,
                };
            }
            p.wanted.push(Wanted::yes(
                types::READY,
                "Active",
                format!("tenant namespace {namespace} is active"),
            ));
        }
    }
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
