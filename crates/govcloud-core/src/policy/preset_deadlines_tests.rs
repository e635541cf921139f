//! Every deadline each shipped preset sets, pinned by a table written by hand from the
//! articles and the published 2026 calendar (RULES.md) — not computed by the code under test.
//!
//! # Convention (deadline.rs, Civil Code arts. 201, 203)
//!
//! Times are Beijing time (every preset has `timeZone: Asia/Shanghai`). "Within N wd" of an
//! event ends at 24:00 of the N-th working day after the event's day (the event's day never
//! counts, whatever its hour or kind); `Nd` / `Nmo` end at 24:00 of the corresponding day,
//! moved to the next working day when that is a weekend or holiday; `0d` is the event
//! instant. "N wd before" an end at 24:00 of day E is 00:00 of the N-th working day counted
//! back from E (E included): N working days remain. The table writes 24:00 of a day as
//! `DATE 24:00`.
//!
//! # The 2026 calendar used (State Council notice; RULES.md)
//!
//! Spring Festival: Feb 15–23 off, Saturdays Feb 14 and Feb 28 are working days. Working days
//! after Thu Feb 12: Feb 13, 14*, 24, 25, 26, 27, 28*, Mar 2, 3, 4, 5, 6, 9 …
//! National Day: Sep 25–27 and Oct 1–7 off, Sun Sep 20 and Sat Oct 10 are working days.
//! Working days after Wed Sep 30: Oct 8, 9, 10*, 12, 13, 14, 15, 16, 19, 20, 21, 22 …
//! 2027 has no published calendar: deadlines there are weekdays only (and flagged).
//!
//! Events used throughout: filings F1 = Thu 2026-02-12 10:00 and F2 = Wed 2026-09-30 18:00;
//! decisions A1 = Fri 2026-02-13 16:00 and A2 = Fri 2026-10-09 11:00.
//!
//! Changes and exits: `preset_deadlines_change_exit_tests.rs`, same convention and events.

use chrono::{DateTime, Duration, NaiveDateTime, TimeZone, Utc};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::calendar::Calendar;
use super::deadline;
use super::duration::PolicyDuration;
use super::quantity::Amounts;
use super::request::{self, PolicyState, TenantState};
use super::rules::{Rules, resolve};
use crate::api::{
    Approval, Billing, CloudResourceRequest, CloudResourceRequestSpec, CloudResourceRequestStatus,
    Decision, GovCloudPolicy, RequestClass, RequestPhase, ResourceAmounts, SystemInfo, Zone,
};

pub(super) const F1: &str = "2026-02-12 10:00";
pub(super) const F2: &str = "2026-09-30 18:00";
pub(super) const A1: &str = "2026-02-13 16:00";
pub(super) const A2: &str = "2026-10-09 11:00";

/// Beijing local `YYYY-MM-DD HH:MM`, where `24:00` is the end of that day.
pub(super) fn at(text: &str) -> DateTime<Utc> {
    let (text, late) = match text.strip_suffix("24:00") {
        Some(day) => (format!("{day}00:00"), Duration::days(1)),
        None => (text.to_string(), Duration::zero()),
    };
    let naive = NaiveDateTime::parse_from_str(&text, "%Y-%m-%d %H:%M")
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        + late;
    chrono_tz::Asia::Shanghai
        .from_local_datetime(&naive)
        .unwrap()
        .with_timezone(&Utc)
}

