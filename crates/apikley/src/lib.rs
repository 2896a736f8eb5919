#![doc = include_str!("../README.md")]
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
#[cfg(feature = "history")]
pub mod history;
mod inbox;
mod model;
mod poll;
mod rate_limit;
mod record;
mod request;
mod retry;
#[cfg(feature = "postgres")]
mod shared_limits;
mod spec;
#[cfg(any(feature = "batch", feature = "history"))]
mod store;
mod task;
mod timings;
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
pub use config::{API_KEY_VAR, ApiKey, BASE_URL_VAR, ConfigError, DEFAULT_BASE_URL};
pub use download::{Download, DownloadProgress, DownloadedFile};
pub use endpoint::Endpoint;
pub use envelope::Envelope;
pub use error::{ApiCode, ApiError, Error, ErrorKind, Violation, Violations};
pub use files::{
    CheckedFile, Content, FileProblem, FileRules, MediaSource, MediaType, Medium, NotMedia,
    SNIFF_LEN,
};
pub use model::Model;
pub use poll::{PollSchedule, WaitOptions};
pub use rate_limit::{RateLimit, RateLimits};
pub use record::{NotARecord, ResultError, TaskId, TaskRecord, TaskResult, TaskState};
pub use request::Request;
pub use retry::RetryPolicy;
#[cfg(feature = "postgres")]
pub use shared_limits::{SharedLimits, SharedLimitsError};
pub use spec::{Input, ModelSpec, SpecError};
pub use task::Task;
pub use upload::{UPLOAD_RETENTION, UploadOptions, UploadedFile};
pub use wait::{Clock, CompletedTask, Progress, Waiter};

/// This SDK's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The spec-exact generated types and clients of the shared Market endpoints.
pub use apikley_raw as raw;
/// Cancels a [`Waiter`] (re-exported from `tokio-util`).
pub use tokio_util::sync::CancellationToken;
/// URLs of results (re-exported from `url`).
pub use url::Url;
