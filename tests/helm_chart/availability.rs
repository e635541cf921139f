//! The chart's highly-available defaults (issue 17 item 4): two replicas (a leader and a
//! standby, both serving the webhook), rolling updates that never leave the webhook without
//! a ready server, a PodDisruptionBudget, spread over nodes; and what refuses to render.

use super::*;

/// The Deployment's pod selector (`spec.selector.matchLabels`).
fn pod_selector(docs: &[Value]) -> Result<&Value> {
    object(docs, "Deployment", RELEASE)?
        .pointer("/spec/selector/matchLabels")
        .ok_or_else(|| anyhow!("the Deployment has no selector"))
}

/// `selector` is non-empty and selects the Deployment's pod template.
fn selects_the_pods(docs: &[Value], selector: &Value) -> Result<()> {
    let labels = object(docs, "Deployment", RELEASE)?
        .pointer("/spec/template/metadata/labels")
        .and_then(Value::as_object)
        .ok_or_else(|| anyhow!("pod labels"))?;
    let selector = selector
        .as_object()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| anyhow!("empty selector"))?;
    for (k, v) in selector {
        assert_eq!(labels.get(k), Some(v), "selector {k}");
    }
    Ok(())
}

#[test]
fn by_default_two_replicas_roll_one_new_pod_before_an_old_one_goes() -> Result<()> {
    let docs = render(json!({}))?;
    let d = object(&docs, "Deployment", RELEASE)?;
    assert_eq!(d["spec"]["replicas"], json!(2));
    assert_eq!(
        d["spec"]["strategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}})
    );
    // Two replicas are safe only with the Lease.
    assert_eq!(
        env_of(container(&docs)?)
            .get("GOVCLOUD_LEADER_ELECTION")
            .map(String::as_str),
        Some("true")
    );
    // The strategy comes from values.
    let docs = render(
        json!({"updateStrategy": {"rollingUpdate": {"maxUnavailable": 1, "maxSurge": "50%"}}}),
    )?;
    assert_eq!(
        object(&docs, "Deployment", RELEASE)?["spec"]["strategy"]["rollingUpdate"],
        json!({"maxUnavailable": 1, "maxSurge": "50%"})
    );
    Ok(())
}

#[test]
fn a_disruption_budget_covers_the_pods_when_there_is_more_than_one() -> Result<()> {
    let docs = render(json!({}))?;
    let pdb = object(&docs, "PodDisruptionBudget", RELEASE)?;
    // Offline there is no cluster to ask; Helm's default Kubernetes version serves
    // policy/v1. (On 1.20 the live install gets policy/v1beta1: see `live.rs`.)
    assert_eq!(str_at(pdb, "/apiVersion"), Some("policy/v1"));
    assert_eq!(str_at(pdb, "/metadata/namespace"), Some(NS));
    assert_eq!(pdb["spec"]["maxUnavailable"], json!(1));
    assert!(pdb["spec"].get("minAvailable").is_none());
    assert_eq!(
        pdb["spec"]["selector"]["matchLabels"],
        *pod_selector(&docs)?
    );
    selects_the_pods(&docs, &pdb["spec"]["selector"]["matchLabels"])?;

    let percent = render(json!({"podDisruptionBudget": {"maxUnavailable": "50%"}}))?;
    assert_eq!(
        object(&percent, "PodDisruptionBudget", RELEASE)?["spec"]["maxUnavailable"],
        json!("50%")
    );
    // One pod: a budget could only block drains. Disabled: none.
    for values in [
        json!({"replicaCount": 1}),
        json!({"replicaCount": 0}),
        json!({"podDisruptionBudget": {"enabled": false}}),
    ] {
        let docs = render(values.clone())?;
        assert!(
            objects(&docs, "PodDisruptionBudget").next().is_none(),
            "{values}"
        );
    }
    Ok(())
}

#[test]
fn replicas_spread_over_nodes_by_the_pods_own_labels() -> Result<()> {
    let docs = render(json!({}))?;
    let spread = object(&docs, "Deployment", RELEASE)?
        .pointer("/spec/template/spec/topologySpreadConstraints")
        .and_then(Value::as_array)
        .ok_or_else(|| anyhow!("no topologySpreadConstraints"))?;
    assert_eq!(spread.len(), 1);
    let c = &spread[0];
    assert_eq!(str_at(c, "/topologyKey"), Some("kubernetes.io/hostname"));
    assert_eq!(c["maxSkew"], json!(1));
    // A one-node cluster still schedules both.
    assert_eq!(str_at(c, "/whenUnsatisfiable"), Some("ScheduleAnyway"));
    assert_eq!(c["labelSelector"]["matchLabels"], *pod_selector(&docs)?);
    selects_the_pods(&docs, &c["labelSelector"]["matchLabels"])?;

    // A constraint's own labelSelector is kept; one without gets the pods'.
    let own = json!({"matchLabels": {"team": "platform"}});
    let docs = render(json!({"topologySpreadConstraints": [
        {"topologyKey": "topology.kubernetes.io/zone", "maxSkew": 2,
         "whenUnsatisfiable": "DoNotSchedule", "labelSelector": own},
        {"topologyKey": "kubernetes.io/hostname", "maxSkew": 1,
         "whenUnsatisfiable": "DoNotSchedule"}
    ]}))?;
    let pod = object(&docs, "Deployment", RELEASE)?
        .pointer("/spec/template/spec")
        .ok_or_else(|| anyhow!("no pod spec"))?;
    assert_eq!(pod["topologySpreadConstraints"][0]["labelSelector"], own);
    assert_eq!(
        pod["topologySpreadConstraints"][0]["topologyKey"],
        json!("topology.kubernetes.io/zone")
    );
    assert_eq!(
        pod["topologySpreadConstraints"][1]["labelSelector"]["matchLabels"],
        *pod_selector(&docs)?
    );
    // An empty list: no constraint at all.
    let none = render(json!({"topologySpreadConstraints": []}))?;
    assert!(
        object(&none, "Deployment", RELEASE)?
            .pointer("/spec/template/spec/topologySpreadConstraints")
            .is_none()
    );
    Ok(())
}

#[test]
fn more_than_one_replica_without_leader_election_is_refused() -> Result<()> {
    let refused = render(json!({"replicaCount": 3, "operator": {"leaderElection": false}}));
    let msg = match refused {
        Ok(_) => bail!("3 replicas without leader election rendered"),
        Err(e) => format!("{e:#}"),
    };
    for key in ["replicaCount", "operator.leaderElection"] {
        assert!(msg.contains(key), "{key} not named in: {msg}");
    }
    // One replica needs no Lease; three with it render three.
    render(json!({"replicaCount": 1, "operator": {"leaderElection": false}}))?;
    let three = render(json!({"replicaCount": 3}))?;
    assert_eq!(
        object(&three, "Deployment", RELEASE)?["spec"]["replicas"],
        json!(3)
    );
    Ok(())
}

/// The image the chart pulls by default is the one `scripts/image` builds and names
/// (`localhost/govcloud-operator:<Cargo.toml version>`): the chart's appVersion is the
/// crate's version.
#[test]
fn the_default_image_is_the_one_scripts_image_names() -> Result<()> {
    let chart: Value = serde_yaml::from_str(&std::fs::read_to_string(
        helm::chart_dir().join("Chart.yaml"),
    )?)?;
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        str_at(&chart, "/appVersion"),
        Some(version),
        "Chart.yaml's appVersion is not Cargo.toml's package version"
    );
    let docs = render(json!({}))?;
    assert_eq!(
        str_at(container(&docs)?, "/image"),
        Some(format!("localhost/govcloud-operator:{version}").as_str())
    );
    Ok(())
}

