//! The one error of the reconcilers. Every step that calls the API server has its own
//! variant, carrying the kind of object the call was about and the API's error, so a
//! failure always says which step made it: "applying the ResourceQuota failed: …", not a
//! bare "forbidden". `kube::Error` does not convert into [`Error`] by itself (`?` will
//! not compile on it): each call names its step with [`During::during`].
//!
//! Two stable words describe an error for metrics labels and Event reasons, never object
//! names or error text: [`Error::step`] (which step failed) and [`Error::category`] (how:
//! `conflict`, `forbidden`, `terminating`, … from the API's answer).

/// Errors of a reconcile.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading what exists (the tenant namespace, its pods or owned objects) failed.
    #[error("reading the {0} failed: {1}")]
    Observe(&'static str, #[source] kube::Error),
    /// Adding or removing the request's finalizer failed.
    #[error("updating the finalizer of the {0} failed: {1}")]
    Finalizer(&'static str, #[source] kube::Error),
    /// Creating or applying the tenant namespace failed.
    #[error("creating or applying the tenant {0} failed: {1}")]
    Namespace(&'static str, #[source] kube::Error),
    /// Applying the tenant's ResourceQuota failed.
    #[error("applying the tenant's {0} failed: {1}")]
    Quota(&'static str, #[source] kube::Error),
    /// Applying the tenant's LimitRange failed.
    #[error("applying the tenant's {0} failed: {1}")]
    LimitRange(&'static str, #[source] kube::Error),
    /// Applying the tenant's RoleBinding failed.
    #[error("applying the tenant's {0} failed: {1}")]
    RoleBinding(&'static str, #[source] kube::Error),
    /// Applying the tenant's NetworkPolicy failed.
    #[error("applying the tenant's {0} failed: {1}")]
    NetworkPolicy(&'static str, #[source] kube::Error),
    /// Listing or scaling the tenant's workloads (suspend, resume) failed.
    #[error("scaling the tenant's {0} failed: {1}")]
    Scaling(&'static str, #[source] kube::Error),
    /// Writing the object's status failed.
    #[error("writing the status of the {0} failed: {1}")]
    Status(&'static str, #[source] kube::Error),
    /// Publishing an Event failed (logged; never fails a reconcile).
    #[error("publishing an Event on the {0} failed: {1}")]
    Event(&'static str, #[source] kube::Error),
    /// Deleting the tenant namespace (reclamation) failed.
    #[error("deleting the tenant {0} failed: {1}")]
    Deletion(&'static str, #[source] kube::Error),
    /// Filing an automatic ResourceChange (an ignored downsize notice) failed.
    #[error("filing the automatic {0} failed: {1}")]
    FileChange(&'static str, #[source] kube::Error),
    /// Writing, reading or removing a GovCloudRecord (the durable record, SN 31) failed.
    #[error("recording the step in a {0} failed: {1}")]
    Record(&'static str, #[source] kube::Error),
    /// An object lacks metadata the API server always sets (name, namespace, uid).
    #[error("object is missing {0}")]
    MissingMetadata(&'static str),
    /// A value could not be serialized for the API.
    #[error("cannot serialize: {0}")]
    Serialize(#[source] serde_json::Error),
    /// The reconcile panicked (a bug); caught by [`super::guard::reconcile`] so that only
    /// this object waits and retries (issue 14). The text is the panic's message, cut short.
    #[error("reconcile panicked: {0}")]
    Panic(String),
}

/// A step's variant: what [`During::during`] wraps an API error in.
pub type Step = fn(&'static str, kube::Error) -> Error;

/// Names the step of a failed API call.
pub trait During<T> {
    /// The API error as `step` of an object of `kind`, e.g.
    /// `api.patch(..).await.during(Error::Quota, "ResourceQuota")?`.
    fn during(self, step: Step, kind: &'static str) -> Result<T, Error>;
}

impl<T> During<T> for Result<T, kube::Error> {
    fn during(self, step: Step, kind: &'static str) -> Result<T, Error> {
        self.map_err(|e| step(kind, e))
    }
}

impl Error {
    /// The step that failed, a fixed word (a metrics label).
    pub fn step(&self) -> &'static str {
        match self {
            Error::Observe(..) => "observe",
            Error::Finalizer(..) => "finalizer",
            Error::Namespace(..) => "namespace",
            Error::Quota(..) => "quota",
            Error::LimitRange(..) => "limit-range",
            Error::RoleBinding(..) => "role-binding",
            Error::NetworkPolicy(..) => "network-policy",
            Error::Scaling(..) => "scaling",
            Error::Status(..) => "status",
            Error::Event(..) => "event",
            Error::Deletion(..) => "deletion",
            Error::FileChange(..) => "file-change",
            Error::Record(..) => "record",
            Error::MissingMetadata(_) => "metadata",
            Error::Serialize(_) => "serialize",
            Error::Panic(_) => "reconcile",
        }
    }

    /// How it failed, a fixed word (a metrics label): the API's answer for a failed call.
    pub fn category(&self) -> &'static str {
        match self.api_error() {
            Some(kube::Error::Api(e)) if e.code == 409 => "conflict",
            // Not a missing right: the namespace is being deleted and takes its objects
            // with it (the API server refuses new content there to everyone).
            Some(kube::Error::Api(e)) if e.code == 403 && namespace_terminating(e) => "terminating",
            Some(kube::Error::Api(e)) if e.code == 403 => "forbidden",
            Some(kube::Error::Api(e)) if e.code == 404 => "notfound",
            Some(kube::Error::Api(_)) => "apiserver",
            Some(_) => "transport",
            None => match self {
                Error::MissingMetadata(_) => "metadata",
                Error::Serialize(_) => "serialize",
                _ => "panic",
            },
        }
    }

    /// The reason of the Warning Event that reports the failure on the object: fixed
    /// per step.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Observe(..) => "ObserveFailed",
            Error::Finalizer(..) => "FinalizerFailed",
            Error::Namespace(..) => "NamespaceFailed",
            Error::Quota(..) => "QuotaFailed",
            Error::LimitRange(..) => "LimitRangeFailed",
            Error::RoleBinding(..) => "RoleBindingFailed",
            Error::NetworkPolicy(..) => "NetworkPolicyFailed",
            Error::Scaling(..) => "ScalingFailed",
            Error::Status(..) => "StatusFailed",
            Error::Event(..) => "EventFailed",
            Error::Deletion(..) => "DeletionFailed",
            Error::FileChange(..) => "FileChangeFailed",
            Error::Record(..) => "RecordFailed",
            Error::MissingMetadata(_) => "MissingMetadata",
            Error::Serialize(_) => "SerializeFailed",
            Error::Panic(_) => super::guard::PANICKED,
        }
    }

    /// The kind of object the failed call was about (`None` when no call failed).
    pub fn kind(&self) -> Option<&'static str> {
        match self {
            Error::Observe(k, _)
            | Error::Finalizer(k, _)
            | Error::Namespace(k, _)
            | Error::Quota(k, _)
            | Error::LimitRange(k, _)
            | Error::RoleBinding(k, _)
            | Error::NetworkPolicy(k, _)
            | Error::Scaling(k, _)
            | Error::Status(k, _)
            | Error::Event(k, _)
            | Error::Deletion(k, _)
            | Error::FileChange(k, _)
            | Error::Record(k, _) => Some(k),
            Error::MissingMetadata(_) | Error::Serialize(_) | Error::Panic(_) => None,
        }
    }

    /// The API's error, for a failed call.
    pub fn api_error(&self) -> Option<&kube::Error> {
        match self {
            Error::Observe(_, e)
            | Error::Finalizer(_, e)
            | Error::Namespace(_, e)
            | Error::Quota(_, e)
            | Error::LimitRange(_, e)
            | Error::RoleBinding(_, e)
            | Error::NetworkPolicy(_, e)
            | Error::Scaling(_, e)
            | Error::Status(_, e)
            | Error::Event(_, e)
            | Error::Deletion(_, e)
            | Error::FileChange(_, e)
            | Error::Record(_, e) => Some(e),
            Error::MissingMetadata(_) | Error::Serialize(_) | Error::Panic(_) => None,
        }
    }

    /// Whether the failure is worth a Warning Event on the object: not a conflict (an
    /// optimistic-concurrency retry, routine) and not an unreachable API server (the
    /// Event could not be written either; the log and metrics say it).
    pub fn reported_on_object(&self) -> bool {
        !matches!(self.category(), "conflict" | "transport" | "terminating")
    }

    /// Whether the failure is routine and says nothing is wrong with the operator or the
    /// cluster: the object's namespace is going, with the object (logged at info, not
    /// as a warning).
    pub fn routine(&self) -> bool {
        self.category() == "terminating"
    }
}

/// Whether the API server refused the call because the namespace is being deleted
/// (`403` with the cause `NamespaceTerminating`).
fn namespace_terminating(status: &kube::core::Status) -> bool {
    status
        .details
        .as_ref()
        .is_some_and(|d| d.causes.iter().any(|c| c.reason == "NamespaceTerminating"))
}

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
