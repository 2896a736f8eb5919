//! Uploads (streamed, Base64, URL) and credits, against servers on 127.0.0.1.

use apikley::{ErrorKind, FileRules, MediaType, UPLOAD_RETENTION, UploadOptions};
use base64::Engine as _;
use httpmock::Method::GET;
use httpmock::MockServer;
use serde_json::json;

use crate::support::{Reply, ScriptedServer, client};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";

fn uploaded(url: &str, size: usize, mime: &str) -> serde_json::Value {
    json!({
        "success": true,
        "code": 200,
        "msg": "File uploaded successfully",
        "data": {
            "fileName": "x.png",
            "filePath": "apikley-sdk/x.png",
            "downloadUrl": url,
            "fileSize": size,
            "mimeType": mime,
            "uploadedAt": "2025-01-01T12:00:00.000Z"
        }
    })
}

fn png(size: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend((0..size - 8).map(|i| (i % 251) as u8));
    bytes
}

fn temp_file(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).expect("writes");
    path
}

#[tokio::test]
async fn a_file_is_streamed_as_the_documented_form() {
    let contents = png(300_000);
    let server = ScriptedServer::start(|seen, _| {
        assert_eq!(seen.target, "/file-upload/api/file-stream-upload");
        Reply::ok(uploaded(
            "https://files.example/x.png",
            seen.body.len(),
            "image/png",
        ))
    })
    .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = temp_file(&dir, "beach.png", &contents);

    let file = client(&server.url)
        .upload_file(&path)
        .await
        .expect("uploads");

    let seen = &server.seen()[0];
    assert_eq!(seen.method, "POST");
    assert!(
        seen.header("content-type")
            .is_some_and(|t| t.starts_with("multipart/form-data; boundary="))
    );
    assert!(
        seen.header("authorization")
            .is_some_and(|a| a.starts_with("Bearer "))
    );
    let body = String::from_utf8_lossy(&seen.body);
    assert!(
        body.contains("name=\"uploadPath\"\r\n\r\napikley-sdk\r\n"),
        "{}",
        &body[..300]
    );
    assert!(body.contains("name=\"fileName\""));
    assert!(
        body.contains("-beach.png\""),
        "the local name is kept behind a random prefix"
    );
    assert!(body.contains("Content-Type: image/png"));
    let at = seen
        .body
        .windows(contents.len())
        .position(|w| w == contents.as_slice());
    assert!(at.is_some(), "the file's bytes travel unchanged");

    assert_eq!(file.download_url.as_str(), "https://files.example/x.png");
    assert_eq!(file.mime_type, "image/png");
    assert_eq!(file.uploaded_at.to_rfc3339(), "2025-01-01T12:00:00+00:00");
    assert_eq!(
        (file.expires_at - file.uploaded_at)
            .to_std()
            .expect("positive"),
        UPLOAD_RETENTION
    );
}

