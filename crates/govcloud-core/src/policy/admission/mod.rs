//! Admission decisions for writes of CloudResourceRequests, ResourceChanges and
//! ExitRequests (issue 12): who asked, who decided, and the writes RBAC cannot refuse.
//!
//! Pure functions over the old and new objects (as JSON, so a malformed object is a
//! refusal and never a decode panic), the caller's userInfo, the operator's own username
//! and what the operator's caches know ([`Facts`]). The operator's webhook server
//! (`src/admission/`) turns them into AdmissionResponses.
//!
//! - [`mutate`]: stamps `govcloud.io/requested-by` on create and the reviewer, time and
//!   generation of every new `status.approval`.
//! - [`validate`]: refuses what must never pass (self-approval, status forged by anyone
//!   but the operator, the tenant-protection finalizer removed, emergencies the policy
//!   does not allow, retargeting, `system:` groups, tenant namespaces outside the naming
//!   rule). Each refusal names its rule and article.
//! - [`guard_record`]: GovCloudRecords are append-only; only the operator writes them.

mod records;
mod refuse;
mod stamp;
#[cfg(test)]
mod tests;

use serde_json::Value;

pub use kube_core::admission::Operation;
pub use records::{RECORDS_RESOURCE, RECORDS_RULE, RecordWrite, guard_record, is_record_resource};
pub use refuse::{service_external_ips, validate};
pub use stamp::{mutate, requested_by};

use crate::api::GovCloudPolicySpec;

/// Annotation recording who created the object: `{"username", "uid", "groups"}` from the
/// admission request's userInfo. Only the operator may change or remove it.
pub const REQUESTED_BY_ANNOTATION: &str = "govcloud.io/requested-by";
/// The request's finalizer: the tenant namespace is released before the request goes.
pub const TENANT_PROTECTION_FINALIZER: &str = "govcloud.io/tenant-protection";

/// The kinds the webhook decides on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// CloudResourceRequest.
    Request,
    /// ResourceChange.
    Change,
    /// ExitRequest.
    Exit,
}

impl Kind {
    /// The kind of the resource with this plural name in `govcloud.io`.
    pub fn from_resource(group: &str, plural: &str) -> Option<Kind> {
        if group != crate::api::GROUP {
            return None;
        }
        match plural {
            "cloudresourcerequests" => Some(Kind::Request),
            "resourcechanges" => Some(Kind::Change),
            "exitrequests" => Some(Kind::Exit),
            _ => None,
        }
    }

    /// The kind's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Request => "CloudResourceRequest",
            Kind::Change => "ResourceChange",
            Kind::Exit => "ExitRequest",
        }
    }
}

/// Who is writing (the admission request's userInfo).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    /// The authenticated username.
    pub username: String,
    /// The user's UID, when the authenticator gives one.
    pub uid: Option<String>,
    /// The user's groups.
    pub groups: Vec<String>,
}

/// One write under review.
#[derive(Debug, Clone)]
pub struct Write<'a> {
    /// The kind written.
    pub kind: Kind,
    /// CREATE, UPDATE, DELETE or CONNECT.
    pub operation: Operation,
    /// `status` for the status subresource, else `None`.
    pub subresource: Option<&'a str>,
    /// The object before the write (UPDATE, DELETE).
    pub old: Option<&'a Value>,
    /// The object after the write (CREATE, UPDATE).
    pub new: Option<&'a Value>,
    /// Who writes.
    pub caller: &'a Caller,
    /// The operator's own username: its writes pass (1.20 has no matchConditions to
    /// exclude it in the webhook configuration).
    pub operator: &'a str,
}

impl Write<'_> {
    /// Whether the operator itself writes.
    pub fn by_operator(&self) -> bool {
        !self.operator.is_empty() && self.caller.username == self.operator
    }

    fn on_status(&self) -> bool {
        self.subresource == Some("status")
    }
}

/// What a tenant namespace name stands for in the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamespaceUse {
    /// No such namespace.
    Absent,
    /// A namespace managed for the request `namespace/name`.
    Tenant {
        /// The owning request's namespace.
        namespace: String,
        /// The owning request's name.
        name: String,
    },
    /// A namespace not managed for any request.
    Other,
}

/// What the operator's caches know, for the rules that need more than the write.
pub struct Facts<'a> {
    /// The policy of the request written (`spec.policy` or the default), `None` when it
    /// does not exist.
    pub policy: Option<&'a GovCloudPolicySpec>,
    /// The policy's name (for messages).
    pub policy_name: &'a str,
    /// What a namespace name stands for.
    pub namespace: &'a dyn Fn(&str) -> NamespaceUse,
}

/// Why a write is refused: the rule, what was wrong, and the article it enforces.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{rule}: {message}")]
pub struct Refusal {
    /// A short name of the rule, e.g. `self-approval`.
    pub rule: &'static str,
    /// What is wrong, with the article.
    pub message: String,
}

impl Refusal {
    pub(crate) fn new(rule: &'static str, message: impl Into<String>) -> Self {
        Self {
            rule,
            message: message.into(),
        }
    }
}

/// The policy a request object names (`spec.policy`), or `default`.
pub fn policy_name<'a>(object: Option<&'a Value>, default: &'a str) -> &'a str {
    object
        .and_then(|o| o.pointer("/spec/policy"))
        .and_then(Value::as_str)
        .unwrap_or(default)
}

/// The object's annotation `key`, `Err` when `metadata.annotations` is not a map of strings.
pub(crate) fn annotation<'a>(object: &'a Value, key: &str) -> Result<Option<&'a str>, Refusal> {
    match object.pointer("/metadata/annotations") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => match m.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(malformed(format!("annotation {key} is not a string"))),
        },
        Some(_) => Err(malformed("metadata.annotations is not a map")),
    }
}

/// The object's finalizers, `Err` when `metadata.finalizers` is not a list of strings.
pub(crate) fn finalizers(object: &Value) -> Result<Vec<&str>, Refusal> {
    match object.pointer("/metadata/finalizers") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|f| {
                f.as_str()
                    .ok_or_else(|| malformed("metadata.finalizers holds a non-string"))
            })
            .collect(),
        Some(_) => Err(malformed("metadata.finalizers is not a list")),
    }
}

pub(crate) fn malformed(what: impl std::fmt::Display) -> Refusal {
    Refusal::new(
        "malformed",
        format!("the object cannot be read: {what}; nothing is admitted that cannot be checked"),
    )
}
