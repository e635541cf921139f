//! The command line of `kubectl govcloud` (also runnable as `kubectl-govcloud`).
//!
//! kubectl passes everything after the plugin's name through unchanged, so the flags are
//! kubectl's own where they mean the same: `--kubeconfig`, `--context`, `-n`, `-A`, `-o`.
//! Without `--kubeconfig`, `KUBECONFIG` (a list of files, merged) or `~/.kube/config`
//! is read, as kubectl does.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Review and report on government-cloud requests (govcloud.io).
#[derive(Debug, Parser)]
#[command(
    name = "kubectl-govcloud",
    bin_name = "kubectl govcloud",
    version,
    about = "Review and report on government-cloud requests (govcloud.io)",
    after_help = "Exit codes: 0 done, 1 error, 2 usage, 3 forbidden (RBAC), 4 not found."
)]
pub struct Cli {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, global = true, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: its current context).
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
    /// The namespace (default: the context's namespace).
    #[arg(short = 'n', long, global = true, value_name = "NS")]
    pub namespace: Option<String>,
    /// Every namespace (pending, report).
    #[arg(short = 'A', long, global = true)]
    pub all_namespaces: bool,
    /// Output format.
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = Output::Table)]
    pub output: Output,
    /// The policy of requests that name none (the operator's --default-policy); only its
    /// time zone is used here.
    #[arg(
        long,
        global = true,
        env = "GOVCLOUD_DEFAULT_POLICY",
        default_value = "shanghai",
        value_name = "NAME"
    )]
    pub default_policy: String,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// `-o`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Aligned columns for people.
    Table,
    /// JSON for scripts.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// What awaits review (phase Submitted), overdue first, then by review deadline.
    Pending,
    /// Approve a request, change or exit: KIND/NAME (crr, rchg, rexit) or NAME (a crr).
    Approve(Decide),
    /// Reject a request, change or exit, stating the reasons (XB 20).
    Reject(RejectArgs),
    /// The timeline, deadlines and conditions of a request (or change, or exit).
    Describe {
        /// `[KIND/]NAME` or `KIND NAME`.
        #[arg(required = true, num_args = 1..=2, value_name = "[KIND/]NAME")]
        target: Vec<String>,
    },
    /// Per applicant unit: requests by phase, grants, monthly cost, overdue conditions.
    Report,
    /// Working-day arithmetic on the statutory calendar.
    Calendar(CalendarArgs),
    /// The operation record (SN 31): every step of requests, changes and exits, by
    /// request, unit or period; `audit verify` checks that none was removed or altered.
    Audit(AuditArgs),
}

/// `audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only this request's records (its changes' and exits' included).
    #[arg(long, global = true, value_name = "NAME")]
    pub request: Option<String>,
    /// Only this applicant unit's records.
    #[arg(long, global = true, value_name = "UNIT")]
    pub unit: Option<String>,
    /// From this date (YYYY-MM-DD, Beijing time) or RFC 3339 time on.
    #[arg(long, global = true, value_name = "WHEN")]
    pub since: Option<String>,
    /// Through this date (YYYY-MM-DD, the whole day) or up to this RFC 3339 time.
    #[arg(long, global = true, value_name = "WHEN")]
    pub until: Option<String>,
    /// table, csv (for auditors: UTC times, one line per record) or json; default: -o.
    #[arg(long, global = true, value_enum, value_name = "FORMAT")]
    pub format: Option<AuditFormat>,
    /// `verify`: check the chains instead of listing.
    #[command(subcommand)]
    pub command: Option<AuditCommand>,
}

/// `audit --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuditFormat {
    /// Aligned columns.
    Table,
    /// RFC 4180 CSV with a header line.
    Csv,
    /// JSON.
    Json,
}

/// `audit verify`.
#[derive(Debug, Clone, Copy, Subcommand)]
pub enum AuditCommand {
    /// Check every chain: a record removed or altered other than by retention is reported
    /// and the exit code is 1. Time filters are ignored (a chain is checked whole).
    Verify,
}

/// `approve`.
#[derive(Debug, Args)]
pub struct Decide {
    /// `[KIND/]NAME` or `KIND NAME`.
    #[arg(required = true, num_args = 1..=2, value_name = "[KIND/]NAME")]
    pub target: Vec<String>,
    /// A comment recorded with the decision.
    #[arg(long, short = 'm')]
    pub comment: Option<String>,
    /// A name shown in the comment only: the reviewer on record is always the
    /// authenticated user, stamped by the operator's admission webhook.
    #[arg(long, value_name = "NAME")]
    pub reviewer: Option<String>,
}

