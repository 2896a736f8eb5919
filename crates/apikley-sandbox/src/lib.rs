#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod api;
mod files;
mod models;
mod reply;
mod samples;
mod server;
mod signature;
mod state;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use models::SandboxModel;
pub use samples::{SAMPLE_AUDIO, SAMPLE_IMAGE, SAMPLE_JPEG, SAMPLE_VIDEO, SAMPLE_WEBP, sample};
use state::State;

/// The key a sandbox accepts unless told otherwise.
pub const DEFAULT_API_KEY: &str = "sandbox-key";

/// How API errors are delivered: the service has been seen to use both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ErrorShape {
    /// The HTTP status carries the code, with the `{code, msg}` body.
    #[default]
    HttpStatus,
    /// HTTP 200, with the code only in the body.
    Envelope,
}

/// Ways to misbehave, set per server (and changeable while it runs).
///
/// ```
/// use std::time::Duration;
/// use apikley_sandbox::Faults;
/// let faults = Faults::none()
///     .with_server_error_rate(0.2)
///     .with_failing_tasks("500", "Internal error")
///     .with_slow(Duration::from_millis(50));
/// assert_eq!(faults.server_error_rate, 0.2);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Faults {
    /// Answer `createTask` with 429 above `max` creates in any `per` window.
    pub rate_limit: Option<apikley::RateLimit>,
    /// Answer every API call with 455 (maintenance).
    pub maintenance: bool,
    /// Answer this fraction of API calls (0.0 to 1.0) with 500.
    pub server_error_rate: f64,
    /// Let every new task end in `fail` like this.
    pub fail_tasks: Option<TaskFailure>,
    /// Create the task, then drop the connection without answering.
    pub drop_after_create: bool,
    /// Wait this long (on tokio's clock, whatever the sandbox speed) before every API answer.
    pub slow: Option<Duration>,
    /// Make this fraction (0.0 to 1.0) of status queries fail, each in one of the ways a real
    /// service or the network between can: HTTP 500, 455 (maintenance), a dropped connection,
    /// an answer slower than [`STATUS_FAULT_DELAY`], or an HTML page with status 200.
    pub status_fault_rate: f64,
    /// How errors are delivered.
    pub error_shape: ErrorShape,
    /// Serve this instead of every result file, with status 200 and the result's media type.
    pub result_body: Option<ResultBody>,
    /// Answer status queries with a record that names another task.
    pub records_of_other_tasks: bool,
    /// End successful tasks in this state instead of `success` (one the docs do not list,
    /// such as `succeeded`), with their completion time and result URLs as usual.
    pub finished_state: Option<String>,
}

/// What a broken result link serves instead of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResultBody {
    /// A "link expired" page.
    Html,
    /// A JSON error.
    Json,
    /// Nothing.
    Empty,
}

impl ResultBody {
    /// The body served.
    pub fn bytes(self) -> &'static [u8] {
        match self {
            ResultBody::Html => {
                b"<!DOCTYPE html>\n<html><head><title>Link expired</title></head><body><h1>This link has expired</h1></body></html>\n"
            }
            ResultBody::Json => br#"{"code": 404, "msg": "file not found or expired"}"#,
            ResultBody::Empty => b"",
        }
    }
}

impl Faults {
    /// No faults.
    pub fn none() -> Self {
        Faults::default()
    }

