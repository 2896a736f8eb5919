//! The Seedance request end to end against httpmock on 127.0.0.1: invalid requests never leave
//! the process, valid ones go out as the spec describes and come back as video URLs.

use std::time::Duration;

use httpmock::Method::POST;
use httpmock::MockServer;
use seedance::apikley::{Client, RateLimits, Violations};
use seedance::{AspectRatio, Resolution, Seedance15Pro, VideoRequest};
use serde_json::json;

#[path = "../../apikley/tests/runtime/support.rs"]
mod support;

use support::{Reply, ScriptedServer};

const KEY: &str = "sk-test-seedance";

fn client(server: &MockServer) -> Client {
    Client::builder()
        .api_key(KEY)
        .base_url(server.base_url())
        .for_paused_clock()
        .rate_limits(RateLimits::none())
        .build()
        .expect("client builds")
}

/// One generated case: a request and the fields its violations must name, in order.
struct Case {
    request: VideoRequest,
    expected: Vec<String>,
}

fn invalid_cases() -> Vec<Case> {
    let prompts: [(&str, String, bool); 5] = [
        ("valid", "A serene beach at sunset".into(), true),
        ("empty", String::new(), false),
        ("short", "ab".into(), false),
        ("long", "x".repeat(2501), false),
        ("long multi-byte", "海".repeat(2501), false),
    ];
    let ok = "https://example.com/a.png";
    let images: [(&str, Vec<&str>, Vec<usize>, bool); 6] = [
        ("none", vec![], vec![], true),
        ("three", vec![ok, ok, ok], vec![], false),
        ("not a url", vec!["not a url"], vec![0], true),
        ("ftp", vec![ok, "ftp://example.com/b.png"], vec![1], true),
        ("relative", vec!["/images/beach.png"], vec![0], true),
        (
            "three, one bad",
            vec![ok, "data:image/png;base64,AAAA", ok],
            vec![1],
            false,
        ),
    ];
    let callbacks: [Option<&str>; 4] = [
        None,
        Some("mailto:ops@example.com"),
        Some("http://"),
        Some("callbacks/seedance"),
    ];
    let mut cases = Vec::new();
    for (_, prompt, prompt_ok) in &prompts {
        for (_, urls, bad_urls, count_ok) in &images {
            for callback in callbacks {
                let mut request =
                    VideoRequest::new(prompt.clone()).aspect_ratio(AspectRatio::Landscape16x9);
                for url in urls {
                    request = request.image_url(*url);
                }
                let mut expected = Vec::new();
                if let Some(callback) = callback {
                    request = request.callback_url(callback);
                    expected.push("callBackUrl".to_owned());
                }
                if !prompt_ok {
                    expected.push("input.prompt".to_owned());
                }
                if !count_ok {
                    expected.push("input.input_urls".to_owned());
                }
                expected.extend(bad_urls.iter().map(|i| format!("input.input_urls[{i}]")));
                if !expected.is_empty() {
                    cases.push(Case { request, expected });
                }
            }
        }
    }
    cases
}

#[tokio::test]
async fn invalid_requests_list_every_violation_and_send_nothing() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.any_request();
            then.status(200);
        })
        .await;
    let client = client(&server);
    let cases = invalid_cases();
    assert!(cases.len() >= 50, "{} cases", cases.len());
    for case in cases {
        let fields = |violations: &Violations| -> Vec<String> {
            violations.fields().into_iter().map(str::to_owned).collect()
        };
        let validated = case.request.validate().expect_err("invalid");
        assert_eq!(fields(&validated), case.expected, "{validated}");
        let error = client
            .submit(case.request)
            .await
            .expect_err("an invalid request");
        assert_eq!(error.violations(), Some(&validated), "{error:?}");
        let message = error.to_string();
        for field in &case.expected {
            assert!(message.contains(field.as_str()), "{message}");
        }
    }
    assert_eq!(
        mock.calls_async().await,
        0,
        "an invalid request reached the network"
    );
}

