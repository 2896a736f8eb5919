//! One error type for everything a call can end in: opaque, with a kind and accessors, so that
//! new cases and fields never break a caller, and no HTTP-stack type is part of it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::StatusCode;
use url::Url;

use crate::config::ConfigError;
use crate::files::NotMedia;
use crate::record::{TaskId, TaskState};
use crate::retry::Class;

/// The cases of an [`Error`], with everything each carries. Private: callers ask the error
/// ([`Error::kind`] and the accessors), so that adding a case or a field never breaks them.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Repr {
    /// The client is misconfigured (missing key, refused base URL, …). Nothing was sent.
    #[error("configuration: {0}")]
    Config(ConfigError),

    /// The request breaks the model's rules. Nothing was sent; every problem is listed.
    #[error("invalid request: {0}")]
    InvalidRequest(Violations),

    /// The API answered with an error `code`, either in an HTTP 200 envelope or as an HTTP
    /// error status.
    #[error("{0}")]
    Api(ApiError),

    /// The request never got a complete answer (connection refused, reset, timed out).
    #[error("{}could not complete the request to {operation}: {source}", task_prefix(.task_id))]
    Transport {
        /// The operation, e.g. `recordInfo`.
        operation: &'static str,
        /// The task concerned, if any.
        task_id: Option<TaskId>,
        /// What the HTTP client reported.
        #[source]
        source: reqwest::Error,
    },

    /// The call's deadline passed while it waited for a client-side rate-limit slot: nothing
    /// was sent.
    #[error("{}{operation} was not sent: its deadline passed while it waited for a rate-limit slot", task_prefix(.task_id))]
    DeadlineExceeded {
        /// The operation, e.g. `recordInfo`.
        operation: &'static str,
        /// The task concerned, if any.
        task_id: Option<TaskId>,
    },

    /// A successful HTTP status whose body is not what the API documents.
    #[error(
        "{}undecodable {operation} response (HTTP {status}): {reason}; body starts: {snippet:?}",
        task_prefix(.task_id)
    )]
    Undecodable {
        /// The operation, e.g. `recordInfo`.
        operation: &'static str,
        /// The task concerned, if any.
        task_id: Option<TaskId>,
        /// The HTTP status.
        status: StatusCode,
        /// Why it could not be decoded.
        reason: String,
        /// The first bytes of the body (at most 512 characters).
        snippet: String,
        /// The body was not the API's answer at all (a proxy's or a maintenance page): a
        /// passing fault, retried like a 5xx.
        transient: bool,
    },

    /// The task ended in state `fail`.
    #[error("task {task_id} failed{}: {}", fail_code.as_deref().map(|c| format!(" with code {c}")).unwrap_or_default(), fail_message.as_deref().unwrap_or("no message"))]
    TaskFailed {
        /// The task.
        task_id: TaskId,
        /// The task's `failCode` (a string such as `"500"`), if any.
        fail_code: Option<String>,
        /// The task's `failMsg`, if any.
        fail_message: Option<String>,
    },

    /// The task is over, but in a state this SDK does not know (such as `canceled`), with a
    /// sign of its end: a fail code or message, a completion time, result files, or a name
    /// that says so. See [`TaskRecord::has_ended`](crate::TaskRecord::has_ended).
    #[error(
        "task {task_id} ended in state {state:?}, which this SDK does not know{}{}{}",
        fail_code.as_deref().map(|c| format!(" (failCode {c})")).unwrap_or_default(),
        fail_message.as_deref().map(|m| format!(": {m}")).unwrap_or_default(),
        if urls.is_empty() { String::new() } else {
            format!("; its result files: {}", urls.iter().map(Url::as_str).collect::<Vec<_>>().join(" "))
        }
    )]
    TaskEndedUnrecognized {
        /// The task.
        task_id: TaskId,
        /// The state as the API named it.
        state: String,
        /// The task's `failCode`, if any.
        fail_code: Option<String>,
        /// The task's `failMsg`, if any.
        fail_message: Option<String>,
        /// Result files the record names, if any: they can still be downloaded.
        urls: Vec<Url>,
    },

    /// The task succeeded, but its result cannot be used: `resultJson` could not be read, or
    /// names no file to download. `text` is `resultJson` as sent, so that nothing paid for is
    /// lost.
    #[error("task {task_id} succeeded, but {reason}; resultJson as sent: {}", text.as_deref().unwrap_or("(none)"))]
    ResultUnusable {
        /// The task.
        task_id: TaskId,
        /// What is wrong with the result.
        reason: String,
        /// `resultJson` as sent (at most 64 KiB), if any.
        text: Option<String>,
    },

    /// The wait's deadline passed before the task ended (the last query was made at the
    /// deadline). The task may still finish: resume with `client.task(id)`.
    #[error(
        "task {task_id} did not finish within {waited:?} ({}); it may still finish: resume it by id",
        last_state.as_ref().map_or_else(|| "no state seen".to_owned(), |s| format!("last state: {s}"))
    )]
    WaitTimedOut {
        /// The task.
        task_id: TaskId,
        /// How long the wait lasted.
        waited: Duration,
        /// The last state seen, if any query succeeded.
        last_state: Option<TaskState>,
    },

    /// The request was not sent: the check the caller asked for just before sending it
    /// ([`Submission::record_sending`](crate::Submission::record_sending)) failed. Nothing was
    /// created.
    #[error("{operation} was not sent: {reason}")]
    NotSent {
        /// The operation.
        operation: &'static str,
        /// What the check said.
        reason: String,
    },

    /// The wait was cancelled. The task itself goes on: resume with `client.task(id)`.
    #[error("stopped waiting for task {task_id}: cancelled; the task goes on: resume it by id")]
    Cancelled {
        /// The task.
        task_id: TaskId,
    },

    /// A local file cannot be used: missing, unreadable, refused by the model's rules, or (for a
    /// download) already there, or not writable (a full disk included). Never retried.
    #[error("{}{}: {reason}", task_prefix(.task_id), path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
        /// The task whose result was being saved, if any.
        task_id: Option<TaskId>,
    },

    /// A result file could not be downloaded.
    #[error("{}download of {url} failed: {reason}", task_prefix(.task_id))]
    Download {
        /// The file's URL.
        url: String,
        /// The task it belongs to, if known.
        task_id: Option<TaskId>,
        /// The HTTP status, when the server refused it.
        status: Option<StatusCode>,
        /// What went wrong.
        reason: String,
    },

    /// A result link answered with something that is not a result: an HTML page, a JSON or
    /// XML document, plain text or nothing, whatever its status and `Content-Type` said.
    /// Nothing was saved, and no file was replaced; the link may work later (retryable).
    #[error(
        "{}the result at {url} is {found}, not a media file; nothing was saved (it starts: {snippet:?})",
        task_prefix(.task_id)
    )]
    NotAResult {
        /// The link.
        url: String,
        /// The task it belongs to, if known.
        task_id: Option<TaskId>,
        /// What came instead.
        found: NotMedia,
        /// The start of what came (at most 200 characters).
        snippet: String,
    },

    /// `createTask` may or may not have created (and charged for) a task, and its id is not
    /// known. It was deliberately not resent.
    #[error(
        "createTask outcome unknown: {reason}{}. A task may have been created and charged; it was not resent. \
         Check the task list in the Apikley dashboard (or your callback endpoint) before submitting again.",
        snippet.as_deref().map(|s| format!("; the answer starts: {s:?}")).unwrap_or_default()
    )]
    OutcomeUnknown {
        /// What happened after the request was sent.
        reason: String,
        /// The HTTP status, when one arrived.
        status: Option<StatusCode>,
        /// The underlying transport error, if any.
        #[source]
        source: Option<reqwest::Error>,
        /// The start of an answer that named no task (at most 512 characters), if one came.
        snippet: Option<String>,
    },
}

