//! The axum callback extractor over real HTTP on 127.0.0.1.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use apikley::callback::axum::SignedCallback;
use apikley::callback::{CallbackEvent, CallbackVerifier, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::json;

const KEY: &str = "webhook-key";
const LIMIT: usize = 64 * 1024;

struct Receiver {
    url: String,
    events: Arc<Mutex<Vec<CallbackEvent>>>,
}

async fn receiver() -> Receiver {
    let events = Arc::new(Mutex::new(Vec::new()));
    let log = events.clone();
    let verifier = CallbackVerifier::new(KEY).expect("key").body_limit(LIMIT);
    let app = Router::new()
        .route(
            "/callback",
            post(move |SignedCallback(event): SignedCallback| async move {
                log.lock().expect("not poisoned").push(event);
                StatusCode::NO_CONTENT
            }),
        )
        .with_state(verifier);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "http://{}/callback",
        listener.local_addr().expect("address")
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    Receiver { url, events }
}

fn body(id_field: &str) -> String {
    json!({
        "code": 200,
        "msg": "Playground task completed successfully.",
        "data": {
            id_field: "task_abc",
            "state": "success",
            "resultJson": "{\"resultUrls\":[\"https://cdn.example/v.mp4\"]}",
            "consumeCredits": 100,
            "remainedCredits": 2510330
        }
    })
    .to_string()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

async fn post_signed(
    url: &str,
    body: String,
    timestamp: u64,
    signature: Option<String>,
) -> StatusCode {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header(TIMESTAMP_HEADER, timestamp.to_string());
    if let Some(signature) = signature {
        request = request.header(SIGNATURE_HEADER, signature);
    }
    request.body(body).send().await.expect("answered").status()
}

#[tokio::test]
async fn a_signed_callback_is_accepted_and_every_bad_one_refused() {
    let receiver = receiver().await;
    let signer = CallbackVerifier::new(KEY).expect("key");
    let other = CallbackVerifier::new("another-key").expect("key");
    let t = now();
    let sig = |verifier: &CallbackVerifier, at: u64| Some(verifier.sign("task_abc", at));

    let cases = [
        (
            "valid",
            body("taskId"),
            t,
            sig(&signer, t),
            StatusCode::NO_CONTENT,
        ),
        (
            "snake-case task id",
            body("task_id"),
            t,
            sig(&signer, t),
            StatusCode::NO_CONTENT,
        ),
        (
            "wrong key",
            body("taskId"),
            t,
            sig(&other, t),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "10 minutes old",
            body("taskId"),
            t - 600,
            sig(&signer, t - 600),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "missing signature",
            body("taskId"),
            t,
            None,
            StatusCode::UNAUTHORIZED,
        ),
        (
            "malformed JSON",
            "{\"code\":".to_owned(),
            t,
            sig(&signer, t),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (name, body, timestamp, signature, expected) in cases {
        assert_eq!(
            post_signed(&receiver.url, body, timestamp, signature).await,
            expected,
            "{name}"
        );
    }
    let events = receiver.events.lock().expect("not poisoned");
    assert_eq!(events.len(), 2);
    assert!(
        events
            .iter()
            .all(|e| e.record.id.as_str() == "task_abc" && e.is_success())
    );
    assert_eq!(events[0].consumed_credits, Some(100.0));
}

#[tokio::test]
async fn an_oversized_body_is_refused_without_being_read_whole() {
    let receiver = receiver().await;
    let t = now();
    let signature = CallbackVerifier::new(KEY).expect("key").sign("task_abc", t);

    // With a Content-Length, refused before reading.
    let huge = "x".repeat(10 * 1024 * 1024);
    let status = post_signed(&receiver.url, huge, t, Some(signature.clone())).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

    // Streamed without a length: reading stops at the limit.
    let produced = Arc::new(AtomicUsize::new(0));
    let counter = produced.clone();
    let chunks = futures_util::stream::iter((0..160).map(move |_| {
        counter.fetch_add(64 * 1024, Ordering::SeqCst);
        Ok::<_, std::io::Error>(vec![b'x'; 64 * 1024])
    }));
    let answer = reqwest::Client::new()
        .post(&receiver.url)
        .header(TIMESTAMP_HEADER, t.to_string())
        .header(SIGNATURE_HEADER, signature)
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await;
    // The server answers 413 and closes; the client may see the answer or the reset.
    if let Ok(response) = answer {
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
    assert!(
        produced.load(Ordering::SeqCst) < 10 * 1024 * 1024,
        "the whole 10 MiB was read: {}",
        produced.load(Ordering::SeqCst)
    );
    assert!(receiver.events.lock().expect("not poisoned").is_empty());
}
