//! Issue 16 with the chart's webhook, the operator running as its ServiceAccount: the
//! cluster admin (here not the operator) can neither remove nor rewrite a record, and
//! deleting a namespace still takes its records with it (the namespace controller runs as
//! the admin, whose deletions pass only while the namespace terminates).

use govcloud_operator::api::GovCloudRecord;
use kube::ResourceExt;
use kube::api::{Patch, PatchParams};
use support::records::chain_of;

use super::*;

/// Whether `r` is the webhook's refusal of a write of a record.
fn refused_as_append_only<T: std::fmt::Debug>(r: Result<T, kube::Error>) -> Result<()> {
    match r {
        Err(kube::Error::Api(e)) if e.code == 403 && e.message.contains("append-only-record") => {
            Ok(())
        }
        other => bail!("expected the append-only-record refusal, got {other:?}"),
    }
}

pub(super) async fn records_are_the_operators_alone(
    cp: &ControlPlane,
    policy: &str,
    op: &Operator,
) -> Result<()> {
    let admin = cp.admin().await?;
    let ns = unique_ns("records");
    create_namespace(&admin, &ns).await?;
    let filed = file(
        &cp.vendor().await?,
        &ns,
        "short",
        request_spec(policy, RequestClass::Production, "1"),
    )
    .await?;
    let uid = filed.metadata.uid.clone().context("uid")?;
    let first = wait_for(T, "the operator to record the filing", || async {
        Ok(chain_of(&admin, &ns, &uid).await?.into_iter().next())
    })
    .await
    .map_err(|e| anyhow!("{e}\n--- operator log ---\n{}", op.log_tail()))?;
    let records: Api<GovCloudRecord> = Api::namespaced(admin.clone(), &ns);
    let name = first.name_any();
    refused_as_append_only(records.delete(&name, &DeleteParams::default()).await)?;
    let edit = json!({"spec": {"actor": "mallory"}});
    refused_as_append_only(
        records
            .patch(&name, &PatchParams::default(), &Patch::Merge(&edit))
            .await,
    )?;
    assert_eq!(records.get(&name).await?.spec, first.spec);

    let namespaces = Api::<Namespace>::all(admin.clone());
    namespaces.delete(&ns, &DeleteParams::default()).await?;
    wait_until(T * 2, "the namespace and its records gone", || async {
        Ok(namespaces.get_opt(&ns).await?.is_none())
    })
    .await
    .map_err(|e| anyhow!("{e}\n--- operator log ---\n{}", op.log_tail()))
}
