//! Callbacks instead of polling: verified callbacks are handed to an inbox, and the waits that
//! use it make no status query until their task's callback comes. Then one query by id
//! confirms it (the signature does not cover the body), and only that record is acted on.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;

use crate::record::TaskId;

/// How long a wait that expects a callback goes without any status query before it polls on
/// its schedule after all (the callback may be lost): three times the task's expected
/// duration, at least this long.
pub const MIN_CALLBACK_FALLBACK: Duration = Duration::from_secs(5 * 60);

/// The callbacks received for tasks, shared by a callback endpoint (which calls
/// [`deliver`](Self::deliver) with what it verified) and the waits that use it
/// ([`Waiter::callbacks`](crate::Waiter::callbacks)). Cheap to clone.
///
/// It keeps callbacks only for tasks in flight: those a wait is waiting for, and those
/// announced with [`expect`](Self::expect) (a task just created, whose wait starts a moment
/// later). A callback for any other task is dropped and counted ([`dropped`](Self::dropped)),
/// so unsigned traffic to a public endpoint cannot grow memory. A wait forgets its task's
/// entry when it ends.
///
/// ```
/// use apikley::callback::{CallbackEvent, CallbackInbox};
///
/// let inbox = CallbackInbox::new();
/// inbox.expect(&"task_1".into()); // when the task is created
/// // In the callback endpoint, once the signature is checked (or the body parsed):
/// let body = br#"{"code": 200, "data": {"taskId": "task_1", "state": "success"}}"#;
/// let event = CallbackEvent::parse(body)?;
/// inbox.deliver(&event.record.id);
/// assert!(inbox.has_heard(&"task_1".into()));
/// // A callback for a task nobody waits for is not kept.
/// inbox.deliver(&"someone-elses".into());
/// assert!(!inbox.has_heard(&"someone-elses".into()));
/// assert_eq!(inbox.dropped(), 1);
/// # Ok::<(), apikley::callback::CallbackError>(())
/// ```
#[derive(Clone, Default)]
pub struct CallbackInbox {
    /// Per task in flight: whether its callback came.
    tasks: Arc<Mutex<HashMap<TaskId, watch::Sender<bool>>>>,
    /// Callbacks for tasks not in flight, dropped.
    dropped: Arc<AtomicU64>,
}

impl std::fmt::Debug for CallbackInbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackInbox")
            .field("tasks", &self.lock().len())
            .field("dropped", &self.dropped())
            .finish()
    }
}

impl CallbackInbox {
    /// An empty inbox.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<TaskId, watch::Sender<bool>>> {
        // A panic elsewhere while holding the lock leaves the map itself sound.
        self.tasks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn entry(&self, id: &TaskId) -> watch::Receiver<bool> {
        self.lock().entry(id.clone()).or_default().subscribe()
    }

    /// Task `id` is in flight: its callback is kept for its wait, which may start later.
    pub fn expect(&self, id: &TaskId) {
        self.lock().entry(id.clone()).or_default();
    }

    /// Hands task `id`'s callback to the wait for that task (now, or when that wait starts, if
    /// it was [expected](Self::expect)): `inbox.deliver(&event.record.id)`. The wait confirms
    /// the task by id itself. A callback for a task not in flight is dropped and counted.
    pub fn deliver(&self, id: &TaskId) {
        match self.lock().get(id) {
            Some(heard) => {
                heard.send_replace(true);
            }
            None => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(task_id = %id, "callback for a task not in flight: dropped");
            }
        }
    }

    /// How many callbacks came for tasks not in flight, and were dropped.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Whether a callback for task `id` has come and not yet been taken by its wait.
    pub fn has_heard(&self, id: &TaskId) -> bool {
        self.lock().get(id).is_some_and(|heard| *heard.borrow())
    }

    /// Until a callback for task `id` comes (at once if it came already).
    pub(crate) async fn heard(&self, id: &TaskId) {
        let mut heard = self.entry(id);
        // Only `forget` drops the sender, and only the wait itself calls it.
        let _ = heard.wait_for(|heard| *heard).await;
    }

    /// The wait for task `id` is over: its entry goes.
    pub(crate) fn forget(&self, id: &TaskId) {
        self.lock().remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_wait_hears_a_callback_that_came_before_or_after_it_started() {
        let inbox = CallbackInbox::new();
        let early: TaskId = "early".into();
        inbox.expect(&early);
        inbox.deliver(&early);
        tokio::time::timeout(Duration::from_secs(1), inbox.heard(&early))
            .await
            .expect("a callback that came first is kept");

        let late: TaskId = "late".into();
        let waiting = tokio::spawn({
            let inbox = inbox.clone();
            let late = late.clone();
            async move { inbox.heard(&late).await }
        });
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert!(!waiting.is_finished(), "nothing came yet");
        inbox.deliver(&late);
        tokio::time::timeout(Duration::from_secs(1), waiting)
            .await
            .expect("woken by the delivery")
            .expect("no panic");

        inbox.forget(&early);
        assert!(!inbox.has_heard(&early) && inbox.has_heard(&late));
    }

    #[test]
    fn callbacks_for_tasks_not_in_flight_are_dropped_and_counted() {
        let inbox = CallbackInbox::new();
        for i in 0..10_000 {
            inbox.deliver(&format!("unsigned-{i}").as_str().into());
        }
        assert_eq!(inbox.dropped(), 10_000);
        assert!(inbox.lock().is_empty(), "nothing kept");
        let mine: TaskId = "mine".into();
        inbox.expect(&mine);
        inbox.deliver(&mine);
        assert!(inbox.has_heard(&mine));
        assert_eq!(inbox.dropped(), 10_000);
    }
}
