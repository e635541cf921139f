//! The field-by-field reading of a policy: each helper parses one value or falls back to
//! its default, and records every field that is wrong instead of stopping at the first.

use rust_decimal::Decimal;

use super::super::duration::PolicyDuration;
use super::super::quantity::{FieldError, parse_money, parse_percent};
use super::ClassLimits;
use crate::api::{ClassRule, CostPeriod, ReclaimFrom};

pub(super) struct Resolver {
    pub(super) errors: Vec<FieldError>,
}

impl Resolver {
    /// `value`, or `default` when absent. A value this release does not know (written for
    /// a newer release, issue 14) is refused by name, and `default` stands in meanwhile.
    pub(super) fn known<T: Copy + PartialEq>(
        &mut self,
        field: &str,
        value: Option<T>,
        unrecognized: T,
        default: T,
    ) -> T {
        match value {
            Some(v) if v == unrecognized => {
                self.errors.push(FieldError::new(
                    field,
                    "a value this release of the operator does not know (written for a newer release?)",
                ));
                default
            }
            Some(v) => v,
            None => default,
        }
    }

    pub(super) fn duration(
        &mut self,
        field: &str,
        value: Option<&String>,
        default: PolicyDuration,
    ) -> PolicyDuration {
        match value {
            None => default,
            Some(s) => s.parse().unwrap_or_else(|e| {
                self.errors.push(FieldError::new(field, format!("{e}")));
                default
            }),
        }
    }

    pub(super) fn percent(
        &mut self,
        field: &str,
        value: Option<&String>,
        default: Option<Decimal>,
    ) -> Option<Decimal> {
        match value {
            None => default,
            Some(s) => parse_percent(field, s).map(Some).unwrap_or_else(|e| {
                self.errors.push(e);
                default
            }),
        }
    }

    pub(super) fn money(
        &mut self,
        field: &str,
        value: Option<&String>,
        default: Decimal,
    ) -> Decimal {
        match value {
            None => default,
            Some(s) => parse_money(field, s).unwrap_or_else(|e| {
                self.errors.push(e);
                default
            }),
        }
    }

    pub(super) fn class(
        &mut self,
        key: &str,
        rule: Option<&ClassRule>,
        default: ClassLimits,
    ) -> ClassLimits {
        let Some(rule) = rule else { return default };
        let field = |f: &str| format!("spec.classes.{key}.{f}");
        ClassLimits {
            max_duration: self.duration(
                &field("maxDuration"),
                rule.max_duration.as_ref(),
                default.max_duration,
            ),
            free: rule.free.unwrap_or(default.free),
            max_project_share: self.percent(
                &field("maxProjectShare"),
                rule.max_project_share.as_ref(),
                default.max_project_share,
            ),
            extension_notice_before: match &rule.extension_notice_before {
                None => default.extension_notice_before,
                Some(s) => Some(self.duration(
                    &field("extensionNoticeBefore"),
                    Some(s),
                    PolicyDuration::WorkingDays(15),
                )),
            },
        }
    }
}

/// GY 9: an added fee ≥ 100,000 CNY needs a justified adjustment plan. GY 9 names no
/// period; GY 15/16 budget and settle per year, so the default (like the presets) reads it
/// as 100,000 a year. The older `monthlyCost` states a monthly amount directly.
pub(super) fn justification_monthly(r: &mut Resolver, t: &crate::api::CostThreshold) -> Decimal {
    const FIELD: &str = "spec.changes.justificationAbove";
    if t.amount.is_some() && t.monthly_cost.is_some() {
        r.errors.push(FieldError::new(
            format!("{FIELD}.monthlyCost"),
            "give either amount (with period) or the older monthlyCost, not both",
        ));
    }
    if t.amount.is_none()
        && let Some(monthly) = &t.monthly_cost
    {
        return r.money(
            &format!("{FIELD}.monthlyCost"),
            Some(monthly),
            Decimal::from(100_000),
        );
    }
    let amount = r.money(
        &format!("{FIELD}.amount"),
        t.amount.as_ref(),
        Decimal::from(100_000),
    );
    let period = r.known(
        &format!("{FIELD}.period"),
        t.period,
        CostPeriod::Unrecognized,
        CostPeriod::Year,
    );
    match period {
        CostPeriod::Year | CostPeriod::Unrecognized => amount / Decimal::from(12),
        CostPeriod::Month => amount,
    }
}

/// GY 11, SH 21 ¶1 count the reclamation from the filing; that leaves no room for a
/// transition after the decision, so a policy asking for both is refused, not guessed at.
pub(super) fn exit_reclaim_from(r: &mut Resolver, exit: &crate::api::ExitRules) -> ReclaimFrom {
    let from = r.known(
        "spec.exit.reclaimFrom",
        exit.reclaim_from,
        ReclaimFrom::Unrecognized,
        ReclaimFrom::TransitionEnd,
    );
    let transition = exit
        .transition
        .as_ref()
        .and_then(|s| s.parse::<PolicyDuration>().ok());
    if from == ReclaimFrom::Filing && !transition.is_some_and(|d| d.is_zero()) {
        r.errors.push(FieldError::new(
            "spec.exit.reclaimFrom",
            "Filing counts review and reclamation in one window from the filing: it needs spec.exit.transition: 0d",
        ));
    }
    from
}
