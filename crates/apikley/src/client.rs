//! The client: submit tasks, resume them by id.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderValue;
use serde::Deserialize;
use url::Url;

use crate::config::{ApiKey, ClientBuilder};
use crate::error::Error;
use crate::files::MediaSource;
use crate::model::{Model, TaskRequest};
use crate::rate_limit::{Limiter, RateLimits};
use crate::retry::RetryPolicy;
use crate::task::TaskId;
use crate::transport::{Op, Scope};
use crate::wait::{CompletedTask, Estimator, Task, WaitOptions, Workload};

/// An Apikley client. Cheap to clone; clones share the connection pool, the rate limits and
/// what has been learned about task durations.
///
/// ```no_run
/// # async fn run<R: apikley::TaskRequest>(request: R) -> Result<(), apikley::Error> {
/// let client = apikley::Client::from_env()?; // APIKLEY_API_KEY, APIKLEY_BASE_URL
/// let task = client.submit(request).await?; // validated first; returns once the id is known
/// println!("task {}", task.id()); // resumable later: client.task(id)
/// let done = task.wait_with(|p| eprintln!("{p}")).await?;
/// for url in done.urls() {
///     println!("{url}");
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) key: ApiKey,
    pub(crate) base_url: Url,
    pub(crate) endpoints: Vec<(Op, Url)>,
    pub(crate) http: reqwest::Client,
    /// For result files: requests without the API key, bounded by an idle timeout instead of
    /// a total one.
    pub(crate) download_http: reqwest::Client,
    pub(crate) download_idle_timeout: Option<Duration>,
    pub(crate) user_agent: HeaderValue,
    pub(crate) request_timeout: Option<Duration>,
    pub(crate) retry: RetryPolicy,
    pub(crate) rate_limits: RateLimits,
    pub(crate) creates: Option<Limiter>,
    pub(crate) queries: Option<Limiter>,
    pub(crate) wait: WaitOptions,
    pub(crate) estimator: Estimator,
}

impl Inner {
    pub(crate) fn endpoint(&self, op: Op) -> Url {
        self.endpoints
            .iter()
            .find(|(o, _)| *o == op)
            .map_or_else(|| self.base_url.clone(), |(_, url)| url.clone())
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.inner;
        f.debug_struct("Client")
            .field("base_url", &inner.base_url.as_str())
            .field("api_key", &inner.key)
            .field("request_timeout", &inner.request_timeout)
            .field("retry", &inner.retry)
            .field("rate_limits", &inner.rate_limits)
            .field("wait", &inner.wait)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Created {
    #[serde(rename = "taskId")]
    task_id: String,
}

impl Client {
    /// A builder with every default.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client for the production API with default settings.
    pub fn new(api_key: impl Into<String>) -> Result<Self, Error> {
        Client::builder().api_key(api_key).build()
    }

    /// A client configured from `APIKLEY_API_KEY` (required) and `APIKLEY_BASE_URL`
    /// (default `https://api.apikley.ru`).
    pub fn from_env() -> Result<Self, Error> {
        Client::builder().with_env()?.build()
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &Url {
        &self.inner.base_url
    }

    /// Validates the request, uploads its local files, then creates the task; returns as soon
    /// as its id is known.
    ///
    /// Nothing is sent when the request breaks a rule ([`Error::InvalidRequest`] lists every
    /// one, local files included). `createTask` is resent only when it provably created nothing; otherwise the
    /// error is [`Error::OutcomeUnknown`].
    pub async fn submit<R: TaskRequest>(&self, mut request: R) -> Result<Task, Error> {
        let violations = request.violations();
        if !violations.is_empty() {
            return Err(Error::InvalidRequest(violations));
        }
        // Local files become hosted URLs (uploads are free and safe to repeat).
        for source in request.local_files_mut() {
            if let MediaSource::File(path) = source {
                let uploaded = self.upload_file(path.as_path()).await?;
                tracing::info!(file = %path.display(), url = %uploaded.download_url, "uploaded input file");
                *source = MediaSource::Url(uploaded.download_url.into());
            }
        }
        let body = request.into_body()?;
        self.submit_body::<R::Model>(body).await
    }

    /// Creates a task from a model's spec-exact body, as generated in its raw crate, after
    /// checking the rules the generated types cannot ([`Model::check`]).
    pub async fn submit_body<M: Model>(&self, body: M::Body) -> Result<Task, Error> {
        let violations = M::check(&body);
        if !violations.is_empty() {
            return Err(Error::InvalidRequest(violations));
        }
        let workload = Workload {
            key: format!("{} {}", M::ID, M::workload(&body)),
            prior: M::expected_duration(&body),
        };
        let created: Created = self
            .inner
            .call(Op::CreateTask, Scope::default(), |http, url| {
                http.post(url).json(&body)
            })
            .await?;
        if created.task_id.trim().is_empty() {
            return Err(Error::OutcomeUnknown {
                reason: "the answer said success but named no task (empty taskId)".into(),
                status: None,
                source: None,
            });
        }
        let id = TaskId::from(created.task_id);
        tracing::info!(model = M::ID, task_id = %id, "task created");
        Ok(Task::new(self.clone(), id, Some(workload)))
    }

    /// [`submit`](Client::submit), then [`Task::wait`]. An error after creation carries the
    /// task id.
    pub async fn submit_and_wait<R: TaskRequest>(
        &self,
        request: R,
    ) -> Result<CompletedTask, Error> {
        self.submit(request).await?.wait().await
    }

    /// The task with this id, e.g. to resume waiting after a restart.
    pub fn task(&self, id: impl Into<TaskId>) -> Task {
        Task::new(self.clone(), id.into(), None)
    }
}

pub(crate) fn endpoints(base: &Url) -> Result<Vec<(Op, Url)>, Error> {
    Op::ALL
        .iter()
        .map(|op| {
            base.join(op.path())
                .map(|url| (*op, url))
                .map_err(|e| Error::Config(format!("base URL {base} cannot take API paths: {e}")))
        })
        .collect()
}
