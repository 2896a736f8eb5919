//! Waiting for a task: when to ask, what to report, and what a finished task yields.

use std::collections::HashMap;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::download::Download;
use crate::endpoint::Op;
use crate::error::Error;
use crate::record::{TaskId, TaskRecord, TaskResult, TaskState};
use crate::transport::{Scope, Transport};

/// How long to wait, and how often to ask.
///
/// ```
/// use std::time::Duration;
/// use apikley::{PollSchedule, WaitOptions};
/// let options = WaitOptions::default()
///     .with_deadline(Duration::from_secs(600))
///     .with_schedule(PollSchedule::Every(Duration::from_secs(5)));
/// assert_eq!(options.deadline, Duration::from_secs(600));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct WaitOptions {
    /// Give up waiting after this long (default 15 minutes). The task itself goes on.
    pub deadline: Duration,
    /// When to query (default [`PollSchedule::Adaptive`]).
    pub schedule: PollSchedule,
}

impl Default for WaitOptions {
    fn default() -> Self {
        WaitOptions {
            deadline: Duration::from_secs(15 * 60),
            schedule: PollSchedule::Adaptive,
        }
    }
}

impl WaitOptions {
    /// Gives up waiting after this long.
    #[must_use]
    pub const fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Queries on this schedule.
    #[must_use]
    pub const fn with_schedule(mut self, schedule: PollSchedule) -> Self {
        self.schedule = schedule;
        self
    }
}

/// The longest a stretched wait lasts, however far the expected end.
const MAX_STRETCH: Duration = Duration::from_secs(60);
/// The shortest fixed interval.
const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// Observations are capped here: one task stuck in a backlog must not slow every later wait.
const MAX_LEARNED: Duration = Duration::from_secs(30 * 60);

/// When a waiting task is queried.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum PollSchedule {
    /// The documented schedule at its thrifty end (every 3 s for the first 30 s, every 10 s until
    /// 2 minutes, every 30 s after), stretched while the task's expected end is still far off:
    /// each wait is half the time left to 90% of the expected duration (at most a minute), never
    /// shorter than the documented interval. Waits are lengthened by up to 10% of jitter, so that many tasks
    /// do not poll in step. It never queries more often than the documented schedule.
    Adaptive,
    /// A fixed interval, at least one second (plus the same jitter).
    Every(Duration),
}

impl PollSchedule {
    /// The documented interval at `elapsed`, at the thrifty end of each band.
    pub fn documented_interval(elapsed: Duration) -> Duration {
        match elapsed.as_secs() {
            0..30 => Duration::from_secs(3),
            30..120 => Duration::from_secs(10),
            _ => Duration::from_secs(30),
        }
    }

    /// How long to wait before the next query, `elapsed` into the wait, when the task is
    /// expected to take `expected` in all. Without jitter.
    pub fn interval(&self, elapsed: Duration, expected: Option<Duration>) -> Duration {
        match *self {
            PollSchedule::Every(interval) => interval.max(MIN_INTERVAL),
            PollSchedule::Adaptive => {
                let documented = Self::documented_interval(elapsed);
                let aim = expected.map(|e| e.mul_f64(0.9)).unwrap_or_default();
                if elapsed + documented < aim {
                    documented.max(((aim - elapsed) / 2).min(MAX_STRETCH))
                } else {
                    documented
                }
            }
        }
    }

    fn next_delay(&self, elapsed: Duration, expected: Option<Duration>) -> Duration {
        let interval = self.interval(elapsed, expected);
        Duration::try_from_secs_f64(interval.as_secs_f64() * (1.0 + fastrand::f64() * 0.1))
            .unwrap_or(interval)
    }
}

/// Where a waited-for task stands, as reported to a progress callback after each query.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Progress {
    /// The task.
    pub task_id: TaskId,
    /// Its state at the last query.
    pub state: TaskState,
    /// Time since the wait began.
    pub elapsed: Duration,
    /// Status queries so far (retries included).
    pub queries: u32,
    /// How long the task is expected to take in all, when known.
    pub expected: Option<Duration>,
    /// Progress 0–100, for the models that report it.
    pub percent: Option<u8>,
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "task {}: {}, {} elapsed",
            self.task_id,
            self.state,
            Clock(self.elapsed)
        )?;
        if let Some(percent) = self.percent {
            write!(f, ", {percent}%")?;
        }
        if let Some(expected) = self.expected {
            write!(f, " (about {} expected)", Clock(expected))?;
        }
        Ok(())
    }
}

/// A duration as a clock shows it: `m:ss` (`1:05`, `12:00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock(pub Duration);

