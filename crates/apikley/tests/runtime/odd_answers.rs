//! Answers no document lists, from a server that is someone else's: a created task's id and a
//! finished task's URLs survive them, a wait ends when the record says the task is over, and
//! nothing panics or grows without bound.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use apikley::{Client, ErrorKind, RetryPolicy, TaskState};
use serde_json::{Value, json};

use apikley_test_support::ExampleVideo;

use crate::support::{Reply, ScriptedServer, body, builder, client, raw_response};

/// A server answering createTask with `create` and every status query with `status`.
async fn serving(create: Reply, status: Value) -> ScriptedServer {
    let create = Arc::new(Mutex::new(Some(create)));
    ScriptedServer::start(move |seen, _| {
        if seen.target.starts_with("/api/v1/jobs/createTask") {
            return create
                .lock()
                .expect("not poisoned")
                .take()
                .unwrap_or(Reply::Drop);
        }
        Reply::ok(status.clone())
    })
    .await
}

fn raw(status: u16, body: &[u8]) -> Reply {
    Reply::Raw(raw_response(
        status,
        &[("content-length", body.len().to_string())],
        body,
    ))
}

fn success(data: Value) -> Value {
    json!({"code": 200, "msg": "success", "data": data})
}

/// Defect 4: the id of a created task is taken from any answer that carries it.
#[tokio::test]
async fn a_created_task_id_survives_odd_bytes_names_types_and_wrappings() {
    let answers: [(&[u8], &str); 9] = [
        (
            b"\xEF\xBB\xBF{\"code\":200,\"data\":{\"taskId\":\"t-bom\"}}",
            "t-bom",
        ),
        (
            b")]}',\n{\"code\":200,\"data\":{\"taskId\":\"t-xssi\"}}",
            "t-xssi",
        ),
        (
            b"{\"code\":200,\"data\":{\"taskId\":\"t-tail\"}}\n\0\0garbage",
            "t-tail",
        ),
        (br#"{"code":200,"data":{"task_id":"t-snake"}}"#, "t-snake"),
        (br#"{"code":"200","data":{"taskId":42}}"#, "42"),
        (
            br#"{"code":200,"data":{"data":{"taskId":"t-wrapped"}}}"#,
            "t-wrapped",
        ),
        (br#"{"code":200,"msg":"ok","taskId":"t-top"}"#, "t-top"),
        // An error code, but a task named: the task exists, and is followed.
        (
            br#"{"code":0,"msg":"queued","data":{"taskId":"t-code-0"}}"#,
            "t-code-0",
        ),
        (
            br#"{"code":500,"msg":"late","data":{"taskId":"t-500"}}"#,
            "t-500",
        ),
    ];
    for (answer, id) in answers {
        let server = serving(raw(200, answer), json!({})).await;
        let task = client(&server.url)
            .submit_body::<ExampleVideo>(&body())
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", String::from_utf8_lossy(answer)));
        assert_eq!(task.id().as_str(), id);
        assert_eq!(server.seen().len(), 1, "sent once");
    }
}

/// Defect 4: when no id can be found, the answer is kept (bounded) in `OutcomeUnknown`, and
/// nothing is resent.
#[tokio::test]
async fn an_answer_without_a_task_id_is_kept_in_outcome_unknown() {
    let long = format!("<html>{}</html>", "x".repeat(100_000));
    for (sent, answer) in [
        (200, br#"{"code":200,"data":{}}"#.to_vec()),
        (200, b"<html><body>Request accepted</body></html>".to_vec()),
        (200, long.into_bytes()),
        (502, b"<html><body>502 Bad Gateway</body></html>".to_vec()),
        (
            500,
            br#"{"code":500,"msg":"Server Error","data":null}"#.to_vec(),
        ),
    ] {
        let server = serving(raw(sent, &answer), json!({})).await;
        let error = client(&server.url)
            .submit_body::<ExampleVideo>(&body())
            .await
            .expect_err("no id");
        assert!(error.is_outcome_unknown(), "{error:?}");
        let snippet = error.body_snippet().expect("the answer's start");
        assert!(answer.starts_with(&snippet.as_bytes()[..20]), "{snippet}");
        assert!(snippet.chars().count() <= 512);
        assert_eq!(error.http_status(), Some(sent));
        assert!(error.to_string().contains("the answer starts:"), "{error}");
        assert_eq!(server.seen().len(), 1, "never resent");
    }
}

/// Defect 12: only what is shown is redacted; a one-letter key that occurs in the task id does
/// not turn a created task into "outcome unknown".
#[tokio::test]
async fn a_short_key_never_mangles_what_is_decoded() {
    let server = ScriptedServer::start(|seen, _| {
        assert_eq!(seen.header("authorization"), Some("Bearer k"));
        if seen.target.starts_with("/api/v1/jobs/createTask") {
            Reply::ok(json!({"code": 200, "msg": "ok", "data": {"taskId": "task_k_1"}}))
        } else {
            Reply::ok(crate::support::record("task_k_1", "success"))
        }
    })
    .await;
    let client = Client::builder()
        .api_key("k")
        .base_url(&server.url)
        .for_paused_clock()
        .build()
        .expect("client");
    let task = client
        .submit_body::<ExampleVideo>(&body())
        .await
        .expect("created");
    assert_eq!(task.id().as_str(), "task_k_1");
    let record = task.status().await.expect("status");
    assert_eq!(record.id.as_str(), "task_k_1");
    assert_eq!(record.model.as_deref(), Some("example/video"));
}

/// Defect 3: auxiliary fields of any shape never hide a finished task's URLs, in `status`,
/// `wait` and `download_task` alike.
#[tokio::test(start_paused = true)]
async fn a_finished_task_yields_its_urls_whatever_else_the_record_holds() {
    let odd_records = [
        json!({"taskId": "t", "state": "success", "param": null, "failCode": null, "failMsg": null,
               "resultJson": "{\"resultUrls\":[\"http://127.0.0.1:9/v.mp4\"]}", "createTime": "x"}),
        json!({"taskId": "t", "state": "success", "model": 7, "param": {"model": "m"},
               "resultJson": {"resultUrls": ["http://127.0.0.1:9/v.mp4"]}, "progress": "done"}),
        json!({"taskId": "t", "state": "success", "costTime": [1], "completeTime": {"ms": 1},
               "resultJson": "{\"resultUrls\":\"http://127.0.0.1:9/v.mp4\",\"firstFrameUrl\":null}"}),
        json!({"taskId": "t", "state": "success", "updateTime": 1.5,
               "resultJson": "{\"resultUrls\":[{\"url\":\"http://127.0.0.1:9/v.mp4\"}],\"extra\":{}}"}),
    ];
    for data in odd_records {
        let server = serving(Reply::Drop, success(data.clone())).await;
        let client = client(&server.url);
        let record = client.task("t").status().await.expect("status");
        let urls = |r: &apikley::TaskRecord| {
            r.result
                .as_ref()
                .map(|r| r.urls.iter().map(|u| u.to_string()).collect::<Vec<_>>())
        };
        assert_eq!(
            urls(&record),
            Some(vec!["http://127.0.0.1:9/v.mp4".to_owned()]),
            "{data}"
        );
        let done = client.task("t").wait().await.expect("wait");
        assert_eq!(done.urls()[0].as_str(), "http://127.0.0.1:9/v.mp4");
        // The download goes to the URL (where nothing listens), proving the record was read.
        let dir = tempfile::tempdir().expect("temp dir");
        let error = client
            .download_task("t", dir.path().join("v.mp4"))
            .max_failures(1)
            .await
            .expect_err("nothing listens on port 9");
        assert!(
            error.kind() == ErrorKind::Download && error.url() == Some("http://127.0.0.1:9/v.mp4"),
            "{error}"
        );
    }
}

/// Defect 3: when not even the URLs can be read, the error carries `resultJson` as sent.
#[tokio::test(start_paused = true)]
async fn an_unreadable_result_is_shown_as_sent() {
    let text = "{\"resultUrls\":[\"cdn.example/v.mp4 (signed)\"]}";
    let server = serving(
        Reply::Drop,
        success(json!({"taskId": "t", "state": "success", "resultJson": text})),
    )
    .await;
    let error = client(&server.url)
        .task("t")
        .wait()
        .await
        .expect_err("no URL");
    assert_eq!(error.kind(), ErrorKind::ResultUnusable, "{error:?}");
    assert_eq!(error.task_id().map(|t| t.as_str()), Some("t"));
    assert_eq!(error.result_text(), Some(text));
    assert!(
        error.to_string().contains("none with a usable URL"),
        "{error}"
    );
    assert!(error.to_string().contains("cdn.example/v.mp4 (signed)"));
    assert!(!error.is_retryable());
}

/// Defect 7: a success without files is a clear, non-retryable error with the task id, and
/// nothing is fetched from the API's base URL.
#[tokio::test(start_paused = true)]
async fn a_success_without_files_downloads_nothing() {
    let server = serving(
        Reply::Drop,
        success(json!({"taskId": "t", "state": "success", "resultJson": "{\"resultUrls\":[]}"})),
    )
    .await;
    let client = client(&server.url);
    let done = client.task("t").wait().await.expect("the task succeeded");
    assert!(done.urls().is_empty());
    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("v.mp4");
    let errors = [
        done.download(&target).await.expect_err("no file"),
        client
            .download_task("t", &target)
            .await
            .expect_err("no file"),
    ];
    for error in errors {
        assert!(
            error.kind() == ErrorKind::ResultUnusable
                && error.task_id().map(|t| t.as_str()) == Some("t")
                && error.to_string().contains("names no file"),
            "{error:?}"
        );
        assert!(!error.is_retryable());
    }
    assert!(!target.exists());
    assert!(
        server
            .seen()
            .iter()
            .all(|s| s.target.starts_with("/api/v1/jobs/recordInfo")),
        "only status queries were made"
    );
}

/// Defect 6: an unknown state with a sign of its end ends the wait at once, with what the
/// record says; one with no such sign is polled until the deadline.
#[tokio::test(start_paused = true)]
async fn unknown_states_end_the_wait_only_when_the_record_says_it_is_over() {
    let ended = [
        (json!({"taskId": "t", "state": "canceled"}), None),
        (
            json!({"taskId": "t", "state": "FAILED", "failMsg": "quota"}),
            Some("quota"),
        ),
        (
            json!({"taskId": "t", "state": "archived", "failCode": "499", "failMsg": "stopped"}),
            Some("stopped"),
        ),
        (
            json!({"taskId": "t", "state": "expired", "completeTime": 1_700_000_000_000_i64}),
            None,
        ),
    ];
    for (data, message) in ended {
        let server = serving(Reply::Drop, success(data.clone())).await;
        let started = tokio::time::Instant::now();
        let error = client(&server.url)
            .task("t")
            .wait()
            .await
            .expect_err("over");
        assert_eq!(
            error.kind(),
            ErrorKind::TaskEndedUnrecognized,
            "{data}: {error:?}"
        );
        assert_eq!(error.task_id().map(|t| t.as_str()), Some("t"));
        assert_eq!(error.state(), data["state"].as_str());
        assert_eq!(error.fail_message(), message);
        assert_eq!(
            started.elapsed(),
            Duration::ZERO,
            "ended at the first query"
        );
        assert_eq!(server.seen().len(), 1);
        assert!(!error.is_retryable());
    }
    // An unknown end that names result files is a finished task: its files are what was paid
    // for, whatever the state is called (the raw state kept in the record).
    for state in ["completed", "succeeded", "SUCCEEDED"] {
        let server = serving(
            Reply::Drop,
            success(
                json!({"taskId": "t", "state": state, "completeTime": 1_765_000_000_000_i64,
                "resultJson": "{\"resultUrls\":[\"https://cdn.example/v.mp4\"]}"}),
            ),
        )
        .await;
        let done = client(&server.url)
            .task("t")
            .wait()
            .await
            .unwrap_or_else(|e| panic!("{state}: finished with files: {e}"));
        assert_eq!(done.urls()[0].as_str(), "https://cdn.example/v.mp4");
        assert_eq!(done.record().state, TaskState::Unknown(state.into()));
    }

    let server = serving(
        Reply::Drop,
        success(json!({"taskId": "t", "state": "processing"})),
    )
    .await;
    let error = client(&server.url)
        .task("t")
        .waiter()
        .deadline(Duration::from_secs(120))
        .await
        .expect_err("still running");
    assert!(
        error.kind() == ErrorKind::WaitTimedOut
            && matches!(error.last_state(), Some(TaskState::Unknown(s)) if s == "processing"),
        "{error:?}"
    );
    assert!(server.seen().len() > 5);
}

/// Defect 9: a page that is not the API's answer, with status 200, is a passing fault during a
/// wait, like a 5xx.
#[tokio::test(start_paused = true)]
async fn an_html_page_with_status_200_does_not_end_a_wait() {
    let server = ScriptedServer::start(|_, index| match index {
        0..=4 => raw(200, b"<html><body>Down for maintenance</body></html>"),
        _ => Reply::ok(crate::support::record("t", "success")),
    })
    .await;
    let client = builder(&server.url)
        .retry(RetryPolicy::default().with_max_attempts(2))
        .build()
        .expect("client");
    let done = client.task("t").wait().await.expect("the wait goes on");
    assert_eq!(done.urls().len(), 1);
    assert_eq!(server.seen().len(), 6);
}

/// Every endpoint, fed bodies no document lists: each call ends in a typed error or a
/// best-effort result, never a panic, and oversized bodies are not read whole.
#[tokio::test(start_paused = true)]
async fn malformed_truncated_oversized_and_mistyped_bodies_never_panic() {
    let bodies: Vec<(u16, Vec<u8>)> = [
        (200, b"".to_vec()),
        (200, b"null".to_vec()),
        (200, b"[]".to_vec()),
        (200, b"{".to_vec()),
        (
            200,
            br#"{"code":200,"data":{"taskId":"t","state":"succ"#.to_vec(),
        ),
        (200, br#"{"code":"abc","data":1}"#.to_vec()),
        (200, br#"{"code":1e400}"#.to_vec()),
        (200, br#"{"code":-1,"msg":{"nested":true}}"#.to_vec()),
        (200, br#"{"code":299,"data":[]}"#.to_vec()),
        (200, br#"{"code":200,"data":[]}"#.to_vec()),
        (200, br#"{"code":200,"data":"text"}"#.to_vec()),
        (
            200,
            br#"{"code":200,"data":{"taskId":null,"state":null}}"#.to_vec(),
        ),
        (
            200,
            br#"{"code":200,"data":{"taskId":"t","state":"","resultJson":7}}"#.to_vec(),
        ),
        (
            200,
            br#"{"code":200,"data":{"taskId":"t","state":"success","resultJson":"\"\\\"\""}}"#
                .to_vec(),
        ),
        (
            200,
            br#"{"code":200,"data":{"downloadUrl":5,"fileSize":"big"}}"#.to_vec(),
        ),
        (200, b"\xff\xfe\x00{\x00\"\x00".to_vec()),
        (200, "[".repeat(100_000).into_bytes()),
        (
            200,
            format!("{{\"code\":200,\"data\":\"{}\"}}", "x".repeat(6 << 20)).into_bytes(),
        ),
        (600, b"{}".to_vec()),
        (299, br#"{"code":200}"#.to_vec()),
        (404, b"<html>not found</html>".to_vec()),
    ]
    .into_iter()
    .collect();
    let current = Arc::new(Mutex::new((200u16, Vec::new())));
    let serving = current.clone();
    let server = ScriptedServer::start(move |_, _| {
        let (status, body) = serving.lock().expect("not poisoned").clone();
        raw(status, &body)
    })
    .await;
    let client = builder(&server.url)
        .retry(RetryPolicy::none())
        .build()
        .expect("client");
    let dir = tempfile::tempdir().expect("temp dir");
    let image = dir.path().join("in.png");
    std::fs::write(&image, b"\x89PNG\r\n\x1a\n0000").expect("writes");
    let url = apikley::Url::parse("https://example.com/a.png").expect("URL");
    for (status, body) in &bodies {
        *current.lock().expect("not poisoned") = (*status, body.clone());
        let options = apikley::UploadOptions::default();
        let results: Vec<Result<(), apikley::Error>> = vec![
            client
                .submit_body::<ExampleVideo>(&crate::support::body())
                .await
                .map(drop),
            client.task("t").status().await.map(drop),
            client.credits().await.map(drop),
            client.upload_file(&image).await.map(drop),
            client
                .upload_bytes(b"abc", "a.txt", &options)
                .await
                .map(drop),
            client.upload_from_url(&url, &options).await.map(drop),
        ];
        for result in results {
            if let Err(error) = result {
                // Every error has words, and never an unbounded quote of the body.
                let shown = error.to_string();
                assert!(!shown.is_empty());
                let start: String = shown.chars().take(200).collect();
                assert!(shown.len() < 4096, "{} bytes: {start}", shown.len());
            }
        }
    }
}

/// A task that ended in a state this SDK does not know, naming its files, can still be
/// downloaded by id.
#[tokio::test(start_paused = true)]
async fn the_files_of_an_unknown_end_download_by_id() {
    let server = serving(
        Reply::Drop,
        success(json!({"taskId": "t", "state": "completed",
            "resultJson": "{\"resultUrls\":[\"http://127.0.0.1:9/v.mp4\"]}"})),
    )
    .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let error = client(&server.url)
        .download_task("t", dir.path().join("v.mp4"))
        .max_failures(1)
        .await
        .expect_err("nothing listens on port 9");
    assert!(
        error.kind() == ErrorKind::Download && error.url() == Some("http://127.0.0.1:9/v.mp4"),
        "{error}"
    );
}

/// Without a request timeout, a status query that never answers still ends at the wait's
/// deadline (plus the grace of the last query).
#[tokio::test(start_paused = true)]
async fn a_silent_server_cannot_hold_a_wait_past_its_deadline() {
    let server = ScriptedServer::start(|_, _| Reply::Stall).await;
    let started = tokio::time::Instant::now();
    let error = client(&server.url)
        .task("t")
        .waiter()
        .deadline(Duration::from_secs(60))
        .await
        .expect_err("no answer");
    assert_eq!(error.kind(), ErrorKind::WaitTimedOut, "{error:?}");
    assert!(
        started.elapsed() <= Duration::from_secs(70),
        "{:?}",
        started.elapsed()
    );
}

/// A record about another task (a confused proxy or cache) is a bad answer, retried like a 5xx
/// and never used: its files must not be saved as this task's.
#[tokio::test(start_paused = true)]
async fn a_record_about_another_task_is_never_used() {
    let server = ScriptedServer::start(|_, index| match index {
        0..=5 => Reply::ok(crate::support::record("someone-elses", "success")),
        _ => Reply::ok(crate::support::record("t", "success")),
    })
    .await;
    let client = builder(&server.url)
        .retry(RetryPolicy::default().with_max_attempts(2))
        .build()
        .expect("client");
    let error = client
        .task("t")
        .status()
        .await
        .expect_err("not this task's");
    assert!(
        error.kind() == ErrorKind::Undecodable
            && error
                .to_string()
                .contains("about task someone-elses, not t"),
        "{error:?}"
    );
    assert!(error.is_retryable());
    assert_eq!(server.seen().len(), 2, "retried like a 5xx");
    // A wait goes on past such answers and ends with its own task's record.
    let done = client.task("t").wait().await.expect("its own record comes");
    assert_eq!(done.id().as_str(), "t");
    assert_eq!(done.record().id.as_str(), "t");
    assert_eq!(server.seen().len(), 7);
}