#[test]
fn the_violation_message_names_field_rule_and_value() {
    let error = VideoRequest::new("ab")
        .image_url("https://example.com/1.png")
        .image_url("ftp://example.com/2.png")
        .image_url("https://example.com/3.png")
        .callback_url("callbacks/seedance")
        .validate()
        .expect_err("invalid");
    insta::assert_snapshot!(error.to_string(), @r#"
    4 problems
      - callBackUrl must be an absolute http(s) URL (got "callbacks/seedance")
      - input.prompt must be 3 to 2500 characters (got 2 characters: "ab")
      - input.input_urls accepts at most 2 items (got 3 items)
      - input.input_urls[1] must be an absolute http(s) URL (got "ftp://example.com/2.png")
    "#);
}

/// On the paused clock, a server on the test's own runtime (the runtime's scripted server): the
/// clock never jumps while a request is out.
#[tokio::test(start_paused = true)]
async fn submit_and_wait_sends_the_spec_body_and_returns_the_video_urls() {
    let server = ScriptedServer::start(|seen, _| {
        assert_eq!(seen.header("authorization"), Some(format!("Bearer {}", support::KEY).as_str()));
        if seen.target == "/api/v1/jobs/createTask" {
            assert_eq!(seen.method, "POST");
            let body: serde_json::Value = serde_json::from_slice(&seen.body).expect("JSON");
            // What was set, and the spec's default for every other input that has one.
            let mut input = serde_json::Map::new();
            for field in apikley::ModelSpec::of::<Seedance15Pro>().expect("spec").inputs() {
                if let Some(default) = field.default() {
                    input.insert(field.name().to_owned(), default.clone());
                }
            }
            input.extend(
                json!({
                    "prompt": "A serene beach at sunset",
                    "aspect_ratio": "16:9",
                    "resolution": "480p",
                    "input_urls": ["https://example.com/beach.png"]
                })
                .as_object()
                .cloned()
                .unwrap_or_default(),
            );
            assert_eq!(
                body,
                json!({
                    "model": "bytedance/seedance-1.5-pro",
                    "callBackUrl": "https://example.com/hooks/seedance",
                    "input": input
                })
            );
            return Reply::ok(json!({"code": 200, "msg": "success", "data": {"taskId": "task_bytedance_1"}}));
        }
        assert_eq!(seen.target, "/api/v1/jobs/recordInfo?taskId=task_bytedance_1");
        Reply::ok(json!({
            "code": 200,
            "msg": "success",
            "data": {
                "taskId": "task_bytedance_1",
                "model": "bytedance/seedance-1.5-pro",
                "state": "success",
                "param": "{\"model\":\"bytedance/seedance-1.5-pro\",\"input\":{\"prompt\":\"A serene beach at sunset\",\"aspect_ratio\":\"16:9\"}}",
                "resultJson": "{\"resultUrls\":[\"https://cdn.example.com/beach.mp4\"]}",
                "failCode": "",
                "failMsg": "",
                "costTime": 61000,
                "createTime": 1_765_186_743_319_i64,
                "completeTime": 1_765_186_804_319_i64,
                "updateTime": 1_765_186_804_319_i64
            }
        }))
    })
    .await;

    let request = VideoRequest::new("A serene beach at sunset")
        .aspect_ratio(AspectRatio::Landscape16x9)
        .resolution(Resolution::P480)
        .image_url("https://example.com/beach.png")
        .callback_url("https://example.com/hooks/seedance");
    let started = tokio::time::Instant::now();
    let video = support::client(&server.url)
        .submit_and_wait(request)
        .await
        .expect("the video is ready");
    assert_eq!(server.seen().len(), 2, "one create, one status query");
    assert_eq!(
        video.urls()[0].as_str(),
        "https://cdn.example.com/beach.mp4"
    );
    assert_eq!(
        video.record().generation_time(),
        Some(Duration::from_secs(61))
    );
    let original: seedance::raw::types::BytedanceSeedance15ProBody = video
        .record()
        .request()
        .expect("param")
        .expect("param decodes as the body");
    assert_eq!(
        original.input.map(|i| i.prompt.to_string()).as_deref(),
        Some("A serene beach at sunset")
    );
    // The model's prior (8 s at 480p: 63 s) stretches the first wait: half the time to 90% of the
    // earliest end a 3x faster service could make (18.9 s), plus up to 10% jitter, instead of
    // the documented 3 s.
    let first = started.elapsed();
    assert!(
        first >= Duration::from_millis(9_450) && first <= Duration::from_millis(10_400),
        "{first:?}"
    );
}

fn temp_image(dir: &std::path::Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("writes");
    path
}

fn png_bytes(size: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.resize(size, 7);
    bytes
}

#[tokio::test]
async fn a_local_image_is_uploaded_on_submit_and_its_url_sent() {
    let server = MockServer::start_async().await;
    let upload = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/file-upload/api/file-stream-upload")
                .header("authorization", format!("Bearer {KEY}"))
                .body_includes("name=\"uploadPath\"");
            then.status(200).json_body(json!({
                "success": true, "code": 200, "msg": "File uploaded successfully",
                "data": {
                    "fileName": "beach.png", "filePath": "apikley-sdk/beach.png",
                    "downloadUrl": "https://files.example.com/apikley-sdk/beach.png",
                    "fileSize": 2048, "mimeType": "image/png", "uploadedAt": "2025-01-01T12:00:00.000Z"
                }
            }));
        })
        .await;
    let create = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/v1/jobs/createTask")
                .json_body_includes(
                    json!({"input": {"input_urls": [
                        "https://files.example.com/apikley-sdk/beach.png",
                        "https://example.com/second.png"
                    ]}})
                    .to_string(),
                );
            then.status(200).json_body(
                json!({"code": 200, "msg": "success", "data": {"taskId": "task_with_image"}}),
            );
        })
        .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let image = temp_image(dir.path(), "beach.png", &png_bytes(2048));
    let request = VideoRequest::new("The beach comes alive")
        .image(image.as_path())
        .image("https://example.com/second.png");
    let task = client(&server).submit(request).await.expect("submitted");
    assert_eq!(task.id().as_str(), "task_with_image");
    upload.assert_async().await;
    create.assert_async().await;
}

#[tokio::test]
async fn disguised_and_oversized_images_are_refused_before_any_request() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.any_request();
            then.status(200);
        })
        .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let gif = temp_image(
        dir.path(),
        "photo.png",
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00",
    );
    let big = temp_image(dir.path(), "big.png", &png_bytes(11_000_000));
    let request = VideoRequest::new("A serene beach")
        .image(gif.as_path())
        .image(big.as_path());
    let error = client(&server).submit(request).await.expect_err("refused");
    let violations = error.violations().expect("invalid request");
    assert_eq!(
        violations.fields(),
        ["input.input_urls[0]", "input.input_urls[1]"]
    );
    let text = violations.to_string();
    assert!(
        text.contains("file is a GIF file (named .png); accepted: JPEG, PNG, WebP"),
        "{text}"
    );
    assert!(
        text.contains("file is 11000000 bytes, more than the 10000000 bytes allowed"),
        "{text}"
    );
    assert_eq!(mock.calls_async().await, 0);
}
