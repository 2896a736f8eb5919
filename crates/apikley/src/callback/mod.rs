//! Callbacks: what Apikley POSTs to `callBackUrl` when a task ends, and its signature check.
//!
//! When webhook signing is enabled for the account, each callback carries
//! `X-Webhook-Timestamp` (Unix seconds) and `X-Webhook-Signature`, the Base64 HMAC-SHA256 of
//! `taskId + "." + timestamp` under the account's webhook key. [`CallbackVerifier`] checks both
//! (in constant time, within a timestamp window that stops replays) and parses the body.
//!
//! **The signature does not cover the body.** A verified callback proves that Apikley sent a
//! callback for that task at that time, not what the body says: before acting on the result,
//! re-read the task with [`CallbackEvent::confirm`] (one status query).
//!
//! To wait on callbacks instead of polling, hand what the endpoint verified to a
//! [`CallbackInbox`] and give the inbox to the waits ([`Waiter::callbacks`](crate::Waiter::callbacks)):
//! they make no status query until their task's callback comes, then confirm it by id.
//!
//! ```
//! use std::time::Duration;
//! use apikley::callback::CallbackVerifier;
//!
//! # fn handle(headers: &http::HeaderMap, body: &[u8]) -> Result<(), apikley::callback::CallbackError> {
//! use apikley::callback::SignatureHeaders;
//! let verifier = CallbackVerifier::new("webhook-hmac-key")?.tolerance(Duration::from_secs(300));
//! // Any HTTP library's headers: a lookup by name.
//! let signed = SignatureHeaders::from_fn(|name| headers.get(name)?.to_str().ok());
//! let event = verifier.verify(signed, body)?.event()?;
//! println!("task {} ended: {}", event.record.id, event.record.state);
//! # Ok(()) }
//! ```

#[cfg(feature = "axum")]
pub mod axum;

pub use crate::inbox::{CallbackInbox, MIN_CALLBACK_FALLBACK};

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use serde_json::Value;

use crate::client::Client;
use crate::envelope;
use crate::record::{TaskId, TaskRecord};

/// The header with the signing time, in Unix seconds.
pub const TIMESTAMP_HEADER: &str = "x-webhook-timestamp";
/// The header with the Base64 HMAC-SHA256 signature.
pub const SIGNATURE_HEADER: &str = "x-webhook-signature";
/// The default window for timestamps, either side of now.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);
/// The default largest callback body accepted (callbacks are a few KB).
pub const DEFAULT_BODY_LIMIT: usize = 1 << 20;

/// Why a callback was refused. Each case has the HTTP status to answer the sender with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallbackError {
    /// A signature header is missing.
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    /// `X-Webhook-Timestamp` is not a number of seconds.
    #[error("invalid {TIMESTAMP_HEADER} header: {0:?}")]
    InvalidTimestamp(String),
    /// The timestamp is outside the accepted window: a replay, or a badly skewed clock.
    #[error(
        "stale callback: signed {age_seconds} s away from now, more than the {tolerance_seconds} s allowed"
    )]
    StaleTimestamp {
        /// How far the timestamp is from now, in seconds.
        age_seconds: u64,
        /// The window, in seconds.
        tolerance_seconds: u64,
    },
    /// The signature does not match.
    #[error("invalid signature")]
    BadSignature,
    /// The body is not JSON, or not a callback.
    #[error("malformed callback body: {0}")]
    MalformedBody(String),
    /// The body has neither `data.taskId` nor `data.task_id`.
    #[error("the callback body names no task (no data.taskId or data.task_id)")]
    MissingTaskId,
    /// The body is larger than the receiver accepts.
    #[error("callback body larger than {limit} bytes")]
    BodyTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The webhook key is empty.
    #[error("the webhook key is empty")]
    EmptyKey,
}

