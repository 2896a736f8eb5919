//! Downloads: streamed through a temporary file, resumed or restarted after a cut, never left
//! half-written at the target, never over an existing file unless told to.

use std::future::IntoFuture;
use std::sync::{Arc, Mutex};

use apikley::{Content, DownloadProgress, ErrorKind, MediaType, Url};
use serde_json::json;

use crate::support::{Reply, ScriptedServer, Seen, client, raw_response};

fn video(size: usize) -> Vec<u8> {
    (0..size).map(|i| (i * 7 % 256) as u8).collect()
}

/// How the file server behaves on its `n`-th request.
#[derive(Clone, Copy)]
enum Behaviour {
    /// Send everything.
    Whole,
    /// Announce the whole length, send half, close.
    CutHalfway,
    /// Answer a range request with a range starting elsewhere (at 0).
    WrongRange,
    /// Answer a range request with 416.
    Unsatisfiable,
}

/// A file server on 127.0.0.1 following `script` (by request number), honouring `Range` when
/// `ranges` is set, with an ETag.
async fn file_server(
    file: Vec<u8>,
    ranges: bool,
    script: fn(usize) -> Behaviour,
) -> ScriptedServer {
    file_server_with(file, ranges, true, script).await
}

/// The same, sending an ETag only when `etag` is set.
async fn file_server_with(
    file: Vec<u8>,
    ranges: bool,
    etag: bool,
    script: fn(usize) -> Behaviour,
) -> ScriptedServer {
    ScriptedServer::start(move |seen: &Seen, index| {
        let behaviour = script(index);
        let range_start = seen
            .header("range")
            .and_then(|r| r.strip_prefix("bytes="))
            .and_then(|r| r.strip_suffix('-'))
            .and_then(|s| s.parse::<usize>().ok())
            .filter(|_| ranges);
        if range_start.is_some() && matches!(behaviour, Behaviour::Unsatisfiable) {
            let range = format!("bytes */{}", file.len());
            return Reply::Raw(raw_response(416, &[("content-range", range)], b""));
        }
        let (status, start) = match (range_start, behaviour) {
            (Some(_), Behaviour::WrongRange) => (206, 0),
            (Some(start), _) => (206, start),
            (None, _) => (200, 0),
        };
        let part = &file[start..];
        let mut headers = vec![
            ("content-type", "video/mp4".to_owned()),
            ("content-length", part.len().to_string()),
        ];
        if etag {
            headers.push(("etag", "\"v1\"".to_owned()));
        }
        if ranges {
            headers.push(("accept-ranges", "bytes".to_owned()));
        }
        if status == 206 {
            headers.push((
                "content-range",
                format!("bytes {start}-{}/{}", file.len() - 1, file.len()),
            ));
        }
        let sent = match behaviour {
            Behaviour::CutHalfway => &part[..part.len() / 2],
            _ => part,
        };
        Reply::Raw(raw_response(status, &headers, sent))
    })
    .await
}

/// A server that sends the head and 1000 bytes of a 1 MB file, then holds the connection.
async fn stalling_server() -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buffer = [0u8; 4096];
            let _ = stream.read(&mut buffer).await;
            let head = raw_response(
                200,
                &[("content-length", "1000000".to_owned())],
                &[7u8; 1000],
            );
            let _ = stream.write_all(&head).await;
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
        }
    });
    address
}

/// Cut the first transfer halfway, then send whole.
fn cut_once(request: usize) -> Behaviour {
    if request == 0 {
        Behaviour::CutHalfway
    } else {
        Behaviour::Whole
    }
}

fn leftovers(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("dir reads")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect()
}

#[tokio::test]
async fn a_download_streams_to_the_target_with_progress() {
    let file = video(1_000_000);
    let server = file_server(file.clone(), true, |_| Behaviour::Whole).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("clip.mp4");
    let progress = Arc::new(Mutex::new(Vec::<DownloadProgress>::new()));
    let log = progress.clone();
    let url = Url::parse(&format!("{}/v.mp4", server.url)).expect("URL");

    let done = client(&server.url)
        .download(url, &target)
        .on_progress(move |p| log.lock().expect("not poisoned").push(*p))
        .await
        .expect("downloads");

    assert_eq!(std::fs::read(&target).expect("reads"), file);
    assert_eq!(
        (done.bytes, done.resumed, done.restarted),
        (1_000_000, 0, 0)
    );
    let progress = progress.lock().expect("not poisoned");
    assert_eq!(
        progress.last().map(|p| (p.received, p.total)),
        Some((1_000_000, Some(1_000_000)))
    );
    assert!(progress.windows(2).all(|w| w[0].received < w[1].received));
    assert_eq!(leftovers(dir.path()), ["clip.mp4"]);
    // The video gets the permissions any new file gets here (not a temporary file's 0600).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| {
            std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777
        };
        let fresh = dir.path().join("fresh");
        std::fs::write(&fresh, b"").expect("writes");
        assert_eq!(mode(&target), mode(&fresh));
        std::fs::remove_file(&fresh).expect("removes");
    }
    // Result files live on other hosts: the API key is never sent with them.
    assert_eq!(server.seen()[0].header("authorization"), None);
}

