//! Writes the CustomResourceDefinitions generated from the Rust types to `crds/` and to
//! the Helm chart's `crds/`, or checks that the committed files match (`--check`).
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Generate the CRDs from the API types.
#[derive(Parser)]
struct Args {
    /// Fail instead of writing when a committed file differs from the generated one.
    #[arg(long)]
    check: bool,
    /// Repository root (default: the current directory).
    #[arg(long, default_value = ".")]
    root: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut drift = Vec::new();
    for dir in govcloud_operator::crds::OUTPUT_DIRS {
        let dir = args.root.join(dir);
        for (file, yaml) in govcloud_operator::crds::rendered() {
            let path = dir.join(&file);
            if args.check {
                match std::fs::read_to_string(&path) {
                    Ok(existing) if existing == yaml => {}
                    _ => drift.push(path.display().to_string()),
                }
            } else if let Err(e) =
                std::fs::create_dir_all(&dir).and_then(|_| std::fs::write(&path, &yaml))
            {
                eprintln!("crdgen: cannot write {}: {e}", path.display());
                return ExitCode::FAILURE;
            } else {
                println!("wrote {}", path.display());
            }
        }
    }
    if drift.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!("crdgen: these files differ from the Rust types; run `cargo run --bin crdgen`:");
        for d in drift {
            eprintln!("  {d}");
        }
        ExitCode::FAILURE
    }
}
