//! The client and its builder: submit tasks, resume them by id, move files in and out.

use std::collections::HashMap;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderValue;
use url::Url;

use crate::config::{
    API_KEY_VAR, ApiKey, BASE_URL_VAR, ConfigError, DEFAULT_BASE_URL, check_base_url,
};
use crate::download::Download;
use crate::endpoint::Op;
use crate::envelope;
use crate::error::{Error, Repr, Violation, Violations};
use crate::model::Model;
use crate::poll::WaitOptions;
use crate::poll::{self, Polling};
use crate::rate_limit::RateLimits;
use crate::record::{TaskId, TaskState};
use crate::request::Request;
use crate::retry::RetryPolicy;
use crate::task::Task;
use crate::transport::{Scope, SendHook, Settings, Transport};
use crate::upload::{self, UploadOptions, UploadedFile};
use crate::wait::{self, CompletedTask};

/// An Apikley client. Cheap to clone; clones share the connection pool, the rate limits and
/// what has been learned about task durations.
///
/// ```no_run
/// # async fn run(request: apikley::Request) -> Result<(), apikley::Error> {
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
    transport: Transport,
    polling: Arc<Polling>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("transport", &self.transport)
            .field("wait", self.polling.defaults())
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
        Client::builder().with_env().build()
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &Url {
        self.transport.base_url()
    }

    /// The task history this client records in ([`ClientBuilder::history`]), if any.
    #[cfg(feature = "history")]
    pub fn history(&self) -> Option<&crate::history::History> {
        self.transport.history()
    }

    /// Checks the request against its model's spec, uploads its local files, then creates the
    /// task; `.await` the returned [`Submission`], which ends as soon as the task's id is known.
    ///
    /// Nothing is sent when the request breaks a rule ([`ErrorKind::InvalidRequest`](crate::ErrorKind::InvalidRequest) lists every
    /// one, local files included). `createTask` is resent only when it provably created
    /// nothing; otherwise the error is [`ErrorKind::OutcomeUnknown`](crate::ErrorKind::OutcomeUnknown).
    pub fn submit(&self, request: impl Into<Request>) -> Submission<'_> {
        Submission {
            client: self,
            request: request.into(),
            on_sending: None,
            #[cfg(feature = "history")]
            destination: None,
        }
    }

    /// Creates a task from a model's spec-exact body, as generated in its raw crate, after
    /// checking it against the model's spec (the rules the generated types cannot carry).
    pub fn submit_body<M: Model>(&self, body: &M::Body) -> Submission<'_> {
        self.submit(Request::from_body::<M>(body))
    }

    async fn submit_request(
        &self,
        request: Request,
        on_sending: Option<&SendHook<'_>>,
        #[cfg(feature = "history")] destination: Option<&Path>,
    ) -> Result<Task, Error> {
        // Checked once: a request checked before (`Request::check`) is not checked again.
        let checked = request.checked().map_err(Repr::InvalidRequest)?;
        let Some(spec) = request.spec() else {
            return Err(Repr::InvalidRequest(request.violations()).into());
        };
        // Local files become hosted URLs (uploads are free and safe to repeat).
        let local = request.local_files();
        let body = if local.is_empty() {
            checked
        } else {
            let mut hosted = HashMap::new();
            for (_, _, path) in local {
                if hosted.contains_key(&path) {
                    continue;
                }
                let uploaded = self.upload_file(&path).await?;
                tracing::info!(file = %path.display(), url = %uploaded.download_url, "uploaded input file");
                hosted.insert(path, uploaded.download_url.to_string());
            }
            request.final_body(&hosted).map_err(|reason| {
                let mut violations = Violations::new();
                violations.push(Violation::new(
                    "body",
                    "does not fit the model's generated type",
                    reason,
                ));
                Repr::InvalidRequest(violations)
            })?
        };
        let workload = request.workload();
        let scope = Scope {
            on_send: on_sending,
            ..Scope::default()
        };
        // On disk before createTask goes out: a crash from here on leaves a trace of it.
        #[cfg(feature = "history")]
        let entry = match self.transport.history() {
            Some(history) => {
                let entry = history
                    .sending(spec.id(), request.inputs(), destination)
                    .await
                    .map_err(|e| Repr::NotSent {
                        operation: "createTask",
                        reason: e.to_string(),
                    })?;
                Some((history, entry))
            }
            None => None,
        };
        let created = self
            .transport
            .call_fast(
                Op::CreateTask(spec.endpoint()),
                scope,
                |request| request.json(&body),
                envelope::documented_task_id,
                |answer| {
                    answer
                        .task_id()
                        .ok_or_else(|| "no task id in it".to_owned())
                },
            )
            .await;
        #[cfg(feature = "history")]
        if let Some((history, entry)) = entry {
            let written = match &created {
                Ok(id) => history.created(entry, &TaskId::from(id.as_str())).await,
                Err(e) if e.is_outcome_unknown() => {
                    history.outcome_unknown(entry, &e.to_string()).await
                }
                // Provably nothing created: nothing to remember.
                Err(_) => history.forget(entry).await,
            };
            if let Err(e) = written {
                tracing::warn!(error = %e, "the task history was not updated");
            }
        }
        let id = TaskId::from(created?);
        tracing::info!(model = spec.id(), task_id = %id, "task created");
        Ok(Task::new(
            self.transport.clone(),
            self.polling.clone(),
            id,
            Some(workload),
            true,
        ))
    }

    /// [`submit`](Client::submit), then [`Task::wait`]. An error after creation carries the
    /// task id.
    pub async fn submit_and_wait(
        &self,
        request: impl Into<Request>,
    ) -> Result<CompletedTask, Error> {
        self.submit(request).await?.wait().await
    }

    /// The task with this id, e.g. to resume waiting after a restart.
    pub fn task(&self, id: impl Into<TaskId>) -> Task {
        Task::new(
            self.transport.clone(),
            self.polling.clone(),
            id.into(),
            None,
            false,
        )
    }

    /// Downloads a file to `path` (see [`Download`] for the options).
    pub fn download(&self, url: Url, path: impl Into<PathBuf>) -> Download<'static> {
        Download::of_url(&self.transport, url, path.into(), None)
    }

    /// Downloads a finished task's first result file to `path`, after one status query (made
    /// once the target has been checked).
    ///
    /// ```no_run
    /// # async fn run(client: apikley::Client) -> Result<(), apikley::Error> {
    /// let file = client.download_task("task_123", "clip.mp4").overwrite(true).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// A failed task is [`ErrorKind::TaskFailed`](crate::ErrorKind::TaskFailed); one that succeeded without a file to download is
    /// [`ErrorKind::ResultUnusable`](crate::ErrorKind::ResultUnusable); one that has not finished yet is an [`ErrorKind::Download`](crate::ErrorKind::Download) saying
    /// so (retryable). A task that ended in a state this SDK does not know, naming files,
    /// downloads its first file.
    pub fn download_task(
        &self,
        task_id: impl Into<TaskId>,
        path: impl Into<PathBuf>,
    ) -> Download<'static> {
        let id = task_id.into();
        let transport = self.transport.clone();
        let task = id.clone();
        let resolve = Box::pin(async move {
            let record = poll::query(&transport, &task, None, None).await?;
            let first = record.result.as_ref().and_then(|r| r.urls.first()).cloned();
            match (&record.state, first) {
                (_, Some(url)) if record.finished_with_files() => {
                    if record.state != TaskState::Success {
                        tracing::warn!(task_id = %record.id, state = %record.state, "the task ended in a state this SDK does not know, naming result files: downloading them");
                    }
                    Ok(url)
                }
                (TaskState::Success, None) => Err(wait::unusable_result(&record)),
                (TaskState::Fail, _) => Err(Repr::TaskFailed {
                    task_id: record.id,
                    fail_code: record.fail_code,
                    fail_message: record.fail_message,
                }
                .into()),
                (state, _) => Err(Repr::Download {
                    url: transport.base_url().to_string(),
                    task_id: Some(record.id.clone()),
                    status: None,
                    reason: format!("the task has no file yet (state: {state}); wait for it first"),
                }
                .into()),
            }
        });
        Download::of_task(&self.transport, id, path.into(), resolve)
    }

    /// Uploads a local file, streamed from disk (memory use does not grow with its size).
    ///
    /// ```no_run
    /// # async fn run(client: apikley::Client) -> Result<(), apikley::Error> {
    /// let file = client.upload_file("photos/beach.png").await?;
    /// println!("{} ({} bytes, {}), usable until {}", file.download_url, file.size, file.mime_type, file.expires_at);
    /// # Ok(()) }
    /// ```
    pub async fn upload_file(&self, path: impl AsRef<Path>) -> Result<UploadedFile, Error> {
        self.upload_file_with(path, &UploadOptions::default()).await
    }

    /// Uploads a local file with options; with [`UploadOptions::with_rules`] the file is
    /// checked (format by content, size) before anything is sent.
    ///
    /// ```no_run
    /// use apikley::{FileRules, MediaType, UploadOptions};
    ///
    /// # async fn run(client: apikley::Client) -> Result<(), apikley::Error> {
    /// let images = FileRules::new(10_000_000, &[MediaType::Jpeg, MediaType::Png]);
    /// let options = UploadOptions::default().with_upload_path("my-app/inputs").with_rules(images);
    /// let file = client.upload_file_with("photos/beach.png", &options).await?; // a GIF is refused unsent
    /// # Ok(()) }
    /// ```
    pub async fn upload_file_with(
        &self,
        path: impl AsRef<Path>,
        options: &UploadOptions,
    ) -> Result<UploadedFile, Error> {
        upload::file(&self.transport, path.as_ref(), options).await
    }

    /// Uploads bytes held in memory (sent as Base64: best for small files).
    ///
    /// ```no_run
    /// # async fn run(client: apikley::Client, png: Vec<u8>) -> Result<(), apikley::Error> {
    /// let file = client.upload_bytes(&png, "frame.png", &apikley::UploadOptions::default()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn upload_bytes(
        &self,
        bytes: &[u8],
        file_name: &str,
        options: &UploadOptions,
    ) -> Result<UploadedFile, Error> {
        upload::bytes(&self.transport, bytes, file_name, options).await
    }

    /// Has the service fetch a public http(s) URL. The service allows itself 30 seconds for the
    /// fetch, and the client waits 45 seconds longer than its request timeout for the answer.
    /// A request that went out is never sent again by the client (each would fetch again),
    /// only one that was refused before any work.
    pub async fn upload_from_url(
        &self,
        file_url: &Url,
        options: &UploadOptions,
    ) -> Result<UploadedFile, Error> {
        upload::url(&self.transport, file_url, options).await
    }

    /// The account's remaining credits (may be fractional).
    ///
    /// ```no_run
    /// # async fn run(client: apikley::Client) -> Result<(), apikley::Error> {
    /// println!("{} credits left", client.credits().await?);
    /// # Ok(()) }
    /// ```
    pub async fn credits(&self) -> Result<f64, Error> {
        self.transport
            .call(
                Op::Credits,
                Scope::default(),
                |request| request,
                |answer| {
                    envelope::number(&answer.data)
                        .ok_or_else(|| "`data` is not a number of credits".to_owned())
                },
            )
            .await
    }
}

