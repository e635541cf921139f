//! Issue 7, item 5: a corpus of malformed manifests (`tests/corpus/bad_input.yaml`) across
//! the three request kinds. Each one ends either refused by the API server's schema
//! (422/400 on create) or accepted and then `phase: Invalid` with a condition naming the
//! offending field. Even when approved, none of them creates anything, the target of the
//! changes and exits keeps its grant, and the operator neither panics nor exits.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use govcloud_operator::api::{CloudResourceRequest, RequestClass, RequestPhase};
use k8s_openapi::api::core::v1::{Namespace, ResourceQuota};
use kube::api::{DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde::Deserialize;
use support::govcloud::*;
use support::{
    api_error_code, create_namespace, govcloud_resource, repo_root, unique_ns, wait_for,
};

const T: Duration = Duration::from_secs(120);

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Case {
    name: String,
    kind: String,
    checks: String,
    #[serde(default)]
    spec: serde_json::Value,
    expect: String,
    #[serde(default)]
    field: Option<String>,
}

/// What happened to a case.
#[derive(Debug, Clone)]
enum Outcome {
    Refused(u16, String),
    Invalid(String),
    Other(String),
}

fn kind_resource(kind: &str) -> kube::api::ApiResource {
    match kind {
        "crr" => govcloud_resource("CloudResourceRequest", "cloudresourcerequests"),
        "change" => govcloud_resource("ResourceChange", "resourcechanges"),
        "exit" => govcloud_resource("ExitRequest", "exitrequests"),
        other => panic!("unknown kind {other}"),
    }
}

/// The valid spec each case starts from.
fn base_spec(kind: &str, policy: &str) -> serde_json::Value {
    match kind {
        "crr" => serde_json::json!({
            "policy": policy,
            "class": "Production",
            "applicantUnit": "市财政局",
            "system": {"name": "tax-portal", "securityLevel": 3, "zone": "EGovExtranet"},
            "resources": {"cpu": "1", "memory": "1Gi"},
            "access": {"groups": ["unit-finance:ops"]},
        }),
        "change" => serde_json::json!({"request": "target", "reason": "more load"}),
        "exit" => serde_json::json!({
            "request": "target",
            "reason": "replaced by the provincial system",
            "dataDisposition": {"backupConfirmed": false},
        }),
        other => panic!("unknown kind {other}"),
    }
}

/// RFC 7386 merge patch, with `"@repeat:N:S"` strings expanded.
fn merge(target: &mut serde_json::Value, patch: &serde_json::Value) {
    match patch {
        serde_json::Value::Object(p) => {
            if !target.is_object() {
                *target = serde_json::json!({});
            }
            let t = target.as_object_mut().expect("object");
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(serde_json::Value::Null), v);
                }
            }
        }
        other => *target = expand(other),
    }
}

fn expand(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::String(s) => match s.strip_prefix("@repeat:") {
            Some(rest) => {
                let (n, unit) = rest.split_once(':').expect("@repeat:N:S");
                serde_json::Value::String(unit.repeat(n.parse().expect("@repeat count")))
            }
            None => v.clone(),
        },
        serde_json::Value::Array(a) => serde_json::Value::Array(a.iter().map(expand).collect()),
        serde_json::Value::Object(o) => {
            serde_json::Value::Object(o.iter().map(|(k, v)| (k.clone(), expand(v))).collect())
        }
        other => other.clone(),
    }
}

fn load_corpus() -> Result<Vec<Case>> {
    let path = repo_root().join("tests/corpus/bad_input.yaml");
    let text = std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))?;
    let cases: Vec<Case> = serde_yaml::from_str(&text).context("parsing the corpus")?;
    let mut seen = std::collections::BTreeSet::new();
    for c in &cases {
        assert!(seen.insert(c.name.clone()), "duplicate case {}", c.name);
        assert!(
            matches!(c.expect.as_str(), "refused" | "invalid"),
            "{}: expect refused|invalid",
            c.name
        );
        assert_eq!(
            c.expect == "invalid",
            c.field.is_some(),
            "{}: an invalid case names its field (and only those)",
            c.name
        );
    }
    Ok(cases)
}

