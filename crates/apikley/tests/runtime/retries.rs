//! Retries that never double-charge, and rate limits that avoid 429s in the first place.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use apikley::{ApiCode, RateLimit, RateLimits, RetryPolicy};
use httpmock::Method::POST;
use httpmock::{HttpMockResponse, MockServer};
use serde_json::json;

use apikley_test_support::ExampleVideo;

use crate::support::{Reply, ScriptedServer, TestClock, body, builder, client, created};

#[tokio::test(start_paused = true)]
async fn a_create_whose_connection_drops_is_sent_once_and_reported_unknown() {
    let server = ScriptedServer::start(|_, _| Reply::Drop).await;
    let error = client(&server.url)
        .submit_body::<ExampleVideo>(&body())
        .await
        .expect_err("no answer");
    assert_eq!(server.seen().len(), 1, "createTask must not be resent");
    assert_eq!(server.seen()[0].target, "/api/v1/jobs/createTask");
    assert_eq!(server.seen()[0].method, "POST");
    assert!(error.is_outcome_unknown(), "{error:?}");
    assert_eq!(error.http_status(), None);
    assert!(std::error::Error::source(&error).is_some());
    assert!(!error.is_retryable());
    assert!(error.to_string().contains("it was not resent"), "{error}");
}

#[tokio::test(start_paused = true)]
async fn a_create_answered_500_is_not_resent() {
    let server = ScriptedServer::start(|_, _| {
        Reply::Json(500, json!({"code": 500, "msg": "Server Error"}), vec![])
    })
    .await;
    let error = client(&server.url)
        .submit_body::<ExampleVideo>(&body())
        .await
        .expect_err("500");
    assert!(error.is_outcome_unknown(), "{error:?}");
    assert_eq!(server.seen().len(), 1);
}

/// Serves createTask with `script(attempt)` and records when (on the test's clock) each
/// attempt arrived.
async fn scripted_mock(
    server: &MockServer,
    script: impl Fn(usize) -> HttpMockResponse + Send + Sync + 'static,
) -> Arc<Mutex<Vec<tokio::time::Instant>>> {
    let clock = TestClock::current();
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let log = arrivals.clone();
    server
        .mock_async(move |when, then| {
            when.method(POST).path("/api/v1/jobs/createTask");
            then.respond_with(move |_| {
                let mut log = log.lock().expect("not poisoned");
                log.push(clock.now());
                script(log.len())
            });
        })
        .await;
    arrivals
}

fn response(status: u16, body: serde_json::Value, retry_after: Option<&str>) -> HttpMockResponse {
    let mut builder = HttpMockResponse::builder()
        .status(status)
        .header("content-type", "application/json");
    if let Some(seconds) = retry_after {
        builder = builder.header("retry-after", seconds);
    }
    builder.body(body.to_string()).build()
}

#[tokio::test(start_paused = true)]
async fn a_create_rate_limited_twice_is_retried_as_retry_after_says() {
    let server = MockServer::start_async().await;
    let arrivals = scripted_mock(&server, |attempt| match attempt {
        1 => response(
            429,
            json!({"code": 429, "msg": "Rate limit exceeded"}),
            Some("3"),
        ),
        2 => response(
            200,
            json!({"code": 429, "msg": "Rate limit exceeded"}),
            Some("7"),
        ),
        _ => response(200, created("task-ok"), None),
    })
    .await;
    let task = client(&server.base_url())
        .submit_body::<ExampleVideo>(&body())
        .await
        .expect("the third attempt succeeds");
    assert_eq!(task.id().as_str(), "task-ok");
    let arrivals = arrivals.lock().expect("not poisoned").clone();
    assert_eq!(arrivals.len(), 3);
    assert!(
        arrivals[1] - arrivals[0] >= Duration::from_secs(3),
        "{:?}",
        arrivals[1] - arrivals[0]
    );
    assert!(
        arrivals[2] - arrivals[1] >= Duration::from_secs(7),
        "{:?}",
        arrivals[2] - arrivals[1]
    );
    assert!(arrivals[2] - arrivals[0] < Duration::from_secs(11));
}

