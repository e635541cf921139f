//! Presets, work calendars and values as the chart ships them.

use super::*;

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
        (json!({"replicaCount": -1}), "/replicaCount"),
        (json!({"replicaCount": "2"}), "/replicaCount"),
        (
            json!({"updateStrategy": "RollingUpdate"}),
            "/updateStrategy",
        ),
        (
            json!({"updateStrategy": {"type": "Recreate"}}),
            "/updateStrategy/type",
        ),
        (
            json!({"updateStrategy": {"rollingUpdate": {"maxSurge": "one"}}}),
            "/updateStrategy/rollingUpdate/maxSurge",
        ),
        (
            json!({"updateStrategy": {"rollingUpdate": {"maxSurge": 0}}}),
            "/updateStrategy/rollingUpdate",
        ),
        (
            json!({"podDisruptionBudget": {"maxUnavailable": 0}}),
            "/podDisruptionBudget/maxUnavailable",
        ),
        (
            json!({"topologySpreadConstraints": [{"topologyKey": "kubernetes.io/hostname", "maxSkew": 1, "whenUnsatisfiable": "Sometimes"}]}),
            "/topologySpreadConstraints/0/whenUnsatisfiable",
        ),
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
