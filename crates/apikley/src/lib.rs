//! The model-agnostic runtime for Apikley's Market models: configuration and auth, the
//! `{code, msg, data}` envelope, typed errors, safe retries, client-side rate limits, task
//! handles with polling, typed results, streamed uploads and resumable downloads, credits, and
//! [callbacks](callback) with their signature check (plus an axum extractor behind the `axum`
//! feature).
//!
//! Every model is described by its OpenAPI document ([`ModelSpec`]): the spec alone checks
//! each [`Request`] (every rule, every violation at once), gives the `createTask` endpoint and
//! the defaults. A model's raw crate adds the spec-exact generated body ([`Model`]); a friendly
//! crate (such as `seedance`) adds only names. Everything else is here, written once for every
//! model.
//!
//! ```no_run
//! # async fn run(request: apikley::Request) -> Result<(), apikley::Error> {
//! let client = apikley::Client::from_env()?;
//! let done = client
//!     .submit(request)
//!     .await?
//!     .wait_with(|progress| eprintln!("{progress}"))
//!     .await?;
//! println!("{}", done.urls()[0]);
//! # Ok(()) }
//! ```
//!
//! # Guarantees
//! - **Nothing invalid is sent**: [`Client::submit`] reports every violation before any request.
//! - **Never pay twice**: `createTask` is resent only when it provably created nothing
//!   (connection refused, 429, 433, 455). Otherwise the caller gets
//!   [`ErrorKind::OutcomeUnknown`](crate::ErrorKind::OutcomeUnknown), never a silent duplicate.
//! - **Never lose a task**: every error once a task exists carries its id ([`Error::task_id`]);
//!   [`Client::task`] resumes it.
//! - **Forward compatible**: unknown codes are [`ApiCode::Unknown`], unknown states
//!   [`TaskState::Unknown`], unknown fields are ignored.
//! - **Secrets stay secret**: the key never appears in `Debug` output, logs or errors.
//!
//! # Tracing
//! Every HTTP attempt runs in an `apikley.call` span with `operation`, `task_id`, `attempt`,
//! `status` and `duration_ms`; retries are logged at `warn`.
#![deny(missing_docs)]

#[cfg(feature = "batch")]
pub mod batch;
pub mod callback;
mod client;
mod config;
mod download;
mod endpoint;
mod envelope;
mod error;
mod files;
mod inbox;
mod model;
mod poll;
mod rate_limit;
mod record;
mod request;
mod retry;
mod spec;
mod task;
mod transport;
mod upload;
mod wait;

/// What a model declares about itself (`x-apikley-*` in its spec), from the `apikley-model`
/// contract.
pub use apikley_model::{
    DURATION_EXTENSION, DeclarationError, Declarations, DurationHint, FILES_EXTENSION, Factor,
    FileHint, LengthInput, OUTPUT_EXTENSION, OutputKind,
};
pub use client::{Client, ClientBuilder, Submission};
pub use config::{API_KEY_VAR, ApiKey, BASE_URL_VAR, ConfigError, DEFAULT_BASE_URL, is_loopback};
pub use download::{Download, DownloadProgress, DownloadedFile};
pub use endpoint::Endpoint;
pub use envelope::Envelope;
pub use error::{ApiCode, ApiError, Error, ErrorKind, Violation, Violations};
pub use files::{
    CheckedFile, Content, FileProblem, FileRules, MediaSource, MediaType, Medium, NotMedia,
    SNIFF_LEN,
};
pub use model::Model;
pub use poll::{FASTER_THAN_EXPECTED, PollSchedule, WaitOptions};
pub use rate_limit::{RateLimit, RateLimits};
pub use record::{NotARecord, ResultError, TaskId, TaskRecord, TaskResult, TaskState};
pub use request::Request;
pub use retry::RetryPolicy;
pub use spec::{Input, ModelSpec, SpecError};
pub use task::Task;
pub use upload::{UPLOAD_RETENTION, UploadOptions, UploadedFile};
pub use wait::{Clock, CompletedTask, Progress, Waiter};

/// The spec-exact generated types and clients of the shared Market endpoints.
pub use apikley_raw as raw;
/// Cancels a [`Waiter`] (re-exported from `tokio-util`).
pub use tokio_util::sync::CancellationToken;
/// URLs of results (re-exported from `url`).
pub use url::Url;
