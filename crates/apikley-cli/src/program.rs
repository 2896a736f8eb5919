//! The `apikley` program: run any Apikley Market model from a terminal.

use std::process::ExitCode;
use std::sync::Arc;

use apikley::ModelSpec;
use clap::{Args, Parser, Subcommand};
use serde_json::json;

#[cfg(feature = "sandbox")]
use crate::commands::SandboxArgs;
use crate::commands::{self, Plan, SubmitArgs, TaskCommand};
use crate::failure::{self, Failure};
use crate::global::Global;
use crate::inputs;
use crate::session::Session;
use crate::sidecar::Origin;

/// The name resume hints use.
const PROGRAM: &str = "apikley";

/// Run Apikley Market models: inputs typed and checked by each model's spec, then submit, wait
/// with progress, download.
///
/// Talks to the service configured by APIKLEY_API_KEY and APIKLEY_BASE_URL, or, with
/// --sandbox, to a built-in local sandbox: no key, no network.
#[derive(Parser, Debug)]
#[command(name = "apikley", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,

    #[command(flatten)]
    global: Global,
}

#[derive(Subcommand, Debug)]
enum Command {
    #[command(flatten)]
    Api(ApiCommand),
    /// Run a jobs file (one JSON object per line: {"key", "model", "input"}) as a batch that
    /// survives a crash: every line checked first, results saved as OUT_DIR/KEY.EXT (named by their content), every
    /// step journaled in OUT_DIR; running it again goes on where it stopped, never paying twice.
    Batch(crate::batch::BatchArgs),
    /// List the models this build knows.
    Models,
    /// Show a model's inputs: type, allowed values, default, bounds, description.
    Describe {
        /// The model id (or a part of it that names one model).
        model: String,
    },
    /// Run a local sandbox server (every model this build knows) until Ctrl-C.
    #[cfg(feature = "sandbox")]
    Sandbox(SandboxArgs),
    /// Print the shell completion script for SHELL (bash: `source <(apikley completions bash)`).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[derive(Subcommand, Debug)]
enum ApiCommand {
    /// Run a model: check the inputs against its spec, upload local files, submit, wait with
    /// progress, download the result.
    Run(Run),
    #[command(flatten)]
    Task(TaskCommand),
}

#[derive(Args, Debug)]
struct Run {
    /// The model id (or a part of it that names one model; see `apikley models`). Not with
    /// --again, whose file names it.
    #[arg(required_unless_present = "again")]
    model: Option<String>,
    /// Inputs: key=value (typed by the spec; repeat a key for each item of a list), or
    /// key:=JSON. Local files for file inputs are uploaded first.
    #[arg(value_name = "KEY=VALUE")]
    inputs: Vec<String>,
    /// Make a saved result again: the model and inputs its provenance file (`clip.mp4.json`)
    /// records, each KEY=VALUE given replacing that input.
    #[arg(long, value_name = "FILE.json")]
    again: Option<std::path::PathBuf>,
    #[command(flatten)]
    submit: SubmitArgs,
}

/// The `apikley` command: reads the process's arguments, runs what they ask, and returns the
/// exit code (one per kind of failure, listed in this crate's README).
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return failure::usage(error),
    };
    cli.global.init_logging();
    commands::block_on(run(cli))
}

async fn run(cli: Cli) -> ExitCode {
    let global = &cli.global;
    let plan = match &cli.command {
        Command::Api(ApiCommand::Run(args)) => run_plan(args),
        Command::Api(ApiCommand::Task(command)) => Ok(Plan::Task(command)),
        // It handles Ctrl-C itself, letting a createTask on its way finish.
        Command::Batch(args) => return crate::batch::command(args, global, PROGRAM).await,
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(*shell, &mut command, PROGRAM, &mut std::io::stdout());
            return ExitCode::SUCCESS;
        }
        Command::Models => {
            let (json, text) = catalogue(apikley_models::all());
            global.output().result(json, text.trim_end());
            return ExitCode::SUCCESS;
        }
        Command::Describe { model } => {
            let mut out = global.output();
            return match find(model) {
                Ok(spec) => {
                    out.result(
                        inputs::describe_json(&spec),
                        inputs::describe(&spec).trim_end(),
                    );
                    ExitCode::SUCCESS
                }
                Err(failure) => failure::report(failure, &mut out, &Session::new(PROGRAM)),
            };
        }
        #[cfg(feature = "sandbox")]
        Command::Sandbox(args) => Ok(Plan::Sandbox {
            args,
            example: "apikley run seedance-1.5-pro prompt=\"A serene beach at sunset\"",
        }),
    };
    commands::execute(PROGRAM, global, plan).await
}

