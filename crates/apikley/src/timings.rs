//! How long tasks take, learned per model and workload (`example/video 8s 720p audio`): the
//! last observations of each, and what they say of the next task's end. A client with a
//! task history (`ClientBuilder::history`) starts from the timings its earlier runs saw.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// How much faster than a guessed expectation a service may be and still have its tasks seen
/// as promptly as the documented schedule would see them: the adaptive schedule is sparse only
/// before a task could end at this speed-up.
pub(crate) const FASTER_THAN_EXPECTED: f64 = 3.0;
/// Observations are capped here: one task stuck in a backlog must not slow every later wait.
pub(crate) const MAX_LEARNED: Duration = Duration::from_secs(30 * 60);
/// Observations needed before they replace the prior: fewer say too little of the spread.
pub(crate) const SEEN_ENOUGH: usize = 5;
/// Observations kept per workload: the latest say how the service runs now.
pub(crate) const KEPT: usize = 20;
/// How far below the median the earliest plausible end lies, in robust standard deviations.
const DEVIATIONS: f64 = 3.0;
/// The earliest plausible end is at most this fraction of the median, however narrow the
/// spread seen: a service a little faster than ever before is still seen promptly.
const AT_MOST: f64 = 0.9;

/// What a task is expected to take.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Expectation {
    /// How long such a task typically takes, counted from its creation.
    pub(crate) typical: Duration,
    /// The earliest it plausibly ends, when enough tasks like it were seen to say.
    learned_earliest: Option<Duration>,
}

impl Expectation {
    /// A guess of `typical` (from the spec, or given): the service may be up to
    /// [`FASTER_THAN_EXPECTED`] times faster.
    pub(crate) fn prior(typical: Duration) -> Self {
        Expectation {
            typical,
            learned_earliest: None,
        }
    }

    /// The median of `seen` (at least one), and, from [`SEEN_ENOUGH`] on, the earliest plausible
    /// end their spread allows: the median less three robust standard deviations (1.4826 median
    /// absolute deviations), at most 90% of the median, never earlier than a prior's.
    fn learned(seen: &VecDeque<Duration>) -> Option<Self> {
        let typical = median(seen.iter().copied())?;
        let learned_earliest = (seen.len() >= SEEN_ENOUGH).then(|| {
            let deviation = median(seen.iter().map(|d| d.abs_diff(typical)))
                .unwrap_or_default()
                .mul_f64(1.4826 * DEVIATIONS);
            let earliest = typical
                .saturating_sub(deviation)
                .min(typical.mul_f64(AT_MOST));
            earliest.max(Self::prior(typical).earliest())
        });
        Some(Expectation {
            typical,
            learned_earliest,
        })
    }

    /// The earliest the task plausibly ends: the adaptive schedule is sparse before it.
    pub(crate) fn earliest(&self) -> Duration {
        self.learned_earliest
            .unwrap_or_else(|| self.typical.mul_f64(0.9 / FASTER_THAN_EXPECTED))
    }

    /// Whether it comes from enough observations to trust their spread.
    pub(crate) fn is_learned(&self) -> bool {
        self.learned_earliest.is_some()
    }
}

/// The median of `values` (the lower of the middle two), if any.
fn median(values: impl Iterator<Item = Duration>) -> Option<Duration> {
    let mut values: Vec<Duration> = values.collect();
    values.sort_unstable();
    values.get((values.len().max(1) - 1) / 2).copied()
}

/// The timings a client has seen, per workload.
#[derive(Debug, Default)]
pub(crate) struct Timings(Mutex<HashMap<String, VecDeque<Duration>>>);

impl Timings {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, VecDeque<Duration>>> {
        // Every update is one push or pop: the map stays consistent across a panic elsewhere.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Folds in one observation; tasks of unknown model and workload teach nothing.
    pub(crate) fn observe(&self, key: &str, took: Duration) {
        if key.is_empty() {
            return;
        }
        let mut timings = self.lock();
        let seen = timings.entry(key.to_owned()).or_default();
        seen.push_back(took.min(MAX_LEARNED));
        if seen.len() > KEPT {
            seen.pop_front();
        }
    }

    /// What a task under `key` is expected to take: learned from [`SEEN_ENOUGH`] tasks on,
    /// until then the `prior` (or, without one, the median of what was seen).
    pub(crate) fn expectation(&self, key: &str, prior: Option<Duration>) -> Option<Expectation> {
        let learned = if key.is_empty() {
            None
        } else {
            self.lock().get(key).and_then(Expectation::learned)
        };
        match (learned, prior) {
            (Some(learned), _) if learned.is_learned() => Some(learned),
            (_, Some(prior)) => Some(Expectation::prior(prior)),
            (learned, None) => learned.map(|e| Expectation::prior(e.typical)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn the_prior_stands_until_enough_tasks_were_seen() {
        let timings = Timings::default();
        assert_eq!(timings.expectation("k", None), None);
        for _ in 1..SEEN_ENOUGH {
            timings.observe("k", secs(60));
        }
        assert_eq!(
            timings.expectation("k", Some(secs(99))),
            Some(Expectation::prior(secs(99)))
        );
        // Without a prior, what was seen is the best guess, with a prior's doubt.
        assert_eq!(
            timings.expectation("k", None),
            Some(Expectation::prior(secs(60)))
        );
        timings.observe("k", secs(60));
        let learned = timings.expectation("k", Some(secs(99))).expect("learned");
        assert!(learned.is_learned());
        assert_eq!(learned.typical, secs(60));
        // No spread seen: 90% of the median.
        assert_eq!(learned.earliest(), secs(54));
    }

    #[test]
    fn the_earliest_end_follows_the_spread() {
        let timings = Timings::default();
        for s in [100, 90, 110, 95, 105, 300] {
            timings.observe("k", secs(s));
        }
        let learned = timings.expectation("k", None).expect("learned");
        // Median 100, median absolute deviation 5 (one outlier does not move them).
        assert_eq!(learned.typical, secs(100));
        let earliest = learned.earliest().as_secs_f64();
        assert!(
            (earliest - (100.0 - 3.0 * 1.4826 * 5.0)).abs() < 1e-6,
            "{earliest}"
        );
        // A narrow one still leaves a tenth of the median.
        let narrow = Timings::default();
        for s in [100, 99, 101, 100, 100] {
            narrow.observe("k", secs(s));
        }
        let learned = narrow.expectation("k", None).expect("learned");
        assert_eq!(learned.earliest(), secs(90));
        // A wide spread is never trusted below a prior's doubt.
        let wide = Timings::default();
        for s in [10, 50, 100, 150, 190] {
            wide.observe("k", secs(s));
        }
        let learned = wide.expectation("k", None).expect("learned");
        assert_eq!(learned.earliest(), Expectation::prior(secs(100)).earliest());
    }

    #[test]
    fn only_the_latest_tasks_count_and_none_without_a_key() {
        let timings = Timings::default();
        for _ in 0..KEPT {
            timings.observe("k", secs(300));
        }
        for _ in 0..=KEPT / 2 {
            timings.observe("k", secs(60));
        }
        let learned = timings.expectation("k", None).expect("learned");
        assert_eq!(learned.typical, secs(60));
        timings.observe("stuck", secs(40 * 60));
        assert_eq!(
            timings.expectation("stuck", None).map(|e| e.typical),
            Some(MAX_LEARNED)
        );
        timings.observe("", secs(5));
        assert_eq!(timings.expectation("", None), None);
    }
}
