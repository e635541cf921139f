//! `calendar show` and `calendar import` against the cluster: read the WorkCalendars,
//! hand them to [`super::calendar_show`] / [`super::calendar_import`], apply the result.

use std::path::Path;

use kube::Api;
use kube::api::{Patch, PatchParams};

use super::calendar_import;
use super::calendar_show;
use super::cli::{CalendarArgs, Cli, Output};
use super::cluster::{Failure, connect, print_json, work_calendars};
use govcloud_core::api::WorkCalendar;
use govcloud_core::policy::calendar::Calendar;
use govcloud_core::policy::calendars::compose_calendar;
use govcloud_core::policy::rules::CN_STATUTORY;

/// The field manager of the plugin's server-side applies.
pub const FIELD_MANAGER: &str = "kubectl-govcloud";

/// The arguments of `calendar import`.
#[derive(Debug, Clone, Copy)]
pub struct Import<'a> {
    /// The holiday-cn file.
    pub file: &'a Path,
    /// `--name`.
    pub name: Option<&'a str>,
    /// `--source`.
    pub source: Option<&'a str>,
    /// `--dry-run`.
    pub dry_run: bool,
}

/// The calendar `args` names, composed as the operator does from the cluster's
/// WorkCalendars (none with `--offline` or when the cluster cannot be read), with the
/// provisional calendar under every year without data; and the WorkCalendars read.
pub(crate) async fn composed_calendar(
    cli: &Cli,
    args: &CalendarArgs,
) -> Result<(Calendar, Vec<WorkCalendar>), Failure> {
    let objects = if args.offline {
        Vec::new()
    } else {
        match work_calendars(cli).await {
            Ok(objects) => objects,
            Err(why) => {
                eprintln!(
                    "note: cluster not reachable ({why}); using the embedded {CN_STATUTORY} calendar only"
                );
                Vec::new()
            }
        }
    };
    let (cal, skipped) = compose_calendar(&args.calendar, &objects)
        .map_err(|e| Failure::not_found(format!("calendar {:?}: {e}", args.calendar)))?;
    for msg in skipped {
        eprintln!("note: skipped {msg}");
    }
    // A year without data counts on the law's holidays rather than on weekends alone.
    Ok((cal.with_provisional(), objects))
}

/// `calendar show YEAR`.
pub(crate) async fn show(cli: &Cli, args: &CalendarArgs, year: i32) -> Result<(), Failure> {
    let (cal, objects) = composed_calendar(cli, args).await?;
    let shown = calendar_show::show(&cal, &objects, year);
    match cli.output {
        Output::Json => print_json(&calendar_show::to_json(&shown, &args.calendar)),
        Output::Table => {
            crate::out::print(&calendar_show::render(&shown, &args.calendar));
            Ok(())
        }
    }
}

/// `calendar import FILE`: check, merge with the existing WorkCalendar, apply.
pub(crate) async fn import(
    cli: &Cli,
    args: &CalendarArgs,
    import: Import<'_>,
) -> Result<(), Failure> {
    if args.offline && !import.dry_run {
        return Err(Failure::usage(
            "--offline cannot apply: add --dry-run to only print the WorkCalendar",
        ));
    }
    let text = std::fs::read_to_string(import.file)
        .map_err(|e| Failure::error(format!("cannot read {}: {e}", import.file.display())))?;
    // Checked before anything is read from or written to the cluster.
    let imported = calendar_import::parse(&text, import.source)
        .map_err(|e| Failure::usage(format!("{}: {e}; nothing applied", import.file.display())))?;
    let year = imported.year.year;
    let name = import
        .name
        .map_or_else(|| calendar_import::default_name(year), str::to_string);
    if args.offline {
        let wc = calendar_import::merge(&name, None, &imported);
        eprintln!("note: --offline: WorkCalendar {name} as if it did not exist yet");
        return print_object(cli, &wc);
    }
    let cluster = connect(cli).await?;
    let api: Api<WorkCalendar> = Api::all(cluster.client.clone());
    let existing = api
        .get_opt(&name)
        .await
        .map_err(|e| Failure::api(&format!("reading WorkCalendar {name}"), e))?;
    let wc = calendar_import::merge(&name, existing.as_ref(), &imported);
    if import.dry_run {
        return print_object(cli, &wc);
    }
    api.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&wc),
    )
    .await
    .map_err(|e| match &e {
        kube::Error::Api(s) if s.code == 409 => Failure::error(format!(
            "WorkCalendar {name} changed while importing ({}): run the import again; nothing applied",
            s.message
        )),
        _ => Failure::api(&format!("applying WorkCalendar {name}"), e),
    })?;
    // Under cn-statutory a WorkCalendar later in name order wins the same year.
    if let Ok(all) = work_calendars(cli).await {
        let later = calendar_import::shadowed_by(&name, year, &all);
        if !later.is_empty() {
            eprintln!(
                "warning: WorkCalendar {} also list {year} and come after {name} in name order: cn-statutory uses theirs",
                later.join(", ")
            );
        }
    }
    match cli.output {
        Output::Json => print_json(&serde_json::json!({
            "name": name,
            "year": year,
            "days": imported.year.days.len(),
            "sourceNotice": imported.notice,
        })),
        Output::Table => {
            crate::out::print(&calendar_import::summary(&name, &imported, false));
            Ok(())
        }
    }
}

/// `--dry-run`: the object that would be applied.
fn print_object(cli: &Cli, wc: &WorkCalendar) -> Result<(), Failure> {
    match cli.output {
        Output::Json => print_json(&serde_json::json!(wc)),
        Output::Table => {
            let text = serde_yaml::to_string(wc)
                .map_err(|e| Failure::error(format!("cannot write YAML: {e}")))?;
            crate::out::print(&text);
            Ok(())
        }
    }
}
