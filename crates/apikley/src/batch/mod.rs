//! Many tasks at once, surviving a crash: jobs with keys, run with bounded concurrency inside
//! the client's rate limits, each one's state in a durable journal (SQLite, WAL, synced; or,
//! with the `postgres` feature, a PostgreSQL database that workers on several machines share:
//! [`Batch::open_shared`]), so that a run killed at any instant can be run again and lose
//! nothing, and pay for nothing twice.
//!
//! Running the same batch again reads the journal: saved jobs are skipped (their files
//! checked), tasks in flight are waited for by id and downloaded, jobs never sent are sent. A
//! job whose `createTask` went out without an answer is **not** resent: nobody can tell whether
//! it created a task (tasks cannot be looked up by content), so it is reported as
//! [`JobOutcome::OutcomeUnknown`] until the caller decides ([`Batch::resend_unknown`]). A job
//! whose content changed under the same key is refused, never silently generated again.
//!
//! ```no_run
//! # async fn run(client: apikley::Client, spec: std::sync::Arc<apikley::ModelSpec>) -> Result<(), Box<dyn std::error::Error>> {
//! use apikley::batch::Batch;
//! use serde_json::json;
//!
//! let mut batch = Batch::open("videos")?.concurrency(8); // journal: videos/apikley-batch.sqlite
//! for (key, prompt) in [("beach", "A serene beach at sunset"), ("fox", "A fox in fresh snow")] {
//!     let request = apikley::Request::new(spec.clone()).with_input("prompt", prompt);
//!     batch.add(key, request)?;
//! }
//! let report = batch
//!     .run(&client)
//!     .on_event(|event| eprintln!("{}: {}", event.key, event.stage))
//!     .await?;
//! for job in &report.jobs {
//!     println!("{}: {}", job.key, job.outcome);
//! }
//! # Ok(()) }
//! ```

mod journal;
#[cfg(feature = "postgres")]
mod postgres;
mod sqlite;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::{Future, IntoFuture};
use std::path::{Path, PathBuf};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::{Semaphore, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::client::Client;
use crate::error::{Error, ErrorKind, Violations};
use crate::files::MediaType;
use crate::inbox::CallbackInbox;
use crate::record::{TaskId, TaskRecord};
use crate::request::Request;
use crate::task::Task;
use journal::{Claim, HEARTBEAT, JournalError, Stage, Store};
use sqlite::SqliteJournal;

/// The journal's file name in the output folder, unless another path is given.
pub const JOURNAL_FILE: &str = "apikley-batch.sqlite";

/// The lock file in the output folder: while a run uses the folder, no run with another
/// journal may (each would take the other's files for its own). It names the journal of the
/// run that holds it; the OS releases it when that run ends, or dies.
pub const LOCK_FILE: &str = ".apikley-batch.lock";

/// How many jobs are in flight at once, unless set: enough to keep the documented create
/// limit (20 per 10 s) busy with tasks of two minutes.
pub const DEFAULT_CONCURRENCY: usize = 250;

/// At most this many `createTask` calls of a batch are on their way at once. A crash can only
/// leave unknown the creates on their way at that instant, and the documented create limit
/// (20 per 10 s) needs no more than this to keep its pace, even on a slow network.
pub const CREATES_IN_FLIGHT: usize = 2;

/// Why a batch cannot run (nothing was sent).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError {
    /// The output folder cannot be made or used.
    #[error("{}: {source}", .path.display())]
    Folder {
        /// The folder.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The journal cannot be opened, read or written.
    #[error("the batch journal {} cannot be used: {reason}", .path.display())]
    Journal {
        /// The journal file, or its database's address (without a password).
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// Another run holds the journal.
    #[error("the batch journal {} is in use by another run of this batch", .path.display())]
    JournalInUse {
        /// The journal file.
        path: PathBuf,
    },
    /// Another run, with another journal, is using the output folder.
    #[error(
        "the output folder {} is in use by another run (journal {}); one run per output folder: wait for it, or give this batch its own folder",
        .folder.display(),
        .journal
    )]
    FolderInUse {
        /// The folder.
        folder: PathBuf,
        /// The other run's journal, as its lock file names it.
        journal: String,
    },
    /// A job cannot be added.
    #[error("job {key:?}: {problem}")]
    Job {
        /// The job's key.
        key: String,
        /// What is wrong.
        problem: JobProblem,
    },
    /// Jobs whose content (the model and the inputs as written) differs from what the journal
    /// recorded under the same key. Nothing was sent.
    #[error(
        "{} changed since the journal recorded {}: {}. Nothing was sent. Put back what {} held, or give \
         the new content a new key (only that job is then generated); the jobs already paid for \
         stay in this journal, so keep using it",
        if .0.len() == 1 { "a job" } else { "jobs" },
        if .0.len() == 1 { "it" } else { "them" },
        .0.join(", "),
        if .0.len() == 1 { "it" } else { "they" },
    )]
    Changed(Vec<String>),
    /// The spending cap was asked for, and the account's balance could not be read before the
    /// first send. Nothing was sent.
    #[error("the balance could not be read to enforce the spending cap: {0}. Nothing was sent")]
    Balance(String),
}

/// Why a run stopped sending jobs (those not sent end in [`JobOutcome::Error`], and the next
/// run sends them).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SendingStopped {
    /// The service refused a task for lack of credits (its message).
    OutOfCredits(String),
    /// The balance dropped by [`Batch::max_credits`] or more since the run began.
    SpendingCap {
        /// The cap.
        cap: f64,
        /// What the balance had dropped by when it was seen.
        spent: f64,
    },
    /// The balance could not be read after a task was created, so the spending cap could not
    /// be enforced (what went wrong).
    BalanceUnread(String),
}

impl fmt::Display for SendingStopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendingStopped::OutOfCredits(reason) => {
                write!(f, "the account ran out of credits ({reason})")
            }
            SendingStopped::SpendingCap { cap, spent } => write!(
                f,
                "the spending cap is reached ({spent} of {cap} credits spent in this run)"
            ),
            SendingStopped::BalanceUnread(reason) => write!(
                f,
                "the balance could not be read to enforce the spending cap ({reason})"
            ),
        }
    }
}

