//! `govcloud-operator run`: parse the flags, start logging, run the operator.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use govcloud_operator::cli::{Cli, Command};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => {
            govcloud_operator::telemetry::init(args.log_format, &args.log_filter);
            match govcloud_operator::operator::run(args).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = %e, "operator stopped");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
