//! Rust SDK for Apikley's **Seedance 1.5 Pro** video model (`bytedance/seedance-1.5-pro`).
//!
//! ```no_run
//! use seedance::{AspectRatio, Client, Resolution, VideoLength, VideoRequest};
//!
//! # async fn run() -> Result<(), seedance::Error> {
//! let client = Client::from_env()?; // APIKLEY_API_KEY, APIKLEY_BASE_URL
//! let request = VideoRequest::new("A serene beach at sunset")
//!     .aspect_ratio(AspectRatio::Landscape16x9)
//!     .resolution(Resolution::P720)
//!     .duration(VideoLength::Seconds8)
//!     .image("photos/beach.png"); // a local file: uploaded on submit
//! let task = client.submit(request).await?; // validated first; returns once the id is known
//! println!("task {}", task.id()); // resume later with client.task(id)
//! let video = task.wait_with(|p| eprintln!("{p}")).await?;
//! video.download("beach.mp4").await?; // streamed, resumable, renamed into place when complete
//! # Ok(()) }
//! ```
//!
//! This crate is thin: [`VideoRequest`], friendly names for the model's inputs. The rules are
//! the spec's, the [`Seedance15Pro`] model is generated from it, and the client, errors,
//! retries, rate limits and polling come from the model-agnostic [`apikley`] runtime and are
//! re-exported here; the spec-exact generated types are in [`raw`].
#![deny(missing_docs)]

mod request;

pub use apikley::{
    ApiCode, ApiError, CancellationToken, Client, ClientBuilder, Clock, CompletedTask, ConfigError,
    Download, DownloadProgress, DownloadedFile, Error, ErrorKind, MediaSource, Model, ModelSpec,
    PollSchedule, Progress, RateLimit, RateLimits, Request, RetryPolicy, Submission, Task, TaskId,
    TaskRecord, TaskResult, TaskState, UploadOptions, UploadedFile, Url, Violation, Violations,
    WaitOptions, Waiter, callback,
};
pub use request::{AspectRatio, ParseError, Resolution, Seedance15Pro, VideoLength, VideoRequest};

/// The runtime this crate builds on.
pub use apikley;
/// The spec-exact types and client generated from the Seedance 1.5 Pro OpenAPI document.
pub use seedance_raw as raw;
