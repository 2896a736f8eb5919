//! One poll scheduler per client: every wait's status queries go through it, so that many
//! tasks in flight share the query budget where it pays.
//!
//! A wait says when it next wants to look at its task (its [`PollSchedule`] decides, never more
//! often than the documented schedule). While the budget allows, each look happens at that
//! moment, exactly as a lone wait would make it. When more looks are due than query slots are
//! free, each slot goes, at the moment it is granted, to the due task most likely to have
//! finished since it was last seen: that chance grows slowly with the time since the last look
//! while the task's expected end is ahead, and steeply once it is reached. Time since the last
//! look always counts, so no task starves.
//!
//! [`PollSchedule`]: crate::PollSchedule

use std::collections::HashMap;
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{Notify, oneshot};
use tokio::time::Instant;

use crate::endpoint::Op;
use crate::envelope;
use crate::error::Error;
use crate::rate_limit::Slot;
use crate::record::{TaskId, TaskRecord};
#[cfg(test)]
use crate::timings::FASTER_THAN_EXPECTED;
use crate::timings::{Expectation, Timings};
use crate::transport::{Scope, Transport};

/// What a task is expected to take when nothing better is known.
const UNKNOWN_EXPECTATION: Duration = Duration::from_secs(120);
/// How far on either side of its expected end a task is likely to finish, as a fraction of it.
const SPREAD: f64 = 0.1;
/// Looks overdue by this much mean the query budget is short.
const BACKLOG: Duration = Duration::from_secs(1);

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

/// The documented schedule at its thrifty end, band by band: (start, interval) — every 3 s for
/// the first 30 s, every 10 s until 2 minutes, every 30 s after.
const DOCUMENTED_BANDS: [(Duration, Duration); 3] = [
    (Duration::from_secs(0), Duration::from_secs(3)),
    (Duration::from_secs(30), Duration::from_secs(10)),
    (Duration::from_secs(120), Duration::from_secs(30)),
];

/// The longest a stretched wait lasts, however far the expected end.
const MAX_STRETCH: Duration = Duration::from_secs(60);
/// The shortest fixed interval.
const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// When a waiting task is queried.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum PollSchedule {
    /// The documented schedule at its thrifty end (every 3 s for the first 30 s, every 10 s until
    /// 2 minutes, every 30 s after), stretched at the start, while even a service
    /// three times faster than the task's expected duration could not have
    /// finished it: each wait is then half the time left to 90% of that earliest end (at most a
    /// minute), never shorter than the documented interval, and lengthened by up to 10% of
    /// jitter so that many tasks do not poll in step. From there on it queries exactly when the
    /// documented schedule does (its times counted from the start of the wait), so a task that
    /// ends early is seen as promptly as the docs' schedule would see it. Once the client has
    /// seen enough tasks of the same model and workload (five, in this process or, with a
    /// [history](crate::history), in earlier ones) to know their spread, the sparse start
    /// lasts until the earliest end that spread makes plausible, with one look halfway. It
    /// never queries more often than the documented schedule.
    Adaptive,
    /// A fixed interval, at least one second (plus the same jitter).
    Every(Duration),
}

impl PollSchedule {
    /// The band of the documented schedule (thrifty end) that `t` falls in: its start and its
    /// interval.
    fn documented_band(t: Duration) -> (Duration, Duration) {
        DOCUMENTED_BANDS
            .into_iter()
            .rev()
            .find(|(start, _)| t >= *start)
            .unwrap_or(DOCUMENTED_BANDS[0])
    }

    /// The documented interval at `elapsed`, at the thrifty end of each band.
    pub fn documented_interval(elapsed: Duration) -> Duration {
        Self::documented_band(elapsed).1
    }

