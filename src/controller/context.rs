//! The parts of the reconcilers' [`Context`](super::Context), grouped by what they are:
//! the watch stores, the wake channels, and what is kept about each object between
//! reconciles.

use std::collections::HashMap;
use std::sync::Mutex;

use k8s_openapi::api::core::v1::Namespace;
use kube::runtime::reflector::Store;

use super::{Wake, measure};
use crate::api::{CloudResourceRequest, ExitRequest, GovCloudPolicy, ResourceChange, WorkCalendar};

/// The stores the watches fill: every decision reads the cluster from here.
pub struct Stores {
    /// GovCloudPolicy objects.
    pub policies: Store<GovCloudPolicy>,
    /// WorkCalendar objects.
    pub calendars: Store<WorkCalendar>,
    /// CloudResourceRequest objects.
    pub requests: Store<CloudResourceRequest>,
    /// ResourceChange objects.
    pub changes: Store<ResourceChange>,
    /// ExitRequest objects.
    pub exits: Store<ExitRequest>,
    /// Managed namespaces (label `govcloud.io/managed=true`), from the namespace watch.
    pub namespaces: Store<Namespace>,
}

/// The channels that make a controller look at an object again.
pub struct Wakes {
    /// Requests (capacity freed, a change approved, an exit due).
    pub requests: Wake<CloudResourceRequest>,
    /// Changes (applied by their request).
    pub changes: Wake<ResourceChange>,
    /// Exits (their request changed phase).
    pub exits: Wake<ExitRequest>,
}

/// What the operator keeps about each object between its reconciles (forgotten when the
/// object goes, see [`super::prune`]).
#[derive(Default)]
pub struct ObjectBook {
    /// Per-object retry counts for the error backoff.
    pub retries: Mutex<HashMap<String, u32>>,
    /// Each request's (by UID) measurement schedule and the measurement waiting for its
    /// reconcile (see [`measure`]).
    pub measurements: Mutex<HashMap<String, measure::Measurement>>,
    /// When each tenant (by request UID) was last checked against its applied hash.
    pub verified_at: Mutex<HashMap<String, std::time::Instant>>,
}
