//! Generators for the no-panic property tests (issue 14): JSON values for every kind of
//! field the CRD schemas carry — and the extremes they admit or a 1.20 server lets
//! through — to be deserialized into the API types the way the operator receives them.

use chrono::DateTime;
use proptest::prelude::*;
use serde_json::{Value, json};

/// What a generated field holds.
#[derive(Debug, Clone, Copy)]
pub(super) enum F {
    Quantity,
    Money,
    Percent,
    Duration,
    Date,
    Time,
    Name,
    Bool,
    Int,
    Text,
    Class,
    RequestPhase,
    ChangePhase,
    ExitPhase,
    Decision,
    TimeZone,
    OnIgnored,
    Ratio,
    Outcome,
}

/// Quantities at and beyond the edges the schema lets through (an int-or-string field
/// carries no pattern on a 1.20 API server).
pub(super) const EXTREME_QUANTITIES: &[&str] = &[
    "1E",
    "1Ei",
    "8Ei",
    "9Ei",
    "999999999999999999",
    "0.000000001",
    "0.0000000000000000000000000001",
    "1e18",
    "1e19",
    "1000P",
    "1024Pi",
    "79228162514264337593543950335",
    "0",
    "1",
    "500m",
    "1m",
    "128Gi",
    "1.5",
];

/// Prices at the edge of the schema's `^[0-9]{1,12}(\.[0-9]{1,4})?$` and beyond it.
pub(super) const EXTREME_MONEY: &[&str] = &[
    "999999999999",
    "999999999999.9999",
    "80000000000",
    "100000000000",
    "0.0001",
    "0",
    "1e30",
    "79228162514264337593543950335",
];

pub(super) fn text(re: &'static str) -> BoxedStrategy<Value> {
    re.prop_map(Value::String).boxed()
}

pub(super) fn pick(words: &'static [&'static str]) -> BoxedStrategy<Value> {
    prop::sample::select(words)
        .prop_map(|s| Value::String(s.to_string()))
        .boxed()
}

pub(super) fn timestamp() -> BoxedStrategy<Value> {
    // Anything RFC 3339 can spell (years 1–9999), most of it near the present.
    let any = -62_135_596_800i64..253_402_300_799;
    let near = 1_500_000_000i64..2_500_000_000;
    prop_oneof![1 => any, 3 => near]
        .prop_map(|s| {
            DateTime::from_timestamp(s, 0)
                .map(|t| Value::String(t.to_rfc3339()))
                .unwrap_or(Value::Null)
        })
        .boxed()
}

pub(super) fn value(f: F) -> BoxedStrategy<Value> {
    match f {
        // Mostly quantities that parse: an object is judged only when all its amounts
        // do, and the overflows hide among the valid ones.
        F::Quantity => prop_oneof![
            4 => pick(EXTREME_QUANTITIES),
            1 => (0..=i32::MAX).prop_map(|i| json!(i)),
            1 => any::<i32>().prop_map(|i| json!(i)),
            3 => text("[0-9]{1,20}(\\.[0-9]{1,10})?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|e[0-9]{1,2}|E[0-9]{1,2})?"),
            1 => text("\\PC{0,10}"),
        ]
        .boxed(),
        F::Money => prop_oneof![
            3 => pick(EXTREME_MONEY),
            2 => text("[0-9]{1,12}(\\.[0-9]{1,4})?"),
            1 => text("\\PC{0,10}"),
        ]
        .boxed(),
        F::Percent => prop_oneof![
            2 => text("[0-9]{1,6}(\\.[0-9]{1,4})?%"),
            1 => pick(&["999999.9999%", "0%", "0.0001%", "100%"]),
            1 => text("\\PC{0,8}"),
        ]
        .boxed(),
        F::Duration => prop_oneof![
            3 => text("[0-9]{1,6}(wd|d|mo|s|m|h)"),
            // The schema allows six digits; the parser (and a 1.20 server without the
            // pattern) any number up to u32 / u64.
            2 => pick(&[
                "999999wd",
                "999999mo",
                "999999d",
                "999999s",
                "0d",
                "0wd",
                "1mo",
                "4294967295mo",
                "4294967295wd",
                "18446744073709551615s",
                "307445734561825860h",
            ]),
            1 => text("\\PC{0,8}"),
        ]
        .boxed(),
        F::Date => prop_oneof![
            2 => text("[0-9]{4}-[0-9]{2}-[0-9]{2}"),
            2 => text("20[2-3][0-9]-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])"),
            1 => pick(&["0000-01-01", "9999-12-31", "2026-02-29", "2024-02-29"]),
        ]
        .boxed(),
        F::Time => timestamp(),
        F::Name => prop_oneof![
            3 => text("[a-z]([a-z0-9-]{0,61}[a-z0-9])?"),
            1 => pick(&["kube-system", "default", "govcloud-system", "x"]),
            1 => text("\\PC{0,70}"),
        ]
        .boxed(),
        F::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        F::Int => prop_oneof![
            any::<i64>().prop_map(|i| json!(i)),
            (0i64..5).prop_map(|i| json!(i)),
        ]
        .boxed(),
        F::Text => text("\\PC{0,20}"),
        F::Class => pick(&["Production", "Test", "Development", "Emergency", "Temporary"]),
        F::RequestPhase => pick(&[
            "Submitted",
            "Approved",
            "Rejected",
            "Provisioning",
            "Active",
            "Suspended",
            "Reclaiming",
            "Reclaimed",
            "Invalid",
        ]),
        F::ChangePhase => pick(&["Submitted", "Approved", "Rejected", "Applied", "Invalid"]),
        F::ExitPhase => pick(&[
            "Submitted",
            "Approved",
            "Rejected",
            "Transition",
            "Reclaiming",
            "Completed",
            "Invalid",
        ]),
        F::Decision => pick(&["Approved", "Rejected"]),
        F::TimeZone => pick(&[
            "Asia/Shanghai",
            "UTC",
            "Pacific/Kiritimati",
            "Pacific/Pago_Pago",
            "America/St_Johns",
            "Nowhere/Else",
        ]),
        F::OnIgnored => pick(&["Flag", "Downsize", "Reclaim"]),
        F::Outcome => prop_oneof![
            3 => pick(&["Downsized", "Improved", "Objected", "Ignored", "Flagged"]),
            1 => text("\\PC{0,10}"),
        ]
        .boxed(),
        F::Ratio => prop_oneof![
            text("[0-9]{1,3}\\.[0-9]{2}"),
            text("0\\.[0-9]{2}"),
            pick(&["79228162514264337593543950335", "0.0000000000000000000000000001", "-1", "NaN"]),
        ]
        .boxed(),
    }
}

