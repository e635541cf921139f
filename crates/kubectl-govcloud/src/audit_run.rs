//! `kubectl govcloud audit` and `audit verify` against the cluster: list the
//! GovCloudRecords (and, for verify, the statuses that anchor the chains' ends), hand them
//! to the pure [`super::audit`], print.

use std::collections::BTreeMap;

use govcloud_core::api::{
    CloudResourceRequest, ExitRequest, GovCloudRecord, RecordStatus, ResourceChange,
};
use kube::api::{Api, ListParams};
use kube::{Client, Resource};

use super::audit::{self, Filter};
use super::cli::{AuditArgs, AuditCommand, AuditFormat, Cli, Output};
use super::cluster::{Failure, connect, print_json};

/// Runs `audit` or `audit verify`.
pub async fn run(cli: &Cli, args: &AuditArgs) -> Result<(), Failure> {
    let cluster = connect(cli).await?;
    let scope = if cli.all_namespaces {
        None
    } else {
        Some(
            cli.namespace
                .clone()
                .unwrap_or_else(|| cluster.namespace.clone()),
        )
    };
    let zone = chrono_tz::Asia::Shanghai;
    let filter = Filter {
        request: args.request.clone(),
        unit: args.unit.clone(),
        since: args
            .since
            .as_deref()
            .map(|t| audit::parse_time(t, zone, false))
            .transpose()
            .map_err(Failure::usage)?,
        until: args
            .until
            .as_deref()
            .map(|t| audit::parse_time(t, zone, true))
            .transpose()
            .map_err(Failure::usage)?,
    };
    let records = list_records(&cluster.client, scope.as_deref()).await?;
    let format = args.format.unwrap_or(match cli.output {
        Output::Json => AuditFormat::Json,
        Output::Table => AuditFormat::Table,
    });
    match args.command {
        None => {
            let selected = audit::select(&records, &filter);
            match format {
                AuditFormat::Json => print_json(&audit::to_json(&selected)),
                AuditFormat::Csv => {
                    crate::out::print(&audit::render_csv(&selected));
                    Ok(())
                }
                AuditFormat::Table if selected.is_empty() => {
                    eprintln!("No records match.");
                    Ok(())
                }
                AuditFormat::Table => {
                    crate::out::print(&audit::render_table(&selected, zone));
                    Ok(())
                }
            }
        }
        Some(AuditCommand::Verify) => {
            let anchors = anchors(&cluster.client, scope.as_deref()).await?;
            let reports = audit::verify_records(&records, &anchors, &filter);
            match format {
                AuditFormat::Json => print_json(&audit::verdict_json(&reports))?,
                _ => crate::out::print(&audit::render_verdict(&reports)),
            }
            let broken = reports.iter().filter(|r| !r.intact()).count();
            if broken == 0 {
                eprintln!("{} chain(s) intact.", reports.len());
                Ok(())
            } else {
                Err(Failure::error(format!(
                    "{broken} of {} chain(s) were tampered with: records removed or altered outside retention",
                    reports.len()
                )))
            }
        }
    }
}

/// Every GovCloudRecord in scope, in pages.
pub async fn list_records(
    client: &Client,
    scope: Option<&str>,
) -> Result<Vec<GovCloudRecord>, Failure> {
    let api: Api<GovCloudRecord> = match scope {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let mut out = Vec::new();
    let mut params = ListParams::default().limit(500);
    loop {
        let page = api
            .list(&params)
            .await
            .map_err(|e| Failure::api("listing govcloudrecords", e))?;
        out.extend(page.items);
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(out),
        }
    }
}

/// What the statuses of the requests, changes and exits in scope say their chains reach.
async fn anchors(
    client: &Client,
    scope: Option<&str>,
) -> Result<BTreeMap<String, RecordStatus>, Failure> {
    let mut out = BTreeMap::new();
    collect::<CloudResourceRequest>(client, scope, &mut out, |r| {
        r.status.as_ref().and_then(|s| s.record.clone())
    })
    .await?;
    collect::<ResourceChange>(client, scope, &mut out, |r| {
        r.status.as_ref().and_then(|s| s.record.clone())
    })
    .await?;
    collect::<ExitRequest>(client, scope, &mut out, |r| {
        r.status.as_ref().and_then(|s| s.record.clone())
    })
    .await?;
    Ok(out)
}

async fn collect<K>(
    client: &Client,
    scope: Option<&str>,
    out: &mut BTreeMap<String, RecordStatus>,
    record: impl Fn(&K) -> Option<RecordStatus>,
) -> Result<(), Failure>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = match scope {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let what = format!("listing {}", K::plural(&()));
    for obj in api
        .list(&ListParams::default())
        .await
        .map_err(|e| Failure::api(&what, e))?
        .items
    {
        if let (Some(uid), Some(r)) = (obj.meta().uid.clone(), record(&obj)) {
            out.insert(uid, r);
        }
    }
    Ok(())
}

/// `describe`'s record section for request `name` in `ns`; empty when there are no
/// records or they cannot be read (e.g. an older role without `govcloudrecords`).
pub async fn timeline(client: &Client, ns: &str, name: &str, zone: chrono_tz::Tz) -> String {
    match list_records(client, Some(ns)).await {
        Ok(records) => audit::render_timeline(&records, name, zone),
        Err(_) => String::new(),
    }
}