/// A submission of a request; `.await` it for the [`Task`]. Made by [`Client::submit`].
#[must_use = "a Submission does nothing until awaited"]
pub struct Submission<'a> {
    client: &'a Client,
    request: Request,
    on_sending: Option<Box<SendHook<'a>>>,
    #[cfg(feature = "history")]
    destination: Option<PathBuf>,
}

impl fmt::Debug for Submission<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Submission")
            .field("model", &self.request.model_id())
            .finish_non_exhaustive()
    }
}

impl<'a> Submission<'a> {
    /// Calls `hook` just before `createTask` goes out (again before each resend, which happens
    /// only when the previous attempt provably created nothing). From the first call on, a task
    /// may exist even if the submission then fails: before it, nothing was sent that costs
    /// anything. Use it to record that fact durably, or to word an interruption.
    ///
    /// ```no_run
    /// # async fn run(client: apikley::Client, request: apikley::Request) -> Result<(), apikley::Error> {
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// let sent = AtomicBool::new(false);
    /// let task = client
    ///     .submit(request)
    ///     .on_sending(|| sent.store(true, Ordering::SeqCst))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn on_sending(mut self, hook: impl Fn() + Send + Sync + 'a) -> Self {
        self.on_sending = Some(Box::new(move || {
            hook();
            Box::pin(std::future::ready(Ok(())))
        }));
        self
    }

    /// Like [`on_sending`](Self::on_sending), but `createTask` goes out only if `record`
    /// succeeds: for writing down durably that a task may be about to exist (a batch's
    /// journal). If it fails, nothing is sent and the submission ends in [`ErrorKind::NotSent`](crate::ErrorKind::NotSent)
    /// with its message. Replaces any `on_sending` hook. `record` is awaited, so a slow write
    /// (a file synced to disk) can run off the async workers.
    ///
    /// ```no_run
    /// # async fn run(client: apikley::Client, request: apikley::Request) -> Result<(), apikley::Error> {
    /// let task = client
    ///     .submit(request)
    ///     .record_sending(|| async {
    ///         tokio::fs::write("pending-task", b"a createTask is on its way").await
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn record_sending<E, F>(mut self, record: impl Fn() -> F + Send + Sync + 'a) -> Self
    where
        E: fmt::Display,
        F: Future<Output = Result<(), E>> + Send + 'static,
    {
        self.on_sending = Some(Box::new(move || {
            let recorded = record();
            Box::pin(async move { recorded.await.map_err(|e| e.to_string()) })
        }));
        self
    }
}

