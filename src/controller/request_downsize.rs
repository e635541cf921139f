//! The automatic downsize ResourceChange filed when a low-utilization notice is ignored
//! (GY 10: an ignored optimization notice ends in a reduction).

use super::*;

/// Files the automatic downsize of an ignored optimization notice (onIgnored: Downsize),
/// once: its name is derived from the notice.
pub(super) async fn file_auto_downsize(
    ctx: &Context,
    namespace: &str,
    request: &str,
    change_name: &str,
    amounts: &Amounts,
    status: &CloudResourceRequestStatus,
) -> Result<(), Error> {
    if ctx
        .stores
        .changes
        .get(&ObjectRef::new(change_name).within(namespace))
        .is_some()
    {
        return Ok(());
    }
    let issued = status
        .utilization
        .as_ref()
        .and_then(|u| u.notice.as_ref())
        .map(|n| n.issued_at.to_rfc3339())
        .unwrap_or_default();
    let mut change = ResourceChange::new(
        change_name,
        ResourceChangeSpec {
            request: request.to_string(),
            resources: Some(amounts.to_api()),
            extend_to: None,
            convert_to: None,
            reason: Some(format!(
                "automatic downsize to the observed peak plus 20% headroom: the optimization notice of {issued} was ignored (SN 14, GY 10)"
            )),
            justification: None,
            recurring: false,
            access_groups: None,
            zone: None,
        },
    );
    change.metadata.labels =
        Some([("govcloud.io/automatic".to_string(), "downsize".to_string())].into());
    let api: Api<ResourceChange> = Api::namespaced(ctx.client.clone(), namespace);
    match api
        .create(
            &PostParams {
                field_manager: Some(crate::controller::FIELD_MANAGER.to_string()),
                ..Default::default()
            },
            &change,
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
        Err(e) => Err(Error::FileChange("ResourceChange", e)),
    }
}
