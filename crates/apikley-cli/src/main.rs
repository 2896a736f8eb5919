//! `apikley`: run any Apikley Market model from a terminal.

use std::process::ExitCode;
use std::sync::Arc;

use apikley::ModelSpec;
use apikley_cli::commands::{self, Global, SubmitArgs, TaskCommand};
use apikley_cli::failure::{self, Failure};
use apikley_cli::output::Output;
use apikley_cli::session::Session;
use apikley_cli::{flow, inputs};
use clap::{Args, Parser, Subcommand};
use serde_json::json;

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
    Batch(apikley_cli::batch::BatchArgs),
    /// List the models this build knows.
    Models,
    /// Show a model's inputs: type, allowed values, default, bounds, description.
    Describe {
        /// The model id (or a part of it that names one model).
        model: String,
    },
    /// Run a local sandbox server (every model this build knows) until Ctrl-C.
    #[cfg(feature = "sandbox")]
    Sandbox {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// How much faster than real time tasks progress (above 0, at most 100000).
        #[arg(long, default_value_t = 1.0, value_parser = apikley_cli::checks::speed)]
        speed: f64,
        /// The API key to accept.
        #[arg(long, default_value = apikley_sandbox::DEFAULT_API_KEY)]
        key: String,
        /// Answer every API call this many milliseconds late (0 to 600000), like a slow network.
        #[arg(long, value_name = "MS", value_parser = apikley_cli::checks::latency)]
        latency: Option<std::time::Duration>,
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
    /// The model id (or a part of it that names one model; see `apikley models`).
    model: String,
    /// Inputs: key=value (typed by the spec; repeat a key for each item of a list), or
    /// key:=JSON. Local files for file inputs are uploaded first.
    #[arg(value_name = "KEY=VALUE")]
    inputs: Vec<String>,
    #[command(flatten)]
    submit: SubmitArgs,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return failure::usage(error),
    };
    cli.global.init_logging();
    commands::block_on(run(cli))
}

async fn run(cli: Cli) -> ExitCode {
    let global = &cli.global;
    let command = match &cli.command {
        Command::Api(command) => command,
        // It handles Ctrl-C itself, letting a createTask on its way finish.
        Command::Batch(args) => return apikley_cli::batch::command(args, global, PROGRAM).await,
        Command::Models => {
            let models: Vec<_> = apikley_models::all()
                .iter()
                .map(|m| json!({"model": m.id(), "summary": m.summary()}))
                .collect();
            let lines: Vec<String> = apikley_models::all()
                .iter()
                .map(|m| format!("{}  {}", m.id(), m.summary().unwrap_or("")))
                .collect();
            Output::new(global.json).result(json!({ "models": models }), lines.join("\n"));
            return ExitCode::SUCCESS;
        }
        Command::Describe { model } => {
            let mut out = Output::new(global.json);
            return match find(model) {
                Ok(spec) => {
                    out.result(
                        inputs::describe_json(&spec),
                        inputs::describe(&spec).trim_end(),
                    );
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    failure::report(Failure::Sdk(error), &mut out, &Session::new(PROGRAM))
                }
            };
        }
        #[cfg(feature = "sandbox")]
        Command::Sandbox {
            listen,
            speed,
            key,
            latency,
        } => {
            let example = "apikley run seedance-1.5-pro prompt=\"A serene beach at sunset\"";
            return flow::serve_sandbox(*listen, *speed, key, *latency, global.json, example).await;
        }
    };
    commands::interruptible(PROGRAM, global, async |out, session| match command {
        ApiCommand::Run(args) => run_model(args, global, out, session).await,
        ApiCommand::Task(command) => command.run(global, out, session).await,
    })
    .await
}

/// The registered model `name` names: its id, or a part of it that names one model.
fn find(name: &str) -> Result<Arc<ModelSpec>, apikley::Error> {
    apikley_models::find(name).ok_or_else(|| {
        let known: Vec<&str> = apikley_models::all().iter().map(|m| m.id()).collect();
        let mut violations = apikley::Violations::new();
        violations.push(apikley::Violation::new(
            "model",
            format!(
                "names no model of this build (models: {})",
                known.join(", ")
            ),
            format!("{name:?}"),
        ));
        apikley::Error::InvalidRequest(violations)
    })
}

/// `apikley run`: everything that can be checked is, before anything is paid for (the inputs,
/// and where the result will go); then submit, and follow the task.
async fn run_model(
    args: &Run,
    global: &Global,
    out: &mut Output,
    session: &Session,
) -> Result<(), Failure> {
    let spec = find(&args.model)?;
    let callback_url = args.submit.callback_url.as_deref();
    let request = inputs::request(spec.clone(), &args.inputs, callback_url)?;
    commands::submit(request, &args.submit, spec.id(), global, out, session).await
}
