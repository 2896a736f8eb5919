//! Every documented code, in both delivery shapes, becomes the same typed error.

use apikley::{ApiCode, ApiKey, Client, Error, ErrorKind, RetryPolicy, TaskState};
use httpmock::Method::{GET, POST};
use httpmock::MockServer;
use serde_json::json;

use apikley_test_support::ExampleVideo;

use crate::support::{KEY, body as example_body, builder, client, record};

const CODES: [i64; 11] = [400, 401, 402, 404, 422, 429, 433, 455, 500, 501, 505];

/// The three ways an error code can arrive: in an HTTP 200 envelope, as the HTTP status with
/// the envelope, and as the HTTP status with a body that is not JSON.
fn shapes(code: i64) -> [(u16, String); 3] {
    let envelope =
        json!({"code": code, "msg": format!("message for {code}"), "data": null}).to_string();
    [
        (200, envelope.clone()),
        (code as u16, envelope),
        (code as u16, "<html>error</html>".to_owned()),
    ]
}

async fn status_error(server: &MockServer, status: u16, body: &str) -> Error {
    let mock = server
        .mock_async(|when, then| {
            when.method(GET).path("/api/v1/jobs/recordInfo");
            then.status(status).body(body);
        })
        .await;
    let client = builder(&server.base_url())
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let error = client
        .task("task-1")
        .status()
        .await
        .expect_err("an error code");
    mock.delete_async().await;
    error
}

#[tokio::test]
async fn every_code_in_every_shape_gives_the_same_typed_error() {
    let server = MockServer::start_async().await;
    for code in CODES.into_iter().chain([499]) {
        let mut seen = Vec::new();
        for (status, body) in shapes(code) {
            let error = status_error(&server, status, &body).await;
            match error.api() {
                Some(e) => {
                    assert_eq!(e.code.code(), code, "HTTP {status} {body}");
                    assert_eq!(e.operation, "recordInfo");
                    assert_eq!(e.task_id.as_ref().map(|t| t.as_str()), Some("task-1"));
                    assert_eq!(e.status, status);
                    seen.push((e.code, e.message.clone()));
                }
                other => panic!("HTTP {status} {body}: expected an API error, got {other:?}"),
            }
        }
        let message = Some(format!("message for {code}"));
        let code = ApiCode::from_code(code);
        assert_eq!(
            seen,
            [(code, message.clone()), (code, message), (code, None)]
        );
    }
    assert_eq!(ApiCode::from_code(433), ApiCode::SubKeyLimitExceeded);
    assert_eq!(ApiCode::from_code(499), ApiCode::Unknown(499));
}

#[tokio::test]
async fn create_task_errors_are_typed_and_a_500_leaves_the_outcome_unknown() {
    let server = MockServer::start_async().await;
    let client = builder(&server.base_url())
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    for code in CODES.into_iter().chain([499]) {
        for (status, body) in shapes(code) {
            let mock = server
                .mock_async(|when, then| {
                    when.method(POST).path("/api/v1/jobs/createTask");
                    then.status(status).body(&body);
                })
                .await;
            let error = client
                .submit_body::<ExampleVideo>(&example_body())
                .await
                .expect_err("refused");
            mock.delete_async().await;
            match (code, error.api()) {
                (500, None) if error.is_outcome_unknown() => {
                    assert_eq!(error.http_status(), Some(status))
                }
                (_, Some(e)) => {
                    assert_eq!(e.code.code(), code);
                    assert_eq!(e.operation, "createTask");
                    assert_eq!(e.task_id, None);
                }
                (_, None) => panic!("{code} as HTTP {status}: {error:?}"),
            }
        }
    }
}

#[tokio::test]
async fn gateway_errors_on_create_leave_the_outcome_unknown() {
    let server = MockServer::start_async().await;
    let client = builder(&server.base_url())
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    for status in [502, 503, 504] {
        let mock = server
            .mock_async(|when, then| {
                when.method(POST).path("/api/v1/jobs/createTask");
                then.status(status).body("<html>Bad Gateway</html>");
            })
            .await;
        let error = client
            .submit_body::<ExampleVideo>(&example_body())
            .await
            .expect_err("refused");
        mock.delete_async().await;
        assert!(
            error.is_outcome_unknown() && error.http_status() == Some(status),
            "{status}: {error:?}"
        );
    }
}

