//! The Helm chart, rendered and installed by a real Helm engine (Helm v4's Go SDK, see
//! `tests/support/helm.rs`), and the proof of its least privilege: the operator runs as a
//! child process with a token of the chart's ServiceAccount and takes requests through
//! their whole life with no 403.
//!
//! The Deployment itself never runs here (the control plane has no nodes); the same binary
//! runs as a local process with the Deployment's environment and the ServiceAccount's token.
//!
//! The install needs a control plane without the chart's cluster-scoped objects (user
//! ClusterRoles, presets) applied by other means: the one this test binary boots, not one
//! reused through `GOVCLOUD_TEST_CONTROL_PLANE` after other tests applied them.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use clap::{CommandFactory, Parser};
use govcloud_operator::api::{
    ChangePhase, CloudResourceRequest, ExitPhase, ExitRequest, ExitRequestSpec, GovCloudPolicy,
    RequestClass, RequestPhase, ResourceAmounts, ResourceChange, ResourceChangeSpec, WorkCalendar,
};
use govcloud_operator::cli::{Cli, Command as CliCommand};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::{LimitRange, Namespace, ResourceQuota, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{ClusterRole, RoleBinding};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{DeleteParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use serde_json::{Value, json};
use support::argocd;
use support::govcloud::{decide, events, fast_policy, file, request_spec};
use support::helm::{self, object, objects};
use support::operator::Operator;
use support::{
    ControlPlane, apply_yaml, control_plane, create_namespace, repo_root, unique_ns,
    wait_crd_established, wait_for, wait_until,
};

const T: Duration = Duration::from_secs(60);
const RELEASE: &str = "govcloud-operator";
const NS: &str = "govcloud-system";
/// The presets, as shipped in examples/policies/.
const PRESETS: [&str; 5] = ["guiyang", "shanghai", "suining", "xishuangbanna", "yixing"];

fn render(values: Value) -> Result<Vec<Value>> {
    helm::template(RELEASE, NS, &values)
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

fn container(docs: &[Value]) -> Result<&Value> {
    object(docs, "Deployment", RELEASE)?
        .pointer("/spec/template/spec/containers/0")
        .ok_or_else(|| anyhow!("the Deployment has no container"))
}

/// name → value of a container's environment; `valueFrom.fieldRef` as `fieldRef:<path>`.
fn env_of(container: &Value) -> BTreeMap<String, String> {
    container["env"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let name = e["name"].as_str()?.to_string();
            let value = match (e.get("value"), str_at(e, "/valueFrom/fieldRef/fieldPath")) {
                (Some(v), _) => v.as_str()?.to_string(),
                (None, Some(path)) => format!("fieldRef:{path}"),
                _ => return None,
            };
            Some((name, value))
        })
        .collect()
}

/// Every `GOVCLOUD_*` variable of `govcloud-operator run`, with its long flag.
fn run_flags() -> Vec<(String, String)> {
    let cli = Cli::command();
    let run = cli
        .find_subcommand("run")
        .expect("the operator has a run subcommand");
    run.get_arguments()
        .filter_map(|a| {
            Some((
                a.get_env()?.to_string_lossy().into_owned(),
                a.get_long()?.to_string(),
            ))
        })
        .collect()
}

#[test]
fn the_chart_lints_strictly() -> Result<()> {
    let report = helm::lint_strict()?;
    assert!(report.contains("1 chart(s) linted, ok"), "{report}");
    Ok(())
}

#[test]
fn the_chart_renders_the_operator_and_its_roles_in_the_release_namespace() -> Result<()> {
    let docs = render(json!({}))?;
    let kinds: BTreeSet<(String, String)> = docs
        .iter()
        .map(|d| {
            (
                str_at(d, "/kind").unwrap_or_default().to_string(),
                str_at(d, "/metadata/name").unwrap_or_default().to_string(),
            )
        })
        .collect();
    for (kind, name) in [
        ("ServiceAccount", RELEASE),
        ("ClusterRole", RELEASE),
        ("ClusterRoleBinding", RELEASE),
        ("Deployment", RELEASE),
        ("Service", "govcloud-operator-metrics"),
        ("ClusterRole", "govcloud-applicant"),
        ("ClusterRole", "govcloud-approver"),
        ("ClusterRole", "govcloud-tenant"),
        ("GovCloudPolicy", "shanghai"),
        ("Service", "govcloud-operator-webhook"),
        ("ValidatingWebhookConfiguration", RELEASE),
        ("MutatingWebhookConfiguration", RELEASE),
        ("Role", "govcloud-operator-webhook"),
        ("RoleBinding", "govcloud-operator-webhook"),
    ] {
        assert!(
            kinds.contains(&(kind.to_string(), name.to_string())),
            "{kind} {name} missing from {kinds:?}"
        );
    }
    assert!(
        objects(&docs, "WorkCalendar").next().is_none(),
        "no WorkCalendar unless asked for"
    );
    // Namespaced objects go to the release namespace; the binding names the SA there.
    for d in &docs {
        let kind = str_at(d, "/kind").unwrap_or_default();
        if matches!(kind, "ServiceAccount" | "Deployment" | "Service") {
            assert_eq!(str_at(d, "/metadata/namespace"), Some(NS), "{kind}");
        }
    }
    let binding = object(&docs, "ClusterRoleBinding", RELEASE)?;
    assert_eq!(str_at(binding, "/roleRef/name"), Some(RELEASE));
    assert_eq!(
        binding["subjects"],
        json!([{"kind": "ServiceAccount", "name": RELEASE, "namespace": NS}])
    );
    // The metrics Service selects the operator's pods, on the named port.
    let deployment = object(&docs, "Deployment", RELEASE)?;
    let service = object(&docs, "Service", "govcloud-operator-metrics")?;
    let pod_labels = deployment
        .pointer("/spec/template/metadata/labels")
        .and_then(Value::as_object)
        .ok_or_else(|| anyhow!("pod labels"))?;
    for (k, v) in service["spec"]["selector"]
        .as_object()
        .into_iter()
        .flatten()
    {
        assert_eq!(pod_labels.get(k), Some(v), "selector {k}");
    }
    assert_eq!(str_at(service, "/spec/ports/0/targetPort"), Some("http"));
    assert_eq!(str_at(container(&docs)?, "/ports/0/name"), Some("http"));
    Ok(())
}

/// The admission webhook (issue 12): its Service reaches the operator's pods, both
/// configurations fail closed on the request kinds and their status only (policies and
/// calendars out, so presets install before the pods are ready), the services webhook
/// selects managed tenant namespaces, and the operator is told its own username.
#[test]
fn the_webhook_fails_closed_on_the_request_kinds_only() -> Result<()> {
    let docs = render(json!({}))?;
    let service = object(&docs, "Service", "govcloud-operator-webhook")?;
    assert_eq!(str_at(service, "/spec/ports/0/targetPort"), Some("webhook"));
    assert_eq!(service["spec"]["ports"][0]["port"], json!(443));
    let c = container(&docs)?;
    assert!(
        c["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["name"] == json!("webhook") && p["containerPort"] == json!(8443))
    );
    let env = env_of(c);
    assert_eq!(
        env.get("GOVCLOUD_OPERATOR_USERNAME").map(String::as_str),
        Some("system:serviceaccount:govcloud-system:govcloud-operator")
    );
    assert_eq!(
        env.get("GOVCLOUD_REQUIRE_ADMISSION").map(String::as_str),
        Some("true"),
        "--require-admission is on by default"
    );
    let kinds = [
        "cloudresourcerequests",
        "cloudresourcerequests/status",
        "resourcechanges",
        "resourcechanges/status",
        "exitrequests",
        "exitrequests/status",
    ];
    for kind in [
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
    ] {
        let config = object(&docs, kind, RELEASE)?;
        for hook in config["webhooks"].as_array().into_iter().flatten() {
            assert_eq!(hook["failurePolicy"], json!("Fail"), "{kind}");
            assert_eq!(hook["sideEffects"], json!("None"), "{kind}");
            assert_eq!(
                str_at(hook, "/clientConfig/service/name"),
                Some("govcloud-operator-webhook")
            );
            assert_eq!(str_at(hook, "/clientConfig/service/namespace"), Some(NS));
            let resources: Vec<&str> = hook["rules"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|r| r["resources"].as_array().into_iter().flatten())
                .filter_map(Value::as_str)
                .collect();
            assert!(
                !resources
                    .iter()
                    .any(|r| r.starts_with("govcloudpolicies") || r.starts_with("workcalendars")),
                "{kind}: policies and calendars are out of scope"
            );
            if hook["name"] == json!("services.govcloud.io") {
                assert_eq!(resources, ["services"]);
                assert_eq!(
                    hook["namespaceSelector"],
                    json!({"matchLabels": {"govcloud.io/managed": "true"}})
                );
            } else {
                assert_eq!(resources, kinds, "{kind}");
            }
        }
    }
    // Without the webhook, none of it (and no rights for it).
    let off = render(json!({"webhook": {"enabled": false}}))?;
    for kind in [
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
    ] {
        assert!(objects(&off, kind).next().is_none(), "{kind}");
    }
    assert!(!env_of(container(&off)?).contains_key("GOVCLOUD_WEBHOOK_LISTEN"));
    let role = object(&off, "ClusterRole", RELEASE)?;
    assert!(
        !grants(role)
            .iter()
            .any(|(g, ..)| g == "admissionregistration.k8s.io")
    );
    Ok(())
}

#[test]
fn the_deployment_runs_locked_down_with_probes_and_limits() -> Result<()> {
    let docs = render(json!({}))?;
    let d = object(&docs, "Deployment", RELEASE)?;
    assert_eq!(d["spec"]["replicas"], json!(1), "no leader election yet");
    assert_eq!(str_at(d, "/spec/strategy/type"), Some("Recreate"));
    let pod = &d["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], json!(RELEASE));
    assert_eq!(pod["securityContext"]["runAsNonRoot"], json!(true));
    assert!(pod["securityContext"]["runAsUser"].as_i64().unwrap_or(0) > 0);
    let c = container(&docs)?;
    assert_eq!(str_at(c, "/image"), Some("govcloud-operator:0.1.0"));
    assert_eq!(c["args"], json!(["run"]));
    let sc = &c["securityContext"];
    assert_eq!(sc["runAsNonRoot"], json!(true));
    assert_eq!(sc["readOnlyRootFilesystem"], json!(true));
    assert_eq!(sc["allowPrivilegeEscalation"], json!(false));
    assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]));
    assert!(sc["capabilities"].get("add").is_none());
    for kind in ["requests", "limits"] {
        for r in ["cpu", "memory"] {
            assert!(
                c["resources"][kind][r].is_string(),
                "resources.{kind}.{r} missing"
            );
        }
    }
    assert_eq!(str_at(c, "/livenessProbe/httpGet/path"), Some("/livez"));
    assert_eq!(str_at(c, "/readinessProbe/httpGet/path"), Some("/readyz"));
    assert_eq!(str_at(c, "/livenessProbe/httpGet/port"), Some("http"));
    assert_eq!(str_at(c, "/readinessProbe/httpGet/port"), Some("http"));
    let env = env_of(c);
    assert_eq!(
        env.get("POD_NAME").map(String::as_str),
        Some("fieldRef:metadata.name")
    );
    assert_eq!(
        env.get("GOVCLOUD_NAMESPACE").map(String::as_str),
        Some("fieldRef:metadata.namespace"),
        "the operator's own namespace is the release namespace"
    );
    Ok(())
}

/// Every flag of `govcloud-operator run` is set from values through its environment
/// variable, and what the chart renders parses as the flags the operator expects.
#[test]
fn every_operator_flag_comes_from_values() -> Result<()> {
    let docs = render(json!({"operator": {
        "defaultPolicy": "guiyang", "logFormat": "plain", "logFilter": "debug",
        "watchStallSeconds": 90, "maxRequeueSeconds": 600, "port": 9090
    }}))?;
    let c = container(&docs)?;
    let env = env_of(c);
    let mut argv = vec!["govcloud-operator".to_string(), "run".to_string()];
    for (var, long) in run_flags() {
        let value = env
            .get(&var)
            .ok_or_else(|| anyhow!("the Deployment does not set {var} (--{long})"))?;
        let value = match value.as_str() {
            "fieldRef:metadata.namespace" => NS.to_string(),
            v => v.to_string(),
        };
        argv.push(format!("--{long}={value}"));
    }
    let CliCommand::Run(args) = Cli::try_parse_from(&argv)
        .map_err(|e| anyhow!("the chart's environment is not valid flags {argv:?}: {e}"))?
        .command;
    assert_eq!(args.namespace, NS);
    assert_eq!(args.default_policy, "guiyang");
    assert_eq!(args.listen.to_string(), "0.0.0.0:9090");
    assert_eq!(args.log_filter, "debug");
    assert_eq!(format!("{:?}", args.log_format), "Plain");
    assert_eq!(args.watch_stall_seconds, 90);
    assert_eq!(args.max_requeue_seconds, 600);
    assert_eq!(c["ports"][0]["containerPort"], json!(9090));
    Ok(())
}

// ------------------------------------------------------------------ least privilege

/// `(apiGroup, resource, verb, resourceNames)` of every rule, expanded.
fn grants(role: &Value) -> BTreeSet<(String, String, String, String)> {
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
        &["get", "create", "patch"],
        "",
    );
    add(
        "networking.k8s.io",
        &["networkpolicies"],
        &["get", "create", "patch"],
        "",
    );
    add(
        "rbac.authorization.k8s.io",
        &["rolebindings"],
        &["get", "create", "patch"],
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

// ------------------------------------------------------------------ presets, calendar, schema

fn yaml_files(dir: &std::path::Path) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            out.insert(name, std::fs::read(&path)?);
        }
    }
    Ok(out)
}

