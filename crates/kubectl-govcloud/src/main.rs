//! `kubectl govcloud`: the kubectl plugin (see the `kubectl_govcloud` library). Put this
//! binary on the PATH and kubectl finds it; it also runs on its own.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use kubectl_govcloud::{Cli, run};

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