/// What is wrong with a job.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum JobProblem {
    /// The key cannot name a file on every platform.
    #[error("{0}")]
    BadKey(KeyProblem),
    /// Another job has the same key, or one that differs only in case (which names the same
    /// file on macOS and Windows).
    #[error("the key is used by another job (keys that differ only in case count as one)")]
    DuplicateKey,
    /// The request names no model this SDK knows.
    #[error("{0}")]
    UnknownModel(String),
    /// The request breaks its model's spec.
    #[error("{0}")]
    Invalid(Violations),
}

/// How a job ended, in this run or an earlier one.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum JobOutcome {
    /// Its result is saved.
    Saved {
        /// The task.
        task_id: TaskId,
        /// The file.
        path: PathBuf,
        /// Its size.
        bytes: u64,
        /// Saved by an earlier run (and still there).
        earlier: bool,
        /// The task's final record, when this run saw it end (not for a result saved by an
        /// earlier run).
        record: Option<Box<TaskRecord>>,
    },
    /// Its task failed.
    Failed {
        /// The task.
        task_id: Option<TaskId>,
        /// What the service said.
        reason: String,
    },
    /// Its `createTask` went out and no answer said whether it created a task. Not resent:
    /// look for the task in Apikley's logs, or run again with
    /// [`resend_unknown`](Batch::resend_unknown) to accept the risk of paying twice.
    OutcomeUnknown {
        /// What happened.
        reason: String,
    },
    /// Stopped before it finished (the run was cancelled); run the batch again to go on.
    Stopped {
        /// Its task, when one exists.
        task_id: Option<TaskId>,
    },
    /// An error that another run may get past (the service refused the request without
    /// creating a task, a wait timed out, a download failed). Run the batch again to retry.
    Error {
        /// Its task, when one exists (then the next run waits for it, and never resends).
        task_id: Option<TaskId>,
        /// The error.
        reason: String,
    },
}

impl JobOutcome {
    /// The task, when one exists.
    pub fn task_id(&self) -> Option<&TaskId> {
        match self {
            JobOutcome::Saved { task_id, .. } => Some(task_id),
            JobOutcome::Failed { task_id, .. }
            | JobOutcome::Stopped { task_id }
            | JobOutcome::Error { task_id, .. } => task_id.as_ref(),
            JobOutcome::OutcomeUnknown { .. } => None,
        }
    }

    /// A one-word name: `saved`, `failed`, `unknown`, `stopped`, `error`.
    pub fn name(&self) -> &'static str {
        match self {
            JobOutcome::Saved { .. } => "saved",
            JobOutcome::Failed { .. } => "failed",
            JobOutcome::OutcomeUnknown { .. } => "unknown",
            JobOutcome::Stopped { .. } => "stopped",
            JobOutcome::Error { .. } => "error",
        }
    }
}

impl fmt::Display for JobOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JobOutcome::Saved {
                path,
                bytes,
                earlier,
                ..
            } => {
                write!(f, "saved {} ({bytes} bytes)", path.display())?;
                if *earlier {
                    f.write_str(", by an earlier run")?;
                }
                Ok(())
            }
            JobOutcome::Failed { reason, .. } => write!(f, "failed: {reason}"),
            JobOutcome::OutcomeUnknown { reason } => write!(
                f,
                "outcome unknown (not resent, it may have created a task): {reason}"
            ),
            JobOutcome::Stopped { task_id: Some(id) } => {
                write!(f, "stopped; task {id} goes on (run again to finish)")
            }
            JobOutcome::Stopped { task_id: None } => f.write_str("stopped before it was sent"),
            JobOutcome::Error { reason, .. } => write!(f, "{reason}"),
        }
    }
}

/// Where a job is now, as reported to [`BatchRun::on_event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum JobStage {
    /// Being sent (its files uploaded, then `createTask`).
    Submitting,
    /// Its task exists; waiting for it to end.
    Waiting,
    /// Its result is being downloaded.
    Downloading,
    /// Done, one way or another: see the outcome.
    Finished,
}

impl fmt::Display for JobStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JobStage::Submitting => "submitting",
            JobStage::Waiting => "waiting",
            JobStage::Downloading => "downloading",
            JobStage::Finished => "finished",
        })
    }
}

/// How many jobs stand where.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counts {
    /// Jobs in this run.
    pub total: usize,
    /// Not started yet.
    pub queued: usize,
    /// Being sent.
    pub submitting: usize,
    /// Their tasks are running.
    pub waiting: usize,
    /// Their results are downloading.
    pub downloading: usize,
    /// Saved (this run or an earlier one).
    pub saved: usize,
    /// Their tasks failed.
    pub failed: usize,
    /// Sent without an answer: not resent.
    pub unknown: usize,
    /// Ended in an error another run may get past, or stopped.
    pub other: usize,
}

impl Counts {
    /// Jobs that are over for this run.
    pub fn finished(&self) -> usize {
        self.saved + self.failed + self.unknown + self.other
    }
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} saved, {} waiting, {} submitting, {} queued",
            self.saved,
            self.waiting + self.downloading,
            self.submitting,
            self.queued
        )?;
        for (count, name) in [
            (self.failed, "failed"),
            (self.unknown, "unknown"),
            (self.other, "other"),
        ] {
            if count > 0 {
                write!(f, ", {count} {name}")?;
            }
        }
        Ok(())
    }
}

/// A change in one job, with the counts after it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BatchEvent {
    /// The job's key.
    pub key: String,
    /// Where it is now.
    pub stage: JobStage,
    /// Its task, once one exists.
    pub task_id: Option<TaskId>,
    /// How it ended, with [`JobStage::Finished`].
    pub outcome: Option<JobOutcome>,
    /// All jobs, after this change.
    pub counts: Counts,
    /// Time since the run began.
    pub elapsed: Duration,
    /// When the remaining jobs should be done, at the pace of this run so far.
    pub eta: Option<Duration>,
}

/// One job's result.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct JobReport {
    /// The job's key.
    pub key: String,
    /// How it ended.
    pub outcome: JobOutcome,
}

/// What a run did.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BatchReport {
    /// Every job of the run, in the order added.
    pub jobs: Vec<JobReport>,
    /// Keys the journal holds that were not added this time (left as they are).
    pub dropped: Vec<String>,
    /// The journal: its file, or its database's address (without a password).
    pub journal: PathBuf,
    /// The counts at the end.
    pub counts: Counts,
    /// Why no further job was sent, if sending stopped before every job was (those jobs end in
    /// [`JobOutcome::Error`] and are sent by the next run).
    pub sending_stopped: Option<SendingStopped>,
}

