//! The generated clients against httpmock on 127.0.0.1: exactly what the specs describe goes on
//! the wire, and the documented examples decode.

use std::sync::{Arc, Mutex};

use apikley_tests::{at, http_client, same_json, spec};
use httpmock::Method::{GET, POST};
use httpmock::MockServer;
use serde_json::{Value, json};

use apikley_raw::{credits, file_upload, task_detail};
use seedance_raw::types as seedance;

const KEY: &str = "test-key-0123456789";
const CREATE_TASK: &str = "/paths/~1api~1v1~1jobs~1createTask/post";

/// Records the JSON body of every request the mock matches.
#[derive(Clone, Default)]
struct Bodies(Arc<Mutex<Vec<Value>>>);

impl Bodies {
    fn matcher(&self) -> impl Fn(&httpmock::HttpMockRequest) -> bool + Send + Sync + 'static {
        let bodies = self.0.clone();
        move |request| {
            let body = serde_json::from_slice(request.body().as_ref()).unwrap_or(Value::Null);
            bodies.lock().expect("not poisoned").push(body);
            true
        }
    }

    fn taken(&self) -> Vec<Value> {
        std::mem::take(&mut *self.0.lock().expect("not poisoned"))
    }
}

fn seedance_client(server: &MockServer) -> seedance_raw::Client {
    seedance_raw::Client::new_with_client(&server.base_url(), http_client(KEY))
}

#[tokio::test]
async fn create_task_sends_the_spec_example_and_decodes_its_response() {
    let spec = spec("seedance-1.5-pro.json");
    let request_example = at(
        &spec,
        &format!("{CREATE_TASK}/requestBody/content/application~1json/example"),
    )
    .clone();
    let response_example = at(
        &spec,
        &format!("{CREATE_TASK}/responses/200/content/application~1json/example"),
    )
    .clone();

    let server = MockServer::start_async().await;
    let bodies = Bodies::default();
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/v1/jobs/createTask")
                .header("authorization", format!("Bearer {KEY}"))
                .header("content-type", "application/json")
                .is_true(bodies.matcher());
            then.status(200).json_body(response_example.clone());
        })
        .await;

    let body: seedance::BytedanceSeedance15ProBody =
        serde_json::from_value(request_example.clone())
            .expect("the spec's example is a valid body");
    let response = seedance_client(&server)
        .bytedance_seedance_1_5_pro()
        .body(body)
        .send()
        .await
        .expect("createTask succeeds")
        .into_inner();

    mock.assert_async().await;
    let sent = bodies.taken().remove(0);
    // The spec's own example is the expected body: a spec change moves both.
    assert_eq!(
        sent, request_example,
        "the wire body is the spec's example, field for field"
    );

    assert_eq!(response.code, Some(200));
    assert_eq!(response.msg.as_deref(), Some("success"));
    assert_eq!(
        response.data.and_then(|d| d.task_id).as_deref(),
        Some("task_bytedance_1765186743319")
    );
}

#[tokio::test]
async fn unset_optional_inputs_are_sent_with_the_spec_defaults() {
    let server = MockServer::start_async().await;
    let bodies = Bodies::default();
    server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/v1/jobs/createTask")
                .is_true(bodies.matcher());
            then.status(200)
                .json_body(json!({"code": 200, "msg": "success", "data": {"taskId": "t1"}}));
        })
        .await;

    let input = seedance::BytedanceSeedance15ProBodyInput::builder()
        .prompt("A serene beach at sunset")
        .aspect_ratio(seedance::BytedanceSeedance15ProBodyInputAspectRatio::X169);
    let body = seedance::BytedanceSeedance15ProBody::builder()
        .model(seedance::BytedanceSeedance15ProBodyModel::BytedanceSeedance15Pro)
        .input(Some(input.try_into().expect("a complete input")));
    seedance_client(&server)
        .bytedance_seedance_1_5_pro()
        .body(body)
        .send()
        .await
        .expect("createTask succeeds");

    // Every input the spec gives a default is sent with it.
    let spec = spec("seedance-1.5-pro.json");
    let inputs = at(
        &spec,
        &format!(
            "{CREATE_TASK}/requestBody/content/application~1json/schema/properties/input/properties"
        ),
    );
    let mut expected = serde_json::Map::new();
    expected.insert("prompt".into(), json!("A serene beach at sunset"));
    for (name, schema) in inputs.as_object().expect("inputs") {
        if let Some(default) = schema.get("default") {
            expected.insert(name.clone(), default.clone());
        }
    }
    expected.insert("aspect_ratio".into(), json!("16:9"));
    let sent = bodies.taken();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["model"], "bytedance/seedance-1.5-pro");
    assert!(
        same_json(&sent[0]["input"], &Value::Object(expected.clone())),
        "{} != {}",
        sent[0]["input"],
        Value::Object(expected)
    );
}

