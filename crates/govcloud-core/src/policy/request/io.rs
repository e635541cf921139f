//! What a request decision takes and gives: its inputs, the action on the cluster, the
//! outcome.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::PolicyState;
use crate::api::{CloudResourceRequestSpec, CloudResourceRequestStatus};
use crate::policy::calendar::Calendar;
use crate::policy::duration::PolicyDuration;
use crate::policy::quantity::Amounts;
use crate::policy::tenant::TenantSpec;

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
    /// The policy the spec names (the default policy when it names none). A granted
    /// request lives by its recorded policy; a differing name is only flagged.
    pub spec_policy: &'a str,
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
    pub pending_changes: &'a [crate::policy::change::GrantChange],
    /// A fresh utilization measurement, when one was taken this pass.
    pub measured: Option<&'a crate::policy::utilization::Measured>,
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
    /// Write the status (the grant is recorded) and come back to provision: a new grant
    /// whose tenant namespace is not applied in this pass (not looked up yet, someone
    /// else's, or still terminating).
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
    pub notices: Vec<super::Notice>,
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
