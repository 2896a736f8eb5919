//! The sandbox: what it accepts, how tasks progress, every fault mode, and the client's retry
//! and rate-limit behaviour end to end against it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use apikley::callback::axum::SignedCallback;
use apikley::callback::{CallbackEvent, CallbackInbox, CallbackVerifier};
use apikley::{ApiCode, RateLimit, RateLimits, RetryPolicy, TaskState};
use apikley_sandbox::{ErrorShape, Faults, SAMPLE_VIDEO, Sandbox};
use serde_json::{Value, json};

const MODEL: &str = "bytedance/seedance-1.5-pro";

fn spec_example() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../openapi/seedance-1.5-pro.json"
    );
    let spec: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("spec reads")).expect("JSON");
    spec.pointer(
        "/paths/~1api~1v1~1jobs~1createTask/post/requestBody/content/application~1json/example",
    )
    .expect("the spec has an example")
    .clone()
}

fn body(input: Value) -> Value {
    json!({"model": MODEL, "input": input})
}

/// A plain HTTP call, so that what the sandbox answers is seen as is.
async fn call(sandbox: &Sandbox, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let http = reqwest::Client::new();
    let url = format!("{}{path}", sandbox.url());
    let request = match method {
        "POST" => http.post(url).json(body.unwrap_or(&Value::Null)),
        _ => http.get(url),
    };
    let response = request
        .bearer_auth(sandbox.api_key())
        .send()
        .await
        .expect("answered");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn create(sandbox: &Sandbox, body: &Value) -> (u16, Value) {
    call(sandbox, "POST", "/api/v1/jobs/createTask", Some(body)).await
}

async fn record(sandbox: &Sandbox, id: &str) -> Value {
    call(
        sandbox,
        "GET",
        &format!("/api/v1/jobs/recordInfo?taskId={id}"),
        None,
    )
    .await
    .1
}

/// A client for tests, fit for tokio's paused clock.
fn client(sandbox: &Sandbox) -> apikley::ClientBuilder {
    sandbox
        .client()
        .for_paused_clock()
        .rate_limits(RateLimits::none())
}

#[tokio::test]
async fn the_spec_example_is_accepted() {
    let sandbox = Sandbox::start().await.expect("starts");
    let (status, answer) = create(&sandbox, &spec_example()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["code"], 200);
    assert!(
        answer["data"]["taskId"]
            .as_str()
            .is_some_and(|id| id.starts_with("task_sandbox_"))
    );
}

#[tokio::test]
async fn each_broken_rule_gets_a_422_naming_its_field() {
    let sandbox = Sandbox::start().await.expect("starts");
    let image = "https://example.com/a.png";
    let cases = [
        (
            "prompt too short",
            body(json!({"prompt": "ab", "aspect_ratio": "1:1"})),
            "input.prompt",
        ),
        (
            "prompt too long",
            body(json!({"prompt": "x".repeat(2501), "aspect_ratio": "1:1"})),
            "input.prompt",
        ),
        (
            "three images",
            body(
                json!({"prompt": "A beach", "aspect_ratio": "1:1", "input_urls": [image, image, image]}),
            ),
            "input.input_urls",
        ),
        (
            "unknown aspect ratio",
            body(json!({"prompt": "A beach", "aspect_ratio": "5:4"})),
            "input.aspect_ratio",
        ),
        (
            "duration 5",
            body(json!({"prompt": "A beach", "aspect_ratio": "1:1", "duration": 5})),
            "input.duration",
        ),
        (
            "missing model",
            json!({"input": {"prompt": "A beach", "aspect_ratio": "1:1"}}),
            "model",
        ),
        (
            "unknown model",
            json!({"model": "x/y", "input": {}}),
            "model",
        ),
    ];
    for (name, body, field) in cases {
        let (status, answer) = create(&sandbox, &body).await;
        assert_eq!(status, 422, "{name}: {answer}");
        assert_eq!(answer["code"], 422, "{name}");
        let message = answer["msg"].as_str().unwrap_or_default();
        assert!(
            message.starts_with(&format!("{field}:")),
            "{name}: {message}"
        );
    }
    // Every violation of a body, not just the first.
    let (status, answer) = create(
        &sandbox,
        &body(json!({"prompt": "ab", "aspect_ratio": "5:4", "duration": 5, "colour": "red"})),
    )
    .await;
    assert_eq!(status, 422);
    let message = answer["msg"].as_str().unwrap_or_default();
    for field in [
        "input.prompt:",
        "input.aspect_ratio:",
        "input.duration:",
        "input.colour:",
    ] {
        assert!(message.contains(field), "{field} in {message}");
    }
    assert_eq!(sandbox.stats().tasks_created, 0);
}

#[tokio::test]
async fn a_wrong_key_gets_401() {
    let sandbox = Sandbox::start().await.expect("starts");
    let answer = reqwest::Client::new()
        .get(format!("{}/api/v1/chat/credit", sandbox.url()))
        .bearer_auth("not-the-key")
        .send()
        .await
        .expect("answered");
    assert_eq!(answer.status(), 401);
}

#[tokio::test(start_paused = true)]
async fn tasks_progress_on_the_sandbox_clock_and_longer_videos_take_longer() {
    let sandbox = Sandbox::builder().speed(2.0).start().await.expect("starts");
    let short = body(
        json!({"prompt": "A beach", "aspect_ratio": "1:1", "duration": 4, "resolution": "480p"}),
    );
    let long = body(
        json!({"prompt": "A beach", "aspect_ratio": "1:1", "duration": 12, "resolution": "720p"}),
    );
    let (_, short) = create(&sandbox, &short).await;
    let (_, long) = create(&sandbox, &long).await;
    let ids = [short, long].map(|a| a["data"]["taskId"].as_str().expect("id").to_owned());

    let mut seen: [Vec<String>; 2] = Default::default();
    let mut finished = [None, None];
    let started = tokio::time::Instant::now();
    while finished.iter().any(Option::is_none) {
        for (i, id) in ids.iter().enumerate() {
            let state = record(&sandbox, id).await["data"]["state"]
                .as_str()
                .expect("state")
                .to_owned();
            if seen[i].last() != Some(&state) {
                seen[i].push(state.clone());
            }
            if state == "success" && finished[i].is_none() {
                finished[i] = Some(started.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    for states in &seen {
        assert_eq!(states, &["waiting", "queuing", "generating", "success"]);
    }
    let [short_done, long_done] = finished.map(|f| f.expect("finished"));
    assert!(
        long_done > short_done * 2,
        "{short_done:?} vs {long_done:?}"
    );
    // 4 s at 480p: 39 s of sandbox time, at double speed.
    assert!(
        short_done >= Duration::from_millis(19_500) && short_done < Duration::from_secs(21),
        "{short_done:?}"
    );

    let done = record(&sandbox, &ids[0]).await;
    let result: Value =
        serde_json::from_str(done["data"]["resultJson"].as_str().expect("text")).expect("JSON");
    let url = result["resultUrls"][0].as_str().expect("a URL");
    let video = reqwest::get(url)
        .await
        .expect("served")
        .bytes()
        .await
        .expect("body");
    assert_eq!(&video[..], SAMPLE_VIDEO);
}

#[tokio::test(start_paused = true)]
async fn a_time_spread_varies_generation_times_within_its_bounds() {
    let sandbox = Sandbox::builder()
        .time_spread(0.2)
        .seed(7)
        .start()
        .await
        .expect("starts");
    // 4 s at 480p: planned 39 s.
    let input = body(
        json!({"prompt": "A beach", "aspect_ratio": "1:1", "duration": 4, "resolution": "480p"}),
    );
    let mut ids = Vec::new();
    for _ in 0..20 {
        let (_, created) = create(&sandbox, &input).await;
        ids.push(created["data"]["taskId"].as_str().expect("id").to_owned());
    }
    tokio::time::sleep(Duration::from_secs(60)).await;
    let mut took = Vec::new();
    for id in &ids {
        let data = record(&sandbox, id).await["data"].clone();
        assert_eq!(data["state"], "success");
        let ms =
            data["completeTime"].as_i64().expect("ms") - data["createTime"].as_i64().expect("ms");
        took.push(ms as f64 / 1000.0);
    }
    assert!(took.iter().all(|t| (31.2..=46.8).contains(t)), "{took:?}");
    let (low, high) = took
        .iter()
        .fold((f64::MAX, 0.0_f64), |(l, h), t| (l.min(*t), h.max(*t)));
    assert!(high - low > 5.0, "varied: {took:?}");
}

/// Walks the ISO base media boxes: the sample is an MP4 with a video track.
#[test]
fn the_sample_result_is_an_mp4_with_a_video_track() {
    fn boxes(data: &[u8]) -> Vec<(&str, &[u8])> {
        let mut found = Vec::new();
        let mut at = 0;
        while at + 8 <= data.len() {
            let size = u32::from_be_bytes(data[at..at + 4].try_into().expect("4 bytes")) as usize;
            let kind = std::str::from_utf8(&data[at + 4..at + 8]).unwrap_or("????");
            if size < 8 || at + size > data.len() {
                break;
            }
            found.push((kind, &data[at + 8..at + size]));
            at += size;
        }
        found
    }
    let top = boxes(SAMPLE_VIDEO);
    let kinds: Vec<&str> = top.iter().map(|(k, _)| *k).collect();
    assert_eq!(kinds.first(), Some(&"ftyp"));
    assert!(
        kinds.contains(&"moov") && kinds.contains(&"mdat"),
        "{kinds:?}"
    );
    let moov = top.iter().find(|(k, _)| *k == "moov").expect("moov").1;
    let handlers: Vec<&[u8]> = boxes(moov)
        .into_iter()
        .filter(|(k, _)| *k == "trak")
        .flat_map(|(_, trak)| boxes(trak))
        .filter(|(k, _)| *k == "mdia")
        .flat_map(|(_, mdia)| boxes(mdia))
        .filter(|(k, _)| *k == "hdlr")
        .map(|(_, hdlr)| &hdlr[8..12])
        .collect();
    assert!(handlers.contains(&&b"vide"[..]), "{handlers:?}");
    assert!(SAMPLE_VIDEO.len() < 16 * 1024);
}

/// Serves `app` on a free loopback port; the URL of its `/hook`.
async fn serve_hook(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let hook = format!("http://{}/hook", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    hook
}

#[tokio::test]
async fn callbacks_are_posted_signed_when_a_task_ends() {
    let events = Arc::new(Mutex::new(Vec::<CallbackEvent>::new()));
    let log = events.clone();
    let app = axum::Router::new()
        .route(
            "/hook",
            axum::routing::post(move |SignedCallback(event): SignedCallback| async move {
                log.lock().expect("not poisoned").push(event);
                axum::http::StatusCode::NO_CONTENT
            }),
        )
        .with_state(CallbackVerifier::new("hook-key").expect("key"));
    let hook = serve_hook(app).await;

    let sandbox = Sandbox::builder()
        .speed(200.0)
        .webhook_key("hook-key")
        .start()
        .await
        .expect("starts");
    let mut request = body(json!({"prompt": "A beach", "aspect_ratio": "1:1", "duration": 4}));
    request["callBackUrl"] = hook.into();
    let (_, created) = create(&sandbox, &request).await;
    let id = created["data"]["taskId"].as_str().expect("id").to_owned();
    for _ in 0..100 {
        if sandbox.stats().callbacks_delivered > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let events = events.lock().expect("not poisoned");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].record.id.as_str(), id);
    assert!(events[0].is_success());
    // 4 s at 720p: 54.6 s of generation, 11 credits.
    assert_eq!(events[0].consumed_credits, Some(11.0));
    assert_eq!(events[0].remaining_credits, Some(989.0));
}

/// Callbacks instead of polling: a wait given an inbox makes no status query until its task's
/// callback comes, then exactly one, which confirms it by id.
#[tokio::test]
async fn a_wait_on_callbacks_makes_one_query_that_confirms_the_callback() {
    let inbox = CallbackInbox::new();
    let verifier = CallbackVerifier::new("hook-key").expect("key");
    let app = apikley::callback::axum::inbox_router("/hook", inbox.clone(), Some(verifier));
    let hook = serve_hook(app).await;

    // About 2.7 s of real time to the end: a wait polling every second would query 3 times.
    let sandbox = Sandbox::builder()
        .speed(20.0)
        .webhook_key("hook-key")
        .start()
        .await
        .expect("starts");
    let client = client(&sandbox).build().expect("client");
    let request = seedance::VideoRequest::new("A serene beach at sunset")
        .duration(seedance::VideoLength::Seconds4)
        .callback_url(hook);
    let task = client.submit(request).await.expect("created");
    let done = task
        .waiter()
        .schedule(apikley::PollSchedule::Every(Duration::from_secs(1)))
        .callbacks(inbox.clone())
        .await
        .expect("the callback ends the wait");
    assert_eq!(done.record().state, TaskState::Success);
    let stats = sandbox.stats();
    assert_eq!(stats.callbacks_delivered, 1);
    assert_eq!(stats.status_queries, 1, "only the confirming query");
    assert!(!inbox.has_heard(task.id()), "the wait took its callback");
}

#[tokio::test]
async fn credits_go_down_per_task_until_402() {
    let sandbox = Sandbox::builder()
        .credits(20.0)
        .start()
        .await
        .expect("starts");
    let request = body(
        json!({"prompt": "A beach", "aspect_ratio": "1:1", "duration": 4, "resolution": "480p"}),
    );
    assert_eq!(create(&sandbox, &request).await.0, 200);
    assert_eq!(sandbox.credits(), 12.0);
    assert_eq!(create(&sandbox, &request).await.0, 200);
    let (status, answer) = create(&sandbox, &request).await;
    assert_eq!(status, 402, "{answer}");
    assert_eq!(sandbox.credits(), 4.0);
    let client = client(&sandbox).build().expect("client");
    assert_eq!(client.credits().await.expect("credits"), 4.0);
}

#[tokio::test]
async fn uploads_are_stored_and_served_back() {
    let sandbox = Sandbox::start().await.expect("starts");
    let client = client(&sandbox).build().expect("client");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("photo.png");
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend((0..50_000).map(|i| (i % 251) as u8));
    std::fs::write(&path, &png).expect("writes");

    let streamed = client.upload_file(&path).await.expect("uploads");
    assert_eq!(streamed.size, png.len() as u64);
    assert_eq!(streamed.mime_type, "image/png");
    let served = reqwest::get(streamed.download_url.clone())
        .await
        .expect("served")
        .bytes()
        .await
        .expect("body");
    assert_eq!(&served[..], &png[..]);

    let options = apikley::UploadOptions::default();
    let base64 = client
        .upload_bytes(&png, "inline.png", &options)
        .await
        .expect("uploads");
    let copied = client
        .upload_from_url(&streamed.download_url, &options)
        .await
        .expect("copies");
    for file in [&base64, &copied] {
        let target = dir.path().join(format!("{}.bin", file.file_name));
        client
            .download(file.download_url.clone(), &target)
            .await
            .expect("downloads");
        assert_eq!(std::fs::read(&target).expect("reads"), png);
    }
    let outside = apikley::Url::parse("https://example.com/a.png").expect("URL");
    let refused = client
        .upload_from_url(&outside, &options)
        .await
        .expect_err("offline");
    assert_eq!(refused.api().map(|e| e.code), Some(ApiCode::BadRequest));
    assert_eq!(sandbox.stats().uploads, 3);
}

#[tokio::test(start_paused = true)]
async fn every_fault_mode_misbehaves_as_configured() {
    let request = body(json!({"prompt": "A beach", "aspect_ratio": "1:1"}));

    // Rate limit: 429 above 2 creates per 10 s.
    let sandbox = Sandbox::builder()
        .faults(Faults::none().with_rate_limit(RateLimit::new(2, Duration::from_secs(10))))
        .start()
        .await
        .expect("starts");
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(create(&sandbox, &request).await.0);
    }
    assert_eq!(got, [200, 200, 429]);
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(create(&sandbox, &request).await.0, 200);
    assert_eq!(sandbox.stats().rate_limited, 1);

    // Maintenance, both shapes.
    sandbox.set_faults(Faults::none().with_maintenance(true));
    assert_eq!(
        create(&sandbox, &request).await,
        (
            455,
            json!({"code": 455, "msg": "Service Unavailable - System is currently undergoing maintenance", "data": null})
        )
    );
    sandbox.set_faults(
        Faults::none()
            .with_maintenance(true)
            .with_error_shape(ErrorShape::Envelope),
    );
    let (status, answer) = create(&sandbox, &request).await;
    assert_eq!((status, answer["code"].as_i64()), (200, Some(455)));

    // Server errors.
    sandbox.set_faults(Faults::none().with_server_error_rate(1.0));
    assert_eq!(
        call(&sandbox, "GET", "/api/v1/chat/credit", None).await.0,
        500
    );

    // Slow answers.
    sandbox.set_faults(Faults::none().with_slow(Duration::from_secs(7)));
    let started = tokio::time::Instant::now();
    assert_eq!(
        call(&sandbox, "GET", "/api/v1/chat/credit", None).await.0,
        200
    );
    assert!(started.elapsed() >= Duration::from_secs(7));

    // Failing tasks.
    sandbox.set_faults(Faults::none().with_failing_tasks("500", "Internal error"));
    let (_, created) = create(&sandbox, &request).await;
    let id = created["data"]["taskId"].as_str().expect("id").to_owned();
    tokio::time::sleep(Duration::from_secs(120)).await;
    let failed = record(&sandbox, &id).await;
    assert_eq!(failed["data"]["state"], "fail");
    assert_eq!(
        (
            failed["data"]["failCode"].as_str(),
            failed["data"]["failMsg"].as_str()
        ),
        (Some("500"), Some("Internal error"))
    );

    // Drop after create: the task exists, the answer never comes.
    sandbox.set_faults(Faults::none().with_drop_after_create(true));
    let before = sandbox.stats().tasks_created;
    let dropped = reqwest::Client::new()
        .post(format!("{}/api/v1/jobs/createTask", sandbox.url()))
        .bearer_auth(sandbox.api_key())
        .json(&request)
        .send()
        .await;
    assert!(dropped.is_err(), "{dropped:?}");
    assert_eq!(sandbox.stats().tasks_created, before + 1);
    assert_eq!(sandbox.stats().dropped, 1);
}

#[tokio::test(start_paused = true)]
async fn the_client_never_duplicates_a_task_whose_answer_was_dropped() {
    let sandbox = Sandbox::builder()
        .faults(Faults::none().with_drop_after_create(true))
        .start()
        .await
        .expect("starts");
    let client = client(&sandbox).build().expect("client");
    let error = client
        .submit(seedance::VideoRequest::new("A serene beach at sunset"))
        .await
        .expect_err("no answer");
    assert!(error.is_outcome_unknown(), "{error:?}");
    assert_eq!(sandbox.stats().create_requests, 1);
    assert_eq!(sandbox.stats().tasks_created, 1);
}

#[tokio::test(start_paused = true)]
async fn a_burst_of_100_tasks_meets_no_429() {
    let sandbox = Sandbox::builder()
        .credits(1e6)
        .faults(Faults::none().with_rate_limit(RateLimit::new(20, Duration::from_secs(10))))
        .start()
        .await
        .expect("starts");
    let client = client(&sandbox)
        .rate_limits(RateLimits::default())
        .retry(RetryPolicy::none())
        .build()
        .expect("client");
    let submits: Vec<_> = (0..100)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                client
                    .submit(seedance::VideoRequest::new(format!("Beach number {i}")))
                    .await
            })
        })
        .collect();
    for submit in submits {
        submit.await.expect("joins").expect("created without a 429");
    }
    let stats = sandbox.stats();
    assert_eq!((stats.tasks_created, stats.rate_limited), (100, 0));
}

