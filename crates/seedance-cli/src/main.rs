//! `seedance`: generate videos with Apikley's Seedance 1.5 Pro from a terminal.

mod cli;
mod output;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use apikley_sandbox::Sandbox;
use clap::Parser;
use seedance::{
    AspectRatio, Client, CompletedTask, Duration, Error, PollSchedule, Resolution, TaskId,
    TaskRecord, VideoRequest, Violation, Violations,
};
use serde_json::{Value, json};

use cli::{Cli, Command, Generate, Save};
use output::Output;

/// How much faster than real time the built-in sandbox runs: an 8 s video takes about 3 s.
const SANDBOX_SPEED: f64 = 30.0;

/// Exit codes, one per kind of failure.
mod exit {
    pub const INVALID_INPUT: u8 = 2;
    pub const API_ERROR: u8 = 3;
    pub const TASK_FAILED: u8 = 4;
    pub const TIMED_OUT: u8 = 5;
    pub const INTERRUPTED: u8 = 130;
}

/// Where the command is, for the words of an interruption or a failure.
#[derive(Debug, Clone, Default, PartialEq)]
enum Phase {
    /// Nothing that costs anything has been sent.
    #[default]
    Preparing,
    /// `createTask` has gone out: a task may exist, its id unknown.
    Creating,
    /// Waiting for the task.
    Waiting,
    /// Saving the task's video.
    Downloading,
}

/// The task being worked on and where its video goes, shared with the Ctrl-C handler.
#[derive(Clone, Default)]
struct Current(Arc<Mutex<State>>);

#[derive(Default)]
struct State {
    phase: Phase,
    task: Option<TaskId>,
    output: Option<PathBuf>,
}

impl Current {
    fn update(&self, change: impl FnOnce(&mut State)) {
        if let Ok(mut state) = self.0.lock() {
            change(&mut state);
        }
    }

    fn phase(&self, phase: Phase) {
        self.update(|s| s.phase = phase);
    }

    fn task(&self, id: &TaskId, phase: Phase) {
        self.update(|s| {
            s.task = Some(id.clone());
            s.phase = phase;
        });
    }

    fn output(&self, path: &Path) {
        self.update(|s| s.output = Some(path.to_owned()));
    }

    fn snapshot(&self) -> (Phase, Option<TaskId>, Option<PathBuf>) {
        self.0.lock().map_or_else(
            |_| (Phase::Preparing, None, None),
            |s| (s.phase.clone(), s.task.clone(), s.output.clone()),
        )
    }
}

enum Failure {
    Sdk(Error),
    Interrupted,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure::Sdk(error)
    }
}

