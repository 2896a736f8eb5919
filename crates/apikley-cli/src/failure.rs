//! How a command ends when it does not succeed: one clear sentence, the task id and how to
//! resume when there is a task, a JSON document with `--json`, and an exit code per kind.

use std::path::PathBuf;
use std::process::ExitCode;

use apikley::{ConfigError, Error, ErrorKind, TaskId, Violation, Violations};
use serde_json::{Value, json};

use crate::output::Output;
use crate::session::{Phase, Session};

/// Exit codes, one per kind of failure.
pub mod exit {
    /// Invalid input or configuration: nothing was sent.
    pub const INVALID_INPUT: u8 = 2;
    /// The API or the network failed.
    pub const API_ERROR: u8 = 3;
    /// The task failed (or ended in a state the SDK does not know).
    pub const TASK_FAILED: u8 = 4;
    /// The wait's deadline passed; the task may still finish.
    pub const TIMED_OUT: u8 = 5;
    /// The task succeeded, but its result could not be saved (a file in the way, a full disk,
    /// a link that served a page instead of the file).
    pub const NOT_SAVED: u8 = 6;
    /// Ctrl-C.
    pub const INTERRUPTED: u8 = 130;
}

/// Why a command stopped.
pub enum Failure {
    /// The SDK said so.
    Sdk(Error),
    /// The command's own input is wrong (an unknown model, …): nothing was sent.
    Invalid(Violations),
    /// The result cannot be saved where it would go (checked before anything is paid for).
    Target {
        /// The file, or the folder that would hold it.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A finished task names no file to show or save.
    NoResultFile {
        /// The task.
        task_id: TaskId,
        /// `resultJson` as sent, if any.
        text: Option<String>,
    },
    /// The built-in sandbox could not start.
    #[cfg(feature = "sandbox")]
    Sandbox(std::io::Error),
    /// The task history cannot be used, or holds nothing to act on.
    History(String),
    /// Some of the results a command was to save are not saved (each one said why).
    NotAllSaved(String),
    /// The service refused the task for lack of credits; the balance, when it could be read.
    OutOfCredits {
        /// The refusal.
        error: Error,
        /// The account's balance just after.
        balance: Option<f64>,
    },
    /// Ctrl-C.
    Interrupted,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure::Sdk(error)
    }
}

impl From<apikley::history::HistoryError> for Failure {
    fn from(error: apikley::history::HistoryError) -> Self {
        Failure::History(error.to_string())
    }
}

impl From<Violations> for Failure {
    fn from(violations: Violations) -> Self {
        Failure::Invalid(violations)
    }
}

/// The violations as the JSON document's `violations`.
fn violations_json(violations: &Violations) -> Value {
    violations.iter().map(violation_json).collect()
}

