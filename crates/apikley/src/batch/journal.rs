//! What a batch asks of its durable journal, whichever store holds it: one row per job,
//! written at every step that matters, above all before a `createTask` is sent and the moment
//! its task id is known. A crash at any instant leaves a journal that says what may have been
//! paid for. Two stores: an SQLite file (one run at a time) and, with the `postgres` feature, a
//! PostgreSQL database that several workers share.

use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;

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
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Stage::Pending => "pending",
            Stage::Sending => "sending",
            Stage::Submitted => "submitted",
            Stage::Saved => "saved",
            Stage::Failed => "failed",
            Stage::Unknown => "unknown",
        }
    }

    pub(crate) fn parse(text: &str) -> Result<Stage, JournalError> {
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
        .ok_or_else(|| JournalError::UnknownStage(text.to_owned()))
    }
}

/// A job as the journal has it.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) key: String,
    pub(crate) fingerprint: String,
    /// The fingerprint covers the body sent, defaults included (a version-0 journal).
    pub(crate) legacy_fingerprint: bool,
    pub(crate) stage: Stage,
    pub(crate) task_id: Option<String>,
    pub(crate) output: Option<PathBuf>,
    pub(crate) bytes: Option<u64>,
    pub(crate) detail: Option<String>,
    /// The body recorded when the job was added.
    pub(crate) request: String,
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
    #[cfg(feature = "postgres")]
    #[error("{0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("it cannot be created: {0}")]
    Create(#[source] std::io::Error),
    #[error("it holds a job in a state this version does not know: {0:?}")]
    UnknownStage(String),
    #[error(
        "it was written by a newer version of this SDK (schema {found}; this one knows {knows})"
    )]
    Newer { found: i64, knows: i64 },
    #[error("the journal's writer stopped: {0}")]
    Writer(String),
    #[cfg_attr(
        not(feature = "postgres"),
        allow(dead_code, reason = "shared stores only")
    )]
    #[error("job {0}: another worker holds it now (this worker's claim lapsed)")]
    NotHeld(String),
    #[error("it has no job {0}")]
    NoJob(String),
}

/// A journal operation under way.
pub(crate) type Pending<'a, T> = Pin<Box<dyn Future<Output = Result<T, JournalError>> + Send + 'a>>;

/// What taking a job for this run found.
#[derive(Debug)]
pub(crate) enum Claim {
    /// The job is this run's until released: its row as it stands.
    Ours(Row),
    /// Another run finished it: its row.
    #[cfg_attr(
        not(feature = "postgres"),
        allow(dead_code, reason = "shared stores only")
    )]
    Over(Row),
    /// Another live run holds it.
    #[cfg_attr(
        not(feature = "postgres"),
        allow(dead_code, reason = "shared stores only")
    )]
    Held,
}

/// A store that holds a batch's journal. Every write is durable when its future returns; the
/// writes that move a job are refused ([`JournalError::NotHeld`]) unless this run holds it.
pub(crate) trait Store: Send + Sync + fmt::Debug {
    /// Where it is, for messages: a file's path, or a database's address without its password.
    fn location(&self) -> &str;

    /// Every job, in the order they were first added.
    fn rows(&self) -> Pending<'_, Vec<Row>>;

    /// Adds a job, never sent, unless one of its key is there (added by another worker).
    fn add<'a>(
        &'a self,
        key: &'a str,
        model: &'a str,
        fingerprint: &'a str,
        request: &'a str,
    ) -> Pending<'a, ()>;

    /// The job's fingerprint, made again from what the user wrote (for a row whose
    /// fingerprint covered the body sent).
    fn refingerprint<'a>(&'a self, key: &'a str, fingerprint: &'a str) -> Pending<'a, ()>;

    /// Takes the job for this run, unless another holds it or finished it.
    fn claim<'a>(&'a self, key: &'a str) -> Pending<'a, Claim>;

    /// Gives the job back: this run did what it could with it.
    fn release<'a>(&'a self, key: &'a str) -> Pending<'a, ()>;

    /// Keeps this run's claims alive (called every [`HEARTBEAT`]), so that only a run that
    /// stopped loses them.
    fn renew(&self) -> Pending<'_, ()>;

    /// Moves the job to `stage` (keeping its task id when none is given) with `detail`.
    fn set<'a>(
        &'a self,
        key: &'a str,
        stage: Stage,
        task_id: Option<&'a str>,
        detail: Option<&'a str>,
    ) -> Pending<'a, ()>;

    /// Notes why the job's task is still going after an error on the way (for the next run).
    fn note<'a>(&'a self, key: &'a str, why: &'a str) -> Pending<'a, ()>;

    /// The job's result is saved at `output` (an absolute path).
    fn saved<'a>(&'a self, key: &'a str, output: &'a Path, bytes: u64) -> Pending<'a, ()>;
}

impl dyn Store {
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
}

/// How often a run renews its claims.
pub(crate) const HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(5);