#[test]
fn preset_policies_are_the_examples_verbatim() -> Result<()> {
    let examples = yaml_files(&repo_root().join("examples/policies"))?;
    let shipped = yaml_files(&helm::chart_dir().join("files/policies"))?;
    assert_eq!(
        examples.keys().collect::<Vec<_>>(),
        PRESETS.iter().collect::<Vec<_>>(),
        "examples/policies/ changed: update PRESETS, the chart's files/policies/, \
         values.schema.json and templates/policies.yaml"
    );
    for (name, bytes) in &examples {
        assert!(
            shipped.get(name) == Some(bytes),
            "charts/govcloud-operator/files/policies/{name}.yaml differs from \
             examples/policies/{name}.yaml: copy it over"
        );
    }
    assert_eq!(
        examples.len(),
        shipped.len(),
        "extra files in files/policies/"
    );
    // The schema's enum names exactly the presets.
    let schema: Value = serde_json::from_slice(&std::fs::read(
        helm::chart_dir().join("values.schema.json"),
    )?)?;
    let mut names: Vec<&str> = schema["definitions"]["preset"]["enum"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    names.sort();
    assert_eq!(names, PRESETS);
    // Each renders alone, as the object in examples/ (comments aside), and parses as a policy.
    for name in PRESETS {
        let docs = render(json!({"policies": {"install": [name]}}))?;
        let policies: Vec<&Value> = objects(&docs, "GovCloudPolicy").collect();
        assert_eq!(policies.len(), 1, "{name}");
        let example = support::yaml_documents(std::str::from_utf8(&examples[name])?)?;
        assert_eq!(policies[0], &example[0], "{name}");
        let typed: GovCloudPolicy = serde_json::from_value(policies[0].clone())?;
        assert_eq!(typed.metadata.name.as_deref(), Some(name));
    }
    let all = render(json!({"policies": {"install": PRESETS}}))?;
    assert_eq!(objects(&all, "GovCloudPolicy").count(), 5);
    let none = render(json!({"policies": {"install": []}}))?;
    assert_eq!(objects(&none, "GovCloudPolicy").count(), 0);
    Ok(())
}

#[test]
fn a_work_calendar_from_values_is_a_valid_work_calendar() -> Result<()> {
    let docs = render(
        json!({"workCalendar": {"create": true, "name": "cn-2027", "years": [
            {"year": 2027, "days": [
                {"date": "2027-01-01", "name": "元旦", "isOffDay": true},
                {"date": "2027-02-07", "name": "春节调休", "isOffDay": false}
            ]}
        ]}}),
    )?;
    let doc = object(&docs, "WorkCalendar", "cn-2027")?;
    let cal: WorkCalendar = serde_json::from_value(doc.clone())?;
    assert_eq!(cal.spec.years[0].year, 2027);
    assert_eq!(cal.spec.years[0].days[0].name, "元旦");
    assert!(cal.spec.years[0].days[0].is_off_day);
    assert!(!cal.spec.years[0].days[1].is_off_day);
    assert!(
        doc.pointer("/metadata/namespace").is_none(),
        "cluster-scoped"
    );
    Ok(())
}

#[test]
fn values_outside_the_schema_are_refused() -> Result<()> {
    for (values, expect) in [
        (
            json!({"policies": {"install": ["paris"]}}),
            "/policies/install/0",
        ),
        (json!({"replicaCount": 2}), "/replicaCount"),
        (
            json!({"securityContext": {"readOnlyRootFilesystem": false}}),
            "/securityContext/readOnlyRootFilesystem",
        ),
        (
            json!({"securityContext": {"allowPrivilegeEscalation": true}}),
            "/securityContext/allowPrivilegeEscalation",
        ),
        (
            json!({"securityContext": {"capabilities": {"drop": []}}}),
            "/securityContext/capabilities/drop",
        ),
        (
            json!({"podSecurityContext": {"runAsNonRoot": false}}),
            "/podSecurityContext/runAsNonRoot",
        ),
        (
            json!({"operator": {"logFormat": "xml"}}),
            "/operator/logFormat",
        ),
        (json!({"operator": {"port": 0}}), "/operator/port"),
        (json!({"operater": {}}), "operater"),
        (
            json!({"workCalendar": {"create": true, "years": [{"year": 2027, "days": [{"date": "27-1-1", "isOffDay": true}]}]}}),
            "/workCalendar/years/0/days/0/date",
        ),
    ] {
        match render(values.clone()) {
            Ok(_) => bail!("{values} was accepted"),
            Err(e) => {
                let msg = format!("{e:#}");
                assert!(
                    msg.contains(expect),
                    "{values}: expected {expect:?} in {msg}"
                );
            }
        }
    }
    Ok(())
}

// ------------------------------------------------------------------ installed for real

/// A SelfSubjectAccessReview: may `client` do `verb` on `group`/`resource` (`name`, `ns`)?
async fn may(
    client: &Client,
    verb: &str,
    group: &str,
    resource: &str,
    name: Option<&str>,
    ns: Option<&str>,
) -> Result<bool> {
    let (resource, subresource) = match resource.split_once('/') {
        Some((r, s)) => (r, Some(s.to_string())),
        None => (resource, None),
    };
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                verb: Some(verb.into()),
                group: Some(group.into()),
                resource: Some(resource.into()),
                subresource,
                name: name.map(str::to_string),
                namespace: ns.map(str::to_string),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let answer = Api::<SelfSubjectAccessReview>::all(client.clone())
        .create(&PostParams::default(), &review)
        .await?;
    Ok(answer.status.is_some_and(|s| s.allowed))
}

/// A kubeconfig for the control plane (server and CA from the admin kubeconfig)
/// authenticating with a fresh token of ServiceAccount `ns/sa` (TokenRequest API).
async fn service_account_kubeconfig(cp: &ControlPlane, ns: &str, sa: &str) -> Result<PathBuf> {
    let admin = cp.admin().await?;
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: vec![],
            expiration_seconds: Some(3600),
            ..Default::default()
        },
        ..Default::default()
    };
    let token = Api::<ServiceAccount>::namespaced(admin, ns)
        .create_token_request(sa, &PostParams::default(), &request)
        .await
        .with_context(|| format!("requesting a token for {ns}/{sa}"))?
        .status
        .map(|s| s.token)
        .ok_or_else(|| anyhow!("TokenRequest without status"))?;
    let admin_config: Value = serde_yaml::from_str(&std::fs::read_to_string(
        cp.kubeconfig(support::Identity::Admin),
    )?)?;
    let cluster = admin_config
        .pointer("/clusters/0/cluster")
        .cloned()
        .ok_or_else(|| anyhow!("the admin kubeconfig names no cluster"))?;
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "control-plane", "cluster": cluster}],
        "users": [{"name": sa, "user": {"token": token}}],
        "contexts": [{"name": "operator", "context": {"cluster": "control-plane", "user": sa, "namespace": ns}}],
        "current-context": "operator",
    });
    let path = cp.dir().join(format!("sa-{ns}-{sa}.kubeconfig"));
    std::fs::write(&path, serde_yaml::to_string(&config)?)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(path)
}