#[tokio::test]
async fn rules_refuse_a_disguised_or_oversized_file_before_any_request() {
    let server = ScriptedServer::start(|_, _| Reply::ok(json!({}))).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let gif = temp_file(&dir, "photo.png", b"GIF89a\x01\x00\x01\x00\x80\x00\x00");
    let big = temp_file(&dir, "big.png", &png(11_000_000));
    let options = UploadOptions::default().with_rules(FileRules::new(
        10_000_000,
        &[MediaType::Jpeg, MediaType::Png, MediaType::Webp],
    ));
    let client = client(&server.url);
    for (path, reason) in [
        (
            &gif,
            "is a GIF file (named .png); accepted: JPEG, PNG, WebP",
        ),
        (
            &big,
            "is 11000000 bytes, more than the 10000000 bytes allowed",
        ),
    ] {
        let error = client
            .upload_file_with(path, &options)
            .await
            .expect_err("refused");
        assert_eq!(error.kind(), ErrorKind::File, "{error:?}");
        assert_eq!(error.path(), Some(path.as_path()));
        assert_eq!(error.task_id(), None);
        assert_eq!(error.to_string(), format!("{}: {reason}", path.display()));
    }
    assert!(server.seen().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn bytes_and_urls_are_uploaded_with_the_generated_bodies() {
    let server = ScriptedServer::start(|seen, _| {
        Reply::ok(uploaded(
            "https://files.example/y.png",
            seen.body.len(),
            "image/png",
        ))
    })
    .await;
    let client = client(&server.url);
    let options = UploadOptions::default()
        .with_upload_path("images/tests")
        .with_file_name("fixed.png");
    client
        .upload_bytes(PNG, "ignored.png", &options)
        .await
        .expect("uploads");
    let source = apikley::Url::parse("https://example.com/images/sample.jpg").expect("URL");
    client
        .upload_from_url(&source, &options)
        .await
        .expect("uploads");

    let seen = server.seen();
    assert_eq!(seen[0].target, "/file-upload/api/file-base64-upload");
    let body: serde_json::Value = serde_json::from_slice(&seen[0].body).expect("JSON");
    assert_eq!(body["uploadPath"], "images/tests");
    assert_eq!(body["fileName"], "fixed.png");
    let data = body["base64Data"].as_str().expect("text");
    let encoded = data
        .strip_prefix("data:image/png;base64,")
        .expect("a data URL");
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .expect("Base64"),
        PNG
    );

    assert_eq!(seen[1].target, "/file-upload/api/file-url-upload");
    let body: serde_json::Value = serde_json::from_slice(&seen[1].body).expect("JSON");
    assert_eq!(
        body,
        json!({"fileUrl": source.as_str(), "uploadPath": "images/tests", "fileName": "fixed.png"})
    );
}

#[tokio::test]
async fn an_upload_error_is_typed() {
    let server = ScriptedServer::start(|_, _| {
        Reply::Json(
            400,
            json!({"success": false, "code": 400, "msg": "Missing required parameter: uploadPath"}),
            vec![],
        )
    })
    .await;
    let error = client(&server.url)
        .upload_bytes(PNG, "a.png", &UploadOptions::default())
        .await
        .expect_err("refused");
    assert_eq!(
        error.api().map(|e| e.code),
        Some(apikley::ApiCode::BadRequest)
    );
    assert_eq!(
        error.api().and_then(|e| e.message.as_deref()),
        Some("Missing required parameter: uploadPath")
    );
}

#[tokio::test]
async fn credits_may_be_fractional() {
    let server = MockServer::start_async().await;
    for (data, expected) in [(json!(100), 100.0), (json!(12.5), 12.5)] {
        let mock = server
            .mock_async(|when, then| {
                when.method(GET).path("/api/v1/chat/credit");
                then.status(200)
                    .json_body(json!({"code": 200, "msg": "success", "data": data}));
            })
            .await;
        assert_eq!(
            client(&server.base_url()).credits().await.expect("credits"),
            expected
        );
        mock.delete_async().await;
    }
}

/// Defect 10: a URL upload gives the service's fetch (up to 30 s) time on top of the request
/// timeout, and one that went out is never sent again (each would make the service fetch again).
#[tokio::test(start_paused = true)]
async fn a_url_upload_is_given_time_and_never_resent_once_sent() {
    let url = apikley::Url::parse("https://example.com/a.png").expect("URL");
    let options = UploadOptions::default();

    let dropping = ScriptedServer::start(|_, _| Reply::Drop).await;
    let error = client(&dropping.url)
        .upload_from_url(&url, &options)
        .await
        .expect_err("no answer");
    assert_eq!(error.kind(), ErrorKind::Transport, "{error:?}");
    assert_eq!(
        dropping.seen().len(),
        1,
        "a URL upload that went out is not resent"
    );

    let silent = ScriptedServer::start(|_, _| Reply::Stall).await;
    let client = crate::support::builder(&silent.url)
        .request_timeout(Some(std::time::Duration::from_secs(30)))
        .build()
        .expect("client");
    let started = tokio::time::Instant::now();
    let error = client
        .upload_from_url(&url, &options)
        .await
        .expect_err("times out");
    assert_eq!(error.kind(), ErrorKind::Transport, "{error:?}");
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(60),
        "gave up after {:?}, while the service may still be fetching",
        started.elapsed()
    );
    assert_eq!(silent.seen().len(), 1);
}
