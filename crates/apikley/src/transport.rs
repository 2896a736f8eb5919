//! One API call: rate limit, request, envelope, typed failure; retried as the one
//! classification allows. The [`Transport`] owns everything a call needs.

use std::collections::HashMap;
use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use reqwest::Method;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, HeaderValue, USER_AGENT};
use tokio::time::Instant;
use tracing::Instrument;
use url::Url;

use crate::config::{ApiKey, ConfigError};
use crate::endpoint::{Endpoint, Op};
use crate::envelope::{Envelope, MAX_BODY, redact, snippet};
use crate::error::{ApiCode, ApiError, Error, Repr};
use crate::rate_limit::{Limiter, RateLimits, Slot};
use crate::record::TaskId;
use crate::retry::{Class, Classified, RetryPolicy, retry_after, retrying};

/// How one attempt failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The connection failed before the request went out: the server saw nothing.
    NotSent(reqwest::Error),
    /// No rate-limit slot was free before the deadline: nothing was sent.
    NoSlot,
    /// The request cannot be made (a spec's path that does not join onto the base URL).
    Unusable(String),
    /// The caller's last check before sending failed: nothing was sent.
    Held(String),
    /// The request could not even be built (a body that does not serialize): nothing was sent,
    /// and a retry would fail the same way.
    Unbuildable(reqwest::Error),
    /// The request went out, but no complete answer came back.
    NoAnswer {
        source: reqwest::Error,
        status: Option<StatusCode>,
    },
    /// The API answered with an error code.
    Api {
        code: ApiCode,
        message: Option<String>,
        status: StatusCode,
        retry_after: Option<Duration>,
        /// The start of the answer, for a `createTask` whose outcome stays unknown.
        snippet: String,
    },
    /// A success status with a body that is not what the operation answers.
    Undecodable {
        status: StatusCode,
        reason: String,
        snippet: String,
        /// Not the API's envelope at all (a proxy's or a maintenance page): a passing fault.
        transient: bool,
    },
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::NotSent(e) => write!(f, "connection failed: {e}"),
            Failure::NoSlot => f.write_str("no rate-limit slot before the deadline"),
            Failure::Unusable(reason) => write!(f, "cannot be made: {reason}"),
            Failure::Held(reason) => write!(f, "held back before sending: {reason}"),
            Failure::Unbuildable(e) => write!(f, "the request could not be built: {e}"),
            Failure::NoAnswer { source, .. } => write!(f, "no complete answer: {source}"),
            Failure::Api { code, message, .. } => {
                write!(f, "{code}")?;
                message.iter().try_for_each(|m| write!(f, ": {m}"))
            }
            Failure::Undecodable { status, reason, .. } => write!(f, "HTTP {status}: {reason}"),
        }
    }
}