#[tokio::test]
async fn message_is_read_from_msg_or_message() {
    let server = MockServer::start_async().await;
    for body in [
        json!({"code": 402, "msg": "Insufficient credits"}),
        json!({"code": 402, "message": "Insufficient credits"}),
    ] {
        let error = status_error(&server, 200, &body.to_string()).await;
        assert_eq!(
            error.api().and_then(|e| e.message.as_deref()),
            Some("Insufficient credits")
        );
        assert_eq!(
            error.api().map(|e| e.code),
            Some(ApiCode::InsufficientCredits)
        );
        assert!(!error.is_retryable());
    }
}

#[tokio::test]
async fn unknown_states_and_fields_do_not_break_decoding() {
    let server = MockServer::start_async().await;
    let mut answer = record("task-1", "canceled");
    answer["data"]["brandNewField"] = json!({"nested": [1, 2, 3]});
    answer["extra"] = json!(true);
    server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/v1/jobs/recordInfo")
                .query_param("taskId", "task-1");
            then.status(200).json_body(answer);
        })
        .await;
    let record = client(&server.base_url())
        .task("task-1")
        .status()
        .await
        .expect("decodes");
    assert_eq!(record.state, TaskState::Unknown("canceled".into()));
    assert!(!record.state.is_final());
}

#[tokio::test]
async fn a_success_status_with_a_foreign_body_is_undecodable_with_a_snippet() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/api/v1/jobs/recordInfo");
            then.status(200)
                .body("<html><body>Service temporarily unavailable</body></html>");
        })
        .await;
    let error = client(&server.base_url())
        .task("task-1")
        .status()
        .await
        .expect_err("a page");
    assert_eq!(error.kind(), ErrorKind::Undecodable, "{error:?}");
    assert_eq!(error.http_status(), Some(200));
    let snippet = error.body_snippet().unwrap_or_default();
    assert!(snippet.starts_with("<html><body>Service"), "{snippet}");
    assert_eq!(error.task_id().map(|t| t.as_str()), Some("task-1"));
}

#[test]
fn retryability_is_stated_for_each_error() {
    for (code, retryable) in [
        (429, true),
        (433, true),
        (455, true),
        (500, true),
        (502, true),
        (401, false),
        (402, false),
        (422, false),
        (505, false),
    ] {
        assert_eq!(ApiCode::from_code(code).is_transient(), retryable, "{code}");
    }
}

#[tokio::test]
async fn errors_never_show_the_key_even_when_the_server_echoes_it() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path("/api/v1/jobs/createTask");
            then.status(401)
                .json_body(json!({"code": 401, "msg": format!("key {KEY} is not valid")}));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/api/v1/jobs/recordInfo");
            then.status(200).body(format!("<html>{KEY}</html>"));
        })
        .await;
    let client = client(&server.base_url());
    let errors: Vec<Error> = vec![
        client
            .submit_body::<ExampleVideo>(&example_body())
            .await
            .expect_err("401"),
        client.task("t").status().await.expect_err("undecodable"),
        Client::builder()
            .api_key("")
            .build()
            .expect_err("empty key"),
        builder("http://example.com")
            .build()
            .expect_err("plain http"),
    ];
    for error in &errors {
        for shown in [format!("{error}"), format!("{error:?}")] {
            assert!(!shown.contains(KEY), "{shown}");
        }
    }
    assert!(
        errors[0].to_string().contains("[redacted]"),
        "{}",
        errors[0]
    );
    assert!(!format!("{:?}", ApiKey::new(KEY).expect("valid")).contains(KEY));
}

#[tokio::test]
async fn a_failed_record_before_sending_sends_nothing() {
    let server = MockServer::start_async().await;
    let create = server
        .mock_async(|when, then| {
            when.method(POST).path("/api/v1/jobs/createTask");
            then.status(200)
                .json_body(json!({"code": 200, "msg": "success", "data": {"taskId": "t-1"}}));
        })
        .await;
    let client = client(&server.base_url());
    let error = client
        .submit_body::<ExampleVideo>(&example_body())
        .record_sending(|| async { Err::<(), _>("the journal's disk is full") })
        .await
        .expect_err("held back");
    assert!(
        error.kind() == ErrorKind::NotSent
            && error.to_string().ends_with(": the journal's disk is full"),
        "{error:?}"
    );
    assert!(!error.is_retryable());
    assert_eq!(error.task_id(), None);
    assert_eq!(create.calls_async().await, 0);

    let task = client
        .submit_body::<ExampleVideo>(&example_body())
        .record_sending(|| async { Ok::<(), String>(()) })
        .await
        .expect("sent once recorded");
    assert_eq!(task.id().as_str(), "t-1");
    assert_eq!(create.calls_async().await, 1);
}