#[test]
fn prompts_outside_the_spec_bounds_cannot_be_built_or_decoded() {
    use seedance::BytedanceSeedance15ProBodyInputPrompt as Prompt;
    let short = Prompt::try_from("ab").expect_err("2 characters is too short");
    assert_eq!(short.to_string(), "shorter than 3 characters");
    let long = Prompt::try_from("x".repeat(2501)).expect_err("2501 characters is too long");
    assert_eq!(long.to_string(), "longer than 2500 characters");
    // Length counts characters, not bytes: 2500 three-byte characters fit.
    assert!(Prompt::try_from("海".repeat(2500)).is_ok());

    let body = json!({"model": "bytedance/seedance-1.5-pro", "input": {"prompt": "ab", "aspect_ratio": "1:1"}});
    let error =
        serde_json::from_value::<seedance::BytedanceSeedance15ProBody>(body).expect_err("invalid");
    assert!(
        error.to_string().contains("shorter than 3 characters"),
        "{error}"
    );
}

#[tokio::test]
async fn an_incomplete_body_never_reaches_the_network() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.any_request();
            then.status(200);
        })
        .await;
    // No `model`: the only field the spec requires at the top level.
    let error = seedance_client(&server)
        .bytedance_seedance_1_5_pro()
        .body(seedance::BytedanceSeedance15ProBody::builder())
        .send()
        .await
        .expect_err("an incomplete body is refused");
    assert!(
        matches!(&error, seedance_raw::Error::InvalidRequest(m) if m.contains("no value supplied for model")),
        "{error:?}"
    );
    assert_eq!(mock.calls_async().await, 0);
}

#[tokio::test]
async fn error_envelopes_keep_their_code_and_message() {
    let server = MockServer::start_async().await;
    let client = seedance_client(&server);
    let body = || {
        serde_json::from_value::<seedance::BytedanceSeedance15ProBody>(json!({
            "model": "bytedance/seedance-1.5-pro",
            "input": {"prompt": "A serene beach", "aspect_ratio": "1:1"}
        }))
        .expect("valid body")
    };

    // HTTP 200 carrying an error code the spec does not list (patch 01 opens the enum).
    let mut mock = server
        .mock_async(|when, then| {
            when.method(POST).path("/api/v1/jobs/createTask");
            then.status(200).json_body(
                json!({"code": 433, "msg": "Sub-key usage exceeds limit", "data": null}),
            );
        })
        .await;
    let response = client
        .bytedance_seedance_1_5_pro()
        .body(body())
        .send()
        .await
        .expect("decodes");
    assert_eq!(response.code, Some(433));
    assert_eq!(response.msg.as_deref(), Some("Sub-key usage exceeds limit"));
    assert_eq!(response.data, None);
    mock.delete_async().await;

    // HTTP 500 with the envelope: the message survives (patch 02 declares the body).
    mock = server
        .mock_async(|when, then| {
            when.method(POST).path("/api/v1/jobs/createTask");
            then.status(500)
                .json_body(json!({"code": 500, "message": "Server Error"}));
        })
        .await;
    match client
        .bytedance_seedance_1_5_pro()
        .body(body())
        .send()
        .await
    {
        Err(seedance_raw::Error::ErrorResponse(response)) => {
            assert_eq!(response.status(), 500);
            assert_eq!(response.code, Some(500));
            // `message` instead of `msg` is kept too (patch 03).
            assert_eq!(response.message.as_deref(), Some("Server Error"));
        }
        other => panic!("expected the typed 500 body, got {other:?}"),
    }
    mock.delete_async().await;
}

/// Every example of the task-detail document (waiting, queuing, generating, success, fail)
/// decodes, and re-encodes to the same JSON: no documented field is lost.
#[tokio::test]
async fn task_detail_examples_decode_for_every_state() {
    let spec = spec("common/get-task-detail.json");
    let examples = at(
        &spec,
        "/paths/~1api~1v1~1jobs~1recordInfo/get/responses/200/content/application~1json/examples",
    )
    .as_object()
    .expect("examples map");
    let states: Vec<&str> = examples.keys().map(String::as_str).collect();
    assert_eq!(
        states,
        ["waiting", "queuing", "generating", "success", "fail"]
    );

    let server = MockServer::start_async().await;
    let client = task_detail::Client::new_with_client(&server.base_url(), http_client(KEY));
    for (state, example) in examples {
        let body = at(example, "/value").clone();
        let mock = server
            .mock_async(|when, then| {
                when.method(GET)
                    .path("/api/v1/jobs/recordInfo")
                    .query_param("taskId", "task_12345678")
                    .header("authorization", format!("Bearer {KEY}"));
                then.status(200).json_body(body.clone());
            })
            .await;
        let response = client
            .get_task_detail()
            .task_id("task_12345678")
            .send()
            .await
            .unwrap_or_else(|e| panic!("{state}: {e}"))
            .into_inner();
        mock.assert_async().await;
        mock.delete_async().await;

        assert_eq!(
            serde_json::to_value(&response).expect("encodes"),
            body,
            "{state}"
        );
        let record = response.data.expect("data");
        assert_eq!(record.task_id, "task_12345678");
        assert_eq!(record.state.0, *state);
        match state.as_str() {
            "success" => {
                let result: Value =
                    serde_json::from_str(record.result_json.as_deref().expect("resultJson"))
                        .expect("JSON text");
                assert_eq!(
                    result["resultUrls"][0],
                    "https://example.com/generated-content.mp4"
                );
                assert_eq!(record.cost_time, Some(15000));
            }
            "fail" => {
                assert_eq!(record.fail_code.as_deref(), Some("422"));
                assert_eq!(
                    record.fail_msg.as_deref(),
                    Some("Invalid prompt: prompt contains prohibited content")
                );
                // The docs' prose example says `message`, not `msg`.
                assert_eq!(response.message.as_deref(), Some("success"));
            }
            _ => assert_eq!(record.complete_time, None, "{state}"),
        }
        // `param` is the original request, as JSON text.
        let param: Value =
            serde_json::from_str(record.param.as_deref().expect("param")).expect("JSON text");
        assert_eq!(param["model"], "bytedance/seedance-1.5-pro");
    }
}

