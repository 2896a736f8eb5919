//! `apikley`: run any Apikley Market model from a terminal.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use apikley::{ModelSpec, OutputKind, PollSchedule, TaskId};
use apikley_cli::failure::{self, Failure};
use apikley_cli::output::Output;
use apikley_cli::session::{Phase, Session};
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

    /// Print one JSON document on stdout instead of human-readable output.
    #[arg(long, global = true)]
    json: bool,

    /// Use a built-in local sandbox with a fast clock instead of the real service.
    #[cfg(feature = "sandbox")]
    #[arg(long, global = true)]
    sandbox: bool,

    /// Poll every this many seconds instead of the adaptive schedule.
    #[arg(long, global = true, value_name = "SECONDS")]
    poll_interval: Option<u64>,

    /// Log the HTTP calls (to stderr).
    #[arg(short, long, global = true)]
    verbose: bool,
}

impl Cli {
    fn sandbox(&self) -> bool {
        #[cfg(feature = "sandbox")]
        return self.sandbox;
        #[cfg(not(feature = "sandbox"))]
        false
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    #[command(flatten)]
    Api(ApiCommand),
    /// Run a jobs file (one JSON object per line: {"key", "model", "input"}) as a batch that
    /// survives a crash: every line checked first, results saved as OUT_DIR/KEY.mp4, every
    /// step journaled in OUT_DIR; running it again goes on where it stopped, never paying twice.
    Batch(BatchArgs),
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
        /// How much faster than real time tasks progress.
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// The API key to accept.
        #[arg(long, default_value = apikley_sandbox::DEFAULT_API_KEY)]
        key: String,
        /// Answer every API call this many milliseconds late, like a slow network.
        #[arg(long, value_name = "MS")]
        latency: Option<u64>,
    },
}

#[derive(Subcommand, Debug)]
enum ApiCommand {
    /// Run a model: check the inputs against its spec, upload local files, submit, wait with
    /// progress, download the result.
    Run(Run),
    /// Show a task's status.
    Status {
        /// The task id.
        task_id: String,
    },
    /// Wait for a task to finish, and download its result with -o.
    Wait {
        /// The task id.
        task_id: String,
        #[command(flatten)]
        save: Save,
    },
    /// Download a finished task's result.
    Download {
        /// The task id.
        task_id: String,
        /// Where to save it.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
        /// Replace the file if it exists.
        #[arg(long)]
        overwrite: bool,
    },
    /// Show the account's remaining credits.
    Credits,
}

#[derive(Args, Debug)]
struct BatchArgs {
    /// The jobs file (JSON Lines).
    jobs: PathBuf,
    /// Where results go (made if missing), and the journal with them.
    #[arg(long, value_name = "DIR")]
    out_dir: PathBuf,
    /// At most this many jobs in flight at once (the rate limits apply on top).
    #[arg(long, value_name = "N", default_value_t = apikley::batch::DEFAULT_CONCURRENCY)]
    concurrency: usize,
    /// The journal file (default: OUT_DIR/apikley-batch.sqlite).
    #[arg(long, value_name = "FILE")]
    journal: Option<PathBuf>,
    /// Send again the jobs whose outcome is unknown (their createTask went out without an
    /// answer): this may pay twice for them.
    #[arg(long)]
    resend_unknown: bool,
}

#[derive(Args, Debug)]
struct Run {
    /// The model id (or a part of it that names one model; see `apikley models`).
    model: String,
    /// Inputs: key=value (typed by the spec; repeat a key for each item of a list), or
    /// key:=JSON. Local files for file inputs are uploaded first.
    #[arg(value_name = "KEY=VALUE")]
    inputs: Vec<String>,
    /// Where Apikley POSTs the result when the task ends.
    #[arg(long, value_name = "URL")]
    callback_url: Option<String>,
    /// Submit and print the task id, without waiting.
    #[arg(long, conflicts_with_all = ["output", "overwrite"])]
    no_wait: bool,
    #[command(flatten)]
    save: Save,
}

