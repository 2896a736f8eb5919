//! The batch's durable journal: one SQLite row per job, written (and synced) at every step
//! that matters, above all before a `createTask` is sent and the moment its task id is known.
//! A crash at any instant leaves a journal that says what may have been paid for.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, params};

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
    stage: Stage,
    task_id: Option<String>,
    output: Option<PathBuf>,
    bytes: Option<u64>,
    detail: Option<String>,
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
    #[error("it holds a job in a state this version does not know: {0:?}")]
    UnknownStage(String),
}

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

/// The journal file, open for one run.
#[derive(Debug)]
pub(crate) struct Journal {
    connection: Mutex<Connection>,
    path: PathBuf,
}

impl Journal {
    /// Opens (or creates) the journal at `path` and takes it for this run.
    pub(crate) fn open(path: &Path) -> Result<Journal, JournalError> {
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
        Ok(Journal {
            connection: Mutex::new(connection),
            path: path.to_owned(),
        })
    }

    /// Where it is.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn connection(&self) -> MutexGuard<'_, Connection> {
        // A statement either ran or did not: the connection stays usable after a panic.
        self.connection
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Every job, in the order they were first added.
    pub(crate) fn rows(&self) -> Result<Vec<Row>, JournalError> {
        let connection = self.connection();
        let mut statement = connection.prepare(
            "SELECT key, fingerprint, stage, task_id, output, bytes, detail FROM jobs ORDER BY position",
        )?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, Option<String>>(3)?,
                row.get::<_, Option<String>>(4)?,
                row.get::<_, Option<i64>>(5)?,
                row.get::<_, Option<String>>(6)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (key, fingerprint, stage, task_id, output, bytes, detail) = row?;
            let stage = Stage::parse(&stage).ok_or(JournalError::UnknownStage(stage))?;
            out.push(Row {
                key,
                fingerprint,
                stage,
                task_id,
                output: output.map(PathBuf::from),
                bytes: bytes.and_then(|b| u64::try_from(b).ok()),
                detail,
            });
        }
        Ok(out)
    }

    /// Adds a job, never sent.
    pub(crate) fn add(
        &self,
        key: &str,
        model: &str,
        fingerprint: &str,
        request: &str,
    ) -> Result<(), JournalError> {
        let connection = self.connection();
        let position: i64 = connection
            .query_row("SELECT COALESCE(MAX(position), 0) + 1 FROM jobs", [], |r| {
                r.get(0)
            })
            .optional()?
            .unwrap_or(1);
        connection.execute(
            "INSERT INTO jobs (key, position, model, fingerprint, request, stage) VALUES (?1, ?2, ?3, ?4, ?5, 'pending')",
            params![key, position, model, fingerprint, request],
        )?;
        Ok(())
    }

    fn set(
        &self,
        key: &str,
        stage: Stage,
        task_id: Option<&str>,
        detail: Option<&str>,
    ) -> Result<(), JournalError> {
        self.connection().execute(
            "UPDATE jobs SET stage = ?2, task_id = COALESCE(?3, task_id), detail = ?4,
                 updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE key = ?1",
            params![key, stage.as_str(), task_id, detail],
        )?;
        Ok(())
    }

    /// A `createTask` for the job is about to be sent.
    pub(crate) fn sending(&self, key: &str) -> Result<(), JournalError> {
        self.set(key, Stage::Sending, None, None)
    }

    /// The job's task exists.
    pub(crate) fn submitted(&self, key: &str, task_id: &str) -> Result<(), JournalError> {
        self.set(key, Stage::Submitted, Some(task_id), None)
    }

    /// The job was not sent after all, or its `createTask` provably created nothing.
    pub(crate) fn pending(&self, key: &str, why: &str) -> Result<(), JournalError> {
        self.set(key, Stage::Pending, None, Some(why))
    }

    /// Nobody knows whether the job's `createTask` created a task.
    pub(crate) fn unknown(&self, key: &str, why: &str) -> Result<(), JournalError> {
        self.set(key, Stage::Unknown, None, Some(why))
    }

    /// The job's task failed.
    pub(crate) fn failed(&self, key: &str, why: &str) -> Result<(), JournalError> {
        self.set(key, Stage::Failed, None, Some(why))
    }

    /// The job's task is still going, after an error on the way (kept for the next run).
    pub(crate) fn note(&self, key: &str, why: &str) -> Result<(), JournalError> {
        self.connection().execute(
            "UPDATE jobs SET detail = ?2, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE key = ?1",
            params![key, why],
        )?;
        Ok(())
    }

    /// The job's result is saved at `output`.
    pub(crate) fn saved(&self, key: &str, output: &Path, bytes: u64) -> Result<(), JournalError> {
        self.connection().execute(
            "UPDATE jobs SET stage = 'saved', output = ?2, bytes = ?3, detail = NULL,
                 updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE key = ?1",
            params![
                key,
                output.to_string_lossy(),
                i64::try_from(bytes).unwrap_or(i64::MAX)
            ],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_is_read_back_and_a_second_run_is_kept_out() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("journal.sqlite");
        {
            let journal = Journal::open(&path).expect("opens");
            journal.add("a", "m", "f1", "{}").expect("adds");
            journal.add("b", "m", "f2", "{}").expect("adds");
            journal.add("c", "m", "f3", "{}").expect("adds");
            journal.sending("a").expect("writes");
            journal.submitted("a", "task-1").expect("writes");
            journal
                .saved("a", &dir.path().join("a.mp4"), 42)
                .expect("writes");
            journal.sending("b").expect("writes");
            journal.unknown("b", "no answer").expect("writes");

            assert!(matches!(Journal::open(&path), Err(JournalError::InUse)));
        }
        let journal = Journal::open(&path).expect("opens again once the first is closed");
        let rows = journal.rows().expect("reads");
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
    }
}