/// Phase and Invalid message of every object of the three kinds in `ns`, by name.
async fn phases_in(
    admin: &kube::Client,
    ns: &str,
) -> Result<BTreeMap<String, (Option<String>, Option<String>)>> {
    let mut seen = BTreeMap::new();
    for kind in ["crr", "change", "exit"] {
        let api: Api<DynamicObject> = Api::namespaced_with(admin.clone(), ns, &kind_resource(kind));
        for o in api.list(&ListParams::default()).await?.items {
            seen.insert(o.name_any(), phase_and_invalid_message(&o));
        }
    }
    Ok(seen)
}

fn phase_and_invalid_message(obj: &DynamicObject) -> (Option<String>, Option<String>) {
    let status = obj.data.get("status");
    let phase = status
        .and_then(|s| s.get("phase"))
        .and_then(|p| p.as_str())
        .map(str::to_string);
    let message = status
        .and_then(|s| s.get("conditions"))
        .and_then(|c| c.as_array())
        .and_then(|cs| {
            cs.iter().find(|c| {
                c.get("type").and_then(|t| t.as_str()) == Some("Invalid")
                    && c.get("status").and_then(|t| t.as_str()) == Some("True")
            })
        })
        .and_then(|c| c.get("message"))
        .and_then(|m| m.as_str())
        .map(str::to_string);
    (phase, message)
}

fn short(s: &str, n: usize) -> String {
    let one_line = s.replace('\n', " ");
    if one_line.chars().count() <= n {
        one_line
    } else {
        format!("{}…", one_line.chars().take(n).collect::<String>())
    }
}

