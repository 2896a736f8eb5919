//! Every retry decision in the crate: one classification of failures ([`Class`]), one rule for
//! what may be sent again ([`Class::may_resend`]), and one backoff (exponential, full jitter,
//! `Retry-After` honoured, within an attempt and time budget) driving API calls and downloads alike.

use std::future::Future;
use std::time::{Duration, SystemTime};

use backon::Retryable;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use tokio::time::Instant;

/// How often and for how long a failed call is retried.
///
/// Only what is safe to repeat is retried: status queries, credits and downloads on transport
/// errors, 429, 455, 5xx and pages that are not the API's answer; `createTask` (and URL uploads,
/// which make the service fetch again) only when the request provably did nothing (the
/// connection was refused before sending, or the answer was 429, 433 or 455).
///
/// ```
/// use std::time::Duration;
/// let policy = apikley::RetryPolicy::default()
///     .with_max_attempts(3)
///     .with_max_elapsed(Duration::from_secs(30));
/// assert_eq!(policy.max_attempts, 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = no retries).
    pub max_attempts: u32,
    /// Retrying stops when the next wait would end later than this after the first attempt.
    pub max_elapsed: Duration,
    /// The first backoff's upper bound; each later one doubles, up to `max_delay`.
    pub initial_delay: Duration,
    /// The largest backoff.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts within 2 minutes, backoff bounds 1 s, 2 s, 4 s, … up to 30 s.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            max_elapsed: Duration::from_secs(120),
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// Never retry.
    pub const fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            max_elapsed: Duration::ZERO,
            initial_delay: Duration::ZERO,
            max_delay: Duration::ZERO,
        }
    }

    /// Attempts in all, the first included (at least 1).
    #[must_use]
    pub const fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = if attempts == 0 { 1 } else { attempts };
        self
    }

    /// The time budget for retries.
    #[must_use]
    pub const fn with_max_elapsed(mut self, budget: Duration) -> Self {
        self.max_elapsed = budget;
        self
    }

    /// The first backoff's upper bound.
    #[must_use]
    pub const fn with_initial_delay(mut self, delay: Duration) -> Self {
        self.initial_delay = delay;
        self
    }

    /// The largest backoff.
    #[must_use]
    pub const fn with_max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    fn backoff(&self) -> FullJitter {
        FullJitter {
            next_bound: self.initial_delay,
            max_delay: self.max_delay,
            retries_left: self.max_attempts.saturating_sub(1),
        }
    }
}

/// What a failure says about sending the same request again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// Nothing reached the server (the connection was refused, or no slot was free before the
    /// deadline).
    NotSent,
    /// The server refused it before doing any work: throttled (429, 433) or under maintenance (455).
    Refused,
    /// It may or may not have been processed, and may succeed later: a timeout, a dropped
    /// connection, a 5xx, a page that is not the API's answer (a proxy or maintenance page).
    Transient,
    /// The same request would fail the same way.
    Permanent,
}

impl Class {
    /// Whether the request may be sent again. `idempotent`: a repeat cannot do the work twice
    /// (status queries, credits, uploads of bytes, downloads); `createTask` is not.
    pub(crate) fn may_resend(self, idempotent: bool) -> bool {
        match self {
            Class::NotSent | Class::Refused => true,
            Class::Transient => idempotent,
            Class::Permanent => false,
        }
    }

    /// The class of an API `code` (or of an HTTP status standing in for one).
    pub(crate) fn of_code(code: i64) -> Class {
        match code {
            429 | 433 | 455 => Class::Refused,
            // Documented answers, not faults: generation failed, feature disabled.
            501 | 505 => Class::Permanent,
            408 | 500..=599 => Class::Transient,
            _ => Class::Permanent,
        }
    }

    /// The class of an HTTP status from a file server.
    pub(crate) fn of_status(status: StatusCode) -> Class {
        Class::of_code(i64::from(status.as_u16()))
    }
}

/// A failure the retry loop can classify.
pub(crate) trait Classified {
    fn class(&self) -> Class;
    /// How long the server asked to wait, if it said.
    fn retry_after(&self) -> Option<Duration> {
        None
    }
}

/// Runs `attempt` until it succeeds, fails in a way that may not be resent, or the policy's
/// attempts, its time budget or `deadline` run out. The server's `Retry-After`, when given,
/// sets the wait before the next attempt; the backoff decides whether there is one.
pub(crate) async fn retrying<T, E, Fut>(
    policy: &RetryPolicy,
    idempotent: bool,
    deadline: Option<Instant>,
    attempt: impl FnMut() -> Fut,
    mut notify: impl FnMut(&E, Duration),
) -> Result<T, E>
where
    E: Classified,
    Fut: Future<Output = Result<T, E>>,
{
    let started = Instant::now();
    let budget_end = started.checked_add(policy.max_elapsed);
    attempt
        .retry(policy.backoff())
        .sleep(tokio::time::sleep)
        .when(|failure: &E| failure.class().may_resend(idempotent))
        .adjust(|failure, backoff| {
            let delay = failure.retry_after().unwrap_or(backoff?);
            let resume = Instant::now().checked_add(delay)?;
            let within_budget = budget_end.is_none_or(|end| resume <= end);
            let before_deadline = deadline.is_none_or(|d| resume < d);
            (within_budget && before_deadline).then_some(delay)
        })
        .notify(|failure, delay| notify(failure, delay))
        .await
}

