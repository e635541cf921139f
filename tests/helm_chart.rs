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

#[path = "helm_chart/availability.rs"]
mod availability;
#[path = "helm_chart/live.rs"]
mod live;
#[path = "helm_chart/live_records.rs"]
mod live_records;
#[path = "helm_chart/live_rights.rs"]
mod live_rights;
#[path = "helm_chart/live_support.rs"]
mod live_support;
#[path = "helm_chart/privileges.rs"]
mod privileges;
mod support;
#[path = "helm_chart/values.rs"]
mod values;

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
/// selects managed tenant namespaces, the records webhook reviews every create, update and
/// delete of a GovCloudRecord (issue 16), and the operator is told its own username.
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
    let mut records_hook = false;
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
            } else if hook["name"] == json!("records.govcloud.io") {
                // Issue 16: every write of a record, deletions included, is reviewed.
                assert_eq!(kind, "ValidatingWebhookConfiguration");
                assert_eq!(resources, ["govcloudrecords"]);
                assert_eq!(
                    hook["rules"][0]["operations"],
                    json!(["CREATE", "UPDATE", "DELETE"])
                );
                assert_eq!(
                    str_at(hook, "/clientConfig/service/path"),
                    Some("/validate-records")
                );
                records_hook = true;
            } else {
                assert_eq!(resources, kinds, "{kind}");
            }
        }
    }
    assert!(records_hook, "records are in the webhook's scope");
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
        !privileges::grants(role)
            .iter()
            .any(|(g, ..)| g == "admissionregistration.k8s.io")
    );
    Ok(())
}

#[test]
fn the_deployment_runs_locked_down_with_probes_and_limits() -> Result<()> {
    let docs = render(json!({}))?;
    let d = object(&docs, "Deployment", RELEASE)?;
    // Replicas, strategy, budget and spread: availability.rs.
    assert_eq!(d["spec"]["replicas"], json!(2));
    let pod = &d["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], json!(RELEASE));
    assert_eq!(pod["securityContext"]["runAsNonRoot"], json!(true));
    assert!(pod["securityContext"]["runAsUser"].as_i64().unwrap_or(0) > 0);
    let c = container(&docs)?;
    assert_eq!(
        str_at(c, "/image"),
        Some("localhost/govcloud-operator:0.1.0")
    );
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

// ------------------------------------------------------------------ presets, calendar, schema

// ------------------------------------------------------------------ installed for real
