//! `kubectl govcloud`: the kubectl plugin for bureau approvers and vendors.
//!
//! kubectl 1.20 (the version of the project's control plane) has no `patch
//! --subresource=status`, so an approver could not record a decision with kubectl alone;
//! the plugin does it, and shows what awaits review, a request's timeline, a report per
//! applicant unit, and working-day arithmetic on the statutory calendar.
//!
//! - [`cli`]: the command line (clap).
//! - [`run`]: the commands against the cluster (the only I/O).
//! - [`pending`], [`describe`], [`report`], [`calendar`], [`calendar_show`],
//!   [`calendar_import`]: pure selection, sorting, aggregation, checking and formatting,
//!   unit-tested without a cluster; [`calendar_run`]: `calendar show` and `import`
//!   against the cluster.
//! - [`audit`] (pure) and [`audit_run`]: the operation record, `audit` and `audit verify`.
//! - [`kind`]: `KIND/NAME` parsing; [`format`]: times, spans, tables; [`zones`]: which
//!   time zone to show an object's times in.

pub mod audit;
pub mod audit_run;
pub mod calendar;
pub mod calendar_import;
pub mod calendar_run;
pub mod calendar_show;
pub mod cli;
pub mod cluster;
pub mod describe;
pub mod format;
pub mod kind;
pub mod out;
pub mod pending;
pub mod report;
pub mod run;
pub mod zones;

pub use cli::Cli;
pub use run::{FORBIDDEN_DECIDE, Failure, run};

#[cfg(test)]
mod audit_tests;
