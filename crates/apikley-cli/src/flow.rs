//! The steps every command is made of: connecting (to the service or a built-in sandbox),
//! checking where a video goes, waiting with progress, saving, and showing a record.

use std::path::{Path, PathBuf};

use apikley::{
    Client, ClientBuilder, CompletedTask, Content, DownloadedFile, Error, MediaType, OutputKind,
    PollSchedule, Request, Task, TaskId, TaskRecord, WaitOptions,
};
use serde_json::{Value, json};

use crate::failure::Failure;
use crate::output::Output;
use crate::session::{Phase, Session};
use crate::sidecar::{self, Origin};

/// How much faster than real time the built-in sandbox runs: an 8 s video takes about 3 s.
#[cfg(feature = "sandbox")]
pub const SANDBOX_SPEED: f64 = 30.0;

/// A running built-in sandbox (kept alive while the command runs), or nothing.
#[cfg(feature = "sandbox")]
pub type Sandbox = Option<apikley_sandbox::Sandbox>;
/// Without the `sandbox` feature there is none.
#[cfg(not(feature = "sandbox"))]
pub type Sandbox = ();

/// A client for the service configured in the environment, or, with `sandbox`, for a built-in
/// sandbox with a fast clock (no key, no network); its waits poll on `schedule` when given, and
/// its tasks are recorded in the `history` file when given.
pub async fn connect(
    sandbox: bool,
    schedule: Option<PollSchedule>,
    history: Option<PathBuf>,
    extra: impl FnOnce(ClientBuilder) -> ClientBuilder,
) -> Result<(Client, Sandbox), Failure> {
    let configure = move |builder: ClientBuilder| {
        let builder = extra(builder);
        let builder = match history {
            Some(path) => builder.history(path),
            None => builder,
        };
        match schedule {
            Some(schedule) => builder.wait_options(WaitOptions::default().with_schedule(schedule)),
            None => builder,
        }
    };
    #[cfg(feature = "sandbox")]
    if sandbox {
        let sandbox = apikley_sandbox::Sandbox::builder()
            .speed(SANDBOX_SPEED)
            // Enough for any batch: running out is what a test sandbox is for.
            .credits(1e6)
            .start()
            .await
            .map_err(Failure::Sandbox)?;
        let client = configure(sandbox.client()).build()?;
        return Ok((client, Some(sandbox)));
    }
    let _ = sandbox;
    Ok((
        configure(Client::builder().with_env()).build()?,
        Default::default(),
    ))
}

