//! The commands against the cluster: read what they need, hand it to the pure formatting
//! in the sibling modules, and turn API errors into messages a person can act on.

use chrono::Utc;
use chrono_tz::Tz;
use k8s_openapi::NamespaceResourceScope;
use kube::api::{ApiResource, DynamicObject, ListParams, Patch, PatchParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::json;

use super::cli::{CalendarArgs, CalendarCommand, Cli, Command, Output};
pub use super::cluster::Failure;
use super::cluster::{Cluster, connect, print_json};
use super::kind::{Kind, Target, parse_target};
use super::zones::Zones;
use super::{calendar, calendar_run, describe, pending, report};
use govcloud_core::api::{CloudResourceRequest, ExitRequest, GovCloudPolicy, ResourceChange};

/// What the approver is told on a 403 when deciding.
pub const FORBIDDEN_DECIDE: &str =
    "you are not allowed to decide: ask for the govcloud-approver role";

/// Runs a parsed command line; prints results on stdout and notes on stderr.
pub async fn run(cli: Cli) -> Result<(), Failure> {
    match &cli.command {
        Command::Pending => pending_cmd(&cli).await,
        Command::Approve(d) => {
            decide(
                &cli,
                &d.target,
                "Approved",
                d.comment.as_deref(),
                d.reviewer.as_deref(),
            )
            .await
        }
        Command::Reject(r) => {
            if r.comment.trim().is_empty() {
                return Err(Failure::usage(
                    "a rejection states its reasons (XB 20): give them with --comment",
                ));
            }
            decide(
                &cli,
                &r.target,
                "Rejected",
                Some(&r.comment),
                r.reviewer.as_deref(),
            )
            .await
        }
        Command::Describe { target } => describe_cmd(&cli, target).await,
        Command::Report => report_cmd(&cli).await,
        Command::Calendar(args) => calendar_cmd(&cli, args).await,
        Command::Audit(args) => super::audit_run::run(&cli, args).await,
    }
}

/// Where `pending` and `report` look: one namespace or all.
fn scope(cli: &Cli, cluster: &Cluster) -> Option<String> {
    if cli.all_namespaces {
        None
    } else {
        Some(
            cli.namespace
                .clone()
                .unwrap_or_else(|| cluster.namespace.clone()),
        )
    }
}

fn scope_text(scope: Option<&str>) -> String {
    match scope {
        Some(ns) => format!("in namespace {ns}"),
        None => "in any namespace".to_string(),
    }
}

async fn list<K>(client: &Client, scope: Option<&str>) -> Result<Vec<K>, Failure>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = match scope {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let what = format!("listing {} {}", K::plural(&()), scope_text(scope));
    api.list(&ListParams::default())
        .await
        .map(|l| l.items)
        .map_err(|e| Failure::api(&what, e))
}

/// The policies' zones; without them (no permission, no policies) every time is shown in
/// Asia/Shanghai.
async fn zones(cli: &Cli, client: &Client) -> Zones {
    let policies = Api::<GovCloudPolicy>::all(client.clone())
        .list(&ListParams::default())
        .await
        .map(|l| l.items)
        .unwrap_or_default();
    Zones::new(&policies, &cli.default_policy)
}

async fn pending_cmd(cli: &Cli) -> Result<(), Failure> {
    let cluster = connect(cli).await?;
    let scope = scope(cli, &cluster);
    let scope = scope.as_deref();
    let requests = list::<CloudResourceRequest>(&cluster.client, scope).await?;
    let changes = list::<ResourceChange>(&cluster.client, scope).await?;
    let exits = list::<ExitRequest>(&cluster.client, scope).await?;
    let zones = zones(cli, &cluster.client).await;
    let now = Utc::now();
    let mut items = pending::collect(&requests, &changes, &exits, &zones);
    pending::sort(&mut items, now);
    match cli.output {
        Output::Json => print_json(&pending::to_json(&items, now)),
        Output::Table if items.is_empty() => {
            eprintln!("Nothing awaits review {}.", scope_text(scope));
            Ok(())
        }
        Output::Table => {
            crate::out::print(&pending::render_table(&items, now));
            Ok(())
        }
    }
}

fn resource_of(kind: Kind) -> ApiResource {
    match kind {
        Kind::Request => ApiResource::erase::<CloudResourceRequest>(&()),
        Kind::Change => ApiResource::erase::<ResourceChange>(&()),
        Kind::Exit => ApiResource::erase::<ExitRequest>(&()),
    }
}

async fn decide(
    cli: &Cli,
    words: &[String],
    decision: &str,
    comment: Option<&str>,
    reviewer_flag: Option<&str>,
) -> Result<(), Failure> {
    let target = parse_target(words).map_err(Failure::usage)?;
    let cluster = connect(cli).await?;
    let ns = cli
        .namespace
        .clone()
        .unwrap_or_else(|| cluster.namespace.clone());
    let api: Api<DynamicObject> =
        Api::namespaced_with(cluster.client.clone(), &ns, &resource_of(target.kind));
    let what = format!("{target} in namespace {ns}");
    let current = api.get(&target.name).await.map_err(|e| match &e {
        kube::Error::Api(s) if s.code == 404 => Failure::not_found(format!("{what} not found")),
        kube::Error::Api(s) if s.code == 403 => Failure::forbidden(format!(
            "{FORBIDDEN_DECIDE} (cannot read {what}: {})",
            s.message
        )),
        _ => Failure::api(&format!("reading {what}"), e),
    })?;
    let generation = current.metadata.generation;
    let status = current.data.get("status");
    let phase = status
        .and_then(|s| s.get("phase"))
        .and_then(|p| p.as_str())
        .unwrap_or("");
    let previous = status.and_then(|s| s.get("approval"));
    if let Some(prev) = previous
        && prev.get("decision").and_then(|d| d.as_str()) == Some(decision)
        && prev.get("generation").and_then(|g| g.as_i64()) == generation
        && generation.is_some()
    {
        let by = prev
            .get("reviewer")
            .and_then(|r| r.as_str())
            .unwrap_or("someone");
        eprintln!(
            "{target} is already {decision} by {by} at generation {}: nothing to do",
            generation.unwrap_or_default()
        );
        return Ok(());
    }
    // An opened emergency request with its paperwork pending may still be decided on (a
    // rejection suspends it, XB 26).
    let paperwork_pending = status
        .and_then(|s| s.get("conditions"))
        .and_then(|c| c.as_array())
        .is_some_and(|c| {
            c.iter().any(|c| {
                c.get("type").and_then(|t| t.as_str()) == Some("PaperworkPending")
                    && c.get("status").and_then(|t| t.as_str()) == Some("True")
            })
        });
    if phase != "Submitted" && !paperwork_pending {
        let shown = if phase.is_empty() {
            "not yet seen by the operator"
        } else {
            phase
        };
        eprintln!("note: {target} is {shown}, not Submitted; recording the decision anyway");
    }
    // No reviewer and no time are sent: the operator's admission webhook records the
    // authenticated user and the server's time (GY 22: the record of who approved is the
    // real identity). A `--reviewer` name is only shown in the comment.
    let mut approval = json!({"decision": decision});
    let signed = reviewer_flag
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| format!("(signed {n})"));
    let text: Vec<&str> = comment.into_iter().chain(signed.as_deref()).collect();
    if !text.is_empty() {
        approval["comment"] = json!(text.join(" "));
    }
    if let Some(g) = generation {
        approval["generation"] = json!(g);
    }
    let patch = json!({"status": {"approval": approval}});
    let recorded = api
        .patch_status(&target.name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|e| match &e {
            kube::Error::Api(s) if s.code == 403 => {
                Failure::forbidden(format!("{FORBIDDEN_DECIDE} ({})", s.message))
            }
            kube::Error::Api(s) if s.code == 404 => Failure::not_found(format!(
                "{what} not found (deleted meanwhile, or the CRD has no status subresource)"
            )),
            _ => Failure::api(&format!("recording the decision on {what}"), e),
        })?;
    // What the server recorded (the webhook's stamps, when it runs).
    if let Some(a) = recorded.data.get("status").and_then(|s| s.get("approval")) {
        approval = a.clone();
    }
    let reviewer = approval
        .get("reviewer")
        .and_then(|r| r.as_str())
        .unwrap_or("you (no admission webhook recorded a reviewer)")
        .to_string();
    match cli.output {
        Output::Json => print_json(&json!({
            "kind": target.kind.kind(),
            "namespace": ns,
            "name": target.name,
            "approval": approval,
        })),
        Output::Table => {
            crate::out::println(&format!(
                "{target} {} by {reviewer}{}",
                decision.to_ascii_lowercase(),
                generation
                    .map(|g| format!(" (generation {g})"))
                    .unwrap_or_default()
            ));
            Ok(())
        }
    }
}

