//! Any bytes, read as each kind of answer the SDK parses: an API envelope and the task id in
//! it, a task record, `resultJson`, a callback body and its signature, a result file's head.
//! None may panic, and what a record reads stays consistent with itself.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use apikley::callback::{CallbackEvent, CallbackVerifier, SignatureHeaders};
use apikley::{Envelope, TaskRecord, TaskResult};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Some(envelope) = Envelope::find(bytes) {
        let _ = envelope.task_id();
        if let Ok(record) = TaskRecord::from_json(&envelope.data) {
            let ended = record.has_ended();
            assert!(!record.state.is_final() || ended, "a final state is an end");
            let _ = record.generation_time();
            let _ = record.request::<serde_json::Value>();
            if let Some(text) = record.result_text() {
                let _ = TaskResult::parse(&text);
            }
        }
    }
    let text = String::from_utf8_lossy(bytes);
    if let Ok(result) = TaskResult::parse(&text) {
        assert!(result.urls.iter().all(|u| u.scheme().starts_with("http")));
    }
    let _ = CallbackEvent::parse(bytes);
    // The same bytes served as a result file.
    let _ = apikley::Content::sniff(bytes);

    // The first line as the signature headers, the rest as the body.
    let (head, body) = match bytes.iter().position(|b| *b == b'\n') {
        Some(at) => (&bytes[..at], &bytes[at + 1..]),
        None => (bytes, &[][..]),
    };
    let head = String::from_utf8_lossy(head);
    let (timestamp, signature) = head.split_once(' ').unwrap_or((&head, ""));
    let headers = SignatureHeaders {
        timestamp: Some(timestamp),
        signature: Some(signature),
    };
    if let Ok(verifier) = CallbackVerifier::new("fuzz-key") {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        if let Ok(verified) = verifier.verify_at(headers, body, now) {
            let _ = verified.event();
        }
    }
});
