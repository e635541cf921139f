//! Two replicas, one leader: only the leader reconciles; a killed leader is replaced
//! within 20 s; a gracefully stopped leader hands over at once.

mod support;

use std::time::{Duration, Instant};

use govcloud_operator::api::{RequestClass, RequestPhase};
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use support::govcloud::*;
use support::operator::Operator;
use support::{create_namespace, unique_ns, wait_for, wait_until};

async fn holder(client: &kube::Client) -> anyhow::Result<Option<String>> {
    let lease = Api::<Lease>::namespaced(client.clone(), "govcloud-system")
        .get_opt("govcloud-operator")
        .await?;
    Ok(lease.and_then(|l| l.spec).and_then(|s| s.holder_identity))
}

fn reconciles(op: &Operator) -> u64 {
    let (_, text) = op.get("/metrics").unwrap_or_default();
    text.lines()
        .filter(|l| l.starts_with("govcloud_reconciles_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test]
async fn one_replica_leads_and_a_standby_takes_over() -> anyhow::Result<()> {
    // `installed` starts a first operator as "alpha"; a second joins as "beta".
    let cp = installed(&["--leader-identity", "alpha", "--lease-seconds", "8"]).await?;
    let admin = cp.admin().await?;
    let mut beta = Operator::start(cp, &["--leader-identity", "beta", "--lease-seconds", "8"])?;
    let ns = unique_ns("leader");
    create_namespace(&admin, &ns).await?;
    fast_policy(&admin, &ns, |p| {
        p["review"] = serde_json::json!({"acceptWithin": "600s", "decideWithin": "600s"})
    })
    .await?;

    let first = wait_for(Duration::from_secs(30), "a lease holder", || async {
        holder(&admin).await
    })
    .await?;
    // Either may win the race to the Lease; `alpha` is the shared operator, `beta` ours.
    let alpha_leads = first == "alpha";
    let (leader_name, standby_name) = if alpha_leads {
        ("alpha", "beta")
    } else {
        ("beta", "alpha")
    };
    // How often the replica that was killed (the standby after the takeover) has logged
    // that it stands by for the lease.
    let standing_by_of = |beta: &Operator| {
        let log = if alpha_leads {
            with_operator(|a| std::fs::read_to_string(&a.log).unwrap_or_default())
                .unwrap_or_default()
        } else {
            std::fs::read_to_string(&beta.log).unwrap_or_default()
        };
        log.matches("standing by for the lease").count()
    };
    let reconciles_of = |name: &str, beta: &Operator| {
        if name == "beta" {
            reconciles(beta)
        } else {
            with_operator(|a| reconciles(a)).unwrap_or(0)
        }
    };
    let readyz_of = |name: &str, beta: &Operator| {
        if name == "beta" {
            beta.get("/readyz")
        } else {
            with_operator(|a| a.get("/readyz")).unwrap_or_else(|| Ok((0, String::new())))
        }
    };
    file(
        &admin,
        &ns,
        "one",
        request_spec(&ns, RequestClass::Production, "1"),
    )
    .await?;
    decide(cp, &ns, "one", "Approved", "").await?;
    wait_phase(
        &admin,
        &ns,
        "one",
        RequestPhase::Active,
        Duration::from_secs(60),
    )
    .await?;
    assert_eq!(
        reconciles_of(standby_name, &beta),
        0,
        "the standby reconciles nothing"
    );
    let (code, body) = readyz_of(standby_name, &beta)?;
    assert_eq!(code, 200, "a standby is ready: {body}");
    assert!(body.contains("standby"));

    // SIGKILL the leader: the standby takes over within 20 s and provisions the next request.
    let killed = Instant::now();
    if alpha_leads {
        with_operator(|alpha| alpha.kill());
    } else {
        beta.kill();
    }
    file(
        &admin,
        &ns,
        "two",
        request_spec(&ns, RequestClass::Production, "1"),
    )
    .await?;
    decide(cp, &ns, "two", "Approved", "").await?;
    wait_phase(
        &admin,
        &ns,
        "two",
        RequestPhase::Active,
        // slowest seen 8.4 s; 5× margin (a cap: the 20 s takeover limit below is the claim)
        Duration::from_secs(45),
    )
    .await?;
    let takeover = killed.elapsed();
    assert!(
        takeover <= Duration::from_secs(20),
        "took over in {takeover:?}"
    );
    assert_eq!(holder(&admin).await?.as_deref(), Some(standby_name));
    assert!(reconciles_of(standby_name, &beta) > 0);

    // The killed one comes back as a standby; the new leader stops gracefully and hands
    // over at once.
    let standing_by_before = standing_by_of(&beta);
    if alpha_leads {
        with_operator(|alpha| alpha.restart()).transpose()?;
    } else {
        beta.restart()?;
    }
    // Its logs append across restarts: one more "standing by" line means this life
    // built its lease manager and now waits on the Lease.
    wait_until(
        Duration::from_secs(30),
        "the restarted replica standing by for the lease",
        || async { Ok(standing_by_of(&beta) > standing_by_before) },
    )
    .await?;
    let stopped = Instant::now();
    let graceful = if alpha_leads {
        beta.terminate(Duration::from_secs(20))?
    } else {
        with_operator(|a| a.terminate(Duration::from_secs(20)))
            .transpose()?
            .unwrap_or(false)
    };
    assert!(graceful, "graceful exit");
    wait_for(
        // slowest seen 7.3 s; 5× margin (a cap: the 8 s handover limit below is the claim)
        Duration::from_secs(40),
        "the first leader leads again",
        || async { Ok(holder(&admin).await?.filter(|h| h == leader_name)) },
    )
    .await?;
    let handover = stopped.elapsed();
    assert!(
        handover < Duration::from_secs(8),
        "handed over in {handover:?}, before the lease would have expired"
    );
    Ok(())
}
