//! The custom resources of `govcloud.io/v1alpha1` — the contract in DESIGN.md.
//!
//! One file per kind. Field names, phases and condition types are part of the public API:
//! users' manifests, approvers' `kubectl patch` commands and GitOps health checks rely on
//! them. Descriptions on every field feed `kubectl explain`.
//!
//! The schema says what a schema can (enums, ranges, required fields, string patterns);
//! everything it cannot say on a 1.20 API server (no CEL) is validated by the operator in
//! `policy::request::validate`, with messages that name the field.

// kube's `printcolumn(name = .., type_ = ..)` repeats keys across columns by design;
// clippy reads those as duplicated attributes.
#![allow(clippy::duplicated_attributes)]

mod calendar;
mod change;
mod common;
mod exit;
mod granted;
mod policy;
mod policy_admission;
mod record;
mod request;
mod tenant_rules;
mod utilization;

pub use calendar::*;
pub use change::*;
pub use common::*;
pub use exit::*;
pub use granted::*;
pub use policy::*;
pub use policy_admission::*;
pub use record::*;
pub use request::*;
pub use tenant_rules::*;
pub use utilization::*;

/// The API group of every kind.
pub const GROUP: &str = "govcloud.io";
/// The served and stored version.
pub const VERSION: &str = "v1alpha1";