impl BatchReport {
    /// Whether every job's result is saved.
    pub fn is_complete(&self) -> bool {
        self.counts.saved == self.counts.total
    }
}

/// A job added to a batch.
#[derive(Debug)]
struct Job {
    key: String,
    request: Request,
    fingerprint: String,
}

/// A batch of jobs with its journal. Open it, add jobs, run it.
#[derive(Debug)]
pub struct Batch {
    /// Held while this batch (and its run) lives: see [`LOCK_FILE`].
    _lock: std::fs::File,
    journal: Arc<dyn Store>,
    out_dir: PathBuf,
    concurrency: usize,
    resend_unknown: bool,
    max_credits: Option<f64>,
    jobs: Vec<Job>,
    keys: HashSet<String>,
    /// The keys in lower case: keys that differ only in case name one file on macOS and
    /// Windows.
    folded: HashSet<String>,
}

impl Batch {
    /// Opens the batch whose results go to `out_dir` (made if missing), with its journal there
    /// ([`JOURNAL_FILE`]).
    pub fn open(out_dir: impl Into<PathBuf>) -> Result<Batch, BatchError> {
        let out_dir = out_dir.into();
        let journal = out_dir.join(JOURNAL_FILE);
        Batch::open_with_journal(out_dir, journal)
    }

    /// Opens the batch whose results go to `out_dir`, journaled at `journal`.
    pub fn open_with_journal(
        out_dir: impl Into<PathBuf>,
        journal: impl AsRef<Path>,
    ) -> Result<Batch, BatchError> {
        let out_dir = made(out_dir.into())?;
        let path = journal.as_ref();
        let lock = lock_folder(&out_dir, path)?;
        let journal = SqliteJournal::open(path).map_err(|e| journal_error(path, e))?;
        Ok(Batch::with_store(lock, Arc::new(journal), out_dir))
    }

    /// Opens the batch named `name` in the PostgreSQL database at `url`
    /// (`postgres://USER@HOST:PORT/DB`), whose results go to `out_dir`: any number of
    /// workers, on any machines, may run it at once. Each job is claimed by one worker at a
    /// time (a lease it renews while it lives); a worker that dies leaves its jobs to the
    /// others once its leases lapse. Each worker needs its own output folder.
    #[cfg(feature = "postgres")]
    pub async fn open_shared(
        out_dir: impl Into<PathBuf>,
        url: &str,
        name: &str,
    ) -> Result<Batch, BatchError> {
        let out_dir = made(out_dir.into())?;
        let journal = postgres::PgJournal::connect(url, name)
            .await
            .map_err(|e| journal_error(Path::new(&postgres::redacted(url)), e))?;
        let lock = lock_folder(&out_dir, Path::new(journal.location()))?;
        Ok(Batch::with_store(lock, Arc::new(journal), out_dir))
    }

    fn with_store(lock: std::fs::File, journal: Arc<dyn Store>, out_dir: PathBuf) -> Batch {
        Batch {
            _lock: lock,
            journal,
            out_dir,
            concurrency: DEFAULT_CONCURRENCY,
            resend_unknown: false,
            max_credits: None,
            jobs: Vec::new(),
            keys: HashSet::new(),
            folded: HashSet::new(),
        }
    }

    /// At most this many jobs in flight at once (at least 1; default
    /// [`DEFAULT_CONCURRENCY`]). The client's rate limits apply on top.
    #[must_use]
    pub fn concurrency(mut self, jobs: usize) -> Self {
        self.concurrency = jobs.max(1);
        self
    }

    /// Sends again the jobs whose outcome is unknown: they may have created a task already,
    /// so this may pay twice. Only for when you have checked.
    #[must_use]
    pub fn resend_unknown(mut self, resend: bool) -> Self {
        self.resend_unknown = resend;
        self
    }

    /// Stops sending jobs once the account's balance has dropped by `credits` since the run
    /// began (read before the first send, and again after each task created). The creates on
    /// their way when it is seen are still charged: at most [`CREATES_IN_FLIGHT`] tasks more.
    #[must_use]
    pub fn max_credits(mut self, credits: f64) -> Self {
        self.max_credits = Some(credits);
        self
    }

    /// Adds a job: its key names its result file (`KEY.mp4`, the extension that of what it
    /// turns out to be) and its row in the journal, so it must be a portable file name (see
    /// [`key_problem`]) unlike any other key in case. The request is checked against its
    /// model's spec now.
    pub fn add(
        &mut self,
        key: impl Into<String>,
        request: impl Into<Request>,
    ) -> Result<(), BatchError> {
        let key = key.into();
        let request = request.into();
        let problem = |problem| BatchError::Job {
            key: key.clone(),
            problem,
        };
        if let Some(bad) = key_problem(&key) {
            return Err(problem(JobProblem::BadKey(bad)));
        }
        if self.folded.contains(&key.to_lowercase()) {
            return Err(problem(JobProblem::DuplicateKey));
        }
        if request.spec().is_none() {
            let violations = request.violations();
            return Err(problem(JobProblem::UnknownModel(violations.to_string())));
        }
        let violations = request.violations();
        if !violations.is_empty() {
            return Err(problem(JobProblem::Invalid(violations)));
        }
        self.folded.insert(key.to_lowercase());
        self.keys.insert(key.clone());
        self.jobs.push(Job {
            fingerprint: fingerprint(&written(&request)),
            key,
            request,
        });
        Ok(())
    }

    /// Where the journal is: its file, or its database's address (without a password).
    pub fn journal_path(&self) -> &Path {
        Path::new(self.journal.location())
    }

    /// Runs the batch with `client`; `.await` it for the report.
    pub fn run(self, client: &Client) -> BatchRun<'static> {
        BatchRun {
            batch: self,
            client: client.clone(),
            cancel: CancellationToken::new(),
            callbacks: None,
            on_event: None,
        }
    }
}

/// A configured run; `.await` it. Made by [`Batch::run`].
#[must_use = "a BatchRun does nothing until awaited"]
pub struct BatchRun<'a> {
    batch: Batch,
    client: Client,
    cancel: CancellationToken,
    callbacks: Option<Callbacks>,
    on_event: Option<EventFn<'a>>,
}

