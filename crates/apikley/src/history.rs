//! A local history of the tasks a client creates, so that none that was paid for is lost:
//! Apikley has no endpoint that lists an account's tasks.
//!
//! With [`ClientBuilder::history`](crate::ClientBuilder::history), every submission writes a
//! row, synced to disk, *before* its `createTask` goes out; the task id the moment it is known
//! (or "outcome unknown" when no answer said); the last state and result URLs a wait saw; and
//! where its result was saved. A program that dies between `submit` and its own bookkeeping
//! finds its tasks in [`History::pending`]. Several processes may write one history at once.
//! The API key is never stored.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use apikley::history::History;
//! let client = apikley::Client::builder()
//!     .with_env()
//!     .history("tasks.sqlite")
//!     .build()?;
//! // ... after a crash, in the next run:
//! for entry in History::open("tasks.sqlite")?.pending().await? {
//!     if let Some(id) = &entry.task_id {
//!         let done = client.task(id.clone()).wait().await?;
//!         done.download(format!("{id}.mp4")).await?;
//!     }
//! }
//! # Ok(()) }
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::types::Value as Sql;
use rusqlite::{Connection, Row, params, params_from_iter};
use serde_json::{Map, Value};
use url::Url;

use crate::record::{TaskId, TaskRecord, TaskState};
use crate::store::{Store, create_private};
use crate::timings::KEPT;

/// The schema this version writes (`PRAGMA user_version`). A table added later is created
/// when a file is opened (`IF NOT EXISTS`) and ignored by the versions before it, so adding one
/// keeps the version.
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS tasks (
    entry       INTEGER PRIMARY KEY AUTOINCREMENT,
    model       TEXT NOT NULL,
    input       TEXT NOT NULL,
    sent_at     TEXT NOT NULL,
    task_id     TEXT,
    stage       TEXT NOT NULL,
    task_state  TEXT,
    detail      TEXT,
    urls        TEXT NOT NULL DEFAULT '[]',
    destination TEXT,
    saved_to    TEXT,
    updated_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_by_id ON tasks (task_id);
CREATE TABLE IF NOT EXISTS timings (
    observation INTEGER PRIMARY KEY AUTOINCREMENT,
    workload    TEXT NOT NULL,
    seconds     REAL NOT NULL,
    observed_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS timings_by_workload ON timings (workload, observation);
";

/// The time now, as stored: RFC 3339 in UTC, to the millisecond (sorts as text).
const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

/// How long the service keeps a task and its result: an entry older than this whose result was
/// never saved has [`expired`](Entry::expired).
pub const TASK_RETENTION: Duration = Duration::from_secs(14 * 24 * 60 * 60);

/// How long a write waits for another process's to end before it gives up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the history cannot be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    /// Its file or folder cannot be created.
    #[error("the task history {path} cannot be created: {source}")]
    Create {
        /// Where it was to be.
        path: PathBuf,
        /// What the file system said.
        #[source]
        source: std::io::Error,
    },
    /// SQLite refused a statement (a damaged file, a full disk, …).
    #[error("the task history {path}: {reason}")]
    Store {
        /// Where it is.
        path: PathBuf,
        /// What SQLite said.
        reason: String,
    },
    /// It was written by a newer version of this SDK.
    #[error(
        "the task history {path} was written by a newer version of this SDK (schema {found}; this one knows {SCHEMA_VERSION})"
    )]
    Newer {
        /// Where it is.
        path: PathBuf,
        /// The schema it has.
        found: i64,
    },
}

/// Where an entry's task stands, as last recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EntryState {
    /// Its `createTask` is on its way, or its process ended before the answer came: a task may
    /// exist, with an id nobody has seen.
    Sending,
    /// Its `createTask` went out and no answer said whether it created a task: look for it in
    /// the web console around [`Entry::sent_at`].
    OutcomeUnknown,
    /// The task exists; this is its last known state.
    Task(TaskState),
    /// Its result is saved ([`Entry::saved_to`]).
    Saved,
}

