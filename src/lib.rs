//! govcloud-operator: the management rules of municipal government clouds (政务云) as
//! Kubernetes custom resources.
//!
//! This crate is the operator process. The workspace's crates are its architecture:
//!
//! - `govcloud-core` ([`api`], [`policy`]): the CRD types and the pure rules —
//!   durations, the statutory working-day calendar, presets and every lifecycle decision.
//!   It has no kube client or runtime dependency, so the compiler keeps it pure.
//! - this crate: [`controller`]s, [`watch`]es, [`operator`] wiring, [`health`],
//!   [`metrics`], [`telemetry`], [`cli`].
//! - `kubectl-govcloud`: the kubectl plugin for approvers and vendors (core + kube's
//!   client; it never depends on this crate).
#![forbid(unsafe_code)]

pub use govcloud_core::{api, index, policy};

pub mod admission;
pub mod cli;
pub mod controller;
pub mod crds;
pub mod decode;
pub mod health;
pub mod metrics;
pub mod object_metrics;
pub mod operator;
pub mod telemetry;
pub mod watch;
