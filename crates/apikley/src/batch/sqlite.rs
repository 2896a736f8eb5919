//! The journal in an SQLite file beside the results: one run at a time holds it (an exclusive
//! lock the OS drops when the run dies), so every job is that run's.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

use super::journal::{Claim, JournalError, Pending, Row, Stage, Store};
use crate::store::{Store as Sqlite, create_private};

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
pub(crate) struct SqliteJournal {
    store: Sqlite,
    location: String,
}

impl SqliteJournal {
    /// Opens (or creates, readable by its owner only) the journal at `path`, brings an older
    /// schema up to date, and takes it for this run.
    pub(crate) fn open(path: &Path) -> Result<SqliteJournal, JournalError> {
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
        Ok(SqliteJournal {
            store: Sqlite::new(connection),
            location: path.display().to_string(),
        })
    }

    /// Runs `statement` on the blocking pool.
    async fn run<T: Send + 'static>(
        &self,
        statement: impl FnOnce(&Connection) -> Result<T, JournalError> + Send + 'static,
    ) -> Result<T, JournalError> {
        self.store.run(statement, JournalError::Writer).await
    }

    /// The jobs (of `key` only, when given), in the order they were first added.
    async fn select(&self, key: Option<String>) -> Result<Vec<Row>, JournalError> {
        self.run(move |connection| {
            let mut statement = connection.prepare(
                "SELECT key, fingerprint, fingerprint_of, stage, task_id, output, bytes, detail, request
                 FROM jobs WHERE ?1 IS NULL OR key = ?1 ORDER BY position",
            )?;
            let rows = statement.query_map([key], |row| {
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
                out.push(Row {
                    key,
                    fingerprint,
                    legacy_fingerprint: of != "input",
                    stage: Stage::parse(&stage)?,
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
}

impl Store for SqliteJournal {
    fn location(&self) -> &str {
        &self.location
    }

    fn rows(&self) -> Pending<'_, Vec<Row>> {
        Box::pin(self.select(None))
    }

    fn add<'a>(
        &'a self,
        key: &'a str,
        model: &'a str,
        fingerprint: &'a str,
        request: &'a str,
    ) -> Pending<'a, ()> {
        let (key, model, fingerprint, request) = (
            key.to_owned(),
            model.to_owned(),
            fingerprint.to_owned(),
            request.to_owned(),
        );
        Box::pin(self.run(move |connection| {
            let position: i64 = connection
                .query_row("SELECT COALESCE(MAX(position), 0) + 1 FROM jobs", [], |r| {
                    r.get(0)
                })
                .optional()?
                .unwrap_or(1);
            connection.execute(
                "INSERT INTO jobs (key, position, model, fingerprint, fingerprint_of, request, stage)
                 VALUES (?1, ?2, ?3, ?4, 'input', ?5, 'pending') ON CONFLICT (key) DO NOTHING",
                params![key, position, model, fingerprint, request],
            )?;
            Ok(())
        }))
    }

    fn refingerprint<'a>(&'a self, key: &'a str, fingerprint: &'a str) -> Pending<'a, ()> {
        let (key, fingerprint) = (key.to_owned(), fingerprint.to_owned());
        Box::pin(self.run(move |connection| {
            connection.execute(
                "UPDATE jobs SET fingerprint = ?2, fingerprint_of = 'input' WHERE key = ?1",
                params![key, fingerprint],
            )?;
            Ok(())
        }))
    }

    /// Every job is this run's: the file is locked for it.
    fn claim<'a>(&'a self, key: &'a str) -> Pending<'a, Claim> {
        let key = key.to_owned();
        Box::pin(async move {
            let row = self.select(Some(key.clone())).await?.into_iter().next();
            row.map(Claim::Ours).ok_or(JournalError::NoJob(key))
        })
    }

    fn release<'a>(&'a self, _key: &'a str) -> Pending<'a, ()> {
        Box::pin(async { Ok(()) })
    }

    fn renew(&self) -> Pending<'_, ()> {
        Box::pin(async { Ok(()) })
    }

    fn set<'a>(
        &'a self,
        key: &'a str,
        stage: Stage,
        task_id: Option<&'a str>,
        detail: Option<&'a str>,
    ) -> Pending<'a, ()> {
        let (key, task_id, detail) = (
            key.to_owned(),
            task_id.map(str::to_owned),
            detail.map(str::to_owned),
        );
        Box::pin(self.run(move |connection| {
            connection.execute(
                "UPDATE jobs SET stage = ?2, task_id = COALESCE(?3, task_id), detail = ?4,
                     updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE key = ?1",
                params![key, stage.as_str(), task_id, detail],
            )?;
            Ok(())
        }))
    }

    fn note<'a>(&'a self, key: &'a str, why: &'a str) -> Pending<'a, ()> {
        let (key, why) = (key.to_owned(), why.to_owned());
        Box::pin(self.run(move |connection| {
            connection.execute(
                "UPDATE jobs SET detail = ?2, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE key = ?1",
                params![key, why],
            )?;
            Ok(())
        }))
    }

    fn saved<'a>(&'a self, key: &'a str, output: &'a Path, bytes: u64) -> Pending<'a, ()> {
        let (key, output) = (key.to_owned(), output.to_string_lossy().into_owned());
        Box::pin(self.run(move |connection| {
            connection.execute(
                "UPDATE jobs SET stage = 'saved', output = ?2, bytes = ?3, detail = NULL,
                     updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE key = ?1",
                params![key, output, i64::try_from(bytes).unwrap_or(i64::MAX)],
            )?;
            Ok(())
        }))
    }
}

/// Brings a journal written by an older version up to [`SCHEMA_VERSION`], in one transaction.
fn migrate(connection: &Connection) -> Result<(), JournalError> {
    let version: i64 = connection.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(JournalError::Newer {
            found: version,
            knows: SCHEMA_VERSION,
        });
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
            let opened = SqliteJournal::open(&path).expect("opens");
            let journal: &dyn Store = &opened;
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

            assert!(matches!(
                SqliteJournal::open(&path),
                Err(JournalError::InUse)
            ));
        }
        let journal = SqliteJournal::open(&path).expect("opens again once the first is closed");
        let journal: &dyn Store = &journal;
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
        drop(SqliteJournal::open(&path).expect("opens"));
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
        assert!(matches!(
            SqliteJournal::open(&path),
            Err(JournalError::Newer { found: 2, .. })
        ));
    }
}