/// Exponential backoff with "full jitter": each wait is uniform in `[0, bound]`, the bound
/// doubling from `initial_delay` up to `max_delay`. Spreads the retries of many clients.
#[derive(Debug)]
struct FullJitter {
    next_bound: Duration,
    max_delay: Duration,
    retries_left: u32,
}

impl Iterator for FullJitter {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        if self.retries_left == 0 {
            return None;
        }
        self.retries_left -= 1;
        let bound = self.next_bound.min(self.max_delay);
        self.next_bound = bound.saturating_mul(2).max(Duration::from_millis(1));
        Some(bound.mul_f64(fastrand::f64()))
    }
}

/// Longer `Retry-After` values are read as this (the retry budget ends retrying anyway).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// The server's `Retry-After`, in seconds or as an HTTP date, at most a day.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let delay = match value.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => {
            let at = httpdate::parse_http_date(value).ok()?;
            at.duration_since(SystemTime::now()).unwrap_or_default()
        }
    };
    Some(delay.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_bounded_doubling_and_counts_retries() {
        let policy = RetryPolicy::default()
            .with_max_attempts(6)
            .with_max_elapsed(Duration::from_secs(60))
            .with_initial_delay(Duration::from_secs(1))
            .with_max_delay(Duration::from_secs(5));
        for _ in 0..100 {
            let delays: Vec<_> = policy.backoff().collect();
            assert_eq!(delays.len(), 5);
            for (delay, bound) in delays.iter().zip([1, 2, 4, 5, 5]) {
                assert!(*delay <= Duration::from_secs(bound), "{delay:?} > {bound}s");
            }
        }
        assert_eq!(RetryPolicy::none().backoff().count(), 0);
    }

    #[test]
    fn only_what_provably_did_nothing_is_resent_when_a_repeat_could_do_it_twice() {
        for class in [Class::NotSent, Class::Refused] {
            assert!(
                class.may_resend(false) && class.may_resend(true),
                "{class:?}"
            );
        }
        assert!(Class::Transient.may_resend(true));
        assert!(!Class::Transient.may_resend(false));
        assert!(!Class::Permanent.may_resend(true));
        for (code, class) in [
            (429, Class::Refused),
            (433, Class::Refused),
            (455, Class::Refused),
            (408, Class::Transient),
            (500, Class::Transient),
            (502, Class::Transient),
            (599, Class::Transient),
            (501, Class::Permanent),
            (505, Class::Permanent),
            (400, Class::Permanent),
            (401, Class::Permanent),
            (402, Class::Permanent),
            (404, Class::Permanent),
            (422, Class::Permanent),
            (600, Class::Permanent),
        ] {
            assert_eq!(Class::of_code(code), class, "{code}");
        }
    }

    #[derive(Debug)]
    struct Fails(Class, Option<Duration>);

    impl Classified for Fails {
        fn class(&self) -> Class {
            self.0
        }
        fn retry_after(&self) -> Option<Duration> {
            self.1
        }
    }

    async fn attempts(class: Class, idempotent: bool, deadline: Option<Instant>) -> u32 {
        let policy = RetryPolicy::default()
            .with_max_attempts(4)
            .with_max_elapsed(Duration::from_secs(60))
            .with_initial_delay(Duration::from_secs(1))
            .with_max_delay(Duration::from_secs(1));
        let count = std::sync::atomic::AtomicU32::new(0);
        let _ = retrying(
            &policy,
            idempotent,
            deadline,
            || async {
                count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Err::<(), _>(Fails(class, Some(Duration::from_secs(2))))
            },
            |_, _| {},
        )
        .await;
        count.into_inner()
    }

    #[tokio::test(start_paused = true)]
    async fn the_loop_follows_the_classification_the_policy_and_the_deadline() {
        assert_eq!(attempts(Class::Transient, true, None).await, 4);
        assert_eq!(attempts(Class::Transient, false, None).await, 1);
        assert_eq!(attempts(Class::Refused, false, None).await, 4);
        assert_eq!(attempts(Class::Permanent, true, None).await, 1);
        // Retry-After is 2 s: a deadline 3 s away leaves room for one more attempt.
        let started = Instant::now();
        let deadline = Some(started + Duration::from_secs(3));
        assert_eq!(attempts(Class::Transient, true, deadline).await, 2);
        assert_eq!(started.elapsed(), Duration::from_secs(2));
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        let soon = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(100));
        headers.insert(RETRY_AFTER, soon.parse().unwrap());
        let parsed = retry_after(&headers).unwrap();
        assert!(
            parsed > Duration::from_secs(95) && parsed <= Duration::from_secs(100),
            "{parsed:?}"
        );
        headers.insert(RETRY_AFTER, "10000000000000000000".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(MAX_RETRY_AFTER));
        headers.insert(RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }
}
