//! The emergency fast track (XB 26, GY 12, XB 39.5): which classes may use it, how large
//! an emergency may be, and how fast its one decision is due.
//!
//! XB 26 lets resources open before the paperwork is complete, but only "with the consent
//! of the applicant unit and the cloud authority": an emergency is a fast review, not no
//! review. The request waits for one approver's decision (due within `reviewWithin`),
//! opens at once after it, and only the paperwork comes later (`PaperworkPending`, then
//! `PaperworkOverdue` — XB 39.5 makes late paperwork a violation).

use crate::api::{GovCloudPolicySpec, RequestClass, ResourceAmounts};

use super::duration::PolicyDuration;
use super::quantity::{Amounts, FieldError, ResourceKind};

/// A policy's emergency limits, resolved.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EmergencyLimits {
    /// Classes allowed on the fast track; `None`: every class.
    pub allowed_classes: Option<Vec<RequestClass>>,
    /// The largest emergency request; kinds it leaves out are not capped.
    pub max_size: Option<Amounts>,
    /// The decision is due within this of filing; `None`: the normal review periods.
    pub review_within: Option<PolicyDuration>,
}

/// The emergency limits of `spec`, or every field that is wrong.
pub fn limits(spec: &GovCloudPolicySpec) -> Result<EmergencyLimits, Vec<FieldError>> {
    let Some(e) = spec.emergency.as_ref() else {
        return Ok(EmergencyLimits::default());
    };
    let mut errors = Vec::new();
    let max_size = match e
        .max_size
        .as_ref()
        .map(|m| Amounts::parse("spec.emergency.maxSize", m))
    {
        None => None,
        Some(Ok(a)) => Some(a),
        Some(Err(mut es)) => {
            errors.append(&mut es);
            None
        }
    };
    let review_within = match e.review_within.as_deref().map(str::parse::<PolicyDuration>) {
        None => None,
        Some(Ok(d)) => Some(d),
        Some(Err(err)) => {
            errors.push(FieldError::new(
                "spec.emergency.reviewWithin",
                err.to_string(),
            ));
            None
        }
    };
    if errors.is_empty() {
        Ok(EmergencyLimits {
            allowed_classes: e.allowed_classes.clone(),
            max_size,
            review_within,
        })
    } else {
        Err(errors)
    }
}

/// Why an emergency request of `class` asking for `resources` is not allowed by `limits`,
/// if it is not. Amounts that cannot be read are refused (never allowed by accident).
pub fn refusal(
    limits: &EmergencyLimits,
    class: RequestClass,
    resources: &ResourceAmounts,
) -> Option<String> {
    if let Some(allowed) = &limits.allowed_classes
        && !allowed.contains(&class)
    {
        let names: Vec<&str> = allowed.iter().map(|c| c.as_str()).collect();
        return Some(format!(
            "class {} may not use the emergency fast track; the policy allows it for [{}] \
             (spec.emergency.allowedClasses; XB 26, GY 12)",
            class.as_str(),
            names.join(", ")
        ));
    }
    let cap = limits.max_size.as_ref()?;
    let asked = match Amounts::parse("spec.resources", resources) {
        Ok(a) => a,
        Err(es) => {
            let first = es
                .first()
                .map(|e| e.to_string())
                .unwrap_or_else(|| "unreadable amounts".into());
            return Some(format!(
                "the emergency size cap cannot be checked: {first} (XB 26)"
            ));
        }
    };
    let over: Vec<ResourceKind> = asked.exceeding(cap);
    if over.is_empty() {
        return None;
    }
    let names: Vec<String> = over
        .iter()
        .map(|k| {
            format!(
                "{} {} > {}",
                k.key(),
                super::quantity::format_quantity(*k, asked.get(*k)),
                super::quantity::format_quantity(*k, cap.get(*k))
            )
        })
        .collect();
    Some(format!(
        "an emergency request may ask for at most the policy's emergency size cap: {} \
         (spec.emergency.maxSize; XB 26, GY 12)",
        names.join(", ")
    ))
}