impl fmt::Display for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.0.as_secs();
        write!(f, "{}:{:02}", seconds / 60, seconds % 60)
    }
}

/// A task that finished successfully.
#[derive(Debug, Clone)]
pub struct CompletedTask {
    transport: Transport,
    record: TaskRecord,
    result: TaskResult,
}

impl CompletedTask {
    /// The task's id.
    pub fn id(&self) -> &TaskId {
        &self.record.id
    }

    /// The final record.
    pub fn record(&self) -> &TaskRecord {
        &self.record
    }

    /// What the task produced.
    pub fn result(&self) -> &TaskResult {
        &self.result
    }

    /// The generated files. They expire: download promptly.
    pub fn urls(&self) -> &[Url] {
        &self.result.urls
    }

    /// Downloads the (first) generated file to `path`: streamed, resumed after interruptions,
    /// renamed into place only when complete, never over an existing file unless told to. A
    /// task that succeeded without naming a file makes the download end in
    /// [`Error::ResultUnusable`].
    ///
    /// ```no_run
    /// # async fn run(video: apikley::CompletedTask) -> Result<(), apikley::Error> {
    /// let file = video
    ///     .download("beach.mp4")
    ///     .on_progress(|p| eprintln!("{p}"))
    ///     .await?;
    /// println!("{} bytes in {}", file.bytes, file.path.display());
    /// # Ok(()) }
    /// ```
    pub fn download(&self, path: impl Into<std::path::PathBuf>) -> Download<'static> {
        let path = path.into();
        match self.result.urls.first() {
            Some(url) => Download::of_url(
                &self.transport,
                url.clone(),
                path,
                Some(self.record.id.clone()),
            ),
            None => Download::refused(&self.transport, path, unusable_result(&self.record)),
        }
    }
}

/// How much of `resultJson` an error keeps.
const MAX_RESULT_TEXT: usize = 64 * 1024;

/// The error for a successful record whose result cannot be used: unreadable, or without files.
pub(crate) fn unusable_result(record: &TaskRecord) -> Error {
    let text = record.result_text().map(|mut text| {
        if text.len() > MAX_RESULT_TEXT {
            let mut end = MAX_RESULT_TEXT;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
        }
        text
    });
    let reason = match (&record.result, text.as_deref()) {
        (Some(_), _) => "its result names no file to download".to_owned(),
        (None, Some(text)) => TaskResult::parse(text).err().map_or_else(
            || "its result could not be read".to_owned(),
            |e| e.to_string(),
        ),
        (None, None) => "it has no result".to_owned(),
    };
    Error::ResultUnusable {
        task_id: record.id.clone(),
        reason,
        text,
    }
}

/// What every wait of a client shares: the default options, and the task durations learned so
/// far, per model and workload.
#[derive(Debug, Default)]
pub(crate) struct Polling {
    defaults: WaitOptions,
    learned: Mutex<HashMap<String, Duration>>,
}

impl Polling {
    pub(crate) fn new(defaults: WaitOptions) -> Self {
        Polling {
            defaults,
            learned: Mutex::default(),
        }
    }

    pub(crate) fn defaults(&self) -> &WaitOptions {
        &self.defaults
    }

    fn expected(&self, key: &str) -> Option<Duration> {
        self.learned.lock().ok()?.get(key).copied()
    }

    /// Folds in one observation (an exponentially weighted average, 30% new).
    fn learn(&self, key: &str, observed: Duration) {
        let observed = observed.min(MAX_LEARNED);
        if let Ok(mut learned) = self.learned.lock() {
            learned
                .entry(key.to_owned())
                .and_modify(|d| *d = d.mul_f64(0.7) + observed.mul_f64(0.3))
                .or_insert(observed);
        }
    }
}

/// What the submitting client knows about a task's expected duration.
#[derive(Debug, Clone)]
pub(crate) struct Workload {
    pub(crate) key: String,
    pub(crate) prior: Option<Duration>,
}

/// One status query of task `id`, its record read best effort.
pub(crate) async fn query(
    transport: &Transport,
    id: &TaskId,
    deadline: Option<Instant>,
) -> Result<TaskRecord, Error> {
    let scope = Scope {
        task_id: Some(id),
        deadline,
        ..Scope::default()
    };
    let mut record = transport
        .call(
            Op::TaskDetail,
            scope,
            |request| request.query(&[(Op::TASK_ID_PARAMETER, id.as_str())]),
            |answer| TaskRecord::from_json(&answer.data).map_err(|e| e.to_string()),
        )
        .await?;
    if record.id.as_str().is_empty() {
        record.id = id.clone();
    }
    Ok(record)
}

