//! Restarts and crashes at any point converge to the same state, and a converged cluster
//! sees no writes. The operator here requeues every 2 s at the latest, so the quiet period
//! spans several resyncs.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use govcloud_operator::api::{CloudResourceRequest, RequestClass, RequestPhase};
use k8s_openapi::api::core::v1::{LimitRange, Namespace, ResourceQuota};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::ListParams;
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use support::govcloud::*;
use support::window::{never_during, unchanged_from};
use support::{create_namespace, unique_ns};

const REQUESTS_PER_NS: usize = 12;
/// The quiet window: several of the operator's 2 s resyncs.
const QUIET: Duration = Duration::from_secs(10);

/// A small deterministic-enough jitter without a random-number crate.
fn jitter_ms(seed: &mut u64, max: u64) -> u64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (*seed >> 33) % max
}

async fn resource_versions(
    client: &Client,
    namespaces: &[String],
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for ns in namespaces {
        for r in Api::<CloudResourceRequest>::namespaced(client.clone(), ns)
            .list(&ListParams::default())
            .await?
            .items
        {
            out.insert(
                format!("crr/{ns}/{}", r.name_any()),
                r.resource_version().unwrap_or_default(),
            );
            let tenant = r
                .status
                .and_then(|s| s.tenant_namespace)
                .unwrap_or_default();
            let n = Api::<Namespace>::all(client.clone()).get(&tenant).await?;
            out.insert(
                format!("ns/{tenant}"),
                n.resource_version().unwrap_or_default(),
            );
            let q = Api::<ResourceQuota>::namespaced(client.clone(), &tenant)
                .get("govcloud-grant")
                .await?;
            out.insert(
                format!("quota/{tenant}"),
                q.metadata.resource_version.unwrap_or_default(),
            );
            let l = Api::<LimitRange>::namespaced(client.clone(), &tenant)
                .get("govcloud-defaults")
                .await?;
            out.insert(
                format!("limits/{tenant}"),
                l.metadata.resource_version.unwrap_or_default(),
            );
            let b = Api::<RoleBinding>::namespaced(client.clone(), &tenant)
                .get("govcloud-tenant")
                .await?;
            out.insert(
                format!("binding/{tenant}"),
                b.metadata.resource_version.unwrap_or_default(),
            );
            let p = Api::<NetworkPolicy>::namespaced(client.clone(), &tenant)
                .get("govcloud-isolation")
                .await?;
            out.insert(
                format!("netpol/{tenant}"),
                p.metadata.resource_version.unwrap_or_default(),
            );
        }
    }
    Ok(out)
}