    /// When the documented schedule (thrifty end) makes its `n`-th query (from 1), counted from
    /// the start of the wait: no wait makes its `n`-th query earlier.
    pub fn documented_time(n: u32) -> Duration {
        let mut left = n;
        for (i, (start, interval)) in DOCUMENTED_BANDS.into_iter().enumerate() {
            // The queries that fall within this band (ending at its end), if it has one.
            let end = DOCUMENTED_BANDS.get(i + 1).map(|(next, _)| *next);
            let fits = end.map_or(u32::MAX, |end| {
                u32::try_from((end - start).as_nanos() / interval.as_nanos()).unwrap_or(u32::MAX)
            });
            if left <= fits {
                return start.saturating_add(interval.saturating_mul(left));
            }
            left -= fits;
        }
        Duration::MAX
    }

    /// The first time the documented schedule queries at or after `t` (from the start of the
    /// wait).
    pub fn documented_time_after(t: Duration) -> Duration {
        // A time on a band's start belongs to the band before it (whose last query it is).
        let (start, interval) = DOCUMENTED_BANDS
            .into_iter()
            .rev()
            .find(|(start, _)| t > *start)
            .unwrap_or(DOCUMENTED_BANDS[0]);
        let steps = (t - start).as_nanos().div_ceil(interval.as_nanos()).max(1);
        let steps = u32::try_from(steps).unwrap_or(u32::MAX);
        start.saturating_add(interval.saturating_mul(steps))
    }

    /// How long to wait before the next query, `elapsed` into the wait, when the task is
    /// expected to take `expected` in all. Without jitter.
    pub fn interval(&self, elapsed: Duration, expected: Option<Duration>) -> Duration {
        self.interval_for(elapsed, expected.map(Expectation::prior))
    }

    /// [`interval`](Self::interval) for an expectation that may be learned.
    fn interval_for(&self, elapsed: Duration, expected: Option<Expectation>) -> Duration {
        match *self {
            PollSchedule::Every(interval) => interval.max(MIN_INTERVAL),
            PollSchedule::Adaptive => match Self::stretched(elapsed, expected) {
                Some(Stretch::Jittered(wait) | Stretch::Exact(wait)) => wait,
                None => Self::to_documented_time(elapsed),
            },
        }
    }

    /// The wait until the documented schedule's next query, at least a second away.
    fn to_documented_time(elapsed: Duration) -> Duration {
        Self::documented_time_after(elapsed + MIN_INTERVAL) - elapsed
    }

    /// The stretched wait at the start of the adaptive schedule, while the task cannot have
    /// ended yet; `None` once the documented schedule applies.
    fn stretched(elapsed: Duration, expected: Option<Expectation>) -> Option<Stretch> {
        let expected = expected?;
        let documented = Self::documented_interval(elapsed);
        let aim = expected.earliest();
        if elapsed + documented >= aim {
            return None;
        }
        let stretch = |wait: Duration| documented.max(wait.min(MAX_STRETCH));
        if !expected.is_learned() {
            // A guess: halve the time left, so that a faster service is seen soon enough.
            return Some(Stretch::Jittered(stretch((aim - elapsed) / 2)));
        }
        // Learned: one look halfway (a service grown faster than it was is seen then), then
        // the documented query at the earliest plausible end.
        let halfway = aim / 2;
        if elapsed + documented < halfway {
            return Some(Stretch::Jittered(stretch(halfway - elapsed)));
        }
        let to_end = Self::documented_time_after(aim) - elapsed;
        Some(if to_end > MAX_STRETCH {
            // Jittered, it must still end before the query at the earliest end.
            Stretch::Jittered(MAX_STRETCH.min(to_end.div_f64(1.1)))
        } else {
            Stretch::Exact(stretch(to_end))
        })
    }

