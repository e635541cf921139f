//! I/O-free indexes the operator keeps beside its watch stores, so that a reconcile looks
//! things up instead of scanning every object (issue 11). Each is fed by the operator's
//! watch events and tested here without a cluster.
//!
//! - [`by_request`]: ResourceChanges and ExitRequests by the request they name.
//! - [`resolved`]: policies resolved into rules, and composed calendars, by the
//!   resourceVersions they were built from.
//! - [`namespace_view`]: a namespace reduced to what the controllers and the webhook read.
//! - [`tenant_objects`]: the objects the operator owns in each tenant namespace, as last
//!   seen (drift checks and allocation figures without a GET).

pub mod by_request;
pub mod namespace_view;
pub mod resolved;
pub mod tenant_objects;
