//! The pure core: no kube client, no I/O.
//!
//! - [`duration`]: the duration strings of policies (`5wd`, `30d`, `3mo`, `90s`).
//! - [`calendar`]: the statutory working-day calendar (embedded 2024–2026, `WorkCalendar`
//!   overrides).
//! - [`provisional`]: the statutory holidays of a year without a notice (the law alone).
//! - [`deadline`]: deadline arithmetic on that calendar (Civil Code arts. 200–204).

pub mod admission;
pub mod calendar;
pub mod calendar_day;
pub mod calendars;
pub mod capacity;
pub mod change;
mod change_notices;
mod change_validate;
pub mod conditions;
pub mod deadline;
pub mod duration;
pub mod emergency;
pub mod exit;
pub mod granted_rules;
pub mod hardening;
pub mod hold;
pub mod measurement;
pub mod notice;
pub mod policy_state;
pub mod provisional;
pub mod quantity;
pub mod record;
pub mod record_verify;
pub mod request;
pub mod rules;
pub mod snapshot;
pub mod tenant;
pub mod unknown;
pub mod utilization;

#[cfg(test)]
mod cost_overflow_tests;
#[cfg(test)]
mod no_panic_gen;
#[cfg(test)]
mod no_panic_tests;
#[cfg(test)]
mod no_panic_world;
#[cfg(test)]
mod preset_deadlines_change_exit_tests;
#[cfg(test)]
mod preset_deadlines_tests;
#[cfg(test)]
mod record_tests;
