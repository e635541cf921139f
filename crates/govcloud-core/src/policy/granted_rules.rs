//! The rules a grant was made under, recorded in `status.grantedRulesJson`, and what a granted
//! request does when its policy is missing or invalid: it goes on by those rules — expiry,
//! suspension, reclamation, changes and exits at the deadlines they give — and says so in a
//! `PolicyUnavailable` condition. A request without a grant waits for a valid policy.
//!
//! One user's mistake in a shared GovCloudPolicy (a typo, a deletion) must not stop
//! governance for everyone already granted: without this, every granted request of the
//! policy became Invalid, lost its next deadline and was never suspended or reclaimed.
//!
//! The record is a GovCloudPolicy spec holding only what decisions after a grant read,
//! every value written out, so [`restore`] is [`resolve`] itself: the same parsing and the
//! same defaults as a live policy, and a record a person can read like a policy.
//!
//! While the policy is valid, its current rules apply (as they always did) and the record
//! is not rewritten: a policy edit costs no status write on every granted request.
//! While the policy is unavailable no new utilization measurement is taken (the operator
//! gathers none); a notice already issued runs its course by the recorded thresholds and
//! `respondWithin`, and measuring resumes with the policy.

use rust_decimal::Decimal;

use super::conditions::{Wanted, types};
use super::duration::PolicyDuration;
use super::policy_state::PolicyState;
use super::quantity::FieldError;
use super::rules::{ClassLimits, Rules, Thresholds, resolve};
use crate::api::{
    ChangeRules, ClassRule, ClassRules, CloudResourceRequestStatus, CostPeriod, CostThreshold,
    EmergencyRules, ExitRules, ExpiryRules, GovCloudPolicySpec, GrantedRules, Prices,
    ProvisioningRules, RequestClass, UtilizationRules, UtilizationThresholds, WithinRule,
};

/// Condition reasons of `PolicyUnavailable`.
pub mod reasons {
    /// No GovCloudPolicy of the request's policy name.
    pub const MISSING: &str = "PolicyMissing";
    /// The GovCloudPolicy (or the calendar it names) is unusable.
    pub const INVALID: &str = "PolicyInvalid";
}

fn duration(d: PolicyDuration) -> Option<String> {
    Some(d.to_string())
}

fn percent(ratio: Decimal) -> String {
    format!("{}%", (ratio * Decimal::ONE_HUNDRED).normalize())
}

fn money(value: Decimal) -> Option<String> {
    Some(value.normalize().to_string())
}

fn class_rule(l: &ClassLimits) -> ClassRule {
    ClassRule {
        max_duration: duration(l.max_duration),
        free: Some(l.free),
        max_project_share: l.max_project_share.map(percent),
        extension_notice_before: l.extension_notice_before.and_then(duration),
    }
}

fn thresholds(t: &Thresholds) -> UtilizationThresholds {
    UtilizationThresholds {
        cpu: Some(percent(t.cpu)),
        memory: Some(percent(t.memory)),
        storage: Some(percent(t.storage)),
        storage_with_large_free: t.storage_with_large_free.map(percent),
    }
}

/// GY 9's threshold as the policy can state it. A yearly amount becomes a monthly one
/// with many decimals (100,000 / 12), which the schema's money pattern (at most four
/// decimals) refuses: it is written back as the yearly amount it came from whenever that
/// gives the same monthly figure, else as a monthly cost.
fn justification(monthly: Option<Decimal>, ratio: Option<Decimal>) -> CostThreshold {
    let twelve = Decimal::from(12);
    let (amount, period, monthly_cost) = match monthly {
        None => (None, None, None),
        Some(m) => {
            let yearly = (m * twelve).round_dp(4);
            if yearly / twelve == m {
                (money(yearly), Some(CostPeriod::Year), None)
            } else {
                (None, None, money(m.round_dp(4)))
            }
        }
    };
    CostThreshold {
        amount,
        period,
        monthly_cost,
        ratio: ratio.map(percent),
    }
}

