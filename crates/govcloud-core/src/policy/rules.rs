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
use super::quantity::{Amounts, FieldError, parse_money, parse_percent, parse_quantity};
use crate::api::{
    ClassRule, CostPeriod, GovCloudPolicySpec, OnIgnored, ProvisioningFrom, ReclaimFrom,
    RequestClass,
};

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

struct Resolver {
    errors: Vec<FieldError>,
}

impl Resolver {
    /// `value`, or `default` when absent. A value this release does not know (written for
    /// a newer release, issue 14) is refused by name, and `default` stands in meanwhile.
    fn known<T: Copy + PartialEq>(
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

    fn duration(
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

    fn percent(
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

    fn money(&mut self, field: &str, value: Option<&String>, default: Decimal) -> Decimal {
        match value {
            None => default,
            Some(s) => parse_money(field, s).unwrap_or_else(|e| {
                self.errors.push(e);
                default
            }),
        }
    }

    fn class(&mut self, key: &str, rule: Option<&ClassRule>, default: ClassLimits) -> ClassLimits {
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

/// GY 9: an added fee ≥ 100,000 CNY needs a justified adjustment plan. GY 9 names no
/// period; GY 15/16 budget and settle per year, so the default (like the presets) reads it
/// as 100,000 a year. The older `monthlyCost` states a monthly amount directly.
fn justification_monthly(r: &mut Resolver, t: &crate::api::CostThreshold) -> Decimal {
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
fn exit_reclaim_from(r: &mut Resolver, exit: &crate::api::ExitRules) -> ReclaimFrom {
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

/// Parses a plain quantity (e.g. from a CLI flag); re-exported for callers of this module.
pub fn quantity(text: &str) -> Result<Decimal, String> {
    parse_quantity(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::GovCloudPolicy;

    const PRESETS: [&str; 5] = ["guiyang", "yixing", "suining", "xishuangbanna", "shanghai"];

    fn load_preset(name: &str) -> GovCloudPolicy {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/policies")
            .join(format!("{name}.yaml"));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// Every shipped preset parses as a GovCloudPolicy, names itself, fills every section and
    /// resolves without a single field error.
    #[test]
    fn every_preset_loads_and_validates() {
        for name in PRESETS {
            let policy = load_preset(name);
            assert_eq!(policy.metadata.name.as_deref(), Some(name));
            // serde ignores unknown keys: a typo in a preset would silently fall back to a
            // default, so the typed round trip must reproduce the file exactly.
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(format!("../../examples/policies/{name}.yaml"));
            let raw: serde_json::Value =
                serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
            let typed = serde_json::to_value(&policy.spec).unwrap();
            assert_eq!(
                typed, raw["spec"],
                "{name}: the preset has a key the API does not know"
            );
            let s = &policy.spec;
            assert!(
                s.jurisdiction.is_some()
                    && s.time_zone.is_some()
                    && s.review.is_some()
                    && s.provisioning.is_some()
                    && s.deployment.is_some()
                    && s.classes.is_some()
                    && s.expiry.is_some()
                    && s.changes.is_some()
                    && s.exit.is_some()
                    && s.emergency.is_some()
                    && s.utilization.is_some()
                    && s.prices.is_some(),
                "{name}: a preset states every section"
            );
            let rules = resolve(name, s).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            assert_eq!(rules.time_zone, chrono_tz::Asia::Shanghai);
            assert_eq!(rules.calendar, CN_STATUTORY);
        }
    }

    #[test]
    fn presets_encode_their_articles() {
        let sn = resolve("suining", &load_preset("suining").spec).unwrap();
        assert_eq!(sn.review_decide, wd(2), "SN 11: opinion within 2 wd");
        assert_eq!(sn.exit_transition, PolicyDuration::Months(3), "SN 16");
        let xb = resolve("xishuangbanna", &load_preset("xishuangbanna").spec).unwrap();
        assert_eq!(xb.review_periods(), [wd(5), wd(5)], "XB 20");
        let sh = resolve("shanghai", &load_preset("shanghai").spec).unwrap();
        assert_eq!(
            sh.class(RequestClass::Development)
                .and_then(|c| c.max_project_share),
            Some(pct(15)),
            "SH 22"
        );
        assert_eq!(sh.escalate_above_project_quota, Some(pct(120)), "SH 20");
        assert_eq!(sh.utilization.on_ignored, OnIgnored::Reclaim, "SH 25");
        let gy = resolve("guiyang", &load_preset("guiyang").spec).unwrap();
        assert!(
            gy.class(RequestClass::Test).is_some_and(|c| c.free),
            "GY 7: test resources are free"
        );
        assert_eq!(gy.provision_within, wd(5), "GY 7");
    }

    #[test]
    fn an_empty_policy_gets_the_documented_defaults() {
        let rules = resolve("empty", &GovCloudPolicySpec::default()).unwrap();
        assert_eq!(rules.review_periods(), [wd(5), wd(5)]);
        assert_eq!(rules.class(RequestClass::Production), None);
        assert_eq!(
            rules.class(RequestClass::Temporary).map(|c| c.max_duration),
            Some(PolicyDuration::Months(6))
        );
        // GY 9's 100,000 CNY read per year, as the presets read it.
        assert_eq!(
            rules.justification_monthly_cost,
            Some(Decimal::from(100_000) / Decimal::from(12))
        );
        assert_eq!(rules.provision_from, ProvisioningFrom::Approval);
        assert_eq!(rules.exit_reclaim_from, ReclaimFrom::TransitionEnd);
        assert_eq!(rules.change_conversion_within, None);
    }

    /// GY 9 names no period: `amount` is per year unless `period: Month`; the older
    /// `monthlyCost` keeps meaning a monthly amount; both at once is refused.
    #[test]
    fn justification_amount_has_an_explicit_period() {
        let with = |t: crate::api::CostThreshold| GovCloudPolicySpec {
            changes: Some(crate::api::ChangeRules {
                justification_above: Some(t),
                ..Default::default()
            }),
            ..Default::default()
        };
        let monthly = |spec: &GovCloudPolicySpec| {
            resolve("p", spec)
                .map(|r| r.justification_monthly_cost)
                .map_err(|e| e.into_iter().map(|e| e.field).collect::<Vec<_>>())
        };
        let yearly = with(crate::api::CostThreshold {
            amount: Some("120000".into()),
            period: Some(crate::api::CostPeriod::Year),
            ..Default::default()
        });
        assert_eq!(monthly(&yearly), Ok(Some(Decimal::from(10_000))));
        let per_month = with(crate::api::CostThreshold {
            amount: Some("120000".into()),
            period: Some(crate::api::CostPeriod::Month),
            ..Default::default()
        });
        assert_eq!(monthly(&per_month), Ok(Some(Decimal::from(120_000))));
        let old = with(crate::api::CostThreshold {
            monthly_cost: Some("8333.33".into()),
            ..Default::default()
        });
        assert_eq!(monthly(&old), Ok(Some(Decimal::new(833_333, 2))));
        let both = with(crate::api::CostThreshold {
            amount: Some("100000".into()),
            monthly_cost: Some("8333.33".into()),
            ..Default::default()
        });
        assert_eq!(
            monthly(&both),
            Err(vec![
                "spec.changes.justificationAbove.monthlyCost".to_string()
            ])
        );
    }

    /// GY 11 / SH 21 ¶1 count reclamation from the filing, which leaves no transition.
    #[test]
    fn reclaim_from_filing_needs_no_transition() {
        let exit = |transition: Option<&str>| GovCloudPolicySpec {
            exit: Some(crate::api::ExitRules {
                transition: transition.map(Into::into),
                reclaim_from: Some(ReclaimFrom::Filing),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(resolve("p", &exit(Some("0d"))).is_ok());
        for t in [Some("3mo"), None] {
            let errs = resolve("p", &exit(t)).unwrap_err();
            assert_eq!(errs[0].field, "spec.exit.reclaimFrom", "{t:?}");
        }
    }

    /// Issue 14: a policy written for a newer release (an enum value this one does not
    /// know) still decodes, so its watch keeps working, and resolving it names each
    /// unknown field instead of guessing what it meant.
    #[test]
    fn enum_values_of_a_newer_release_decode_and_are_refused_by_name() {
        let spec: GovCloudPolicySpec = serde_json::from_value(serde_json::json!({
            "provisioning": {"from": "FromTheFuture"},
            "changes": {"justificationAbove": {"amount": "100000", "period": "Decade"}},
            "exit": {"reclaimFrom": "Whenever", "transition": "0d"},
            "utilization": {"onIgnored": "Archive"}
        }))
        .expect("unknown enum values decode");
        let fields: Vec<String> = resolve("p", &spec)
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        for field in [
            "spec.provisioning.from",
            "spec.changes.justificationAbove.period",
            "spec.exit.reclaimFrom",
            "spec.utilization.onIgnored",
        ] {
            assert!(fields.iter().any(|f| f == field), "{field} in {fields:?}");
        }
        // Known values still resolve (the negative control).
        let known: GovCloudPolicySpec = serde_json::from_value(serde_json::json!({
            "provisioning": {"from": "Filing"},
            "exit": {"reclaimFrom": "Filing", "transition": "0d"},
            "utilization": {"onIgnored": "Reclaim"}
        }))
        .expect("known values decode");
        assert!(resolve("p", &known).is_ok());
    }

    #[test]
    fn every_bad_field_is_named() {
        let mut spec = GovCloudPolicySpec {
            time_zone: Some("Mars/Olympus".into()),
            ..Default::default()
        };
        spec.review = Some(crate::api::ReviewRules {
            accept_within: Some("5 days".into()),
            decide_within: None,
        });
        spec.prices = Some(crate::api::Prices {
            cpu: Some("cheap".into()),
            ..Default::default()
        });
        let errs = resolve("bad", &spec).unwrap_err();
        let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "spec.timeZone",
                "spec.review.acceptWithin",
                "spec.prices.cpu"
            ]
        );
        assert!(errs[1].message.contains("5 days"), "{}", errs[1].message);
    }
}
