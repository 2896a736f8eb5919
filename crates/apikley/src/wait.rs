//! Waiting for a task: when to ask, what to report, and what a finished task yields.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::download::Download;
use crate::error::{Error, Repr};
use crate::inbox::{CallbackInbox, MIN_CALLBACK_FALLBACK};
use crate::poll::{PollSchedule, Polling, WaitOptions};
use crate::record::{TaskId, TaskRecord, TaskResult, TaskState};
use crate::transport::Transport;

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
    /// Boxed: a spawned wait's task is sized for its output, and every waiting task pays it.
    done: Box<Done>,
}

#[derive(Debug, Clone)]
struct Done {
    record: TaskRecord,
    result: TaskResult,
}

impl CompletedTask {
    /// The task's id.
    pub fn id(&self) -> &TaskId {
        &self.done.record.id
    }

    /// The final record.
    pub fn record(&self) -> &TaskRecord {
        &self.done.record
    }

    /// What the task produced.
    pub fn result(&self) -> &TaskResult {
        &self.done.result
    }

    /// The generated files. They expire: download promptly.
    pub fn urls(&self) -> &[Url] {
        &self.done.result.urls
    }

    /// Downloads the (first) generated file to `path`: streamed, resumed after interruptions,
    /// renamed into place only when complete, never over an existing file unless told to. A
    /// task that succeeded without naming a file makes the download end in
    /// [`ErrorKind::ResultUnusable`](crate::ErrorKind::ResultUnusable).
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
        match self.done.result.urls.first() {
            Some(url) => Download::of_url(
                &self.transport,
                url.clone(),
                path,
                Some(self.done.record.id.clone()),
            ),
            None => Download::refused(&self.transport, path, unusable_result(&self.done.record)),
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
    Repr::ResultUnusable {
        task_id: record.id.clone(),
        reason,
        text,
    }
    .into()
}

/// What the submitting client knows about a task's expected duration.
#[derive(Debug, Clone)]
pub(crate) struct Workload {
    pub(crate) key: String,
    pub(crate) prior: Option<Duration>,
}

/// A configured wait; `.await` it. Made by [`Task::waiter`](crate::Task::waiter). It owns what
/// it needs, so it can be spawned.
#[must_use = "a Waiter does nothing until awaited"]
pub struct Waiter<'a> {
    transport: Transport,
    polling: Arc<Polling>,
    id: TaskId,
    workload: Option<Workload>,
    /// Just created by this client: it cannot be done yet, so the first look waits.
    fresh: bool,
    options: WaitOptions,
    cancel: Option<CancellationToken>,
    callbacks: Option<CallbackInbox>,
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
        fresh: bool,
    ) -> Self {
        Waiter {
            options: *polling.defaults(),
            transport,
            polling,
            id,
            workload,
            fresh,
            cancel: None,
            callbacks: None,
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

    /// Expects the task to take about this long in all, counted from the start of the wait
    /// (instead of the estimate from its request, or none for a task resumed by id). It
    /// decides how sparse queries are while the end is far, and which task the client's
    /// scheduler queries first when the query budget is short.
    pub fn expecting(mut self, duration: Duration) -> Self {
        let key = self.learning_key();
        self.workload = Some(Workload {
            key,
            prior: Some(duration),
        });
        self
    }

    /// Stops (with [`ErrorKind::Cancelled`](crate::ErrorKind::Cancelled)) when the token is cancelled. Dropping the future
    /// stops the wait too.
    pub fn cancel_on(mut self, token: CancellationToken) -> Self {
        self.cancel = Some(token);
        self
    }

    /// Waits for the task's callback instead of polling: no status query is made until
    /// `inbox` hears of the task (from the endpoint its `callBackUrl` names), then one confirms
    /// it by id, and the wait goes on from that record (on its schedule, should the record not
    /// be over). Should no callback come within three times the task's expected duration (at
    /// least [`MIN_CALLBACK_FALLBACK`]), the wait polls on its schedule after all.
    pub fn callbacks(mut self, inbox: CallbackInbox) -> Self {
        self.callbacks = Some(inbox);
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
            fresh: self.fresh,
            options: self.options,
            cancel: self.cancel,
            callbacks: self.callbacks,
            progress: Some(Box::new(progress)),
        }
    }

    /// The key timings are learned under: the submitted workload's (a wait resumed by id
    /// learns the model's from its first record).
    fn learning_key(&self) -> String {
        self.workload
            .as_ref()
            .map_or_else(String::new, |w| w.key.clone())
    }

    /// The wait. Taken apart first: the future keeps only what it uses while it rests, since
    /// thousands may rest at once.
    fn run(self) -> impl Future<Output = Result<CompletedTask, Error>> + Send + 'a {
        let mut key = self.learning_key();
        let Waiter {
            transport,
            polling,
            id,
            workload,
            fresh,
            options,
            cancel,
            callbacks: mut inbox,
            mut progress,
        } = self;
        // A resumed task with no expectation given learns under the model its record names.
        let keyed_by_record = workload.is_none();
        let prior = workload.and_then(|w| w.prior);
        async move {
            let started = Instant::now();
            // A deadline too far to represent is no deadline.
            let deadline = started.checked_add(options.deadline);
            let mut expected = polling.expectation(&key, prior);
            let mut last_state = None;
            let mut queries = 0;
            // A task this client just created cannot be done yet; one resumed by id may be.
            let mut query_now = !fresh;
            // Every look goes through the client's scheduler, which shares the query budget.
            let ticket = polling.register(id.clone(), key.clone(), prior);

            // With an inbox, a look waits for the task's callback, or for the fallback; a task
            // resumed by id is looked at once first (it may have ended while nothing listened).
            loop {
                if !query_now && let Some(inbox) = inbox.take() {
                    let fallback = expected
                        .map_or(MIN_CALLBACK_FALLBACK, |e| e.typical.saturating_mul(3))
                        .max(MIN_CALLBACK_FALLBACK);
                    let until = later(started, fallback);
                    let until = deadline.map_or(until, |d| d.min(until));
                    // Boxed: only the waits on callbacks pay for this branch's state.
                    let cancelled = Box::pin(async {
                        tokio::select! {
                            () = inbox.heard(&id) => {
                                query_now = true;
                                false
                            }
                            () = tokio::time::sleep_until(until) => {
                                tracing::warn!(task_id = %id, "no callback came; polling instead");
                                false
                            }
                            () = cancelled(cancel.as_ref()) => true,
                        }
                    })
                    .await;
                    inbox.forget(&id);
                    if cancelled {
                        return Err(Repr::Cancelled { task_id: id }.into());
                    }
                }
                let mut due = Instant::now();
                if !query_now {
                    let delay = self
                        .options
                        .schedule
                        .next_delay(started.elapsed(), expected);
                    due = later(due, delay);
                    if let Some(deadline) = deadline {
                        due = due.min(deadline);
                    }
                }
                query_now = false;
                // The deadline never passes unseen: the last query happens at the deadline.
                let last_query = deadline.is_some_and(|d| due >= d);

                // Waiting for a query slot counts against the deadline too.
                let query_deadline = deadline.and_then(|d| d.checked_add(QUERY_GRACE));
                let earliest = match options.schedule {
                    PollSchedule::Adaptive => {
                        started + PollSchedule::documented_time(queries + 1).max(started.elapsed())
                    }
                    _ => due,
                };
                let answer = ticket.look(due, earliest, query_deadline);
                let outcome = tokio::select! {
                    answer = answer => match answer {
                        Ok(outcome) => *outcome,
                        // The query was never made (its slot came after its deadline).
                        Err(_) => continue,
                    },
                    () = sleep_until(query_deadline) => {
                        return Err(Repr::WaitTimedOut {
                            task_id: id,
                            waited: options.deadline,
                            last_state,
                        }.into());
                    }
                    () = cancelled(cancel.as_ref()) => return Err(Repr::Cancelled { task_id: id }.into()),
                };
                queries += 1;
                match outcome {
                    Ok(record) => {
                        if keyed_by_record
                            && key.is_empty()
                            && let Some(model) = record.model.as_deref()
                        {
                            model.clone_into(&mut key);
                            expected = polling.expectation(&key, None);
                            ticket.set_learning_key(&key);
                        }
                        last_state = Some(record.state.clone());
                        if let Some(progress) = &mut progress {
                            progress(&Progress {
                                task_id: id.clone(),
                                state: record.state.clone(),
                                elapsed: started.elapsed(),
                                queries,
                                expected: expected.map(|e| e.typical),
                                percent: record.progress,
                            });
                        }
                        match record.state {
                            TaskState::Success => {
                                let done = Box::pin(finish(
                                    transport, &polling, record, &key, started, queries,
                                ));
                                return done.await;
                            }
                            TaskState::Fail => {
                                return Err(Repr::TaskFailed {
                                    task_id: id,
                                    fail_code: record.fail_code,
                                    fail_message: record.fail_message,
                                }
                                .into());
                            }
                            // Over in words this SDK does not know, with files: they are what was
                            // paid for.
                            TaskState::Unknown(ref state) if record.finished_with_files() => {
                                tracing::warn!(task_id = %id, state = %state, "the task ended in a state this SDK does not know, naming result files: taken as a success");
                                let done = Box::pin(finish(
                                    transport, &polling, record, &key, started, queries,
                                ));
                                return done.await;
                            }
                            // Over in words this SDK does not know: end, keeping what it says.
                            TaskState::Unknown(state) if record.has_ended() => {
                                return Err(Repr::TaskEndedUnrecognized {
                                    task_id: id,
                                    state,
                                    fail_code: record.fail_code,
                                    fail_message: record.fail_message,
                                    urls: record.result.map(|r| r.urls).unwrap_or_default(),
                                }
                                .into());
                            }
                            _ => {}
                        }
                    }
                    // An outage shorter than the deadline must not end the wait.
                    Err(error) if error.is_retryable() => {
                        tracing::warn!(task_id = %id, %error, "status query failed; still waiting");
                    }
                    Err(error) => return Err(error),
                }
                if last_query || deadline.is_some_and(|d| Instant::now() >= d) {
                    return Err(Repr::WaitTimedOut {
                        task_id: id,
                        waited: options.deadline,
                        last_state,
                    }
                    .into());
                }
            }
        }
    }
}

