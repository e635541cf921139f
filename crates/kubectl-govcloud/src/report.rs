//! `kubectl govcloud report`: per applicant unit, its requests by phase, what is granted,
//! what it costs a month, and how many deadlines it has let pass.
//!
//! - Grants and monthly costs count requests that are not `Reclaimed` (a reclaimed
//!   request keeps its last grant in status for the record, but holds nothing).
//! - Overdue conditions are every condition whose type ends in `Overdue` and is `True`,
//!   on the unit's requests and on the changes and exits filed against them.

use std::collections::{BTreeMap, BTreeSet};

use kube::ResourceExt;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::format::table;
use super::zones::find_request;
use govcloud_core::api::{
    CloudResourceRequest, Condition, ExitRequest, RequestPhase, ResourceChange,
};
use govcloud_core::policy::quantity::{
    Amounts, ResourceKind, format_money, format_quantity, parse_money,
};

/// The unit shown for changes and exits whose request cannot be found.
pub const UNKNOWN_UNIT: &str = "(unknown request)";

/// One applicant unit's totals.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UnitReport {
    /// `spec.applicantUnit`.
    pub unit: String,
    /// Number of requests.
    pub requests: usize,
    /// Requests by phase (`New` before the operator has seen one).
    pub phases: BTreeMap<&'static str, usize>,
    /// Granted vCPUs, bytes of memory and bytes of storage (not reclaimed).
    pub cpu: Decimal,
    /// Granted memory in bytes.
    pub memory: Decimal,
    /// Granted storage in bytes.
    pub storage: Decimal,
    /// Sum of `billing.monthlyCost` of requests not reclaimed.
    pub monthly_cost: Decimal,
    /// The currencies of those costs (normally just CNY).
    pub currencies: BTreeSet<String>,
    /// `*Overdue` conditions that are True.
    pub overdue: usize,
}

/// The phase order used in the PHASES column.
const PHASE_ORDER: [&str; 10] = [
    "New",
    "Submitted",
    "Approved",
    "Provisioning",
    "Active",
    "Suspended",
    "Reclaiming",
    "Reclaimed",
    "Rejected",
    "Invalid",
];

fn overdue_count(conditions: &[Condition]) -> usize {
    conditions
        .iter()
        .filter(|c| c.type_.ends_with("Overdue") && c.status == "True")
        .count()
}

fn entry<'a>(units: &'a mut BTreeMap<String, UnitReport>, unit: &str) -> &'a mut UnitReport {
    units.entry(unit.to_string()).or_insert_with(|| UnitReport {
        unit: unit.to_string(),
        ..Default::default()
    })
}

/// Totals per applicant unit, sorted by unit.
pub fn aggregate(
    requests: &[CloudResourceRequest],
    changes: &[ResourceChange],
    exits: &[ExitRequest],
) -> Vec<UnitReport> {
    let mut units: BTreeMap<String, UnitReport> = BTreeMap::new();
    for r in requests {
        let u = entry(&mut units, &r.spec.applicant_unit);
        u.requests += 1;
        let phase = r.status.as_ref().and_then(|s| s.phase);
        *u.phases
            .entry(phase.map_or("New", RequestPhase::as_str))
            .or_default() += 1;
        let Some(st) = &r.status else { continue };
        u.overdue += overdue_count(&st.conditions);
        if phase == Some(RequestPhase::Reclaimed) {
            continue;
        }
        if let Some(grant) = &st.grant
            && let Ok(amounts) = Amounts::parse("status.grant", grant)
        {
            u.cpu += amounts.get(ResourceKind::Cpu);
            u.memory += amounts.get(ResourceKind::Memory);
            u.storage += amounts.get(ResourceKind::Storage);
        }
        if let Some(billing) = &st.billing
            && let Some(cost) = &billing.monthly_cost
            && let Ok(cost) = parse_money("status.billing.monthlyCost", cost)
        {
            u.monthly_cost += cost;
            u.currencies
                .insert(billing.currency.clone().unwrap_or_else(|| "CNY".into()));
        }
    }
    let unit_of = |namespace: Option<String>, request: &str| {
        find_request(requests, namespace.as_deref().unwrap_or_default(), request)
            .map_or(UNKNOWN_UNIT.to_string(), |r| r.spec.applicant_unit.clone())
    };
    for c in changes {
        let n = c
            .status
            .as_ref()
            .map_or(0, |s| overdue_count(&s.conditions));
        if n > 0 {
            entry(&mut units, &unit_of(c.namespace(), &c.spec.request)).overdue += n;
        }
    }
    for e in exits {
        let n = e
            .status
            .as_ref()
            .map_or(0, |s| overdue_count(&s.conditions));
        if n > 0 {
            entry(&mut units, &unit_of(e.namespace(), &e.spec.request)).overdue += n;
        }
    }
    units.into_values().collect()
}

