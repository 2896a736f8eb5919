//! One API call: rate limit, request, envelope, typed failure; retried as policy allows.

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use backon::Retryable;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, HeaderValue, USER_AGENT};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio::time::Instant;
use tracing::Instrument;
use url::Url;

use crate::client::Inner;
use crate::error::{ApiCode, ApiError, Error};
use crate::retry::retry_after;
use crate::task::TaskId;

/// Answers are small JSON documents; anything longer is not one.
const MAX_BODY: usize = 4 << 20;
/// How much of an unexpected body an error quotes.
const SNIPPET_CHARS: usize = 512;

/// The API operations, by the name the docs give their paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    CreateTask,
    TaskDetail,
    Credits,
    UploadBase64,
    UploadUrl,
    UploadStream,
}

impl Op {
    pub(crate) const ALL: [Op; 6] = [
        Op::CreateTask,
        Op::TaskDetail,
        Op::Credits,
        Op::UploadBase64,
        Op::UploadUrl,
        Op::UploadStream,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Op::CreateTask => "createTask",
            Op::TaskDetail => "recordInfo",
            Op::Credits => "credit",
            Op::UploadBase64 => "file-base64-upload",
            Op::UploadUrl => "file-url-upload",
            Op::UploadStream => "file-stream-upload",
        }
    }

    /// The path relative to the base URL.
    pub(crate) fn path(self) -> &'static str {
        match self {
            Op::CreateTask => "api/v1/jobs/createTask",
            Op::TaskDetail => "api/v1/jobs/recordInfo",
            Op::Credits => "api/v1/chat/credit",
            Op::UploadBase64 => "file-upload/api/file-base64-upload",
            Op::UploadUrl => "file-upload/api/file-url-upload",
            Op::UploadStream => "file-upload/api/file-stream-upload",
        }
    }

    /// Whether a repeat could do the work (and charge) twice.
    fn creates_work(self) -> bool {
        self == Op::CreateTask
    }
}

/// How one attempt failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The connection failed before the request went out: the server saw nothing.
    NotSent(reqwest::Error),
    /// The request could not even be built (a body that does not serialize): nothing was sent,
    /// and a retry would fail the same way.
    Unbuildable(reqwest::Error),
    /// The request went out, but no complete answer came back.
    NoAnswer {
        source: reqwest::Error,
        status: Option<StatusCode>,
    },
    /// The API answered with an error code.
    Api(ApiError),
    /// A success status with a body that is not the documented envelope.
    Undecodable {
        status: StatusCode,
        reason: String,
        snippet: String,
    },
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::NotSent(e) => write!(f, "connection failed: {e}"),
            Failure::Unbuildable(e) => write!(f, "the request could not be built: {e}"),
            Failure::NoAnswer { source, .. } => write!(f, "no complete answer: {source}"),
            Failure::Api(e) => write!(f, "{e}"),
            Failure::Undecodable { status, reason, .. } => write!(f, "HTTP {status}: {reason}"),
        }
    }
}

impl Failure {
    fn retry_after(&self) -> Option<Duration> {
        match self {
            Failure::Api(e) => e.retry_after,
            _ => None,
        }
    }

    /// Whether the operation may be sent again after this failure.
    fn retryable(&self, op: Op) -> bool {
        match self {
            Failure::NotSent(_) => true,
            Failure::Unbuildable(_) => false,
            Failure::NoAnswer { .. } => !op.creates_work(),
            Failure::Api(e) if op.creates_work() => e.code.refused_before_work(),
            Failure::Api(e) => e.code.is_transient(),
            Failure::Undecodable { .. } => false,
        }
    }