/// The record of `rules` for a grant of `class`: what decisions after a grant read.
pub fn record(rules: &Rules, class: RequestClass) -> GrantedRules {
    let mut classes = ClassRules::default();
    if let Some(limits) = rules.class(class) {
        let rule = Some(class_rule(limits));
        match class {
            RequestClass::Test => classes.test = rule,
            RequestClass::Development => classes.development = rule,
            RequestClass::Emergency => classes.emergency = rule,
            RequestClass::Temporary => classes.temporary = rule,
            RequestClass::Production => {}
        }
    }
    let u = &rules.utilization;
    let [cpu, memory, storage, gpu, load_balancers, public_ips] = rules.prices;
    GrantedRules {
        policy: rules.name.clone(),
        policy_generation: rules.generation,
        class: Some(class),
        rules: GovCloudPolicySpec {
            // Issue 13: the tenant keeps its hardening while the policy is away (the
            // defaults need no record).
            tenants: (rules.hardening != super::hardening::Hardening::default())
                .then(|| rules.hardening.to_api()),
            time_zone: Some(rules.time_zone.name().to_string()),
            calendar: Some(rules.calendar.clone()),
            // GY 7: the opening deadline stays in status as history once granted.
            provisioning: Some(ProvisioningRules {
                within: duration(rules.provision_within),
                from: Some(rules.provision_from),
            }),
            deployment: Some(WithinRule {
                within: duration(rules.deploy_within),
            }),
            classes: (classes != ClassRules::default()).then_some(classes),
            expiry: Some(ExpiryRules {
                warn_before: duration(rules.warn_before),
                suspend_for: duration(rules.suspend_for),
            }),
            changes: Some(ChangeRules {
                review_within: duration(rules.change_review_within),
                apply_within: duration(rules.change_apply_within),
                conversion_within: rules.change_conversion_within.and_then(duration),
                auto_approve_scale_down: Some(rules.auto_approve_scale_down),
                justification_above: Some(justification(
                    rules.justification_monthly_cost,
                    rules.justification_ratio,
                )),
                escalate_above_project_quota: rules.escalate_above_project_quota.map(percent),
            }),
            exit: Some(ExitRules {
                review_within: duration(rules.exit_review_within),
                transition: duration(rules.exit_transition),
                submit_within: duration(rules.exit_submit_within),
                reclaim_from: Some(rules.exit_reclaim_from),
            }),
            emergency: Some(EmergencyRules {
                paperwork_within: duration(rules.paperwork_within),
                ..Default::default()
            }),
            utilization: Some(UtilizationRules {
                grace_after_active: duration(u.grace_after_active),
                window: duration(u.window),
                respond_within: duration(u.respond_within),
                on_ignored: Some(u.on_ignored),
                low: Some(thresholds(&u.low)),
                high: Some(thresholds(&u.high)),
                large_free: Some(
                    k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(
                        u.large_free.normalize().to_string(),
                    ),
                ),
            }),
            prices: Some(Prices {
                currency: Some(rules.currency.clone()),
                cpu: money(cpu),
                memory: money(memory),
                storage: money(storage),
                gpu: money(gpu),
                load_balancers: money(load_balancers),
                public_ips: money(public_ips),
            }),
            ..Default::default()
        },
    }
}

/// The rules of a record, ready to use: only the recorded class has limits (the others
/// were not recorded and are not invented), and no pool capacity is checked.
pub fn restore(recorded: &GrantedRules) -> Result<Rules, Vec<FieldError>> {
    let mut rules = resolve(&recorded.policy, &recorded.rules)?;
    rules.generation = recorded.policy_generation;
    rules
        .classes
        .retain(|class, _| Some(*class) == recorded.class);
    Ok(rules)
}

/// The rules a granted request goes on by while its policy is `policy` (missing or
/// invalid), with the `PolicyUnavailable` condition saying so; `None` when the request
/// holds no grant or has no usable record (it then waits for a valid policy, as before).
/// `calendar_gone` says why the calendar in use is the embedded cn-statutory data rather
/// than the one the recorded rules name.
pub fn fallback(
    status: &CloudResourceRequestStatus,
    policy: PolicyState<'_>,
    calendar_gone: Option<&str>,
) -> Option<(Rules, Wanted)> {
    status.grant.as_ref()?;
    let recorded = status.granted_rules.get()?;
    let rules = restore(recorded).ok()?;
    let (reason, what) = match policy {
        PolicyState::Ready(_) => return None,
        PolicyState::Missing(name) => (
            reasons::MISSING,
            format!("GovCloudPolicy {name:?} not found"),
        ),
        PolicyState::Invalid(why) => (reasons::INVALID, why.to_string()),
    };
    let generation = recorded
        .policy_generation
        .map(|g| format!(", generation {g}"))
        .unwrap_or_default();
    let mut message = format!(
        "{what}: the rules of GovCloudPolicy {:?}{generation} recorded with the grant (status.grantedRulesJson) stay in force; expiry, suspension and reclamation go on at their deadlines",
        recorded.policy
    );
    if let Some(gone) = calendar_gone {
        message.push_str(&format!(
            "; {gone}: working days are counted on the embedded cn-statutory calendar"
        ));
    }
    Some((
        rules,
        Wanted::yes(types::POLICY_UNAVAILABLE, reason, message),
    ))
}

#[cfg(test)]
#[path = "granted_rules_tests.rs"]
mod tests;
