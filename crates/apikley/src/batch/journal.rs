//! The batch's durable journal: one SQLite row per job, written (and synced) at every step
//! that matters, above all before a `createTask` is sent and the moment its task id is known.
//! A crash at any instant leaves a journal that says what may have been paid for.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

use crate::store::{Store, create_private};

/// Where a job stands, as journaled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Never sent.
    Pending,
    /// A `createTask` is (or was) on its way; no answer yet.
    Sending,
    /// Its task exists: the id is journaled.
    Submitted,
    /// Its result is saved.
    Saved,
    /// Its task failed.
    Failed,
    /// A `createTask` went out and no answer said what became of it.
    Unknown,
}

impl Stage {
    fn as_str(self) -> &'static str {
        match self {
            Stage::Pending => "pending",
            Stage::Sending => "sending",
            Stage::Submitted => "submitted",
            Stage::Saved => "saved",
            Stage::Failed => "failed",
            Stage::Unknown => "unknown",
        }
    }

    fn parse(text: &str) -> Option<Stage> {
        [
            Stage::Pending,
            Stage::Sending,
            Stage::Submitted,
            Stage::Saved,
            Stage::Failed,
            Stage::Unknown,
        ]
        .into_iter()
        .find(|stage| stage.as_str() == text)
    }
}

/// A job as the journal has it.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    key: String,
    fingerprint: String,
    /// The fingerprint covers the body sent, defaults included (a version-0 journal).
    legacy_fingerprint: bool,
    stage: Stage,
    task_id: Option<String>,
    output: Option<PathBuf>,
    bytes: Option<u64>,
    detail: Option<String>,
    /// The body recorded when the job was added.
    request: String,
}

impl Row {
    /// The job's key.
    pub(crate) fn key(&self) -> &str {
        &self.key
    }

    /// The digest of the job's content when it was added.
    pub(crate) fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Whether its fingerprint covers the body sent, defaults included (a version-0 row).
    pub(crate) fn has_legacy_fingerprint(&self) -> bool {
        self.legacy_fingerprint
    }

    /// The `createTask` body recorded when the job was added.
    pub(crate) fn request(&self) -> &str {
        &self.request
    }

    /// Where it stands.
    pub(crate) fn stage(&self) -> Stage {
        self.stage
    }

    /// Its task, once one exists.
    pub(crate) fn task_id(&self) -> Option<&str> {
        self.task_id.as_deref()
    }

    /// Its saved result and that file's size.
    pub(crate) fn saved_file(&self) -> Option<(&Path, u64)> {
        Some((self.output.as_deref()?, self.bytes?))
    }

    /// Why it stands where it does (a failure, an error), in words.
    pub(crate) fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }
}

/// Why the journal cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum JournalError {
    #[error("another run holds it (one batch run per journal at a time)")]
    InUse,
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("it cannot be created: {0}")]
    Create(#[source] std::io::Error),
    #[error("it holds a job in a state this version does not know: {0:?}")]
    UnknownStage(String),
    #[error(
        "it was written by a newer version of this SDK (schema {0}; this one knows {SCHEMA_VERSION})"
    )]
    Newer(i64),
    #[error("the journal's writer stopped: {0}")]
    Writer(String),
}