    /// [`interval`](Self::interval) with jitter, except on the documented grid: the docs'
    /// times are already counted from each wait's own start.
    pub(crate) fn next_delay(&self, elapsed: Duration, expected: Option<Expectation>) -> Duration {
        let jittered = |interval: Duration| {
            Duration::try_from_secs_f64(interval.as_secs_f64() * (1.0 + fastrand::f64() * 0.1))
                .unwrap_or(interval)
        };
        match *self {
            PollSchedule::Every(_) => jittered(self.interval_for(elapsed, expected)),
            PollSchedule::Adaptive => match Self::stretched(elapsed, expected) {
                Some(Stretch::Jittered(wait)) => jittered(wait),
                Some(Stretch::Exact(wait)) => wait,
                None => Self::to_documented_time(elapsed),
            },
        }
    }
}

/// A wait of the adaptive schedule's sparse start.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Stretch {
    /// Jittered, so that many tasks do not poll in step.
    Jittered(Duration),
    /// Landing on the documented schedule's grid, which is already each wait's own.
    Exact(Duration),
}

/// The answer to one look.
pub(crate) type Answer = Result<TaskRecord, Error>;

/// What every wait of a client shares: the default options, the task durations learned so
/// far (per model and workload), and the scheduler of status queries.
pub(crate) struct Polling {
    defaults: WaitOptions,
    transport: Transport,
    timings: Timings,
    book: Mutex<Book>,
    /// Wakes the driver: a look was asked for, or a wait went away.
    wake: Notify,
}

impl std::fmt::Debug for Polling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Polling")
            .field("defaults", &self.defaults)
            .field("waiting", &lock(&self.book).entries.len())
            .finish_non_exhaustive()
    }
}

/// The waits being served.
#[derive(Default)]
struct Book {
    entries: HashMap<u64, Entry>,
    next_key: u64,
    /// Whether a driver task is running.
    driving: bool,
}

/// One wait.
struct Entry {
    id: TaskId,
    /// When the wait began: the clock its expectation is measured on.
    started: Instant,
    /// The key timings are learned under, and the prior when nothing is learned yet.
    learning_key: String,
    prior: Option<Duration>,
    last_look: Instant,
    ask: Option<Ask>,
}