    /// 429 above `limit` creates.
    #[must_use]
    pub fn with_rate_limit(mut self, limit: apikley::RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    /// Every API call answered with 455.
    #[must_use]
    pub fn with_maintenance(mut self, maintenance: bool) -> Self {
        self.maintenance = maintenance;
        self
    }

    /// This fraction of API calls answered with 500.
    #[must_use]
    pub fn with_server_error_rate(mut self, rate: f64) -> Self {
        self.server_error_rate = rate;
        self
    }

    /// Every new task fails with this `failCode` and `failMsg`.
    #[must_use]
    pub fn with_failing_tasks(
        mut self,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        self.fail_tasks = Some(TaskFailure {
            code: code.into(),
            message: message.into(),
        });
        self
    }

    /// The connection dropped after each task is created.
    #[must_use]
    pub fn with_drop_after_create(mut self, drop: bool) -> Self {
        self.drop_after_create = drop;
        self
    }

    /// Every API answer this late.
    #[must_use]
    pub fn with_slow(mut self, delay: Duration) -> Self {
        self.slow = Some(delay);
        self
    }

    /// This fraction of status queries failing, in every way there is.
    #[must_use]
    pub fn with_status_fault_rate(mut self, rate: f64) -> Self {
        self.status_fault_rate = rate;
        self
    }

    /// Errors delivered this way.
    #[must_use]
    pub fn with_error_shape(mut self, shape: ErrorShape) -> Self {
        self.error_shape = shape;
        self
    }

    /// Every result link serving `body` instead of the file (`None`: the file).
    #[must_use]
    pub fn with_result_body(mut self, body: Option<ResultBody>) -> Self {
        self.result_body = body;
        self
    }

    /// Status queries answered with another task's record.
    #[must_use]
    pub fn with_records_of_other_tasks(mut self, other: bool) -> Self {
        self.records_of_other_tasks = other;
        self
    }

    /// Successful tasks ending in state `name` instead of `success`.
    #[must_use]
    pub fn with_finished_state(mut self, name: impl Into<String>) -> Self {
        self.finished_state = Some(name.into());
        self
    }
}

/// How a task fails: its `failCode` and `failMsg`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TaskFailure {
    /// `failCode`, e.g. `"500"`.
    pub code: String,
    /// `failMsg`.
    pub message: String,
}

/// A task the sandbox created.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CreatedTask {
    /// Its id.
    pub id: String,
    /// Its model.
    pub model: String,
    /// The `createTask` body it was created from.
    pub param: serde_json::Value,
    /// When, on the sandbox's clock (time since it started, times its speed).
    pub created: Duration,
}

impl From<state::TaskEntry> for CreatedTask {
    fn from(task: state::TaskEntry) -> Self {
        CreatedTask {
            param: serde_json::from_str(&task.param).unwrap_or(serde_json::Value::Null),
            id: task.id,
            model: task.model,
            created: task.created,
        }
    }
}

/// What a sandbox has seen, for assertions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// `createTask` requests received (including refused ones).
    pub create_requests: u64,
    /// Tasks created.
    pub tasks_created: u64,
    /// `createTask` requests refused with 429.
    pub rate_limited: u64,
    /// Get Task Details requests received.
    pub status_queries: u64,
    /// Upload requests received (including refused ones).
    pub upload_requests: u64,
    /// Files uploaded.
    pub uploads: u64,
    /// Callbacks delivered (answered 2xx).
    pub callbacks_delivered: u64,
    /// Connections dropped on purpose.
    pub dropped: u64,
    /// Status queries answered with a fault ([`Faults::status_fault_rate`]).
    pub status_faults: u64,
}

/// How long a slow status query (one of the [`Faults::status_fault_rate`] faults) takes to
/// answer: longer than a client's default request timeout.
pub const STATUS_FAULT_DELAY: Duration = Duration::from_secs(60);

/// The slowest and the fastest sandbox clock, relative to real time.
const SPEEDS: std::ops::RangeInclusive<f64> = 1e-6..=1e6;

/// Builds a [`Sandbox`].
#[derive(Debug)]
#[must_use]
pub struct SandboxBuilder {
    address: SocketAddr,
    api_key: String,
    speed: f64,
    credits: f64,
    webhook_key: Option<String>,
    faults: Faults,
    models: Vec<SandboxModel>,
    seed: Option<u64>,
    time_spread: f64,
}

impl Default for SandboxBuilder {
    fn default() -> Self {
        SandboxBuilder {
            address: SocketAddr::from(([127, 0, 0, 1], 0)),
            api_key: DEFAULT_API_KEY.to_owned(),
            speed: 1.0,
            credits: 1000.0,
            webhook_key: None,
            faults: Faults::default(),
            models: apikley_models::all()
                .iter()
                .cloned()
                .map(SandboxModel::from_spec)
                .collect(),
            seed: None,
            time_spread: 0.0,
        }
    }
}

impl SandboxBuilder {
    /// The address to listen on (default `127.0.0.1:0`, a free port).
    pub fn address(mut self, address: SocketAddr) -> Self {
        self.address = address;
        self
    }