/// Where a finished result goes.
#[derive(Args, Debug)]
struct Save {
    /// Where to save the result (default: MODEL-TASK_ID.mp4, or .png for an image model).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Replace the file if it exists.
    #[arg(long)]
    overwrite: bool,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return failure::usage(error),
    };
    if cli.verbose {
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_max_level(tracing_subscriber::filter::LevelFilter::DEBUG)
            .init();
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> ExitCode {
    let mut out = Output::new(cli.json);
    let command = match &cli.command {
        Command::Api(command) => command,
        // It handles Ctrl-C itself, letting a createTask on its way finish.
        Command::Batch(args) => return batch(&cli, args).await,
        Command::Models => {
            let models: Vec<_> = apikley_models::all()
                .iter()
                .map(|m| json!({"model": m.id(), "summary": m.summary()}))
                .collect();
            let lines: Vec<String> = apikley_models::all()
                .iter()
                .map(|m| format!("{}  {}", m.id(), m.summary().unwrap_or("")))
                .collect();
            out.result(json!({ "models": models }), lines.join("\n"));
            return ExitCode::SUCCESS;
        }
        Command::Describe { model } => {
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
            let latency = latency.map(Duration::from_millis);
            return flow::serve_sandbox(*listen, *speed, key, latency, cli.json, example).await;
        }
    };
    let session = Session::new(PROGRAM);
    let outcome = tokio::select! {
        outcome = execute(&cli, command, &mut out, &session) => outcome,
        _ = tokio::signal::ctrl_c() => Err(Failure::Interrupted),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure::report(failure, &mut out, &session),
    }
}

/// `apikley batch`: checks every line, then runs until done or Ctrl-C (which it handles itself,
/// letting a createTask on its way finish).
async fn batch(cli: &Cli, args: &BatchArgs) -> ExitCode {
    let options = apikley_cli::batch::BatchOptions {
        jobs: args.jobs.clone(),
        out_dir: args.out_dir.clone(),
        journal: args.journal.clone(),
        concurrency: args.concurrency,
        resend_unknown: args.resend_unknown,
        json: cli.json,
    };
    let jobs = match apikley_cli::batch::read_jobs(&options) {
        Ok(jobs) => jobs,
        Err(code) => return code,
    };
    let schedule = schedule(cli);
    let connected = flow::connect_with(cli.sandbox(), |builder| match schedule {
        Some(schedule) => {
            builder.wait_options(apikley::WaitOptions::default().with_schedule(schedule))
        }
        None => builder,
    })
    .await;
    let (client, _sandbox) = match connected {
        Ok(connected) => connected,
        Err(failure) => {
            let mut out = Output::new(cli.json);
            return failure::report(failure, &mut out, &Session::new(PROGRAM));
        }
    };
    apikley_cli::batch::run(&options, jobs, &client, PROGRAM).await
}

/// The polling schedule asked for: `--poll-interval`, or every second on the fast sandbox.
fn schedule(cli: &Cli) -> Option<PollSchedule> {
    match (cli.poll_interval, cli.sandbox()) {
        (Some(seconds), _) => Some(PollSchedule::Every(Duration::from_secs(seconds))),
        (None, true) => Some(PollSchedule::Every(Duration::from_secs(1))),
        (None, false) => None,
    }
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

async fn execute(
    cli: &Cli,
    command: &ApiCommand,
    out: &mut Output,
    session: &Session,
) -> Result<(), Failure> {
    let schedule = schedule(cli);
    match command {
        ApiCommand::Run(args) => {
            // Everything that can be checked is, before anything is paid for: the inputs, and
            // where the result will go.
            let spec = find(&args.model)?;
            let request =
                inputs::request(spec.clone(), &args.inputs, args.callback_url.as_deref())?;
            if !args.no_wait {
                flow::check_target(args.save.output.as_deref(), args.save.overwrite)?;
            }
            let (client, _sandbox) = flow::connect(cli.sandbox()).await?;
            let task = client
                .submit(request)
                .on_sending(|| session.phase(Phase::Creating))
                .await?;
            let id = task.id();
            session.task(id, Phase::Waiting);
            out.line(format!("submitted task {id}"));
            if args.no_wait {
                out.line(format!("resume with: {PROGRAM} wait {id} -o FILE"));
                out.result(json!({"task_id": id, "state": "submitted"}), id.as_str());
                return Ok(());
            }
            let path = args
                .save
                .output
                .clone()
                .unwrap_or_else(|| default_file(&spec, id));
            session.output(&path, args.save.overwrite);
            let done = flow::wait(&task, schedule, out, session).await?;
            flow::save(&done, &path, args.save.overwrite, out, session).await
        }
        ApiCommand::Wait { task_id, save } => {
            if let Some(path) = &save.output {
                flow::check_target(Some(path), save.overwrite)?;
                session.output(path, save.overwrite);
            }
            let (client, _sandbox) = flow::connect(cli.sandbox()).await?;
            let task = client.task(task_id.as_str());
            let done = flow::wait(&task, schedule, out, session).await?;
            match &save.output {
                Some(path) => flow::save(&done, path, save.overwrite, out, session).await,
                None => flow::show_urls(&done, out),
            }
        }
        ApiCommand::Status { task_id } => {
            let (client, _sandbox) = flow::connect(cli.sandbox()).await?;
            let record = client.task(task_id.as_str()).status().await?;
            out.result(flow::record_json(&record), flow::status_line(&record));
            Ok(())
        }
        ApiCommand::Download {
            task_id,
            output,
            overwrite,
        } => {
            flow::check_target(Some(output), *overwrite)?;
            let (client, _sandbox) = flow::connect(cli.sandbox()).await?;
            session.output(output, *overwrite);
            session.task(&TaskId::from(task_id.as_str()), Phase::Downloading);
            let file = client
                .download_task(task_id.as_str(), output)
                .overwrite(*overwrite)
                .on_progress(|p| out.download(p))
                .await?;
            out.result(
                json!({"task_id": task_id, "file": file.path, "bytes": file.bytes}),
                format!("saved {} ({} bytes)", file.path.display(), file.bytes),
            );
            Ok(())
        }
        ApiCommand::Credits => {
            let (client, _sandbox) = flow::connect(cli.sandbox()).await?;
            let credits = client.credits().await?;
            out.result(json!({"credits": credits}), format!("credits: {credits}"));
            Ok(())
        }
    }
}

/// `<model>-<task id>.<mp4|png>` in the current folder.
fn default_file(spec: &ModelSpec, id: &TaskId) -> PathBuf {
    let model: String = spec
        .id()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let path = flow::default_file(&model, id);
    match spec.kind() {
        OutputKind::Image => path.with_extension("png"),
        _ => path,
    }
}
