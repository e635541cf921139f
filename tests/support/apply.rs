//! The project's kinds and YAML applied to the cluster, and RBAC questions asked of it.

use super::*;

/// The `ApiResource` of one of the operator's kinds (`govcloud.io/v1alpha1`), without
/// depending on the Rust types: e.g. `govcloud_resource("CloudResourceRequest", "cloudresourcerequests")`.
pub fn govcloud_resource(kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(GROUP, VERSION, kind), plural)
}

/// `CloudResourceRequest` as a dynamic resource.
pub fn crr_resource() -> ApiResource {
    govcloud_resource("CloudResourceRequest", "cloudresourcerequests")
}

/// Server-side apply every CRD in the repository's `crds/*.yaml` (field manager
/// [`FIELD_MANAGER`]) and wait until each is `Established`. Returns the CRD names.
pub async fn apply_crds(client: &Client) -> Result<Vec<String>> {
    let dir = repo_root().join("crds");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!(
            "no CRDs in {} (generate them with `cargo run --bin crdgen`)",
            dir.display()
        );
    }
    let api = Api::<CustomResourceDefinition>::all(client.clone());
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let mut names = Vec::new();
    for file in &files {
        for doc in yaml_documents(&std::fs::read_to_string(file)?)
            .with_context(|| format!("parsing {}", file.display()))?
        {
            if doc.get("kind").and_then(|k| k.as_str()) != Some("CustomResourceDefinition") {
                bail!(
                    "{}: a document that is not a CustomResourceDefinition",
                    file.display()
                );
            }
            let name = doc
                .pointer("/metadata/name")
                .and_then(|n| n.as_str())
                .ok_or_else(|| anyhow!("{}: a CRD without metadata.name", file.display()))?
                .to_string();
            api.patch(&name, &params, &Patch::Apply(&doc))
                .await
                .map_err(|e| {
                    let hint = crd_rejection_hint(&e);
                    anyhow::Error::new(e)
                        .context(format!("applying CRD {name} from {}{hint}", file.display()))
                })?;
            names.push(name);
        }
    }
    for name in &names {
        wait_crd_established(client, name).await?;
    }
    Ok(names)
}

/// What kube-apiserver 1.20 means by its more puzzling CRD rejections.
fn crd_rejection_hint(err: &kube::Error) -> &'static str {
    let kube::Error::Api(status) = err else {
        return "";
    };
    if status
        .message
        .contains("per-version schemas may not all be set to identical values")
    {
        // seen with `enum: [A, B, null]`, which schemars writes for an Option<enum>
        "\n(hint: kube-apiserver 1.20 says this when a schema's `enum` lists null; \
         drop null from enums and keep `nullable: true`)"
    } else if status.message.contains(".default: Invalid value: \"null\"") {
        // seen with `default: ''`
        "\n(hint: kube-apiserver 1.20 reads an empty-string `default: ''` as null; \
         drop that default)"
    } else {
        ""
    }
}

