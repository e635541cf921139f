//! Issue 14 on the real control plane: amounts whose cost at the policy's catalogue prices
//! is beyond any sum of money end `Invalid`, naming the field, and the operator carries on
//! governing everyone else.

mod support;

use std::time::Duration;

use govcloud_operator::api::{
    ChangePhase, CloudResourceRequest, RequestClass, RequestPhase, ResourceAmounts, ResourceChange,
    ResourceChangeSpec,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::Api;
use kube::api::PostParams;
use support::govcloud::*;
use support::{create_namespace, unique_ns, wait_for};

const T: Duration = Duration::from_secs(60);

fn invalid_message(conditions: &[govcloud_operator::api::Condition]) -> String {
    conditions
        .iter()
        .find(|c| c.type_ == "Invalid" && c.status == "True")
        .map(|c| c.message.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_cost_beyond_any_sum_is_invalid_and_the_operator_carries_on() -> anyhow::Result<()> {
    let cp = installed(&[]).await?;
    let admin = cp.admin().await?;
    let ns = unique_ns("cost-overflow");
    create_namespace(&admin, &ns).await?;
    // The largest price the schema admits: 1E vCPUs at it is about 1e30, beyond the
    // largest decimal (7.9e28).
    fast_policy(&admin, &ns, |p| {
        p["review"] = serde_json::json!({"acceptWithin": "600s", "decideWithin": "600s"});
        p["changes"] = serde_json::json!({"reviewWithin": "600s", "applyWithin": "600s"});
        p["prices"]["cpu"] = serde_json::json!("999999999999");
    })
    .await?;

    // An Active request to change.
    file(
        &admin,
        &ns,
        "portal",
        request_spec(&ns, RequestClass::Production, "2"),
    )
    .await?;
    decide(cp, &ns, "portal", "Approved", "ok").await?;
    wait_phase(&admin, &ns, "portal", RequestPhase::Active, T).await?;

    // A change to 1E vCPUs: Invalid, naming the amount and the policy's price.
    let changes: Api<ResourceChange> = Api::namespaced(cp.vendor().await?, &ns);
    changes
        .create(
            &PostParams::default(),
            &ResourceChange::new(
                "exa",
                ResourceChangeSpec {
                    request: "portal".into(),
                    resources: Some(ResourceAmounts {
                        cpu: Some(IntOrString::String("1E".into())),
                        ..Default::default()
                    }),
                    extend_to: None,
                    convert_to: None,
                    reason: Some("load".into()),
                    justification: Some("load test report".into()),
                    recurring: false,
                    access_groups: None,
                    zone: None,
                },
            ),
        )
        .await?;
    let change = wait_for(T, "change exa Invalid", || async {
        let c = changes.get("exa").await?;
        Ok((c.status.as_ref().and_then(|s| s.phase) == Some(ChangePhase::Invalid)).then_some(c))
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e}\n--- operator log ---\n{}", operator_log()))?;
    let message = invalid_message(&change.status.unwrap_or_default().conditions);
    assert!(
        message.contains("spec.resources.cpu") && message.contains("spec.prices.cpu"),
        "{message}"
    );

    // A new request for 1E vCPUs: Invalid the same way.
    file(
        &admin,
        &ns,
        "exa-request",
        request_spec(&ns, RequestClass::Production, "1E"),
    )
    .await?;
    let req = wait_phase(&admin, &ns, "exa-request", RequestPhase::Invalid, T).await?;
    let message = invalid_message(&req.status.unwrap_or_default().conditions);
    assert!(
        message.contains("spec.resources.cpu") && message.contains("spec.prices.cpu"),
        "{message}"
    );

    // The operator is still running and still governs: another request becomes Active,
    // and no reconcile panicked on the way.
    assert_eq!(
        with_operator(|o| o.running()),
        Some(true),
        "{}",
        operator_log()
    );
    file(
        &admin,
        &ns,
        "after",
        request_spec(&ns, RequestClass::Production, "2"),
    )
    .await?;
    decide(cp, &ns, "after", "Approved", "ok").await?;
    wait_phase(&admin, &ns, "after", RequestPhase::Active, T).await?;
    let metrics = with_operator(|o| o.get("/metrics"))
        .transpose()?
        .map(|(_, body)| body)
        .unwrap_or_default();
    assert!(!metrics.contains("category=\"panic\""), "{metrics}");
    let requests: Api<CloudResourceRequest> = Api::namespaced(admin.clone(), &ns);
    assert!(requests.get("portal").await?.status.is_some());
    Ok(())
}