/// The review period of a request not yet decided: the policy's emergency `reviewWithin`
/// for an emergency (XB 26: consent before opening, so fast), else `None` (the normal
/// review periods, XB 20).
pub fn review_within(rules: &super::rules::Rules, emergency: bool) -> Option<PolicyDuration> {
    if emergency {
        rules.emergency.review_within
    } else {
        None
    }
}

/// Whether the approver recorded the emergency's paperwork as complete (XB 26).
pub fn paperwork_complete(approval: Option<&crate::api::Approval>) -> bool {
    approval.is_some_and(|a| {
        a.decision == crate::api::Decision::Approved && a.paperwork_complete == Some(true)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::EmergencyRules;
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

    fn policy(classes: Option<Vec<RequestClass>>, cpu: Option<&str>) -> GovCloudPolicySpec {
        GovCloudPolicySpec {
            emergency: Some(EmergencyRules {
                allowed_classes: classes,
                max_size: cpu.map(|c| ResourceAmounts {
                    cpu: Some(IntOrString::String(c.into())),
                    ..Default::default()
                }),
                review_within: Some("1wd".into()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn cpu(c: &str) -> ResourceAmounts {
        ResourceAmounts {
            cpu: Some(IntOrString::String(c.into())),
            memory: Some(IntOrString::String("1Ti".into())),
            ..Default::default()
        }
    }

    #[test]
    fn class_not_allowed_is_refused_with_the_article() {
        let l = limits(&policy(Some(vec![RequestClass::Emergency]), None)).unwrap();
        let why = refusal(&l, RequestClass::Production, &cpu("1")).unwrap();
        assert!(why.contains("Production") && why.contains("XB 26"), "{why}");
        assert_eq!(refusal(&l, RequestClass::Emergency, &cpu("1")), None);
    }

    #[test]
    fn size_cap_names_the_kind_and_leaves_uncapped_kinds_alone() {
        let l = limits(&policy(None, Some("16"))).unwrap();
        assert_eq!(refusal(&l, RequestClass::Production, &cpu("16")), None);
        let why = refusal(&l, RequestClass::Production, &cpu("17")).unwrap();
        assert!(
            why.contains("cpu 17 > 16") && why.contains("maxSize"),
            "{why}"
        );
    }

    #[test]
    fn unreadable_amounts_are_refused_not_allowed() {
        let l = limits(&policy(None, Some("16"))).unwrap();
        assert!(refusal(&l, RequestClass::Emergency, &cpu("lots")).is_some());
    }

    #[test]
    fn a_policy_with_bad_emergency_fields_is_invalid_naming_them() {
        let errs = crate::policy::rules::resolve("p", &policy(None, Some("many"))).unwrap_err();
        assert!(
            errs.iter()
                .any(|e| e.field.starts_with("spec.emergency.maxSize")),
            "{errs:?}"
        );
        let ok = crate::policy::rules::resolve(
            "p",
            &policy(Some(vec![RequestClass::Emergency]), Some("8")),
        )
        .unwrap();
        assert_eq!(
            ok.emergency.allowed_classes,
            Some(vec![RequestClass::Emergency])
        );
    }

    #[test]
    fn bad_fields_are_named() {
        let mut p = policy(None, Some("many"));
        if let Some(e) = p.emergency.as_mut() {
            e.review_within = Some("soon".into());
        }
        let errs = limits(&p).unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert!(
            fields.contains(&"spec.emergency.reviewWithin"),
            "{fields:?}"
        );
        assert!(
            fields
                .iter()
                .any(|f| f.starts_with("spec.emergency.maxSize")),
            "{fields:?}"
        );
        assert_eq!(
            limits(&policy(None, None)).unwrap().review_within,
            Some(PolicyDuration::WorkingDays(1))
        );
    }
}