#[tokio::test(start_paused = true)]
async fn without_retry_after_the_backoff_is_bounded_and_the_budget_ends_retries() {
    let server = MockServer::start_async().await;
    let arrivals = scripted_mock(&server, |_| {
        response(455, json!({"code": 455, "msg": "Maintenance"}), None)
    })
    .await;
    let policy = RetryPolicy::default()
        .with_max_attempts(4)
        .with_max_elapsed(Duration::from_secs(60))
        .with_initial_delay(Duration::from_secs(2))
        .with_max_delay(Duration::from_secs(4));
    let error = builder(&server.base_url())
        .retry(policy)
        .build()
        .unwrap()
        .submit_body::<ExampleVideo>(&body())
        .await
        .expect_err("always in maintenance");
    assert_eq!(error.api().map(|e| e.code), Some(ApiCode::Maintenance));
    let arrivals = arrivals.lock().expect("not poisoned").clone();
    assert_eq!(arrivals.len(), 4);
    for (gap, bound) in arrivals.windows(2).map(|w| w[1] - w[0]).zip([2, 4, 4]) {
        assert!(gap <= Duration::from_secs(bound), "{gap:?} > {bound}s");
    }
}

#[tokio::test(start_paused = true)]
async fn the_time_budget_ends_retries_before_the_attempts_run_out() {
    let server = MockServer::start_async().await;
    let arrivals =
        scripted_mock(&server, |_| response(429, json!({"code": 429}), Some("20"))).await;
    let policy = RetryPolicy::default()
        .with_max_attempts(10)
        .with_max_elapsed(Duration::from_secs(50));
    let started = tokio::time::Instant::now();
    let error = builder(&server.base_url())
        .retry(policy)
        .build()
        .unwrap()
        .submit_body::<ExampleVideo>(&body())
        .await
        .expect_err("always rate limited");
    assert_eq!(error.api().map(|e| e.code), Some(ApiCode::RateLimited));
    // Attempts at 0 s, 20 s and 40 s; a fourth at 60 s would break the 50 s budget.
    assert_eq!(arrivals.lock().expect("not poisoned").len(), 3);
    assert_eq!(started.elapsed(), Duration::from_secs(40));
}

#[tokio::test(start_paused = true)]
async fn a_refused_connection_is_retried_until_the_server_is_up() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    // The port is free now; binding it again 3 s later could in theory race another test,
    // which would show as a clear "retried until up" failure below.
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(3)).await;
        ScriptedServer::start_on(port, move |_, _| {
            counter.fetch_add(1, Ordering::SeqCst);
            Reply::ok(created("task-late"))
        })
        .await;
    });
    let client = builder(&base)
        .retry(
            RetryPolicy::default()
                .with_max_attempts(20)
                .with_max_elapsed(Duration::from_secs(120))
                .with_initial_delay(Duration::from_secs(1))
                .with_max_delay(Duration::from_secs(2)),
        )
        .build()
        .unwrap();
    let task = client
        .submit_body::<ExampleVideo>(&body())
        .await
        .expect("retried until up");
    assert_eq!(task.id().as_str(), "task-late");
    assert_eq!(seen.load(Ordering::SeqCst), 1, "exactly one task created");
}

#[tokio::test(start_paused = true)]
async fn a_burst_of_100_creates_meets_no_429() {
    const LIMIT: usize = 20;
    const WINDOW: Duration = Duration::from_secs(10);
    let server = MockServer::start_async().await;
    let clock = TestClock::current();
    let arrivals = Arc::new(Mutex::new(Vec::<tokio::time::Instant>::new()));
    let refused = Arc::new(AtomicUsize::new(0));
    let (log, refusals) = (arrivals.clone(), refused.clone());
    server
        .mock_async(move |when, then| {
            when.method(POST).path("/api/v1/jobs/createTask");
            then.respond_with(move |_| {
                // The documented account limit: 429 above 20 creates in any 10 s.
                let now = clock.now();
                let mut log = log.lock().expect("not poisoned");
                let recent = log.iter().filter(|at| now - **at < WINDOW).count();
                if recent >= LIMIT {
                    refusals.fetch_add(1, Ordering::SeqCst);
                    return response(
                        429,
                        json!({"code": 429, "msg": "Rate limit exceeded"}),
                        None,
                    );
                }
                log.push(now);
                response(200, created(&format!("task-{}", log.len())), None)
            });
        })
        .await;

    let client = builder(&server.base_url())
        .rate_limits(
            RateLimits::default()
                .with_creates(Some(RateLimit::new(20, Duration::from_secs(10))))
                .with_queries(None),
        )
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let started = tokio::time::Instant::now();
    let submits: Vec<_> = (0..100)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.submit_body::<ExampleVideo>(&body()).await })
        })
        .collect();
    let mut ids = Vec::new();
    for submit in submits {
        ids.push(
            submit
                .await
                .expect("joins")
                .expect("created without a 429")
                .id()
                .clone(),
        );
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 100);
    assert_eq!(refused.load(Ordering::SeqCst), 0, "429s seen");
    assert_eq!(arrivals.lock().expect("not poisoned").len(), 100);
    // Five windows' worth of work takes at least four full windows.
    assert!(started.elapsed() >= 4 * WINDOW, "{:?}", started.elapsed());
}