fn task_prefix(task_id: &Option<TaskId>) -> String {
    task_id
        .as_ref()
        .map(|id| format!("task {id}: "))
        .unwrap_or_default()
}

/// Everything that can go wrong: its [`kind`](Error::kind), the task it concerns
/// ([`task_id`](Error::task_id), so the work can be resumed with
/// [`Client::task`](crate::Client::task)), whether trying again can help
/// ([`is_retryable`](Error::is_retryable)), and what each kind carries, through accessors.
/// Its message says it all in words; [`source`](std::error::Error::source) gives the cause
/// (the HTTP client's error, for a transport failure). No type of the HTTP stack is part of it,
/// so upgrading that stack breaks nobody.
///
/// ```
/// let error = apikley::Error::from(apikley::Violations::new());
/// assert_eq!(error.kind(), apikley::ErrorKind::InvalidRequest);
/// assert!(!error.is_retryable());
/// assert!(error.violations().is_some());
/// ```
pub struct Error(Box<Repr>);

/// What kind of failure an [`Error`] is. New kinds may be added, hence `non_exhaustive`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The client is misconfigured (missing key, refused base URL, …). Nothing was sent.
    Config,
    /// The request breaks the model's rules. Nothing was sent; [`Error::violations`] lists
    /// every problem.
    InvalidRequest,
    /// The API answered with an error `code` ([`Error::api`]), in an HTTP 200 envelope or as an
    /// HTTP error status.
    Api,
    /// The request never got a complete answer (connection refused, reset, timed out).
    Transport,
    /// The call's deadline passed while it waited for a client-side rate-limit slot: nothing
    /// was sent.
    DeadlineExceeded,
    /// A successful HTTP status whose body is not what the API documents.
    Undecodable,
    /// The task ended in state `fail` ([`Error::fail_code`], [`Error::fail_message`]).
    TaskFailed,
    /// The task is over, but in a state this SDK does not know ([`Error::state`]), with a sign
    /// of its end; [`Error::result_urls`] names any files it left.
    TaskEndedUnrecognized,
    /// The task succeeded, but its result cannot be used; [`Error::result_text`] is
    /// `resultJson` as sent, so that nothing paid for is lost.
    ResultUnusable,
    /// The wait's deadline passed before the task ended. The task may still finish.
    WaitTimedOut,
    /// The request was not sent: the check the caller asked for just before sending it
    /// ([`Submission::record_sending`](crate::Submission::record_sending)) failed.
    NotSent,
    /// The wait was cancelled. The task itself goes on.
    Cancelled,
    /// A local file ([`Error::path`]) cannot be used: missing, unreadable, refused by the
    /// model's rules, or (for a download) already there, or not writable. Never retried.
    File,
    /// A result file ([`Error::url`]) could not be downloaded.
    Download,
    /// A result link answered with something that is not a result (an HTML page, JSON, text,
    /// nothing). Nothing was saved; the link may work later.
    NotAResult,
    /// `createTask` may or may not have created (and charged for) a task, and its id is not
    /// known. It was deliberately not resent.
    OutcomeUnknown,
}

