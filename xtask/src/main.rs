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
    /// Add a Market model from its spec alone: its raw crate (generated in the build step, with
    /// a `Model` for the runtime), its registration in `apikley-models` (the `apikley` command,
    /// the sandbox), the Market envelope's reviewed patches, its package copy and snapshot.
    /// Running it again changes nothing that is in place.
    NewModel {
        /// The model's OpenAPI document (JSON), normally `openapi/<model>.json`.
        #[arg(long, value_name = "PATH")]
        spec: PathBuf,
    },
    /// Run the benchmarks and print one table (see xtask/BENCHMARKS.md): polling lag and
    /// cost, bulk runs against the limits, memory per waiting task, client overhead, upload and
    /// download memory, build cost, time to a first video.
    Bench {
        /// Every benchmark small and in the debug build (under two minutes; CI runs it).
        #[arg(long)]
        quick: bool,
        /// Only the rows whose number is given (`--only 4 --only 5`).
        #[arg(long, value_name = "ROW")]
        only: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let workspace = xtask::workspace_root();
    match cli.command {
        Command::Bench { quick, only } => match xtask::bench::bench(&workspace, quick, &only) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("bench: {e}");
                ExitCode::FAILURE
            }
        },
        Command::NewModel { spec } => {
            match xtask::new_model::run(&workspace, &spec, &mut std::io::stdout()) {
                Ok(_) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("new-model: {e}");
                    ExitCode::FAILURE
                }
            }
        }
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
