//! Property tests of every parser of what the server sends: the envelope, the task record, its
//! `resultJson` and `param`, the callback body and the callback signature, and the judge of
//! downloaded bodies. No input panics;
//! what decodes reads back as what was written.

use std::time::{Duration, UNIX_EPOCH};

use apikley::callback::{CallbackEvent, CallbackVerifier, SignatureHeaders};
use apikley::{Content, Envelope, MediaType, TaskRecord, TaskResult, TaskState};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "\\PC{0,20}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map("[a-zA-Z]{1,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A record's fields, each with a value of any type.
fn any_record() -> impl Strategy<Value = Value> {
    const FIELDS: [&str; 12] = [
        "taskId",
        "state",
        "model",
        "param",
        "resultJson",
        "failCode",
        "failMsg",
        "costTime",
        "createTime",
        "updateTime",
        "completeTime",
        "progress",
    ];
    prop::collection::vec((prop::sample::select(&FIELDS[..]), any_json()), 0..12).prop_map(
        |pairs| Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()),
    )
}

fn https_url() -> impl Strategy<Value = String> {
    ("[a-z]{1,10}", "[a-z]{1,8}", "[A-Za-z0-9_-]{1,16}")
        .prop_map(|(host, tld, file)| format!("https://{host}.{tld}/files/{file}.mp4"))
}