#[tokio::test]
async fn a_cut_download_resumes_with_range_and_is_byte_identical() {
    let file = video(2_000_001);
    let server = file_server(file.clone(), true, cut_once).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("clip.mp4");
    let url = Url::parse(&format!("{}/v.mp4", server.url)).expect("URL");

    let done = client(&server.url)
        .download(url, &target)
        .await
        .expect("downloads");

    assert_eq!(std::fs::read(&target).expect("reads"), file);
    assert_eq!((done.resumed, done.restarted), (1, 0));
    let seen = server.seen();
    assert_eq!(seen[1].header("range"), Some("bytes=1000000-"));
    assert_eq!(seen[1].header("if-range"), Some("\"v1\""));
}

#[tokio::test]
async fn without_range_support_a_cut_download_restarts_cleanly() {
    let file = video(1_500_000);
    let server = file_server(file.clone(), false, cut_once).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("clip.mp4");
    let url = Url::parse(&format!("{}/v.mp4", server.url)).expect("URL");

    let done = client(&server.url)
        .download(url, &target)
        .await
        .expect("downloads");

    assert_eq!(std::fs::read(&target).expect("reads"), file);
    assert_eq!((done.resumed, done.restarted), (0, 1));
}

#[tokio::test(start_paused = true)]
async fn a_download_that_never_completes_leaves_nothing_at_the_target() {
    let server = file_server(video(100_000), false, |_| Behaviour::CutHalfway).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("clip.mp4");
    let url = Url::parse(&format!("{}/v.mp4", server.url)).expect("URL");

    let error = client(&server.url)
        .download(url, &target)
        .max_failures(3)
        .await
        .expect_err("always cut");

    assert!(
        error.kind() == ErrorKind::Download && error.to_string().contains("of 100000 bytes"),
        "{error}"
    );
    assert!(!target.exists());
    assert!(
        leftovers(dir.path()).is_empty(),
        "{:?}",
        leftovers(dir.path())
    );
    assert_eq!(server.seen().len(), 3);
}

#[tokio::test]
async fn an_existing_file_is_kept_unless_overwrite_is_asked() {
    let file = video(10_000);
    let server = file_server(file.clone(), true, |_| Behaviour::Whole).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("clip.mp4");
    std::fs::write(&target, b"precious").expect("writes");
    let url = Url::parse(&format!("{}/v.mp4", server.url)).expect("URL");
    let client = client(&server.url);

    let error = client
        .download(url.clone(), &target)
        .await
        .expect_err("refused");
    assert!(
        error.kind() == ErrorKind::File && error.to_string().contains("already exists"),
        "{error}"
    );
    assert_eq!(std::fs::read(&target).expect("reads"), b"precious");
    assert!(server.seen().is_empty(), "refused before any request");

    client
        .download(url, &target)
        .overwrite(true)
        .await
        .expect("replaces");
    assert_eq!(std::fs::read(&target).expect("reads"), file);
}

#[tokio::test]
async fn a_finished_task_downloads_by_id() {
    let file = video(50_000);
    let served = file.clone();
    let server = ScriptedServer::start(move |seen, _| {
        if seen.target.starts_with("/api/v1/jobs/recordInfo") {
            let url = format!("http://{}/v.mp4", seen.header("host").unwrap_or_default());
            return Reply::ok(json!({"code": 200, "msg": "success", "data": {
                "taskId": "task-1", "state": "success",
                "resultJson": json!({"resultUrls": [url]}).to_string()
            }}));
        }
        Reply::Raw(raw_response(
            200,
            &[("content-length", served.len().to_string())],
            &served,
        ))
    })
    .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("task.mp4");
    let done = client(&server.url)
        .download_task("task-1", &target)
        .await
        .expect("downloads");
    assert_eq!(done.bytes, 50_000);
    assert_eq!(std::fs::read(&target).expect("reads"), file);
}

