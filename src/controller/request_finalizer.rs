//! The request's finalizer `govcloud.io/tenant-protection`: there before anything is
//! created (the webhook adds it at create; [`ensure_finalizer`] adds it here to a request
//! created without the webhook), removed only once the tenant is released, by a patch that
//! cannot clobber another finalizer.

use super::*;

pub(super) async fn ensure_finalizer(
    api: &Api<CloudResourceRequest>,
    req: &CloudResourceRequest,
) -> Result<(), Error> {
    if req.finalizers().iter().any(|f| f == FINALIZER) || req.metadata.deletion_timestamp.is_some()
    {
        return Ok(());
    }
    let mut finalizers = req.finalizers().to_vec();
    finalizers.push(FINALIZER.to_string());
    patch_finalizers(api, req, finalizers).await
}

pub(super) async fn remove_finalizer(
    api: &Api<CloudResourceRequest>,
    req: &CloudResourceRequest,
) -> Result<(), Error> {
    if !req.finalizers().iter().any(|f| f == FINALIZER) {
        return Ok(());
    }
    let finalizers: Vec<String> = req
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER)
        .cloned()
        .collect();
    patch_finalizers(api, req, finalizers).await
}

/// A merge patch carrying the resourceVersion: it fails (409) instead of clobbering a
/// finalizer someone else added meanwhile.
pub(super) async fn patch_finalizers(
    api: &Api<CloudResourceRequest>,
    req: &CloudResourceRequest,
    finalizers: Vec<String>,
) -> Result<(), Error> {
    let patch = serde_json::json!({
        "metadata": { "finalizers": finalizers, "resourceVersion": req.resource_version() }
    });
    match api
        .patch(
            &req.name_any(),
            &PatchParams::default(),
            &Patch::Merge(patch),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(Error::Finalizer(KIND, e)),
    }
}