fn state() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(&["waiting", "queuing", "generating", "success", "fail"][..])
            .prop_map(str::to_owned),
        "[a-z]{1,10}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn no_record_panics(data in any_record()) {
        if let Ok(record) = TaskRecord::from_json(&data) {
            let _ = record.has_ended();
            let _ = record.generation_time();
            let _ = record.request::<Value>();
            let _ = record.result_text();
            let _ = record.spec_exact();
        }
    }

    #[test]
    fn no_json_panics_any_parser(value in any_json()) {
        let text = value.to_string();
        let _ = TaskRecord::from_json(&value);
        let _ = TaskResult::parse(&text);
        let _ = Envelope::find(text.as_bytes()).map(|e| e.task_id());
        let _ = CallbackEvent::parse(text.as_bytes());
    }

    #[test]
    fn no_bytes_panic_any_parser(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = TaskResult::parse(&text);
        let _ = Envelope::find(&bytes).map(|e| e.task_id());
        let _ = CallbackEvent::parse(&bytes);
    }

    /// A record as the API writes it reads back field for field.
    #[test]
    fn a_record_reads_back_what_was_written(
        id in "[A-Za-z0-9_-]{1,40}",
        state in state(),
        model in "[a-z0-9./-]{1,30}",
        urls in prop::collection::vec(https_url(), 0..4),
        fail_code in "[0-9]{0,3}",
        fail_message in "\\PC{0,40}",
        created in 1_000_000_000_000_i64..4_000_000_000_000,
        took in 0_i64..10_000_000,
        prompt in "\\PC{0,60}",
    ) {
        let param = json!({"model": model, "input": {"prompt": prompt}});
        let data = json!({
            "taskId": id, "state": state, "model": model, "param": param.to_string(),
            "resultJson": json!({"resultUrls": urls}).to_string(),
            "failCode": fail_code, "failMsg": fail_message,
            "createTime": created, "completeTime": created + took,
        });
        let record = TaskRecord::from_json(&data).expect("an object");
        prop_assert_eq!(record.id.as_str(), id.as_str());
        prop_assert_eq!(record.state.as_str(), state.as_str());
        prop_assert_eq!(record.model.as_deref(), Some(model.as_str()));
        let read: Vec<String> = record.result.as_ref().map(|r| r.urls.iter().map(|u| u.to_string()).collect()).unwrap_or_default();
        prop_assert_eq!(read, urls);
        prop_assert_eq!(record.fail_code.as_deref(), Some(fail_code.as_str()).filter(|c| !c.is_empty()));
        prop_assert_eq!(record.fail_message.as_deref(), Some(fail_message.as_str()).filter(|m| !m.is_empty()));
        prop_assert_eq!(record.created_at.map(|t| t.timestamp_millis()), Some(created));
        prop_assert_eq!(record.generation_time(), Some(Duration::from_millis(took as u64)));
        prop_assert_eq!(record.request::<Value>().map(|r| r.ok()), Some(Some(param)));
        if state == "success" || state == "fail" {
            prop_assert!(record.has_ended());
        }
        if TaskState::parse(&state) == TaskState::Waiting {
            prop_assert!(!record.state.is_final());
        }
    }

    /// `resultJson` in any of the shapes seen reads back its URLs.
    #[test]
    fn result_json_reads_back_its_urls(
        urls in prop::collection::vec(https_url(), 1..4),
        frames in prop::collection::vec(https_url(), 0..2),
        as_objects in any::<bool>(),
        encoded_twice in any::<bool>(),
    ) {
        let list: Vec<Value> = urls
            .iter()
            .map(|u| if as_objects { json!({"url": u}) } else { json!(u) })
            .collect();
        let mut text = json!({"resultUrls": list, "lastFrameUrl": frames}).to_string();
        if encoded_twice {
            text = Value::from(text).to_string();
        }
        let result = TaskResult::parse(&text).expect("parses");
        let read: Vec<String> = result.urls.iter().map(|u| u.to_string()).collect();
        prop_assert_eq!(read, urls);
        let read: Vec<String> = result.last_frame_urls.iter().map(|u| u.to_string()).collect();
        prop_assert_eq!(read, frames);
    }

    /// A callback as Apikley posts it reads back; its signature verifies for exactly that task
    /// and time, and any change to it is refused.
    #[test]
    fn a_signed_callback_reads_back_and_verifies(
        id in "[A-Za-z0-9_-]{1,40}",
        key in "[ -~]{1,40}",
        timestamp in 1_000_000_000_u64..4_000_000_000,
        consumed in 0.0_f64..1e6,
        url in https_url(),
        flip in 0_usize..32,
    ) {
        let body = json!({"code": 200, "msg": "ok", "data": {
            "taskId": id, "state": "success", "consumeCredits": consumed,
            "resultJson": json!({"resultUrls": [url]}).to_string(),
        }})
        .to_string();
        let verifier = CallbackVerifier::new(key).expect("a key");
        let signature = verifier.sign(&id, timestamp);
        let timestamp_text = timestamp.to_string();
        let headers = SignatureHeaders { timestamp: Some(&timestamp_text), signature: Some(&signature) };
        let at = UNIX_EPOCH + Duration::from_secs(timestamp);
        let event = verifier.verify_at(headers, body.as_bytes(), at).expect("verifies").event().expect("reads");
        prop_assert_eq!(event.record.id.as_str(), id.as_str());
        prop_assert_eq!(event.consumed_credits, Some(consumed));
        let result = event.record.result.clone().expect("result");
        prop_assert_eq!(result.urls[0].as_str(), url.as_str());
        prop_assert!(event.is_success());

        let mut tampered = signature.clone().into_bytes();
        let i = flip % tampered.len();
        tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).expect("ASCII");
        let headers = SignatureHeaders { signature: Some(&tampered), ..headers };
        prop_assert!(verifier.verify_at(headers, body.as_bytes(), at).is_err());
    }

    #[test]
    fn no_headers_or_body_panic_the_signature_check(
        timestamp in "\\PC{0,20}",
        signature in "[ -~]{0,60}",
        body in prop::collection::vec(any::<u8>(), 0..200),
        now in 0_u64..8_000_000_000,
    ) {
        let headers = SignatureHeaders { timestamp: Some(&timestamp), signature: Some(&signature) };
        let verifier = CallbackVerifier::new("key").expect("a key");
        let _ = verifier.verify_at(headers, &body, UNIX_EPOCH + Duration::from_secs(now));
    }

    /// Any bytes a result link serves are judged without panicking; a body that reads as text
    /// (a page, an error) is never a result; a media file's signature wins whatever follows.
    #[test]
    fn any_body_is_judged_and_text_is_never_a_result(
        body in prop::collection::vec(any::<u8>(), 0..600),
        text in "[ -~\\n\\t]{0,600}",
        tail in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let _ = Content::sniff(&body);
        // Text that happens to start with a signature (`ID3…`, `OggS…`) is that format's.
        prop_assume!(MediaType::sniff(text.as_bytes()).is_none());
        let judged = Content::sniff(text.as_bytes());
        prop_assert!(judged.is_err(), "{text:?} taken for {judged:?}");
        let png = [&b"\x89PNG\r\n\x1a\n"[..], &tail].concat();
        prop_assert_eq!(Content::sniff(&png), Ok(Content::Media(MediaType::Png)));
    }
}