/// A configured wait; `.await` it. Made by [`Task::waiter`](crate::Task::waiter). It owns what
/// it needs, so it can be spawned.
#[must_use = "a Waiter does nothing until awaited"]
pub struct Waiter<'a> {
    transport: Transport,
    polling: Arc<Polling>,
    id: TaskId,
    workload: Option<Workload>,
    options: WaitOptions,
    cancel: Option<CancellationToken>,
    progress: Option<ProgressFn<'a>>,
}

type ProgressFn<'a> = Box<dyn FnMut(&Progress) + Send + 'a>;

impl fmt::Debug for Waiter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Waiter")
            .field("task", &self.id)
            .field("options", &self.options)
            .field("cancellable", &self.cancel.is_some())
            .finish()
    }
}

impl Waiter<'static> {
    pub(crate) fn new(
        transport: Transport,
        polling: Arc<Polling>,
        id: TaskId,
        workload: Option<Workload>,
    ) -> Self {
        Waiter {
            options: *polling.defaults(),
            transport,
            polling,
            id,
            workload,
            cancel: None,
            progress: None,
        }
    }
}

impl<'a> Waiter<'a> {
    /// Gives up after this long.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.options.deadline = deadline;
        self
    }

    /// Queries on this schedule.
    pub fn schedule(mut self, schedule: PollSchedule) -> Self {
        self.options.schedule = schedule;
        self
    }

    /// Stops (with [`Error::Cancelled`]) when the token is cancelled. Dropping the future
    /// stops the wait too.
    pub fn cancel_on(mut self, token: CancellationToken) -> Self {
        self.cancel = Some(token);
        self
    }

    /// Calls `progress` after every status query (replacing any earlier callback). The
    /// callback may borrow from its surroundings; the wait then lives no longer than they do.
    pub fn on_progress<'b>(self, progress: impl FnMut(&Progress) + Send + 'b) -> Waiter<'b>
    where
        'a: 'b,
    {
        Waiter {
            transport: self.transport,
            polling: self.polling,
            id: self.id,
            workload: self.workload,
            options: self.options,
            cancel: self.cancel,
            progress: Some(Box::new(progress)),
        }
    }

    /// The key timings are learned under: the submitted workload, else the record's model.
    fn learning_key(&self, record: Option<&TaskRecord>) -> String {
        match (&self.workload, record.and_then(|r| r.model.as_deref())) {
            (Some(w), _) => w.key.clone(),
            (None, Some(model)) => model.to_owned(),
            (None, None) => String::new(),
        }
    }

    async fn run(mut self) -> Result<CompletedTask, Error> {
        let started = Instant::now();
        // A deadline too far to represent is no deadline.
        let deadline = started.checked_add(self.options.deadline);
        let cancel = self.cancel.take().unwrap_or_default();
        let id = self.id.clone();
        let cancelled = || Error::Cancelled {
            task_id: id.clone(),
        };
        let mut key = self.learning_key(None);
        let prior = self.workload.as_ref().and_then(|w| w.prior);
        let mut expected = self.polling.expected(&key).or(prior);
        let mut last_state = None;
        let mut queries = 0;
        // A task this client just created cannot be done yet; one resumed by id may be.
        let mut query_now = self.workload.is_none();

        loop {
            if !query_now {
                let delay = self
                    .options
                    .schedule
                    .next_delay(started.elapsed(), expected);
                let delay = match deadline {
                    Some(deadline) => delay.min(deadline.saturating_duration_since(Instant::now())),
                    None => delay,
                };
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = cancel.cancelled() => return Err(cancelled()),
                }
            }
            query_now = false;
            // The deadline never passes unseen: the last query happens at the deadline.
            let last_query = deadline.is_some_and(|d| Instant::now() >= d);

            // Waiting for a rate-limit slot counts against the deadline too.
            let query_deadline = deadline.and_then(|d| d.checked_add(QUERY_GRACE));
            let outcome = tokio::select! {
                outcome = query(&self.transport, &self.id, query_deadline) => outcome,
                () = cancel.cancelled() => return Err(cancelled()),
            };
            queries += 1;
            match outcome {
                Ok(record) => {
                    if self.workload.is_none() && key.is_empty() {
                        key = self.learning_key(Some(&record));
                        expected = self.polling.expected(&key);
                    }
                    last_state = Some(record.state.clone());
                    if let Some(progress) = &mut self.progress {
                        progress(&Progress {
                            task_id: self.id.clone(),
                            state: record.state.clone(),
                            elapsed: started.elapsed(),
                            queries,
                            expected,
                            percent: record.progress,
                        });
                    }
                    match record.state {
                        TaskState::Success => return self.finish(record, &key, started, queries),
                        TaskState::Fail => {
                            return Err(Error::TaskFailed {
                                task_id: self.id,
                                fail_code: record.fail_code,
                                fail_message: record.fail_message,
                            });
                        }
                        // Over in words this SDK does not know: end, keeping what it says.
                        TaskState::Unknown(state) if record.has_ended() => {
                            return Err(Error::TaskEndedUnrecognized {
                                task_id: self.id,
                                state,
                                fail_code: record.fail_code,
                                fail_message: record.fail_message,
                                urls: record.result.map(|r| r.urls).unwrap_or_default(),
                            });
                        }
                        _ => {}
                    }
                }
                // An outage shorter than the deadline must not end the wait.
                Err(error) if error.is_retryable() => {
                    tracing::warn!(task_id = %self.id, %error, "status query failed; still waiting");
                }
                Err(error) => return Err(error),
            }
            if last_query || deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(Error::WaitTimedOut {
                    task_id: self.id,
                    waited: self.options.deadline,
                    last_state,
                });
            }
        }
    }

    fn finish(
        self,
        record: TaskRecord,
        key: &str,
        started: Instant,
        queries: u32,
    ) -> Result<CompletedTask, Error> {
        if let Some(took) = record.generation_time() {
            self.polling.learn(key, took);
        }
        let Some(result) = record.result.clone() else {
            return Err(unusable_result(&record));
        };
        tracing::info!(
            task_id = %self.id,
            elapsed_ms = started.elapsed().as_millis() as u64,
            queries,
            "task succeeded"
        );
        Ok(CompletedTask {
            transport: self.transport,
            record,
            result,
        })
    }
}

