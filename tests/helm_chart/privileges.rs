//! The operator's ClusterRole: least privilege, and a check that catches each excess.

use super::*;

/// `(apiGroup, resource, verb, resourceNames)` of every rule, expanded.
pub(super) fn grants(role: &Value) -> BTreeSet<(String, String, String, String)> {
    let mut out = BTreeSet::new();
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect()
    };
    for rule in role["rules"].as_array().into_iter().flatten() {
        let names = strings(&rule["resourceNames"]).join(",");
        for g in strings(&rule["apiGroups"]) {
            for r in strings(&rule["resources"]) {
                for v in strings(&rule["verbs"]) {
                    out.insert((g.clone(), r.clone(), v, names.clone()));
                }
            }
        }
    }
    out
}

/// What makes a ClusterRole more than least privilege; empty when it is fine.
fn privilege_violations(role: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let name = str_at(role, "/metadata/name").unwrap_or("?");
    if role.get("aggregationRule").is_some() {
        found.push(format!("{name}: an aggregationRule"));
    }
    for (i, rule) in role["rules"].as_array().into_iter().flatten().enumerate() {
        for field in [
            "apiGroups",
            "resources",
            "verbs",
            "resourceNames",
            "nonResourceURLs",
        ] {
            for item in rule[field].as_array().into_iter().flatten() {
                let s = item.as_str().unwrap_or_default();
                if s.contains('*') {
                    found.push(format!("{name} rule {i}: wildcard {s:?} in {field}"));
                }
            }
        }
        if rule.get("nonResourceURLs").is_some() {
            found.push(format!("{name} rule {i}: nonResourceURLs"));
        }
        let verbs: Vec<&str> = rule["verbs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        for bad in ["escalate", "impersonate"] {
            if verbs.contains(&bad) {
                found.push(format!("{name} rule {i}: {bad}"));
            }
        }
        if verbs.contains(&"bind")
            && (rule["apiGroups"] != json!(["rbac.authorization.k8s.io"])
                || rule["resources"] != json!(["clusterroles"])
                || rule["resourceNames"] != json!(["govcloud-tenant"])
                || verbs.len() != 1)
        {
            found.push(format!(
                "{name} rule {i}: bind other than on clusterroles [govcloud-tenant] alone"
            ));
        }
        let resources: Vec<&str> = rule["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if rule["apiGroups"]
            .as_array()
            .is_some_and(|g| g.contains(&json!("")))
            && resources.iter().any(|r| r.starts_with("secrets"))
        {
            found.push(format!("{name} rule {i}: secrets"));
        }
    }
    found
}

#[test]
fn the_operator_cluster_role_is_least_privilege() -> Result<()> {
    let docs = render(json!({}))?;
    let role = object(&docs, "ClusterRole", RELEASE)?;
    let violations = privilege_violations(role);
    assert!(violations.is_empty(), "{violations:#?}");
    // Exactly the calls in src/operator.rs and src/controller/ (see operator-rbac.yaml for
    // why each is there); the live test below proves none is missing.
    let crds = "cloudresourcerequests.govcloud.io,resourcechanges.govcloud.io,exitrequests.govcloud.io,govcloudpolicies.govcloud.io,workcalendars.govcloud.io,govcloudrecords.govcloud.io";
    let mut expected = BTreeSet::new();
    let mut add = |g: &str, rs: &[&str], vs: &[&str], names: &str| {
        for r in rs {
            for v in vs {
                expected.insert((
                    g.to_string(),
                    r.to_string(),
                    v.to_string(),
                    names.to_string(),
                ));
            }
        }
    };
    add(
        "apiextensions.k8s.io",
        &["customresourcedefinitions"],
        &["get"],
        crds,
    );
    add(
        "govcloud.io",
        &[
            "govcloudpolicies",
            "workcalendars",
            "resourcechanges",
            "exitrequests",
        ],
        &["list", "watch"],
        "",
    );
    add("govcloud.io", &["resourcechanges"], &["create"], "");
    // The operation record (SN 31): created, read back after a 409, listed and removed by
    // the retention pass; never updated or watched.
    add(
        "govcloud.io",
        &["govcloudrecords"],
        &["create", "get", "list", "delete"],
        "",
    );
    add(
        "govcloud.io",
        &["cloudresourcerequests"],
        &["list", "watch", "patch"],
        "",
    );
    add(
        "govcloud.io",
        &[
            "cloudresourcerequests/status",
            "resourcechanges/status",
            "exitrequests/status",
            "govcloudpolicies/status",
        ],
        &["patch"],
        "",
    );
    add(
        "",
        &["namespaces"],
        &["get", "list", "watch", "create", "patch", "delete"],
        "",
    );
    add(
        "",
        &["resourcequotas", "limitranges"],
        &["list", "watch", "create", "patch"],
        "",
    );
    add(
        "networking.k8s.io",
        &["networkpolicies"],
        &["list", "watch", "create", "patch"],
        "",
    );
    add(
        "rbac.authorization.k8s.io",
        &["rolebindings"],
        &["list", "watch", "create", "patch"],
        "",
    );
    add(
        "rbac.authorization.k8s.io",
        &["clusterroles"],
        &["bind"],
        "govcloud-tenant",
    );
    add("", &["pods"], &["list"], "");
    add(
        "apps",
        &["deployments", "statefulsets"],
        &["list", "patch"],
        "",
    );
    add("events.k8s.io", &["events"], &["create", "patch"], "");
    add(
        "admissionregistration.k8s.io",
        &[
            "validatingwebhookconfigurations",
            "mutatingwebhookconfigurations",
        ],
        &["get", "update"],
        RELEASE,
    );
    let actual = grants(role);
    let extra: Vec<_> = actual.difference(&expected).collect();
    let missing: Vec<_> = expected.difference(&actual).collect();
    assert!(
        extra.is_empty() && missing.is_empty(),
        "operator ClusterRole drifted\nextra: {extra:#?}\nmissing: {missing:#?}"
    );
    // The user roles carry no wildcard, escalate, impersonate or bind either (a tenant may
    // manage the secrets of its own namespace).
    for name in ["govcloud-applicant", "govcloud-approver", "govcloud-tenant"] {
        let mut v = privilege_violations(object(&docs, "ClusterRole", name)?);
        v.retain(|m| !(name == "govcloud-tenant" && m.ends_with(": secrets")));
        assert!(v.is_empty(), "{v:#?}");
    }
    Ok(())
}

/// The check above can fail: each kind of excess is caught.
#[test]
fn the_privilege_check_catches_each_excess() -> Result<()> {
    let docs = render(json!({}))?;
    let role = object(&docs, "ClusterRole", RELEASE)?.clone();
    let with_rule = |rule: Value| {
        let mut r = role.clone();
        r["rules"].as_array_mut().expect("rules").push(rule);
        r
    };
    for (rule, what) in [
        (
            json!({"apiGroups": ["*"], "resources": ["pods"], "verbs": ["get"]}),
            "wildcard",
        ),
        (
            json!({"apiGroups": [""], "resources": ["*"], "verbs": ["get"]}),
            "wildcard",
        ),
        (
            json!({"apiGroups": [""], "resources": ["pods"], "verbs": ["*"]}),
            "wildcard",
        ),
        (
            json!({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["bind"]}),
            "bind",
        ),
        (
            json!({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "resourceNames": ["cluster-admin"], "verbs": ["bind"]}),
            "bind",
        ),
        (
            json!({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["escalate"]}),
            "escalate",
        ),
        (
            json!({"apiGroups": [""], "resources": ["users", "groups", "serviceaccounts"], "verbs": ["impersonate"]}),
            "impersonate",
        ),
        (
            json!({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}),
            "secrets",
        ),
        (
            json!({"nonResourceURLs": ["/metrics"], "verbs": ["get"]}),
            "nonResourceURLs",
        ),
    ] {
        let v = privilege_violations(&with_rule(rule.clone()));
        assert!(
            v.iter().any(|m| m.contains(what)),
            "{rule} not caught as {what}: {v:?}"
        );
    }
    Ok(())
}