/// Where this run's callbacks go and where they are heard.
#[derive(Debug, Clone)]
struct Callbacks {
    url: String,
    inbox: CallbackInbox,
}

type EventFn<'a> = Box<dyn FnMut(&BatchEvent) + Send + 'a>;

impl fmt::Debug for BatchRun<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchRun")
            .field("batch", &self.batch)
            .finish_non_exhaustive()
    }
}

impl<'a> BatchRun<'a> {
    /// Stops when the token is cancelled: no job is started any more, a `createTask` already
    /// on its way is let finish (so its task id is journaled), waits stop. The journal stays
    /// consistent; run the batch again to go on.
    pub fn cancel_on(mut self, token: CancellationToken) -> Self {
        self.cancel = token;
        self
    }

    /// Callbacks instead of polling: every `createTask` of this run names `url` as its
    /// `callBackUrl`, and every wait makes no status query until `inbox` hears of its task
    /// (hand it what the endpoint at `url` verifies), then confirms the task by id
    /// ([`Waiter::callbacks`](crate::Waiter::callbacks)). Tasks created by an earlier run
    /// without callbacks are waited for the same way, falling back to polling should no
    /// callback come. The URL is not part of a job's content: a batch may be resumed with or
    /// without it.
    pub fn callbacks(mut self, url: impl Into<String>, inbox: CallbackInbox) -> Self {
        self.callbacks = Some(Callbacks {
            url: url.into(),
            inbox,
        });
        self
    }

    /// Calls `on_event` at every change of a job (replacing any earlier callback).
    pub fn on_event<'b>(self, on_event: impl FnMut(&BatchEvent) + Send + 'b) -> BatchRun<'b>
    where
        'a: 'b,
    {
        BatchRun {
            batch: self.batch,
            client: self.client,
            cancel: self.cancel,
            callbacks: self.callbacks,
            on_event: Some(Box::new(on_event)),
        }
    }
}

impl<'a> IntoFuture for BatchRun<'a> {
    type Output = Result<BatchReport, BatchError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.go())
    }
}

/// What every job of a run shares.
struct Shared {
    client: Client,
    journal: Arc<dyn Store>,
    resend_unknown: bool,
    out_dir: PathBuf,
    cancel: CancellationToken,
    callbacks: Option<Callbacks>,
    permits: Semaphore,
    creates: Semaphore,
    events: mpsc::UnboundedSender<(usize, JobStage, Option<TaskId>)>,
    /// Set when no further job may be sent (the account ran out of credits, the spending cap
    /// is reached).
    sending_stopped: std::sync::OnceLock<SendingStopped>,
    /// Cancelled at the same moment, to wake the jobs waiting to send.
    sends_stopped: CancellationToken,
    /// The spending cap and the balance when the run began.
    cap: Option<(f64, f64)>,
}

impl Shared {
    /// The outcome of a job not sent because sending stopped, if it did.
    fn not_sent(&self) -> Option<JobOutcome> {
        self.sending_stopped.get().map(|why| JobOutcome::Error {
            task_id: None,
            reason: format!("not sent: {why}"),
        })
    }

    /// No job is sent from now on, for `why` (the first reason given stays).
    fn stop_sending(&self, why: SendingStopped) {
        if self.sending_stopped.get().is_none() {
            tracing::warn!(%why, "no further job is sent");
        }
        let _ = self.sending_stopped.set(why);
        self.sends_stopped.cancel();
    }

    /// After a task was created: whether the spending cap is reached, by the balance now.
    async fn check_spending(&self) {
        let Some((cap, start)) = self.cap else {
            return;
        };
        match self.client.credits().await {
            Ok(balance) if start - balance >= cap => {
                self.stop_sending(SendingStopped::SpendingCap {
                    cap,
                    spent: start - balance,
                })
            }
            Ok(_) => {}
            // Unread, the spending is unknown: stop rather than overspend.
            Err(e) => self.stop_sending(SendingStopped::BalanceUnread(e.to_string())),
        }
    }
}

/// Where a job starts this run, from the journal.
#[derive(Debug)]
enum Start {
    Send,
    Wait(TaskId),
    Check {
        task_id: Option<TaskId>,
        path: PathBuf,
        bytes: u64,
    },
    Over(JobOutcome),
}