/// The wait's end on a success: timings learned (and kept in the client's history, for the
/// next run), the result kept. Boxed where it is awaited: a resting wait does not carry it.
async fn finish(
    transport: Transport,
    polling: &Polling,
    record: TaskRecord,
    key: &str,
    started: Instant,
    queries: u32,
) -> Result<CompletedTask, Error> {
    if let Some(took) = record.generation_time() {
        polling.learn(key, took);
        #[cfg(feature = "history")]
        if let Some(history) = transport.history()
            && let Err(e) = history.observed(key, took).await
        {
            tracing::warn!(error = %e, "the task history was not updated");
        }
    }
    let Some(result) = record.result.clone() else {
        return Err(unusable_result(&record));
    };
    tracing::info!(
        task_id = %record.id,
        elapsed_ms = started.elapsed().as_millis() as u64,
        queries,
        "task succeeded"
    );
    Ok(CompletedTask {
        transport,
        done: Box::new(Done { record, result }),
    })
}

/// How long the last query may take beyond the deadline.
const QUERY_GRACE: Duration = Duration::from_secs(10);

/// Until `token` is cancelled; forever without one.
async fn cancelled(token: Option<&CancellationToken>) {
    match token {
        Some(token) => token.cancelled().await,
        None => std::future::pending().await,
    }
}

