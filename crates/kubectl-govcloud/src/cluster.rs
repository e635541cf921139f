//! The connection to the cluster and the failures every command shares: the kubeconfig,
//! the client with its timeouts, exit codes, JSON output. Used by `run` and the calendar
//! commands alike, so neither imports the other for them.

use std::time::Duration;

use govcloud_core::api::WorkCalendar;
use kube::api::{Api, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use super::cli::Cli;

/// Longest wait for any one API call.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest wait for the cluster's WorkCalendars before `calendar` goes on without them.
const CALENDAR_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a command failed, and the exit code that says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// 1 error, 2 usage, 3 forbidden, 4 not found.
    pub code: u8,
    /// What to tell the user.
    pub message: String,
}

impl Failure {
    pub(crate) fn error(message: impl Into<String>) -> Self {
        Failure {
            code: 1,
            message: message.into(),
        }
    }

    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Failure {
            code: 2,
            message: message.into(),
        }
    }

    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        Failure {
            code: 3,
            message: message.into(),
        }
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Failure {
            code: 4,
            message: message.into(),
        }
    }

    /// An API error while doing `what`.
    pub(crate) fn api(what: &str, e: kube::Error) -> Self {
        match &e {
            kube::Error::Api(s) if s.code == 403 => Failure::forbidden(format!(
                "{what}: forbidden: {} (ask for the govcloud-approver or govcloud-applicant role)",
                s.message
            )),
            kube::Error::Api(s) if s.code == 404 => {
                Failure::not_found(format!("{what}: not found ({})", s.message))
            }
            _ => Failure::error(format!("{what}: {e}")),
        }
    }
}

/// The connected cluster.
pub(crate) struct Cluster {
    pub(crate) client: Client,
    /// The context's namespace (or `default`).
    pub(crate) namespace: String,
}

pub(crate) async fn connect(cli: &Cli) -> Result<Cluster, Failure> {
    let kubeconfig = match &cli.kubeconfig {
        Some(path) => Kubeconfig::read_from(path)
            .map_err(|e| Failure::error(format!("cannot read {}: {e}", path.display())))?,
        None => Kubeconfig::read()
            .map_err(|e| Failure::error(format!("cannot read a kubeconfig: {e}")))?,
    };
    let options = KubeConfigOptions {
        context: cli.context.clone(),
        ..Default::default()
    };
    let mut config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| Failure::error(format!("cannot use the kubeconfig: {e}")))?;
    config.read_timeout = Some(CALL_TIMEOUT);
    config.connect_timeout = Some(Duration::from_secs(10));
    let namespace = config.default_namespace.clone();
    let client = Client::try_from(config)
        .map_err(|e| Failure::error(format!("cannot build a client: {e}")))?;
    Ok(Cluster { client, namespace })
}

/// Prints `value` as pretty JSON on stdout.
pub(crate) fn print_json(value: &serde_json::Value) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Failure::error(format!("cannot write JSON: {e}")))?;
    crate::out::println(&text);
    Ok(())
}

/// The cluster's WorkCalendars, or why they could not be read.
pub(crate) async fn work_calendars(cli: &Cli) -> Result<Vec<WorkCalendar>, String> {
    let read = async {
        let cluster = connect(cli).await.map_err(|f| f.message)?;
        Api::<WorkCalendar>::all(cluster.client)
            .list(&ListParams::default())
            .await
            .map(|l| l.items)
            .map_err(|e| e.to_string())
    };
    match tokio::time::timeout(CALENDAR_TIMEOUT, read).await {
        Ok(result) => result,
        Err(_) => Err(format!("no answer within {}s", CALENDAR_TIMEOUT.as_secs())),
    }
}
