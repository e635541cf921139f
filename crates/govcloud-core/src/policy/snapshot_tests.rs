use chrono::TimeZone;

use super::*;
use crate::api::ReclaimOverride;

/// A spec: what is asked, and a confirmation the binding leaves out.
#[derive(Debug, Clone, PartialEq)]
struct Spec {
    ask: &'static str,
    confirmed: bool,
}

fn whole(s: &Spec) -> Spec {
    s.clone()
}

fn without_confirmation(s: &Spec) -> Spec {
    Spec {
        confirmed: false,
        ..s.clone()
    }
}

fn approval(generation: Option<i64>) -> Approval {
    Approval {
        decision: Decision::Approved,
        reviewer: Some("alice".into()),
        comment: None,
        decided_at: None,
        generation,
        reclaim_override: None,
        paperwork_complete: None,
    }
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 2, 0, 0).unwrap()
}

struct Obj {
    spec: Spec,
    generation: i64,
    observed: Option<i64>,
    approval: Option<Approval>,
    record: Record<Spec>,
    binding: fn(&Spec) -> Spec,
}

impl Obj {
    fn new(ask: &'static str) -> Self {
        Obj {
            spec: Spec {
                ask,
                confirmed: false,
            },
            generation: 1,
            observed: None,
            approval: None,
            record: Record {
                reviewed: None,
                approved_spec: None,
                approved_generation: None,
                decided_at: None,
            },
            binding: whole,
        }
    }
    /// One pass of the operator: binds, records, and shows the current generation.
    fn pass(&mut self) -> Verdict<Spec> {
        let (verdict, record) = bind(Inputs {
            approval: self.approval.as_ref(),
            record: self.record.clone(),
            generation: self.generation,
            observed_generation: self.observed,
            spec: &self.spec,
            binding: self.binding,
            now: now(),
        });
        self.record = record;
        self.observed = Some(self.generation);
        verdict
    }
    fn edit(&mut self, ask: &'static str) {
        self.spec.ask = ask;
        self.generation += 1;
    }
}

#[test]
fn an_approval_copies_the_spec_it_approves() {
    let mut o = Obj::new("3 cpu");
    assert_eq!(o.pass(), Verdict::Undecided);
    o.approval = Some(approval(None));
    assert_eq!(o.pass(), Verdict::Approved(o.spec.clone()));
    assert_eq!(o.record.approved_spec, Some(o.spec.clone()));
    assert_eq!(o.record.approved_generation, Some(1));
    assert_eq!(o.record.decided_at, Some(now()));
}

#[test]
fn a_bare_approval_of_a_never_seen_unedited_spec_applies() {
    let mut o = Obj::new("3 cpu");
    o.approval = Some(approval(None));
    assert_eq!(o.pass(), Verdict::Approved(o.spec.clone()));
}

#[test]
fn an_edit_after_approval_voids_it_until_a_new_decision() {
    let mut o = Obj::new("3 cpu");
    o.pass();
    o.approval = Some(approval(None));
    o.pass();
    o.edit("48 cpu");
    let v = o.pass();
    assert!(matches!(v, Verdict::Stale(_)), "{v:?}");
    assert!(condition(&v).is_some_and(|w| w.type_ == types::APPROVAL_STALE));
    // It stays void on every later pass, though the operator has now shown the edit.
    assert!(matches!(o.pass(), Verdict::Stale(_)));
    // Put back as approved: the approval stands again.
    o.edit("3 cpu");
    assert!(matches!(o.pass(), Verdict::Approved(s) if s.ask == "3 cpu"));
    // A new decision for the current generation binds the current spec.
    o.edit("48 cpu");
    o.pass();
    o.approval = Some(approval(Some(o.generation)));
    assert!(matches!(o.pass(), Verdict::Approved(s) if s.ask == "48 cpu"));
}

#[test]
fn a_bare_approval_patched_while_the_operator_was_stopped_then_edited_is_stale() {
    // The operator showed generation 1, then stopped; the approver approved without a
    // generation and the applicant edited the spec before the operator came back.
    let mut o = Obj::new("3 cpu");
    o.pass();
    o.approval = Some(approval(None));
    o.edit("48 cpu");
    let v = o.pass();
    assert!(matches!(v, Verdict::Stale(_)), "{v:?}");
    assert_eq!(o.record.approved_spec, None, "nothing to act on");
    // Not on the next pass either, when generation 2 has been shown.
    assert!(matches!(o.pass(), Verdict::Stale(_)));
}

#[test]
fn a_decision_for_another_generation_is_stale() {
    let mut o = Obj::new("3 cpu");
    o.pass();
    o.edit("4 cpu");
    o.pass();
    o.approval = Some(approval(Some(1)));
    assert!(matches!(o.pass(), Verdict::Stale(_)));
    assert_eq!(o.record.approved_spec, None);
}

#[test]
fn a_reclaim_override_re_decides_nothing() {
    let mut o = Obj::new("exit");
    o.pass();
    o.approval = Some(approval(None));
    o.pass();
    let decided = o.record.clone();
    o.approval = o.approval.clone().map(|mut a| {
        a.reclaim_override = Some(ReclaimOverride {
            reason: "data backed up".into(),
            by: Some("alice".into()),
        });
        a
    });
    assert!(matches!(o.pass(), Verdict::Approved(_)));
    assert_eq!(o.record, decided);
}

#[test]
fn what_the_binding_leaves_out_may_change_after_approval() {
    let mut o = Obj::new("exit");
    o.binding = without_confirmation;
    o.pass();
    o.approval = Some(approval(None));
    o.pass();
    o.spec.confirmed = true;
    o.generation += 1;
    assert!(matches!(o.pass(), Verdict::Approved(_)));
    o.edit("another request");
    assert!(matches!(o.pass(), Verdict::Stale(_)));
}

#[test]
fn a_withdrawn_decision_leaves_nothing_approved() {
    let mut o = Obj::new("3 cpu");
    o.approval = Some(approval(None));
    o.pass();
    o.approval = None;
    assert_eq!(o.pass(), Verdict::Undecided);
    assert_eq!(o.record.approved_spec, None);
}
