//! How a command ends when it does not succeed: one clear sentence, the task id and how to
//! resume when there is a task, a JSON document with `--json`, and an exit code per kind.

use std::process::ExitCode;

use apikley::{ConfigError, Error, Violation};
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
    /// The built-in sandbox could not start.
    #[cfg(feature = "sandbox")]
    Sandbox(std::io::Error),
    /// Ctrl-C.
    Interrupted,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure::Sdk(error)
    }
}

impl From<apikley::Violations> for Failure {
    fn from(violations: apikley::Violations) -> Self {
        Failure::Sdk(Error::InvalidRequest(violations))
    }
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
        Failure::Sdk(error) => {
            let task_id = error.task_id().cloned().or(state.task);
            let (code, kind) = match &error {
                Error::Config(_) | Error::InvalidRequest(_) => {
                    let kind = if matches!(error, Error::Config(_)) {
                        "config"
                    } else {
                        "invalid_request"
                    };
                    (exit::INVALID_INPUT, kind)
                }
                Error::File { .. } if task_id.is_some() => (exit::NOT_SAVED, "file"),
                Error::File { .. } => (exit::INVALID_INPUT, "file"),
                Error::TaskFailed { .. } => (exit::TASK_FAILED, "task_failed"),
                Error::TaskEndedUnrecognized { .. } => (exit::TASK_FAILED, "task_ended"),
                Error::ResultUnusable { .. } => (exit::API_ERROR, "result_unusable"),
                Error::WaitTimedOut { .. } => (exit::TIMED_OUT, "timed_out"),
                Error::Cancelled { .. } => (exit::INTERRUPTED, "interrupted"),
                Error::OutcomeUnknown { .. } => (exit::API_ERROR, "outcome_unknown"),
                Error::Transport { .. } => (exit::API_ERROR, "transport"),
                Error::Download { .. } => (exit::API_ERROR, "download"),
                // The link served a page, an error or nothing: the task's result is not saved.
                Error::NotAResult { .. } => (exit::NOT_SAVED, "not_a_result"),
                _ => (exit::API_ERROR, "api"),
            };
            match &error {
                Error::InvalidRequest(violations) => {
                    extra.insert(
                        "violations".into(),
                        violations.iter().map(violation_json).collect(),
                    );
                }
                Error::TaskEndedUnrecognized { urls, .. } => {
                    extra.insert("urls".into(), urls.iter().map(|u| u.as_str()).collect());
                }
                Error::ResultUnusable { text, .. } => {
                    extra.insert("result_json".into(), json!(text));
                }
                _ => {}
            }
            // What is over is over; anything else with a task is picked up where it stopped.
            let resumable = !matches!(
                error,
                Error::TaskFailed { .. }
                    | Error::TaskEndedUnrecognized { .. }
                    | Error::ResultUnusable { .. }
                    | Error::OutcomeUnknown { .. }
                    | Error::InvalidRequest(_)
                    | Error::Config(_)
            );
            let mut message = error.to_string();
            if matches!(error, Error::Config(ConfigError::NoKeyInEnvironment))
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
