//! Spec writes outside the rules, and the corpus of bad writes (tests/corpus/admission.yaml).

use super::*;

#[tokio::test]
async fn spec_writes_outside_the_rules_are_refused() -> Result<()> {
    let s = setup().await?;
    let _shared = EXCLUSIVE.read().await;
    let (admin, ns) = namespace_with_policy(s, "spec").await?;
    let vendor = s.cp.vendor().await?;
    let api: Api<CloudResourceRequest> = Api::namespaced(vendor.clone(), &ns);
    let create = |name: &str, f: &dyn Fn(&mut govcloud_operator::api::CloudResourceRequestSpec)| {
        let mut spec = request_spec(&ns, RequestClass::Production, "2");
        f(&mut spec);
        CloudResourceRequest::new(name, spec)
    };
    // XB 26: Production may not use the fast track here; Emergency up to 4 CPUs may.
    let text = denial(
        api.create(
            &PostParams::default(),
            &create("prod-emergency", &|s| s.emergency = true),
        )
        .await,
        "emergency",
    )?;
    assert!(
        text.contains("XB 26") && text.contains("allowedClasses"),
        "{text}"
    );
    let big = |s: &mut govcloud_operator::api::CloudResourceRequestSpec| {
        s.emergency = true;
        s.class = RequestClass::Emergency;
        s.duration = Some("60s".into());
        s.resources.cpu = Some(IntOrString::String("8".into()));
    };
    let text = denial(
        api.create(&PostParams::default(), &create("big-emergency", &big))
            .await,
        "emergency",
    )?;
    assert!(text.contains("cpu 8 > 4"), "{text}");
    // system: groups.
    let text = denial(
        api.create(
            &PostParams::default(),
            &create("everyone", &|s| {
                s.access = Some(govcloud_operator::api::Access {
                    groups: vec!["system:authenticated".into()],
                })
            }),
        )
        .await,
        "system-group",
    )?;
    assert!(text.contains("system:authenticated"), "{text}");
    // A tenant namespace outside the naming rule, or one that exists and is not ours.
    let text = denial(
        api.create(
            &PostParams::default(),
            &create("velero", &|s| s.tenant_namespace = Some("velero".into())),
        )
        .await,
        "tenant-namespace",
    )?;
    assert!(text.contains(&format!("{ns}-")), "{text}");
    let taken = format!("{ns}-taken");
    create_namespace(&admin, &taken).await?;
    denial(
        api.create(
            &PostParams::default(),
            &create("taken", &|s| s.tenant_namespace = Some(taken.clone())),
        )
        .await,
        "tenant-namespace",
    )?;
    for name in [
        "prod-emergency",
        "big-emergency",
        "everyone",
        "velero",
        "taken",
    ] {
        assert!(api.get_opt(name).await?.is_none(), "{name} was created");
    }

    // A granted request keeps its tenant namespace and its finalizer.
    let own = format!("{ns}-portal");
    api.create(
        &PostParams::default(),
        &create("portal", &|s| s.tenant_namespace = Some(own.clone())),
    )
    .await?;
    approve(s, &ns, "portal", "").await?;
    let active = wait_phase(&admin, &ns, "portal", RequestPhase::Active, T)
        .await
        .map_err(|e| anyhow!("{e}\n{}", log(s)))?;
    assert!(
        active
            .finalizers()
            .iter()
            .any(|f| f == TENANT_PROTECTION_FINALIZER)
    );
    let moved = serde_json::json!({"spec": {"tenantNamespace": format!("{ns}-elsewhere")}});
    denial(
        api.patch("portal", &PatchParams::default(), &Patch::Merge(&moved))
            .await,
        "tenant-namespace",
    )?;
    let stripped = serde_json::json!({"metadata": {"finalizers": null}});
    let text = denial(
        api.patch("portal", &PatchParams::default(), &Patch::Merge(&stripped))
            .await,
        "tenant-protection",
    )?;
    assert!(text.contains(TENANT_PROTECTION_FINALIZER), "{text}");
    let now = api.get("portal").await?;
    assert_eq!(now.spec.tenant_namespace.as_deref(), Some(own.as_str()));
    assert_eq!(now.finalizers(), active.finalizers());

    // issue 13: no Service with externalIPs in a managed tenant namespace, whoever asks.
    let svc: Service = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "grab"},
        "spec": {"ports": [{"port": 80}], "externalIPs": ["10.0.0.1"]}
    }))?;
    denial(
        Api::<Service>::namespaced(admin.clone(), &own)
            .create(&PostParams::default(), &svc)
            .await,
        "external-ips",
    )?;

    // A ResourceChange keeps its target.
    let changes: Api<ResourceChange> = Api::namespaced(vendor, &ns);
    let change = ResourceChange::new(
        "more",
        serde_json::from_value::<ResourceChangeSpec>(serde_json::json!({
            "request": "portal", "resources": {"cpu": "3"}
        }))?,
    );
    changes.create(&PostParams::default(), &change).await?;
    let retarget = serde_json::json!({"spec": {"request": "other"}});
    denial(
        changes
            .patch("more", &PatchParams::default(), &Patch::Merge(&retarget))
            .await,
        "immutable-request",
    )?;
    assert_eq!(changes.get("more").await?.spec.request, "portal");
    Ok(())
}

