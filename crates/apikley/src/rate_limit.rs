//! Client-side rate limits, so that a burst of work never meets the server's 429s.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// At most `max` requests in any window of `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimit {
    /// Requests allowed per window.
    pub max: u32,
    /// The window.
    pub per: Duration,
}

impl RateLimit {
    /// `max` requests per `per`.
    pub const fn new(max: u32, per: Duration) -> Self {
        RateLimit { max, per }
    }
}

/// The limits a client keeps to, shared by all its clones and tasks.
///
/// ```
/// use std::time::Duration;
/// use apikley::{RateLimit, RateLimits};
/// let limits = RateLimits::default().with_queries(Some(RateLimit::new(5, Duration::from_secs(1))));
/// assert_eq!(limits.queries.map(|q| q.max), Some(5));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimits {
    /// New tasks (`createTask`); `None` for no limit. Default: 20 per 10 s, the documented
    /// account limit.
    pub creates: Option<RateLimit>,
    /// Status queries (`recordInfo`); `None` for no limit. Default: 10 per second, the
    /// documented per-key limit.
    pub queries: Option<RateLimit>,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            creates: Some(RateLimit::new(20, Duration::from_secs(10))),
            queries: Some(RateLimit::new(10, Duration::from_secs(1))),
        }
    }
}

impl RateLimits {
    /// No client-side limits.
    pub const fn none() -> Self {
        RateLimits {
            creates: None,
            queries: None,
        }
    }

    /// The limit of new tasks (`None`: no limit).
    #[must_use]
    pub const fn with_creates(mut self, limit: Option<RateLimit>) -> Self {
        self.creates = limit;
        self
    }

    /// The limit of status queries (`None`: no limit).
    #[must_use]
    pub const fn with_queries(mut self, limit: Option<RateLimit>) -> Self {
        self.queries = limit;
        self
    }
}

/// Keeps to a [`RateLimit`] whatever the network latency: each request holds one of `max`
/// permits from before it is sent until one window after its answer arrived (or it was given
/// up). The server sees a completed request somewhere between those two moments, so no window of
/// its clock holds more than `max` of them; a request abandoned in flight could still arrive
/// later, by at most its remaining network delay. In-process permits are granted in FIFO
/// order; [shared](crate::SharedLimits) ones are slots that every process of the account takes
/// from one database.
#[derive(Debug, Clone)]
pub(crate) enum Limiter {
    Local {
        permits: Arc<Semaphore>,
        window: Duration,
    },
    #[cfg(feature = "postgres")]
    Shared {
        slots: crate::shared_limits::AccountSlots,
        window: Duration,
    },
}

/// A granted request slot; returned to the limiter one window after it is dropped.
#[derive(Debug)]
pub(crate) struct Slot {
    permit: Option<Permit>,
    window: Duration,
}

#[derive(Debug)]
enum Permit {
    Local(OwnedSemaphorePermit),
    #[cfg(feature = "postgres")]
    Shared(crate::shared_limits::Held),
}

impl Limiter {
    pub(crate) fn new(limit: RateLimit) -> Self {
        Limiter::Local {
            permits: Arc::new(Semaphore::new(limit.max as usize)),
            window: limit.per,
        }
    }

    /// The limit kept in `shared`, for the account whose API key is `key`.
    #[cfg(feature = "postgres")]
    pub(crate) fn shared(
        shared: &crate::shared_limits::SharedLimits,
        key: &str,
        kind: &'static str,
        limit: RateLimit,
    ) -> Self {
        Limiter::Shared {
            slots: shared.slots(key, kind, limit.max, limit.per),
            window: limit.per,
        }
    }

    /// Waits for a slot.
    pub(crate) async fn acquire(&self) -> Slot {
        match self {
            Limiter::Local { permits, window } => Slot {
                permit: permits
                    .clone()
                    .acquire_owned()
                    .await
                    .ok()
                    .map(Permit::Local),
                window: *window,
            },
            #[cfg(feature = "postgres")]
            Limiter::Shared { slots, window } => Slot {
                permit: Some(Permit::Shared(slots.acquire().await)),
                window: *window,
            },
        }
    }
}

impl Slot {
    /// Gives the slot back at once: no request was sent with it.
    pub(crate) fn release_unused(mut self) {
        match self.permit.take() {
            #[cfg(feature = "postgres")]
            Some(Permit::Shared(held)) => held.release(Duration::ZERO),
            _ => {}
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let window = self.window;
        match self.permit.take() {
            None => {}
            Some(Permit::Local(permit)) => {
                // Outside a runtime (shutdown) nothing is waiting any more: release at once.
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    runtime.spawn(async move {
                        tokio::time::sleep(window).await;
                        drop(permit);
                    });
                }
            }
            #[cfg(feature = "postgres")]
            Some(Permit::Shared(held)) => held.release(window),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Instant;

    #[tokio::test(start_paused = true)]
    async fn no_window_holds_more_than_max_grants() {
        let limiter = Limiter::new(RateLimit::new(3, Duration::from_secs(10)));
        let start = Instant::now();
        let mut grants = Vec::new();
        for _ in 0..9 {
            let slot = limiter.acquire().await;
            grants.push(start.elapsed());
            drop(slot);
        }
        assert_eq!(
            grants,
            [0, 0, 0, 10, 10, 10, 20, 20, 20].map(Duration::from_secs)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_window_starts_when_the_request_ends() {
        let limiter = Limiter::new(RateLimit::new(1, Duration::from_secs(10)));
        let start = Instant::now();
        let slot = limiter.acquire().await;
        tokio::time::sleep(Duration::from_secs(4)).await; // a slow request
        drop(slot);
        let _next = limiter.acquire().await;
        assert_eq!(start.elapsed(), Duration::from_secs(14));
    }
}