/// The models as `apikley models` lists them: grouped by family, then by what they make
/// (videos first), in aligned columns; the family and kind said once per group.
fn catalogue(models: &[Arc<ModelSpec>]) -> (serde_json::Value, String) {
    let mut sorted: Vec<&Arc<ModelSpec>> = models.iter().collect();
    sorted.sort_by_key(|m| (m.family().map(str::to_lowercase), m.kind(), m.id()));
    let rows: Vec<[&str; 4]> = sorted
        .iter()
        .map(|m| {
            let family = m.family().unwrap_or("Other");
            [family, m.kind().as_str(), m.id(), m.summary().unwrap_or("")]
        })
        .collect();
    let json = json!({
        "models": rows
            .iter()
            .map(|[family, kind, id, summary]| {
                json!({"model": id, "family": family, "kind": kind, "summary": summary})
            })
            .collect::<Vec<_>>()
    });
    let header = ["FAMILY", "KIND", "MODEL", "SUMMARY"];
    let width = |column: usize| {
        rows.iter()
            .chain([&header])
            .map(|row| row[column].chars().count())
            .max()
            .unwrap_or(0)
    };
    let (f, k, m) = (width(0), width(1), width(2));
    let mut text = String::new();
    let mut group = ["", ""];
    for row in [&header].into_iter().chain(&rows) {
        let [family, kind] = if [row[0], row[1]] == group {
            ["", ""]
        } else {
            group = [row[0], row[1]];
            group
        };
        let line = format!("{family:<f$}  {kind:<k$}  {:<m$}  {}", row[2], row[3]);
        text.push_str(line.trim_end());
        text.push('\n');
    }
    (json, text)
}

/// The registered model `name` names: its id, or a part of it that names one model.
fn find(name: &str) -> Result<Arc<ModelSpec>, Failure> {
    apikley_models::find(name).ok_or_else(|| {
        let all = apikley_models::all();
        let named: Vec<&str> = all
            .iter()
            .map(|m| m.id())
            .filter(|id| id.contains(name))
            .collect();
        let rule = match named.as_slice() {
            [] => {
                let known: Vec<&str> = all.iter().map(|m| m.id()).collect();
                format!(
                    "names no model of this build (models: {})",
                    known.join(", ")
                )
            }
            several => format!(
                "names several models ({}): give more of the id",
                several.join(", ")
            ),
        };
        let mut violations = apikley::Violations::new();
        violations.push(apikley::Violation::new("model", rule, format!("{name:?}")));
        Failure::Invalid(violations)
    })
}