async fn client_from(path: &std::path::Path) -> Result<Client> {
    let kubeconfig = Kubeconfig::read_from(path)?;
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
    Ok(Client::try_from(config)?)
}

/// The installed Deployment's environment, as the kubelet would give it to the pod.
fn pod_env(deployment: &Deployment, namespace: &str) -> Vec<(String, String)> {
    let containers = deployment
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .map(|p| p.containers.clone())
        .unwrap_or_default();
    containers
        .first()
        .and_then(|c| c.env.clone())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|e| {
            let value = match (
                e.value,
                e.value_from.and_then(|f| f.field_ref).map(|f| f.field_path),
            ) {
                (Some(v), _) => v,
                (None, Some(p)) if p == "metadata.namespace" => namespace.to_string(),
                (None, Some(p)) if p == "metadata.name" => "govcloud-operator-test-pod".into(),
                _ => return None,
            };
            Some((e.name, value))
        })
        .collect()
}

/// Log lines that report a refusal: kube's API errors read `...: Forbidden (Status {..
/// code: 403 ..})`. (A bare "403" would also match timestamps such as `.403459Z`.)
fn forbidden_lines(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.to_ascii_lowercase().contains("forbidden") || l.contains("code: 403"))
        .collect()
}

async fn request_phase(
    client: &Client,
    ns: &str,
    name: &str,
    phase: RequestPhase,
    op: &Operator,
) -> Result<CloudResourceRequest> {
    let api: Api<CloudResourceRequest> = Api::namespaced(client.clone(), ns);
    wait_for(T, format!("{ns}/{name} in phase {phase:?}"), || async {
        let r = api.get(name).await?;
        Ok((r.status.as_ref().and_then(|s| s.phase) == Some(phase)).then_some(r))
    })
    .await
    .map_err(|e| anyhow!("{e}\n--- operator log ---\n{}", op.log_tail()))
}

