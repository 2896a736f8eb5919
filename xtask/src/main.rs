//! `cargo xtask`: see `cargo xtask --help`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Maintenance tasks for the Apikley SDK workspace")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Re-vendor a spec, sync the raw crates' package copies and update the snapshots of the
    /// generated code, printing what changed in the public API.
    Regen {
        /// Re-vendor this file as the spec of the same name (normalising its formatting).
        #[arg(long, value_name = "PATH", conflicts_with = "check")]
        from: Option<PathBuf>,
        /// Which spec `--from` replaces, as a path inside `openapi/` (default: the spec with
        /// the same file name).
        #[arg(long, value_name = "NAME", requires = "from")]
        spec: Option<String>,
        /// Change nothing; exit 1 with a diff if a spec, a package copy or a snapshot is out of date.
        #[arg(long)]
        check: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let workspace = xtask::workspace_root();
    match cli.command {
        Command::Regen { from, spec, check } => {
            let options = xtask::regen::Options { from, spec, check };
            match xtask::regen::run(&workspace, &options, &mut std::io::stdout()) {
                Ok(outcome) if check && !outcome.is_clean() => {
                    eprintln!(
                        "regen --check: {} file(s) out of date; run `cargo xtask regen` and review the diff",
                        outcome.stale().len()
                    );
                    ExitCode::FAILURE
                }
                Ok(outcome) => {
                    if outcome.is_clean() {
                        println!("regen: everything is up to date");
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("regen: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
