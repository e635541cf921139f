use super::*;
use crate::api::GovCloudPolicy;

const PRESETS: [&str; 5] = ["guiyang", "yixing", "suining", "xishuangbanna", "shanghai"];

fn load_preset(name: &str) -> GovCloudPolicy {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/policies")
        .join(format!("{name}.yaml"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
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
        ..Default::default()
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