pub(super) fn preset(name: &str) -> Rules {
    let path = format!(
        "{}/../../examples/policies/{name}.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let p: GovCloudPolicy = serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    resolve(name, &p.spec).unwrap_or_else(|e| panic!("{name}: {e:?}"))
}

pub(super) fn q(cpu: &str, mem: &str) -> ResourceAmounts {
    ResourceAmounts {
        cpu: Some(IntOrString::String(cpu.into())),
        memory: Some(IntOrString::String(mem.into())),
        ..Default::default()
    }
}

pub(super) fn request_spec(policy: &str, class: RequestClass) -> CloudResourceRequestSpec {
    CloudResourceRequestSpec {
        policy: Some(policy.into()),
        class,
        applicant_unit: "财政局".into(),
        user_unit: None,
        system: SystemInfo {
            name: "portal".into(),
            security_level: 2,
            zone: Zone::Internet,
        },
        project: None,
        resources: q("8", "32Gi"),
        duration: None,
        workload: None,
        emergency: false,
        migration: None,
        access: None,
        tenant_namespace: None,
    }
}

/// A granted, opened request, as changes and exits find it.
pub(super) fn opened(policy: &str, class: RequestClass) -> CloudResourceRequest {
    let mut r = CloudResourceRequest::new("portal", request_spec(policy, class));
    r.status = Some(CloudResourceRequestStatus {
        phase: Some(RequestPhase::Active),
        grant: Some(q("8", "32Gi")),
        granted_class: Some(class),
        billing: Some(Billing {
            started_at: Some(at("2026-01-05 10:00")),
            ..Default::default()
        }),
        ..Default::default()
    });
    r
}

pub(super) fn approved(decided: &str) -> Option<Approval> {
    Some(Approval {
        decision: Decision::Approved,
        reviewer: Some("reviewer".into()),
        comment: None,
        decided_at: Some(at(decided)),
        generation: None,
        reclaim_override: None,
        paperwork_complete: None,
    })
}

pub(super) fn check(what: &str, preset: &str, event: &str, got: Option<DateTime<Utc>>, want: &str) {
    assert_eq!(
        got,
        Some(at(want)),
        "{preset}: {what} for {event} should be {want} (got {:?})",
        got.map(|t| t.with_timezone(&chrono_tz::Asia::Shanghai).to_rfc3339())
    );
}

/// A new request's review and opening deadlines, from the real request decision.
/// Rows: preset, filed, approved, reviewBy, provisionBy.
#[test]
fn requests_reviewed_and_opened() {
    const ROWS: &[(&str, &str, &str, &str, &str)] = &[
        // GY: acceptWithin 5wd + decideWithin 5wd (XB 20 values) from filing; GY 7: opened
        // within 5 wd of approval.
        ("guiyang", F1, A1, "2026-03-04 24:00", "2026-02-27 24:00"),
        ("guiyang", F2, A2, "2026-10-20 24:00", "2026-10-15 24:00"),
        // YX: 5 + 5 wd (XB 20 values); opened 5 wd after approval (GY 7 value).
        ("yixing", F1, A1, "2026-03-04 24:00", "2026-02-27 24:00"),
        ("yixing", F2, A2, "2026-10-20 24:00", "2026-10-15 24:00"),
        // SN 11: accept 5 wd (XB 20 value) + opinion 2 wd = 7 wd — ends on make-up Sat Feb 28.
        ("suining", F1, A1, "2026-02-28 24:00", "2026-02-27 24:00"),
        ("suining", F2, A2, "2026-10-15 24:00", "2026-10-15 24:00"),
        // XB 20(2): accept 5 wd + opinion 5 wd; opening 5 wd after approval.
        (
            "xishuangbanna",
            F1,
            A1,
            "2026-03-04 24:00",
            "2026-02-27 24:00",
        ),
        (
            "xishuangbanna",
            F2,
            A2,
            "2026-10-20 24:00",
            "2026-10-15 24:00",
        ),
        // SH 19 ¶1: reviewed AND opened within 5 wd of filing — one window, whatever the
        // approval date.
        ("shanghai", F1, A1, "2026-02-26 24:00", "2026-02-26 24:00"),
        ("shanghai", F2, A2, "2026-10-13 24:00", "2026-10-13 24:00"),
    ];
    let calendar = Calendar::cn_statutory();
    for &(name, filed, decided, review_by, provision_by) in ROWS {
        let rules = preset(name);
        let spec = request_spec(name, RequestClass::Production);
        let in_use = Amounts::default();
        let decide = |status: &CloudResourceRequestStatus, now| {
            request::decide(&request::Inputs {
                name: "portal",
                namespace: "unit-finance",
                uid: "uid-1",
                spec_policy: spec.policy.as_deref().unwrap_or("default"),
                generation: 1,
                spec: &spec,
                status,
                deleting: false,
                policy: PolicyState::Ready(&rules),
                calendar: &calendar,
                calendar_gone: None,
                operator_namespace: "govcloud-system",
                tenant: Some(TenantState::Absent),
                has_pods: None,
                capacity_in_use: &in_use,
                exit_reclaim: false,
                pending_changes: &[],
                measured: None,
                objection: None,
                now,
            })
            .status
        };
        let submitted = decide(&CloudResourceRequestStatus::default(), at(filed));
        let got = submitted.deadlines.as_ref().and_then(|d| d.review_by);
        check("reviewBy", name, filed, got, review_by);
        let mut status = submitted;
        status.approval = approved(decided);
        let granted = decide(&status, at(decided));
        let got = granted.deadlines.as_ref().and_then(|d| d.provision_by);
        check("provisionBy", name, decided, got, provision_by);
    }
}

/// Deadlines counted from the opening or the expiry of a granted request (request.rs:
/// deployBy, paperworkBy = opening + period; expiresAt = opening + class maximum;
/// extensionRequestBy, warnAt = expiry − period; reclaimAt = expiry + suspendFor), using
/// the same deadline arithmetic on the preset's resolved rules.
#[test]
fn granted_request_deadlines() {
    let calendar = Calendar::cn_statutory();
    let add = |r: &Rules, from: &str, d: PolicyDuration| {
        Some(deadline::add(at(from), d, &calendar, r.time_zone).at)
    };
    let sub = |r: &Rules, from: &str, d: PolicyDuration| {
        Some(deadline::sub(at(from), d, &calendar, r.time_zone).at)
    };
    let class = |r: &Rules, c: RequestClass| r.class(c).cloned().unwrap();
    for name in ["guiyang", "yixing", "suining", "xishuangbanna", "shanghai"] {
        let r = preset(name);
        // SN 11 (all presets): deployment starts within 10 wd of the opening.
        let deploy = |o| add(&r, o, r.deploy_within);
        check("deployBy", name, F1, deploy(F1), "2026-03-04 24:00");
        check("deployBy", name, F2, deploy(F2), "2026-10-20 24:00");
        // XB 26 with XB 20's 5 wd (all presets): emergency paperwork within 5 wd of opening.
        let paper = |o| add(&r, o, r.paperwork_within);
        check("paperworkBy", name, F1, paper(F1), "2026-02-26 24:00");
        check("paperworkBy", name, F2, paper(F2), "2026-10-13 24:00");
        // SH 22-24 (all presets): development and emergency ≤ 3 mo, temporary ≤ 6 mo.
        let o = "2026-01-15 10:00";
        for (c, want) in [
            (RequestClass::Development, "2026-04-15 24:00"),
            (RequestClass::Emergency, "2026-04-15 24:00"),
            (RequestClass::Temporary, "2026-07-15 24:00"),
        ] {
            let got = add(&r, o, class(&r, c).max_duration);
            check(&format!("{c:?} expiresAt"), name, o, got, want);
            let got = add(&r, F1, class(&r, c).max_duration);
            let want = match c {
                // Feb 12 + 3 mo = Tue May 12; + 6 mo = Wed Aug 12.
                RequestClass::Temporary => "2026-08-12 24:00",
                _ => "2026-05-12 24:00",
            };
            check(&format!("{c:?} expiresAt"), name, F1, got, want);
        }
        // Test class: GY 7 (and the YX, SN, XB presets) ≤ 30 natural days; SH 19 ¶2 1 month.
        let test = class(&r, RequestClass::Test).max_duration;
        let (jan, feb) = if name == "shanghai" {
            // Jan 15 + 1 mo = Sun Feb 15 (holiday) → Tue Feb 24; Feb 12 + 1 mo = Thu Mar 12.
            ("2026-02-24 24:00", "2026-03-12 24:00")
        } else {
            // Jan 15 + 30 d = make-up Sat Feb 14 (a working day); Feb 12 + 30 d = Sat Mar 14
            // → Mon Mar 16.
            ("2026-02-14 24:00", "2026-03-16 24:00")
        };
        check("Test expiresAt", name, o, add(&r, o, test), jan);
        check("Test expiresAt", name, F1, add(&r, F1, test), feb);
        // SH 23/24 (all presets): extension requested ≥ 15 wd before expiry. Expiry at the
        // end of Fri Mar 6: 15 wd back (Mar 6…2, Feb 28*, 27…24, 14*, 13…10) starts Feb 10.
        // Expiry at the end of Fri Oct 23: back to Sep 29 (Oct 23…19, 16…12, 10*, 9, 8,
        // Sep 30, 29).
        for c in [RequestClass::Emergency, RequestClass::Temporary] {
            let notice = class(&r, c).extension_notice_before.unwrap();
            let what = format!("{c:?} extensionRequestBy");
            let e1 = "2026-03-06 24:00";
            check(&what, name, e1, sub(&r, e1, notice), "2026-02-10 00:00");
            let e2 = "2026-10-23 24:00";
            check(&what, name, e2, sub(&r, e2, notice), "2026-09-29 00:00");
        }
        // Expiry warning 20 wd before (all presets: SH 21 ¶2 "in advance", 5 wd ahead of
        // the 15-wd extension deadline): from Mar 6 back to Tue Feb 3; from Oct 23 back to
        // Mon Sep 21 (make-up Sun Sep 20 would be the 21st).
        let e1 = "2026-03-06 24:00";
        check(
            "warnAt",
            name,
            e1,
            sub(&r, e1, r.warn_before),
            "2026-02-03 00:00",
        );
        let e2 = "2026-10-23 24:00";
        check(
            "warnAt",
            name,
            e2,
            sub(&r, e2, r.warn_before),
            "2026-09-21 00:00",
        );
        // Reclaimed after a suspension: GY 5 wd (GY 11's window), the others 10 wd (SH 21 ¶1).
        let e3 = "2026-09-24 24:00";
        let (after_e1, after_e3) = if name == "guiyang" {
            ("2026-03-13 24:00", "2026-10-09 24:00")
        } else {
            ("2026-03-20 24:00", "2026-10-15 24:00")
        };
        check("reclaimAt", name, e1, add(&r, e1, r.suspend_for), after_e1);
        check("reclaimAt", name, e3, add(&r, e3, r.suspend_for), after_e3);
    }
}

/// Utilization monitoring (utilization.rs: monitored from opening + graceAfterActive; a
/// notice is answered within respondWithin; averaged over `window`).
#[test]
fn utilization_deadlines() {
    let calendar = Calendar::cn_statutory();
    for name in ["guiyang", "yixing", "suining", "xishuangbanna", "shanghai"] {
        let r = preset(name);
        let u = &r.utilization;
        let add = |from: &str, d| Some(deadline::add(at(from), d, &calendar, r.time_zone).at);
        // SN 14 (all presets): monitored from 3 mo after the opening.
        let o = "2026-01-15 10:00";
        check(
            "monitoredFrom",
            name,
            o,
            add(o, u.grace_after_active),
            "2026-04-15 24:00",
        );
        check(
            "monitoredFrom",
            name,
            F1,
            add(F1, u.grace_after_active),
            "2026-05-12 24:00",
        );
        // GY 10 ¶2-3 (all presets): optimize or object within 5 wd of the notice.
        check(
            "respondBy",
            name,
            F1,
            add(F1, u.respond_within),
            "2026-02-26 24:00",
        );
        check(
            "respondBy",
            name,
            F2,
            add(F2, u.respond_within),
            "2026-10-13 24:00",
        );
        // SN 14 (all presets): averaged monthly, over 30 natural days.
        assert_eq!(
            super::utilization::window_seconds(u.window),
            30 * 86_400,
            "{name}: window"
        );
    }
}

/// GY 9's 100,000 CNY is read per year by every preset and by the default for a policy
/// that leaves it out (GY 15/16 bill and settle per year).
#[test]
fn gy9_threshold_is_per_year_everywhere() {
    let per_year = Some(rust_decimal::Decimal::from(100_000) / rust_decimal::Decimal::from(12));
    let default = resolve("empty", &crate::api::GovCloudPolicySpec::default()).unwrap();
    assert_eq!(default.justification_monthly_cost, per_year, "default");
    for name in ["guiyang", "yixing", "suining", "xishuangbanna", "shanghai"] {
        let r = preset(name);
        assert_eq!(r.justification_monthly_cost, per_year, "{name}");
        assert_eq!(
            r.justification_ratio,
            Some(rust_decimal::Decimal::new(30, 2)),
            "{name}"
        );
    }
}