#[tokio::test]
async fn a_resume_answered_with_another_range_starts_over() {
    let file = video(400_000);
    let server = file_server(file.clone(), true, |n| match n {
        0 => Behaviour::CutHalfway,
        1 => Behaviour::WrongRange,
        _ => Behaviour::Whole,
    })
    .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("clip.mp4");
    let url = Url::parse(&format!("{}/v.mp4", server.url)).expect("URL");
    let done = client(&server.url)
        .download(url, &target)
        .await
        .expect("downloads");
    assert_eq!(std::fs::read(&target).expect("reads"), file);
    assert_eq!(done.restarted, 1);
    assert_eq!(
        server.seen()[2].header("range"),
        None,
        "the third request asks for the whole file"
    );
}

#[tokio::test]
async fn an_unsatisfiable_resume_starts_over() {
    let file = video(300_000);
    let server = file_server(file.clone(), true, |n| match n {
        0 => Behaviour::CutHalfway,
        1 => Behaviour::Unsatisfiable,
        _ => Behaviour::Whole,
    })
    .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("clip.mp4");
    let url = Url::parse(&format!("{}/v.mp4", server.url)).expect("URL");
    client(&server.url)
        .download(url, &target)
        .await
        .expect("downloads");
    assert_eq!(std::fs::read(&target).expect("reads"), file);
    assert_eq!(server.seen().len(), 3);
}

#[tokio::test]
async fn without_a_validator_a_cut_download_is_not_spliced() {
    let file = video(300_000);
    let server = file_server_with(file.clone(), true, false, cut_once).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("clip.mp4");
    let url = Url::parse(&format!("{}/v.mp4", server.url)).expect("URL");
    let done = client(&server.url)
        .download(url, &target)
        .await
        .expect("downloads");
    assert_eq!(std::fs::read(&target).expect("reads"), file);
    assert_eq!((done.resumed, done.restarted), (0, 1));
    assert_eq!(
        server.seen()[1].header("range"),
        None,
        "no ETag or Last-Modified: no Range"
    );
}

#[tokio::test]
async fn a_cancelled_download_leaves_no_temporary_file() {
    let address = stalling_server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("clip.mp4");
    let url = Url::parse(&format!("http://{address}/v.mp4")).expect("URL");
    let client = client(&format!("http://{address}"));
    let received = Arc::new(Mutex::new(0u64));
    let seen = received.clone();
    let download = client
        .download(url, &target)
        .on_progress(move |p| *seen.lock().expect("not poisoned") = p.received);
    let outcome = tokio::time::timeout(
        std::time::Duration::from_millis(500),
        download.into_future(),
    )
    .await;
    assert!(outcome.is_err(), "the download was still running");
    assert_eq!(
        *received.lock().expect("not poisoned"),
        1000,
        "it had started writing"
    );
    assert!(
        leftovers(dir.path()).is_empty(),
        "{:?}",
        leftovers(dir.path())
    );
}

#[tokio::test]
async fn a_task_without_a_file_yet_is_not_reported_failed() {
    let server = ScriptedServer::start(|_, _| {
        Reply::ok(json!({"code": 200, "msg": "success", "data": {"taskId": "task-1", "state": "generating"}}))
    })
    .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let error = client(&server.url)
        .download_task("task-1", dir.path().join("clip.mp4"))
        .await
        .expect_err("not finished");
    assert!(
        error.kind() == ErrorKind::Download && error.to_string().contains("state: generating"),
        "{error}"
    );
    assert!(error.is_retryable());
}

#[tokio::test(start_paused = true)]
async fn a_stalled_download_ends_at_the_idle_timeout() {
    let address = stalling_server().await;
    let client = crate::support::builder(&format!("http://{address}"))
        .download_idle_timeout(Some(std::time::Duration::from_secs(2)))
        .build()
        .expect("client");
    let dir = tempfile::tempdir().expect("temp dir");
    let url = Url::parse(&format!("http://{address}/v.mp4")).expect("URL");
    let started = tokio::time::Instant::now();
    let error = client
        .download(url, dir.path().join("clip.mp4"))
        .max_failures(1)
        .await
        .expect_err("stalled");
    assert!(
        error.kind() == ErrorKind::Download && error.to_string().contains("no data for 2s"),
        "{error}"
    );
    assert_eq!(started.elapsed(), std::time::Duration::from_secs(2));
    assert!(leftovers(dir.path()).is_empty());
}

