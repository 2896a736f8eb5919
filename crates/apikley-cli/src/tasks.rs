//! The task history from the command line: where it is, `tasks` (the list, what is pending,
//! and resuming it), and `last` for `wait` and `download`.

use std::path::PathBuf;

use apikley::history::{Entry, EntryState, History};
use apikley::{Client, DownloadedFile, TaskId};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::failure::Failure;
use crate::flow;
use crate::global::{Global, HOME_VAR};
use crate::output::Output;
use crate::sidecar::{self, Origin};

/// What `wait` and `download` take for the newest task in the history.
pub const LAST: &str = "last";

/// The history, or why there is none to read.
fn open(global: &Global) -> Result<History, Failure> {
    match global.history() {
        Some(path) => Ok(History::open(path)?),
        None if global.sandbox() => Err(Failure::History(
            "the built-in sandbox's tasks are not recorded (they end with the command)".into(),
        )),
        None if global.no_history => Err(Failure::History(
            "the task history is off (--no-history)".into(),
        )),
        None => Err(Failure::History(format!(
            "this platform names no data folder: set {HOME_VAR} to keep a task history"
        ))),
    }
}

/// The task `given` names: itself, or with [`LAST`], the newest task in the history.
pub async fn task_id(global: &Global, given: &str) -> Result<TaskId, Failure> {
    if given != LAST {
        return Ok(TaskId::from(given));
    }
    let history = open(global)?;
    history
        .last()
        .await?
        .and_then(|entry| entry.task_id)
        .ok_or_else(|| {
            Failure::History(format!(
                "no task in the task history ({})",
                history.path().display()
            ))
        })
}

/// What the task of `record` was made from: as the client's history has it (the inputs as
/// given, local files by path), else as its record says.
pub async fn origin(client: &Client, record: &apikley::TaskRecord) -> Origin {
    let recorded = match client.history() {
        Some(history) => history.find(&record.id).await.ok().flatten(),
        None => None,
    };
    match recorded {
        Some(entry) => Origin {
            model: entry.model,
            input: entry.input,
        },
        None => Origin::of_record(record),
    }
}

/// The provenance file of `file`, a task's result saved by id: what made it, from the task's
/// record (one status query) and the history.
pub async fn provenance(
    client: &Client,
    task_id: &str,
    file: &DownloadedFile,
    out: &mut Output,
    overwrite: bool,
) -> Option<PathBuf> {
    let record = match client.task(task_id).status().await {
        Ok(record) => record,
        Err(e) => return flow::written(Err(e.to_string()), out),
    };
    let origin = origin(client, &record).await;
    let sidecar = sidecar::write(&file.path, file.bytes, &record, &origin, overwrite).await;
    flow::written(sidecar, out)
}

/// `tasks`: the latest `limit` entries, or with `pending` every task whose result is not saved
/// yet and every submission whose outcome is unknown, newest first.
pub async fn list(
    global: &Global,
    out: &mut Output,
    pending: bool,
    limit: usize,
) -> Result<(), Failure> {
    let history = open(global)?;
    let entries = if pending {
        let mut entries = history.pending().await?;
        entries.extend(history.unknown().await?);
        entries.sort_by_key(|entry| std::cmp::Reverse(entry.number));
        entries
    } else {
        history.entries(limit).await?
    };
    let now = DateTime::<Utc>::from(std::time::SystemTime::now());
    let rows: Vec<[String; 5]> = entries
        .iter()
        .map(|entry| {
            [
                entry
                    .task_id
                    .as_ref()
                    .map_or("-".to_owned(), |id| id.to_string()),
                entry.model.clone(),
                state(entry).to_owned(),
                age(now, entry.sent_at),
                file(entry).map_or(String::new(), |path| path.display().to_string()),
            ]
        })
        .collect();
    let mut text = columns(&rows);
    for entry in entries.iter().filter(|entry| entry.outcome_unknown()) {
        text.push_str(&format!(
            "\noutcome unknown: a createTask for {} went out at {} and no answer said whether it \
             created a task; look for it in the Apikley dashboard before submitting again",
            entry.model,
            entry.sent_at.format("%Y-%m-%d %H:%M:%S UTC"),
        ));
    }
    if entries.is_empty() {
        text = match pending {
            true => "nothing pending".to_owned(),
            false => format!("no tasks yet in {}", history.path().display()),
        };
    }
    let json: Vec<Value> = entries.iter().map(entry_json).collect();
    out.result(json!({ "tasks": json }), text.trim_end());
    Ok(())
}