#[cfg(feature = "history")]
impl Submission<'_> {
    /// Where the caller will save the result: recorded with the task in the client's
    /// [history](crate::history), so that whoever resumes it saves it there.
    pub fn destination(mut self, path: impl Into<PathBuf>) -> Self {
        self.destination = Some(path.into());
        self
    }
}

impl<'a> IntoFuture for Submission<'a> {
    type Output = Result<Task, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            self.client
                .submit_request(
                    self.request,
                    self.on_sending.as_deref(),
                    #[cfg(feature = "history")]
                    self.destination.as_deref(),
                )
                .await
        })
    }
}

/// Builds a [`Client`]. Every setting has a default except the key; the first invalid setting
/// is reported by [`build`](Self::build).
///
/// ```
/// use std::time::Duration;
/// use apikley::{Client, RetryPolicy};
///
/// let client = Client::builder()
///     .api_key("my-key")
///     .base_url("http://127.0.0.1:8080") // plain http: allowed for loopback only
///     .request_timeout(Some(Duration::from_secs(20)))
///     .retry(RetryPolicy::default().with_max_attempts(3))
///     .build()?;
/// # Ok::<(), apikley::Error>(())
/// ```
#[derive(Debug)]
#[must_use]
pub struct ClientBuilder {
    api_key: Option<ApiKey>,
    error: Option<ConfigError>,
    base_url: String,
    allow_insecure_http: bool,
    request_timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    download_idle_timeout: Option<Duration>,
    retry: RetryPolicy,
    rate_limits: RateLimits,
    wait: WaitOptions,
    user_agent: String,
    http: Option<reqwest::Client>,
    pool_idle_connections: bool,
    #[cfg(feature = "history")]
    history: Option<PathBuf>,
    #[cfg(feature = "postgres")]
    shared_limits: Option<crate::shared_limits::SharedLimits>,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            api_key: None,
            error: None,
            base_url: DEFAULT_BASE_URL.to_owned(),
            allow_insecure_http: false,
            request_timeout: Some(Duration::from_secs(30)),
            connect_timeout: Some(Duration::from_secs(10)),
            download_idle_timeout: Some(Duration::from_secs(60)),
            retry: RetryPolicy::default(),
            rate_limits: RateLimits::default(),
            wait: WaitOptions::default(),
            user_agent: concat!("apikley-rust/", env!("CARGO_PKG_VERSION")).to_owned(),
            http: None,
            pool_idle_connections: true,
            #[cfg(feature = "history")]
            history: None,
            #[cfg(feature = "postgres")]
            shared_limits: None,
        }
    }
}

