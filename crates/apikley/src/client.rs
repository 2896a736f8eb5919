//! The client: submit tasks, resume them by id.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderValue;
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

    /// Validates the request, uploads its local files, then creates the task; `.await` the
    /// returned [`Submission`], which ends as soon as the task's id is known.
    ///
    /// Nothing is sent when the request breaks a rule ([`Error::InvalidRequest`] lists every
    /// one, local files included). `createTask` is resent only when it provably created
    /// nothing; otherwise the error is [`Error::OutcomeUnknown`].
    pub fn submit<R: TaskRequest>(&self, request: R) -> Submission<'_, R> {
        Submission {
            client: self,
            request,
            on_sending: None,
        }
    }

    async fn submit_request<R: TaskRequest>(
        &self,
        mut request: R,
        on_sending: Option<&(dyn Fn() + Send + Sync)>,
    ) -> Result<Task, Error> {
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
        self.create::<R::Model>(body, on_sending).await
    }

    /// Creates a task from a model's spec-exact body, as generated in its raw crate, after
    /// checking the rules the generated types cannot ([`Model::check`]).
    pub async fn submit_body<M: Model>(&self, body: M::Body) -> Result<Task, Error> {
        self.create::<M>(body, None).await
    }

    async fn create<M: Model>(
        &self,
        body: M::Body,
        on_sending: Option<&(dyn Fn() + Send + Sync)>,
    ) -> Result<Task, Error> {
        let violations = M::check(&body);
        if !violations.is_empty() {
            return Err(Error::InvalidRequest(violations));
        }
        let workload = Workload {
            key: format!("{} {}", M::ID, M::workload(&body)),
            prior: M::expected_duration(&body),
        };
        let scope = Scope {
            on_send: on_sending,
            ..Scope::default()
        };
        let id = self
            .inner
            .call(
                Op::CreateTask,
                scope,
                |http, url| http.post(url).json(&body),
                |answer| {
                    answer
                        .task_id()
                        .ok_or_else(|| "no task id in it".to_owned())
                },
            )
            .await?;
        let id = TaskId::from(id);
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

/// A submission of a request; `.await` it for the [`Task`]. Made by [`Client::submit`].
#[must_use = "a Submission does nothing until awaited"]
pub struct Submission<'a, R> {
    client: &'a Client,
    request: R,
    on_sending: Option<Box<dyn Fn() + Send + Sync + 'a>>,
}

impl<R> fmt::Debug for Submission<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Submission").finish_non_exhaustive()
    }
}

impl<'a, R: TaskRequest + 'a> Submission<'a, R> {
    /// Calls `hook` just before `createTask` goes out (again before each resend, which happens
    /// only when the previous attempt provably created nothing). From the first call on, a task
    /// may exist even if the submission then fails: before it, nothing was sent that costs
    /// anything. Use it to record that fact durably, or to word an interruption.
    ///
    /// ```no_run
    /// # async fn run<R: apikley::TaskRequest>(client: apikley::Client, request: R) -> Result<(), apikley::Error> {
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// let sent = AtomicBool::new(false);
    /// let task = client
    ///     .submit(request)
    ///     .on_sending(|| sent.store(true, Ordering::SeqCst))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn on_sending(mut self, hook: impl Fn() + Send + Sync + 'a) -> Self {
        self.on_sending = Some(Box::new(hook));
        self
    }
}

impl<'a, R: TaskRequest + 'a> IntoFuture for Submission<'a, R> {
    type Output = Result<Task, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            self.client
                .submit_request(self.request, self.on_sending.as_deref())
                .await
        })
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
