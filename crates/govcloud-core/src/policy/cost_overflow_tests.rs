//! Costs beyond any sum of money (issue 14): the `1E` × huge-price overflow the property
//! test found, a sharp property with an independent floating-point oracle, and a policy
//! window beyond any time span.

use chrono::DateTime;
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::no_panic_gen::*;
use crate::api::{CloudResourceRequest, GovCloudPolicy, ResourceAmounts};
use crate::policy::calendar::Calendar;
use crate::policy::quantity::{self, Amounts, ResourceKind};
use crate::policy::request::{PolicyState, TenantState};
use crate::policy::{change, request, rules, utilization};

/// The overflow the property test found first: `1E` CPUs at a catalogue price the schema
/// allows (`999999999999` per vCPU) is beyond any amount of money.
#[test]
fn a_huge_cpu_at_a_huge_price_is_a_field_error_not_a_panic() {
    let a = Amounts::parse(
        "spec.resources",
        &ResourceAmounts {
            cpu: Some(
                k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String("1E".into()),
            ),
            ..Default::default()
        },
    )
    .expect("1E parses");
    let mut prices = [Decimal::ZERO; 6];
    prices[ResourceKind::Cpu as usize] = Decimal::from(999_999_999_999u64);
    let overflow = a.monthly_cost(&prices).expect_err("beyond any decimal");
    let error = overflow.field_error("spec.resources", "p");
    assert_eq!(error.field, "spec.resources.cpu");
    assert!(error.message.contains("spec.prices.cpu"), "{error}");
}

/// The cost of `resources` at `prices` in floating point: an oracle independent of the
/// checked decimal arithmetic under test (`None` when an amount or price does not parse).
fn approximate_cost(resources: &Value, prices: &Value) -> Option<(f64, Vec<&'static str>)> {
    let parsed: ResourceAmounts = serde_json::from_value(resources.clone()).ok()?;
    let amounts = Amounts::parse("spec.resources", &parsed).ok()?;
    let mut total = 0.0;
    let mut huge = Vec::new();
    for kind in ResourceKind::ALL {
        let price = match prices.get(kind.key()).and_then(Value::as_str) {
            None => 0.0,
            Some(p) => quantity::parse_money("p", p)
                .ok()?
                .to_string()
                .parse::<f64>()
                .ok()?,
        };
        let amount: f64 = (amounts.get(kind) / kind.price_unit())
            .to_string()
            .parse()
            .ok()?;
        total += amount * price;
        if amount * price > 1e29 {
            huge.push(kind.key());
        }
    }
    Some((total, huge))
}

/// Whether `message` is right about `huge` (the kinds whose cost alone is beyond range, in
/// manifest order): none, no cost error; else an error on one of them or an earlier kind
/// (the running total may overflow first), naming the amount and the policy's price.
fn names_an_overflow(message: &str, huge: &[&str]) -> bool {
    let Some(first) = huge.first() else {
        return true;
    };
    KINDS
        .iter()
        .take_while(|k| *k != first)
        .chain(std::iter::once(first))
        .any(|k| message.contains(&format!("spec.resources.{k}: at the price spec.prices.{k}")))
}