#[tokio::test(start_paused = true)]
async fn submit_wait_and_download_end_to_end_through_faults() {
    let sandbox = Sandbox::builder()
        .speed(10.0)
        .seed(7)
        .faults(Faults::none().with_server_error_rate(0.3))
        .start()
        .await
        .expect("starts");
    let client = client(&sandbox).build().expect("client");
    let request = seedance::VideoRequest::new("A serene beach at sunset")
        .duration(seedance::VideoLength::Seconds4);
    let task = loop {
        // A 500 on createTask leaves the outcome unknown: in this test, try again.
        match client.submit(request.clone()).await {
            Ok(task) => break task,
            Err(error) if error.is_outcome_unknown() => continue,
            Err(other) => panic!("{other:?}"),
        }
    };
    let done = task.wait().await.expect("finishes despite the 500s");
    assert_eq!(done.record().state, TaskState::Success);
    let dir = tempfile::tempdir().expect("temp dir");
    let file = done
        .download(dir.path().join("beach.mp4"))
        .await
        .expect("downloads");
    assert_eq!(std::fs::read(&file.path).expect("reads"), SAMPLE_VIDEO);
}

/// Defect 13: any speed is taken (clamped), and tasks still progress without a panic.
#[tokio::test(start_paused = true)]
async fn extreme_speeds_neither_panic_nor_stall() {
    for speed in [1e300, f64::MAX, 1e-300, f64::MIN_POSITIVE, -1.0, f64::NAN] {
        let sandbox = Sandbox::builder()
            .speed(speed)
            .start()
            .await
            .expect("starts");
        let (status, created) = create(
            &sandbox,
            &body(json!({"prompt": "A beach", "aspect_ratio": "1:1"})),
        )
        .await;
        assert_eq!(status, 200, "{speed}: {created}");
        let id = created["data"]["taskId"].as_str().expect("id").to_owned();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let answer = record(&sandbox, &id).await;
        assert!(answer["data"]["state"].is_string(), "{speed}: {answer}");
        assert!(answer["data"]["updateTime"].is_i64(), "{speed}: {answer}");
    }
}

/// Defect 13: the sandbox copies its own files by URL, names with spaces and `%` included.
#[tokio::test]
async fn own_files_with_any_name_can_be_copied_by_url() {
    let sandbox = Sandbox::start().await.expect("starts");
    let client = sandbox.client().build().expect("client");
    let options = apikley::UploadOptions::default().with_file_name("my beach 100% #1.png");
    let png = b"\x89PNG\r\n\x1a\nrest of the image".to_vec();
    let uploaded = client
        .upload_bytes(&png, "ignored.png", &options)
        .await
        .expect("uploads");
    assert!(
        uploaded
            .download_url
            .as_str()
            .contains("my%20beach%20100%25%20%231.png")
    );
    let copied = client
        .upload_from_url(&uploaded.download_url, &apikley::UploadOptions::default())
        .await
        .expect("copies its own file");
    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("copy.png");
    client
        .download(copied.download_url, &target)
        .await
        .expect("downloads");
    assert_eq!(std::fs::read(&target).expect("reads"), png);
}