/// One submission, as the history has it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Entry {
    /// Its number in this history (newer entries have larger ones).
    pub number: i64,
    /// The model's id.
    pub model: String,
    /// The inputs as the caller gave them (local files by path, before upload).
    pub input: Map<String, Value>,
    /// When its `createTask` went out.
    pub sent_at: DateTime<Utc>,
    /// Its task, once the answer named it.
    pub task_id: Option<TaskId>,
    /// Where it stands.
    pub state: EntryState,
    /// Why it stands there (a failure's message, the error that left the outcome unknown).
    pub detail: Option<String>,
    /// The result URLs the last wait saw.
    pub urls: Vec<Url>,
    /// Where the submitter meant to save the result, if it said
    /// ([`Submission::destination`](crate::Submission::destination)).
    pub destination: Option<PathBuf>,
    /// Where the result was saved.
    pub saved_to: Option<PathBuf>,
    /// When the entry last changed.
    pub updated_at: DateTime<Utc>,
}

impl Entry {
    /// Whether a task exists whose result is still to be saved: not saved, not failed, not
    /// [`expired`](Self::expired).
    pub fn is_pending(&self) -> bool {
        self.awaits_saving() && !self.expired()
    }

    /// Whether its result was never saved and the service no longer keeps it: sent more than
    /// [`TASK_RETENTION`] ago.
    pub fn expired(&self) -> bool {
        let age =
            DateTime::<Utc>::from(std::time::SystemTime::now()).signed_duration_since(self.sent_at);
        self.awaits_saving() && age.to_std().is_ok_and(|age| age > TASK_RETENTION)
    }

    /// A task exists, and its result is still to be saved (expired or not).
    fn awaits_saving(&self) -> bool {
        match &self.state {
            EntryState::Task(TaskState::Fail) => false,
            // Over under a name this SDK does not know, with nothing to save.
            EntryState::Task(state) if state.sounds_final() && !state.is_final() => {
                !self.urls.is_empty()
            }
            EntryState::Task(_) => true,
            _ => false,
        }
    }

    /// Whether `createTask` went out and no id was ever recorded: a task may have been
    /// created and paid for.
    pub fn outcome_unknown(&self) -> bool {
        matches!(self.state, EntryState::Sending | EntryState::OutcomeUnknown)
    }
}

/// A task history file (SQLite), open. Cloning is cheap and shares the connection.
#[derive(Debug, Clone)]
pub struct History {
    store: Store,
    path: PathBuf,
}

