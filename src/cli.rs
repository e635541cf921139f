//! Command-line interface. Every flag is also an environment variable.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

/// govcloud-operator: government-cloud management rules as Kubernetes custom resources.
#[derive(Parser, Debug)]
#[command(name = "govcloud-operator", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the operator against the cluster in KUBECONFIG or the in-cluster config.
    Run(RunArgs),
}

/// Log output format.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Plain,
    /// One JSON object per line.
    Json,
}

/// Flags of `run`.
#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// The operator's own namespace; tenant namespaces may never be named so.
    #[arg(long, env = "GOVCLOUD_NAMESPACE", default_value = "govcloud-system")]
    pub namespace: String,
    /// The GovCloudPolicy used by requests that name none.
    #[arg(long, env = "GOVCLOUD_DEFAULT_POLICY", default_value = "shanghai")]
    pub default_policy: String,
    /// Address of the HTTP server for /livez, /readyz and /metrics.
    #[arg(long, env = "GOVCLOUD_LISTEN", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,
    /// Log format.
    #[arg(long, env = "GOVCLOUD_LOG_FORMAT", value_enum, default_value = "plain")]
    pub log_format: LogFormat,
    /// Log filter in tracing's EnvFilter syntax.
    #[arg(long, env = "GOVCLOUD_LOG", default_value = "info,kube=warn")]
    pub log_filter: String,
    /// /livez fails once the watches have been broken for longer than this (seconds).
    #[arg(long, env = "GOVCLOUD_WATCH_STALL_SECONDS", default_value_t = 60)]
    pub watch_stall_seconds: u64,
    /// The longest a reconcile waits before looking again when no deadline is nearer
    /// (seconds); heals drift without polling.
    #[arg(long, env = "GOVCLOUD_MAX_REQUEUE_SECONDS", default_value_t = 3600)]
    pub max_requeue_seconds: u64,
    /// Prometheus base URL (plain HTTP, e.g. http://prometheus.monitoring:9090) for usage
    /// figures; without it utilization is judged on quota allocation alone.
    #[arg(long, env = "GOVCLOUD_PROMETHEUS_URL")]
    pub prometheus_url: Option<String>,
    /// Elect one active replica with a Lease in `--namespace`; the others wait on standby.
    #[arg(long, env = "GOVCLOUD_LEADER_ELECTION", default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_election: bool,
    /// This replica's identity in the Lease (default: POD_NAME, else host name and process id).
    #[arg(long, env = "GOVCLOUD_LEADER_IDENTITY")]
    pub leader_identity: Option<String>,
    /// Seconds a leader's lease lasts without renewal; a standby takes over after it.
    #[arg(long, env = "GOVCLOUD_LEASE_SECONDS", default_value_t = 10)]
    pub lease_seconds: u64,
    /// How often an Active grant's utilization is measured (seconds). SN 14 asks for
    /// monthly monitoring; daily is the default.
    #[arg(
        long,
        env = "GOVCLOUD_UTILIZATION_INTERVAL_SECONDS",
        default_value_t = 86_400
    )]
    pub utilization_interval_seconds: u64,
    /// How often records past their policy's retention are removed (seconds; SN 31).
    #[arg(
        long,
        env = "GOVCLOUD_RECORD_RETENTION_INTERVAL_SECONDS",
        default_value_t = 3_600
    )]
    pub record_retention_interval_seconds: u64,
    /// Run the controllers (competing for the Lease when `--leader-election`). `false`
    /// serves only health, metrics and the admission webhook: a replica that answers
    /// admission reviews and never reconciles.
    #[arg(long, env = "GOVCLOUD_CONTROLLERS", default_value_t = true, action = clap::ArgAction::Set)]
    pub controllers: bool,
    /// Flags of the admission webhook (issue 12).
    #[command(flatten)]
    pub admission: AdmissionArgs,
}

/// Flags of the admission webhook served by every replica (src/admission/).
#[derive(clap::Args, Debug, Clone)]
pub struct AdmissionArgs {
    /// Address of the webhook's HTTPS server; without it no webhook is served.
    #[arg(long, env = "GOVCLOUD_WEBHOOK_LISTEN")]
    pub webhook_listen: Option<SocketAddr>,
    /// The operator's own username as the API server authenticates it (e.g.
    /// `system:serviceaccount:govcloud-system:govcloud-operator`): its writes pass the
    /// webhook (1.20 has no matchConditions to exclude it).
    #[arg(long, env = "GOVCLOUD_OPERATOR_USERNAME", default_value = "")]
    pub operator_username: String,
    /// The Secret in `--namespace` holding the webhook's CA and serving certificate; the
    /// operator creates and rotates it.
    #[arg(
        long,
        env = "GOVCLOUD_WEBHOOK_SECRET",
        default_value = "govcloud-operator-webhook-tls"
    )]
    pub webhook_secret: String,
    /// The Validating- and MutatingWebhookConfiguration whose `caBundle` the operator keeps
    /// current.
    #[arg(
        long,
        env = "GOVCLOUD_WEBHOOK_CONFIGURATION",
        default_value = "govcloud-operator"
    )]
    pub webhook_configuration: String,
    /// Names the serving certificate is valid for: IP addresses, DNS names, or a bare
    /// Service name (expanded to `<name>.<namespace>.svc[.cluster.local]`).
    #[arg(
        long,
        env = "GOVCLOUD_WEBHOOK_HOSTS",
        value_delimiter = ',',
        default_value = "govcloud-operator-webhook"
    )]
    pub webhook_hosts: Vec<String>,
    /// Lifetime of the serving certificate (seconds); it is renewed when a third is left.
    #[arg(long, env = "GOVCLOUD_WEBHOOK_CERT_SECONDS", default_value_t = 90 * 86_400)]
    pub webhook_cert_seconds: u64,
    /// Not ready until both webhook configurations exist and trust this operator's CA
    /// (the chart turns it on: a cluster without the webhook is not what was installed).
    #[arg(long, env = "GOVCLOUD_REQUIRE_ADMISSION", default_value_t = false, action = clap::ArgAction::Set)]
    pub require_admission: bool,
}

impl RunArgs {
    /// The watch stall limit.
    pub fn watch_stall(&self) -> Duration {
        Duration::from_secs(self.watch_stall_seconds)
    }

    /// The longest requeue.
    pub fn max_requeue(&self) -> Duration {
        Duration::from_secs(self.max_requeue_seconds.max(1))
    }
}