/// `reject`.
#[derive(Debug, Args)]
pub struct RejectArgs {
    /// `[KIND/]NAME` or `KIND NAME`.
    #[arg(required = true, num_args = 1..=2, value_name = "[KIND/]NAME")]
    pub target: Vec<String>,
    /// The reasons for the refusal (required: XB 20 says a refusal states its reasons).
    #[arg(long, short = 'm', required = true)]
    pub comment: String,
    /// A name shown in the comment only: the reviewer on record is always the
    /// authenticated user, stamped by the operator's admission webhook.
    #[arg(long, value_name = "NAME")]
    pub reviewer: Option<String>,
}

/// `calendar`.
#[derive(Debug, Args)]
pub struct CalendarArgs {
    /// Use the embedded cn-statutory calendar only; do not read WorkCalendars.
    #[arg(long)]
    pub offline: bool,
    /// The calendar: cn-statutory (with the cluster's WorkCalendars laid over it) or the
    /// name of one WorkCalendar.
    #[arg(long, default_value = "cn-statutory", value_name = "NAME")]
    pub calendar: String,
    /// The time zone deadlines end in.
    #[arg(long, default_value = "Asia/Shanghai", value_name = "ZONE")]
    pub time_zone: String,
    /// Which computation.
    #[command(subcommand)]
    pub command: CalendarCommand,
}

/// `calendar between|add|show|import`.
#[derive(Debug, Subcommand)]
pub enum CalendarCommand {
    /// Working days in (FROM, TO]: FROM excluded, TO included.
    Between {
        /// YYYY-MM-DD.
        from: String,
        /// YYYY-MM-DD.
        to: String,
    },
    /// The deadline of N working days (or 30d, 3mo) after an event on DATE.
    Add {
        /// YYYY-MM-DD: the day of the event (never counted itself).
        date: String,
        /// A number of working days, or a duration such as 5wd, 30d, 3mo.
        period: String,
    },
    /// The days off and make-up working days of YEAR and where each comes from; a year
    /// without a State Council notice is shown on its provisional calendar (the law alone).
    Show {
        /// The year, e.g. 2027.
        year: i32,
    },
    /// Load a year from a holiday-cn JSON file into a WorkCalendar (server-side apply).
    ///
    /// The file is checked first: a bad date, a date more than a year away or a date
    /// listed twice is refused, naming the entry, and nothing is applied. The year
    /// replaces that year only in the WorkCalendar; its other years stay. The file's
    /// `papers` (and --source) are recorded in the annotation
    /// govcloud.io/source-notice-YEAR.
    #[command(
        after_help = "The default WorkCalendar is a new object cn-YEAR. The cn-statutory calendar lays every WorkCalendar's years over the embedded data in name order, so policies on cn-statutory count on the import at once (unless a WorkCalendar later in name order lists the same year)."
    )]
    Import {
        /// The holiday-cn year file: {"year": 2027, "papers": [...], "days": [{"name",
        /// "date", "isOffDay"}, ...]}.
        file: PathBuf,
        /// The WorkCalendar to create or update (default: cn-YEAR).
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// The State Council notice (title, number or URL), recorded before the file's
        /// papers; required when the file has none.
        #[arg(long, value_name = "TEXT")]
        source: Option<String>,
        /// Print the WorkCalendar that would be applied (YAML, or JSON with -o json);
        /// apply nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn flags_go_anywhere_and_reject_needs_a_comment() {
        let cli = Cli::try_parse_from([
            "kubectl-govcloud",
            "pending",
            "-A",
            "--kubeconfig",
            "/tmp/k",
            "-o",
            "json",
        ])
        .unwrap();
        assert!(cli.all_namespaces);
        assert_eq!(cli.output, Output::Json);
        assert!(matches!(cli.command, Command::Pending));
        let cli = Cli::try_parse_from([
            "kubectl-govcloud",
            "-n",
            "unit-finance",
            "approve",
            "crr/tax-portal",
        ])
        .unwrap();
        assert_eq!(cli.namespace.as_deref(), Some("unit-finance"));
        let Command::Approve(d) = cli.command else {
            panic!("approve")
        };
        assert_eq!(d.target, ["crr/tax-portal"]);
        let err = Cli::try_parse_from(["kubectl-govcloud", "reject", "rchg/x"]).unwrap_err();
        assert!(err.to_string().contains("--comment"), "{err}");
        let cli = Cli::try_parse_from([
            "kubectl-govcloud",
            "calendar",
            "--offline",
            "add",
            "2026-09-30",
            "5",
        ])
        .unwrap();
        let Command::Calendar(c) = cli.command else {
            panic!("calendar")
        };
        assert!(c.offline);
        assert!(matches!(c.command, CalendarCommand::Add { .. }));
    }
}
