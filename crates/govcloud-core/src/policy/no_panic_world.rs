//! The generated worlds of the no-panic property (issue 14): which JSON pointer of each
//! object gets which kind of generated field, and one policy, calendar, request, change,
//! exit and moment put together.

use chrono::DateTime;
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::no_panic_gen::*;

const POLICY_FIELDS: &[(&str, F)] = &[
    ("/spec/timeZone", F::TimeZone),
    ("/spec/calendar", F::Name),
    ("/spec/review/acceptWithin", F::Duration),
    ("/spec/review/decideWithin", F::Duration),
    ("/spec/provisioning/within", F::Duration),
    ("/spec/deployment/within", F::Duration),
    ("/spec/classes/Test/maxDuration", F::Duration),
    ("/spec/classes/Test/free", F::Bool),
    ("/spec/classes/Development/maxProjectShare", F::Percent),
    ("/spec/classes/Development/maxDuration", F::Duration),
    ("/spec/classes/Development/free", F::Bool),
    ("/spec/classes/Emergency/extensionNoticeBefore", F::Duration),
    ("/spec/classes/Temporary/maxDuration", F::Duration),
    ("/spec/classes/Temporary/maxProjectShare", F::Percent),
    ("/spec/expiry/warnBefore", F::Duration),
    ("/spec/expiry/suspendFor", F::Duration),
    ("/spec/changes/reviewWithin", F::Duration),
    ("/spec/changes/applyWithin", F::Duration),
    ("/spec/changes/autoApproveScaleDown", F::Bool),
    ("/spec/changes/justificationAbove/monthlyCost", F::Money),
    ("/spec/changes/justificationAbove/ratio", F::Percent),
    ("/spec/changes/escalateAboveProjectQuota", F::Percent),
    ("/spec/exit/reviewWithin", F::Duration),
    ("/spec/exit/transition", F::Duration),
    ("/spec/exit/submitWithin", F::Duration),
    ("/spec/emergency/paperworkWithin", F::Duration),
    ("/spec/utilization/graceAfterActive", F::Duration),
    ("/spec/utilization/window", F::Duration),
    ("/spec/utilization/respondWithin", F::Duration),
    ("/spec/utilization/onIgnored", F::OnIgnored),
    ("/spec/utilization/largeFree", F::Quantity),
    ("/spec/utilization/low/cpu", F::Percent),
    ("/spec/utilization/low/storageWithLargeFree", F::Percent),
    ("/spec/utilization/high/memory", F::Percent),
    ("/spec/utilization/high/storage", F::Percent),
];

const REQUEST_FIELDS: &[(&str, F)] = &[
    ("/spec/class", F::Class),
    ("/spec/duration", F::Duration),
    ("/spec/emergency", F::Bool),
    ("/spec/tenantNamespace", F::Name),
    ("/spec/project/quota/cpu", F::Quantity),
    ("/spec/project/quota/memory", F::Quantity),
    ("/spec/project/quota/publicIPs", F::Quantity),
    ("/spec/system/name", F::Name),
    ("/metadata/name", F::Name),
    ("/status/phase", F::RequestPhase),
    ("/status/approval/decision", F::Decision),
    ("/status/approval/generation", F::Int),
    ("/status/approvedGeneration", F::Int),
    ("/status/rejectedGeneration", F::Int),
    ("/status/decidedAt", F::Time),
    ("/status/submittedAt", F::Time),
    ("/status/grantedClass", F::Class),
    ("/status/grantedDuration", F::Duration),
    ("/status/extendedTo", F::Date),
    ("/status/tenantNamespace", F::Name),
    ("/status/deadlines/reviewBy", F::Time),
    ("/status/deadlines/provisionBy", F::Time),
    ("/status/deadlines/deployBy", F::Time),
    ("/status/deadlines/warnAt", F::Time),
    ("/status/deadlines/expiresAt", F::Time),
    ("/status/deadlines/extensionRequestBy", F::Time),
    ("/status/deadlines/reclaimAt", F::Time),
    ("/status/billing/startedAt", F::Time),
    ("/status/billing/stoppedAt", F::Time),
    ("/status/billing/monthlyCost", F::Money),
    ("/status/utilization/takenAt", F::Time),
    ("/status/utilization/source", F::Text),
    ("/status/utilization/monitoredFrom", F::Time),
    ("/status/utilization/level", F::Text),
    ("/status/utilization/allocation/cpu", F::Ratio),
    ("/status/utilization/allocation/memory", F::Ratio),
    ("/status/utilization/allocation/storage", F::Ratio),
    ("/status/utilization/allocation/storageFree", F::Quantity),
    ("/status/utilization/usage/cpu", F::Ratio),
    ("/status/utilization/notice/issuedAt", F::Time),
    ("/status/utilization/notice/respondBy", F::Time),
    ("/status/utilization/notice/outcome", F::Outcome),
    ("/status/utilization/notice/objection", F::Text),
    ("/status/utilization/allocation/cpu", F::Ratio),
    ("/status/utilization/allocation/memory", F::Ratio),
    ("/status/utilization/usage/memory", F::Ratio),
];

const CHANGE_FIELDS: &[(&str, F)] = &[
    ("/spec/extendTo", F::Date),
    ("/spec/convertTo", F::Class),
    ("/spec/justification", F::Text),
    ("/spec/recurring", F::Bool),
    ("/status/phase", F::ChangePhase),
    ("/status/approval/decision", F::Decision),
    ("/status/approval/generation", F::Int),
    ("/status/approvedGeneration", F::Int),
    ("/status/decidedAt", F::Time),
    ("/status/submittedAt", F::Time),
    ("/status/appliedAt", F::Time),
    ("/status/deadlines/reviewBy", F::Time),
    ("/status/deadlines/applyBy", F::Time),
];

