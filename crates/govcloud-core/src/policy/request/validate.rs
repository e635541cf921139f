//! A request's spec checked against its policy: every problem names its field.

use chrono::{DateTime, Utc};

use super::Checked;
use crate::api::{CloudResourceRequestSpec, RequestClass};
use crate::policy::calendar::Calendar;
use crate::policy::deadline;
use crate::policy::duration::PolicyDuration;
use crate::policy::quantity::{Amounts, FieldError, ResourceKind};
use crate::policy::rules::Rules;
use crate::policy::tenant;

/// Validates `spec` against `rules`; every problem names its field.
pub fn validate(
    spec: &CloudResourceRequestSpec,
    rules: &Rules,
    namespace: &str,
    name: &str,
    operator_namespace: &str,
    reference: DateTime<Utc>,
    calendar: &Calendar,
) -> Result<Checked, Vec<FieldError>> {
    let mut errors = Vec::new();
    let requested = Amounts::parse("spec.resources", &spec.resources).unwrap_or_else(|e| {
        errors.extend(e);
        Amounts::default()
    });
    if errors.is_empty()
        && ResourceKind::ALL
            .iter()
            .all(|k| requested.get(*k).is_zero())
    {
        errors.push(FieldError::new("spec.resources", "asks for nothing: give at least one of cpu, memory, storage, gpu, loadBalancers, publicIPs"));
    }
    // Issue 14: an amount whose cost at the policy's prices is beyond any sum of money is
    // refused here, naming the field, instead of overflowing when the grant is billed.
    if let Err(overflow) = requested.monthly_cost(&rules.prices) {
        errors.push(overflow.field_error("spec.resources", &rules.name));
    }
    let project_quota = match spec.project.as_ref().and_then(|p| p.quota.as_ref()) {
        None => None,
        Some(q) => Amounts::parse("spec.project.quota", q)
            .map_err(|e| errors.extend(e))
            .ok(),
    };
    if spec.system.security_level == 0 || spec.system.security_level > 3 {
        errors.push(FieldError::new(
            "spec.system.securityLevel",
            format!(
                "{} is outside 1..3: only systems of MLPS level 3 or below are hosted (SH 7, XB 6)",
                spec.system.security_level
            ),
        ));
    }
    if spec
        .migration
        .as_ref()
        .is_some_and(|m| m.from_existing && m.proof.as_deref().is_none_or(|p| p.trim().is_empty()))
    {
        errors.push(FieldError::new("spec.migration.proof", "a migration of an existing system needs proof: the old contract's end or the old platform's shortfall (XB 19.3)"));
    }
    let tenant_namespace = spec
        .tenant_namespace
        .clone()
        .unwrap_or_else(|| tenant::default_name(namespace, name));
    if let Some(why) = tenant::forbidden_reason(&tenant_namespace, operator_namespace) {
        let field = if spec.tenant_namespace.is_some() {
            "spec.tenantNamespace"
        } else {
            "metadata.name"
        };
        errors.push(FieldError::new(
            field,
            format!("cannot be used as the tenant namespace: {why}"),
        ));
    }
    let mut duration = None;
    let parsed_duration: Option<PolicyDuration> = spec.duration.as_deref().and_then(|text| {
        text.parse()
            .map_err(|e| errors.push(FieldError::new("spec.duration", format!("{e}"))))
            .ok()
    });
    if parsed_duration.is_some_and(|d| d.is_zero()) && spec.class.is_time_boxed() {
        errors.push(FieldError::new(
            "spec.duration",
            format!(
                "{:?} grants nothing: a time-boxed grant must last longer than zero",
                spec.duration.as_deref().unwrap_or_default()
            ),
        ));
    }
    if let Some(limits) = rules.class(spec.class) {
        let requested_duration = parsed_duration.unwrap_or(limits.max_duration);
        let tz = rules.time_zone;
        let wanted = deadline::add(reference, requested_duration, calendar, tz).at;
        let cap = deadline::add(reference, limits.max_duration, calendar, tz).at;
        if wanted > cap {
            errors.push(FieldError::new(
                "spec.duration",
                format!(
                    "{requested_duration} exceeds the {} maximum of {} in policy {:?} ({})",
                    spec.class.as_str(),
                    limits.max_duration,
                    rules.name,
                    class_article(spec.class)
                ),
            ));
        }
        duration = Some(requested_duration);
        if let Some(share) = limits.max_project_share {
            match &project_quota {
                None => errors.push(FieldError::new(
                    "spec.project.quota",
                    format!("a {} request needs the project quota: it may use at most {}% of it (SH 22)", spec.class.as_str(), share.saturating_mul(rust_decimal::Decimal::ONE_HUNDRED)),
                )),
                Some(quota) => {
                    for kind in ResourceKind::ALL {
                        // No cap beyond the largest decimal: nothing exceeds it.
                        let cap = quota.get(kind).checked_mul(share);
                        if cap.is_some_and(|cap| requested.get(kind) > cap) {
                            errors.push(FieldError::new(
                                format!("spec.resources.{}", kind.key()),
                                format!(
                                    "exceeds {}% of the project quota ({} of {}) allowed for {} (SH 22)",
                                    share.saturating_mul(rust_decimal::Decimal::ONE_HUNDRED).normalize(),
                                    crate::policy::quantity::format_quantity(kind, requested.get(kind)),
                                    crate::policy::quantity::format_quantity(kind, quota.get(kind)),
                                    spec.class.as_str()
                                ),
                            ));
                        }
                    }
                }
            }
        }
        if spec.class == RequestClass::Development
            && (requested.get(ResourceKind::PublicIps) > rust_decimal::Decimal::ZERO
                || requested.get(ResourceKind::LoadBalancers) > rust_decimal::Decimal::ZERO)
        {
            errors.push(FieldError::new("spec.resources.publicIPs", "development resources may not serve externally: no public IPs or load balancers (SH 22)"));
        }
    }
    if let Some(capacity) = &rules.capacity {
        for kind in requested.exceeding(capacity) {
            errors.push(FieldError::new(
                format!("spec.resources.{}", kind.key()),
                format!(
                    "exceeds the whole pool of policy {:?} ({})",
                    rules.name,
                    crate::policy::quantity::format_quantity(kind, capacity.get(kind))
                ),
            ));
        }
    }
    if errors.is_empty() {
        Ok(Checked {
            requested,
            tenant_namespace,
            duration,
        })
    } else {
        Err(errors)
    }
}

fn class_article(class: RequestClass) -> &'static str {
    match class {
        RequestClass::Test => "GY 7, SH 19",
        RequestClass::Development => "SH 22",
        RequestClass::Emergency => "SH 23",
        RequestClass::Temporary => "SH 24",
        RequestClass::Production => "",
    }
}
