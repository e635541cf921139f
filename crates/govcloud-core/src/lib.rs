//! The pure core of govcloud-operator.
//!
//! - [`api`]: the CRD types (the contract in DESIGN.md).
//! - [`policy`]: durations, the statutory working-day calendar, policy presets, deadlines,
//!   tenant object building and every lifecycle decision: given (object, related objects,
//!   policy, now) → desired status, desired children, next wake-up.
//! - [`index`]: lookups kept beside the watch stores (changes and exits by request,
//!   resolved policies and calendars by resourceVersion).
//!
//! This crate depends on kube-core's types and kube-derive's macro only — never on kube's
//! client or runtime — and does no I/O, so everything here is tested without a cluster.
#![forbid(unsafe_code)]

pub mod api;
pub mod index;
pub mod policy;