impl BatchRun<'_> {
    async fn go(mut self) -> Result<BatchReport, BatchError> {
        let batch = self.batch;
        let journal_path = PathBuf::from(batch.journal.location());
        let jerr = |e: JournalError| journal_error(&journal_path, e);

        // Reconcile with the journal before anything is sent.
        let rows: HashMap<String, journal::Row> = batch
            .journal
            .rows()
            .await
            .map_err(jerr)?
            .into_iter()
            .map(|row| (row.key().to_owned(), row))
            .collect();
        let mut changed = Vec::new();
        let mut recorded_whole = Vec::new();
        for job in &batch.jobs {
            match rows.get(&job.key) {
                Some(row) if row.has_legacy_fingerprint() => {
                    if same_as_recorded(row.request(), &job.request) {
                        recorded_whole.push(job);
                    } else {
                        changed.push(job.key.clone());
                    }
                }
                Some(row) if row.fingerprint() != job.fingerprint => changed.push(job.key.clone()),
                _ => {}
            }
        }
        if !changed.is_empty() {
            return Err(BatchError::Changed(changed));
        }
        // Rows of an older journal get the fingerprint of what the user wrote.
        for job in recorded_whole {
            batch
                .journal
                .refingerprint(&job.key, &job.fingerprint)
                .await
                .map_err(jerr)?;
        }
        remove_leftovers(&batch.out_dir, &batch.keys);
        let mut dropped: Vec<String> = rows
            .keys()
            .filter(|key| !batch.keys.contains(*key))
            .cloned()
            .collect();
        dropped.sort();
        // Tasks already running first: they are paid for, and may be done.
        let mut running_first = Vec::with_capacity(batch.jobs.len());
        // The jobs to send: each is taken only once one of this run's creates is free, so that
        // workers sharing a journal split them instead of one taking all.
        let mut to_send = Vec::with_capacity(batch.jobs.len());
        for job in &batch.jobs {
            match rows.get(&job.key) {
                None => {
                    let body = job.request.body();
                    let model = job.request.model_id().unwrap_or_default();
                    batch
                        .journal
                        .add(&job.key, model, &job.fingerprint, &body.to_string())
                        .await
                        .map_err(jerr)?;
                    running_first.push(false);
                    to_send.push(true);
                }
                Some(row) => {
                    running_first.push(row.task_id().is_some() && row.stage() != Stage::Saved);
                    to_send.push(matches!(start_of(row, batch.resend_unknown), Start::Send));
                }
            }
        }

        // The balance the spending cap counts from, read before anything is sent.
        let cap = match batch.max_credits {
            Some(cap) => match self.client.credits().await {
                Ok(balance) => Some((cap, balance)),
                Err(e) => return Err(BatchError::Balance(e.to_string())),
            },
            None => None,
        };
        let (events, mut event_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            client: self.client,
            journal: batch.journal,
            resend_unknown: batch.resend_unknown,
            out_dir: batch.out_dir,
            cancel: self.cancel,
            callbacks: self.callbacks,
            permits: Semaphore::new(batch.concurrency),
            creates: Semaphore::new(CREATES_IN_FLIGHT),
            events,
            sending_stopped: std::sync::OnceLock::new(),
            sends_stopped: CancellationToken::new(),
            cap,
        });
        let started = Instant::now();
        let total = batch.jobs.len();
        let mut stages: Vec<Option<JobStage>> = vec![None; total];
        let mut outcomes: Vec<Option<JobOutcome>> = vec![None; total];
        let mut counts = Counts {
            total,
            queued: total,
            ..Counts::default()
        };
        let mut finished_here = 0_usize;

        let mut order: Vec<usize> = (0..total).collect();
        order.sort_by_key(|&i| !running_first[i]);
        let mut running = FuturesUnordered::new();
        for index in order {
            let job = &batch.jobs[index];
            let shared = shared.clone();
            let to_send = to_send[index];
            running.push(async move { (index, run_job(&shared, index, job, to_send).await) });
        }
        // Claims live while this run does: renewed until it ends.
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

        let mut emit = |index: usize,
                        stage: JobStage,
                        task_id: Option<TaskId>,
                        outcome: Option<JobOutcome>,
                        counts: &Counts,
                        finished_here: usize| {
            let elapsed = started.elapsed();
            let remaining = counts.total - counts.finished();
            let eta = (finished_here > 0 && remaining > 0)
                .then(|| elapsed.mul_f64(remaining as f64 / finished_here as f64));
            if let Some(on_event) = &mut self.on_event {
                on_event(&BatchEvent {
                    key: batch.jobs[index].key.clone(),
                    stage,
                    task_id,
                    outcome,
                    counts: *counts,
                    elapsed,
                    eta,
                });
            }
        };

        loop {
            tokio::select! {
                biased;
                _ = heartbeat.tick() => {
                    if let Err(e) = shared.journal.renew().await {
                        tracing::warn!(error = %e, "cannot renew this run's claims on its jobs");
                    }
                }
                Some((index, stage, task_id)) = event_rx.recv() => {
                    move_count(&mut counts, stages[index], Some(stage));
                    stages[index] = Some(stage);
                    emit(index, stage, task_id, None, &counts, finished_here);
                }
                done = running.next() => {
                    let Some((index, (outcome, ran))) = done else { break };
                    // Stage events sent before the end are counted first.
                    while let Ok((i, stage, task_id)) = event_rx.try_recv() {
                        move_count(&mut counts, stages[i], Some(stage));
                        stages[i] = Some(stage);
                        emit(i, stage, task_id, None, &counts, finished_here);
                    }
                    move_count(&mut counts, stages[index], None);
                    stages[index] = Some(JobStage::Finished);
                    match &outcome {
                        JobOutcome::Saved { .. } => counts.saved += 1,
                        JobOutcome::Failed { .. } => counts.failed += 1,
                        JobOutcome::OutcomeUnknown { .. } => counts.unknown += 1,
                        JobOutcome::Stopped { .. } | JobOutcome::Error { .. } => counts.other += 1,
                    }
                    if ran {
                        finished_here += 1;
                    }
                    emit(index, JobStage::Finished, outcome.task_id().cloned(), Some(outcome.clone()), &counts, finished_here);
                    outcomes[index] = Some(outcome);
                }
            }
        }

        let jobs = batch
            .jobs
            .iter()
            .zip(outcomes)
            .map(|(job, outcome)| JobReport {
                key: job.key.clone(),
                outcome: outcome.unwrap_or(JobOutcome::Stopped { task_id: None }),
            })
            .collect();
        Ok(BatchReport {
            jobs,
            dropped,
            journal: journal_path,
            counts,
            sending_stopped: shared.sending_stopped.get().cloned(),
        })
    }
}

/// Moves one job between the counts of its stages (`None`: queued, or out of the counts).
fn move_count(counts: &mut Counts, from: Option<JobStage>, to: Option<JobStage>) {
    let field = |counts: &mut Counts, stage: Option<JobStage>, delta: isize| {
        let count = match stage {
            None => &mut counts.queued,
            Some(JobStage::Submitting) => &mut counts.submitting,
            Some(JobStage::Waiting) => &mut counts.waiting,
            Some(JobStage::Downloading) => &mut counts.downloading,
            Some(JobStage::Finished) => return,
        };
        *count = count.saturating_add_signed(delta);
    };
    field(counts, from, -1);
    if to.is_some() {
        field(counts, to, 1);
    }
}

/// Where a journaled job starts this run.
fn start_of(row: &journal::Row, resend_unknown: bool) -> Start {
    let task_id = row.task_id().map(TaskId::from);
    let detail = || row.detail().unwrap_or_default().to_owned();
    match (row.stage(), task_id) {
        (Stage::Pending, _) => Start::Send,
        // An id journaled is a task that exists, whatever came after.
        (Stage::Submitted | Stage::Sending, Some(id)) => Start::Wait(id),
        (Stage::Sending | Stage::Unknown, None) if resend_unknown => Start::Send,
        (Stage::Sending, None) => Start::Over(JobOutcome::OutcomeUnknown {
            reason: "the run stopped while its createTask was on its way".into(),
        }),
        (Stage::Unknown, _) => Start::Over(JobOutcome::OutcomeUnknown { reason: detail() }),
        (Stage::Submitted, None) => Start::Send,
        (Stage::Saved, task_id) => match row.saved_file() {
            Some((path, bytes)) => Start::Check {
                task_id,
                path: path.to_owned(),
                bytes,
            },
            None => task_id.map_or(Start::Send, Start::Wait),
        },
        (Stage::Failed, task_id) => Start::Over(JobOutcome::Failed {
            task_id,
            reason: detail(),
        }),
    }
}