impl CallbackError {
    /// The HTTP status to answer the sender with: 400 for a malformed request, 401 for a
    /// failed authentication (missing header, wrong signature, stale timestamp), 413 for an
    /// oversized body, 500 for a receiver misconfiguration.
    pub fn status(&self) -> u16 {
        match self {
            CallbackError::MissingHeader(_)
            | CallbackError::StaleTimestamp { .. }
            | CallbackError::BadSignature => 401,
            CallbackError::InvalidTimestamp(_)
            | CallbackError::MalformedBody(_)
            | CallbackError::MissingTaskId => 400,
            CallbackError::BodyTooLarge { .. } => 413,
            CallbackError::EmptyKey => 500,
        }
    }
}

/// A callback's two signature headers as received ([`TIMESTAMP_HEADER`],
/// [`SIGNATURE_HEADER`]), `None` when absent or not text: the one thing the check needs from
/// whichever HTTP library received the request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignatureHeaders<'a> {
    /// `X-Webhook-Timestamp`.
    pub timestamp: Option<&'a str>,
    /// `X-Webhook-Signature`.
    pub signature: Option<&'a str>,
}

impl<'a> SignatureHeaders<'a> {
    /// Reads both with a lookup by header name, such as
    /// `|name| headers.get(name)?.to_str().ok()` on an `http::HeaderMap`.
    pub fn from_fn(get: impl Fn(&'static str) -> Option<&'a str>) -> Self {
        SignatureHeaders {
            timestamp: get(TIMESTAMP_HEADER),
            signature: get(SIGNATURE_HEADER),
        }
    }
}

/// Verifies a callback with the account's webhook key: both signature headers present, the
/// timestamp within `tolerance` of now, the signature right (constant-time). The task id is
/// read from `data.taskId`, or failing that `data.task_id`.
///
/// A shorthand for [`CallbackVerifier::new`]`(key)?.tolerance(tolerance).verify(headers, body)`.
pub fn verify_callback(
    headers: SignatureHeaders<'_>,
    body: &[u8],
    key: &str,
    tolerance: Duration,
) -> Result<VerifiedCallback, CallbackError> {
    CallbackVerifier::new(key)?
        .tolerance(tolerance)
        .verify(headers, body)
}

/// Checks callback signatures with the account's webhook key (`webhookHmacKey`).
#[derive(Clone)]
pub struct CallbackVerifier {
    key: SecretString,
    tolerance: Duration,
    body_limit: usize,
}

impl fmt::Debug for CallbackVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackVerifier")
            .field("key", &"[redacted]")
            .field("tolerance", &self.tolerance)
            .field("body_limit", &self.body_limit)
            .finish()
    }
}

impl CallbackVerifier {
    /// A verifier with the default 5-minute window.
    pub fn new(key: impl Into<String>) -> Result<Self, CallbackError> {
        let key: String = key.into();
        if key.is_empty() {
            return Err(CallbackError::EmptyKey);
        }
        Ok(CallbackVerifier {
            key: SecretString::from(key),
            tolerance: DEFAULT_TOLERANCE,
            body_limit: DEFAULT_BODY_LIMIT,
        })
    }

    /// The largest body accepted, in bytes (default 1 MiB).
    #[must_use]
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// How far from now a timestamp may be, either way.
    #[must_use]
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Verifies a callback against the current time.
    pub fn verify(
        &self,
        headers: SignatureHeaders<'_>,
        body: &[u8],
    ) -> Result<VerifiedCallback, CallbackError> {
        self.verify_at(headers, body, SystemTime::now())
    }