impl Classified for Failure {
    fn class(&self) -> Class {
        match self {
            Failure::NotSent(_) | Failure::NoSlot => Class::NotSent,
            Failure::Unbuildable(_) | Failure::Unusable(_) | Failure::Held(_) => Class::Permanent,
            Failure::NoAnswer { .. } => Class::Transient,
            Failure::Api { code, .. } => Class::of_code(code.code()),
            Failure::Undecodable { transient, .. } => {
                if *transient {
                    Class::Transient
                } else {
                    Class::Permanent
                }
            }
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Failure::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

impl Failure {
    /// The error the caller sees, built once, for `op` on `task_id`. A `createTask` that may
    /// have been processed, and whose task id is not known, is [`ErrorKind::OutcomeUnknown`](crate::ErrorKind::OutcomeUnknown).
    fn into_error(self, op: Op<'_>, task_id: Option<&TaskId>) -> Error {
        let task_id = task_id.cloned();
        if matches!(op, Op::CreateTask(_)) {
            let unknown = |reason: String, status, source, snippet| Repr::OutcomeUnknown {
                reason,
                status,
                source,
                snippet,
            };
            match self {
                Failure::NoAnswer { source, status } => {
                    let reason = format!("the request was sent but its answer was lost ({source})");
                    return unknown(reason, status, Some(source), None).into();
                }
                Failure::Api {
                    code,
                    message,
                    status,
                    snippet,
                    ..
                } if Class::of_code(code.code()) == Class::Transient => {
                    let message = message.map(|m| format!(": {m}")).unwrap_or_default();
                    let reason = format!("the server failed while handling it: {code}{message}");
                    return unknown(reason, Some(status), None, Some(snippet)).into();
                }
                Failure::Undecodable {
                    status,
                    reason,
                    snippet,
                    ..
                } => {
                    let reason = format!("the answer (HTTP {status}) named no task: {reason}");
                    return unknown(reason, Some(status), None, Some(snippet)).into();
                }
                _ => {}
            }
        }
        let repr = match self {
            Failure::NoSlot => Repr::DeadlineExceeded {
                operation: op.name(),
                task_id,
            },
            Failure::Unusable(reason) => Repr::Config(ConfigError::Endpoint(reason)),
            Failure::Held(reason) => Repr::NotSent {
                operation: op.name(),
                reason,
            },
            Failure::NotSent(source)
            | Failure::Unbuildable(source)
            | Failure::NoAnswer { source, .. } => Repr::Transport {
                operation: op.name(),
                task_id,
                source,
            },
            Failure::Api {
                code,
                message,
                status,
                retry_after,
                ..
            } => Repr::Api(ApiError {
                operation: op.name(),
                code,
                message,
                status: status.as_u16(),
                retry_after,
                task_id,
            }),
            Failure::Undecodable {
                status,
                reason,
                snippet,
                transient,
            } => Repr::Undecodable {
                operation: op.name(),
                task_id,
                status,
                reason,
                snippet,
                transient,
            },
        };
        repr.into()
    }
}

/// What a call is about, and how long it may take.
#[derive(Clone, Copy, Default)]
pub(crate) struct Scope<'a> {
    /// The task concerned, named in errors and traces.
    pub(crate) task_id: Option<&'a TaskId>,
    /// No attempt or retry goes past this, and no wait for a rate-limit slot.
    pub(crate) deadline: Option<Instant>,
    /// Added to the request timeout (large uploads need longer than a JSON call).
    pub(crate) extra_time: Duration,
    /// Called just before each attempt is sent (after its rate-limit slot is granted).
    /// The attempt is sent only if it succeeds; its error ends the call with nothing sent.
    pub(crate) on_send: Option<&'a SendHook<'a>>,
    /// A slot granted beforehand, used by the first attempt (the poll scheduler chooses what
    /// to query once it holds one).
    pub(crate) granted: Option<&'a std::sync::Mutex<Option<Slot>>>,
}

/// Called just before an attempt is sent; the attempt goes out only if it succeeds (a batch
/// writes "sending" to its journal, on disk, first).
pub(crate) type SendHook<'a> =
    dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync + 'a;

/// What a [`Transport`] is made of.
pub(crate) struct Settings {
    pub(crate) key: ApiKey,
    pub(crate) base_url: Url,
    pub(crate) http: reqwest::Client,
    pub(crate) user_agent: HeaderValue,
    pub(crate) request_timeout: Option<Duration>,
    pub(crate) download_idle_timeout: Option<Duration>,
    pub(crate) retry: RetryPolicy,
    pub(crate) rate_limits: RateLimits,
    /// Where every task created is recorded, if anywhere.
    #[cfg(feature = "history")]
    pub(crate) history: Option<crate::history::History>,
    /// The account's limits as every process keeps them, instead of this process alone.
    #[cfg(feature = "postgres")]
    pub(crate) shared_limits: Option<crate::shared_limits::SharedLimits>,
}

/// The API as the client reaches it: key, base URL, HTTP client, timeouts, retry policy and
/// rate limits, shared by every clone.
#[derive(Clone)]
pub(crate) struct Transport(Arc<Shared>);

struct Shared {
    settings: Settings,
    creates: Option<Limiter>,
    queries: Option<Limiter>,
    /// Each endpoint's URL on the base URL, joined once (every status query needs one).
    urls: Mutex<HashMap<Endpoint, Url>>,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let settings = &self.0.settings;
        f.debug_struct("Transport")
            .field("base_url", &settings.base_url.as_str())
            .field("api_key", &settings.key)
            .field("request_timeout", &settings.request_timeout)
            .field("retry", &settings.retry)
            .field("rate_limits", &settings.rate_limits)
            .finish_non_exhaustive()
    }
}

impl Transport {
    pub(crate) fn new(settings: Settings) -> Self {
        let limiter = |kind: &'static str, limit: crate::RateLimit| {
            #[cfg(feature = "postgres")]
            if let Some(shared) = &settings.shared_limits {
                return Limiter::shared(shared, settings.key.expose(), kind, limit);
            }
            let _ = kind;
            Limiter::new(limit)
        };
        Transport(Arc::new(Shared {
            creates: settings.rate_limits.creates.map(|l| limiter("creates", l)),
            queries: settings.rate_limits.queries.map(|l| limiter("queries", l)),
            urls: Mutex::default(),
            settings,
        }))
    }