/// The journal's schema version (`PRAGMA user_version`): 0 was the first, whose fingerprints
/// covered the whole body sent, defaults included; 1 marks how each row's fingerprint was made.
pub(crate) const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS jobs (
    key         TEXT PRIMARY KEY,
    position    INTEGER NOT NULL,
    model       TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    request     TEXT NOT NULL,
    stage       TEXT NOT NULL,
    task_id     TEXT,
    output      TEXT,
    bytes       INTEGER,
    detail      TEXT,
    updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
";

/// Version 0 → 1: each row says how its fingerprint was made; those of version 0 covered the
/// body sent (`body`), newer ones only what the user wrote (`input`).
const MIGRATE_TO_1: &str =
    "ALTER TABLE jobs ADD COLUMN fingerprint_of TEXT NOT NULL DEFAULT 'body';";

/// The journal file, open for one run; every statement runs on tokio's blocking pool.
#[derive(Debug, Clone)]
pub(crate) struct Journal {
    store: Store,
    path: PathBuf,
}

impl Journal {
    /// Opens (or creates, readable by its owner only) the journal at `path`, brings an older
    /// schema up to date, and takes it for this run.
    pub(crate) fn open(path: &Path) -> Result<Journal, JournalError> {
        create_private(path).map_err(JournalError::Create)?;
        let prepare = || -> rusqlite::Result<Connection> {
            let connection = Connection::open(path)?;
            // Another run holding the file is told at once, not waited for.
            connection.busy_timeout(std::time::Duration::ZERO)?;
            // WAL with full sync: every statement is on disk when it returns, and a reader
            // never sees half a write. The exclusive lock keeps a second run of the same batch
            // out until this one ends (or dies: the OS drops its locks).
            connection.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
            connection.pragma_update(None, "journal_mode", "WAL")?;
            connection.pragma_update(None, "synchronous", "FULL")?;
            connection.execute_batch(&format!("BEGIN IMMEDIATE; {SCHEMA} COMMIT;"))?;
            Ok(connection)
        };
        let connection = prepare().map_err(|error| match error {
            rusqlite::Error::SqliteFailure(e, _)
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) =>
            {
                JournalError::InUse
            }
            other => JournalError::Sqlite(other),
        })?;
        migrate(&connection)?;
        Ok(Journal {
            store: Store::new(connection),
            path: path.to_owned(),
        })
    }

    /// Where it is.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `statement` on the blocking pool.
    async fn run<T: Send + 'static>(
        &self,
        statement: impl FnOnce(&Connection) -> Result<T, JournalError> + Send + 'static,
    ) -> Result<T, JournalError> {
        self.store.run(statement, JournalError::Writer).await
    }

    /// Every job, in the order they were first added.
    pub(crate) async fn rows(&self) -> Result<Vec<Row>, JournalError> {
        self.run(|connection| {
            let mut statement = connection.prepare(
                "SELECT key, fingerprint, fingerprint_of, stage, task_id, output, bytes, detail, request
                 FROM jobs ORDER BY position",
            )?;
            let rows = statement.query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, Option<String>>(4)?,
                    row.get::<_, Option<String>>(5)?,
                    row.get::<_, Option<i64>>(6)?,
                    row.get::<_, Option<String>>(7)?,
                    row.get::<_, String>(8)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (key, fingerprint, of, stage, task_id, output, bytes, detail, request) = row?;
                let stage = Stage::parse(&stage).ok_or(JournalError::UnknownStage(stage))?;
                out.push(Row {
                    key,
                    fingerprint,
                    legacy_fingerprint: of != "input",
                    stage,
                    task_id,
                    output: output.map(PathBuf::from),
                    bytes: bytes.and_then(|b| u64::try_from(b).ok()),
                    detail,
                    request,
                });
            }
            Ok(out)
        })
        .await
    }

    /// Adds a job, never sent.
    pub(crate) async fn add(
        &self,
        key: &str,
        model: &str,
        fingerprint: &str,
        request: &str,
    ) -> Result<(), JournalError> {
        let (key, model, fingerprint, request) = (
            key.to_owned(),
            model.to_owned(),
            fingerprint.to_owned(),
            request.to_owned(),
        );
        self.run(move |connection| {
            let position: i64 = connection
                .query_row("SELECT COALESCE(MAX(position), 0) + 1 FROM jobs", [], |r| {
                    r.get(0)
                })
                .optional()?
                .unwrap_or(1);
            connection.execute(
                "INSERT INTO jobs (key, position, model, fingerprint, fingerprint_of, request, stage)
                 VALUES (?1, ?2, ?3, ?4, 'input', ?5, 'pending')",
                params![key, position, model, fingerprint, request],
            )?;
            Ok(())
        })
        .await
    }

    /// The job's fingerprint, made again from what the user wrote (for a row whose
    /// fingerprint covered the body sent).
    pub(crate) async fn refingerprint(
        &self,
        key: &str,
        fingerprint: &str,
    ) -> Result<(), JournalError> {
        let (key, fingerprint) = (key.to_owned(), fingerprint.to_owned());
        self.run(move |connection| {
            connection.execute(
                "UPDATE jobs SET fingerprint = ?2, fingerprint_of = 'input' WHERE key = ?1",
                params![key, fingerprint],
            )?;
            Ok(())
        })
        .await
    }

    async fn set(
        &self,
        key: &str,
        stage: Stage,
        task_id: Option<&str>,
        detail: Option<&str>,
    ) -> Result<(), JournalError> {
        let (key, task_id, detail) = (
            key.to_owned(),
            task_id.map(str::to_owned),
            detail.map(str::to_owned),
        );
        self.run(move |connection| {
            connection.execute(
                "UPDATE jobs SET stage = ?2, task_id = COALESCE(?3, task_id), detail = ?4,
                     updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE key = ?1",
                params![key, stage.as_str(), task_id, detail],
            )?;
            Ok(())
        })
        .await
    }

    /// A `createTask` for the job is about to be sent.
    pub(crate) async fn sending(&self, key: &str) -> Result<(), JournalError> {
        self.set(key, Stage::Sending, None, None).await
    }

    /// The job's task exists.
    pub(crate) async fn submitted(&self, key: &str, task_id: &str) -> Result<(), JournalError> {
        self.set(key, Stage::Submitted, Some(task_id), None).await
    }

    /// The job was not sent after all, or its `createTask` provably created nothing.
    pub(crate) async fn pending(&self, key: &str, why: &str) -> Result<(), JournalError> {
        self.set(key, Stage::Pending, None, Some(why)).await
    }

    /// Nobody knows whether the job's `createTask` created a task.
    pub(crate) async fn unknown(&self, key: &str, why: &str) -> Result<(), JournalError> {
        self.set(key, Stage::Unknown, None, Some(why)).await
    }

    /// The job's task failed.
    pub(crate) async fn failed(&self, key: &str, why: &str) -> Result<(), JournalError> {
        self.set(key, Stage::Failed, None, Some(why)).await
    }

    /// The job's task is still going, after an error on the way (kept for the next run).
    pub(crate) async fn note(&self, key: &str, why: &str) -> Result<(), JournalError> {
        let (key, why) = (key.to_owned(), why.to_owned());
        self.run(move |connection| {
            connection.execute(
                "UPDATE jobs SET detail = ?2, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE key = ?1",
                params![key, why],
            )?;
            Ok(())
        })
        .await
    }

    /// The job's result is saved at `output` (an absolute path, so that a run from another
    /// working directory finds it).
    pub(crate) async fn saved(
        &self,
        key: &str,
        output: &Path,
        bytes: u64,
    ) -> Result<(), JournalError> {
        let (key, output) = (key.to_owned(), output.to_string_lossy().into_owned());
        self.run(move |connection| {
            connection.execute(
                "UPDATE jobs SET stage = 'saved', output = ?2, bytes = ?3, detail = NULL,
                     updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE key = ?1",
                params![key, output, i64::try_from(bytes).unwrap_or(i64::MAX)],
            )?;
            Ok(())
        })
        .await
    }
}