impl From<Repr> for Error {
    fn from(repr: Repr) -> Self {
        Error(Box::new(repr))
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl Error {
    /// The case, for the runtime's own decisions.
    pub(crate) fn repr(&self) -> &Repr {
        &self.0
    }

    /// What kind of failure it is.
    pub fn kind(&self) -> ErrorKind {
        match *self.0 {
            Repr::Config(_) => ErrorKind::Config,
            Repr::InvalidRequest(_) => ErrorKind::InvalidRequest,
            Repr::Api(_) => ErrorKind::Api,
            Repr::Transport { .. } => ErrorKind::Transport,
            Repr::DeadlineExceeded { .. } => ErrorKind::DeadlineExceeded,
            Repr::Undecodable { .. } => ErrorKind::Undecodable,
            Repr::TaskFailed { .. } => ErrorKind::TaskFailed,
            Repr::TaskEndedUnrecognized { .. } => ErrorKind::TaskEndedUnrecognized,
            Repr::ResultUnusable { .. } => ErrorKind::ResultUnusable,
            Repr::WaitTimedOut { .. } => ErrorKind::WaitTimedOut,
            Repr::NotSent { .. } => ErrorKind::NotSent,
            Repr::Cancelled { .. } => ErrorKind::Cancelled,
            Repr::File { .. } => ErrorKind::File,
            Repr::Download { .. } => ErrorKind::Download,
            Repr::NotAResult { .. } => ErrorKind::NotAResult,
            Repr::OutcomeUnknown { .. } => ErrorKind::OutcomeUnknown,
        }
    }

    /// The task this error concerns, when one exists.
    pub fn task_id(&self) -> Option<&TaskId> {
        match &*self.0 {
            Repr::Api(e) => e.task_id.as_ref(),
            Repr::Transport { task_id, .. }
            | Repr::DeadlineExceeded { task_id, .. }
            | Repr::Undecodable { task_id, .. }
            | Repr::Download { task_id, .. }
            | Repr::NotAResult { task_id, .. }
            | Repr::File { task_id, .. } => task_id.as_ref(),
            Repr::TaskFailed { task_id, .. }
            | Repr::TaskEndedUnrecognized { task_id, .. }
            | Repr::ResultUnusable { task_id, .. }
            | Repr::WaitTimedOut { task_id, .. }
            | Repr::Cancelled { task_id } => Some(task_id),
            Repr::Config(_)
            | Repr::InvalidRequest(_)
            | Repr::NotSent { .. }
            | Repr::OutcomeUnknown { .. } => None,
        }
    }

    /// Whether trying the same thing again later can help.
    ///
    /// True for transport failures, rate limits (429, 433), maintenance (455), server errors
    /// (5xx) and pages that are not the API's answer, and for waits that timed out or were
    /// cancelled (the task may still finish). False for everything a retry cannot change, and
    /// for an unknown outcome ([`Error::is_outcome_unknown`]): resending could pay twice. The
    /// client's own retries follow the same classification.
    pub fn is_retryable(&self) -> bool {
        match &*self.0 {
            Repr::Api(e) => Class::of_code(e.code.code()).may_resend(true),
            Repr::Undecodable { transient, .. } => *transient,
            Repr::Transport { .. }
            | Repr::DeadlineExceeded { .. }
            | Repr::WaitTimedOut { .. }
            | Repr::NotAResult { .. }
            | Repr::Cancelled { .. } => true,
            Repr::Download { status, .. } => {
                status.is_none_or(|s| Class::of_status(s).may_resend(true))
            }
            Repr::Config(_)
            | Repr::InvalidRequest(_)
            | Repr::NotSent { .. }
            | Repr::TaskFailed { .. }
            | Repr::TaskEndedUnrecognized { .. }
            | Repr::ResultUnusable { .. }
            | Repr::File { .. }
            | Repr::OutcomeUnknown { .. } => false,
        }
    }

    /// Whether `createTask` may have created (and charged for) a task whose id is not known:
    /// check before submitting again.
    pub fn is_outcome_unknown(&self) -> bool {
        self.kind() == ErrorKind::OutcomeUnknown
    }

    /// The API error, if this is one.
    pub fn api(&self) -> Option<&ApiError> {
        match &*self.0 {
            Repr::Api(e) => Some(e),
            _ => None,
        }
    }

    /// The API's code, if this is an API error.
    pub fn api_code(&self) -> Option<ApiCode> {
        self.api().map(|e| e.code)
    }

    /// Every broken rule, if the request was invalid.
    pub fn violations(&self) -> Option<&Violations> {
        match &*self.0 {
            Repr::InvalidRequest(violations) => Some(violations),
            _ => None,
        }
    }

    /// What is misconfigured, if that is the problem.
    pub fn config(&self) -> Option<&ConfigError> {
        match &*self.0 {
            Repr::Config(e) => Some(e),
            _ => None,
        }
    }

    /// The HTTP status that came with the failure, when one did.
    pub fn http_status(&self) -> Option<u16> {
        match &*self.0 {
            Repr::Api(e) => Some(e.status),
            Repr::Undecodable { status, .. } => Some(status.as_u16()),
            Repr::Download { status, .. } | Repr::OutcomeUnknown { status, .. } => {
                status.map(|s| s.as_u16())
            }
            _ => None,
        }
    }

    /// The operation that failed (`createTask`, `recordInfo`), when the error is about one.
    pub fn operation(&self) -> Option<&'static str> {
        match &*self.0 {
            Repr::Api(e) => Some(e.operation),
            Repr::Transport { operation, .. }
            | Repr::DeadlineExceeded { operation, .. }
            | Repr::Undecodable { operation, .. }
            | Repr::NotSent { operation, .. } => Some(operation),
            Repr::OutcomeUnknown { .. } => Some("createTask"),
            _ => None,
        }
    }

    /// The local file that cannot be used ([`ErrorKind::File`]).
    pub fn path(&self) -> Option<&Path> {
        match &*self.0 {
            Repr::File { path, .. } => Some(path),
            _ => None,
        }
    }

    /// The result link that failed ([`ErrorKind::Download`], [`ErrorKind::NotAResult`]).
    pub fn url(&self) -> Option<&str> {
        match &*self.0 {
            Repr::Download { url, .. } | Repr::NotAResult { url, .. } => Some(url),
            _ => None,
        }
    }

    /// What a result link served instead of a media file ([`ErrorKind::NotAResult`]).
    pub fn not_media(&self) -> Option<NotMedia> {
        match &*self.0 {
            Repr::NotAResult { found, .. } => Some(*found),
            _ => None,
        }
    }

    /// The start of an answer that was not what the API documents (an undecodable body, a
    /// result link's page, a `createTask` answer that named no task), as received.
    pub fn body_snippet(&self) -> Option<&str> {
        match &*self.0 {
            Repr::Undecodable { snippet, .. } | Repr::NotAResult { snippet, .. } => Some(snippet),
            Repr::OutcomeUnknown { snippet, .. } => snippet.as_deref(),
            _ => None,
        }
    }

    /// The task's `failCode`, for a task that failed or ended in an unknown state.
    pub fn fail_code(&self) -> Option<&str> {
        match &*self.0 {
            Repr::TaskFailed { fail_code, .. } | Repr::TaskEndedUnrecognized { fail_code, .. } => {
                fail_code.as_deref()
            }
            _ => None,
        }
    }

    /// The task's `failMsg`, for a task that failed or ended in an unknown state.
    pub fn fail_message(&self) -> Option<&str> {
        match &*self.0 {
            Repr::TaskFailed { fail_message, .. }
            | Repr::TaskEndedUnrecognized { fail_message, .. } => fail_message.as_deref(),
            _ => None,
        }
    }

    /// The state as the API named it, for a task that ended in a state this SDK does not know.
    pub fn state(&self) -> Option<&str> {
        match &*self.0 {
            Repr::TaskEndedUnrecognized { state, .. } => Some(state),
            _ => None,
        }
    }

    /// How long a wait that timed out lasted.
    pub fn waited(&self) -> Option<Duration> {
        match &*self.0 {
            Repr::WaitTimedOut { waited, .. } => Some(*waited),
            _ => None,
        }
    }

    /// The last state seen, for a wait that timed out.
    pub fn last_state(&self) -> Option<&TaskState> {
        match &*self.0 {
            Repr::WaitTimedOut { last_state, .. } => last_state.as_ref(),
            _ => None,
        }
    }

    /// Result files a task that ended in an unknown state names: they can still be downloaded.
    pub fn result_urls(&self) -> &[Url] {
        match &*self.0 {
            Repr::TaskEndedUnrecognized { urls, .. } => urls,
            _ => &[],
        }
    }

    /// `resultJson` as sent, for a result that cannot be used.
    pub fn result_text(&self) -> Option<&str> {
        match &*self.0 {
            Repr::ResultUnusable { text, .. } => text.as_deref(),
            _ => None,
        }
    }
}

/// An error `code` from the API, with its message and how it was delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiError {
    /// The operation, e.g. `createTask`.
    pub operation: &'static str,
    /// The code: from the body's `code` when there is one, else from the HTTP status.
    pub code: ApiCode,
    /// The body's `msg` (or `message`), if any.
    pub message: Option<String>,
    /// The HTTP status it arrived with (200 when the error was in the envelope only).
    pub status: u16,
    /// How long the server asked to wait (`Retry-After`), if it said.
    pub retry_after: Option<Duration>,
    /// The task concerned, if any.
    pub task_id: Option<TaskId>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&task_prefix(&self.task_id))?;
        write!(f, "{} refused: {}", self.operation, self.code)?;
        if let Some(message) = &self.message {
            write!(f, ": {message}")?;
        }
        if self.status != 200 {
            write!(f, " (HTTP {})", self.status)?;
        }
        Ok(())
    }
}