    /// The base URL requests go to.
    pub(crate) fn base_url(&self) -> &Url {
        &self.0.settings.base_url
    }

    /// The task history, if the client keeps one.
    #[cfg(feature = "history")]
    pub(crate) fn history(&self) -> Option<&crate::history::History> {
        self.0.settings.history.as_ref()
    }

    /// The HTTP client, for result files (which never carry the key: it is added to each API
    /// request only).
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.0.settings.http
    }

    /// How long a download may go without receiving a byte.
    pub(crate) fn download_idle_timeout(&self) -> Option<Duration> {
        self.0.settings.download_idle_timeout
    }

    /// The retry policy, which downloads follow too.
    pub(crate) fn retry_policy(&self) -> &RetryPolicy {
        &self.0.settings.retry
    }

    /// Calls `op`, retrying as the classification and the policy allow, and reads the answer's
    /// envelope with `read`. `build` completes the request (query, body), once per attempt.
    pub(crate) async fn call<T>(
        &self,
        op: Op<'_>,
        scope: Scope<'_>,
        build: impl Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
        read: impl Fn(Envelope) -> Result<T, String>,
    ) -> Result<T, Error> {
        self.call_fast(op, scope, build, |_| None, read).await
    }

    /// [`call`](Self::call), with a fast path: a success status whose body `fast` reads (an
    /// answer of exactly the documented shape) is taken as it is; any other answer goes
    /// through the envelope and `read`.
    pub(crate) async fn call_fast<T>(
        &self,
        op: Op<'_>,
        scope: Scope<'_>,
        build: impl Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
        fast: impl Fn(&[u8]) -> Option<T>,
        read: impl Fn(Envelope) -> Result<T, String>,
    ) -> Result<T, Error> {
        let reader = Reader { fast, read };
        let attempts = AtomicU32::new(0);
        let attempt = || async {
            let attempt = attempts.fetch_add(1, Ordering::Relaxed) + 1;
            self.attempt(op, scope, attempt, &build, &reader).await
        };
        retrying(
            &self.0.settings.retry,
            op.idempotent(),
            scope.deadline,
            attempt,
            |failure, delay| {
                tracing::warn!(
                    operation = op.name(),
                    task_id = scope.task_id.map(tracing::field::display),
                    error = %failure,
                    delay_ms = delay.as_millis() as u64,
                    "retrying"
                );
            },
        )
        .await
        .map_err(|failure| failure.into_error(op, scope.task_id))
    }

    /// Waits for a status-query slot (`None` without a query limit).
    pub(crate) async fn query_slot(&self) -> Option<Slot> {
        Some(self.0.queries.as_ref()?.acquire().await)
    }

    fn limiter(&self, op: Op<'_>) -> Option<&Limiter> {
        match op.creates_tasks()? {
            true => self.0.creates.as_ref(),
            false => self.0.queries.as_ref(),
        }
    }

    fn request(&self, op: Op<'_>) -> Result<reqwest::RequestBuilder, Failure> {
        let endpoint = op.endpoint();
        let method = Method::from_bytes(endpoint.method().as_bytes())
            .map_err(|_| Failure::Unusable(format!("the method {:?}", endpoint.method())))?;
        Ok(self.0.settings.http.request(method, self.url(&endpoint)?))
    }

    /// `endpoint`'s URL on the base URL.
    fn url(&self, endpoint: &Endpoint) -> Result<Url, Failure> {
        let urls = || self.0.urls.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(url) = urls().get(endpoint) {
            return Ok(url.clone());
        }
        let url = self.base_url().join(endpoint.path()).map_err(|e| {
            Failure::Unusable(format!(
                "the base URL cannot take the path {:?}: {e}",
                endpoint.path()
            ))
        })?;
        urls().insert(endpoint.clone(), url.clone());
        Ok(url)
    }

    async fn attempt<T>(
        &self,
        op: Op<'_>,
        scope: Scope<'_>,
        attempt: u32,
        build: &impl Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
        reader: &Reader<impl Fn(&[u8]) -> Option<T>, impl Fn(Envelope) -> Result<T, String>>,
    ) -> Result<T, Failure> {
        let settings = &self.0.settings;
        // Waiting for a slot counts against the deadline; once sent, the request timeout does.
        let granted = scope
            .granted
            .and_then(|slot| slot.lock().ok().and_then(|mut slot| slot.take()));
        let _slot = match (granted, self.limiter(op), scope.deadline) {
            (Some(slot), ..) => Some(slot),
            (None, Some(limiter), Some(deadline)) => Some(
                tokio::time::timeout_at(deadline, limiter.acquire())
                    .await
                    .map_err(|_| Failure::NoSlot)?,
            ),
            (None, Some(limiter), None) => Some(limiter.acquire().await),
            (None, None, _) => None,
        };

        let span = tracing::info_span!(
            "apikley.call",
            operation = op.name(),
            task_id = scope.task_id.map(tracing::field::display),
            attempt,
            status = tracing::field::Empty,
            duration_ms = tracing::field::Empty,
        );
        async {
            let started = Instant::now();
            let mut request = build(self.request(op)?)
                .bearer_auth(settings.key.expose())
                .header(USER_AGENT, settings.user_agent.clone())
                .header(ACCEPT, HeaderValue::from_static("application/json"));
            let limit = settings
                .request_timeout
                .map(|t| t + scope.extra_time + op.allowance());
            let left = scope
                .deadline
                .map(|d| d.saturating_duration_since(Instant::now()));
            let timeout = match (limit, left) {
                (Some(limit), Some(left)) => Some(limit.min(left)),
                (limit, left) => limit.or(left),
            };
            if let Some(timeout) = timeout {
                request = request.timeout(timeout);
            }
            if let Some(on_send) = scope.on_send {
                on_send().await.map_err(Failure::Held)?;
            }
            let result = self.exchange(op, request, reader).await;
            let span = tracing::Span::current();
            span.record("duration_ms", started.elapsed().as_millis() as u64);
            match &result {
                Ok(_) => {
                    span.record("status", 200);
                    tracing::debug!("ok");
                }
                Err(failure) => {
                    if let Failure::Api { status, .. } | Failure::Undecodable { status, .. } =
                        failure
                    {
                        span.record("status", status.as_u16());
                    }
                    tracing::debug!(error = %failure, "failed");
                }
            }
            result
        }
        .instrument(span)
        .await
    }

    async fn exchange<T>(
        &self,
        op: Op<'_>,
        request: reqwest::RequestBuilder,
        reader: &Reader<impl Fn(&[u8]) -> Option<T>, impl Fn(Envelope) -> Result<T, String>>,
    ) -> Result<T, Failure> {
        let key = self.0.settings.key.expose();
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
        if status.is_success()
            && let Some(value) = (reader.fast)(&body)
        {
            return Ok(value);
        }
        let read = &reader.read;
        let envelope = Envelope::find(&body);
        // An answer that names a task means the task exists, whatever its code says: its id is
        // never thrown away (the task's own record tells how it went).
        if let (Op::CreateTask(_), Some(found)) = (op, &envelope)
            && (found.code.is_some_and(|c| c != 200) || !status.is_success())
            && found.task_id().is_some()
        {
            tracing::warn!(%status, code = ?found.code, "createTask answered with an error but named a task: following the task");
            return read(found.clone()).map_err(|reason| Failure::Undecodable {
                status,
                reason,
                snippet: snippet(&body, key),
                transient: false,
            });
        }
        let envelope = decode(status, retry_after, envelope, &body, key)?;
        read(envelope).map_err(|reason| Failure::Undecodable {
            status,
            reason: redact(&reason, key),
            snippet: snippet(&body, key),
            // A status answer without a record is read like a passing fault: a wait goes on.
            transient: op == Op::TaskDetail,
        })
    }
}