    fn into_error(self, op: Op, task_id: Option<&TaskId>) -> Error {
        let task_id = task_id.cloned();
        if op.creates_work() {
            match self {
                Failure::NoAnswer { source, status } => {
                    return Error::OutcomeUnknown {
                        reason: format!("the request was sent but its answer was lost ({source})"),
                        status,
                        source: Some(source),
                    };
                }
                Failure::Api(e)
                    if e.code == ApiCode::ServerError
                        || matches!(e.code, ApiCode::Unknown(code) if (500..600).contains(&code)) =>
                {
                    return Error::OutcomeUnknown {
                        reason: format!("the server failed while handling it: {e}"),
                        status: Some(e.status),
                        source: None,
                    };
                }
                Failure::Undecodable { status, reason, .. } => {
                    return Error::OutcomeUnknown {
                        reason: format!(
                            "the answer (HTTP {status}) did not say which task: {reason}"
                        ),
                        status: Some(status),
                        source: None,
                    };
                }
                other => {
                    return other
                        .into_error(Op::TaskDetail, task_id.as_ref())
                        .renamed(op);
                }
            }
        }
        match self {
            Failure::NotSent(source)
            | Failure::Unbuildable(source)
            | Failure::NoAnswer { source, .. } => Error::Transport {
                operation: op.name(),
                task_id,
                source,
            },
            Failure::Api(mut e) => {
                e.operation = op.name();
                e.task_id = task_id;
                Error::Api(e)
            }
            Failure::Undecodable {
                status,
                reason,
                snippet,
            } => Error::Undecodable {
                operation: op.name(),
                task_id,
                status,
                reason,
                snippet,
            },
        }
    }
}

impl Error {
    fn renamed(mut self, op: Op) -> Self {
        match &mut self {
            Error::Transport { operation, .. } | Error::Undecodable { operation, .. } => {
                *operation = op.name();
            }
            Error::Api(e) => e.operation = op.name(),
            _ => {}
        }
        self
    }
}

/// What a call is about, and how long it may take.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Scope<'a> {
    /// The task concerned, named in errors and traces.
    pub(crate) task_id: Option<&'a TaskId>,
    /// No attempt or retry goes past this.
    pub(crate) deadline: Option<Instant>,
    /// Added to the request timeout (large uploads need longer than a JSON call).
    pub(crate) extra_time: Duration,
}

/// The documented envelope, read leniently: `msg` or `message`, any `code`, any `data`.
#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    code: Option<serde_json::Value>,
    #[serde(default)]
    msg: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    data: serde_json::Value,
}

impl Inner {
    /// Calls `op`, retrying as the policy and the operation allow. `build` makes the request
    /// (it may be called once per attempt); `deadline` bounds the whole call.
    pub(crate) async fn call<D: DeserializeOwned>(
        &self,
        op: Op,
        scope: Scope<'_>,
        build: impl Fn(&reqwest::Client, Url) -> reqwest::RequestBuilder,
    ) -> Result<D, Error> {
        let Scope {
            task_id, deadline, ..
        } = scope;
        let started = Instant::now();
        let attempts = AtomicU32::new(0);
        let policy = self.retry;
        let attempt = || async {
            let attempt = attempts.fetch_add(1, Ordering::Relaxed) + 1;
            self.attempt(op, scope, attempt, &build).await
        };
        attempt
            .retry(policy.backoff())
            .sleep(tokio::time::sleep)
            .when(|failure: &Failure| failure.retryable(op))
            .adjust(|failure, backoff| {
                // The backoff decides whether another attempt is allowed; the server's
                // Retry-After, when given, decides how long to wait before it.
                let delay = failure.retry_after().unwrap_or(backoff?);
                let resume = Instant::now().checked_add(delay)?;
                let within_budget = started
                    .checked_add(policy.max_elapsed)
                    .is_none_or(|end| resume <= end);
                let before_deadline = deadline.is_none_or(|d| resume < d);
                (within_budget && before_deadline).then_some(delay)
            })
            .notify(|failure, delay| {
                tracing::warn!(
                    operation = op.name(),
                    task_id = task_id.map(tracing::field::display),
                    error = %failure,
                    delay_ms = delay.as_millis() as u64,
                    "retrying"
                );
            })
            .await
            .map_err(|failure| failure.into_error(op, task_id))
    }

