//! A GovCloudPolicy resolved into rules the lifecycle decisions can use directly: every
//! duration, percentage and price parsed, every absent field filled with a documented
//! default. An unusable value is an error that names the field; nothing is guessed.
//!
//! Defaults (used where a custom policy leaves a field out) follow the most widely shared
//! reading of the five documents; each is cited where it is set.

use std::collections::BTreeMap;

use chrono_tz::Tz;
use rust_decimal::Decimal;

use super::duration::PolicyDuration;
use super::quantity::{Amounts, FieldError, parse_quantity};
use crate::api::{GovCloudPolicySpec, OnIgnored, ProvisioningFrom, ReclaimFrom, RequestClass};
use resolver::{Resolver, exit_reclaim_from, justification_monthly};

mod resolver;

/// The name of the embedded statutory calendar.
pub const CN_STATUTORY: &str = "cn-statutory";

/// Limits of one time-boxed class.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassLimits {
    /// The longest a grant of the class may last.
    pub max_duration: PolicyDuration,
    /// Not billed (GY 7).
    pub free: bool,
    /// The most of the project quota one request may take (SH 22).
    pub max_project_share: Option<Decimal>,
    /// An extension must be filed this long before expiry (SH 23, SH 24).
    pub extension_notice_before: Option<PolicyDuration>,
}

/// Utilization thresholds (ratios, `0.10` = 10 %).
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    /// CPU.
    pub cpu: Decimal,
    /// Memory.
    pub memory: Decimal,
    /// Storage.
    pub storage: Decimal,
    /// Storage with more than `large_free` free (low only).
    pub storage_with_large_free: Option<Decimal>,
}

/// Utilization monitoring rules (SN 14, GY 10, SH 25).
#[derive(Debug, Clone, PartialEq)]
pub struct UtilizationLimits {
    /// Monitoring starts this long after Active.
    pub grace_after_active: PolicyDuration,
    /// Averaging window.
    pub window: PolicyDuration,
    /// Time to respond to a notice.
    pub respond_within: PolicyDuration,
    /// What an ignored notice leads to.
    pub on_ignored: OnIgnored,
    /// Low thresholds.
    pub low: Thresholds,
    /// High thresholds.
    pub high: Thresholds,
    /// "Large" free storage, in bytes.
    pub large_free: Decimal,
}

/// A policy's rules, ready to use.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    /// The GovCloudPolicy's name.
    pub name: String,
    /// The GovCloudPolicy's `metadata.generation`, when known (set by the caller of
    /// [`resolve`]; recorded with a grant's rules).
    pub generation: Option<i64>,
    /// The jurisdiction.
    pub jurisdiction: String,
    /// Days are counted in this zone.
    pub time_zone: Tz,
    /// `cn-statutory` or a WorkCalendar's name.
    pub calendar: String,
    /// Accept or refuse (XB 20).
    pub review_accept: PolicyDuration,
    /// Opinion after acceptance (XB 20, SN 11).
    pub review_decide: PolicyDuration,
    /// Opening after approval (GY 7), or after filing (SH 19 ¶1).
    pub provision_within: PolicyDuration,
    /// Where `provision_within` is counted from.
    pub provision_from: ProvisioningFrom,
    /// Deployment start after allocation (SN 11).
    pub deploy_within: PolicyDuration,
    /// Limits per time-boxed class.
    pub classes: BTreeMap<RequestClass, ClassLimits>,
    /// Warning before expiry (SH 21).
    pub warn_before: PolicyDuration,
    /// Suspension before reclamation (SH 21).
    pub suspend_for: PolicyDuration,
    /// Change review (XB 22.4, SH 20).
    pub change_review_within: PolicyDuration,
    /// Change application (GY 9, SN 15).
    pub change_apply_within: PolicyDuration,
    /// A Test → Production conversion is reviewed and applied within this of its filing
    /// (SH 19 ¶2); `None`: like any change.
    pub change_conversion_within: Option<PolicyDuration>,
    /// Scale-downs approved by the operator.
    pub auto_approve_scale_down: bool,
    /// Added monthly cost needing a justification (GY 9), a yearly amount divided by 12.
    pub justification_monthly_cost: Option<Decimal>,
    /// Added cost ratio needing a justification (GY 9).
    pub justification_ratio: Option<Decimal>,
    /// Share of the project quota above which a change is escalated (SH 20).
    pub escalate_above_project_quota: Option<Decimal>,
    /// Exit review (SH 21).
    pub exit_review_within: PolicyDuration,
    /// Exit transition (SN 16).
    pub exit_transition: PolicyDuration,
    /// Exit filing after last use (SN 16).
    pub exit_submit_within: PolicyDuration,
    /// Where `reclaimBy` is counted from (GY 11, SH 21 ¶1: the filing).
    pub exit_reclaim_from: ReclaimFrom,
    /// Emergency paperwork (XB 26).
    pub paperwork_within: PolicyDuration,
    /// The emergency fast track's limits (XB 26, GY 12; policy::emergency).
    pub emergency: super::emergency::EmergencyLimits,
    /// Utilization monitoring.
    pub utilization: UtilizationLimits,
    /// Currency of prices.
    pub currency: String,
    /// Prices per priced unit, indexed by `ResourceKind`.
    pub prices: [Decimal; 6],
    /// The pool's size, when set.
    pub capacity: Option<Amounts>,
    /// How tenant namespaces are hardened (issue 13).
    pub hardening: super::hardening::Hardening,
}