#[test]
fn unlisted_states_and_codes_still_decode() {
    let record: task_detail::types::GetTaskDetailResponse = serde_json::from_value(json!({
        "code": 499,
        "msg": "something new",
        "data": {"taskId": "t", "state": "canceled", "someNewField": [1, 2]}
    }))
    .expect("an unknown state, code and field decode");
    assert_eq!(record.code, Some(499));
    assert_eq!(record.data.expect("data").state.0, "canceled");
}

#[test]
fn the_callback_example_decodes() {
    let spec = spec("common/get-task-detail.json");
    let example = at(&spec, "/components/schemas/TaskCallback/example").clone();
    let callback: task_detail::types::TaskCallback =
        serde_json::from_value(example.clone()).expect("callback example decodes");
    let encoded = serde_json::to_value(&callback).expect("encodes");
    assert!(same_json(&encoded, &example), "{encoded:#} != {example:#}");
    assert_eq!(callback.code, 200);
    assert_eq!(callback.data.consume_credits, Some(100.0));
    assert_eq!(callback.data.task_id, "e989621f54392584b05867f87b160672");
}

#[tokio::test]
async fn credits_example_decodes_including_fractions() {
    let spec = spec("common/common-api.json");
    let example = at(
        &spec,
        "/paths/~1api~1v1~1chat~1credit/get/responses/200/content/application~1json/example",
    )
    .clone();
    let server = MockServer::start_async().await;
    let client = credits::Client::new_with_client(&server.base_url(), http_client(KEY));
    for (body, expected) in [
        (example, 100.0),
        (json!({"code": 200, "msg": "success", "data": 12.5}), 12.5),
    ] {
        let mock = server
            .mock_async(|when, then| {
                when.method(GET)
                    .path("/api/v1/chat/credit")
                    .header("authorization", format!("Bearer {KEY}"));
                then.status(200).json_body(body.clone());
            })
            .await;
        let response = client
            .get_account_credits()
            .send()
            .await
            .expect("decodes")
            .into_inner();
        mock.assert_async().await;
        mock.delete_async().await;
        assert_eq!(response.code, Some(200));
        assert_eq!(response.data, Some(expected));
    }
}

#[tokio::test]
async fn uploads_send_the_documented_body_and_decode_both_outcomes() {
    let spec = spec("common/file-upload-api.json");
    let request = at(
        &spec,
        "/paths/~1api~1file-base64-upload/post/requestBody/content/application~1json/example",
    )
    .clone();
    let success = at(
        &spec,
        "/components/responses/Success/content/application~1json/example",
    )
    .clone();
    let invalid = at(
        &spec,
        "/components/responses/Error/content/application~1json/examples/invalid_format/value",
    )
    .clone();

    let server = MockServer::start_async().await;
    let client =
        file_upload::Client::new_with_client(&server.url("/file-upload"), http_client(KEY));
    let body: file_upload::types::Base64UploadRequest =
        serde_json::from_value(request.clone()).expect("example is a valid body");

    let mut mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/file-upload/api/file-base64-upload")
                .json_body(request.clone());
            then.status(200).json_body(success.clone());
        })
        .await;
    let uploaded = client
        .upload_file_base64()
        .body(body.clone())
        .send()
        .await
        .expect("decodes")
        .into_inner();
    mock.assert_async().await;
    mock.delete_async().await;
    let data = uploaded.data.expect("data");
    assert_eq!(data.file_size, 154832);
    assert_eq!(data.mime_type, "image/png");
    assert_eq!(data.uploaded_at.to_rfc3339(), "2025-01-01T12:00:00+00:00");

    mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/file-upload/api/file-base64-upload");
            then.status(400).json_body(invalid.clone());
        })
        .await;
    match client.upload_file_base64().body(body).send().await {
        Err(file_upload::Error::ErrorResponse(response)) => {
            assert_eq!(response.status(), 400);
            assert_eq!(response.code, Some(file_upload::types::StatusCode(400)));
            assert_eq!(
                response.msg.as_deref(),
                Some("Base64 decoding failed: Invalid Base64 format")
            );
        }
        other => panic!("expected the typed 400 body, got {other:?}"),
    }
    mock.delete_async().await;
}