/// Set in the child process of [`a_full_disk_ends_the_download_and_nothing_short_is_put_in_place`]:
/// `URL|FOLDER`.
const FULL_DISK_CHILD: &str = "APIKLEY_TEST_FULL_DISK_CHILD";
/// The child's file size limit, well below the file's size.
const FILE_SIZE_LIMIT: u64 = 50_000;

/// Defect 1: the disk fills up mid-download (a file size limit, `RLIMIT_FSIZE`, in a child
/// process: the same test binary, re-run). The write error ends the download as a file error at
/// once: it is not retried as a network failure, no `Range` request skips past lost bytes, and
/// nothing is left at the target or beside it.
#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_ends_the_download_and_nothing_short_is_put_in_place() {
    if let Ok(job) = std::env::var(FULL_DISK_CHILD) {
        return full_disk_child(&job);
    }
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let file = video(400_000);
    let server = runtime.block_on(file_server(file, true, |_| Behaviour::Whole));
    let dir = tempfile::tempdir().expect("temp dir");
    let exe = std::env::current_exe().expect("test binary");
    let output = std::process::Command::new(exe)
        .args([
            "--exact",
            "downloads::a_full_disk_ends_the_download_and_nothing_short_is_put_in_place",
            "--nocapture",
        ])
        .env(
            FULL_DISK_CHILD,
            format!("{}/v.mp4|{}", server.url, dir.path().display()),
        )
        .output()
        .expect("the child runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let outcome = stdout
        .lines()
        .find_map(|l| l.strip_prefix("OUTCOME: "))
        .unwrap_or_else(|| panic!("no outcome: {stdout}"));
    assert!(outcome.starts_with("File {"), "{outcome}");
    assert!(outcome.contains("cannot be written"), "{outcome}");
    assert!(outcome.contains("File too large"), "{outcome}");
    assert!(
        leftovers(dir.path()).is_empty(),
        "{:?}",
        leftovers(dir.path())
    );
    assert_eq!(server.seen().len(), 1, "a disk error is not retried");
}

/// The child: limits the size of the files it writes, downloads, prints the outcome.
#[cfg(target_os = "linux")]
fn full_disk_child(job: &str) {
    let (url, folder) = job.split_once('|').expect("URL|FOLDER");
    let limit = libc::rlimit {
        rlim_cur: FILE_SIZE_LIMIT,
        rlim_max: FILE_SIZE_LIMIT,
    };
    // SAFETY: plain system calls on this process; ignoring SIGXFSZ makes an oversized write
    // fail with EFBIG instead of ending the process.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &limit), 0);
    }
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let outcome = runtime.block_on(async {
        client("http://127.0.0.1:9")
            .download(
                Url::parse(url).expect("URL"),
                std::path::Path::new(folder).join("clip.mp4"),
            )
            .await
    });
    match outcome {
        Ok(file) => println!("OUTCOME: saved {} bytes", file.bytes),
        Err(error) => println!("OUTCOME: {error:?}"),
    }
}

/// What broken links serve with status 200 and a video's `Content-Type`.
const NOT_RESULTS: [(&[u8], apikley::NotMedia); 6] = [
    (
        b"<!DOCTYPE html><html><body>Link expired</body></html>",
        apikley::NotMedia::Html,
    ),
    (
        b"\xEF\xBB\xBF  <html><head><title>502</title></head></html>",
        apikley::NotMedia::Html,
    ),
    (
        br#"{"code": 404, "msg": "file not found"}"#,
        apikley::NotMedia::Json,
    ),
    (
        b"<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code></Error>",
        apikley::NotMedia::Xml,
    ),
    (b"Forbidden\n", apikley::NotMedia::Text),
    (b"", apikley::NotMedia::Empty),
];

/// A server that answers every request with status 200, a video's type and `body`.
async fn serving_body(body: &'static [u8]) -> ScriptedServer {
    ScriptedServer::start(move |_: &Seen, _| {
        let headers = [
            ("content-type", "video/mp4".to_owned()),
            ("content-length", body.len().to_string()),
        ];
        Reply::Raw(raw_response(200, &headers, body))
    })
    .await
}