    /// Verifies a callback as of `now`.
    pub fn verify_at(
        &self,
        headers: SignatureHeaders<'_>,
        body: &[u8],
        now: SystemTime,
    ) -> Result<VerifiedCallback, CallbackError> {
        if body.len() > self.body_limit {
            return Err(CallbackError::BodyTooLarge {
                limit: self.body_limit,
            });
        }
        let timestamp = headers
            .timestamp
            .ok_or(CallbackError::MissingHeader(TIMESTAMP_HEADER))?;
        let signature = headers
            .signature
            .ok_or(CallbackError::MissingHeader(SIGNATURE_HEADER))?;
        let seconds: u64 = timestamp
            .trim()
            .parse()
            .map_err(|_| CallbackError::InvalidTimestamp(timestamp.chars().take(40).collect()))?;

        let now = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let age = now.abs_diff(seconds);
        if age > self.tolerance.as_secs() {
            return Err(CallbackError::StaleTimestamp {
                age_seconds: age,
                tolerance_seconds: self.tolerance.as_secs(),
            });
        }

        let payload: Value = serde_json::from_slice(body)
            .map_err(|e| CallbackError::MalformedBody(e.to_string()))?;
        let task_id = ["taskId", "task_id"]
            .iter()
            .find_map(|name| match payload.get("data")?.get(name)? {
                Value::String(id) => Some(id.clone()),
                Value::Number(id) => Some(id.to_string()),
                _ => None,
            })
            .filter(|id| !id.is_empty())
            .ok_or(CallbackError::MissingTaskId)?;

        let expected = BASE64
            .decode(signature.trim())
            .map_err(|_| CallbackError::BadSignature)?;
        let mut mac = self.mac();
        mac.update(signing_input(&task_id, timestamp.trim()).as_bytes());
        // Constant-time comparison.
        mac.verify_slice(&expected)
            .map_err(|_| CallbackError::BadSignature)?;

        Ok(VerifiedCallback {
            task_id: TaskId::from(task_id),
            signed_at: seconds,
            payload,
        })
    }

    /// The signature Apikley sends for `task_id` at `timestamp` (Unix seconds): for tests, and
    /// for local stand-ins of the service.
    pub fn sign(&self, task_id: &str, timestamp: u64) -> String {
        let mut mac = self.mac();
        mac.update(signing_input(task_id, &timestamp.to_string()).as_bytes());
        BASE64.encode(mac.finalize().into_bytes())
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
        match Hmac::<Sha256>::new_from_slice(self.key.expose_secret().as_bytes()) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC accepts keys of every length"),
        }
    }
}

fn signing_input(task_id: &str, timestamp: &str) -> String {
    format!("{task_id}.{timestamp}")
}

/// A callback whose signature checked out.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedCallback {
    /// The task the signature is for.
    pub task_id: TaskId,
    /// When it was signed, in Unix seconds.
    pub signed_at: u64,
    /// The body, as JSON.
    pub payload: Value,
}

impl VerifiedCallback {
    /// Reads the body as a Market task callback.
    pub fn event(&self) -> Result<CallbackEvent, CallbackError> {
        let mut payload = self.payload.clone();
        // Non-Market payloads name the id `task_id`; the signature was checked against it.
        if let Some(data) = payload.get_mut("data").and_then(|d| d.as_object_mut())
            && !data.contains_key("taskId")
        {
            data.insert("taskId".into(), self.task_id.as_str().into());
        }
        CallbackEvent::from_json(payload)
    }
}

/// What Apikley POSTs to `callBackUrl` when a task ends: the task record, as Get Task Details
/// reports it, and the credits used and left. Read as leniently as a status answer: only the
/// task id is required.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CallbackEvent {
    /// 200 when the task succeeded, 501 when generation failed (`None` when absent).
    pub code: Option<i64>,
    /// The message, if any.
    pub message: Option<String>,
    /// The task, parsed like a status query's answer (result URLs, original request, times).
    pub record: TaskRecord,
    /// Credits the task consumed.
    pub consumed_credits: Option<f64>,
    /// Credits left on the account.
    pub remaining_credits: Option<f64>,
    /// The payload as sent.
    pub json: Value,
}

impl CallbackEvent {
    /// Parses a callback body without checking any signature (for accounts without webhook
    /// signing). Confirm the result with [`confirm`](Self::confirm) before trusting it.
    pub fn parse(body: &[u8]) -> Result<Self, CallbackError> {
        let payload = serde_json::from_slice(body)
            .map_err(|e| CallbackError::MalformedBody(e.to_string()))?;
        Self::from_json(payload)
    }

