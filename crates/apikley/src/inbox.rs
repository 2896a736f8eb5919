//! Callbacks instead of polling: verified callbacks are handed to an inbox, and the waits that
//! use it make no status query until their task's callback comes. Then one query by id
//! confirms it (the signature does not cover the body), and only that record is acted on.

use std::collections::HashMap;
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
/// A callback that arrives before its wait starts is kept until that wait takes it; a wait
/// forgets its task's entry when it ends.
///
/// ```
/// use apikley::callback::{CallbackEvent, CallbackInbox};
///
/// let inbox = CallbackInbox::new();
/// // In the callback endpoint, once the signature is checked (or the body parsed):
/// let body = br#"{"code": 200, "data": {"taskId": "task_1", "state": "success"}}"#;
/// let event = CallbackEvent::parse(body)?;
/// inbox.deliver(&event.record.id);
/// assert!(inbox.has_heard(&"task_1".into()));
/// # Ok::<(), apikley::callback::CallbackError>(())
/// ```
#[derive(Clone, Default)]
pub struct CallbackInbox {
    /// Per task: whether its callback came.
    tasks: Arc<Mutex<HashMap<TaskId, watch::Sender<bool>>>>,
}

impl std::fmt::Debug for CallbackInbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackInbox")
            .field("tasks", &self.lock().len())
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

    /// Hands task `id`'s callback to the wait for that task (now, or when that wait starts):
    /// `inbox.deliver(&event.record.id)`. The wait confirms the task by id itself.
    pub fn deliver(&self, id: &TaskId) {
        self.lock()
            .entry(id.clone())
            .or_default()
            .send_replace(true);
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
}