    async fn attempt<D: DeserializeOwned>(
        &self,
        op: Op,
        scope: Scope<'_>,
        attempt: u32,
        build: &impl Fn(&reqwest::Client, Url) -> reqwest::RequestBuilder,
    ) -> Result<D, Failure> {
        let Scope {
            task_id,
            deadline,
            extra_time,
        } = scope;
        let limiter = match op {
            Op::CreateTask => self.creates.as_ref(),
            Op::TaskDetail => self.queries.as_ref(),
            _ => None,
        };
        let _slot = match limiter {
            Some(limiter) => Some(limiter.acquire().await),
            None => None,
        };

        let span = tracing::info_span!(
            "apikley.call",
            operation = op.name(),
            task_id = task_id.map(tracing::field::display),
            attempt,
            status = tracing::field::Empty,
            duration_ms = tracing::field::Empty,
        );
        async {
            let started = Instant::now();
            let mut request = build(&self.http, self.endpoint(op))
                .bearer_auth(self.key.expose())
                .header(USER_AGENT, self.user_agent.clone())
                .header(ACCEPT, HeaderValue::from_static("application/json"));
            let timeout = match (self.request_timeout.map(|t| t + extra_time), deadline) {
                (Some(limit), Some(deadline)) => {
                    Some(limit.min(deadline.saturating_duration_since(Instant::now())))
                }
                (limit, _) => limit,
            };
            if let Some(timeout) = timeout {
                request = request.timeout(timeout);
            }
            let result = self.exchange(request).await;
            let span = tracing::Span::current();
            span.record("duration_ms", started.elapsed().as_millis() as u64);
            match &result {
                Ok(_) => {
                    span.record("status", 200);
                    tracing::debug!("ok");
                }
                Err(failure) => {
                    if let Failure::Api(e) = failure {
                        span.record("status", e.status.as_u16());
                    }
                    tracing::debug!(error = %failure, "failed");
                }
            }
            result
        }
        .instrument(span)
        .await
    }

    async fn exchange<D: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<D, Failure> {
        let response = request.send().await.map_err(|source| {
            if source.is_builder() {
                Failure::Unbuildable(source)
            } else if source.is_connect() {
                Failure::NotSent(source)
            } else {
                Failure::NoAnswer {
                    source,
                    status: None,
                }
            }
        })?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let body = read_body(response)
            .await
            .map_err(|source| Failure::NoAnswer {
                source,
                status: Some(status),
            })?;
        decode(status, retry_after, &redact(body, self.key.expose()))
    }
}

/// A server could echo the key back: it must not reach a message or snippet.
fn redact(body: Vec<u8>, key: &str) -> Vec<u8> {
    let key = key.as_bytes();
    if key.is_empty() || !body.windows(key.len()).any(|w| w == key) {
        return body;
    }
    let mut out = Vec::with_capacity(body.len());
    let mut rest = body.as_slice();
    while let Some(at) = rest.windows(key.len()).position(|w| w == key) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(b"[redacted]");
        rest = &rest[at + key.len()..];
    }
    out.extend_from_slice(rest);
    out
}

/// Reads the body, stopping after [`MAX_BODY`] bytes.
async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_BODY {
            break;
        }
    }
    Ok(body)
}

/// Turns an answer into the operation's `data`, or the failure it reports. Both error shapes
/// (HTTP 200 with an error `code`, and an HTTP error status with or without the envelope) give
/// the same [`ApiError`]: the code comes from the body when it has one, else from the status.
pub(crate) fn decode<D: DeserializeOwned>(
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &[u8],
) -> Result<D, Failure> {
    let undecodable = |reason: String| Failure::Undecodable {
        status,
        reason,
        snippet: snippet(body),
    };
    let api_error = |code: i64, message: Option<String>| {
        Failure::Api(ApiError {
            operation: "",
            code: ApiCode::from_code(code),
            message,
            status,
            retry_after,
            task_id: None,
        })
    };
    let envelope = if body.len() > MAX_BODY {
        Err(format!("the body is larger than {} MiB", MAX_BODY >> 20))
    } else {
        serde_json::from_slice::<Envelope>(body).map_err(|e| format!("not the JSON envelope: {e}"))
    };
    let envelope = match envelope {
        Ok(envelope) => envelope,
        Err(_) if !status.is_success() => return Err(api_error(status.as_u16().into(), None)),
        Err(reason) => return Err(undecodable(reason)),
    };
    let code = envelope.code.as_ref().and_then(|c| {
        c.as_i64()
            .or_else(|| c.as_str().and_then(|s| s.trim().parse().ok()))
    });
    let message = envelope
        .msg
        .or(envelope.message)
        .filter(|m| !m.trim().is_empty());
    match code {
        Some(code) if code != 200 => return Err(api_error(code, message)),
        _ if !status.is_success() => return Err(api_error(status.as_u16().into(), message)),
        _ => {}
    }
    serde_json::from_value(envelope.data)
        .map_err(|e| undecodable(format!("`data` is not the documented shape: {e}")))
}