/// Brings a journal written by an older version up to [`SCHEMA_VERSION`], in one transaction.
fn migrate(connection: &Connection) -> Result<(), JournalError> {
    let version: i64 = connection.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(JournalError::Newer(version));
    }
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    let has_column = connection
        .prepare("SELECT 1 FROM pragma_table_info('jobs') WHERE name = 'fingerprint_of'")?
        .exists([])?;
    let mut steps = String::from("BEGIN IMMEDIATE;");
    if !has_column {
        steps.push_str(MIGRATE_TO_1);
    }
    steps.push_str(&format!("PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"));
    connection.execute_batch(&steps)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_step_is_read_back_and_a_second_run_is_kept_out() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("journal.sqlite");
        {
            let journal = Journal::open(&path).expect("opens");
            journal.add("a", "m", "f1", "{}").await.expect("adds");
            journal.add("b", "m", "f2", "{}").await.expect("adds");
            journal.add("c", "m", "f3", "{}").await.expect("adds");
            journal.sending("a").await.expect("writes");
            journal.submitted("a", "task-1").await.expect("writes");
            journal
                .saved("a", &dir.path().join("a.mp4"), 42)
                .await
                .expect("writes");
            journal.sending("b").await.expect("writes");
            journal.unknown("b", "no answer").await.expect("writes");

            assert!(matches!(Journal::open(&path), Err(JournalError::InUse)));
        }
        let journal = Journal::open(&path).expect("opens again once the first is closed");
        let rows = journal.rows().await.expect("reads");
        let keys: Vec<&str> = rows.iter().map(Row::key).collect();
        assert_eq!(keys, ["a", "b", "c"]);
        assert_eq!(rows[0].stage(), Stage::Saved);
        assert_eq!(rows[0].task_id(), Some("task-1"));
        assert_eq!(
            rows[0].saved_file(),
            Some((dir.path().join("a.mp4").as_path(), 42))
        );
        assert_eq!(rows[1].stage(), Stage::Unknown);
        assert_eq!(rows[1].detail(), Some("no answer"));
        assert_eq!(rows[2].stage(), Stage::Pending);
        assert_eq!(rows[2].fingerprint(), "f3");
        assert!(!rows[2].has_legacy_fingerprint());
    }

    #[cfg(unix)]
    #[test]
    fn the_journal_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("journal.sqlite");
        drop(Journal::open(&path).expect("opens"));
        let mode = std::fs::metadata(&path)
            .expect("exists")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_journal_of_a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("journal.sqlite");
        Connection::open(&path)
            .and_then(|c| c.pragma_update(None, "user_version", SCHEMA_VERSION + 1))
            .expect("writes");
        assert!(matches!(Journal::open(&path), Err(JournalError::Newer(2))));
    }
}