fn invalid_message(conditions: &[crate::api::Condition]) -> Option<&str> {
    conditions
        .iter()
        .find(|c| c.type_ == "Invalid" && c.status == "True")
        .map(|c| c.message.as_str())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    /// Issue 14, sharpened: any amounts at any catalogue prices. A new request or a change
    /// whose cost is beyond any decimal ends Invalid naming the amount's field and the
    /// policy's price; one well within range is not refused for its cost.
    #[test]
    fn a_cost_beyond_range_is_a_field_error_naming_the_amount_and_the_price(
        resources in amounts(),
        prices in prices(),
    ) {
        let Some((total, huge)) = approximate_cost(&resources, &prices) else {
            return Ok(());
        };
        let mut p = example(POLICIES[1]);
        set(&mut p, "/spec/prices", prices.clone());
        let Ok(policy) = serde_json::from_value::<GovCloudPolicy>(p) else { return Ok(()) };
        let Ok(rules) = rules::resolve("shanghai", &policy.spec) else { return Ok(()) };
        let calendar = Calendar::cn_statutory();
        let now = DateTime::from_timestamp(1_780_000_000, 0).unwrap_or_default();

        // A new request.
        let mut r = example(REQUESTS[2]);
        set(&mut r, "/spec/resources", resources.clone());
        set(&mut r, "/spec/class", json!("Production"));
        let req: CloudResourceRequest = serde_json::from_value(r).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let out = request::decide(&request::Inputs {
            name: "tax-portal",
            namespace: "unit-finance",
            uid: "uid-request",
            spec_policy: req.spec.policy.as_deref().unwrap_or("default"),
            generation: 1,
            spec: &req.spec,
            status: &Default::default(),
            deleting: false,
            policy: PolicyState::Ready(&rules),
            calendar: &calendar,
            calendar_gone: None,
            operator_namespace: "govcloud-system",
            tenant: Some(TenantState::Absent),
            has_pods: None,
            capacity_in_use: &Amounts::default(),
            exit_reclaim: false,
            pending_changes: &[],
            measured: None,
            objection: None,
            now,
        });
        let message = invalid_message(&out.status.conditions).unwrap_or_default();
        prop_assert!(names_an_overflow(message, &huge), "{total:e}: {message}");
        if total < 1e28 {
            prop_assert!(!message.contains("beyond any amount of money"), "{total:e}: {message}");
        }

        // A change of an Active request (cpu 2) to these amounts. A change that names no
        // amount is refused for that ("changes nothing") before any cost is looked at.
        if resources.as_object().is_none_or(|m| m.is_empty()) {
            return Ok(());
        }
        let mut r = example(REQUESTS[2]);
        set(&mut r, "/spec/resources", json!({"cpu": "2"}));
        set(&mut r, "/status", json!({
            "phase": "Active",
            "grant": {"cpu": "2"},
            "grantedClass": "Production",
            "billing": {"startedAt": "2026-01-05T00:00:00Z"},
        }));
        let req: CloudResourceRequest = serde_json::from_value(r).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let spec: crate::api::ResourceChangeSpec = serde_json::from_value(json!({
            "request": "tax-portal",
            "resources": resources,
            "justification": "load test report",
        })).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let out = change::decide(&change::ChangeInputs {
            uid: "uid-change",
            generation: 1,
            spec: &spec,
            status: &Default::default(),
            request: Some(&req),
            rules: Some(&rules),
            calendar: &calendar,
            prior_recurring_justified: false,
            now,
        });
        // The change's total is the grant (cpu 2) with its amounts laid over it; a grant
        // that alone is beyond range is the request's fault, not the change's.
        let mut after = json!({"cpu": "2"});
        if let (Some(a), Some(r)) = (after.as_object_mut(), resources.as_object()) {
            a.extend(r.clone());
        }
        let (after_total, after_huge) = approximate_cost(&after, &prices).unwrap_or_default();
        let (grant_total, _) = approximate_cost(&json!({"cpu": "2"}), &prices).unwrap_or_default();
        let message = invalid_message(&out.status.conditions).unwrap_or_default();
        prop_assert!(
            names_an_overflow(message, &after_huge) || message.starts_with("spec.request: the grant of"),
            "{after_total:e}: {message}"
        );
        if after_total < 1e28 && grant_total < 1e28 {
            prop_assert!(!message.contains("beyond any amount of money"), "{after_total:e}: {message}");
        }
    }
}

/// Found by reading, then checked here: a notice resolved long ago is judged against the
/// policy's window, which the parser accepts up to `4294967295mo` (about 1.1e16 s, beyond
/// what a `TimeDelta` holds) — that must not panic the utilization evaluation.
#[test]
fn a_window_beyond_any_time_span_does_not_panic_the_notice_check() {
    for window in ["4294967295mo", "18446744073709551615s", "999999mo"] {
        let mut p = example(POLICIES[1]);
        set(&mut p, "/spec/utilization/window", json!(window));
        set(&mut p, "/spec/utilization/graceAfterActive", json!("0d"));
        let policy: GovCloudPolicy = serde_json::from_value(p).expect("policy");
        let rules = rules::resolve("shanghai", &policy.spec).expect("usable rules");
        let previous: crate::api::Utilization = serde_json::from_value(json!({
            "takenAt": "2026-03-02T01:00:00Z",
            "source": "Allocation",
            "allocation": {"cpu": "0.01", "memory": "0.01", "storage": "0.01"},
            "notice": {
                "issuedAt": "2026-03-02T01:00:00Z",
                "respondBy": "2026-03-09T01:00:00Z",
                "outcome": "Downsized",
            },
        }))
        .expect("utilization");
        let now = DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default();
        let out = utilization::evaluate(&utilization::UtilizationInputs {
            rules: &rules,
            calendar: &Calendar::cn_statutory(),
            started: DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default(),
            grant: &Amounts::default(),
            previous: Some(&previous),
            measured: None,
            objection: None,
            last_downsize: None,
            now,
        });
        assert!(out.status.is_some(), "{window}");
    }
}
