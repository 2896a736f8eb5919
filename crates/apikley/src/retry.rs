//! How failed calls are retried: exponential backoff with full jitter, `Retry-After` honoured,
//! within an attempt and time budget.

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};

/// How often and for how long a failed call is retried.
///
/// Only calls that are safe to repeat are retried: status queries on transport errors, 429,
/// 455 and 5xx; `createTask` only when the request provably created nothing (the connection
/// was refused before sending, or the answer was 429, 433 or 455).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

    pub(crate) fn backoff(&self) -> FullJitter {
        FullJitter {
            next_bound: self.initial_delay,
            max_delay: self.max_delay,
            retries_left: self.max_attempts.saturating_sub(1),
        }
    }
}

/// Exponential backoff with "full jitter": each wait is uniform in `[0, bound]`, the bound
/// doubling from `initial_delay` up to `max_delay`. Spreads the retries of many clients.
#[derive(Debug)]
pub(crate) struct FullJitter {
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
        let policy = RetryPolicy {
            max_attempts: 6,
            max_elapsed: Duration::from_secs(60),
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(5),
        };
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
