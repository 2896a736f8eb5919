//! A task on the server, by id: query it once, or wait for it to end.

use std::sync::Arc;

use crate::error::Error;
use crate::poll::{self, Polling};
use crate::record::{TaskId, TaskRecord};
use crate::request::Request;
use crate::transport::Transport;
use crate::wait::{CompletedTask, Progress, Waiter, Workload};

/// A task on the server: query it, or wait for it to end.
///
/// Cloning is cheap; any clone (or `client.task(id)` in another process) follows the same task.
#[derive(Debug, Clone)]
pub struct Task {
    transport: Transport,
    polling: Arc<Polling>,
    id: TaskId,
    workload: Option<Workload>,
    fresh: bool,
}

impl Task {
    pub(crate) fn new(
        transport: Transport,
        polling: Arc<Polling>,
        id: TaskId,
        workload: Option<Workload>,
        fresh: bool,
    ) -> Self {
        Task {
            transport,
            polling,
            id,
            workload,
            fresh,
        }
    }

    /// The same task, known to come from `request`: waits expect it to take what such
    /// requests take, and learn from it (for a task resumed by id after a restart).
    pub fn with_request(mut self, request: &Request) -> Self {
        self.workload = Some(request.workload());
        self
    }

    /// The task's id: keep it to resume later with [`Client::task`](crate::Client::task).
    pub fn id(&self) -> &TaskId {
        &self.id
    }

    /// One status query (retried on transient failures).
    pub async fn status(&self) -> Result<TaskRecord, Error> {
        let record = poll::query(&self.transport, &self.id, None, None).await?;
        #[cfg(feature = "history")]
        if let Some(history) = self.transport.history() {
            history.seen(&record).await;
        }
        Ok(record)
    }

    /// Waits until the task ends, with the client's default
    /// [`WaitOptions`](crate::WaitOptions).
    pub async fn wait(&self) -> Result<CompletedTask, Error> {
        self.waiter().await
    }

    /// Waits until the task ends, calling `progress` after each query.
    pub async fn wait_with(
        &self,
        progress: impl FnMut(&Progress) + Send,
    ) -> Result<CompletedTask, Error> {
        self.waiter().on_progress(progress).await
    }

    /// A wait with every option: deadline, schedule, cancellation and progress. It owns what it
    /// needs, so it can be spawned.
    ///
    /// ```no_run
    /// # async fn run(task: apikley::Task) -> Result<(), apikley::Error> {
    /// use std::time::Duration;
    /// let cancel = apikley::CancellationToken::new();
    /// let done = task
    ///     .waiter()
    ///     .deadline(Duration::from_secs(600))
    ///     .cancel_on(cancel.clone())
    ///     .on_progress(|p| eprintln!("{p}"))
    ///     .await?;
    /// println!("{:?}", done.urls());
    /// # Ok(()) }
    /// ```
    pub fn waiter(&self) -> Waiter<'static> {
        Waiter::new(
            self.transport.clone(),
            self.polling.clone(),
            self.id.clone(),
            self.workload.clone(),
            self.fresh,
        )
    }
}