impl Rules {
    /// The limits of `class`, or `None` for Production.
    pub fn class(&self, class: RequestClass) -> Option<&ClassLimits> {
        self.classes.get(&class)
    }

    /// Total review period (acceptance then opinion).
    pub fn review_periods(&self) -> [PolicyDuration; 2] {
        [self.review_accept, self.review_decide]
    }
}

const fn wd(n: u32) -> PolicyDuration {
    PolicyDuration::WorkingDays(n)
}

fn pct(n: i64) -> Decimal {
    Decimal::new(n, 2)
}

/// Resolves `spec` (of the GovCloudPolicy `name`) into rules, or every field that is wrong.
pub fn resolve(name: &str, spec: &GovCloudPolicySpec) -> Result<Rules, Vec<FieldError>> {
    let mut r = Resolver { errors: Vec::new() };
    let tz_name = spec
        .time_zone
        .clone()
        .unwrap_or_else(|| "Asia/Shanghai".to_string());
    let time_zone: Tz = tz_name.parse().unwrap_or_else(|_| {
        r.errors.push(FieldError::new(
            "spec.timeZone",
            format!("{tz_name:?} is not an IANA time zone (e.g. Asia/Shanghai)"),
        ));
        chrono_tz::Asia::Shanghai
    });
    let review = spec.review.clone().unwrap_or_default();
    let classes = spec.classes.clone().unwrap_or_default();
    let expiry = spec.expiry.clone().unwrap_or_default();
    let changes = spec.changes.clone().unwrap_or_default();
    let justification = changes.justification_above.clone().unwrap_or_default();
    let exit = spec.exit.clone().unwrap_or_default();
    let util = spec.utilization.clone().unwrap_or_default();
    let low = util.low.clone().unwrap_or_default();
    let high = util.high.clone().unwrap_or_default();
    let prices = spec.prices.clone().unwrap_or_default();

    let mut class_limits = BTreeMap::new();
    // SH 19 / GY 7: test resources ≤ 1 mo (30 d).
    let test = ClassLimits {
        max_duration: PolicyDuration::Months(1),
        free: false,
        max_project_share: None,
        extension_notice_before: None,
    };
    // SH 22: development ≤ 3 mo and ≤ 15 % of the project quota.
    let development = ClassLimits {
        max_duration: PolicyDuration::Months(3),
        free: false,
        max_project_share: Some(pct(15)),
        extension_notice_before: None,
    };
    // SH 23: emergency ≤ 3 mo, extension ≥ 15 wd before expiry.
    let emergency = ClassLimits {
        max_duration: PolicyDuration::Months(3),
        free: false,
        max_project_share: None,
        extension_notice_before: Some(wd(15)),
    };
    // SH 24: temporary ≤ 6 mo, extension ≥ 15 wd before expiry.
    let temporary = ClassLimits {
        max_duration: PolicyDuration::Months(6),
        free: false,
        max_project_share: None,
        extension_notice_before: Some(wd(15)),
    };
    class_limits.insert(
        RequestClass::Test,
        r.class("Test", classes.test.as_ref(), test),
    );
    class_limits.insert(
        RequestClass::Development,
        r.class("Development", classes.development.as_ref(), development),
    );
    class_limits.insert(
        RequestClass::Emergency,
        r.class("Emergency", classes.emergency.as_ref(), emergency),
    );
    class_limits.insert(
        RequestClass::Temporary,
        r.class("Temporary", classes.temporary.as_ref(), temporary),
    );

    let threshold = |r: &mut Resolver,
                     key: &str,
                     t: &crate::api::UtilizationThresholds,
                     d: [i64; 3],
                     large: Option<i64>| Thresholds {
        cpu: r
            .percent(
                &format!("spec.utilization.{key}.cpu"),
                t.cpu.as_ref(),
                Some(pct(d[0])),
            )
            .unwrap_or_default(),
        memory: r
            .percent(
                &format!("spec.utilization.{key}.memory"),
                t.memory.as_ref(),
                Some(pct(d[1])),
            )
            .unwrap_or_default(),
        storage: r
            .percent(
                &format!("spec.utilization.{key}.storage"),
                t.storage.as_ref(),
                Some(pct(d[2])),
            )
            .unwrap_or_default(),
        storage_with_large_free: r.percent(
            &format!("spec.utilization.{key}.storageWithLargeFree"),
            t.storage_with_large_free.as_ref(),
            large.map(pct),
        ),
    };
    // SN 14: low = CPU < 10 %, memory < 30 %, storage < 40 % (or < 60 % with > 1 TB free).
    let low = threshold(&mut r, "low", &low, [10, 30, 40], Some(60));
    // SN 14: high = CPU > 60 %, memory > 80 %, storage ≥ 80 % with < 1 TB free.
    let high = threshold(&mut r, "high", &high, [60, 80, 80], None);
    let large_free = match &util.large_free {
        None => Decimal::from(1u64 << 40),
        Some(v) => {
            super::quantity::parse_field("spec.utilization.largeFree", v).unwrap_or_else(|e| {
                r.errors.push(e);
                Decimal::from(1u64 << 40)
            })
        }
    };

    let capacity = spec
        .capacity
        .as_ref()
        .and_then(|c| match Amounts::parse("spec.capacity", c) {
            Ok(a) => Some(a),
            Err(es) => {
                r.errors.extend(es);
                None
            }
        });

    let hardening = super::hardening::resolve(spec.tenants.as_ref()).unwrap_or_else(|es| {
        r.errors.extend(es);
        Default::default()
    });
    let rules = Rules {
        hardening,
        name: name.to_string(),
        generation: None,
        jurisdiction: spec
            .jurisdiction
            .clone()
            .unwrap_or_else(|| name.to_string()),
        time_zone,
        calendar: spec
            .calendar
            .clone()
            .unwrap_or_else(|| CN_STATUTORY.to_string()),
        // XB 20: accept or refuse within 5 wd, then the opinion within 5 wd.
        review_accept: r.duration(
            "spec.review.acceptWithin",
            review.accept_within.as_ref(),
            wd(5),
        ),
        review_decide: r.duration(
            "spec.review.decideWithin",
            review.decide_within.as_ref(),
            wd(5),
        ),
        // GY 7: opened within 5 wd of approval.
        provision_within: r.duration(
            "spec.provisioning.within",
            spec.provisioning.as_ref().and_then(|p| p.within.as_ref()),
            wd(5),
        ),
        provision_from: r.known(
            "spec.provisioning.from",
            spec.provisioning.as_ref().and_then(|p| p.from),
            ProvisioningFrom::Unrecognized,
            ProvisioningFrom::Approval,
        ),
        // SN 11: deployment starts within 10 wd of allocation.
        deploy_within: r.duration(
            "spec.deployment.within",
            spec.deployment.as_ref().and_then(|p| p.within.as_ref()),
            wd(10),
        ),
        classes: class_limits,
        // SH 21 asks for notice before expiry without a number: 10 wd by default.
        warn_before: r.duration(
            "spec.expiry.warnBefore",
            expiry.warn_before.as_ref(),
            wd(10),
        ),
        suspend_for: r.duration("spec.expiry.suspendFor", expiry.suspend_for.as_ref(), wd(5)),
        // XB 22.4: review 5 wd, apply 5 wd.
        change_review_within: r.duration(
            "spec.changes.reviewWithin",
            changes.review_within.as_ref(),
            wd(5),
        ),
        change_apply_within: r.duration(
            "spec.changes.applyWithin",
            changes.apply_within.as_ref(),
            wd(5),
        ),
        change_conversion_within: changes
            .conversion_within
            .as_ref()
            .map(|s| r.duration("spec.changes.conversionWithin", Some(s), wd(2))),
        auto_approve_scale_down: changes.auto_approve_scale_down.unwrap_or(true),
        justification_monthly_cost: Some(justification_monthly(&mut r, &justification)),
        justification_ratio: r.percent(
            "spec.changes.justificationAbove.ratio",
            justification.ratio.as_ref(),
            Some(pct(30)),
        ),
        // SH 20: above 120 % of the project quota.
        escalate_above_project_quota: r.percent(
            "spec.changes.escalateAboveProjectQuota",
            changes.escalate_above_project_quota.as_ref(),
            Some(pct(120)),
        ),
        // SH 21: review within 10 wd; SN 16: 3 mo transition, filed within 1 mo.
        exit_review_within: r.duration(
            "spec.exit.reviewWithin",
            exit.review_within.as_ref(),
            wd(10),
        ),
        exit_transition: r.duration(
            "spec.exit.transition",
            exit.transition.as_ref(),
            PolicyDuration::Months(3),
        ),
        exit_submit_within: r.duration(
            "spec.exit.submitWithin",
            exit.submit_within.as_ref(),
            PolicyDuration::Months(1),
        ),
        exit_reclaim_from: exit_reclaim_from(&mut r, &exit),
        emergency: super::emergency::limits(spec).unwrap_or_else(|mut es| {
            r.errors.append(&mut es);
            Default::default()
        }),
        // XB 26 sets no period: 5 wd, the review period of XB 20.
        paperwork_within: r.duration(
            "spec.emergency.paperworkWithin",
            spec.emergency
                .as_ref()
                .and_then(|e| e.paperwork_within.as_ref()),
            wd(5),
        ),
        utilization: UtilizationLimits {
            grace_after_active: r.duration(
                "spec.utilization.graceAfterActive",
                util.grace_after_active.as_ref(),
                PolicyDuration::Months(3),
            ),
            window: r.duration(
                "spec.utilization.window",
                util.window.as_ref(),
                PolicyDuration::Days(30),
            ),
            respond_within: r.duration(
                "spec.utilization.respondWithin",
                util.respond_within.as_ref(),
                wd(5),
            ),
            on_ignored: r.known(
                "spec.utilization.onIgnored",
                util.on_ignored,
                OnIgnored::Unrecognized,
                OnIgnored::Flag,
            ),
            low,
            high,
            large_free,
        },
        currency: prices.currency.clone().unwrap_or_else(|| "CNY".to_string()),
        prices: [
            r.money("spec.prices.cpu", prices.cpu.as_ref(), Decimal::ZERO),
            r.money("spec.prices.memory", prices.memory.as_ref(), Decimal::ZERO),
            r.money(
                "spec.prices.storage",
                prices.storage.as_ref(),
                Decimal::ZERO,
            ),
            r.money("spec.prices.gpu", prices.gpu.as_ref(), Decimal::ZERO),
            r.money(
                "spec.prices.loadBalancers",
                prices.load_balancers.as_ref(),
                Decimal::ZERO,
            ),
            r.money(
                "spec.prices.publicIPs",
                prices.public_ips.as_ref(),
                Decimal::ZERO,
            ),
        ],
        capacity,
    };
    if r.errors.is_empty() {
        Ok(rules)
    } else {
        Err(r.errors)
    }
}

/// Parses a plain quantity (e.g. from a CLI flag); re-exported for callers of this module.
pub fn quantity(text: &str) -> Result<Decimal, String> {
    parse_quantity(text)
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