/// How long a job another live run holds is left before it is looked at again.
const HELD_RETRY: Duration = Duration::from_secs(5);

/// Runs one job: takes it (once no other live run holds it), runs it from where it stands,
/// gives it back. A job `to_send` is taken only with a create of this run free. The flag says
/// whether this run did any work on it.
async fn run_job(shared: &Shared, index: usize, job: &Job, to_send: bool) -> (JobOutcome, bool) {
    loop {
        let Some(permit) = permit(shared).await else {
            return (JobOutcome::Stopped { task_id: None }, false);
        };
        let create = match to_send {
            true => match create_permit(shared).await {
                Ok(create) => Some(create),
                Err(outcome) => return (outcome, false),
            },
            false => None,
        };
        let claim = match shared.journal.claim(&job.key).await {
            Ok(claim) => claim,
            Err(e) => {
                let reason = format!("the journal cannot be read: {e}");
                return (
                    JobOutcome::Error {
                        task_id: None,
                        reason,
                    },
                    false,
                );
            }
        };
        match claim {
            Claim::Ours(row) => {
                let start = start_of(&row, shared.resend_unknown);
                let done = run_from(shared, index, job, start, create).await;
                drop(permit);
                if let Err(e) = shared.journal.release(&job.key).await {
                    tracing::warn!(key = %job.key, error = %e, "cannot release a job");
                }
                return done;
            }
            Claim::Over(row) => return (over_elsewhere(&row), false),
            Claim::Held => {
                drop((permit, create));
                let retry = HELD_RETRY.mul_f64(1.0 + fastrand::f64());
                tokio::select! {
                    () = tokio::time::sleep(retry) => {}
                    () = shared.cancel.cancelled() => return (JobOutcome::Stopped { task_id: None }, false),
                }
            }
        }
    }
}

/// How a job another run finished ended, as its row says.
fn over_elsewhere(row: &journal::Row) -> JobOutcome {
    let task_id = row.task_id().map(TaskId::from);
    let reason = row.detail().unwrap_or_default().to_owned();
    match (row.stage(), row.saved_file(), task_id) {
        (Stage::Saved, Some((path, bytes)), Some(task_id)) => JobOutcome::Saved {
            task_id,
            path: path.to_owned(),
            bytes,
            earlier: true,
            record: None,
        },
        (Stage::Failed, _, task_id) => JobOutcome::Failed { task_id, reason },
        (Stage::Unknown, _, _) => JobOutcome::OutcomeUnknown { reason },
        (_, _, task_id) => JobOutcome::Error { task_id, reason },
    }
}

/// Runs a job this run holds from where it stands (with one of this run's creates when it was
/// taken to be sent); the flag says whether it did any work.
async fn run_from(
    shared: &Shared,
    index: usize,
    job: &Job,
    start: Start,
    create: Option<Create<'_>>,
) -> (JobOutcome, bool) {
    let task_id = match start {
        Start::Over(outcome) => return (outcome, false),
        Start::Check {
            task_id,
            path,
            bytes,
        } => match (saved_file(&path, &shared.out_dir, bytes), task_id) {
            (Some(path), Some(task_id)) => {
                let outcome = JobOutcome::Saved {
                    task_id,
                    path,
                    bytes,
                    earlier: true,
                    record: None,
                };
                return (outcome, false);
            }
            // The file is gone or changed: fetch it again from its task.
            (_, Some(task_id)) => task_id,
            (_, None) => return (send_and_finish(shared, index, job, create).await, true),
        },
        Start::Wait(task_id) => task_id,
        Start::Send => return (send_and_finish(shared, index, job, create).await, true),
    };
    drop(create);
    let task = shared.client.task(task_id).with_request(&job.request);
    (finish(shared, index, job, task).await, true)
}

/// One of the run's [`CREATES_IN_FLIGHT`].
type Create<'a> = tokio::sync::SemaphorePermit<'a>;

/// Waits for one of the run's creates; the job's outcome instead when it will not be sent
/// (the run was cancelled, or sending stopped).
async fn create_permit(shared: &Shared) -> Result<Create<'_>, JobOutcome> {
    let create = tokio::select! {
        create = shared.creates.acquire() => create.ok(),
        () = shared.cancel.cancelled() => return Err(JobOutcome::Stopped { task_id: None }),
        () = shared.sends_stopped.cancelled() => None,
    };
    match (create, shared.not_sent()) {
        (_, Some(outcome)) => Err(outcome),
        (Some(create), None) => Ok(create),
        (None, None) => Err(JobOutcome::Stopped { task_id: None }),
    }
}

async fn permit(shared: &Shared) -> Option<tokio::sync::SemaphorePermit<'_>> {
    tokio::select! {
        permit = shared.permits.acquire() => permit.ok(),
        () = shared.cancel.cancelled() => None,
    }
}