/// How a call reads its answer: `fast` for one of exactly the documented shape, else `read`
/// from the envelope the lenient reader found.
struct Reader<F, R> {
    fast: F,
    read: R,
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

/// Turns an answer into its envelope, or the failure it reports. Both error shapes (HTTP 200
/// with an error `code`, and an HTTP error status with or without the envelope) give the same
/// failure: the code comes from the body when it has one, else from the status. Only what is
/// shown (messages, snippets) has the key redacted, never what is decoded.
pub(crate) fn decode(
    status: StatusCode,
    retry_after: Option<Duration>,
    envelope: Option<Envelope>,
    body: &[u8],
    key: &str,
) -> Result<Envelope, Failure> {
    let api = |code: i64, message: Option<String>| Failure::Api {
        code: ApiCode::from_code(code),
        message: message.map(|m| redact(&m, key)),
        status,
        retry_after,
        snippet: snippet(body, key),
    };
    let Some(envelope) = envelope else {
        if !status.is_success() {
            return Err(api(status.as_u16().into(), None));
        }
        let reason = if body.len() > MAX_BODY {
            format!("the body is larger than {} MiB", MAX_BODY >> 20)
        } else {
            "not the API's JSON envelope".to_owned()
        };
        return Err(Failure::Undecodable {
            status,
            reason,
            snippet: snippet(body, key),
            transient: true,
        });
    };
    match envelope.code {
        Some(code) if code != 200 => Err(api(code, envelope.message)),
        _ if !status.is_success() => Err(api(status.as_u16().into(), envelope.message)),
        _ => Ok(envelope),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::Endpoint;

    const ENDPOINT: Endpoint = Endpoint::new("POST", "api/v1/jobs/createTask");
    const CREATE: Op<'static> = Op::CreateTask(&ENDPOINT);
    use crate::envelope::SNIPPET_CHARS;

    fn decode_body(status: StatusCode, body: &[u8], key: &str) -> Result<Envelope, Failure> {
        decode(status, None, Envelope::find(body), body, key)
    }

    fn api(result: Result<Envelope, Failure>) -> (ApiCode, Option<String>, StatusCode) {
        match result {
            Err(Failure::Api {
                code,
                message,
                status,
                ..
            }) => (code, message, status),
            other => panic!("expected an API error, got {other:?}"),
        }
    }

    #[test]
    fn success_yields_the_envelope() {
        let envelope = decode_body(
            StatusCode::OK,
            br#"{"code":200,"msg":"success","data":{"taskId":"t1"}}"#,
            "k",
        )
        .unwrap();
        assert_eq!(envelope.task_id().as_deref(), Some("t1"));
    }

    #[test]
    fn both_error_shapes_give_the_same_error() {
        let in_body = api(decode_body(
            StatusCode::OK,
            br#"{"code":402,"msg":"Insufficient credits","data":null}"#,
            "k",
        ));
        let as_status = api(decode_body(
            StatusCode::PAYMENT_REQUIRED,
            br#"{"code":402,"message":"Insufficient credits"}"#,
            "k",
        ));
        let bare = api(decode_body(
            StatusCode::PAYMENT_REQUIRED,
            b"<html>Payment Required</html>",
            "k",
        ));
        for e in [&in_body, &as_status, &bare] {
            assert_eq!(e.0, ApiCode::InsufficientCredits);
        }
        assert_eq!(in_body.1, as_status.1);
        assert_eq!(bare.1, None);
        assert_eq!(as_status.2, StatusCode::PAYMENT_REQUIRED);
    }

    #[test]
    fn unknown_codes_and_string_codes_are_typed() {
        assert_eq!(
            api(decode_body(
                StatusCode::OK,
                br#"{"code":499,"msg":"new"}"#,
                "k"
            ))
            .0,
            ApiCode::Unknown(499)
        );
        assert_eq!(
            api(decode_body(StatusCode::OK, br#"{"code":"433"}"#, "k")).0,
            ApiCode::SubKeyLimitExceeded
        );
    }

    #[test]
    fn a_success_status_with_a_strange_body_is_a_transient_fault_with_a_snippet() {
        let failure = decode_body(StatusCode::OK, b"<html>maintenance</html>", "k").unwrap_err();
        assert_eq!(failure.class(), Class::Transient);
        match failure {
            Failure::Undecodable {
                status, snippet, ..
            } => {
                assert_eq!(status, StatusCode::OK);
                assert_eq!(snippet, "<html>maintenance</html>");
            }
            other => panic!("{other:?}"),
        }
        let long = vec![b'x'; 10_000];
        match decode_body(StatusCode::OK, &long, "k") {
            Err(Failure::Undecodable { snippet, .. }) => assert_eq!(snippet.len(), SNIPPET_CHARS),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_key_is_redacted_from_messages_but_not_from_what_is_decoded() {
        let (_, message, _) = api(decode_body(
            StatusCode::UNAUTHORIZED,
            br#"{"code":401,"msg":"bad key sk-123"}"#,
            "sk-123",
        ));
        assert_eq!(message.as_deref(), Some("bad key [redacted]"));
        // A one-letter key occurs in the task id: the id is kept as sent.
        let envelope = decode_body(
            StatusCode::OK,
            br#"{"code":200,"data":{"taskId":"task_k1"}}"#,
            "k",
        )
        .unwrap();
        assert_eq!(envelope.task_id().as_deref(), Some("task_k1"));
    }

    #[test]
    fn a_create_that_may_have_worked_is_never_a_plain_error() {
        let failure = |code| Failure::Api {
            code: ApiCode::from_code(code),
            message: None,
            status: StatusCode::OK,
            retry_after: None,
            snippet: String::new(),
        };
        for code in [429, 433, 455] {
            assert!(
                failure(code).class().may_resend(CREATE.idempotent()),
                "{code}"
            );
        }
        for code in [400, 401, 402, 422, 500, 501, 505, 599] {
            assert!(
                !failure(code).class().may_resend(CREATE.idempotent()),
                "{code}"
            );
        }
        for code in [429, 455, 500, 502, 503] {
            assert!(
                failure(code)
                    .class()
                    .may_resend(Op::TaskDetail.idempotent()),
                "{code}"
            );
        }
        for code in [401, 404, 422] {
            assert!(
                !failure(code)
                    .class()
                    .may_resend(Op::TaskDetail.idempotent()),
                "{code}"
            );
        }
        for code in [500, 502, 599, 408] {
            assert!(
                failure(code).into_error(CREATE, None).is_outcome_unknown(),
                "{code}"
            );
        }
        assert!(
            matches!(failure(402).into_error(CREATE, None).api(), Some(e) if e.operation == "createTask")
        );
        let page = Failure::Undecodable {
            status: StatusCode::OK,
            reason: "not the API's JSON envelope".into(),
            snippet: "<html>".into(),
            transient: true,
        };
        let error = page.into_error(CREATE, None);
        assert!(error.is_outcome_unknown(), "{error:?}");
        assert_eq!(error.body_snippet(), Some("<html>"));
    }
}