/// How long the last query may take beyond the deadline.
const QUERY_GRACE: Duration = Duration::from_secs(10);

impl<'a> IntoFuture for Waiter<'a> {
    type Output = Result<CompletedTask, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Query times of a schedule over `until`, without jitter.
    fn query_times(
        schedule: PollSchedule,
        expected: Option<Duration>,
        until: Duration,
    ) -> Vec<Duration> {
        let mut times = Vec::new();
        let mut t = Duration::ZERO;
        loop {
            t += schedule.interval(t, expected);
            if t > until {
                return times;
            }
            times.push(t);
        }
    }

    #[test]
    fn the_documented_schedule_at_its_thrifty_end() {
        let times = query_times(PollSchedule::Adaptive, None, Duration::from_secs(120));
        let expected: Vec<Duration> = (1..=10)
            .map(|i| Duration::from_secs(3 * i))
            .chain((4..=12).map(|i| Duration::from_secs(10 * i)))
            .collect();
        assert_eq!(times, expected);
    }

    #[test]
    fn an_expected_duration_queries_less_and_never_more_than_the_docs() {
        let documented = query_times(PollSchedule::Adaptive, None, Duration::from_secs(3600));
        for expected in [10, 30, 90, 200, 600] {
            let expected = Some(Duration::from_secs(expected));
            let adaptive = query_times(PollSchedule::Adaptive, expected, Duration::from_secs(3600));
            // The k-th query never comes earlier than the documented k-th query.
            for (ours, docs) in adaptive.iter().zip(&documented) {
                assert!(ours >= docs, "{expected:?}: {ours:?} < {docs:?}");
            }
        }
        let adaptive = query_times(
            PollSchedule::Adaptive,
            Some(Duration::from_secs(90)),
            Duration::from_secs(120),
        );
        assert!(adaptive.len() < 10, "{adaptive:?}");
    }

    #[test]
    fn estimates_move_towards_observations() {
        let polling = Polling::default();
        assert_eq!(polling.expected("k"), None);
        polling.learn("k", Duration::from_secs(100));
        polling.learn("k", Duration::from_secs(200));
        assert_eq!(polling.expected("k"), Some(Duration::from_secs(130)));
        polling.learn("stuck", Duration::from_secs(40 * 60));
        assert_eq!(polling.expected("stuck"), Some(MAX_LEARNED));
    }

    #[test]
    fn progress_reads_well() {
        let progress = Progress {
            task_id: "t1".into(),
            state: TaskState::Generating,
            elapsed: Duration::from_secs(42),
            queries: 3,
            expected: Some(Duration::from_secs(90)),
            percent: None,
        };
        assert_eq!(
            progress.to_string(),
            "task t1: generating, 0:42 elapsed (about 1:30 expected)"
        );
    }
}