#[tokio::test]
async fn malformed_manifests_are_refused_or_invalid_and_create_nothing() -> Result<()> {
    let started = Instant::now();
    let cases = load_corpus()?;
    assert!(cases.len() >= 50, "a corpus of at least 50 cases");
    let cp = installed(&["--max-requeue-seconds", "5"]).await?;
    let admin = cp.admin().await?;
    let vendor = cp.vendor().await?;
    let approver = cp.approver().await?;
    let ns = unique_ns("bad-input");
    create_namespace(&admin, &ns).await?;
    fast_policy(&admin, &ns, |p| {
        p["review"] = serde_json::json!({"acceptWithin": "600s", "decideWithin": "600s"})
    })
    .await?;

    // The request the changes and exits aim at.
    file(
        &admin,
        &ns,
        "target",
        request_spec(&ns, RequestClass::Production, "2"),
    )
    .await?;
    decide(cp, &ns, "target", "Approved", "").await?;
    let target = wait_phase(&admin, &ns, "target", RequestPhase::Active, T).await?;
    let target_grant = target.status.as_ref().and_then(|s| s.grant.clone());
    let target_tenant = target
        .status
        .as_ref()
        .and_then(|s| s.tenant_namespace.clone())
        .ok_or_else(|| anyhow!("target has no tenant namespace"))?;
    let quota_hard = |q: ResourceQuota| q.spec.and_then(|s| s.hard).unwrap_or_default();
    let target_quota = quota_hard(
        Api::<ResourceQuota>::namespaced(admin.clone(), &target_tenant)
            .get("govcloud-grant")
            .await?,
    );

    // File every case as the vendor (requests first, so changes and exits can name them).
    let mut outcomes: BTreeMap<String, Outcome> = BTreeMap::new();
    let mut accepted = Vec::new();
    for kind in ["crr", "change", "exit"] {
        for case in cases.iter().filter(|c| c.kind == kind) {
            let mut spec = base_spec(kind, &ns);
            merge(&mut spec, &case.spec);
            let ar = kind_resource(kind);
            let mut obj = DynamicObject::new(&case.name, &ar).within(&ns);
            obj.data = serde_json::json!({ "spec": spec });
            let api: Api<DynamicObject> = Api::namespaced_with(vendor.clone(), &ns, &ar);
            match api.create(&PostParams::default(), &obj).await {
                Ok(_) => accepted.push(case),
                Err(e) => {
                    let e = anyhow::Error::new(e);
                    match api_error_code(&e) {
                        Some(code @ (400 | 422)) => {
                            let msg = match e.downcast_ref::<kube::Error>() {
                                Some(kube::Error::Api(s)) => s.message.clone(),
                                _ => format!("{e:#}"),
                            };
                            outcomes.insert(case.name.clone(), Outcome::Refused(code, msg));
                        }
                        _ => bail!("{}: create failed unexpectedly: {e:#}", case.name),
                    }
                }
            }
        }
    }
    // The bureau approves everything that got in: approval must not rescue an invalid spec.
    for case in &accepted {
        let ar = kind_resource(&case.kind);
        let api: Api<DynamicObject> = Api::namespaced_with(approver.clone(), &ns, &ar);
        let patch = serde_json::json!({"status": {"approval": {"decision": "Approved", "reviewer": "alice", "comment": "looks fine"}}});
        api.patch_status(&case.name, &PatchParams::default(), &Patch::Merge(patch))
            .await
            .with_context(|| format!("approving {}", case.name))?;
    }

    // Every accepted case settles Invalid.
    let names: Vec<(String, String)> = accepted
        .iter()
        .map(|c| (c.kind.clone(), c.name.clone()))
        .collect();
    let settle = wait_for(T, "every accepted case to be Invalid", || {
        let names = names.clone();
        let admin = admin.clone();
        let ns = ns.clone();
        async move {
            let seen = phases_in(&admin, &ns).await?;
            let done = names.iter().all(|(_, n)| {
                seen.get(n)
                    .is_some_and(|(p, m)| p.as_deref() == Some("Invalid") && m.is_some())
            });
            Ok(done.then_some(seen))
        }
    })
    .await;
    let seen = match settle {
        Ok(seen) => seen,
        Err(e) => {
            // Some case never went Invalid: take what is there and let the checks below say which.
            eprintln!("[bad_input] {e}");
            phases_in(&admin, &ns).await?
        }
    };
    for case in &accepted {
        let outcome = match seen.get(&case.name) {
            Some((Some(p), Some(m))) if p == "Invalid" => Outcome::Invalid(m.clone()),
            Some((p, m)) => Outcome::Other(format!(
                "phase {}, Invalid condition {}",
                p.as_deref().unwrap_or("-"),
                m.as_deref().unwrap_or("-")
            )),
            None => Outcome::Other("gone".into()),
        };
        outcomes.insert(case.name.clone(), outcome);
    }

    // Nothing was created for any case; the target kept its grant and stays Active.
    let managed = Api::<Namespace>::all(admin.clone())
        .list(&ListParams::default().labels(&format!(
            "govcloud.io/managed=true,govcloud.io/request-namespace={ns}"
        )))
        .await?
        .items;
    let managed_for: BTreeMap<String, String> = managed
        .iter()
        .map(|n| {
            (
                n.labels()
                    .get("govcloud.io/request-name")
                    .cloned()
                    .unwrap_or_default(),
                n.name_any(),
            )
        })
        .collect();
    let target_now = Api::<CloudResourceRequest>::namespaced(admin.clone(), &ns)
        .get("target")
        .await?;
    let quota_now = quota_hard(
        Api::<ResourceQuota>::namespaced(admin.clone(), &target_tenant)
            .get("govcloud-grant")
            .await?,
    );
    let mut problems = Vec::new();
    for (name, tenant) in &managed_for {
        if name != "target" {
            problems.push(format!("{name}: managed namespace {tenant} created"));
        }
    }
    for hostile in [
        "kube-system",
        "default",
        "kube-public",
        "kube-anything",
        "govcloud-system",
    ] {
        if let Some(n) = Api::<Namespace>::all(admin.clone())
            .get_opt(hostile)
            .await?
            && (n.labels().contains_key("govcloud.io/managed")
                || n.annotations().contains_key("govcloud.io/owner-uid"))
        {
            problems.push(format!("namespace {hostile} was touched"));
        }
    }
    if target_now.status.as_ref().and_then(|s| s.grant.clone()) != target_grant {
        problems.push(format!(
            "target's grant changed: {:?} → {:?}",
            target_grant,
            target_now.status.as_ref().and_then(|s| s.grant.clone())
        ));
    }
    if target_now.status.as_ref().and_then(|s| s.phase) != Some(RequestPhase::Active) {
        problems.push(format!(
            "target left Active: {:?}",
            target_now.status.as_ref().and_then(|s| s.phase)
        ));
    }
    if quota_now != target_quota {
        problems.push(format!(
            "target's quota changed: {target_quota:?} → {quota_now:?}"
        ));
    }
    for case in cases.iter().filter(|c| c.kind == "crr") {
        if let Some(r) = Api::<CloudResourceRequest>::namespaced(admin.clone(), &ns)
            .get_opt(&case.name)
            .await?
            && r.status.as_ref().is_some_and(|s| s.grant.is_some())
        {
            problems.push(format!(
                "{}: granted {:?}",
                case.name,
                r.status.unwrap().grant
            ));
        }
    }

    // The verdict per case, and the table.
    let mut table = String::new();
    let mut wrong = Vec::new();
    for case in &cases {
        let outcome = outcomes
            .get(&case.name)
            .cloned()
            .unwrap_or(Outcome::Other("no outcome".into()));
        let (label, detail, ok) = match (&outcome, case.expect.as_str()) {
            (Outcome::Refused(code, m), "refused") => (format!("refused {code}"), m.clone(), true),
            (Outcome::Refused(code, m), _) => (
                format!("refused {code} (expected Invalid)"),
                m.clone(),
                false,
            ),
            (Outcome::Invalid(m), "invalid") => {
                let field = case.field.as_deref().unwrap_or_default();
                let names_field = m.contains(field);
                (
                    if names_field {
                        "Invalid".to_string()
                    } else {
                        format!("Invalid, does not name {field}")
                    },
                    m.clone(),
                    names_field,
                )
            }
            (Outcome::Invalid(m), _) => ("Invalid (expected refused)".into(), m.clone(), false),
            (Outcome::Other(m), _) => ("NOT INVALID".into(), m.clone(), false),
        };
        let mark = if ok { "" } else { "  WRONG" };
        table.push_str(&format!(
            "{:<28} {:<7} {:<36} {}{mark}\n",
            case.name,
            case.kind,
            label,
            short(&detail, 110)
        ));
        if !ok {
            let line = format!(
                "{} ({}; {}): expected {}{}, got {label}: {}",
                case.name,
                case.kind,
                case.checks,
                case.expect,
                case.field
                    .as_deref()
                    .map(|f| format!(" naming {f}"))
                    .unwrap_or_default(),
                short(&detail, 300)
            );
            wrong.push(line);
        }
    }
    let refused = outcomes
        .values()
        .filter(|o| matches!(o, Outcome::Refused(..)))
        .count();
    let invalid = outcomes
        .values()
        .filter(|o| matches!(o, Outcome::Invalid(..)))
        .count();
    println!(
        "\n{:<28} {:<7} {:<36} message\n{table}{} cases: {refused} refused by the schema, {invalid} Invalid, {} other; {:.1}s",
        "case",
        "kind",
        "outcome",
        cases.len(),
        cases.len() - refused - invalid,
        started.elapsed().as_secs_f64()
    );

    // The operator survived all of it.
    let running = with_operator(|o| o.running()).unwrap_or(false);
    let log =
        with_operator(|o| std::fs::read_to_string(&o.log).unwrap_or_default()).unwrap_or_default();
    if !running {
        problems.push("the operator exited".into());
    }
    if log.contains("panicked") {
        let lines: Vec<&str> = log.lines().filter(|l| l.contains("panicked")).collect();
        problems.push(format!("the operator panicked: {}", lines.join("\n")));
    }
    if !wrong.is_empty() || !problems.is_empty() {
        bail!(
            "{} case(s) handled wrongly:\n  {}\nproblems:\n  {}\n--- operator log ---\n{}",
            wrong.len(),
            wrong.join("\n  "),
            problems.join("\n  "),
            operator_log()
        );
    }
    Ok(())
}