impl History {
    /// Opens the history at `path`, creating it (and its folder) readable by its owner only.
    /// It blocks, briefly, while another process is creating the same file (at most 30 s).
    pub fn open(path: impl AsRef<Path>) -> Result<History, HistoryError> {
        let path = path.as_ref().to_owned();
        let create = |source| HistoryError::Create {
            path: path.clone(),
            source,
        };
        if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(folder).map_err(create)?;
        }
        create_private(&path).map_err(create)?;
        // Two processes creating it at once: the loser of the race to WAL mode is told "busy"
        // at once, not through the busy timeout, so the opening is tried again.
        let started = std::time::Instant::now();
        let connection = loop {
            match prepare(&path) {
                Err(Prepared::Busy(_)) if started.elapsed() < BUSY_TIMEOUT => {
                    std::thread::sleep(Duration::from_millis(10 + fastrand::u64(0..40)));
                }
                Err(Prepared::Busy(e) | Prepared::Failed(e)) => return Err(store_error(&path, e)),
                Err(Prepared::Newer(found)) => return Err(HistoryError::Newer { path, found }),
                Ok(connection) => break connection,
            }
        };
        Ok(History {
            store: Store::new(connection),
            path,
        })
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The latest `limit` entries, newest first.
    pub async fn entries(&self, limit: usize) -> Result<Vec<Entry>, HistoryError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.select("1 ORDER BY entry DESC LIMIT ?1", vec![Sql::from(limit)])
            .await
    }

    /// The entries whose task exists and whose result is not saved yet
    /// ([`Entry::is_pending`]), oldest first.
    pub async fn pending(&self) -> Result<Vec<Entry>, HistoryError> {
        let entries = self
            .select(
                "task_id IS NOT NULL AND stage = 'created' ORDER BY entry",
                vec![],
            )
            .await?;
        Ok(entries.into_iter().filter(Entry::is_pending).collect())
    }

    /// The entries whose `createTask` went out and no answer named a task
    /// ([`Entry::outcome_unknown`]), oldest first.
    pub async fn unknown(&self) -> Result<Vec<Entry>, HistoryError> {
        self.select("stage IN ('sending', 'unknown') ORDER BY entry", vec![])
            .await
    }

    /// The newest entry that has a task id.
    pub async fn last(&self) -> Result<Option<Entry>, HistoryError> {
        let entries = self
            .select("task_id IS NOT NULL ORDER BY entry DESC LIMIT 1", vec![])
            .await?;
        Ok(entries.into_iter().next())
    }

    /// The newest entry of the task with this id.
    pub async fn find(&self, task_id: &TaskId) -> Result<Option<Entry>, HistoryError> {
        let id = task_id.as_str().to_owned();
        let entries = self
            .select(
                "task_id = ?1 ORDER BY entry DESC LIMIT 1",
                vec![Sql::from(id)],
            )
            .await?;
        Ok(entries.into_iter().next())
    }

    async fn select(
        &self,
        filter: &'static str,
        values: Vec<Sql>,
    ) -> Result<Vec<Entry>, HistoryError> {
        let path = self.path.clone();
        self.run(move |connection| {
            let mut statement = connection.prepare(&format!(
                "SELECT entry, model, input, sent_at, task_id, stage, task_state, detail, urls,
                        destination, saved_to, updated_at
                 FROM tasks WHERE {filter}"
            ))?;
            let rows =
                statement.query_map(params_from_iter(values), |row| read_entry(row, &path))?;
            rows.collect()
        })
        .await
    }

    /// A `createTask` for `model` with `input` is about to go out: the entry is on disk when
    /// this returns.
    pub(crate) async fn sending(
        &self,
        model: &str,
        input: &Map<String, Value>,
        destination: Option<&Path>,
    ) -> Result<i64, HistoryError> {
        let (model, input) = (model.to_owned(), Value::Object(input.clone()).to_string());
        let destination = destination.map(|p| absolute(p).to_string_lossy().into_owned());
        self.run(move |connection| {
            connection.execute(
                &format!(
                    "INSERT INTO tasks (model, input, sent_at, stage, destination, updated_at)
                     VALUES (?1, ?2, {NOW}, 'sending', ?3, {NOW})"
                ),
                params![model, input, destination],
            )?;
            Ok(connection.last_insert_rowid())
        })
        .await
    }

    /// The entry's task exists.
    pub(crate) async fn created(&self, entry: i64, task_id: &TaskId) -> Result<(), HistoryError> {
        let id = task_id.as_str().to_owned();
        self.update(
            "stage = 'created', task_id = ?2, task_state = 'waiting' WHERE entry = ?1",
            vec![Sql::from(entry), Sql::from(id)],
        )
        .await
    }

    /// No answer said whether the entry's `createTask` created a task.
    pub(crate) async fn outcome_unknown(&self, entry: i64, why: &str) -> Result<(), HistoryError> {
        let why = why.to_owned();
        self.update(
            "stage = 'unknown', detail = ?2 WHERE entry = ?1",
            vec![Sql::from(entry), Sql::from(why)],
        )
        .await
    }

    /// The entry's `createTask` provably created nothing: nothing to remember.
    pub(crate) async fn forget(&self, entry: i64) -> Result<(), HistoryError> {
        self.run(move |connection| {
            connection.execute("DELETE FROM tasks WHERE entry = ?1", params![entry])?;
            Ok(())
        })
        .await
    }

    /// The task's last known state, its result URLs and why it stands there.
    pub(crate) async fn state(
        &self,
        task_id: &TaskId,
        state: &TaskState,
        urls: &[Url],
        detail: Option<&str>,
    ) -> Result<(), HistoryError> {
        let (id, state) = (task_id.as_str().to_owned(), state.as_str().to_owned());
        let urls = Value::from_iter(urls.iter().map(Url::as_str)).to_string();
        let detail = detail.map(str::to_owned);
        self.update(
            "task_state = ?2, urls = ?3, detail = ?4 WHERE task_id = ?1 AND stage = 'created'",
            vec![
                Sql::from(id),
                Sql::from(state),
                Sql::from(urls),
                Sql::from(detail),
            ],
        )
        .await
    }

    /// The task's result is saved at `path`.
    pub(crate) async fn saved(&self, task_id: &TaskId, path: &Path) -> Result<(), HistoryError> {
        let id = task_id.as_str().to_owned();
        let path = absolute(path).to_string_lossy().into_owned();
        self.update(
            "stage = 'saved', saved_to = ?2, detail = NULL WHERE task_id = ?1",
            vec![Sql::from(id), Sql::from(path)],
        )
        .await
    }

    /// A task of `workload` (model and inputs its time depends on) took `took` to generate:
    /// the latest [`KEPT`] of each workload are kept, for the next client's expectations.
    pub(crate) async fn observed(
        &self,
        workload: &str,
        took: Duration,
    ) -> Result<(), HistoryError> {
        if workload.is_empty() {
            return Ok(());
        }
        let (workload, seconds) = (workload.to_owned(), took.as_secs_f64());
        let kept = i64::try_from(KEPT).unwrap_or(i64::MAX);
        self.run(move |connection| {
            let transaction = connection.unchecked_transaction()?;
            transaction.execute(
                &format!(
                    "INSERT INTO timings (workload, seconds, observed_at) VALUES (?1, ?2, {NOW})"
                ),
                params![workload, seconds],
            )?;
            transaction.execute(
                "DELETE FROM timings WHERE workload = ?1 AND observation <= (
                     SELECT observation FROM timings WHERE workload = ?1
                     ORDER BY observation DESC LIMIT 1 OFFSET ?2)",
                params![workload, kept],
            )?;
            transaction.commit()
        })
        .await
    }

    /// Every timing kept, oldest first: what a new client's expectations start from. Read at
    /// once (a client is built synchronously); the table holds at most [`KEPT`] per workload.
    pub(crate) fn timings(&self) -> Result<Vec<(String, Duration)>, HistoryError> {
        self.store
            .run_now(|connection| {
                let mut statement = connection
                    .prepare("SELECT workload, seconds FROM timings ORDER BY observation")?;
                let rows = statement.query_map([], |row| {
                    let seconds: f64 = row.get(1)?;
                    Ok((
                        row.get(0)?,
                        Duration::try_from_secs_f64(seconds).unwrap_or_default(),
                    ))
                })?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(|e| store_error(&self.path, e))
    }

    /// What a status query said of the task.
    pub(crate) async fn seen(&self, record: &TaskRecord) {
        let urls = record.result.as_ref().map_or(&[][..], |r| &r.urls[..]);
        let written = self
            .state(
                &record.id,
                &record.state,
                urls,
                record.fail_message.as_deref(),
            )
            .await;
        if let Err(e) = written {
            tracing::warn!(error = %e, "the task history was not updated");
        }
    }

    async fn update(&self, change: &'static str, values: Vec<Sql>) -> Result<(), HistoryError> {
        self.run(move |connection| {
            connection.execute(
                &format!("UPDATE tasks SET updated_at = {NOW}, {change}"),
                params_from_iter(values),
            )?;
            Ok(())
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        statement: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, HistoryError> {
        let path = self.path.clone();
        let stopped_path = path.clone();
        self.store
            .run(
                move |connection| statement(connection).map_err(|e| store_error(&path, e)),
                move |reason| HistoryError::Store {
                    path: stopped_path,
                    reason: format!("its writer stopped: {reason}"),
                },
            )
            .await
    }
}

/// Why a connection could not be prepared.
enum Prepared {
    /// Another process holds a lock it needs.
    Busy(rusqlite::Error),
    /// The file is of a newer schema.
    Newer(i64),
    /// Anything else.
    Failed(rusqlite::Error),
}

impl From<rusqlite::Error> for Prepared {
    fn from(error: rusqlite::Error) -> Self {
        match error.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                Prepared::Busy(error)
            }
            _ => Prepared::Failed(error),
        }
    }
}

/// A connection to the history at `path`, in WAL mode, its schema up to date.
fn prepare(path: &Path) -> Result<Connection, Prepared> {
    let connection = Connection::open(path)?;
    // WAL and a busy timeout: any number of processes read and write it at once, and every
    // statement is on disk when it returns.
    connection.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = connection.pragma_query_value(None, "journal_mode", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        connection.pragma_update(None, "journal_mode", "WAL")?;
    }
    connection.pragma_update(None, "synchronous", "FULL")?;
    let found: i64 = connection.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(Prepared::Newer(found));
    }
    connection.execute_batch(&format!(
        "BEGIN IMMEDIATE; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
    ))?;
    Ok(connection)
}

fn store_error(path: &Path, error: rusqlite::Error) -> HistoryError {
    HistoryError::Store {
        path: path.to_owned(),
        reason: error.to_string(),
    }
}

/// `path` from the root, so that a process in another folder finds the file.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

fn read_entry(row: &Row<'_>, path: &Path) -> rusqlite::Result<Entry> {
    let time = |text: String| {
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    };
    let input: String = row.get(2)?;
    let stage: String = row.get(5)?;
    let task_state: Option<String> = row.get(6)?;
    let urls: String = row.get(8)?;
    let state = match stage.as_str() {
        "sending" => EntryState::Sending,
        "unknown" => EntryState::OutcomeUnknown,
        "saved" => EntryState::Saved,
        "created" => EntryState::Task(TaskState::parse(task_state.as_deref().unwrap_or("waiting"))),
        other => {
            return Err(rusqlite::Error::InvalidColumnType(
                5,
                format!("stage {other:?} of {}", path.display()),
                rusqlite::types::Type::Text,
            ));
        }
    };
    Ok(Entry {
        number: row.get(0)?,
        model: row.get(1)?,
        input: serde_json::from_str(&input).unwrap_or_default(),
        sent_at: time(row.get(3)?),
        task_id: row.get::<_, Option<String>>(4)?.map(TaskId::from),
        state,
        detail: row.get(7)?,
        urls: serde_json::from_str::<Vec<String>>(&urls)
            .unwrap_or_default()
            .iter()
            .filter_map(|u| Url::parse(u).ok())
            .collect(),
        destination: row.get::<_, Option<String>>(9)?.map(PathBuf::from),
        saved_to: row.get::<_, Option<String>>(10)?.map(PathBuf::from),
        updated_at: time(row.get(11)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_unsaved_task_older_than_the_services_retention_has_expired() {
        let dir = tempfile::tempdir().expect("temp dir");
        let history = History::open(dir.path().join("history.sqlite")).expect("opens");
        let input = Map::new();
        for (id, sent_at) in [("old", "2026-01-01T00:00:00.000Z"), ("new", "")] {
            let entry = history.sending("m", &input, None).await.expect("records");
            history
                .created(entry, &TaskId::from(id))
                .await
                .expect("records");
            if !sent_at.is_empty() {
                history
                    .run(move |c| {
                        c.execute(
                            "UPDATE tasks SET sent_at = ?2 WHERE entry = ?1",
                            params![entry, sent_at],
                        )
                    })
                    .await
                    .expect("writes");
            }
        }
        let entries = history.entries(10).await.expect("reads");
        let old = entries
            .iter()
            .find(|e| e.task_id == Some(TaskId::from("old")));
        let old = old.expect("listed");
        assert!(old.expired() && !old.is_pending(), "{old:?}");
        let pending = history.pending().await.expect("reads");
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].task_id, Some(TaskId::from("new")));
        assert!(!pending[0].expired());
    }
}
