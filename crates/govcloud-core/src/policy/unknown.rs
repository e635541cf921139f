//! Phases only a newer release knows (issue 14). After a rollback, objects keep the
//! phases the newer release wrote; they decode as `Unrecognized`, and every decision
//! leaves such an object — and the changes and exits of such a request — exactly as it
//! is: no provisioning, suspension, reclamation, finalizer release or status write. A
//! rollback must not undo what the newer release did. Each is reported (Event reason
//! [`UNKNOWN_PHASE`]) so someone rolls forward or fixes the phase.

use super::notice::Notice;
use crate::api::{CloudResourceRequest, RequestPhase};

/// The Event reason of an object left alone for its unknown phase.
pub const UNKNOWN_PHASE: &str = "UnknownPhase";

/// The notice for an object of `kind` (itself, or the request it refers to) whose phase
/// this release does not know.
pub fn unknown_phase(kind: &str) -> Notice {
    Notice {
        warning: true,
        reason: UNKNOWN_PHASE,
        message: format!(
            "the {kind}'s status.phase is unknown to this operator release (written by a newer one?): left untouched until it is upgraded again"
        ),
    }
}

/// The kind whose phase stops a change or exit decision: `kind` when the object's own
/// phase is unknown to this release (`own`), `CloudResourceRequest` when its request's is.
pub fn unrecognized(
    kind: &'static str,
    own: bool,
    request: Option<&CloudResourceRequest>,
) -> Option<&'static str> {
    if own {
        Some(kind)
    } else if request
        .and_then(|r| r.status.as_ref())
        .and_then(|s| s.phase)
        == Some(RequestPhase::Unrecognized)
    {
        Some("CloudResourceRequest")
    } else {
        None
    }
}

#[cfg(test)]
#[path = "unknown_tests.rs"]
mod tests;
