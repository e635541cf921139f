//! Changes and exits judge their request's status (a change waits to appear in
//! `status.appliedChanges`, an exit for `Reclaimed`), so each request event wakes the ones
//! still waiting on it.
//!
//! The wake comes from the request watch, after its store took the event: a wake sent by
//! the request reconciler right after its status write could reach a change or exit whose
//! reconcile still reads the old request from the store, decide "not yet", and then sleep
//! until its next deadline.

use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;

use super::Context;
use crate::api::{ChangePhase, CloudResourceRequest, ExitPhase, ExitRequest, ResourceChange};

/// Wakes the changes and exits naming `request` that a new status of it may move on.
pub fn wake_waiting_on(ctx: &Context, request: &CloudResourceRequest) {
    let Some(namespace) = request.namespace() else {
        return;
    };
    let name = request.name_any();
    for change in ctx.stores.changes_of(&namespace, &name) {
        if waits_on_request_change(&change) {
            let _ = ctx.wakes.changes.send(ObjectRef::from_obj(change.as_ref()));
        }
    }
    for exit in ctx.stores.exits_of(&namespace, &name) {
        if waits_on_request_exit(&exit) {
            let _ = ctx.wakes.exits.send(ObjectRef::from_obj(exit.as_ref()));
        }
    }
}

/// A change not yet applied or refused (a fresh one has no phase yet).
fn waits_on_request_change(change: &ResourceChange) -> bool {
    !change
        .status
        .as_ref()
        .and_then(|s| s.phase)
        .is_some_and(ChangePhase::is_final)
}

/// An exit not yet completed or refused.
fn waits_on_request_exit(exit: &ExitRequest) -> bool {
    !exit
        .status
        .as_ref()
        .and_then(|s| s.phase)
        .is_some_and(ExitPhase::is_final)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ExitRequestSpec, ExitRequestStatus, ResourceChangeStatus};

    fn exit_in(phase: Option<ExitPhase>) -> ExitRequest {
        let mut exit = ExitRequest::new(
            "leave",
            ExitRequestSpec {
                request: "portal".into(),
                reason: None,
                last_used_on: None,
                data_disposition: None,
            },
        );
        exit.status = Some(ExitRequestStatus {
            phase,
            ..Default::default()
        });
        exit
    }

    #[test]
    fn exits_still_moving_are_woken_and_settled_ones_are_not() {
        for phase in [
            None,
            Some(ExitPhase::Submitted),
            Some(ExitPhase::Approved),
            Some(ExitPhase::Transition),
            Some(ExitPhase::Reclaiming),
            Some(ExitPhase::Invalid),
        ] {
            assert!(waits_on_request_exit(&exit_in(phase)), "{phase:?}");
        }
        for phase in [
            ExitPhase::Completed,
            ExitPhase::Rejected,
            ExitPhase::Unrecognized,
        ] {
            assert!(!waits_on_request_exit(&exit_in(Some(phase))), "{phase:?}");
        }
    }

    #[test]
    fn changes_still_moving_are_woken_and_settled_ones_are_not() {
        let change_in = |phase| {
            let mut change: ResourceChange = serde_json::from_value(serde_json::json!({
                "apiVersion": "govcloud.io/v1alpha1",
                "kind": "ResourceChange",
                "metadata": {"name": "smaller", "namespace": "a"},
                "spec": {"request": "portal"},
            }))
            .expect("a change");
            change.status = Some(ResourceChangeStatus {
                phase,
                ..Default::default()
            });
            change
        };
        for phase in [
            None,
            Some(ChangePhase::Submitted),
            Some(ChangePhase::Approved),
            Some(ChangePhase::Invalid),
        ] {
            assert!(waits_on_request_change(&change_in(phase)), "{phase:?}");
        }
        for phase in [
            ChangePhase::Applied,
            ChangePhase::Rejected,
            ChangePhase::Unrecognized,
        ] {
            assert!(
                !waits_on_request_change(&change_in(Some(phase))),
                "{phase:?}"
            );
        }
    }
}