fn snippet(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(SNIPPET_CHARS * 4)])
        .chars()
        .take(SNIPPET_CHARS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Data {
        #[serde(rename = "taskId")]
        task_id: String,
    }

    fn api(result: Result<Data, Failure>) -> ApiError {
        match result {
            Err(Failure::Api(e)) => e,
            other => panic!("expected an API error, got {other:?}"),
        }
    }

    #[test]
    fn success_yields_data() {
        let data: Data = decode(
            StatusCode::OK,
            None,
            br#"{"code":200,"msg":"success","data":{"taskId":"t1"}}"#,
        )
        .unwrap();
        assert_eq!(data.task_id, "t1");
    }

    #[test]
    fn both_error_shapes_give_the_same_error() {
        let in_body = api(decode(
            StatusCode::OK,
            None,
            br#"{"code":402,"msg":"Insufficient credits","data":null}"#,
        ));
        let as_status = api(decode(
            StatusCode::PAYMENT_REQUIRED,
            None,
            br#"{"code":402,"message":"Insufficient credits"}"#,
        ));
        let bare = api(decode(
            StatusCode::PAYMENT_REQUIRED,
            None,
            b"<html>Payment Required</html>",
        ));
        for e in [&in_body, &as_status, &bare] {
            assert_eq!(e.code, ApiCode::InsufficientCredits);
        }
        assert_eq!(in_body.message, as_status.message);
        assert_eq!(bare.message, None);
        assert_eq!(as_status.status, StatusCode::PAYMENT_REQUIRED);
    }

    #[test]
    fn unknown_codes_and_string_codes_are_typed() {
        assert_eq!(
            api(decode(StatusCode::OK, None, br#"{"code":499,"msg":"new"}"#)).code,
            ApiCode::Unknown(499)
        );
        assert_eq!(
            api(decode(StatusCode::OK, None, br#"{"code":"433"}"#)).code,
            ApiCode::SubKeyLimitExceeded
        );
    }

    #[test]
    fn a_success_status_with_a_strange_body_is_undecodable_with_a_snippet() {
        match decode::<Data>(StatusCode::OK, None, b"<html>maintenance</html>") {
            Err(Failure::Undecodable {
                status, snippet, ..
            }) => {
                assert_eq!(status, StatusCode::OK);
                assert_eq!(snippet, "<html>maintenance</html>");
            }
            other => panic!("{other:?}"),
        }
        match decode::<Data>(StatusCode::OK, None, br#"{"code":200,"data":{"id":"x"}}"#) {
            Err(Failure::Undecodable { reason, .. }) => {
                assert!(reason.contains("`data`"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        let long = vec![b'x'; 10_000];
        match decode::<Data>(StatusCode::OK, None, &long) {
            Err(Failure::Undecodable { snippet, .. }) => assert_eq!(snippet.len(), SNIPPET_CHARS),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_echoed_key_is_redacted_before_anything_is_quoted() {
        let body = redact(b"<p>bad key sk-123 (sk-123)</p>".to_vec(), "sk-123");
        assert_eq!(body, b"<p>bad key [redacted] ([redacted])</p>");
        assert_eq!(redact(b"nothing".to_vec(), "sk-123"), b"nothing");
    }

    #[test]
    fn retry_classification_never_resends_a_create_that_may_have_worked() {
        let api = |code| {
            Failure::Api(ApiError {
                operation: "",
                code: ApiCode::from_code(code),
                message: None,
                status: StatusCode::OK,
                retry_after: None,
                task_id: None,
            })
        };
        for code in [429, 433, 455] {
            assert!(api(code).retryable(Op::CreateTask), "{code}");
        }
        for code in [400, 401, 402, 422, 500, 501, 505, 599] {
            assert!(!api(code).retryable(Op::CreateTask), "{code}");
        }
        for code in [429, 455, 500, 502, 503] {
            assert!(api(code).retryable(Op::TaskDetail), "{code}");
        }
        for code in [401, 404, 422] {
            assert!(!api(code).retryable(Op::TaskDetail), "{code}");
        }
        assert!(matches!(
            api(500).into_error(Op::CreateTask, None),
            Error::OutcomeUnknown { .. }
        ));
        assert!(
            matches!(api(402).into_error(Op::CreateTask, None), Error::Api(e) if e.operation == "createTask")
        );
    }
}