/// `tasks --pending --resume`: waits for every pending task at once (one client, one poll
/// scheduler) and saves each where its run meant to save it, or under its default name in the
/// current folder; says which could not be.
pub async fn resume(global: &Global, out: &mut Output) -> Result<(), Failure> {
    let history = open(global)?;
    let pending = history.pending().await?;
    for entry in history.unknown().await? {
        out.line(format!(
            "outcome unknown (sent {}, {}): not resumable, look for it in the Apikley dashboard",
            entry.sent_at.format("%Y-%m-%d %H:%M:%S UTC"),
            entry.model
        ));
    }
    if pending.is_empty() {
        out.result(json!({ "resumed": [] }), "nothing pending");
        return Ok(());
    }
    let (client, _sandbox) = global.connect().await?;
    let sidecars = global.sidecars();
    let outcomes = futures_util::future::join_all(
        pending
            .iter()
            .map(|entry| resume_one(&client, entry, sidecars)),
    )
    .await;
    let mut lines = Vec::new();
    let mut json = Vec::new();
    let mut unsaved = 0;
    for (entry, outcome) in pending.iter().zip(outcomes) {
        let id = entry.task_id.as_ref().map(TaskId::as_str).unwrap_or("-");
        match outcome {
            Ok((file, sidecar)) => {
                lines.push(format!(
                    "task {id}: saved {} ({} bytes, {})",
                    file.path.display(),
                    file.bytes,
                    file.content
                ));
                let sidecar = match sidecar {
                    Some(Ok(path)) => Some(path),
                    Some(Err(e)) => {
                        out.line(format!(
                            "warning: task {id}: the result is saved, but its provenance file is not: {e}"
                        ));
                        None
                    }
                    None => None,
                };
                json.push(json!({
                    "task_id": id, "file": file.path, "bytes": file.bytes, "sidecar": sidecar,
                }));
            }
            Err(error) => {
                unsaved += 1;
                lines.push(format!("task {id}: not saved: {error}"));
                json.push(json!({"task_id": id, "error": error}));
            }
        }
    }
    out.result(json!({ "resumed": json }), lines.join("\n"));
    match unsaved {
        0 => Ok(()),
        n => Err(Failure::NotAllSaved(format!(
            "{n} of {} pending tasks not saved (each said why above); they stay pending",
            pending.len()
        ))),
    }
}

/// The result saved, and with `sidecars` its provenance file written (or why not).
type Resumed = (apikley::DownloadedFile, Option<Result<PathBuf, String>>);

/// Waits for one pending task and saves its result: where its run meant to, or under its
/// default name in the current folder; with `sidecars`, its provenance file beside it.
async fn resume_one(client: &Client, entry: &Entry, sidecars: bool) -> Result<Resumed, String> {
    let Some(id) = entry.task_id.clone() else {
        return Err("no task id".to_owned());
    };
    let target = match &entry.destination {
        Some(path) => flow::Target {
            path: path.clone(),
            by_content: false,
            overwrite: false,
        },
        None => flow::Target {
            path: flow::default_file(&entry.model, &id, "bin"),
            by_content: true,
            overwrite: false,
        },
    };
    let named = Some(target.path.as_path()).filter(|_| !target.by_content);
    if let Err(Failure::Target { path, reason }) = flow::check_target(named, false, sidecars) {
        return Err(format!("{}: {reason}", path.display()));
    }
    let done = client.task(id).wait().await.map_err(|e| e.to_string())?;
    let file = done
        .download(&target.path)
        .name_by_content(target.by_content)
        .await
        .map_err(|e| e.to_string())?;
    let origin = Origin {
        model: entry.model.clone(),
        input: entry.input.clone(),
    };
    let sidecar = match sidecars {
        true => Some(sidecar::write(&file.path, file.bytes, done.record(), &origin, false).await),
        false => None,
    };
    Ok((file, sidecar))
}

/// An entry's state in words.
fn state(entry: &Entry) -> &str {
    if entry.expired() {
        return "expired";
    }
    match &entry.state {
        EntryState::Task(state) => state.as_str(),
        EntryState::Saved => "saved",
        _ => "outcome unknown",
    }
}

/// Its file: where it was saved, else where it is to go.
fn file(entry: &Entry) -> Option<&PathBuf> {
    entry.saved_to.as_ref().or(entry.destination.as_ref())
}

fn entry_json(entry: &Entry) -> Value {
    json!({
        "task_id": entry.task_id,
        "model": entry.model,
        "state": state(entry),
        "sent_at": entry.sent_at.to_rfc3339(),
        "file": file(entry),
        "saved": entry.saved_to.is_some(),
        "urls": entry.urls.iter().map(|u| u.as_str()).collect::<Vec<_>>(),
        "input": entry.input,
        "detail": entry.detail,
    })
}

/// How long ago `then` was, in its largest unit: `42s`, `5m`, `3h`, `2d`.
fn age(now: DateTime<Utc>, then: DateTime<Utc>) -> String {
    let seconds = (now - then).num_seconds().max(0);
    match seconds {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// Rows under a header, in aligned columns.
fn columns(rows: &[[String; 5]]) -> String {
    let header = ["TASK", "MODEL", "STATE", "AGE", "FILE"].map(str::to_owned);
    let all: Vec<&[String; 5]> = std::iter::once(&header).chain(rows).collect();
    let widths: Vec<usize> = (0..5)
        .map(|i| {
            all.iter()
                .map(|row| row[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    all.iter()
        .map(|row| {
            let line: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, width)| format!("{cell:width$}"))
                .collect();
            line.join("  ").trim_end().to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_in_their_largest_unit() {
        let now = DateTime::<Utc>::from(std::time::SystemTime::now());
        let ago = |s: i64| age(now, now - chrono::Duration::seconds(s));
        assert_eq!(
            [
                ago(0),
                ago(59),
                ago(60),
                ago(3599),
                ago(3600),
                ago(86_400 * 3)
            ],
            ["0s", "59s", "1m", "59m", "1h", "3d"]
        );
    }

    #[test]
    fn columns_line_up() {
        let row = |a: &str, b: &str| [a, b, "saved", "1m", ""].map(str::to_owned);
        let text = columns(&[row("t-1", "a/very-long-model"), row("task-22", "b")]);
        let starts: Vec<Option<usize>> = text.lines().map(|l| l.find("saved")).collect();
        assert_eq!(
            text.lines().next(),
            Some("TASK     MODEL              STATE  AGE  FILE")
        );
        assert_eq!(starts[1], starts[2]);
        assert_eq!(starts[1], text.lines().next().and_then(|l| l.find("STATE")));
    }
}