    fn from_json(payload: Value) -> Result<Self, CallbackError> {
        if !payload.is_object() {
            return Err(CallbackError::MalformedBody(
                "the body is not a JSON object".into(),
            ));
        }
        let data = payload.get("data").unwrap_or(&Value::Null);
        let record =
            TaskRecord::from_json(data).map_err(|e| CallbackError::MalformedBody(e.to_string()))?;
        if record.id.as_str().is_empty() {
            return Err(CallbackError::MissingTaskId);
        }
        let credits = |name: &str| data.get(name).and_then(envelope::number);
        Ok(CallbackEvent {
            code: payload.get("code").and_then(envelope::integer),
            message: ["msg", "message"]
                .iter()
                .find_map(|name| payload.get(*name).and_then(envelope::text))
                .filter(|m| !m.trim().is_empty()),
            consumed_credits: credits("consumeCredits"),
            remaining_credits: credits("remainedCredits"),
            record,
            json: payload,
        })
    }

    /// The payload as the spec-exact generated type, when it fits it.
    pub fn spec_exact(&self) -> Option<apikley_raw::task_detail::types::TaskCallback> {
        serde_json::from_value(self.json.clone()).ok()
    }

    /// Whether the callback reports success (state `success`, and `code` 200 when given).
    pub fn is_success(&self) -> bool {
        self.record.state == crate::TaskState::Success && self.code.is_none_or(|c| c == 200)
    }

    /// Re-reads the task from the status endpoint: the signature does not cover the body, so
    /// this is the record to act on.
    pub async fn confirm(&self, client: &Client) -> Result<TaskRecord, crate::Error> {
        client.task(self.record.id.clone()).status().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderMap;

    /// Computed independently of this module with:
    /// `printf 'task_abc.1700000000' | openssl dgst -sha256 -hmac 'test-webhook-key' -binary | base64`
    const OPENSSL_SIGNATURE: &str = "GhE8DkomOIrKXhygvu4/xhHu+S13hfHc+IPkqIRjTTM=";

    fn body(task_field: &str) -> Vec<u8> {
        serde_json::json!({
            "code": 200,
            "msg": "Playground task completed successfully.",
            "data": {
                task_field: "task_abc",
                "state": "success",
                "model": "bytedance/seedance-1.5-pro",
                "resultJson": "{\"resultUrls\":[\"https://cdn.example/v.mp4\"]}",
                "consumeCredits": 100,
                "remainedCredits": 2510330.5,
                "createTime": 1699999940000_i64,
                "completeTime": 1700000000000_i64
            }
        })
        .to_string()
        .into_bytes()
    }

    fn headers(timestamp: &str, signature: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(TIMESTAMP_HEADER, timestamp.parse().unwrap());
        headers.insert(SIGNATURE_HEADER, signature.parse().unwrap());
        headers
    }

    /// What an HTTP library's headers give the check.
    fn signed(headers: &HeaderMap) -> SignatureHeaders<'_> {
        SignatureHeaders::from_fn(|name| headers.get(name)?.to_str().ok())
    }

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    fn verifier() -> CallbackVerifier {
        CallbackVerifier::new("test-webhook-key").unwrap()
    }

    #[test]
    fn an_independently_computed_signature_verifies() {
        assert_eq!(
            verifier().sign("task_abc", 1_700_000_000),
            OPENSSL_SIGNATURE
        );
        let verified = verifier()
            .verify_at(
                signed(&headers("1700000000", OPENSSL_SIGNATURE)),
                &body("taskId"),
                at(1_700_000_030),
            )
            .unwrap();
        assert_eq!(verified.task_id.as_str(), "task_abc");
        let event = verified.event().unwrap();
        assert!(event.is_success());
        assert_eq!(event.consumed_credits, Some(100.0));
        assert_eq!(event.remaining_credits, Some(2_510_330.5));
        assert_eq!(
            event.record.result.unwrap().urls[0].as_str(),
            "https://cdn.example/v.mp4"
        );
    }

