#![doc = include_str!("../README.md")]
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