/// `apikley run` as a plan: the model found, its inputs typed and checked by its spec (every
/// problem at once); where the result goes is checked when the plan runs, before anything is
/// paid for.
fn run_plan(args: &Run) -> Result<Plan<'_>, Failure> {
    let callback_url = args.submit.callback_url.as_deref();
    let (spec, request) = match &args.again {
        None => {
            let spec = find(args.model.as_deref().unwrap_or_default())?;
            let request = inputs::request(spec.clone(), &args.inputs, callback_url)?;
            (spec, request)
        }
        // With --again every word is a change (the first one lands where a model would).
        Some(file) => {
            let origin = Origin::read(file).map_err(|reason| {
                let mut violations = apikley::Violations::new();
                let rule = format!("must be a result's provenance file: {reason}");
                violations.push(apikley::Violation::new(
                    "--again",
                    rule,
                    file.display().to_string(),
                ));
                Failure::Invalid(violations)
            })?;
            let spec = find(&origin.model)?;
            let changes: Vec<&String> = args.model.iter().chain(&args.inputs).collect();
            let request = inputs::request_from(spec.clone(), origin.input, &changes, callback_url)?;
            (spec, request)
        }
    };
    Ok(Plan::Submit {
        request,
        args: &args.submit,
        prefix: spec.id().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Words the command line knows, and values that have made it panic or misbehave.
    const WORDS: &[&str] = &[
        "run",
        "batch",
        "status",
        "wait",
        "download",
        "credits",
        "models",
        "describe",
        "sandbox",
        "kling-2.6",
        "nano-banana-pro",
        "seedance-1.5-pro",
        "prompt=A fox",
        "sound=true",
        "duration=10",
        "output_format=jpg",
        "image_input=photo.png",
        "seed:=1e400",
        "x:={",
        "--poll-interval",
        "--concurrency",
        "--speed",
        "--latency",
        "--callback-url",
        "--again",
        "clip.mp4.json",
        "completions",
        "bash",
        "-q",
        "tasks",
        "--pending",
        "--resume",
        "last",
        "--callback-listen",
        "--webhook-key",
        "--journal",
        "--out-dir",
        "-o",
        "--overwrite",
        "--no-wait",
        "--json",
        "--sandbox",
        "--resend-unknown",
        "-v",
        "--listen",
        "--key",
        "18446744073709551615",
        "-1",
        "0",
        "NaN",
        "inf",
        "1e308",
        "3",
        "",
        "https://h.example/cb/:x",
        "ftp://h.example/cb",
        "https://u:p@h.example/cb",
        "127.0.0.1:0",
        "0.0.0.0:99999",
        "jobs.jsonl",
        "task_1",
        "--",
        "-",
        "--help",
    ];

    fn word() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => prop::sample::select(WORDS).prop_map(str::to_owned),
            1 => "\\PC{0,12}",
            1 => any::<i128>().prop_map(|n| n.to_string()),
            1 => any::<f64>().prop_map(|n| n.to_string()),
        ]
    }

    /// Command lines that reach each value the user gives (a placeholder `V` for the value),
    /// so that every check is exercised, not only the parser's first refusal.
    const SKELETONS: &[&[&str]] = &[
        &[
            "run",
            "kling-2.6",
            "prompt=A fox",
            "sound=true",
            "--poll-interval",
            "V",
        ],
        &[
            "run",
            "kling-2.6",
            "prompt=A fox",
            "sound=true",
            "--callback-url",
            "V",
        ],
        &["run", "nano-banana-pro", "V", "--no-wait"],
        &[
            "batch",
            "jobs.jsonl",
            "--out-dir",
            "o",
            "--concurrency",
            "V",
        ],
        &[
            "batch",
            "jobs.jsonl",
            "--out-dir",
            "o",
            "--callback-url",
            "V",
            "--callback-listen",
            "127.0.0.1:0",
        ],
        &["sandbox", "--speed", "V"],
        &["sandbox", "--latency", "V"],
        &["wait", "task_1", "-o", "V", "--poll-interval", "V"],
    ];

    fn argv() -> impl Strategy<Value = Vec<String>> {
        let random = prop::collection::vec(word(), 0..8);
        let aimed = (
            prop::sample::select(SKELETONS),
            word(),
            prop::collection::vec(word(), 0..3),
        )
            .prop_map(|(skeleton, value, extra)| {
                skeleton
                    .iter()
                    .map(|w| {
                        if *w == "V" {
                            value.clone()
                        } else {
                            (*w).to_owned()
                        }
                    })
                    .chain(extra)
                    .collect()
            });
        prop_oneof![random, aimed]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Any argument vector parses to a command or to a usage error (exit 2, or 0 for help
        /// and version), and what is checked before anything is sent never panics.
        #[test]
        fn no_argument_vector_panics(words in argv()) {
            let argv: Vec<String> = std::iter::once("apikley".to_owned()).chain(words).collect();
            let parsed = std::panic::catch_unwind(|| Cli::try_parse_from(&argv));
            let parsed = parsed.map_err(|_| format!("{argv:?} panicked while parsing"));
            prop_assert!(parsed.is_ok(), "{}", parsed.err().unwrap_or_default());
            match parsed.ok().into_iter().flatten().next() {
                None => {}
                Some(cli) => {
                    if let Some(apikley::PollSchedule::Every(every)) = cli.global.schedule() {
                        prop_assert!(every <= std::time::Duration::from_secs(3600), "{argv:?}");
                    }
                    let checked = std::panic::catch_unwind(|| {
                        // The endpoint a batch would serve for its callbacks.
                        #[cfg(feature = "callbacks")]
                        if let Command::Batch(batch) = &cli.command
                            && let Some(url) = &batch.callback_url
                            && let Ok(url) = url::Url::parse(url)
                        {
                            let inbox = apikley::callback::CallbackInbox::new();
                            let _ = apikley::callback::axum::inbox_router(url.path(), inbox, None);
                        }
                        if let Command::Api(ApiCommand::Run(run)) = &cli.command {
                            let _ = run_plan(run);
                        }
                    });
                    prop_assert!(checked.is_ok(), "{argv:?} panicked in its checks");
                }
            }
            if let Err(error) = Cli::try_parse_from(&argv) {
                prop_assert!([0, 2].contains(&error.exit_code()), "{argv:?}: {}", error.exit_code());
            }
        }
    }
}