/// Sends the job, then waits for its task and saves the result.
async fn send_and_finish(
    shared: &Shared,
    index: usize,
    job: &Job,
    create: Option<Create<'_>>,
) -> JobOutcome {
    let create = match create {
        Some(create) => create,
        None => match create_permit(shared).await {
            Ok(create) => create,
            Err(outcome) => return outcome,
        },
    };
    let _ = shared.events.send((index, JobStage::Submitting, None));
    let key = job.key.as_str();
    let sent = AtomicBool::new(false);
    let journal: &dyn Store = shared.journal.as_ref();
    let mut submit = pin!(
        shared
            .client
            .submit(match &shared.callbacks {
                Some(callbacks) => job.request.clone().with_callback_url(&callbacks.url),
                None => job.request.clone(),
            })
            .record_sending(|| {
                sent.store(true, Ordering::SeqCst);
                let (journal, key) = (shared.journal.clone(), key.to_owned());
                async move { journal.sending(&key).await }
            })
            .into_future()
    );
    // Cancelling stops a job only while nothing is on its way: a createTask that went out is
    // let finish, so that its task id is journaled.
    let mut cancel_seen = false;
    let submitted = loop {
        tokio::select! {
            result = &mut submit => break result,
            () = shared.cancel.cancelled(), if !cancel_seen => {
                if !sent.load(Ordering::SeqCst) {
                    return JobOutcome::Stopped { task_id: None };
                }
                cancel_seen = true;
            }
        }
    };
    drop(create);
    let task = match submitted {
        Ok(task) => task,
        Err(error) if error.is_outcome_unknown() => {
            let reason = error.to_string();
            if let Err(e) = journal.unknown(key, &reason).await {
                tracing::error!(key, error = %e, "cannot journal an unknown outcome");
            }
            return JobOutcome::OutcomeUnknown { reason };
        }
        Err(error) => {
            // Nothing was created: the job is sent again by the next run.
            let reason = error.to_string();
            if error.api_code() == Some(crate::error::ApiCode::InsufficientCredits) {
                // No other job is sent: each would meet the same refusal.
                shared.stop_sending(SendingStopped::OutOfCredits(reason.clone()));
            }
            if sent.load(Ordering::SeqCst)
                && let Err(e) = journal.pending(key, &reason).await
            {
                tracing::error!(key, error = %e, "cannot journal a refused job");
            }
            return JobOutcome::Error {
                task_id: None,
                reason,
            };
        }
    };
    let task_id = task.id().clone();
    shared.check_spending().await;
    if let Some(callbacks) = &shared.callbacks {
        // Its callback may come before its wait starts.
        callbacks.inbox.expect(&task_id);
    }
    if let Err(e) = journal.submitted(key, task_id.as_str()).await {
        // The task exists; the journal still says "sending" for it, which a later run reports
        // as unknown rather than resending. Stop here so the id is not lost from sight.
        let reason = format!(
            "task {task_id} was created but the journal could not record it ({e}); note the id"
        );
        tracing::error!(key, %task_id, error = %e, "cannot journal a task id");
        return JobOutcome::Error {
            task_id: Some(task_id),
            reason,
        };
    }
    finish(shared, index, job, task).await
}

/// Waits for the job's task and saves its result.
/// `task` is the one `createTask` just returned, or one resumed by id (whose wait looks at it
/// once at the start: it may have ended while nothing ran).
async fn finish(shared: &Shared, index: usize, job: &Job, task: Task) -> JobOutcome {
    let key = job.key.as_str();
    let journal: &dyn Store = shared.journal.as_ref();
    let task_id = task.id().clone();
    let _ = shared
        .events
        .send((index, JobStage::Waiting, Some(task_id.clone())));
    let mut waiter = task.waiter().cancel_on(shared.cancel.clone());
    if let Some(callbacks) = &shared.callbacks {
        waiter = waiter.callbacks(callbacks.inbox.clone());
    }
    let waited = waiter.await;
    let done = match waited {
        Ok(done) => done,
        Err(error) if error.kind() == ErrorKind::Cancelled => {
            return JobOutcome::Stopped {
                task_id: Some(task_id),
            };
        }
        Err(error)
            if matches!(
                error.kind(),
                ErrorKind::TaskFailed | ErrorKind::TaskEndedUnrecognized
            ) =>
        {
            let reason = error.to_string();
            if let Err(e) = journal.failed(key, &reason).await {
                tracing::error!(key, error = %e, "cannot journal a failed task");
            }
            return JobOutcome::Failed {
                task_id: Some(task_id),
                reason,
            };
        }
        Err(error) => return noted(journal, key, task_id, &error).await,
    };
    let _ = shared
        .events
        .send((index, JobStage::Downloading, Some(task_id.clone())));
    // Named by what it turns out to be; the model's usual format until then.
    let guess = job
        .request
        .output_media_type()
        .map_or("bin", MediaType::extension);
    let path = shared.out_dir.join(format!("{key}.{guess}"));
    // The file is this job's: one left by a run that stopped before journaling it is replaced.
    let download = done.download(&path).overwrite(true).name_by_content(true);
    let saved = tokio::select! {
        saved = download => saved,
        () = shared.cancel.cancelled() => {
            return JobOutcome::Stopped { task_id: Some(task_id) };
        }
    };
    match saved {
        Ok(file) => {
            // Absolute, so that a run from another working directory finds the file.
            let path = std::path::absolute(&file.path).unwrap_or_else(|_| file.path.clone());
            if let Err(e) = journal.saved(key, &path, file.bytes).await {
                tracing::error!(key, error = %e, "cannot journal a saved result");
            }
            JobOutcome::Saved {
                task_id,
                path: file.path,
                bytes: file.bytes,
                earlier: false,
                record: Some(Box::new(done.record().clone())),
            }
        }
        Err(error) => noted(journal, key, task_id, &error).await,
    }
}

/// An error on a job whose task exists: journaled beside its id, for the next run.
async fn noted(journal: &dyn Store, key: &str, task_id: TaskId, error: &Error) -> JobOutcome {
    let reason = error.to_string();
    if let Err(e) = journal.note(key, &reason).await {
        tracing::error!(key, error = %e, "cannot journal an error");
    }
    JobOutcome::Error {
        task_id: Some(task_id),
        reason,
    }
}

/// Where a saved result of `bytes` bytes is: at the path journaled, or, for a journal of the
/// previous version (paths relative to the folder its run started in), under its name in
/// the output folder.
fn saved_file(journaled: &Path, out_dir: &Path, bytes: u64) -> Option<PathBuf> {
    let beside = journaled.file_name().map(|name| out_dir.join(name));
    std::iter::once(journaled.to_owned())
        .chain(beside)
        .find(|path| std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() == bytes))
}

/// The output folder, made if missing.
fn made(out_dir: PathBuf) -> Result<PathBuf, BatchError> {
    match std::fs::create_dir_all(&out_dir) {
        Ok(()) => Ok(out_dir),
        Err(source) => Err(BatchError::Folder {
            path: out_dir,
            source,
        }),
    }
}