fn phases_text(u: &UnitReport) -> String {
    let known = PHASE_ORDER
        .iter()
        .filter_map(|p| u.phases.get(p).map(|n| format!("{p}={n}")));
    let mut parts: Vec<String> = known.collect();
    parts.extend(
        u.phases
            .iter()
            .filter(|(p, _)| !PHASE_ORDER.contains(p))
            .map(|(p, n)| format!("{p}={n}")),
    );
    if parts.is_empty() {
        "-".to_string()
    } else {
        parts.join(",")
    }
}

fn amount(kind: ResourceKind, v: Decimal) -> String {
    if v.is_zero() {
        "0".to_string()
    } else {
        format_quantity(kind, v)
    }
}

fn cost_text(u: &UnitReport) -> String {
    let currency = match u.currencies.len() {
        0 => "CNY".to_string(),
        1 => u.currencies.iter().next().cloned().unwrap_or_default(),
        _ => u.currencies.iter().cloned().collect::<Vec<_>>().join("+"),
    };
    format!("{} {currency}", format_money(u.monthly_cost))
}

/// The table: UNIT, REQUESTS, PHASES, CPU, MEMORY, STORAGE, MONTHLY, OVERDUE.
pub fn render_table(units: &[UnitReport]) -> String {
    let rows: Vec<Vec<String>> = units
        .iter()
        .map(|u| {
            vec![
                u.unit.clone(),
                u.requests.to_string(),
                phases_text(u),
                amount(ResourceKind::Cpu, u.cpu),
                amount(ResourceKind::Memory, u.memory),
                amount(ResourceKind::Storage, u.storage),
                cost_text(u),
                u.overdue.to_string(),
            ]
        })
        .collect();
    table(
        &[
            "UNIT", "REQUESTS", "PHASES", "CPU", "MEMORY", "STORAGE", "MONTHLY", "OVERDUE",
        ],
        &rows,
    )
}

/// The same as JSON; quantities in Kubernetes notation, money as a two-decimal string.
pub fn to_json(units: &[UnitReport]) -> Value {
    Value::Array(
        units
            .iter()
            .map(|u| {
                json!({
                    "unit": u.unit,
                    "requests": u.requests,
                    "phases": u.phases,
                    "granted": {
                        "cpu": amount(ResourceKind::Cpu, u.cpu),
                        "memory": amount(ResourceKind::Memory, u.memory),
                        "storage": amount(ResourceKind::Storage, u.storage),
                    },
                    "monthlyCost": format_money(u.monthly_cost),
                    "currency": u.currencies.iter().next().cloned().unwrap_or_else(|| "CNY".into()),
                    "overdueConditions": u.overdue,
                })
            })
            .collect(),
    )
}