impl ClientBuilder {
    /// The API key (required).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        match ApiKey::new(key) {
            Ok(key) => self.api_key = Some(key),
            Err(error) => {
                self.error.get_or_insert(error);
            }
        }
        self
    }

    /// The base URL, default `https://api.apikley.ru`. Plain `http://` is refused unless the
    /// host is a loopback address (a local sandbox) or [`allow_insecure_http`](Self::allow_insecure_http) is set.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Allows a plain `http://` base URL on any host. The key then travels unencrypted.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// The time limit of one API call (default 30 s). Downloads have their own. `None`
    /// removes the per-request limit; a call made within a deadline (the status queries of a
    /// [`Task::wait`](crate::Task::wait)) still ends at it.
    pub fn request_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The time limit for opening a connection (default 10 s; `None` for none). Ignored with
    /// [`http_client`](Self::http_client), which brings its own.
    pub fn connect_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long a download may go without receiving a byte (default 60 s; `None` for no
    /// limit), whichever HTTP client is used. Downloads have no overall time limit: a large video
    /// on a slow link is fine as long as bytes keep arriving.
    pub fn download_idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.download_idle_timeout = timeout;
        self
    }

    /// Whether idle connections are kept for reuse (default true). Ignored with
    /// [`http_client`](Self::http_client).
    pub fn pool_idle_connections(mut self, keep: bool) -> Self {
        self.pool_idle_connections = keep;
        self
    }

    /// How failed calls are retried.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The client-side rate limits (default: 20 new tasks per 10 s, 10 status queries per s).
    pub fn rate_limits(mut self, limits: RateLimits) -> Self {
        self.rate_limits = limits;
        self
    }

    /// The defaults of [`Task::wait`](crate::Task::wait): deadline and polling schedule.
    pub fn wait_options(mut self, options: WaitOptions) -> Self {
        self.wait = options;
        self
    }

    /// The `User-Agent` header.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Sends through the caller's own `reqwest::Client` (proxies, TLS roots, …), for API calls
    /// and downloads alike. The key and user agent are added to each API request, so it needs no
    /// default headers; downloads never carry the key.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Settings for tests on tokio's paused clock: no request, connect or download timeouts and
    /// no idle connection pool. While the runtime waits on the network, the paused clock jumps
    /// to the next pending timer, so any of those timers would fire at once.
    #[cfg(feature = "test-util")]
    pub fn for_paused_clock(self) -> Self {
        self.request_timeout(None)
            .connect_timeout(None)
            .download_idle_timeout(None)
            .pool_idle_connections(false)
    }

    /// Reads `APIKLEY_API_KEY` (required) and `APIKLEY_BASE_URL` (optional) into the builder.
    pub fn with_env(self) -> Self {
        self.with_vars(|name| std::env::var(name).ok())
    }

    fn with_vars(mut self, var: impl Fn(&str) -> Option<String>) -> Self {
        match var(API_KEY_VAR).filter(|k| !k.trim().is_empty()) {
            Some(key) => self = self.api_key(key),
            None => {
                self.error.get_or_insert(ConfigError::NoKeyInEnvironment);
            }
        }
        if let Some(url) = var(BASE_URL_VAR).filter(|u| !u.trim().is_empty()) {
            self = self.base_url(url.trim());
        }
        self
    }

    /// Records every task this client creates in the [history](crate::history) at `path`
    /// (created, readable by its owner only, if missing), and what its waits and downloads
    /// learn of them. Several processes may share one.
    #[cfg(feature = "history")]
    pub fn history(mut self, path: impl Into<PathBuf>) -> Self {
        self.history = Some(path.into());
        self
    }

    /// Keeps to the account's [rate limits](Self::rate_limits) together with every other
    /// process that uses it with the same [`SharedLimits`](crate::SharedLimits) database,
    /// instead of in this process alone: for several replicas or workers on one account.
    #[cfg(feature = "postgres")]
    pub fn shared_limits(mut self, limits: crate::shared_limits::SharedLimits) -> Self {
        self.shared_limits = Some(limits);
        self
    }

    /// Checks the settings and builds the client.
    pub fn build(self) -> Result<Client, Error> {
        let (settings, wait) = self.settings()?;
        let transport = Transport::new(settings);
        let polling = Polling::new(wait, transport.clone());
        // What earlier runs learned of how long tasks take.
        #[cfg(feature = "history")]
        if let Some(history) = transport.history() {
            match history.timings() {
                Ok(seen) => seen
                    .iter()
                    .for_each(|(key, took)| polling.learn(key, *took)),
                Err(e) => tracing::warn!(error = %e, "the task history's timings were not read"),
            }
        }
        Ok(Client {
            polling: Arc::new(polling),
            transport,
        })
    }

    fn settings(self) -> Result<(Settings, WaitOptions), ConfigError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let key = self.api_key.ok_or(ConfigError::NoKey)?;
        let base_url = check_base_url(&self.base_url, self.allow_insecure_http)?;
        for limit in [self.rate_limits.creates, self.rate_limits.queries]
            .into_iter()
            .flatten()
        {
            if limit.max == 0 || limit.per.is_zero() {
                return Err(ConfigError::EmptyRateLimit(limit));
            }
        }
        let http = match self.http {
            Some(client) => client,
            None => {
                let mut builder = reqwest::Client::builder();
                if let Some(timeout) = self.connect_timeout {
                    builder = builder.connect_timeout(timeout);
                }
                if !self.pool_idle_connections {
                    builder = builder.pool_max_idle_per_host(0).pool_idle_timeout(None);
                }
                builder
                    .build()
                    .map_err(|e| ConfigError::HttpClient(Box::new(e)))?
            }
        };
        let user_agent = HeaderValue::from_str(&self.user_agent)
            .map_err(|_| ConfigError::UserAgent(self.user_agent.clone()))?;
        let settings = Settings {
            key,
            base_url,
            http,
            user_agent,
            request_timeout: self.request_timeout,
            download_idle_timeout: self.download_idle_timeout,
            retry: self.retry,
            rate_limits: self.rate_limits,
            #[cfg(feature = "history")]
            history: match &self.history {
                Some(path) => Some(crate::history::History::open(path)?),
                None => None,
            },
            #[cfg(feature = "postgres")]
            shared_limits: self.shared_limits,
        };
        Ok((settings, self.wait))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_names_the_missing_variable() {
        let error = ClientBuilder::default()
            .with_vars(|_| None)
            .build()
            .unwrap_err();
        assert!(
            matches!(error.config(), Some(ConfigError::NoKeyInEnvironment)),
            "{error}"
        );
        assert!(error.to_string().contains("APIKLEY_API_KEY is not set"));
        let client = ClientBuilder::default()
            .with_vars(|name| match name {
                API_KEY_VAR => Some("k".into()),
                BASE_URL_VAR => Some(" http://127.0.0.1:9 ".into()),
                _ => None,
            })
            .build()
            .unwrap();
        assert_eq!(client.base_url().as_str(), "http://127.0.0.1:9/");
        let default = ClientBuilder::default()
            .with_vars(|name| (name == API_KEY_VAR).then(|| "k".into()))
            .build()
            .unwrap();
        assert_eq!(default.base_url().as_str(), "https://api.apikley.ru/");
    }

    #[test]
    fn the_first_invalid_setting_is_the_error() {
        let error = Client::builder()
            .api_key(" ")
            .base_url("ftp://x")
            .build()
            .unwrap_err();
        assert!(
            matches!(error.config(), Some(ConfigError::EmptyKey)),
            "{error}"
        );
        let error = Client::builder().build().unwrap_err();
        assert!(
            matches!(error.config(), Some(ConfigError::NoKey)),
            "{error}"
        );
        let error = Client::builder()
            .api_key("k")
            .rate_limits(
                RateLimits::default()
                    .with_creates(Some(crate::RateLimit::new(0, Duration::from_secs(1)))),
            )
            .build()
            .unwrap_err();
        assert!(
            matches!(error.config(), Some(ConfigError::EmptyRateLimit(_))),
            "{error}"
        );
    }
}