#[derive(serde::Deserialize, Debug)]
struct BadWrite {
    name: String,
    #[serde(rename = "as")]
    identity: String,
    write: String,
    patch: serde_json::Value,
    rule: String,
}

fn merge(a: &mut serde_json::Value, b: &serde_json::Value) {
    match (a, b) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            for (k, v) in b {
                if v.is_null() {
                    a.remove(k);
                } else {
                    merge(a.entry(k.clone()).or_insert(serde_json::Value::Null), v);
                }
            }
        }
        (a, b) => *a = b.clone(),
    }
}

/// tests/corpus/admission.yaml: every bad write is refused naming its rule, and nothing
/// changes.
#[tokio::test]
async fn the_corpus_of_bad_writes_is_refused_and_changes_nothing() -> Result<()> {
    let s = setup().await?;
    let _shared = EXCLUSIVE.read().await;
    let text = std::fs::read_to_string(repo_root().join("tests/corpus/admission.yaml"))?;
    let cases: Vec<BadWrite> = serde_yaml::from_str(&text)?;
    assert!(cases.len() >= 20, "a corpus of at least 20 bad writes");
    let (_, ns) = namespace_with_policy(s, "corpus").await?;
    let vendor = s.cp.vendor().await?;
    let approver = s.cp.approver().await?;
    file(
        &vendor,
        &ns,
        "target",
        request_spec(&ns, RequestClass::Production, "1"),
    )
    .await?;
    // Once the review is overdue (6 s) the operator has nothing more to write on `target`,
    // so any change to it below would be the bad write's.
    wait_condition(
        &s.cp.admin().await?,
        &ns,
        "target",
        "ReviewOverdue",
        "True",
        T,
    )
    .await?;
    let base = serde_json::to_value(CloudResourceRequest::new(
        "base",
        request_spec(&ns, RequestClass::Production, "1"),
    ))?;
    let mut failures = Vec::new();
    for case in &cases {
        let client = match case.identity.as_str() {
            "vendor" => vendor.clone(),
            "approver" => approver.clone(),
            other => return Err(anyhow!("{}: unknown identity {other}", case.name)),
        };
        let api: Api<CloudResourceRequest> = Api::namespaced(client, &ns);
        let before = api.get("target").await?;
        let result = match case.write.as_str() {
            "create" => {
                let mut obj = base.clone();
                obj["metadata"]["name"] = serde_json::json!(case.name);
                merge(&mut obj, &case.patch);
                let obj: CloudResourceRequest = serde_json::from_value(obj)?;
                api.create(&PostParams::default(), &obj).await.map(|_| ())
            }
            "update" => api
                .patch(
                    "target",
                    &PatchParams::default(),
                    &Patch::Merge(&case.patch),
                )
                .await
                .map(|_| ()),
            "status" => api
                .patch_status(
                    "target",
                    &PatchParams::default(),
                    &Patch::Merge(&case.patch),
                )
                .await
                .map(|_| ()),
            other => return Err(anyhow!("{}: unknown write {other}", case.name)),
        };
        if let Err(e) = denial(result, &case.rule) {
            failures.push(format!("{}: {e}", case.name));
        }
        let after = api.get("target").await?;
        if after.metadata.resource_version != before.metadata.resource_version {
            failures.push(format!("{}: target changed", case.name));
        }
        if case.write == "create" && api.get_opt(&case.name).await?.is_some() {
            failures.push(format!("{}: created", case.name));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    Ok(())
}