#[tokio::test]
async fn installed_by_helm_the_service_account_alone_runs_the_operator() -> Result<()> {
    let cp = control_plane()?;
    let admin = cp.admin().await?;
    let release = unique_ns("gco");
    let release_ns = unique_ns("govcloud-system");
    let policy = unique_ns("fast");
    let fullname = format!("{release}-govcloud-operator");

    // helm install through Helm v4's SDK, as the cluster admin.
    let summary = helm::install(
        &cp.kubeconfig(support::Identity::Admin),
        &release,
        &release_ns,
        &json!({"policies": {"install": ["shanghai", "guiyang"]}, "operator": {"defaultPolicy": policy}}),
    )
    .await?;
    assert_eq!(summary["status"], json!("deployed"), "{summary}");
    for crd in govcloud_operator::operator::required_crds() {
        wait_crd_established(&admin, &crd).await?;
    }
    let deployment = Api::<Deployment>::namespaced(admin.clone(), &release_ns)
        .get(&fullname)
        .await?;
    Api::<Service>::namespaced(admin.clone(), &release_ns)
        .get(&format!("{fullname}-metrics"))
        .await?;
    Api::<ClusterRole>::all(admin.clone())
        .get(&fullname)
        .await?;
    let policies = Api::<GovCloudPolicy>::all(admin.clone());
    for preset in ["shanghai", "guiyang"] {
        policies.get(preset).await?;
    }
    assert!(policies.get_opt("yixing").await?.is_none());

    // People: the chart installs the user roles; the cluster admin binds them.
    apply_yaml(
        &admin,
        r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: chart-test-approvers}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: govcloud-approver}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: "govcloud:approvers"}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: chart-test-applicants}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: govcloud-applicant}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: "govcloud:vendors"}]