/// Says what went wrong, on stderr or as one JSON document on stdout, and chooses the exit
/// code.
pub fn report(failure: Failure, out: &mut Output, session: &Session) -> ExitCode {
    let state = session.state();
    let mut extra = serde_json::Map::new();
    let (code, kind, mut message, task_id, resumable) = match failure {
        Failure::Interrupted => {
            let message = match (state.phase, &state.task) {
                (Phase::Creating, _) => "interrupted while createTask was in flight: a task may have been created and charged. \
                    Check the task list in the Apikley dashboard (or your callback endpoint) before submitting again"
                    .to_owned(),
                (Phase::Waiting, Some(id)) => format!("interrupted; task {id} goes on"),
                (Phase::Downloading, Some(id)) => {
                    format!("interrupted while saving the video of task {id}")
                }
                _ => "interrupted before anything was sent: no task was created".to_owned(),
            };
            (exit::INTERRUPTED, "interrupted", message, state.task, true)
        }
        #[cfg(feature = "sandbox")]
        Failure::Sandbox(error) => (
            exit::INVALID_INPUT,
            "config",
            format!("cannot start the sandbox: {error}"),
            None,
            false,
        ),
        Failure::History(reason) => (exit::INVALID_INPUT, "history", reason, None, false),
        Failure::NotAllSaved(reason) => (exit::NOT_SAVED, "not_saved", reason, None, false),
        Failure::OutOfCredits { error, balance } => {
            extra.insert("balance".into(), json!(balance));
            let balance = balance.map_or_else(
                || "the account's balance could not be read".to_owned(),
                |b| format!("the account holds {b} credits"),
            );
            let message = format!("{error}\n{balance}: top up the account, then run it again");
            (exit::API_ERROR, "out_of_credits", message, None, false)
        }
        Failure::Invalid(violations) => {
            extra.insert("violations".into(), violations_json(&violations));
            let message = format!("invalid request: {violations}");
            (exit::INVALID_INPUT, "invalid_request", message, None, false)
        }
        Failure::Target { path, reason } => {
            let code = match state.task {
                Some(_) => exit::NOT_SAVED,
                None => exit::INVALID_INPUT,
            };
            let message = format!("{}: {reason}", path.display());
            (code, "file", message, state.task, true)
        }
        Failure::NoResultFile { task_id, text } => {
            let message = format!(
                "task {task_id} succeeded, but its result names no file; resultJson as sent: {}",
                text.as_deref().unwrap_or("(none)")
            );
            extra.insert("result_json".into(), json!(text));
            (
                exit::API_ERROR,
                "result_unusable",
                message,
                Some(task_id),
                false,
            )
        }
        Failure::Sdk(error) => {
            let task_id = error.task_id().cloned().or(state.task);
            let (code, kind) = match error.kind() {
                ErrorKind::Config => (exit::INVALID_INPUT, "config"),
                ErrorKind::InvalidRequest => (exit::INVALID_INPUT, "invalid_request"),
                ErrorKind::File if task_id.is_some() => (exit::NOT_SAVED, "file"),
                ErrorKind::File => (exit::INVALID_INPUT, "file"),
                ErrorKind::TaskFailed => (exit::TASK_FAILED, "task_failed"),
                ErrorKind::TaskEndedUnrecognized => (exit::TASK_FAILED, "task_ended"),
                ErrorKind::ResultUnusable => (exit::API_ERROR, "result_unusable"),
                ErrorKind::WaitTimedOut => (exit::TIMED_OUT, "timed_out"),
                ErrorKind::Cancelled => (exit::INTERRUPTED, "interrupted"),
                ErrorKind::OutcomeUnknown => (exit::API_ERROR, "outcome_unknown"),
                ErrorKind::Transport => (exit::API_ERROR, "transport"),
                ErrorKind::Download => (exit::API_ERROR, "download"),
                // The link served a page, an error or nothing: the task's result is not saved.
                ErrorKind::NotAResult => (exit::NOT_SAVED, "not_a_result"),
                _ => (exit::API_ERROR, "api"),
            };
            if let Some(violations) = error.violations() {
                extra.insert("violations".into(), violations_json(violations));
            }
            if error.kind() == ErrorKind::TaskEndedUnrecognized {
                let urls = error.result_urls().iter().map(|u| u.as_str()).collect();
                extra.insert("urls".into(), urls);
            }
            if error.kind() == ErrorKind::ResultUnusable {
                extra.insert("result_json".into(), json!(error.result_text()));
            }
            // What is over is over; anything else with a task is picked up where it stopped.
            let resumable = !matches!(
                error.kind(),
                ErrorKind::TaskFailed
                    | ErrorKind::TaskEndedUnrecognized
                    | ErrorKind::ResultUnusable
                    | ErrorKind::OutcomeUnknown
                    | ErrorKind::InvalidRequest
                    | ErrorKind::Config
            );
            let mut message = error.to_string();
            if matches!(error.config(), Some(ConfigError::NoKeyInEnvironment))
                && cfg!(feature = "sandbox")
            {
                message.push_str("; or pass --sandbox for an offline demo");
            }
            (code, kind, message, task_id, resumable)
        }
    };
    let resume = session.resume_command().filter(|_| resumable);
    if let Some(command) = &resume {
        message.push_str(&format!("\nresume with: {command}"));
    } else if let Some(note) = session.sandbox_note().filter(|_| resumable) {
        message.push_str(&format!("\n{note}"));
    }
    let mut error = json!({
        "kind": kind, "message": message, "task_id": task_id, "resume": resume,
    });
    if let Some(fields) = error.as_object_mut() {
        fields.extend(extra);
    }
    out.failure(json!({ "error": error }), message);
    ExitCode::from(code)
}

fn violation_json(violation: &Violation) -> Value {
    json!({"field": violation.field, "rule": violation.rule, "value": violation.value})
}

/// A usage error as clap prints it, or as one JSON document with `--json`; help and version as
/// clap prints them.
pub fn usage(error: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let json = std::env::args_os().any(|a| a == "--json");
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) || !json
    {
        let _ = error.print();
        return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(exit::INVALID_INPUT));
    }
    let rendered = error.render().to_string();
    let message = rendered
        .lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("error: ");
    let document =
        json!({"error": {"kind": "usage", "message": message, "task_id": null, "resume": null}});
    println!("{document}");
    ExitCode::from(exit::INVALID_INPUT)
}