/// The bytes decide: a page, a JSON or XML document, text or nothing is never a result,
/// whatever the status and `Content-Type` say; it is retried like a 5xx, then refused with the
/// task id, and nothing is put at the target, nor left beside it.
#[tokio::test(start_paused = true)]
async fn a_page_or_an_error_served_as_a_result_is_never_saved() {
    for (body, found) in NOT_RESULTS {
        let server = serving_body(body).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let target = dir.path().join("clip.mp4");
        std::fs::write(&target, b"an earlier video").expect("writes");
        let url = Url::parse(&format!("{}/v.mp4", server.url)).expect("URL");

        let error = client(&server.url)
            .download(url, &target)
            .overwrite(true)
            .max_failures(3)
            .await
            .expect_err("not a result");

        assert_eq!(error.kind(), ErrorKind::NotAResult, "{found}: {error:?}");
        assert_eq!(error.not_media(), Some(found), "{error}");
        let snippet = error.body_snippet().expect("the start of what came");
        assert!(
            String::from_utf8_lossy(body).contains(snippet.trim_start_matches('\u{feff}')),
            "{snippet:?}"
        );
        assert!(error.is_retryable(), "a fixed link can be fetched again");
        assert_eq!(server.seen().len(), 3, "{found}: retried like a 5xx");
        assert_eq!(
            std::fs::read(&target).expect("reads"),
            b"an earlier video",
            "{found}: the existing file is untouched"
        );
        assert_eq!(leftovers(dir.path()), ["clip.mp4"], "{found}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_refused_body_carries_the_task_id_and_a_new_file_is_never_made() {
    let server = ScriptedServer::start(|seen: &Seen, _| {
        if seen.target.contains("recordInfo") {
            let mut record = crate::support::record("t1", "success");
            record["data"]["resultJson"] = json!(format!(
                "{{\"resultUrls\":[\"http://{}/files/v.mp4\"]}}",
                seen.header("host").unwrap_or_default()
            ));
            Reply::ok(record)
        } else {
            let page = b"<html>gone</html>";
            let headers = [("content-length", page.len().to_string())];
            Reply::Raw(raw_response(200, &headers, page))
        }
    })
    .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("clip.mp4");
    let error = client(&server.url)
        .download_task("t1", &target)
        .max_failures(1)
        .await
        .expect_err("a page");
    assert_eq!(error.kind(), ErrorKind::NotAResult, "{error:?}");
    assert_eq!(error.task_id().map(|t| t.as_str()), Some("t1"));
    assert!(error.to_string().starts_with("task t1: "), "{error}");
    assert!(leftovers(dir.path()).is_empty());
}

/// The name follows the content: asked to, the extension is the sniffed format's (then the
/// URL's); a name given as is stays, with a warning when it contradicts the content.
#[tokio::test]
async fn files_are_named_by_what_they_are() {
    const JPEG: &[u8] = b"\xFF\xD8\xFF\xE0\0\x10JFIF\0rest of a picture";
    const MODEL_3D: &[u8] = b"glTF\x02\0\0\0\x10\0\0\0\x00\x01\x02\x03";
    let jpeg = serving_body(JPEG).await;
    let model = serving_body(MODEL_3D).await;
    let dir = tempfile::tempdir().expect("temp dir");

    let url = Url::parse(&format!("{}/result", jpeg.url)).expect("URL");
    let file = client(&jpeg.url)
        .download(url.clone(), dir.path().join("image.png"))
        .name_by_content(true)
        .await
        .expect("downloads");
    assert_eq!(file.path, dir.path().join("image.jpg"));
    assert_eq!(file.content, Content::Media(MediaType::Jpeg));
    assert_eq!(file.misnamed(), None);
    assert_eq!(std::fs::read(&file.path).expect("reads"), JPEG);

    // Another binary format is kept, named by its URL: output kind "other".
    let url3d = Url::parse(&format!("{}/files/scene.GLB?sig=1", model.url)).expect("URL");
    let file = client(&model.url)
        .download(url3d, dir.path().join("scene.bin"))
        .name_by_content(true)
        .await
        .expect("downloads");
    assert_eq!(file.path, dir.path().join("scene.glb"));
    assert_eq!(file.content, Content::Other);

    // A name given as is: kept, and the contradiction said.
    let file = client(&jpeg.url)
        .download(url.clone(), dir.path().join("clip.mp4"))
        .await
        .expect("downloads");
    assert_eq!(file.path, dir.path().join("clip.mp4"));
    let warning = file.misnamed().expect("a warning");
    assert!(
        warning.contains("holds JPEG image, but its extension says MP4"),
        "{warning}"
    );

    // Named by content, an existing file of the final name is not replaced without leave.
    let error = client(&jpeg.url)
        .download(url, dir.path().join("image.png"))
        .name_by_content(true)
        .await
        .expect_err("image.jpg exists");
    assert_eq!(error.kind(), ErrorKind::File, "{error:?}");
    assert!(error.to_string().contains("already exists"), "{error}");
}