/// The API's documented response codes, and any other as [`ApiCode::Unknown`]. New named
/// codes may be added (codes now read as `Unknown`), hence `non_exhaustive`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ApiCode {
    /// 400: missing or invalid parameters.
    BadRequest,
    /// 401: the API key is missing or invalid.
    Unauthorized,
    /// 402: the account does not have enough credits.
    InsufficientCredits,
    /// 404: the task, resource or endpoint does not exist.
    NotFound,
    /// 422: the request parameters failed validation.
    ValidationError,
    /// 429: rate limited.
    RateLimited,
    /// 433: a sub-key's usage limit is exceeded.
    SubKeyLimitExceeded,
    /// 455: the service is under maintenance.
    Maintenance,
    /// 500: an unexpected server error.
    ServerError,
    /// 501: content generation failed.
    GenerationFailed,
    /// 505: the feature is disabled.
    FeatureDisabled,
    /// A code the documentation does not list (HTTP statuses such as 502 land here too).
    Unknown(i64),
}

impl ApiCode {
    /// The code for a number.
    pub fn from_code(code: i64) -> Self {
        match code {
            400 => ApiCode::BadRequest,
            401 => ApiCode::Unauthorized,
            402 => ApiCode::InsufficientCredits,
            404 => ApiCode::NotFound,
            422 => ApiCode::ValidationError,
            429 => ApiCode::RateLimited,
            433 => ApiCode::SubKeyLimitExceeded,
            455 => ApiCode::Maintenance,
            500 => ApiCode::ServerError,
            501 => ApiCode::GenerationFailed,
            505 => ApiCode::FeatureDisabled,
            other => ApiCode::Unknown(other),
        }
    }

