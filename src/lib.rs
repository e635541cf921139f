//! govcloud-operator: the management rules of municipal government clouds (政务云) as
//! Kubernetes custom resources.
//!
//! - [`api`]: the CRD types (the contract in DESIGN.md).
//! - [`policy`]: the pure core — durations, the statutory working-day calendar, presets and
//!   every lifecycle decision. No kube client and no I/O live there.
#![forbid(unsafe_code)]

pub mod api;
pub mod crds;
pub mod policy;