/// On the live install (Kubernetes 1.20, no policy/v1): the budget Helm created is a
/// policy/v1beta1 PodDisruptionBudget over the Deployment's pods, and the Deployment is the
/// two-replica rolling one.
pub(super) async fn installed_for_high_availability(
    admin: &Client,
    ns: &str,
    fullname: &str,
    deployment: &Deployment,
) -> Result<()> {
    let spec = deployment
        .spec
        .as_ref()
        .ok_or_else(|| anyhow!("the Deployment has no spec"))?;
    assert_eq!(spec.replicas, Some(2));
    let strategy = spec
        .strategy
        .as_ref()
        .ok_or_else(|| anyhow!("no strategy"))?;
    assert_eq!(strategy.type_.as_deref(), Some("RollingUpdate"));
    let rolling = strategy
        .rolling_update
        .as_ref()
        .ok_or_else(|| anyhow!("no rollingUpdate"))?;
    assert_eq!(rolling.max_unavailable, Some(IntOrString::Int(0)));
    assert_eq!(rolling.max_surge, Some(IntOrString::Int(1)));

    let ar = kube::api::ApiResource {
        group: "policy".into(),
        version: "v1beta1".into(),
        api_version: "policy/v1beta1".into(),
        kind: "PodDisruptionBudget".into(),
        plural: "poddisruptionbudgets".into(),
    };
    let pdb = Api::<kube::api::DynamicObject>::namespaced_with(admin.clone(), ns, &ar)
        .get(fullname)
        .await
        .with_context(|| format!("the policy/v1beta1 PodDisruptionBudget {ns}/{fullname}"))?;
    assert_eq!(pdb.data["spec"]["maxUnavailable"], json!(1));
    let selector = serde_json::to_value(&spec.selector.match_labels)?;
    assert_eq!(pdb.data["spec"]["selector"]["matchLabels"], selector);
    Ok(())
}