/// A look asked for.
struct Ask {
    due: Instant,
    /// The earliest the wait's schedule allows (it never queries more often than the
    /// documented schedule, counted from its start): when the budget is short and the task is
    /// past its likely end, the scheduler may look then instead of at `due`.
    earliest: Instant,
    deadline: Option<Instant>,
    /// Boxed: a record is large, and every waiting task holds one open channel.
    reply: oneshot::Sender<Box<Answer>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The data stays consistent across a panic elsewhere (every update is one assignment).
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Polling {
    pub(crate) fn new(defaults: WaitOptions, transport: Transport) -> Self {
        Polling {
            defaults,
            transport,
            timings: Timings::default(),
            book: Mutex::default(),
            wake: Notify::new(),
        }
    }

    pub(crate) fn defaults(&self) -> &WaitOptions {
        &self.defaults
    }

    /// What a task under `key` is expected to take: learned from enough tasks seen, until
    /// then its `prior` (see [`Timings::expectation`]).
    pub(crate) fn expectation(&self, key: &str, prior: Option<Duration>) -> Option<Expectation> {
        self.timings.expectation(key, prior)
    }

    /// Folds in one observed generation time.
    pub(crate) fn learn(&self, key: &str, took: Duration) {
        self.timings.observe(key, took);
    }

    /// Registers a wait for task `id`; it is served until the ticket is dropped.
    pub(crate) fn register(
        self: &Arc<Self>,
        id: TaskId,
        learning_key: String,
        prior: Option<Duration>,
    ) -> Ticket {
        let now = Instant::now();
        let mut book = lock(&self.book);
        let key = book.next_key;
        book.next_key += 1;
        book.entries.insert(
            key,
            Entry {
                id,
                started: now,
                learning_key,
                prior,
                last_look: now,
                ask: None,
            },
        );
        Ticket {
            polling: self.clone(),
            key,
        }
    }

    /// Starts the driver unless it runs. Called with the book locked, so that a driver about
    /// to stop (it stops only with an empty book, under the same lock) is never relied on.
    fn ensure_driver(self: &Arc<Self>, book: &mut Book) {
        if !book.driving {
            book.driving = true;
            tokio::spawn(self.clone().drive());
        }
    }

    /// Grants looks: at their due time while slots are free, by likelihood when they are not.
    async fn drive(self: Arc<Self>) {
        loop {
            let mut woken = pin!(self.wake.notified());
            woken.as_mut().enable();
            let next_due = {
                let mut book = lock(&self.book);
                let next = book
                    .entries
                    .values()
                    .filter_map(|e| e.ask.as_ref().map(|a| a.due))
                    .min();
                if next.is_none() && book.entries.is_empty() {
                    book.driving = false;
                    return;
                }
                next
            };
            match next_due {
                None => {
                    woken.await;
                    continue;
                }
                Some(due) if due > Instant::now() => {
                    tokio::select! {
                        () = tokio::time::sleep_until(due) => {}
                        () = woken => {}
                    }
                    continue;
                }
                Some(_) => {}
            }
            // Choose once the slot is granted: by then other looks may be due, and others
            // answered.
            let slot = self.transport.query_slot().await;
            let Some((id, ask)) = self.pick(Instant::now()) else {
                if let Some(slot) = slot {
                    slot.release_unused();
                }
                continue;
            };
            let transport = self.transport.clone();
            tokio::spawn(async move {
                let answer = query(&transport, &id, ask.deadline, slot).await;
                // The wait may have ended meanwhile (cancelled, timed out): nobody to tell.
                let _ = ask.reply.send(Box::new(answer));
            });
        }
    }

    /// Takes the due look most likely to find its task finished. When looks are overdue (the
    /// budget is short), tasks past their likely end may be looked at before their own
    /// schedule's time, as early as the documented schedule allows: that is where the budget
    /// finds finished tasks.
    fn pick(&self, now: Instant) -> Option<(TaskId, Ask)> {
        let mut book = lock(&self.book);
        let backlog = book
            .entries
            .values()
            .any(|e| e.ask.as_ref().is_some_and(|a| a.due + BACKLOG <= now));
        let mut best: Option<(u64, f64)> = None;
        for (key, entry) in &book.entries {
            let Some(ask) = &entry.ask else { continue };
            let expected = self
                .expectation(&entry.learning_key, entry.prior)
                .map_or(UNKNOWN_EXPECTATION, |e| e.typical);
            let likely_over = now.saturating_duration_since(entry.started)
                >= expected.mul_f64(1.0 - 2.0 * SPREAD);
            let eligible = ask.due <= now || (backlog && likely_over && ask.earliest <= now);
            if !eligible {
                continue;
            }
            let score = chance_finished(entry.started, entry.last_look, now, expected);
            if best.is_none_or(|(_, s)| score > s) {
                best = Some((*key, score));
            }
        }
        let entry = book.entries.get_mut(&best?.0)?;
        entry.last_look = now;
        Some((entry.id.clone(), entry.ask.take()?))
    }
}

/// A likelihood score that a task finished between `last` and `now`: the growth of a
/// cumulative hazard that is low (half the rate of one end per expected duration) before the
/// expected end, and rises through it over a logistic spread. Comparable across tasks.
fn chance_finished(started: Instant, last: Instant, now: Instant, expected: Duration) -> f64 {
    let expected = expected.as_secs_f64().max(1.0);
    let spread = SPREAD * expected;
    let hazard = |at: Instant| {
        let x = at.saturating_duration_since(started).as_secs_f64();
        x / (2.0 * expected) + softplus((x - expected) / spread)
    };
    hazard(now) - hazard(last)
}

/// `ln(1 + e^z)`, without overflow.
fn softplus(z: f64) -> f64 {
    if z > 30.0 { z } else { z.exp().ln_1p() }
}

/// One status query of task `id`, its record read best effort; `granted` is a rate-limit slot
/// already held for it.
pub(crate) async fn query(
    transport: &Transport,
    id: &TaskId,
    deadline: Option<Instant>,
    granted: Option<Slot>,
) -> Result<TaskRecord, Error> {
    let granted = Mutex::new(granted);
    let scope = Scope {
        task_id: Some(id),
        deadline,
        granted: Some(&granted),
        ..Scope::default()
    };
    // A record about another task (a misbehaving proxy or cache) is a bad answer, retried
    // like a 5xx: its results must never be taken for this task's.
    let about_this_task = |record: TaskRecord| match record.id.as_str() {
        "" => Ok(record),
        other if other == id.as_str() => Ok(record),
        other => Err(format!("the record is about task {other}, not {id}")),
    };
    let mut record = transport
        .call_fast(
            Op::TaskDetail,
            scope,
            |request| request.query(&[(Op::TASK_ID_PARAMETER, id.as_str())]),
            |body| {
                let record = TaskRecord::from_value(envelope::documented_data(body)?).ok()?;
                about_this_task(record).ok()
            },
            |answer| {
                let record = TaskRecord::from_value(answer.data).map_err(|e| e.to_string())?;
                about_this_task(record)
            },
        )
        .await?;
    if record.id.as_str().is_empty() {
        record.id = id.clone();
    }
    Ok(record)
}

/// A wait's place at the scheduler; dropping it ends the wait's service.
pub(crate) struct Ticket {
    polling: Arc<Polling>,
    key: u64,
}

impl Ticket {
    /// Asks for a look at `due` or later (replacing any earlier ask). The answer comes on the
    /// receiver; a query that has not started by `deadline` is not made.
    pub(crate) fn look(
        &self,
        due: Instant,
        earliest: Instant,
        deadline: Option<Instant>,
    ) -> oneshot::Receiver<Box<Answer>> {
        let (reply, answer) = oneshot::channel();
        let mut book = lock(&self.polling.book);
        if let Some(entry) = book.entries.get_mut(&self.key) {
            entry.ask = Some(Ask {
                due,
                earliest: earliest.min(due),
                deadline,
                reply,
            });
        }
        self.polling.ensure_driver(&mut book);
        drop(book);
        self.polling.wake.notify_one();
        answer
    }