pub(super) const KINDS: [&str; 6] = [
    "cpu",
    "memory",
    "storage",
    "gpu",
    "loadBalancers",
    "publicIPs",
];

/// A `ResourceAmounts` object: each kind present or not.
pub(super) fn amounts() -> BoxedStrategy<Value> {
    prop::collection::vec(prop::option::weighted(0.5, value(F::Quantity)), 6)
        .prop_map(|vs| {
            let mut m = serde_json::Map::new();
            for (k, v) in KINDS.iter().zip(vs) {
                if let Some(v) = v {
                    m.insert((*k).to_string(), v);
                }
            }
            Value::Object(m)
        })
        .boxed()
}

/// A `Prices` object: each price present or not.
pub(super) fn prices() -> BoxedStrategy<Value> {
    prop::collection::vec(prop::option::weighted(0.6, value(F::Money)), 6)
        .prop_map(|vs| {
            let mut m = serde_json::Map::new();
            m.insert("currency".into(), json!("CNY"));
            for (k, v) in KINDS.iter().zip(vs) {
                if let Some(v) = v {
                    m.insert((*k).to_string(), v);
                }
            }
            Value::Object(m)
        })
        .boxed()
}

/// Up to `n` fields of `paths` set to generated values.
pub(super) fn overrides(
    paths: &'static [(&'static str, F)],
    n: usize,
) -> BoxedStrategy<Vec<(&'static str, Value)>> {
    prop::collection::vec(
        prop::sample::select(paths).prop_flat_map(|(p, f)| value(f).prop_map(move |v| (p, v))),
        0..n,
    )
    .boxed()
}

/// Sets the JSON pointer `path` in `doc`, creating objects on the way.
pub(super) fn set(doc: &mut Value, path: &str, v: Value) {
    let mut at = doc;
    let mut keys = path.trim_start_matches('/').split('/').peekable();
    while let Some(k) = keys.next() {
        if !at.is_object() {
            *at = json!({});
        }
        let Some(obj) = at.as_object_mut() else {
            return;
        };
        if keys.peek().is_none() {
            obj.insert(k.to_string(), v);
            return;
        }
        at = obj.entry(k.to_string()).or_insert_with(|| json!({}));
    }
}

/// Fields an object of `container` cannot lack: filled in when the generated document has
/// the object, so that it still deserializes and its other fields are exercised.
pub(super) const REQUIRED: &[(&str, &str, &str)] = &[
    ("/status/utilization", "takenAt", "2026-03-02T01:00:00Z"),
    ("/status/utilization", "source", "allocation"),
    (
        "/status/utilization/notice",
        "issuedAt",
        "2026-03-02T01:00:00Z",
    ),
    (
        "/status/utilization/notice",
        "respondBy",
        "2026-03-09T01:00:00Z",
    ),
    ("/status/approval", "decision", "Approved"),
];

pub(super) fn fill_required(doc: &mut Value) {
    for (container, key, default) in REQUIRED {
        if let Some(obj) = doc.pointer_mut(container).and_then(Value::as_object_mut) {
            obj.entry(*key).or_insert_with(|| json!(default));
        }
    }
}

pub(super) fn example(yaml: &str) -> Value {
    serde_yaml::from_str(yaml).unwrap_or(Value::Null)
}

pub(super) const POLICIES: [&str; 5] = [
    include_str!("../../../../examples/policies/guiyang.yaml"),
    include_str!("../../../../examples/policies/shanghai.yaml"),
    include_str!("../../../../examples/policies/suining.yaml"),
    include_str!("../../../../examples/policies/xishuangbanna.yaml"),
    include_str!("../../../../examples/policies/yixing.yaml"),
];

pub(super) const REQUESTS: [&str; 4] = [
    include_str!("../../../../examples/requests/development-shanghai.yaml"),
    include_str!("../../../../examples/requests/emergency-xishuangbanna.yaml"),
    include_str!("../../../../examples/requests/production-shanghai.yaml"),
    include_str!("../../../../examples/requests/test-guiyang.yaml"),
];