    #[test]
    fn every_tampering_is_refused_with_its_own_error() {
        let good = headers("1700000000", OPENSSL_SIGNATURE);
        let now = at(1_700_000_030);
        let mut flipped = BASE64.decode(OPENSSL_SIGNATURE).unwrap();
        flipped[5] ^= 0x01;
        let cases: Vec<(HeaderMap, CallbackVerifier, SystemTime, CallbackError)> = vec![
            (
                headers("1700000000", &BASE64.encode(flipped)),
                verifier(),
                now,
                CallbackError::BadSignature,
            ),
            (
                good.clone(),
                CallbackVerifier::new("other-key").unwrap(),
                now,
                CallbackError::BadSignature,
            ),
            (
                good.clone(),
                verifier(),
                at(1_700_000_600),
                CallbackError::StaleTimestamp {
                    age_seconds: 600,
                    tolerance_seconds: 300,
                },
            ),
            (
                headers("1700000000", "%%%"),
                verifier(),
                now,
                CallbackError::BadSignature,
            ),
            (
                headers("soon", OPENSSL_SIGNATURE),
                verifier(),
                now,
                CallbackError::InvalidTimestamp("soon".into()),
            ),
        ];
        for (headers, verifier, now, expected) in cases {
            assert_eq!(
                verifier.verify_at(signed(&headers), &body("taskId"), now),
                Err(expected)
            );
        }
        let mut missing = good.clone();
        missing.remove(SIGNATURE_HEADER);
        assert_eq!(
            verifier().verify_at(signed(&missing), &body("taskId"), now),
            Err(CallbackError::MissingHeader(SIGNATURE_HEADER))
        );
        assert_eq!(
            verifier()
                .verify_at(signed(&good), b"{not json", now)
                .unwrap_err()
                .status(),
            400
        );
        assert_eq!(
            verifier().verify_at(signed(&good), br#"{"code":200,"data":{}}"#, now),
            Err(CallbackError::MissingTaskId)
        );
    }

    #[test]
    fn the_free_function_checks_against_the_current_time() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let signature = verifier().sign("task_abc", now);
        let fresh = headers(&now.to_string(), &signature);
        let verified = verify_callback(
            signed(&fresh),
            &body("taskId"),
            "test-webhook-key",
            DEFAULT_TOLERANCE,
        )
        .unwrap();
        assert_eq!(verified.signed_at, now);
        // The vector signed in 2023 is far outside any window today.
        let old = headers("1700000000", OPENSSL_SIGNATURE);
        assert!(matches!(
            verify_callback(
                signed(&old),
                &body("taskId"),
                "test-webhook-key",
                DEFAULT_TOLERANCE
            ),
            Err(CallbackError::StaleTimestamp { .. })
        ));
    }

    #[test]
    fn the_task_id_may_be_snake_case() {
        let verified = verifier()
            .verify_at(
                signed(&headers("1700000000", OPENSSL_SIGNATURE)),
                &body("task_id"),
                at(1_700_000_000),
            )
            .unwrap();
        assert_eq!(verified.task_id.as_str(), "task_abc");
        assert_eq!(verified.event().unwrap().record.id.as_str(), "task_abc");
        let unsigned = CallbackEvent::parse(&body("task_id")).unwrap();
        assert_eq!(unsigned.record.id.as_str(), "task_abc");
    }

    #[test]
    fn statuses_tell_the_sender_what_went_wrong() {
        assert_eq!(CallbackError::BadSignature.status(), 401);
        assert_eq!(CallbackError::MissingHeader(TIMESTAMP_HEADER).status(), 401);
        assert_eq!(
            CallbackError::StaleTimestamp {
                age_seconds: 1,
                tolerance_seconds: 0
            }
            .status(),
            401
        );
        assert_eq!(CallbackError::BodyTooLarge { limit: 1 }.status(), 413);
        assert!(!format!("{:?}", verifier()).contains("test-webhook-key"));
    }
}