    /// The number.
    pub fn code(self) -> i64 {
        match self {
            ApiCode::BadRequest => 400,
            ApiCode::Unauthorized => 401,
            ApiCode::InsufficientCredits => 402,
            ApiCode::NotFound => 404,
            ApiCode::ValidationError => 422,
            ApiCode::RateLimited => 429,
            ApiCode::SubKeyLimitExceeded => 433,
            ApiCode::Maintenance => 455,
            ApiCode::ServerError => 500,
            ApiCode::GenerationFailed => 501,
            ApiCode::FeatureDisabled => 505,
            ApiCode::Unknown(code) => code,
        }
    }

    /// Rate limits, maintenance and server errors: the same request may succeed later.
    pub fn is_transient(self) -> bool {
        Class::of_code(self.code()) != Class::Permanent
    }
}

impl fmt::Display for ApiCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            ApiCode::BadRequest => "bad request",
            ApiCode::Unauthorized => "unauthorized (check the API key)",
            ApiCode::InsufficientCredits => "insufficient credits",
            ApiCode::NotFound => "not found",
            ApiCode::ValidationError => "validation error",
            ApiCode::RateLimited => "rate limited",
            ApiCode::SubKeyLimitExceeded => "sub-key usage limit exceeded",
            ApiCode::Maintenance => "service under maintenance",
            ApiCode::ServerError => "server error",
            ApiCode::GenerationFailed => "generation failed",
            ApiCode::FeatureDisabled => "feature disabled",
            ApiCode::Unknown(_) => "undocumented code",
        };
        write!(f, "{name} ({})", self.code())
    }
}

