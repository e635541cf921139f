//! Utilization against a real Prometheus holding known samples (SN 14, GY 10, SH 25):
//! low, high, in-between, the storage free-space edges, the grace period, and every
//! response to an optimization notice.

mod support;

use std::sync::Mutex;
use std::time::Duration;

use govcloud_operator::api::{
    CloudResourceRequest, RequestClass, RequestPhase, ResourceAmounts, ResourceChange,
    ResourceChangeSpec,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use support::govcloud::*;
use support::prometheus::{Prometheus, Tenant};
use support::{ControlPlane, create_namespace, unique_ns, wait_until};

const T: Duration = Duration::from_secs(60);
const GIB: f64 = 1_073_741_824.0;
const TIB: f64 = 1_099_511_627_776.0;

/// Requests and how their tenant namespace behaves: (request, cpu cores, memory GiB,
/// volume used/capacity bytes). Every grant is 8 vCPU and 8 GiB.
type Behaviour = (&'static str, f64, f64, Option<(f64, f64)>);
const FLAG: [Behaviour; 9] = [
    ("low", 0.2, 4.0, Some((50.0 * GIB, 100.0 * GIB))),
    ("high", 7.0, 4.0, Some((50.0 * GIB, 100.0 * GIB))),
    ("mid", 3.0, 4.0, Some((50.0 * GIB, 100.0 * GIB))),
    ("disk-idle", 3.0, 4.0, Some((2.5 * TIB, 5.0 * TIB))),
    ("disk-full", 3.0, 4.0, Some((90.0 * GIB, 100.0 * GIB))),
    ("disk-roomy", 3.0, 4.0, Some((8.5 * TIB, 10.0 * TIB))),
    ("objector", 0.2, 4.0, None),
    ("ignorer", 0.2, 4.0, None),
    ("downsizer", 0.2, 4.0, None),
];

struct World {
    cp: &'static ControlPlane,
    flag: String,
    downsize: String,
    reclaim: String,
    grace: String,
}

static PROMETHEUS: Mutex<Option<Prometheus>> = Mutex::new(None);
static WORLD: tokio::sync::OnceCell<World> = tokio::sync::OnceCell::const_new();

async fn world() -> anyhow::Result<&'static World> {
    WORLD
        .get_or_try_init(|| async {
            let (flag, downsize, reclaim, grace) = (unique_ns("util-flag"), unique_ns("util-down"), unique_ns("util-rec"), unique_ns("util-grace"));
            let tenant = |ns: &str, (name, cpu, mem, volume): Behaviour| Tenant {
                namespace: format!("{ns}-{name}"),
                cpu_cores: cpu,
                memory_bytes: mem * GIB,
                volume,
            };
            let mut tenants: Vec<Tenant> = FLAG.iter().map(|t| tenant(&flag, *t)).collect();
            tenants.push(tenant(&downsize, ("auto", 0.2, 4.0, None)));
            tenants.push(tenant(&reclaim, ("idle", 0.2, 4.0, None)));
            tenants.push(tenant(&grace, ("new", 0.2, 4.0, None)));
            let prom = Prometheus::start(&tenants)?;
            let url = prom.url.clone();
            *PROMETHEUS.lock().unwrap_or_else(|p| p.into_inner()) = Some(prom);
            let cp = installed(&["--prometheus-url", &url, "--utilization-interval-seconds", "2"]).await?;
            let admin = cp.admin().await?;
            for (ns, on_ignored, grace_period) in [(&flag, "Flag", "0s"), (&downsize, "Downsize", "0s"), (&reclaim, "Reclaim", "0s"), (&grace, "Flag", "1h")] {
                create_namespace(&admin, ns).await?;
                fast_policy(&admin, ns, |p| {
                    p["review"] = serde_json::json!({"acceptWithin": "600s", "decideWithin": "600s"});
                    p["utilization"] = serde_json::json!({
                        "graceAfterActive": grace_period, "window": "1h", "respondWithin": "5s", "onIgnored": on_ignored,
                        "low": {"cpu": "10%", "memory": "30%", "storage": "40%", "storageWithLargeFree": "60%"},
                        "high": {"cpu": "60%", "memory": "80%", "storage": "80%"},
                        "largeFree": "1Ti"
                    });
                })
                .await?;
            }
            let mut names: Vec<(String, &str)> = FLAG.iter().map(|(n, ..)| (flag.clone(), *n)).collect();
            names.extend([(downsize.clone(), "auto"), (reclaim.clone(), "idle"), (grace.clone(), "new")]);
            for (ns, name) in &names {
                let mut spec = request_spec(ns, RequestClass::Production, "8");
                spec.resources.memory = Some(IntOrString::String("8Gi".into()));
                file(&admin, ns, name, spec).await?;
                decide(cp, ns, name, "Approved", "").await?;
            }
            anyhow::Ok(World { cp, flag, downsize, reclaim, grace })
        })
        .await
}

async fn request(client: &Client, ns: &str, name: &str) -> anyhow::Result<CloudResourceRequest> {
    Ok(Api::<CloudResourceRequest>::namespaced(client.clone(), ns)
        .get(name)
        .await?)
}

fn is_true(r: &CloudResourceRequest, type_: &str) -> bool {
    condition(r, type_).is_some_and(|c| c.status == "True")
}

#[tokio::test]
async fn sn14_thresholds_against_real_prometheus_figures() -> anyhow::Result<()> {
    let w = world().await?;
    let admin = w.cp.admin().await?;
    let low = wait_condition(&admin, &w.flag, "low", "LowUtilization", "True", T).await?;
    let u = low.status.as_ref().unwrap().utilization.clone().unwrap();
    assert_eq!(u.source, "Prometheus");
    assert_eq!(u.window.as_deref(), Some("1h"));
    let cpu: f64 = u.usage.as_ref().unwrap().cpu.as_deref().unwrap().parse()?;
    assert!((cpu - 0.025).abs() < 0.006, "0.2 of 8 cores ≈ 2.5 %: {cpu}");
    assert_eq!(u.usage.as_ref().unwrap().memory.as_deref(), Some("0.50"));
    // Allocation figures come from the quota's status, which kube-controller-manager fills
    // in shortly after the quota is created: they appear at a following measurement.
    let requests: Api<CloudResourceRequest> = Api::namespaced(admin.clone(), &w.flag);
    support::wait_for(T, "allocation figures for low", || async {
        Ok(requests
            .get("low")
            .await?
            .status
            .and_then(|s| s.utilization)
            .and_then(|u| u.allocation))
    })
    .await?;
    assert_eq!(u.level.as_deref(), Some("Low"));
    assert!(
        condition(&low, "LowUtilization")
            .unwrap()
            .message
            .contains("CPU")
    );
    assert_eq!(
        wait_event(&admin, &w.flag, "low", "LowUtilization", T).await?,
        "Warning"
    );
    let notice = u.notice.expect("an optimization notice");
    assert!(notice.respond_by > notice.issued_at);
    wait_event(&admin, &w.flag, "low", "OptimizationNotice", T).await?;

    let high = wait_condition(&admin, &w.flag, "high", "HighUtilization", "True", T).await?;
    assert!(!is_true(&high, "LowUtilization"));
    // Storage: 50 % used with 2.5 TiB free is low; 90 % with 10 GiB free is high; 85 % with
    // 1.5 TiB free is neither (SN 14).
    let idle = wait_condition(&admin, &w.flag, "disk-idle", "LowUtilization", "True", T).await?;
    assert!(
        condition(&idle, "LowUtilization")
            .unwrap()
            .message
            .contains("storage")
    );
    wait_condition(&admin, &w.flag, "disk-full", "HighUtilization", "True", T).await?;
    for normal in ["mid", "disk-roomy"] {
        let api: Api<CloudResourceRequest> = Api::namespaced(admin.clone(), &w.flag);
        wait_until(T, format!("{normal} measured"), || async {
            Ok(api
                .get(normal)
                .await?
                .status
                .and_then(|s| s.utilization)
                .and_then(|u| u.level)
                .is_some())
        })
        .await?;
        let r = request(&admin, &w.flag, normal).await?;
        assert_eq!(
            r.status
                .as_ref()
                .unwrap()
                .utilization
                .as_ref()
                .unwrap()
                .level
                .as_deref(),
            Some("Normal"),
            "{normal}"
        );
        assert!(
            !is_true(&r, "LowUtilization") && !is_true(&r, "HighUtilization"),
            "{normal}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn nothing_is_judged_during_the_grace_period() -> anyhow::Result<()> {
    let w = world().await?;
    let admin = w.cp.admin().await?;
    let api: Api<CloudResourceRequest> = Api::namespaced(admin.clone(), &w.grace);
    wait_until(T, "grace request measured", || async {
        Ok(api
            .get("new")
            .await?
            .status
            .and_then(|s| s.utilization)
            .is_some())
    })
    .await?;
    let r = request(&admin, &w.grace, "new").await?;
    let u = r.status.as_ref().unwrap().utilization.clone().unwrap();
    assert!(u.usage.is_some(), "figures are shown");
    assert_eq!(u.level, None);
    assert!(u.monitored_from.is_some());
    assert!(!is_true(&r, "LowUtilization"));
    Ok(())
}

#[tokio::test]
async fn notices_are_objected_to_downsized_or_flagged() -> anyhow::Result<()> {
    let w = world().await?;
    let admin = w.cp.admin().await?;
    let api: Api<CloudResourceRequest> = Api::namespaced(admin.clone(), &w.flag);
    for name in ["objector", "ignorer", "downsizer"] {
        wait_condition(&admin, &w.flag, name, "LowUtilization", "True", T).await?;
    }
    // An objection puts the notice before the bureau.
    api.patch("objector", &PatchParams::default(), &Patch::Merge(serde_json::json!({"metadata": {"annotations": {"govcloud.io/objection": "tax season starts in July"}}}))).await?;
    let objected = wait_condition(
        &admin,
        &w.flag,
        "objector",
        "OptimizationObjected",
        "True",
        T,
    )
    .await?;
    assert!(
        condition(&objected, "OptimizationObjected")
            .unwrap()
            .message
            .contains("tax season")
    );
    wait_event(&admin, &w.flag, "objector", "ObjectionFiled", T).await?;
    // A scale-down resolves it.
    let change = ResourceChange::new(
        "shrink",
        ResourceChangeSpec {
            request: "downsizer".into(),
            resources: Some(ResourceAmounts {
                cpu: Some(IntOrString::String("2".into())),
                ..Default::default()
            }),
            extend_to: None,
            convert_to: None,
            reason: Some("optimization notice".into()),
            justification: None,
            recurring: false,
            access_groups: None,
            zone: None,
        },
    );
    Api::<ResourceChange>::namespaced(admin.clone(), &w.flag)
        .create(&PostParams::default(), &change)
        .await?;
    wait_until(T, "the notice resolved by the scale-down", || async {
        let r = api.get("downsizer").await?;
        Ok(r.status
            .and_then(|s| s.utilization)
            .and_then(|u| u.notice)
            .and_then(|n| n.outcome)
            .as_deref()
            == Some("Downsized"))
    })
    .await?;
    // Ignored: Flag → BudgetExcluded (GY 10); the objector is not flagged.
    wait_condition(&admin, &w.flag, "ignorer", "BudgetExcluded", "True", T).await?;
    wait_event(&admin, &w.flag, "ignorer", "NoticeIgnored", T).await?;
    assert!(!is_true(
        &request(&admin, &w.flag, "objector").await?,
        "BudgetExcluded"
    ));
    assert!(!is_true(
        &request(&admin, &w.flag, "downsizer").await?,
        "BudgetExcluded"
    ));
    Ok(())
}

#[tokio::test]
async fn ignored_notices_downsize_automatically_or_suspend() -> anyhow::Result<()> {
    let w = world().await?;
    let admin = w.cp.admin().await?;
    // onIgnored: Downsize → an automatic ResourceChange to the peak + 20 % (1 vCPU, 5Gi).
    let changes: Api<ResourceChange> = Api::namespaced(admin.clone(), &w.downsize);
    let auto = support::wait_for(Duration::from_secs(90), "an automatic downsize", || async {
        Ok(changes
            .list(&ListParams::default().labels("govcloud.io/automatic=downsize"))
            .await?
            .items
            .into_iter()
            .next())
    })
    .await?;
    assert!(
        auto.metadata
            .name
            .as_deref()
            .unwrap_or_default()
            .starts_with("auto-auto-downsize-")
    );
    let res = auto.spec.resources.clone().unwrap();
    assert_eq!(res.cpu, Some(IntOrString::String("1".into())));
    assert_eq!(res.memory, Some(IntOrString::String("5Gi".into())));
    assert!(auto.spec.reason.unwrap_or_default().contains("SN 14"));
    // onIgnored: Reclaim → suspended (SH 25), data kept.
    let r = wait_phase(
        &admin,
        &w.reclaim,
        "idle",
        RequestPhase::Suspended,
        Duration::from_secs(90),
    )
    .await?;
    assert_eq!(
        condition(&r, "Suspended").unwrap().reason,
        "UtilizationNoticeIgnored"
    );
    Ok(())
}