/// Takes the output folder's lock for a run journaled at `journal`.
fn lock_folder(out_dir: &Path, journal: &Path) -> Result<std::fs::File, BatchError> {
    use std::io::{Read, Seek, Write};
    let path = out_dir.join(LOCK_FILE);
    let folder_error = |source| BatchError::Folder {
        path: path.clone(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path).map_err(folder_error)?;
    let ours = std::path::absolute(journal).unwrap_or_else(|_| journal.to_owned());
    match file.try_lock() {
        Ok(()) => {
            file.set_len(0).map_err(folder_error)?;
            file.write_all(ours.to_string_lossy().as_bytes())
                .map_err(folder_error)?;
            Ok(file)
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            file.rewind().map_err(folder_error)?;
            file.read_to_string(&mut holder).map_err(folder_error)?;
            if Path::new(&holder) == ours {
                Err(BatchError::JournalInUse { path: ours })
            } else {
                Err(BatchError::FolderInUse {
                    folder: out_dir.to_owned(),
                    journal: holder,
                })
            }
        }
        Err(std::fs::TryLockError::Error(e)) => Err(folder_error(e)),
    }
}

/// Removes the partial downloads a killed run left beside the results of these jobs
/// (`.KEY.EXT.XXXXXX.part`): their tasks are downloaded again from the start.
fn remove_leftovers(out_dir: &Path, keys: &HashSet<String>) {
    let Ok(entries) = std::fs::read_dir(out_dir) else {
        return;
    };
    // A temporary file's name starts with the first 40 characters of its target's name.
    let prefixes: Vec<String> = keys
        .iter()
        .map(|key| format!("{key}.").chars().take(40).collect())
        .collect();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let leftover = name.ends_with(".part")
            && name
                .strip_prefix('.')
                .is_some_and(|rest| prefixes.iter().any(|p| rest.starts_with(p.as_str())));
        if leftover {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => {
                    tracing::info!(file = %name, "removed a partial download of an earlier run")
                }
                Err(e) => {
                    tracing::warn!(file = %name, error = %e, "cannot remove a partial download of an earlier run")
                }
            }
        }
    }
}

/// Why a key cannot name a job's result file on every platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyProblem {
    /// Empty, or longer than 128 characters.
    Length,
    /// A character other than letters, digits, `.`, `_` and `-`.
    Characters,
    /// Starts with `.` (a hidden file) or `-` (read as an option).
    Start,
    /// Ends with `.`, which Windows drops from file names.
    TrailingDot,
    /// A name Windows reserves for a device (`CON`, `PRN`, `AUX`, `NUL`, `COM1`…`COM9`,
    /// `LPT1`…`LPT9`), in any case, alone or before a `.`.
    Reserved,
}

impl fmt::Display for KeyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyProblem::Length => "a key is 1 to 128 characters: it names the result file",
            KeyProblem::Characters => {
                "a key has letters, digits, '.', '_' and '-' only: it names the result file"
            }
            KeyProblem::Start => "a key must not start with '.' or '-': it names the result file",
            KeyProblem::TrailingDot => {
                "a key must not end with '.': Windows drops it from the file name"
            }
            KeyProblem::Reserved => {
                "the key is a device name on Windows (CON, PRN, AUX, NUL, COM1-9, LPT1-9): it cannot name a file there"
            }
        })
    }
}

/// Why `key` cannot be a job's key, if it cannot: it names the job's result file, on every
/// platform, so it is 1 to 128 letters, digits, `.`, `_` or `-`, starts with neither `.` nor
/// `-`, does not end with `.`, and is no Windows device name.
pub fn key_problem(key: &str) -> Option<KeyProblem> {
    if !(1..=128).contains(&key.len()) {
        return Some(KeyProblem::Length);
    }
    if !key
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Some(KeyProblem::Characters);
    }
    if key.starts_with(['.', '-']) {
        return Some(KeyProblem::Start);
    }
    if key.ends_with('.') {
        return Some(KeyProblem::TrailingDot);
    }
    let stem = key.split('.').next().unwrap_or(key).to_ascii_uppercase();
    let numbered = |prefix: &str| {
        stem.strip_prefix(prefix)
            .is_some_and(|n| n.len() == 1 && n.as_bytes()[0].is_ascii_digit() && n != "0")
    };
    if matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL") || numbered("COM") || numbered("LPT")
    {
        return Some(KeyProblem::Reserved);
    }
    None
}

/// Whether `key` can be a job's key ([`key_problem`] finds nothing).
pub fn is_valid_key(key: &str) -> bool {
    key_problem(key).is_none()
}

/// What the user wrote for a job: its model and its inputs, without the defaults the spec fills
/// in (an upgrade that changes a default must not make a paid job look changed).
fn written(request: &Request) -> Value {
    serde_json::json!({
        "model": request.model_id().unwrap_or_default(),
        "input": request.inputs(),
    })
}

/// Whether a job recorded by a version-0 journal (its whole body, defaults included) is the
/// job the user wrote now: the same model, and every input given now recorded with the same
/// value (the other recorded inputs were defaults filled in then).
fn same_as_recorded(recorded: &str, request: &Request) -> bool {
    let Ok(recorded) = serde_json::from_str::<Value>(recorded) else {
        return false;
    };
    recorded.get("model").and_then(Value::as_str) == request.model_id()
        && request.inputs().iter().all(|(name, value)| {
            recorded.pointer(&format!(
                "/input/{}",
                name.replace('~', "~0").replace('/', "~1")
            )) == Some(value)
        })
}

/// The job's content, as a stable digest: key order does not matter.
fn fingerprint(body: &Value) -> String {
    fn canonical(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), canonical(&map[k])))
                        .collect(),
                )
            }
            Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
            other => other.clone(),
        }
    }
    let digest = Sha256::digest(canonical(body).to_string().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn journal_error(path: &Path, error: JournalError) -> BatchError {
    match error {
        JournalError::InUse => BatchError::JournalInUse {
            path: path.to_owned(),
        },
        other => BatchError::Journal {
            path: path.to_owned(),
            reason: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_files_everywhere() {
        for good in ["beach", "shot-01", "a.b_c", "X"] {
            assert!(is_valid_key(good), "{good}");
        }
        for bad in ["", ".hidden", "-flag", "a/b", "a b", "é", &"x".repeat(129)] {
            assert!(!is_valid_key(bad), "{bad}");
        }
    }

    #[test]
    fn fingerprints_ignore_key_order_and_see_every_value() {
        let a = serde_json::json!({"model": "m", "input": {"prompt": "p", "n": 1}});
        let b = serde_json::json!({"input": {"n": 1, "prompt": "p"}, "model": "m"});
        let c = serde_json::json!({"model": "m", "input": {"prompt": "p", "n": 2}});
        assert_eq!(fingerprint(&a), fingerprint(&b));
        assert_ne!(fingerprint(&a), fingerprint(&c));
    }
}