/// Sleeps until `at`; forever without one.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl<'a> IntoFuture for Waiter<'a> {
    type Output = Result<CompletedTask, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        #[cfg(feature = "history")]
        if let Some(history) = self.transport.history().cloned() {
            let id = self.id.clone();
            let wait = self.run();
            return Box::pin(async move {
                let outcome = wait.await;
                record_end(&history, &id, &outcome).await;
                outcome
            });
        }
        Box::pin(self.run())
    }
}

/// What a wait learned of its task, in the client's history: its end, or nothing (it was
/// cancelled, timed out, …).
#[cfg(feature = "history")]
async fn record_end(
    history: &crate::history::History,
    id: &TaskId,
    outcome: &Result<CompletedTask, Error>,
) {
    use crate::error::ErrorKind;
    let written = match outcome {
        Ok(done) => {
            history
                .state(id, &done.record().state, done.urls(), None)
                .await
        }
        Err(e) => {
            let state = match e.kind() {
                ErrorKind::TaskFailed => TaskState::Fail,
                ErrorKind::TaskEndedUnrecognized => TaskState::parse(e.state().unwrap_or("")),
                ErrorKind::ResultUnusable => TaskState::Success,
                _ => return,
            };
            let detail = e.to_string();
            history
                .state(id, &state, e.result_urls(), Some(&detail))
                .await
        }
    };
    if let Err(e) = written {
        tracing::warn!(error = %e, "the task history was not updated");
    }
}

/// `at` plus `delay`, or, when that is beyond what an instant can hold, a time so far off that
/// nothing waits for it (about 30 years): durations from the user saturate, never panic.
fn later(at: Instant, delay: Duration) -> Instant {
    at.checked_add(delay)
        .unwrap_or_else(|| at + Duration::from_secs(30 * 365 * 24 * 3600))
}

#[cfg(test)]
mod tests {
    use super::*;

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