const EXIT_FIELDS: &[(&str, F)] = &[
    ("/spec/lastUsedOn", F::Date),
    ("/spec/dataDisposition/backupConfirmed", F::Bool),
    ("/status/phase", F::ExitPhase),
    ("/status/approval/decision", F::Decision),
    ("/status/approval/generation", F::Int),
    ("/status/approvedGeneration", F::Int),
    ("/status/decidedAt", F::Time),
    ("/status/submittedAt", F::Time),
    ("/status/completedAt", F::Time),
    ("/status/deadlines/reviewBy", F::Time),
    ("/status/deadlines/transitionEndsAt", F::Time),
    ("/status/deadlines/reclaimBy", F::Time),
];

/// One generated world: a policy, a calendar, a request, a change, an exit, a moment.
#[derive(Debug, Clone)]
pub(super) struct World {
    pub(super) policy: Value,
    pub(super) calendar: Value,
    pub(super) request: Value,
    pub(super) change: Value,
    pub(super) exit: Value,
    pub(super) now: Value,
    pub(super) extra: Vec<(Value, Value)>,
    pub(super) flags: [bool; 6],
    pub(super) tenant: u8,
    pub(super) measured: Option<[Value; 6]>,
    pub(super) started: Value,
}

pub(super) fn world() -> impl Strategy<Value = World> {
    let policy = (
        0..POLICIES.len(),
        prop::option::weighted(0.8, prices()),
        prop::option::weighted(0.3, amounts()),
        overrides(POLICY_FIELDS, 8),
    )
        .prop_map(|(i, prices, capacity, fields)| {
            let mut p = example(POLICIES[i]);
            if let Some(prices) = prices {
                set(&mut p, "/spec/prices", prices);
            }
            if let Some(c) = capacity {
                set(&mut p, "/spec/capacity", c);
            }
            for (path, v) in fields {
                set(&mut p, path, v);
            }
            p
        });
    let calendar = prop::collection::vec(
        (
            -300i64..3000,
            prop::collection::vec((value(F::Date), any::<bool>()), 0..4),
        ),
        0..3,
    )
    .prop_map(|years| {
        json!({
            "apiVersion": "govcloud.io/v1alpha1",
            "kind": "WorkCalendar",
            "metadata": {"name": "local"},
            "spec": {"years": years.into_iter().map(|(y, days)| json!({
                "year": y,
                "days": days.into_iter().map(|(d, off)| json!({"date": d, "name": "x", "isOffDay": off})).collect::<Vec<_>>(),
            })).collect::<Vec<_>>()},
        })
    });
    let request = (
        0..REQUESTS.len(),
        amounts(),
        prop::option::weighted(0.7, amounts()),
        overrides(REQUEST_FIELDS, 16),
    )
        .prop_map(|(i, resources, grant, fields)| {
            let mut r = example(REQUESTS[i]);
            set(&mut r, "/metadata/uid", json!("uid-request"));
            set(&mut r, "/metadata/generation", json!(1));
            set(&mut r, "/spec/resources", resources);
            if let Some(g) = grant {
                set(&mut r, "/status/grant", g);
            }
            for (path, v) in fields {
                set(&mut r, path, v);
            }
            fill_required(&mut r);
            r
        });
    let change = (
        prop::option::weighted(0.8, amounts()),
        overrides(CHANGE_FIELDS, 6),
    )
        .prop_map(|(resources, fields)| {
            let mut c = json!({
                "apiVersion": "govcloud.io/v1alpha1",
                "kind": "ResourceChange",
                "metadata": {"name": "c", "namespace": "unit-finance", "uid": "uid-change", "generation": 1},
                "spec": {"request": "tax-portal"},
            });
            if let Some(r) = resources {
                set(&mut c, "/spec/resources", r);
            }
            for (path, v) in fields {
                set(&mut c, path, v);
            }
            fill_required(&mut c);
            c
        });
    let exit = overrides(EXIT_FIELDS, 6).prop_map(|fields| {
        let mut e = json!({
            "apiVersion": "govcloud.io/v1alpha1",
            "kind": "ExitRequest",
            "metadata": {"name": "e", "namespace": "unit-finance", "uid": "uid-exit", "generation": 1},
            "spec": {"request": "tax-portal"},
        });
        for (path, v) in fields {
            set(&mut e, path, v);
        }
        fill_required(&mut e);
        e
    });
    let now = prop_oneof![
        3 => (1_700_000_000i64..2_000_000_000).prop_map(|s| DateTime::from_timestamp(s, 0).map(|t| json!(t.to_rfc3339())).unwrap_or(Value::Null)),
        1 => timestamp(),
    ];
    let extra = prop::collection::vec((value(F::Duration), value(F::Time)), 0..3);
    let measured = prop::option::weighted(0.5, prop::array::uniform6(value(F::Ratio)));
    let started = value(F::Time);
    (
        (policy, calendar, request, change, exit),
        (now, extra, any::<[bool; 6]>(), 0u8..4, measured, started),
    )
        .prop_map(
            |(
                (policy, calendar, request, change, exit),
                (now, extra, flags, tenant, measured, started),
            )| {
                World {
                    policy,
                    calendar,
                    request,
                    change,
                    exit,
                    now,
                    extra,
                    flags,
                    tenant,
                    measured,
                    started,
                }
            },
        )
}

pub(super) fn decimal(v: &Value) -> Option<Decimal> {
    v.as_str().and_then(|s| s.parse().ok())
}