/// Checks that a video can be saved at `path` (or, without one, in the current folder): the
/// file (and with `sidecar`, its provenance file) does not exist unless `overwrite`, and its
/// folder exists and takes new files.
pub fn check_target(path: Option<&Path>, overwrite: bool, sidecar: bool) -> Result<(), Failure> {
    let problem = |path: &Path, reason: String| Failure::Target {
        path: path.to_owned(),
        reason,
    };
    let folder = match path {
        Some(path) => {
            if path.is_dir() {
                return Err(problem(path, "is a folder, not a file".into()));
            }
            if path.exists() && !overwrite {
                return Err(problem(
                    path,
                    "already exists; pass --overwrite to replace it".into(),
                ));
            }
            let provenance = crate::sidecar::path(path);
            if sidecar && provenance.exists() && !overwrite {
                return Err(problem(
                    &provenance,
                    "already exists; pass --overwrite to replace it with the result's (or --no-sidecar)"
                        .into(),
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
        return Err(problem(&folder, "is not an existing folder".into()));
    }
    // The one sure test of a folder's permissions is to create a file in it.
    let probe = folder.join(format!(".apikley-{}.probe", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .and_then(|_| std::fs::remove_file(&probe))
        .map_err(|e| problem(&folder, format!("does not take new files ({e})")))
}

/// In a debug build whose `APIKLEY_TEST_HOLD` names `point`, says so on stderr and stops
/// there for good: a test kills the command at that point. Nothing in a release build.
pub async fn hold_for_tests(point: &str) {
    if cfg!(debug_assertions) && std::env::var("APIKLEY_TEST_HOLD").is_ok_and(|p| p == point) {
        eprintln!("holding at {point}");
        std::future::pending::<()>().await;
    }
}

/// Waits for the task, showing progress.
pub async fn wait(
    task: &Task,
    out: &mut Output,
    session: &Session,
) -> Result<CompletedTask, Error> {
    session.task(task.id(), Phase::Waiting);
    let done = task.waiter().on_progress(|p| out.progress(p)).await;
    out.done();
    done
}

/// `<prefix>-<task id>.<extension>` in the current folder, made a safe name (see
/// [`safe_name`]; a prefix, a model id, may keep its dots).
pub fn default_file(prefix: &str, id: &TaskId, extension: &str) -> PathBuf {
    let prefix: String = prefix
        .split('.')
        .map(safe_name)
        .collect::<Vec<_>>()
        .join(".");
    PathBuf::from(format!("{prefix}-{}.{extension}", safe_name(id.as_str())))
}

/// Text made a file name: anything but letters, digits, `-` and `_` replaced by `_` (a task id
/// comes from the server).
pub fn safe_name(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The extension of a default file name before the content is seen: the format the request
/// asks for, else `bin`.
pub fn guessed_extension(request: &Request) -> &'static str {
    request
        .output_media_type()
        .map_or("bin", MediaType::extension)
}

/// Where a result goes: the file the user named (kept as named), or a default name whose
/// extension the content decides.
#[derive(Debug, Clone)]
pub struct Target {
    /// The path (for a default name, with the extension guessed so far).
    pub path: PathBuf,
    /// Whether the content names the extension.
    pub by_content: bool,
    /// Whether an existing file may be replaced.
    pub overwrite: bool,
}

/// Saves the task's result, with its provenance file when `origin` is given, and reports it.
pub async fn save(
    done: &CompletedTask,
    target: &Target,
    origin: Option<&Origin>,
    out: &mut Output,
    session: &Session,
) -> Result<(), Failure> {
    session.output(&target.path, target.overwrite);
    session.phase(Phase::Downloading);
    let file = done
        .download(&target.path)
        .overwrite(target.overwrite)
        .name_by_content(target.by_content)
        .on_progress(|p| out.download(p))
        .await?;
    let sidecar = match origin {
        Some(origin) => written(
            sidecar::write(
                &file.path,
                file.bytes,
                done.record(),
                origin,
                target.overwrite,
            )
            .await,
            out,
        ),
        None => None,
    };
    saved(
        &file,
        done.id().as_str(),
        Some(done),
        sidecar.as_deref(),
        out,
    );
    Ok(())
}

/// A sidecar written, or a warning that it was not (the result itself is saved).
pub fn written(outcome: Result<PathBuf, String>, out: &mut Output) -> Option<PathBuf> {
    match outcome {
        Ok(path) => Some(path),
        Err(e) => {
            out.line(format!(
                "warning: the result is saved, but its provenance file is not: {e}"
            ));
            None
        }
    }
}

/// Reports a saved file: where, how large, what it is (and a warning when its name says
/// otherwise).
pub fn saved(
    file: &DownloadedFile,
    task_id: &str,
    done: Option<&CompletedTask>,
    sidecar: Option<&Path>,
    out: &mut Output,
) {
    let warning = file.misnamed();
    if let Some(warning) = &warning {
        out.line(format!("warning: {warning}"));
    }
    let (media_type, kind) = match file.content {
        Content::Media(kind) => (Some(kind.mime()), kind.medium().to_string()),
        _ => (None, OutputKind::Other.to_string()),
    };
    let mut json = json!({ "task_id": task_id });
    if let Some(done) = done {
        let urls: Vec<&str> = done.urls().iter().map(|u| u.as_str()).collect();
        json["state"] = json!(done.record().state.as_str());
        json["urls"] = json!(urls);
    }
    json["file"] = json!(file.path);
    json["bytes"] = json!(file.bytes);
    json["media_type"] = json!(media_type);
    json["kind"] = json!(kind);
    json["warning"] = json!(warning);
    json["sidecar"] = json!(sidecar);
    out.result(
        json,
        format!(
            "saved {} ({} bytes, {})",
            file.path.display(),
            file.bytes,
            file.content
        ),
    );
}

/// The result URLs of a finished task, or the error that says why there are none.
pub fn show_urls(done: &CompletedTask, out: &mut Output) -> Result<(), Failure> {
    if done.urls().is_empty() {
        return Err(Failure::NoResultFile {
            task_id: done.id().clone(),
            text: done.record().result_text(),
        });
    }
    let urls: Vec<&str> = done.urls().iter().map(|u| u.as_str()).collect();
    out.result(
        json!({"task_id": done.id(), "state": "success", "urls": urls}),
        urls.join("\n"),
    );
    Ok(())
}

/// A record in a line (or a few): its state, its files or its failure, and `resultJson` as
/// sent when a finished task's files cannot be read from it.
pub fn status_line(record: &TaskRecord) -> String {
    let mut line = format!("task {}: {}", record.id, record.state);
    match &record.result {
        Some(result) if !result.urls.is_empty() => {
            for url in &result.urls {
                line.push_str(&format!("\n{url}"));
            }
        }
        _ => {
            if let Some(text) = unreadable_result(record) {
                line.push_str(&format!("\nresultJson as sent: {text}"));
            }
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

/// `resultJson` as sent, when the record has ended and no file can be read from it.
fn unreadable_result(record: &TaskRecord) -> Option<String> {
    let no_files = record.result.as_ref().is_none_or(|r| r.urls.is_empty());
    (record.has_ended() && no_files)
        .then(|| record.result_text())
        .flatten()
        .filter(|t| !t.trim().is_empty())
}

/// A record as JSON.
pub fn record_json(record: &TaskRecord) -> Value {
    let urls: Vec<&str> = record
        .result
        .as_ref()
        .map(|r| r.urls.iter().map(|u| u.as_str()).collect())
        .unwrap_or_default();
    json!({
        "task_id": record.id,
        "state": record.state.as_str(),
        "model": record.model,
        "urls": urls,
        "result_json": unreadable_result(record),
        "fail_code": record.fail_code,
        "fail_message": record.fail_message,
        "created_at": record.created_at.map(|t| t.to_rfc3339()),
        "completed_at": record.completed_at.map(|t| t.to_rfc3339()),
    })
}