/// Wait until a CRD has condition `Established=True`.
pub async fn wait_crd_established(client: &Client, name: &str) -> Result<()> {
    let api = &Api::<CustomResourceDefinition>::all(client.clone());
    wait_until(
        Duration::from_secs(60),
        format!("CRD {name} to be Established"),
        move || async move {
            let crd = api.get(name).await?;
            Ok(crd
                .status
                .and_then(|s| s.conditions)
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True"))
        },
    )
    .await
}

/// Server-side apply every document of a multi-document YAML file (any kind the server
/// knows, resolved by discovery). Namespaced objects without `metadata.namespace` are an
/// error; use [`apply_yaml`] with a default namespace for those.
pub async fn apply_yaml_file(
    client: &Client,
    path: impl AsRef<Path>,
) -> Result<Vec<DynamicObject>> {
    let path = path.as_ref();
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    apply_yaml(client, &text, None)
        .await
        .with_context(|| format!("applying {}", path.display()))
}

/// Server-side apply every document of multi-document YAML text; namespaced objects without
/// a namespace go to `default_namespace`. CRDs among them are waited for (`Established`),
/// and a kind that is not served yet (a CR right after its CRD) is retried for 30 s.
pub async fn apply_yaml(
    client: &Client,
    yaml: &str,
    default_namespace: Option<&str>,
) -> Result<Vec<DynamicObject>> {
    apply_yaml_with(
        client,
        yaml,
        default_namespace,
        &PatchParams::apply(FIELD_MANAGER).force(),
    )
    .await
}

/// [`apply_yaml`] with explicit patch parameters, e.g. a server-side dry run
/// (`PatchParams::apply(FIELD_MANAGER).dry_run()`): validated and admitted, not stored.
pub async fn apply_yaml_with(
    client: &Client,
    yaml: &str,
    default_namespace: Option<&str>,
    params: &PatchParams,
) -> Result<Vec<DynamicObject>> {
    let mut applied = Vec::new();
    for doc in yaml_documents(yaml)? {
        let obj: DynamicObject =
            serde_json::from_value(doc.clone()).context("a document is not a Kubernetes object")?;
        let types = obj
            .types
            .clone()
            .ok_or_else(|| anyhow!("a document without apiVersion/kind"))?;
        let (group, version) = match types.api_version.split_once('/') {
            Some((g, v)) => (g.to_string(), v.to_string()),
            None => (String::new(), types.api_version.clone()),
        };
        let gvk = GroupVersionKind::gvk(&group, &version, &types.kind);
        let name = obj
            .metadata
            .name
            .clone()
            .ok_or_else(|| anyhow!("a {} without metadata.name", types.kind))?;
        let gvk = &gvk;
        let (resource, caps) = wait_for(
            Duration::from_secs(30),
            format!("the server to serve {}/{}", types.api_version, types.kind),
            move || async move { Ok(Some(discovery::pinned_kind(client, gvk).await?)) },
        )
        .await?;
        let api: Api<DynamicObject> = match caps.scope {
            Scope::Cluster => Api::all_with(client.clone(), &resource),
            Scope::Namespaced => {
                let ns = obj
                    .metadata
                    .namespace
                    .as_deref()
                    .or(default_namespace)
                    .ok_or_else(|| {
                        anyhow!("{} {name} is namespaced but names no namespace", types.kind)
                    })?;
                Api::namespaced_with(client.clone(), ns, &resource)
            }
        };
        let result = api
            .patch(&name, params, &Patch::Apply(&doc))
            .await
            .with_context(|| format!("applying {} {name}", types.kind))?;
        if types.kind == "CustomResourceDefinition" && !params.dry_run {
            wait_crd_established(client, &name).await?;
        }
        applied.push(result);
    }
    Ok(applied)
}

/// The non-empty documents of multi-document YAML, as JSON values.
pub fn yaml_documents(yaml: &str) -> Result<Vec<serde_json::Value>> {
    use serde::Deserialize;
    let mut docs = Vec::new();
    for de in serde_yaml::Deserializer::from_str(yaml) {
        let value = serde_json::Value::deserialize(de)?;
        if !value.is_null() {
            docs.push(value);
        }
    }
    Ok(docs)
}

// ------------------------------------------------------------------ RBAC and errors

/// Ask the server whether the client's identity may do `verb` on `group`'s `resource`
/// (optionally a `subresource` such as `status`) in `namespace` (a SelfSubjectAccessReview).
pub async fn can_i(
    client: &Client,
    verb: &str,
    group: &str,
    resource: &str,
    subresource: Option<&str>,
    namespace: Option<&str>,
) -> Result<bool> {
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                verb: Some(verb.to_string()),
                group: Some(group.to_string()),
                resource: Some(resource.to_string()),
                subresource: subresource.map(str::to_string),
                namespace: namespace.map(str::to_string),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let answer = Api::<SelfSubjectAccessReview>::all(client.clone())
        .create(&PostParams::default(), &review)
        .await
        .context("creating a SelfSubjectAccessReview")?;
    Ok(answer.status.is_some_and(|s| s.allowed))
}

/// The HTTP status code of an API error (`kube::Error::Api`), if the error is one,
/// looking through `anyhow` context.
pub fn api_error_code(err: &anyhow::Error) -> Option<u16> {
    err.chain()
        .find_map(|e| match e.downcast_ref::<kube::Error>() {
            Some(kube::Error::Api(status)) => Some(status.code),
            _ => None,
        })
}
