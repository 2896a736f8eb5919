//! A ready [axum] extractor for callbacks: verifies the signature, parses the body, and hands
//! the handler a typed [`CallbackEvent`]; every bad callback gets its own status. And
//! [`inbox_router`], an endpoint that hands callbacks to the waits on them.
//!
//! ```no_run
//! use apikley::callback::{CallbackVerifier, axum::SignedCallback};
//! use axum::{Router, http::StatusCode, routing::post};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let verifier = CallbackVerifier::new(std::env::var("APIKLEY_WEBHOOK_KEY")?)?;
//! let app = Router::new()
//!     .route(
//!         "/apikley/callback",
//!         post(|SignedCallback(event): SignedCallback| async move {
//!             println!("task {} ended: {}", event.record.id, event.record.state);
//!             StatusCode::NO_CONTENT
//!         }),
//!     )
//!     .with_state(verifier);
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use http_body_util::LengthLimitError;

use super::{
    CallbackError, CallbackEvent, CallbackInbox, CallbackVerifier, DEFAULT_BODY_LIMIT,
    SignatureHeaders,
};

/// A verified, parsed callback. Needs a [`CallbackVerifier`] in the router state
/// (`CallbackVerifier: FromRef<S>`); its [`body_limit`](CallbackVerifier::body_limit) bounds
/// what is read.
///
/// The signature covers the task id and the time, not the body: treat `event.record.id` as
/// authenticated, and re-read the task with [`CallbackEvent::confirm`] before acting on the
/// rest.
#[derive(Debug, Clone)]
pub struct SignedCallback(pub CallbackEvent);

/// Why [`SignedCallback`] refused a request: answered with the error's status and a
/// `{code, msg}` JSON body.
#[derive(Debug)]
pub struct CallbackRejection(pub CallbackError);

impl IntoResponse for CallbackRejection {
    fn into_response(self) -> Response {
        let code = self.0.status();
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::json!({"code": code, "msg": self.0.to_string()});
        (status, axum::Json(body)).into_response()
    }
}

impl<S> FromRequest<S> for SignedCallback
where
    S: Send + Sync,
    CallbackVerifier: FromRef<S>,
{
    type Rejection = CallbackRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let verifier = CallbackVerifier::from_ref(state);
        let refuse = |error: CallbackError| {
            tracing::warn!(%error, "callback refused");
            CallbackRejection(error)
        };
        let (parts, body) = request.into_parts();
        let bytes = read_body(body, verifier.body_limit).await.map_err(refuse)?;
        let event = verifier
            .verify(
                SignatureHeaders::from_fn(|name| parts.headers.get(name)?.to_str().ok()),
                &bytes,
            )
            .and_then(|verified| verified.event())
            .map_err(refuse)?;
        Ok(SignedCallback(event))
    }
}

/// Reads at most `limit` bytes, whatever the sender claims.
async fn read_body(body: axum::body::Body, limit: usize) -> Result<Bytes, CallbackError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let inner = e.into_inner();
        if inner.is::<LengthLimitError>() {
            CallbackError::BodyTooLarge { limit }
        } else {
            CallbackError::MalformedBody(format!("unreadable body: {inner}"))
        }
    })
}

/// A router that hands every callback POSTed to `path` to `inbox`, for the waits on it
/// ([`Waiter::callbacks`](crate::Waiter::callbacks)): with a `verifier`, only signed callbacks
/// (each bad one gets its own status, as with [`SignedCallback`]); without, any body that
/// parses ([`CallbackEvent::parse`], at most [`DEFAULT_BODY_LIMIT`] bytes). 204 once delivered.
///
/// ```no_run
/// use apikley::callback::{CallbackInbox, axum::inbox_router};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let inbox = CallbackInbox::new();
/// let app = inbox_router("/apikley/callback", inbox.clone(), None);
/// let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
/// tokio::spawn(async move { axum::serve(listener, app).await });
/// // … client.task(id).waiter().callbacks(inbox.clone()).await …
/// # Ok(()) }
/// ```
pub fn inbox_router(
    path: &str,
    inbox: CallbackInbox,
    verifier: Option<CallbackVerifier>,
) -> axum::Router {
    let deliver = move |request: Request| async move {
        let event = match &verifier {
            Some(verifier) => SignedCallback::from_request(request, verifier).await?.0,
            None => {
                let bytes = read_body(request.into_body(), DEFAULT_BODY_LIMIT)
                    .await
                    .map_err(CallbackRejection)?;
                CallbackEvent::parse(&bytes).map_err(|error| {
                    tracing::warn!(%error, "callback refused");
                    CallbackRejection(error)
                })?
            }
        };
        inbox.deliver(&event.record.id);
        Ok::<_, CallbackRejection>(StatusCode::NO_CONTENT)
    };
    axum::Router::new().route(path, axum::routing::post(deliver))
}