    /// The only API key accepted (default [`DEFAULT_API_KEY`]).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = key.into();
        self
    }

    /// How much faster than real time tasks progress (default 1.0: real time), between a
    /// millionth and a million; a value that is not a positive number means 1.0.
    pub fn speed(mut self, speed: f64) -> Self {
        self.speed = if speed.is_finite() && speed > 0.0 {
            speed.clamp(*SPEEDS.start(), *SPEEDS.end())
        } else {
            1.0
        };
        self
    }

    /// The account's starting balance (default 1000).
    pub fn credits(mut self, credits: f64) -> Self {
        self.credits = credits;
        self
    }

    /// Signs callbacks with this webhook key, as the service does when signing is enabled.
    pub fn webhook_key(mut self, key: impl Into<String>) -> Self {
        self.webhook_key = Some(key.into());
        self
    }

    /// Misbehaves as told.
    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    /// Accepts another model (every model of `apikley_models` is there from the start; one
    /// with the same id replaces it).
    pub fn model(mut self, model: SandboxModel) -> Self {
        self.models.retain(|m| m.id() != model.id());
        self.models.push(model);
        self
    }

    /// Varies each task's generation time, as a real service's vary: its planned time (the
    /// spec's expected duration) times a random factor within `± fraction` (default 0, exactly
    /// as planned; clamped to 0–0.9). Repeatable with a [`seed`](Self::seed).
    pub fn time_spread(mut self, fraction: f64) -> Self {
        self.time_spread = if fraction.is_finite() {
            fraction.clamp(0.0, 0.9)
        } else {
            0.0
        };
        self
    }

    /// Makes task ids and random faults repeatable.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Binds and starts serving on the current tokio runtime.
    pub async fn start(self) -> std::io::Result<Sandbox> {
        let listener = tokio::net::TcpListener::bind(self.address).await?;
        let address = listener.local_addr()?;
        let url = format!("http://{address}");
        let webhook = match self.webhook_key {
            Some(key) => Some(signature::WebhookKey::new(key).ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "the webhook key is empty")
            })?),
            None => None,
        };
        let state = Arc::new(State::new(state::Settings {
            url: url.clone(),
            api_key: self.api_key.clone(),
            speed: self.speed,
            credits: self.credits,
            webhook,
            faults: self.faults,
            models: self.models,
            seed: self.seed,
            time_spread: self.time_spread,
        }));
        let shutdown = CancellationToken::new();
        tokio::spawn(server::serve(
            listener,
            api::router(state.clone()),
            shutdown.clone(),
        ));
        tracing::info!(%url, "sandbox listening");
        Ok(Sandbox {
            url,
            address,
            api_key: self.api_key,
            state,
            shutdown,
        })
    }
}

/// A running sandbox. Dropping it stops the server.
pub struct Sandbox {
    url: String,
    address: SocketAddr,
    api_key: String,
    state: Arc<State>,
    shutdown: CancellationToken,
}

impl Sandbox {
    /// A builder with the defaults: 127.0.0.1 on a free port, real-time clock, key
    /// [`DEFAULT_API_KEY`], 1000 credits, no faults.
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder::default()
    }

    /// Starts a sandbox with the defaults.
    pub async fn start() -> std::io::Result<Sandbox> {
        Sandbox::builder().start().await
    }

    /// The base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The API key it accepts.
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// A client builder already pointed at the sandbox with its key.
    pub fn client(&self) -> apikley::ClientBuilder {
        apikley::Client::builder()
            .api_key(&self.api_key)
            .base_url(&self.url)
    }

    /// What it has seen so far.
    pub fn stats(&self) -> Stats {
        self.state.stats()
    }

    /// Every task created so far, in the order created: what a test checks for duplicates.
    /// Also served as JSON at `GET /sandbox/tasks`, for a sandbox in another process.
    pub fn tasks(&self) -> Vec<CreatedTask> {
        self.state
            .tasks()
            .into_iter()
            .map(CreatedTask::from)
            .collect()
    }

    /// The current balance.
    pub fn credits(&self) -> f64 {
        self.state.credits()
    }

    /// Adds `credits` to the balance (a top-up).
    pub fn top_up(&self, credits: f64) {
        self.state.refund(credits);
    }

    /// Changes the faults while it runs.
    pub fn set_faults(&self, faults: Faults) {
        self.state.set_faults(faults);
    }

    /// Waits until the server stops (it runs until the sandbox is dropped).
    pub async fn stopped(&self) {
        self.shutdown.cancelled().await;
    }
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("url", &self.url)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