impl From<Violations> for Failure {
    fn from(violations: Violations) -> Self {
        Failure::Sdk(Error::InvalidRequest(violations))
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return usage_error(error),
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

/// Help and version as clap prints them; a usage error as clap prints it, or as one JSON
/// document with `--json`.
fn usage_error(error: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) || !std::env::args().any(|a| a == "--json")
    {
        let _ = error.print();
        return ExitCode::from(error.exit_code().clamp(0, 255) as u8);
    }
    let message = error.render().to_string();
    let first = message
        .lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("error: ");
    let document =
        json!({"error": {"kind": "usage", "message": first, "task_id": null, "resume": null}});
    println!("{document}");
    ExitCode::from(exit::INVALID_INPUT)
}

async fn run(cli: Cli) -> ExitCode {
    if let Command::Sandbox { listen, speed, key } = &cli.command {
        return serve_sandbox(*listen, *speed, key, cli.json).await;
    }
    let mut out = Output::new(cli.json);
    let current = Current::default();
    let outcome = tokio::select! {
        outcome = execute(&cli, &mut out, &current) => outcome,
        _ = tokio::signal::ctrl_c() => Err(Failure::Interrupted),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => report(failure, &mut out, &current),
    }
}

async fn execute(cli: &Cli, out: &mut Output, current: &Current) -> Result<(), Failure> {
    let schedule = match (cli.poll_interval, cli.sandbox) {
        (Some(seconds), _) => Some(PollSchedule::Every(StdDuration::from_secs(seconds))),
        (None, true) => Some(PollSchedule::Every(StdDuration::from_secs(1))),
        (None, false) => None,
    };
    match &cli.command {
        Command::Generate(args) => {
            // Everything that can be checked is, before anything is paid for: the request, and
            // where its video will go.
            let request = video_request(args)?;
            if !args.no_wait {
                check_target(args.save.output.as_deref(), args.save.overwrite)?;
            }
            let (client, _sandbox) = connect(cli).await?;
            let task = client
                .submit(request)
                .on_sending(|| current.phase(Phase::Creating))
                .await?;
            current.task(task.id(), Phase::Waiting);
            out.line(format!("submitted task {}", task.id()));
            if args.no_wait {
                let id = task.id();
                out.line(format!("resume with: seedance wait {id} -o FILE"));
                out.result(json!({"task_id": id, "state": "submitted"}), id.as_str());
                return Ok(());
            }
            if let Some(path) = &args.save.output {
                current.output(path);
            }
            let done = wait(&task, schedule, out).await?;
            save(&done, &args.save, out, current).await
        }
        Command::Wait {
            task_id,
            save: options,
        } => {
            if let Some(path) = &options.output {
                check_target(Some(path), options.overwrite)?;
                current.output(path);
            }
            let (client, _sandbox) = connect(cli).await?;
            let task = client.task(task_id.as_str());
            current.task(task.id(), Phase::Waiting);
            let done = wait(&task, schedule, out).await?;
            if options.output.is_some() {
                save(&done, options, out, current).await
            } else {
                let urls: Vec<&str> = done.urls().iter().map(|u| u.as_str()).collect();
                out.result(
                    json!({"task_id": done.id(), "state": "success", "urls": urls}),
                    urls.join("\n"),
                );
                Ok(())
            }
        }
        Command::Status { task_id } => {
            let (client, _sandbox) = connect(cli).await?;
            let record = client.task(task_id.as_str()).status().await?;
            let human = status_line(&record);
            out.result(record_json(&record), human);
            Ok(())
        }
        Command::Download {
            task_id,
            output,
            overwrite,
        } => {
            check_target(Some(output), *overwrite)?;
            let (client, _sandbox) = connect(cli).await?;
            current.output(output);
            current.task(&TaskId::from(task_id.as_str()), Phase::Downloading);
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
        Command::Credits => {
            let (client, _sandbox) = connect(cli).await?;
            let credits = client.credits().await?;
            out.result(json!({"credits": credits}), format!("credits: {credits}"));
            Ok(())
        }
        // Served by `run` before anything else; nothing to execute here.
        Command::Sandbox { .. } => Ok(()),
    }
}

/// Checks that a video can be saved at `path` (or, without one, in the current folder): the
/// file does not exist unless `overwrite`, and its folder exists and takes new files.
fn check_target(path: Option<&Path>, overwrite: bool) -> Result<(), Error> {
    let file_error = |path: &Path, reason: String| Error::File {
        path: path.to_owned(),
        reason,
        task_id: None,
    };
    let folder = match path {
        Some(path) => {
            if path.is_dir() {
                return Err(file_error(path, "is a folder, not a file".into()));
            }
            if path.exists() && !overwrite {
                return Err(file_error(
                    path,
                    "already exists; pass --overwrite to replace it".into(),
                ));
            }
            match path.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
                _ => PathBuf::from("."),
            }
        }
        None => PathBuf::from("."),
    };
    if !folder.is_dir() {
        return Err(file_error(&folder, "is not an existing folder".into()));
    }
    // The one sure test of a folder's permissions is to create a file in it.
    let probe = folder.join(format!(".seedance-{}.probe", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .and_then(|_| std::fs::remove_file(&probe))
        .map_err(|e| file_error(&folder, format!("does not take new files ({e})")))
}

/// The request, with every problem found at once: values that do not parse, and the
/// request's own rules.
fn video_request(args: &Generate) -> Result<VideoRequest, Violations> {
    let mut problems = Violations::new();
    let mut request = VideoRequest::new(args.prompt.as_str());
    if let Some(value) = &args.aspect_ratio {
        match value.parse::<AspectRatio>() {
            Ok(ratio) => request = request.aspect_ratio(ratio),
            Err(e) => problems.push(e.violation("input.aspect_ratio")),
        }
    }
    if let Some(value) = &args.resolution {
        match value.parse::<Resolution>() {
            Ok(resolution) => request = request.resolution(resolution),
            Err(e) => problems.push(e.violation("input.resolution")),
        }
    }
    if let Some(value) = &args.duration {
        match value.parse::<Duration>() {
            Ok(duration) => request = request.duration(duration),
            Err(e) => problems.push(e.violation("input.duration")),
        }
    }
    if args.fixed_lens {
        request = request.fixed_lens(true);
    }
    if args.audio {
        request = request.generate_audio(true);
    }
    for image in &args.images {
        request = request.image(image.as_str());
    }
    if let Some(url) = &args.callback_url {
        request = request.callback_url(url.as_str());
    }
    if let Err(more) = request.validate() {
        for violation in &more {
            problems.push(violation.clone());
        }
    }
    problems.into_result().map(|()| request)
}

async fn connect(cli: &Cli) -> Result<(Client, Option<Sandbox>), Error> {
    if !cli.sandbox {
        let client = Client::from_env().map_err(|e| match e {
            Error::Config(message) => {
                Error::Config(format!("{message}; or pass --sandbox for an offline demo"))
            }
            other => other,
        })?;
        return Ok((client, None));
    }
    let sandbox = Sandbox::builder()
        .speed(SANDBOX_SPEED)
        .start()
        .await
        .map_err(|e| Error::Config(format!("cannot start the sandbox: {e}")))?;
    let client = sandbox.client().build()?;
    Ok((client, Some(sandbox)))
}

async fn wait(
    task: &seedance::Task,
    schedule: Option<PollSchedule>,
    out: &mut Output,
) -> Result<CompletedTask, Error> {
    let mut waiter = task.waiter();
    if let Some(schedule) = schedule {
        waiter = waiter.schedule(schedule);
    }
    let done = waiter.on_progress(|p| out.progress(p)).await;
    out.done();
    done
}

async fn save(
    done: &CompletedTask,
    options: &Save,
    out: &mut Output,
    current: &Current,
) -> Result<(), Failure> {
    let path = options
        .output
        .clone()
        .unwrap_or_else(|| default_file(done.id()));
    current.output(&path);
    current.phase(Phase::Downloading);
    let file = done
        .download(&path)
        .overwrite(options.overwrite)
        .on_progress(|p| out.download(p))
        .await?;
    let urls: Vec<&str> = done.urls().iter().map(|u| u.as_str()).collect();
    out.result(
        json!({
            "task_id": done.id(),
            "state": "success",
            "urls": urls,
            "file": file.path,
            "bytes": file.bytes,
        }),
        format!("saved {} ({} bytes)", display(&file.path), file.bytes),
    );
    Ok(())
}

/// `seedance-<task id>.mp4` in the current folder, with anything but letters, digits, `-` and
/// `_` in the id replaced: the id comes from the server.
fn default_file(id: &TaskId) -> PathBuf {
    let safe: String = id
        .as_str()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    PathBuf::from(format!("seedance-{safe}.mp4"))
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

fn status_line(record: &TaskRecord) -> String {
    let mut line = format!("task {}: {}", record.id, record.state);
    if let Some(result) = &record.result {
        for url in &result.urls {
            line.push_str(&format!("\n{url}"));
        }
    }
    if let Some(message) = &record.fail_message {
        line.push_str(&format!(
            " ({}{message})",
            record
                .fail_code
                .as_deref()
                .map(|c| format!("{c}: "))
                .unwrap_or_default()
        ));
    }
    line
}

fn record_json(record: &TaskRecord) -> Value {
    json!({
        "task_id": record.id,
        "state": record.state.as_str(),
        "model": record.model,
        "urls": record.result.as_ref().map(|r| r.urls.iter().map(|u| u.as_str()).collect::<Vec<_>>()).unwrap_or_default(),
        "fail_code": record.fail_code,
        "fail_message": record.fail_message,
        "created_at": record.created_at.map(|t| t.to_rfc3339()),
        "completed_at": record.completed_at.map(|t| t.to_rfc3339()),
    })
}

/// The command that picks up where this one stopped, if any.
fn resume_command(phase: &Phase, id: &TaskId, output: Option<&Path>) -> Option<String> {
    let output = output.map(|p| format!(" -o {}", display(p)));
    match phase {
        Phase::Waiting => Some(format!("seedance wait {id}{}", output.unwrap_or_default())),
        Phase::Downloading => Some(format!(
            "seedance download {id}{}",
            output.unwrap_or_else(|| " -o FILE".to_owned())
        )),
        Phase::Preparing | Phase::Creating => None,
    }
}

/// One clear sentence (plus the task id and how to resume, when there is a task), and an exit
/// code per kind of failure.
fn report(failure: Failure, out: &mut Output, current: &Current) -> ExitCode {
    let (phase, current_task, output) = current.snapshot();
    let (code, kind, mut message, task_id, resumable, violations) = match failure {
        Failure::Interrupted => {
            let message = match (&phase, &current_task) {
                (Phase::Creating, _) => "interrupted while createTask was in flight: a task may have been created and charged. \
                    Check the task list in the Apikley dashboard (or your callback endpoint) before submitting again"
                    .to_owned(),
                (Phase::Waiting, Some(id)) => format!("interrupted; task {id} goes on"),
                (Phase::Downloading, Some(id)) => {
                    format!("interrupted while saving the video of task {id}")
                }
                _ => "interrupted before anything was sent: no task was created".to_owned(),
            };
            let kind = "interrupted";
            (
                exit::INTERRUPTED,
                kind,
                message,
                current_task,
                true,
                Vec::new(),
            )
        }
        Failure::Sdk(error) => {
            let (code, kind) = match &error {
                Error::Config(_) => (exit::INVALID_INPUT, "config"),
                Error::InvalidRequest(_) => (exit::INVALID_INPUT, "invalid_request"),
                Error::File { .. } => (exit::INVALID_INPUT, "file"),
                Error::TaskFailed { .. } => (exit::TASK_FAILED, "task_failed"),
                Error::TaskEndedUnrecognized { .. } => (exit::TASK_FAILED, "task_ended"),
                Error::ResultUnusable { .. } => (exit::API_ERROR, "result_unusable"),
                Error::WaitTimedOut { .. } => (exit::TIMED_OUT, "timed_out"),
                Error::Cancelled { .. } => (exit::INTERRUPTED, "interrupted"),
                Error::OutcomeUnknown { .. } => (exit::API_ERROR, "outcome_unknown"),
                Error::Transport { .. } => (exit::API_ERROR, "transport"),
                Error::Download { .. } => (exit::API_ERROR, "download"),
                _ => (exit::API_ERROR, "api"),
            };
            let violations: Vec<Value> = match &error {
                Error::InvalidRequest(violations) => {
                    violations.iter().map(violation_json).collect()
                }
                _ => Vec::new(),
            };
            // Resuming helps when the failure may pass, and when saving a video that exists
            // failed (a file in the way, a full disk, a broken connection).
            let saving = matches!(
                error,
                Error::File { .. } | Error::Download { .. } | Error::Transport { .. }
            );
            let resumable = error.is_retryable() || (saving && phase == Phase::Downloading);
            let task_id = error.task_id().cloned().or(current_task);
            (
                code,
                kind,
                error.to_string(),
                task_id,
                resumable,
                violations,
            )
        }
    };
    let resume = match &task_id {
        Some(id) if resumable => resume_command(&phase, id, output.as_deref()),
        _ => None,
    };
    if let Some(command) = &resume {
        message.push_str(&format!("\nresume with: {command}"));
    }
    let mut document = json!({"error": {
        "kind": kind, "message": message, "task_id": task_id, "resume": resume,
    }});
    if !violations.is_empty() {
        document["error"]["violations"] = Value::Array(violations);
    }
    out.failure(document, message);
    ExitCode::from(code)
}

fn violation_json(violation: &Violation) -> Value {
    json!({"field": violation.field, "rule": violation.rule, "value": violation.value})
}

async fn serve_sandbox(
    listen: std::net::SocketAddr,
    speed: f64,
    key: &str,
    json: bool,
) -> ExitCode {
    let sandbox = match Sandbox::builder()
        .address(listen)
        .speed(speed)
        .api_key(key)
        .start()
        .await
    {
        Ok(sandbox) => sandbox,
        Err(e) => {
            eprintln!("error: cannot start the sandbox on {listen}: {e}");
            return ExitCode::from(exit::INVALID_INPUT);
        }
    };
    if json {
        println!(
            "{}",
            json!({"url": sandbox.url(), "api_key": sandbox.api_key()})
        );
    } else {
        println!("Apikley sandbox listening on {}", sandbox.url());
        println!("API key: {}", sandbox.api_key());
        println!(
            "Use it: APIKLEY_BASE_URL={} APIKLEY_API_KEY={} seedance generate \"A serene beach at sunset\"",
            sandbox.url(),
            sandbox.api_key()
        );
    }
    let _ = tokio::signal::ctrl_c().await;
    if !json {
        println!("sandbox stopped");
    }
    ExitCode::SUCCESS
}