async fn get<K>(client: &Client, ns: &str, target: &Target) -> Result<K, Failure>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    Api::<K>::namespaced(client.clone(), ns)
        .get(&target.name)
        .await
        .map_err(|e| match &e {
            kube::Error::Api(s) if s.code == 404 => {
                Failure::not_found(format!("{target} not found in namespace {ns}"))
            }
            _ => Failure::api(&format!("reading {target} in namespace {ns}"), e),
        })
}

async fn describe_cmd(cli: &Cli, words: &[String]) -> Result<(), Failure> {
    let target = parse_target(words).map_err(Failure::usage)?;
    let cluster = connect(cli).await?;
    let ns = cli
        .namespace
        .clone()
        .unwrap_or_else(|| cluster.namespace.clone());
    let client = &cluster.client;
    let zones = zones(cli, client).await;
    let now = Utc::now();
    let text = match target.kind {
        Kind::Request => {
            let r: CloudResourceRequest = get(client, &ns, &target).await?;
            let name = r.name_any();
            let changes: Vec<ResourceChange> = list::<ResourceChange>(client, Some(&ns))
                .await?
                .into_iter()
                .filter(|c| c.spec.request == name)
                .collect();
            let exits: Vec<ExitRequest> = list::<ExitRequest>(client, Some(&ns))
                .await?
                .into_iter()
                .filter(|e| e.spec.request == name)
                .collect();
            if cli.output == Output::Json {
                return print_json(&json!({"request": r, "changes": changes, "exits": exits}));
            }
            let mut text =
                describe::render_request(&r, &changes, &exits, zones.of_request(&r), now);
            // The steps as recorded (SN 31), beyond what Events and conditions remember.
            text.push_str(
                &super::audit_run::timeline(client, &ns, &name, zones.of_request(&r)).await,
            );
            text
        }
        Kind::Change => {
            let c: ResourceChange = get(client, &ns, &target).await?;
            if cli.output == Output::Json {
                return print_json(&json!(c));
            }
            let zone = parent_zone(client, &zones, &ns, &c.spec.request).await;
            describe::render_change(&c, zone, now)
        }
        Kind::Exit => {
            let e: ExitRequest = get(client, &ns, &target).await?;
            if cli.output == Output::Json {
                return print_json(&json!(e));
            }
            let zone = parent_zone(client, &zones, &ns, &e.spec.request).await;
            describe::render_exit(&e, zone, now)
        }
    };
    crate::out::print(&text);
    Ok(())
}