"#,
        None,
    )
    .await?;

    // The ServiceAccount's rights, asked of the API server with its own token.
    let sa_config = service_account_kubeconfig(cp, &release_ns, &fullname).await?;
    let sa = client_from(&sa_config).await?;
    // RBAC reaches the authorizer's cache a moment after the objects are stored.
    wait_until(
        T,
        "the chart's ClusterRoleBinding to take effect",
        || async {
            may(
                &sa,
                "patch",
                "govcloud.io",
                "cloudresourcerequests/status",
                None,
                Some("x"),
            )
            .await
        },
    )
    .await?;
    let vendor = cp.vendor().await?;
    let approver = cp.approver().await?;
    wait_until(T, "the test's user bindings to take effect", || async {
        Ok(may(
            &vendor,
            "create",
            "govcloud.io",
            "cloudresourcerequests",
            None,
            Some("x"),
        )
        .await?
            && may(
                &approver,
                "patch",
                "govcloud.io",
                "cloudresourcerequests/status",
                None,
                Some("x"),
            )
            .await?)
    })
    .await?;
    let tenant_like = Some("some-tenant");
    for (verb, group, resource, name, ns, allowed) in [
        (
            "get",
            "apiextensions.k8s.io",
            "customresourcedefinitions",
            Some("cloudresourcerequests.govcloud.io"),
            None,
            true,
        ),
        (
            "get",
            "apiextensions.k8s.io",
            "customresourcedefinitions",
            Some("widgets.example.com"),
            None,
            false,
        ),
        (
            "patch",
            "govcloud.io",
            "cloudresourcerequests/status",
            None,
            tenant_like,
            true,
        ),
        (
            "bind",
            "rbac.authorization.k8s.io",
            "clusterroles",
            Some("govcloud-tenant"),
            None,
            true,
        ),
        (
            "bind",
            "rbac.authorization.k8s.io",
            "clusterroles",
            Some("cluster-admin"),
            None,
            false,
        ),
        (
            "bind",
            "rbac.authorization.k8s.io",
            "clusterroles",
            Some("govcloud-approver"),
            None,
            false,
        ),
        (
            "escalate",
            "rbac.authorization.k8s.io",
            "clusterroles",
            None,
            None,
            false,
        ),
        ("impersonate", "", "users", None, None, false),
        (
            "impersonate",
            "",
            "serviceaccounts",
            None,
            tenant_like,
            false,
        ),
        (
            "create",
            "rbac.authorization.k8s.io",
            "clusterrolebindings",
            None,
            None,
            false,
        ),
        ("get", "", "secrets", None, Some(release_ns.as_str()), false),
        ("list", "", "secrets", None, tenant_like, false),
        (
            "update",
            "govcloud.io",
            "cloudresourcerequests",
            None,
            tenant_like,
            false,
        ),
        (
            "delete",
            "govcloud.io",
            "cloudresourcerequests",
            None,
            tenant_like,
            false,
        ),
        (
            "create",
            "govcloud.io",
            "cloudresourcerequests",
            None,
            tenant_like,
            false,
        ),
        (
            "patch",
            "govcloud.io",
            "govcloudpolicies",
            None,
            None,
            false,
        ),
        (
            "create",
            "govcloud.io",
            "govcloudrecords",
            None,
            tenant_like,
            true,
        ),
        (
            "update",
            "govcloud.io",
            "govcloudrecords",
            None,
            tenant_like,
            false,
        ),
        (
            "patch",
            "govcloud.io",
            "govcloudrecords",
            None,
            tenant_like,
            false,
        ),
        ("create", "apps", "deployments", None, tenant_like, false),
        ("delete", "", "pods", None, tenant_like, false),
        ("create", "", "pods", None, tenant_like, false),
        (
            "create",
            "apiextensions.k8s.io",
            "customresourcedefinitions",
            None,
            None,
            false,
        ),
    ] {
        assert_eq!(
            may(&sa, verb, group, resource, name, ns).await?,
            allowed,
            "{verb} {group}/{resource} {name:?} in {ns:?}"
        );
    }

    // The log check below can fail: an operator with the release namespace's `default`
    // ServiceAccount (no rights) logs 403s at once.
    let nobody_config = service_account_kubeconfig(cp, &release_ns, "default").await?;
    let mut nobody = Operator::start_with(cp, nobody_config, &[], &[])?;
    wait_until(
        T,
        "a 403 in the log of an operator without rights",
        || async {
            let log = std::fs::read_to_string(&nobody.log).unwrap_or_default();
            Ok(!forbidden_lines(&log).is_empty())
        },
    )
    .await?;
    nobody.kill();

    // The operator as the chart runs it: the Deployment's environment (release namespace,
    // default policy, log format...) and the ServiceAccount's token — nothing else.
    let env = pod_env(&deployment, &release_ns);
    assert!(
        env.iter()
            .any(|(k, v)| k == "GOVCLOUD_NAMESPACE" && *v == release_ns)
    );
    assert!(
        env.iter()
            .any(|(k, v)| k == "GOVCLOUD_DEFAULT_POLICY" && *v == policy)
    );
    // The webhook as the chart installs it, reached on loopback (the control plane has no
    // nodes to run the Service's pods): the configurations point at this process.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let env: Vec<(String, String)> = env
        .into_iter()
        .map(|(k, v)| match k.as_str() {
            "GOVCLOUD_WEBHOOK_LISTEN" => (k, format!("127.0.0.1:{port}")),
            "GOVCLOUD_WEBHOOK_HOSTS" => (k, "127.0.0.1".into()),
            _ => (k, v),
        })
        .collect();
    assert!(
        env.iter().any(|(k, v)| k == "GOVCLOUD_OPERATOR_USERNAME"
            && *v == format!("system:serviceaccount:{release_ns}:{fullname}")),
        "the operator is told its ServiceAccount's username"
    );
    for (kind, plural) in [
        (
            "ValidatingWebhookConfiguration",
            "validatingwebhookconfigurations",
        ),
        (
            "MutatingWebhookConfiguration",
            "mutatingwebhookconfigurations",
        ),
    ] {
        let ar = kube::api::ApiResource {
            group: "admissionregistration.k8s.io".into(),
            version: "v1".into(),
            api_version: "admissionregistration.k8s.io/v1".into(),
            kind: kind.into(),
            plural: plural.into(),
        };
        let api: Api<kube::api::DynamicObject> = Api::all_with(admin.clone(), &ar);
        let config = api.get(&fullname).await?;
        let hooks = config.data["webhooks"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let ops: Vec<Value> = hooks
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let path = str_at(h, "/clientConfig/service/path").unwrap_or("/validate");
                json!({"op": "replace", "path": format!("/webhooks/{i}/clientConfig"),
                       "value": {"url": format!("https://127.0.0.1:{port}{path}")}})
            })
            .collect();
        api.patch(
            &fullname,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::<Value>::Json(serde_json::from_value(Value::Array(ops))?),
        )
        .await?;
    }
    let mut op = Operator::start_with(cp, sa_config, &env, &[])?;
    wait_until(T, "the operator to be ready", || async {
        Ok(op
            .get("/readyz")
            .map(|(code, _)| code == 200)
            .unwrap_or(false))
    })
    .await
    .map_err(|e| anyhow!("{e}\n--- operator log ---\n{}", op.log_tail()))?;

    let ns = unique_ns("unit");
    create_namespace(&admin, &ns).await?;
    fast_policy(&admin, &policy, |p| {
        p["classes"]["Test"]["maxDuration"] = "20s".into();
        p["expiry"] = json!({"warnBefore": "4s", "suspendFor": "4s"});
        p["changes"] = json!({"autoApproveScaleDown": true});
    })
    .await?;

    // A Production request under the chart's default policy: approved → Active.
    let mut portal = request_spec(&policy, RequestClass::Production, "8");
    portal.policy = None;
    file(&vendor, &ns, "portal", portal).await?;
    // A Test request that expires, is suspended (workloads scaled to zero) and reclaimed.
    file(
        &vendor,
        &ns,
        "trial",
        request_spec(&policy, RequestClass::Test, "2"),
    )
    .await?;
    // A request for the operator's own namespace: refused by the webhook's naming rule.
    let mut squatter = request_spec(&policy, RequestClass::Production, "1");
    squatter.tenant_namespace = Some(release_ns.clone());
    let refused = file(&vendor, &ns, "squatter", squatter).await;
    assert!(
        refused
            .as_ref()
            .err()
            .is_some_and(|e| e.to_string().contains("tenant-namespace")),
        "{refused:?}"
    );
    decide(cp, &ns, "portal", "Approved", "ok").await?;
    decide(cp, &ns, "trial", "Approved", "ok").await?;

    // The trial: a workload is deployed at once; later the grant expires, is suspended and
    // reclaimed.
    let trial = request_phase(&admin, &ns, "trial", RequestPhase::Active, &op).await?;
    let trial_ns = trial
        .status
        .and_then(|s| s.tenant_namespace)
        .ok_or_else(|| anyhow!("no tenant namespace for trial"))?;
    let web: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}
    }))?;
    let deployments = Api::<Deployment>::namespaced(admin.clone(), &trial_ns);
    deployments.create(&PostParams::default(), &web).await?;

    let active = request_phase(&admin, &ns, "portal", RequestPhase::Active, &op).await?;
    // Argo CD's health check reads the operator's real status as intended.
    assert_eq!(
        argocd::health(&serde_json::to_value(&active)?)?.0,
        "Healthy"
    );
    let tenant = active
        .status
        .as_ref()
        .and_then(|s| s.tenant_namespace.clone())
        .ok_or_else(|| anyhow!("no tenant namespace"))?;
    Api::<ResourceQuota>::namespaced(admin.clone(), &tenant)
        .get("govcloud-grant")
        .await?;
    Api::<LimitRange>::namespaced(admin.clone(), &tenant)
        .get("govcloud-defaults")
        .await?;
    let binding = Api::<RoleBinding>::namespaced(admin.clone(), &tenant)
        .get("govcloud-tenant")
        .await?;
    assert_eq!(binding.role_ref.name, "govcloud-tenant");
    Api::<NetworkPolicy>::namespaced(admin.clone(), &tenant)
        .get("govcloud-isolation")
        .await?;
    assert!(
        active
            .metadata
            .finalizers
            .as_ref()
            .is_some_and(|f| !f.is_empty()),
        "the deletion guard (finalizer patch)"
    );
    wait_until(T, "an Active event for portal", || async {
        Ok(events(&admin, &ns, "portal")
            .await?
            .iter()
            .any(|(_, r)| r == "Active"))
    })
    .await?;
    // The operator's own namespace (GOVCLOUD_NAMESPACE, the release namespace) is untouched.
    let own = Api::<Namespace>::all(admin.clone())
        .get(&release_ns)
        .await?;
    assert!(
        !own.metadata
            .labels
            .unwrap_or_default()
            .contains_key("govcloud.io/managed"),
        "the release namespace was touched"
    );

    // A scale-down, auto-approved and applied to the quota (ResourceChange status).
    let less = ResourceChangeSpec {
        request: "portal".into(),
        resources: Some(ResourceAmounts {
            cpu: Some(IntOrString::String("4".into())),
            ..Default::default()
        }),
        extend_to: None,
        convert_to: None,
        reason: Some("less load".into()),
        justification: None,
        recurring: false,
        access_groups: None,
        zone: None,
    };
    Api::<ResourceChange>::namespaced(vendor.clone(), &ns)
        .create(&PostParams::default(), &ResourceChange::new("less", less))
        .await?;
    let changes = Api::<ResourceChange>::namespaced(admin.clone(), &ns);
    wait_until(T, "the scale-down to be applied", || async {
        let c = changes.get("less").await?;
        Ok(c.status.and_then(|s| s.phase) == Some(ChangePhase::Applied))
    })
    .await
    .map_err(|e| anyhow!("{e}\n--- operator log ---\n{}", op.log_tail()))?;
    // An exit for a request that does not exist gets a status too (ExitRequest status).
    let exit: ExitRequestSpec = serde_json::from_value(json!({
        "request": "no-such-request", "reason": "replaced", "lastUsedOn": "2026-11-01"
    }))?;
    Api::<ExitRequest>::namespaced(vendor.clone(), &ns)
        .create(&PostParams::default(), &ExitRequest::new("leave", exit))
        .await?;
    let exits = Api::<ExitRequest>::namespaced(admin.clone(), &ns);
    wait_until(T, "the exit to get a phase", || async {
        Ok(exits
            .get("leave")
            .await?
            .status
            .and_then(|s| s.phase)
            .is_some())
    })
    .await?;
    let left = exits.get("leave").await?;
    assert_eq!(
        left.status.as_ref().and_then(|s| s.phase),
        Some(ExitPhase::Invalid)
    );
    assert_eq!(argocd::health(&serde_json::to_value(&left)?)?.0, "Degraded");
    let applied = changes.get("less").await?;
    assert_eq!(
        argocd::health(&serde_json::to_value(&applied)?)?.0,
        "Healthy"
    );

    // The trial expires: suspended (workloads scaled to zero), then reclaimed.
    let suspended = request_phase(&admin, &ns, "trial", RequestPhase::Suspended, &op).await?;
    assert_eq!(
        argocd::health(&serde_json::to_value(&suspended)?)?.0,
        "Suspended"
    );
    assert_eq!(
        suspended
            .status
            .as_ref()
            .and_then(|s| s.suspended_replicas.get("Deployment/web")),
        Some(&2)
    );
    // The replicas are recorded in status before the scale-down (crash safety), so the
    // scale-down follows the phase.
    wait_until(T, "web to be scaled to zero", || async {
        Ok(deployments.get("web").await?.spec.and_then(|s| s.replicas) == Some(0))
    })
    .await?;
    request_phase(&admin, &ns, "trial", RequestPhase::Reclaimed, &op).await?;
    let namespaces = Api::<Namespace>::all(admin.clone());
    wait_until(T, "the trial's tenant namespace to be deleted", || async {
        Ok(namespaces
            .get_opt(&trial_ns)
            .await?
            .is_none_or(|n| n.metadata.deletion_timestamp.is_some()))
    })
    .await?;
    // Deleting the reclaimed request releases its finalizer.
    let requests = Api::<CloudResourceRequest>::namespaced(admin.clone(), &ns);
    requests.delete("trial", &DeleteParams::default()).await?;
    wait_until(T, "the reclaimed request to go", || async {
        Ok(requests.get_opt("trial").await?.is_none())
    })
    .await
    .map_err(|e| anyhow!("{e}\n--- operator log ---\n{}", op.log_tail()))?;

    // Zero 403s: none in the log, none among the reconcile failures.
    let (_, metrics) = op.get("/metrics")?;
    let log = std::fs::read_to_string(&op.log)?;
    let forbidden = forbidden_lines(&log);
    assert!(
        forbidden.is_empty(),
        "the chart's ClusterRole is missing rights:\n{}",
        forbidden.join("\n")
    );
    assert!(
        !metrics.contains("category=\"forbidden\""),
        "forbidden reconcile failures:\n{metrics}"
    );
    assert!(op.terminate(Duration::from_secs(20))?, "graceful stop");
    Ok(())
}