/// One broken rule of a request: which field, which rule, and the offending value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The field, as the API names it (`input.prompt`, `input.input_urls[2]`, `callBackUrl`).
    pub field: String,
    /// The rule, in words.
    pub rule: String,
    /// The value given, shortened for display.
    pub value: String,
}

impl Violation {
    /// A violation of `rule` by `value` in `field`.
    pub fn new(
        field: impl Into<String>,
        rule: impl Into<String>,
        value: impl fmt::Display,
    ) -> Self {
        let value = value.to_string();
        let value = if value.chars().count() > 60 {
            format!("{}…", value.chars().take(57).collect::<String>())
        } else {
            value
        };
        Violation {
            field: field.into(),
            rule: rule.into(),
            value,
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} (got {})", self.field, self.rule, self.value)
    }
}

/// Every broken rule of a request, in field order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Violations(Vec<Violation>);

impl Violations {
    /// No violations yet.
    pub fn new() -> Self {
        Violations::default()
    }

    /// Records one.
    pub fn push(&mut self, violation: Violation) {
        self.0.push(violation);
    }

    /// `Ok(())` when there are none, else `Err(self)`.
    pub fn into_result(self) -> Result<(), Violations> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The violations.
    pub fn iter(&self) -> std::slice::Iter<'_, Violation> {
        self.0.iter()
    }

    /// The fields that broke a rule.
    pub fn fields(&self) -> Vec<&str> {
        self.0.iter().map(|v| v.field.as_str()).collect()
    }
}

impl Extend<Violation> for Violations {
    fn extend<I: IntoIterator<Item = Violation>>(&mut self, violations: I) {
        self.0.extend(violations);
    }
}

impl<'a> IntoIterator for &'a Violations {
    type Item = &'a Violation;
    type IntoIter = std::slice::Iter<'a, Violation>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.0.len();
        write!(f, "{count} problem{}", if count == 1 { "" } else { "s" })?;
        for violation in &self.0 {
            write!(f, "\n  - {violation}")?;
        }
        Ok(())
    }
}

impl From<Violations> for Error {
    fn from(violations: Violations) -> Self {
        Repr::InvalidRequest(violations).into()
    }
}

impl From<ApiError> for Error {
    fn from(error: ApiError) -> Self {
        Repr::Api(error).into()
    }
}

impl From<ConfigError> for Error {
    fn from(error: ConfigError) -> Self {
        Repr::Config(error).into()
    }
}
