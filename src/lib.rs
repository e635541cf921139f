//! govcloud-operator: the management rules of municipal government clouds (政务云) as
//! Kubernetes custom resources.
//!
//! - [`api`]: the CRD types (the contract in DESIGN.md).
//! - [`policy`]: the pure core — durations, the statutory working-day calendar, presets and
//!   every lifecycle decision. No kube client and no I/O live there.
//! - [`operator`], [`health`], [`metrics`], [`telemetry`], [`cli`]: the running process.
//! - [`plugin`]: `kubectl govcloud`, the kubectl plugin for approvers and vendors.
#![forbid(unsafe_code)]

pub mod api;
pub mod cli;
pub mod controller;
pub mod crds;
pub mod health;
pub mod metrics;
pub mod operator;
pub mod plugin;
pub mod policy;
pub mod telemetry;
pub mod watch;