#[tokio::test]
async fn killed_mid_provisioning_it_converges_without_duplicates_then_stays_quiet()
-> anyhow::Result<()> {
    let cp = installed(&["--max-requeue-seconds", "2"]).await?;
    let admin = cp.admin().await?;
    let policy = unique_ns("crash-policy");
    fast_policy(&admin, &policy, |p| {
        p["review"] = serde_json::json!({"acceptWithin": "600s", "decideWithin": "600s"})
    })
    .await?;
    let namespaces = vec![unique_ns("crash-a"), unique_ns("crash-b")];
    for ns in &namespaces {
        create_namespace(&admin, ns).await?;
    }
    let mut seed = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos() as u64;
    let mut kills = 0;
    for ns in &namespaces {
        for i in 0..REQUESTS_PER_NS {
            let name = format!("system-{i:02}");
            file(
                &admin,
                ns,
                &name,
                request_spec(&policy, RequestClass::Production, "1"),
            )
            .await?;
            decide(cp, ns, &name, "Approved", "").await?;
            if i % 4 == 3 {
                // SIGKILL at an arbitrary moment of provisioning, then start again.
                tokio::time::sleep(Duration::from_millis(jitter_ms(&mut seed, 400))).await;
                with_operator(|o| o.kill());
                kills += 1;
                tokio::time::sleep(Duration::from_millis(jitter_ms(&mut seed, 300))).await;
                with_operator(|o| o.restart()).transpose()?;
            }
        }
    }
    assert!(kills >= 5, "killed {kills} times");

    for ns in &namespaces {
        for i in 0..REQUESTS_PER_NS {
            wait_phase(
                &admin,
                ns,
                &format!("system-{i:02}"),
                RequestPhase::Active,
                // slowest seen 6.8 s (the first request, across kills); 5× margin
                Duration::from_secs(120),
            )
            .await?;
        }
    }
    // Exactly one owned namespace per request, each carrying its request's UID; no orphans.
    let managed = Api::<Namespace>::all(admin.clone())
        .list(&ListParams::default().labels("govcloud.io/managed=true"))
        .await?
        .items;
    let ours: Vec<&Namespace> = managed
        .iter()
        .filter(|n| {
            n.labels()
                .get("govcloud.io/request-namespace")
                .is_some_and(|rn| namespaces.contains(rn))
        })
        .collect();
    assert_eq!(
        ours.len(),
        namespaces.len() * REQUESTS_PER_NS,
        "one tenant namespace per request"
    );
    for ns in &namespaces {
        for r in Api::<CloudResourceRequest>::namespaced(admin.clone(), ns)
            .list(&ListParams::default())
            .await?
            .items
        {
            let st = r.status.clone().unwrap();
            let tenant = st.tenant_namespace.clone().unwrap();
            let n = ours
                .iter()
                .find(|n| n.name_any() == tenant)
                .expect("tenant namespace exists");
            assert_eq!(
                n.annotations().get("govcloud.io/owner-uid"),
                r.metadata.uid.as_ref()
            );
            assert_eq!(
                st.grant.as_ref().and_then(|g| g.cpu.clone()),
                Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String("1".into()))
            );
            assert_eq!(r.finalizers(), ["govcloud.io/tenant-protection"]);
        }
    }

    // Quiet convergence: nothing is rewritten across several resyncs.
    // A grace for the last status writes' own watch events; not part of the assertion.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = resource_versions(&admin, &namespaces).await?;
    // Every object of ours is watched over the whole quiet window: the first write (a
    // resourceVersion other than `before`'s), deletion or new object fails the test.
    let tenants: std::collections::BTreeSet<String> = before
        .keys()
        .filter_map(|k| k.strip_prefix("ns/").map(str::to_string))
        .collect();
    let in_tenant = |prefix: &'static str| {
        let tenants = tenants.clone();
        move |ns: Option<String>| {
            ns.filter(|ns| tenants.contains(ns))
                .map(|ns| format!("{prefix}/{ns}"))
        }
    };
    let by_name = |name: &str| watcher::Config::default().fields(&format!("metadata.name={name}"));
    let (crr_key, ns_key) = (
        |r: &CloudResourceRequest| Some(format!("crr/{}/{}", r.namespace()?, r.name_any())),
        {
            let f = in_tenant("ns");
            move |n: &Namespace| f(Some(n.name_any()))
        },
    );
    let (q, l, b, p) = (
        in_tenant("quota"),
        in_tenant("limits"),
        in_tenant("binding"),
        in_tenant("netpol"),
    );
    let a_requests = Api::<CloudResourceRequest>::namespaced(admin.clone(), &namespaces[0]);
    let b_requests = Api::<CloudResourceRequest>::namespaced(admin.clone(), &namespaces[1]);
    let all_namespaces = Api::<Namespace>::all(admin.clone());
    let all_quotas = Api::<ResourceQuota>::all(admin.clone());
    let all_limits = Api::<LimitRange>::all(admin.clone());
    let all_bindings = Api::<RoleBinding>::all(admin.clone());
    let all_netpols = Api::<NetworkPolicy>::all(admin.clone());
    let quiet = async {
        tokio::try_join!(
            never_during(
                &a_requests,
                watcher::Config::default(),
                QUIET,
                "requests (a)",
                unchanged_from(before.clone(), crr_key),
            ),
            never_during(
                &b_requests,
                watcher::Config::default(),
                QUIET,
                "requests (b)",
                unchanged_from(before.clone(), crr_key),
            ),
            never_during(
                &all_namespaces,
                watcher::Config::default().labels("govcloud.io/managed=true"),
                QUIET,
                "tenant namespaces",
                unchanged_from(before.clone(), ns_key),
            ),
            never_during(
                &all_quotas,
                by_name("govcloud-grant"),
                QUIET,
                "quotas",
                unchanged_from(before.clone(), move |o: &ResourceQuota| q(o.namespace())),
            ),
            never_during(
                &all_limits,
                by_name("govcloud-defaults"),
                QUIET,
                "limit ranges",
                unchanged_from(before.clone(), move |o: &LimitRange| l(o.namespace())),
            ),
            never_during(
                &all_bindings,
                by_name("govcloud-tenant"),
                QUIET,
                "role bindings",
                unchanged_from(before.clone(), move |o: &RoleBinding| b(o.namespace())),
            ),
            never_during(
                &all_netpols,
                by_name("govcloud-isolation"),
                QUIET,
                "network policies",
                unchanged_from(before.clone(), move |o: &NetworkPolicy| p(o.namespace())),
            ),
        )
    };
    if let Err(e) = quiet.await {
        panic!("rewritten while converged: {e:#}\n{}", operator_log());
    }
    // Drift is healed: a deleted quota is re-applied at the next verification (≤ the
    // 2 s requeue cap here), without touching anything else.
    let tenant = format!("{}-system-00", namespaces[0]);
    let quotas: Api<ResourceQuota> = Api::namespaced(admin.clone(), &tenant);
    quotas.delete("govcloud-grant", &Default::default()).await?;
    support::wait_until(
        // slowest seen 0.5 s; 5× margin
        Duration::from_secs(30),
        "the deleted quota re-applied",
        || async { Ok(quotas.get_opt("govcloud-grant").await?.is_some()) },
    )
    .await?;
    Ok(())
}