/// Issue 13: the orphan tenant namespaces each policy reports (its `OrphanTenants`
/// condition): namespaces whose request is gone, still counted against the pool.
pub fn orphans_text(policies: &[govcloud_core::api::GovCloudPolicy]) -> String {
    let mut out = String::new();
    for p in policies {
        let Some(c) = p.status.as_ref().and_then(|s| {
            s.conditions
                .iter()
                .find(|c| c.type_ == "OrphanTenants" && c.status == "True")
        }) else {
            continue;
        };
        if out.is_empty() {
            out.push_str("\nOrphan tenant namespaces (their request is gone; still counted):\n");
        }
        out.push_str(&format!(
            "  {}: {}\n",
            p.metadata.name.as_deref().unwrap_or_default(),
            c.message
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(name: &str, unit: &str, status: Value) -> CloudResourceRequest {
        serde_json::from_value(json!({
            "apiVersion": "govcloud.io/v1alpha1", "kind": "CloudResourceRequest",
            "metadata": {"name": name, "namespace": "ns"},
            "spec": {"class": "Production", "applicantUnit": unit,
                     "system": {"name": "s", "securityLevel": 3, "zone": "Internet"},
                     "resources": {"cpu": "8"}},
            "status": status
        }))
        .unwrap()
    }

    fn overdue(type_: &str, status: &str) -> Value {
        json!({"type": type_, "status": status, "reason": "R", "message": "m",
               "lastTransitionTime": "2026-10-01T00:00:00Z"})
    }

    #[test]
    fn totals_per_unit() {
        let requests = vec![
            request(
                "a",
                "市财政局",
                json!({"phase": "Active", "grant": {"cpu": "8", "memory": "8Gi", "storage": "1Ti"},
                       "billing": {"monthlyCost": "600.00", "currency": "CNY"},
                       "conditions": [overdue("NotDeployed", "True"), overdue("PaperworkOverdue", "True")]}),
            ),
            request(
                "b",
                "市财政局",
                json!({"phase": "Active", "grant": {"cpu": "500m", "memory": "512Mi"},
                       "billing": {"monthlyCost": "37.50", "currency": "CNY"},
                       "conditions": [overdue("ReviewOverdue", "False")]}),
            ),
            request(
                "gone",
                "市财政局",
                json!({"phase": "Reclaimed", "grant": {"cpu": "64"},
                       "billing": {"monthlyCost": "3840.00", "currency": "CNY"}}),
            ),
            request(
                "c",
                "市教育局",
                json!({"phase": "Submitted", "conditions": [overdue("ReviewOverdue", "True")]}),
            ),
            request("d", "市教育局", Value::Null),
        ];
        let change: ResourceChange = serde_json::from_value(json!({
            "apiVersion": "govcloud.io/v1alpha1", "kind": "ResourceChange",
            "metadata": {"name": "x", "namespace": "ns"}, "spec": {"request": "a"},
            "status": {"phase": "Approved", "conditions": [overdue("ApplyOverdue", "True")]}
        }))
        .unwrap();
        let orphan: ExitRequest = serde_json::from_value(json!({
            "apiVersion": "govcloud.io/v1alpha1", "kind": "ExitRequest",
            "metadata": {"name": "y", "namespace": "ns"}, "spec": {"request": "nobody"},
            "status": {"phase": "Submitted", "conditions": [overdue("ReviewOverdue", "True")]}
        }))
        .unwrap();
        let units = aggregate(&requests, &[change], &[orphan]);
        let names: Vec<&str> = units.iter().map(|u| u.unit.as_str()).collect();
        assert_eq!(names, [UNKNOWN_UNIT, "市教育局", "市财政局"]);
        let finance = &units[2];
        assert_eq!(finance.requests, 3);
        assert_eq!(finance.phases.get("Active"), Some(&2));
        assert_eq!(finance.phases.get("Reclaimed"), Some(&1));
        assert_eq!(finance.cpu, Decimal::new(85, 1));
        assert_eq!(finance.monthly_cost, Decimal::new(63750, 2));
        // NotDeployed does not end in Overdue; PaperworkOverdue and the change's ApplyOverdue do.
        assert_eq!(finance.overdue, 2);
        let education = &units[1];
        assert_eq!(education.phases.get("New"), Some(&1));
        assert_eq!(education.overdue, 1);
        assert_eq!(units[0].overdue, 1);

        let text = render_table(&units);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "UNIT                REQUESTS   PHASES                 CPU     MEMORY   STORAGE   MONTHLY      OVERDUE"
        );
        assert_eq!(
            lines[3],
            "市财政局            3          Active=2,Reclaimed=1   8500m   8704Mi   1Ti       637.50 CNY   2"
        );
        assert_eq!(
            lines[2],
            "市教育局            2          New=1,Submitted=1      0       0        0         0.00 CNY     1"
        );

        let json = to_json(&units);
        assert_eq!(json[2]["monthlyCost"], "637.50");
        assert_eq!(json[2]["granted"]["memory"], "8704Mi");
        assert_eq!(json[2]["phases"]["Active"], 2);
        assert_eq!(json[2]["overdueConditions"], 2);
    }

    #[test]
    fn orphans_are_listed_by_policy() {
        let mut p = govcloud_core::api::GovCloudPolicy::new("shanghai", Default::default());
        assert_eq!(orphans_text(std::slice::from_ref(&p)), "");
        p.status = serde_json::from_value(json!({"conditions": [{"type": "OrphanTenants",
            "status": "True", "reason": "RequestGone", "message": "1 managed tenant namespace(s) whose request is gone still count against this pool: unit-old",
            "lastTransitionTime": "2026-03-02T00:00:00Z"}]}))
        .unwrap();
        let text = orphans_text(&[p]);
        assert!(text.contains("shanghai: 1 managed"), "{text}");
        assert!(text.contains("unit-old"), "{text}");
    }
}