    /// Learns timings under `key` from now on (a resumed wait finds its model in the record).
    pub(crate) fn set_learning_key(&self, key: &str) {
        if let Some(entry) = lock(&self.polling.book).entries.get_mut(&self.key) {
            key.clone_into(&mut entry.learning_key);
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        lock(&self.polling.book).entries.remove(&self.key);
        self.polling.wake.notify_one();
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
        // Sparse only until a service 3× faster than expected could end the task (90% of a
        // third of it), then the documented schedule itself.
        let expected = Duration::from_secs(300);
        let adaptive = query_times(
            PollSchedule::Adaptive,
            Some(expected),
            Duration::from_secs(600),
        );
        let sparse_until = expected.mul_f64(0.9 / FASTER_THAN_EXPECTED);
        let early = adaptive.iter().filter(|t| **t < sparse_until).count();
        let documented_early = documented.iter().filter(|t| **t < sparse_until).count();
        assert!(early <= 4 && documented_early >= 15, "{adaptive:?}");
        // From there on, every documented query (but one less than a second after the last
        // stretched one), and nothing else.
        let late: Vec<&Duration> = adaptive.iter().filter(|t| **t >= sparse_until).collect();
        let last_sparse = adaptive.iter().rfind(|t| **t < sparse_until).copied();
        let documented_late: Vec<&Duration> = documented
            .iter()
            .filter(|t| **t >= sparse_until && last_sparse.is_none_or(|l| **t >= l + MIN_INTERVAL))
            .take(late.len())
            .collect();
        assert_eq!(late, documented_late, "{adaptive:?}");
    }

    #[test]
    fn learned_timings_look_halfway_then_on_the_docs_grid_from_the_earliest_end() {
        let hour = Duration::from_secs(3600);
        let documented = query_times(PollSchedule::Adaptive, None, hour);
        for typical in [20, 60, 120, 300, 900] {
            let typical = Duration::from_secs(typical);
            let timings = Timings::default();
            for _ in 0..crate::timings::SEEN_ENOUGH {
                timings.observe("k", typical);
            }
            let learned = timings.expectation("k", None).expect("learned");
            let mut ours = Vec::new();
            let mut t = Duration::ZERO;
            while t <= hour {
                t += PollSchedule::Adaptive.interval_for(t, Some(learned));
                ours.push(t);
            }
            // The k-th query never comes earlier than the documented k-th query.
            for (ours, docs) in ours.iter().zip(&documented) {
                assert!(ours >= docs, "{typical:?}: {ours:?} < {docs:?}");
            }
            // From the earliest plausible end on, exactly the documented queries.
            let earliest = learned.earliest();
            let late: Vec<&Duration> = ours.iter().filter(|t| **t >= earliest).take(5).collect();
            let documented_late: Vec<&Duration> = documented
                .iter()
                .filter(|t| **t >= earliest)
                .take(5)
                .collect();
            assert_eq!(late, documented_late, "{typical:?}: {ours:?}");
            // Before it, at most a look a minute, the first no later than halfway.
            assert!(ours[0] <= (earliest / 2).min(MAX_STRETCH), "{ours:?}");
            // Until the query that sees a task ending on time: at most half the docs' queries.
            let seen_at = PollSchedule::documented_time_after(typical);
            let count = |times: &[Duration]| times.iter().filter(|t| **t <= seen_at).count();
            assert!(
                2 * count(&ours) <= count(&documented),
                "{typical:?}: {} vs {}",
                count(&ours),
                count(&documented)
            );
        }
    }

    #[test]
    fn the_next_documented_time_is_on_the_grid_of_its_band() {
        let at =
            |t: f64| PollSchedule::documented_time_after(Duration::from_secs_f64(t)).as_secs_f64();
        assert_eq!(at(0.0), 3.0);
        assert_eq!(at(3.0), 3.0);
        assert_eq!(at(3.1), 6.0);
        assert_eq!(at(29.5), 30.0);
        assert_eq!(at(30.2), 40.0);
        assert_eq!(at(120.0), 120.0);
        assert_eq!(at(121.0), 150.0);
        assert_eq!(at(1e6), 120.0 + 30.0 * ((1e6 - 120.0) / 30.0_f64).ceil());
    }

    #[test]
    fn the_documented_times_are_the_documented_schedules() {
        let times = query_times(PollSchedule::Adaptive, None, Duration::from_secs(600));
        for (n, at) in times.iter().enumerate() {
            assert_eq!(PollSchedule::documented_time(n as u32 + 1), *at);
        }
    }

    #[test]
    fn the_likeliest_finished_task_is_the_one_past_its_expected_end() {
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        let minute = Duration::from_secs(60);
        // Both unseen for 20 s, at 70 s: one expected to take a minute, one five.
        let past_its_end = chance_finished(start, at(50), at(70), minute);
        let far_from_it = chance_finished(start, at(50), at(70), 5 * minute);
        assert!(
            past_its_end > 5.0 * far_from_it,
            "{past_its_end} vs {far_from_it}"
        );
        // Time since the last look counts: a task far from its end, unseen for long enough,
        // outranks one just looked at past its end.
        let just_seen = chance_finished(start, at(189), at(190), minute);
        let long_unseen = chance_finished(start, at(10), at(190), 5 * minute);
        assert!(long_unseen > just_seen, "{long_unseen} vs {just_seen}");
        // Nothing is negative or undefined, however long the wait.
        let late = chance_finished(start, at(100_000), at(100_001), Duration::ZERO);
        assert!(late.is_finite() && late > 0.0);
    }
}