async fn parent_zone(client: &Client, zones: &Zones, ns: &str, request: &str) -> Tz {
    match Api::<CloudResourceRequest>::namespaced(client.clone(), ns)
        .get_opt(request)
        .await
    {
        Ok(Some(r)) => zones.of_request(&r),
        _ => zones.of_policy(None),
    }
}

async fn report_cmd(cli: &Cli) -> Result<(), Failure> {
    let cluster = connect(cli).await?;
    let scope = scope(cli, &cluster);
    let scope = scope.as_deref();
    let requests = list::<CloudResourceRequest>(&cluster.client, scope).await?;
    let changes = list::<ResourceChange>(&cluster.client, scope).await?;
    let exits = list::<ExitRequest>(&cluster.client, scope).await?;
    let units = report::aggregate(&requests, &changes, &exits);
    match cli.output {
        Output::Json => print_json(&report::to_json(&units)),
        Output::Table if units.is_empty() => {
            eprintln!("No requests {}.", scope_text(scope));
            Ok(())
        }
        Output::Table => {
            crate::out::print(&report::render_table(&units));
            // Best effort: someone who may not list policies sees the table alone.
            if let Ok(policies) = Api::<GovCloudPolicy>::all(cluster.client.clone())
                .list(&Default::default())
                .await
            {
                crate::out::print(&report::orphans_text(&policies.items));
            }
            Ok(())
        }
    }
}

async fn calendar_cmd(cli: &Cli, args: &CalendarArgs) -> Result<(), Failure> {
    let zone: Tz = args.time_zone.parse().map_err(|_| {
        Failure::usage(format!(
            "{:?} is not an IANA time zone (e.g. Asia/Shanghai)",
            args.time_zone
        ))
    })?;
    // Check the arguments before going to the cluster.
    let request = match &args.command {
        CalendarCommand::Show { year } => return calendar_run::show(cli, args, *year).await,
        CalendarCommand::Import {
            file,
            name,
            source,
            dry_run,
        } => {
            let import = calendar_run::Import {
                file,
                name: name.as_deref(),
                source: source.as_deref(),
                dry_run: *dry_run,
            };
            return calendar_run::import(cli, args, import).await;
        }
        CalendarCommand::Between { from, to } => {
            let from = calendar::parse_date(from).map_err(Failure::usage)?;
            let to = calendar::parse_date(to).map_err(Failure::usage)?;
            if to < from {
                return Err(Failure::usage(format!(
                    "{to} is before {from}: give the earlier date first"
                )));
            }
            (from, Some(to), None)
        }
        CalendarCommand::Add { date, period } => (
            calendar::parse_date(date).map_err(Failure::usage)?,
            None,
            Some(calendar::parse_period(period).map_err(Failure::usage)?),
        ),
    };
    let (cal, _) = calendar_run::composed_calendar(cli, args).await?;
    let name = args.calendar.as_str();
    match request {
        (from, Some(to), _) => {
            let b = calendar::between(&cal, from, to).map_err(Failure::usage)?;
            match cli.output {
                Output::Json => print_json(&calendar::between_json(&b, name)),
                Output::Table => {
                    crate::out::print(&calendar::render_between(&b, name));
                    Ok(())
                }
            }
        }
        (from, None, Some(period)) => {
            let a = calendar::add(&cal, from, period, zone);
            match cli.output {
                Output::Json => print_json(&calendar::add_json(&a, name)),
                Output::Table => {
                    crate::out::print(&calendar::render_add(&a, name));
                    Ok(())
                }
            }
        }
        _ => Err(Failure::usage("nothing to compute")),
    }
}
