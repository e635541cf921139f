//! `kubectl govcloud`: the kubectl plugin (see `govcloud_operator::plugin`). Put this
//! binary on the PATH and kubectl finds it; it also runs on its own.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use govcloud_operator::plugin::{Cli, run};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}
