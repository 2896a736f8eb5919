//! Waiting for a task: schedule, failures on the way, deadline, cancellation, results.

use std::future::IntoFuture;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use apikley::{ErrorKind, PollSchedule, Progress, RetryPolicy, TaskState, WaitOptions};
use serde_json::json;
use tokio::time::Instant;

use apikley_test_support::ExampleVideo;

use crate::support::{Reply, ScriptedServer, body, builder, client, created, record};

/// A server whose task "task-1" succeeds `done_after` after `start`.
async fn server_with_task(start: Instant, done_after: Duration) -> ScriptedServer {
    ScriptedServer::start(move |seen, _| {
        if seen.target.starts_with("/api/v1/jobs/createTask") {
            return Reply::ok(created("task-1"));
        }
        assert_eq!(seen.target, "/api/v1/jobs/recordInfo?taskId=task-1");
        let state = if seen.at - start >= done_after {
            "success"
        } else {
            "generating"
        };
        Reply::ok(record("task-1", state))
    })
    .await
}

/// How many queries the documented schedule (thrifty end) makes before `t`.
fn documented_queries(t: Duration) -> usize {
    let mut count = 0;
    let mut at = Duration::ZERO;
    loop {
        at += PollSchedule::documented_interval(at);
        if at > t {
            return count;
        }
        count += 1;
    }
}

#[tokio::test(start_paused = true)]
async fn a_wait_survives_failures_and_queries_less_than_the_documented_schedule() {
    let start = Instant::now();
    let done_after = Duration::from_secs(120);
    // Requests 2 and 3 answer 500: with two attempts per call, one whole status query fails and
    // the wait itself must carry on. Request 4 loses its connection (retried within its call).
    let server = ScriptedServer::start(move |seen, index| {
        if seen.target.starts_with("/api/v1/jobs/createTask") {
            return Reply::ok(created("task-1"));
        }
        assert_eq!(seen.target, "/api/v1/jobs/recordInfo?taskId=task-1");
        match index {
            2 | 3 => Reply::Json(500, json!({"code": 500, "msg": "Server Error"}), vec![]),
            4 => Reply::Drop,
            _ if seen.at - start >= done_after => Reply::ok(record("task-1", "success")),
            _ => Reply::ok(record("task-1", "generating")),
        }
    })
    .await;

    let client = builder(&server.url)
        .retry(RetryPolicy::default().with_max_attempts(2))
        .build()
        .expect("client builds");
    let task = client
        .submit_body::<ExampleVideo>(&body())
        .await
        .expect("created");
    let progress = Arc::new(Mutex::new(Vec::<Progress>::new()));
    let log = progress.clone();
    let done = task
        .wait_with(move |p| log.lock().expect("not poisoned").push(p.clone()))
        .await
        .expect("the task succeeds");

    assert_eq!(done.id().as_str(), "task-1");
    assert_eq!(done.urls()[0].as_str(), "https://cdn.example/video.mp4");
    let finished = start.elapsed();
    assert!(
        finished >= done_after && finished < done_after + Duration::from_secs(35),
        "{finished:?}"
    );

    let queries = server
        .seen()
        .iter()
        .filter(|s| s.target.contains("recordInfo"))
        .count();
    let documented = documented_queries(finished);
    assert!(
        queries <= documented,
        "{queries} queries, the documented schedule makes {documented}"
    );
    assert!(queries >= 6, "the faults were met: {queries}");

    let progress = progress.lock().expect("not poisoned");
    assert_eq!(
        progress.last().map(|p| p.state.clone()),
        Some(TaskState::Success)
    );
    assert!(
        progress
            .iter()
            .all(|p| p.expected == Some(Duration::from_secs(99)))
    );
    assert!(progress.windows(2).all(|w| w[0].elapsed <= w[1].elapsed));
    // One status query failed outright (no progress report for it), and the wait went on.
    assert!(
        progress
            .windows(2)
            .any(|w| w[1].queries == w[0].queries + 2),
        "{progress:#?}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_deadline_ends_a_wait_with_the_task_id() {
    let server = server_with_task(Instant::now(), Duration::MAX).await;
    let task = client(&server.url)
        .submit_body::<ExampleVideo>(&body())
        .await
        .expect("created");
    let started = Instant::now();
    let error = task
        .waiter()
        .deadline(Duration::from_secs(300))
        .await
        .expect_err("never finishes");
    assert_eq!(error.kind(), ErrorKind::WaitTimedOut, "{error:?}");
    assert_eq!(error.task_id().map(|t| t.as_str()), Some("task-1"));
    assert_eq!(error.waited(), Some(Duration::from_secs(300)));
    assert_eq!(error.last_state(), Some(&TaskState::Generating));
    assert!(
        started.elapsed() >= Duration::from_secs(300)
            && started.elapsed() < Duration::from_secs(301)
    );
    assert_eq!(error.task_id().map(|t| t.as_str()), Some("task-1"));
    assert!(error.is_retryable());
}

/// The expected duration (99 s) would put the first query after about 15 s (half of 90% of a
/// third of it); a 10 s deadline still gets one look at the task before the wait ends.
#[tokio::test(start_paused = true)]
async fn a_deadline_before_the_first_query_still_queries_once() {
    let server = server_with_task(Instant::now(), Duration::MAX).await;
    let task = client(&server.url)
        .submit_body::<ExampleVideo>(&body())
        .await
        .expect("created");
    let started = Instant::now();
    let error = task
        .waiter()
        .deadline(Duration::from_secs(10))
        .await
        .expect_err("never finishes");
    assert!(
        error.kind() == ErrorKind::WaitTimedOut
            && error.last_state() == Some(&TaskState::Generating),
        "{error:?}"
    );
    assert_eq!(started.elapsed(), Duration::from_secs(10));
    let queries = server
        .seen()
        .iter()
        .filter(|s| s.target.contains("recordInfo"))
        .count();
    assert_eq!(queries, 1);
}

#[tokio::test(start_paused = true)]
async fn a_spawned_wait_owns_its_task() {
    let server = server_with_task(Instant::now(), Duration::from_secs(30)).await;
    let task = client(&server.url)
        .submit_body::<ExampleVideo>(&body())
        .await
        .expect("created");
    let waiting = tokio::spawn(
        task.waiter()
            .deadline(Duration::from_secs(600))
            .into_future(),
    );
    drop(task);
    let done = waiting.await.expect("joins").expect("succeeds");
    assert_eq!(done.id().as_str(), "task-1");
}

#[tokio::test(start_paused = true)]
async fn cancellation_ends_a_wait_with_the_task_id() {
    let server = server_with_task(Instant::now(), Duration::MAX).await;
    let task = client(&server.url)
        .submit_body::<ExampleVideo>(&body())
        .await
        .expect("created");
    let token = apikley::CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(60)).await;
        cancel.cancel();
    });
    let started = Instant::now();
    let error = task.waiter().cancel_on(token).await.expect_err("cancelled");
    assert!(
        error.kind() == ErrorKind::Cancelled
            && error.task_id().map(|t| t.as_str()) == Some("task-1"),
        "{error:?}"
    );
    assert_eq!(started.elapsed(), Duration::from_secs(60));
}

#[tokio::test(start_paused = true)]
async fn a_failed_task_is_an_error_with_its_code_and_message() {
    let server = ScriptedServer::start(|seen, _| {
        if seen.target.contains("createTask") {
            return Reply::ok(created("task-9"));
        }
        let mut answer = record("task-9", "fail");
        answer["data"]["failCode"] = "422".into();
        answer["data"]["failMsg"] = "Invalid prompt: prompt contains prohibited content".into();
        Reply::ok(answer)
    })
    .await;
    let task = client(&server.url)
        .submit_body::<ExampleVideo>(&body())
        .await
        .expect("created");
    let error = task.wait().await.expect_err("failed");
    assert_eq!(error.kind(), ErrorKind::TaskFailed, "{error:?}");
    assert_eq!(error.task_id().map(|t| t.as_str()), Some("task-9"));
    assert_eq!(error.fail_code(), Some("422"));
    assert_eq!(
        error.fail_message(),
        Some("Invalid prompt: prompt contains prohibited content")
    );
}

#[tokio::test(start_paused = true)]
async fn a_task_resumed_by_id_is_queried_at_once() {
    let server = server_with_task(Instant::now(), Duration::ZERO).await;
    let started = Instant::now();
    let done = client(&server.url)
        .task("task-1")
        .wait()
        .await
        .expect("already done");
    assert_eq!(started.elapsed(), Duration::ZERO);
    assert_eq!(done.record().state, TaskState::Success);
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_lasting_refusal_ends_the_wait_with_the_task_id() {
    let server = ScriptedServer::start(|seen, _| {
        if seen.target.contains("createTask") {
            Reply::ok(created("task-1"))
        } else {
            Reply::Json(401, json!({"code": 401, "msg": "Unauthorized"}), vec![])
        }
    })
    .await;
    let task = client(&server.url)
        .submit_body::<ExampleVideo>(&body())
        .await
        .expect("created");
    let error = task.wait().await.expect_err("401 is final");
    assert_eq!(
        error.api().map(|e| e.code),
        Some(apikley::ApiCode::Unauthorized)
    );
    assert_eq!(error.task_id().map(|t| t.as_str()), Some("task-1"));
}

#[tokio::test(start_paused = true)]
async fn a_progress_callback_may_borrow_local_state() {
    let server = server_with_task(Instant::now(), Duration::from_secs(10)).await;
    let task = client(&server.url)
        .submit_body::<ExampleVideo>(&body())
        .await
        .expect("created");
    let mut states = Vec::new();
    task.waiter()
        .on_progress(|p| states.push(p.state.clone()))
        .await
        .expect("succeeds");
    assert_eq!(states.last(), Some(&TaskState::Success));
}

/// Defect 8: waits queued behind the rate limiter still end at their deadline (plus the grace
/// the last query has), however long the queue.
#[tokio::test(start_paused = true)]
async fn waits_queued_for_the_rate_limiter_end_by_their_deadline() {
    let server = server_with_task(Instant::now(), Duration::MAX).await;
    let client = builder(&server.url)
        .rate_limits(
            apikley::RateLimits::default()
                .with_creates(None)
                .with_queries(Some(apikley::RateLimit::new(1, Duration::from_secs(60)))),
        )
        .build()
        .expect("client");
    let started = Instant::now();
    let waits: Vec<_> = (0..20)
        .map(|_| {
            let task = client.task("task-1");
            tokio::spawn(async move {
                let outcome = task.waiter().deadline(Duration::from_secs(60)).await;
                (outcome, started.elapsed())
            })
        })
        .collect();
    for wait in waits {
        let (outcome, elapsed) = wait.await.expect("joins");
        assert!(
            matches!(&outcome, Err(e) if e.kind() == ErrorKind::WaitTimedOut),
            "{outcome:?}"
        );
        assert!(elapsed <= Duration::from_secs(70), "{elapsed:?}");
    }
    assert!(server.seen().len() <= 3, "{}", server.seen().len());
}

/// 10 tasks expected to take a minute and 30 expected to take ten, all waiting at once, with
/// each wait asking every second and the client allowed 2 status queries per second. Waits
/// served first come, first served would see each task every 20 s (a median lag near 10 s);
/// the 1-minute tasks can at best be seen every 5 s (10 of them at 2 per second);
/// the client's scheduler spends the budget on the tasks due to finish, and starves none.
#[tokio::test(start_paused = true)]
async fn a_short_query_budget_goes_to_the_tasks_due_to_finish() {
    let start = Instant::now();
    let ends: Vec<(String, Duration)> = (0..40)
        .map(|i| {
            let seconds = if i < 10 { 60 } else { 600 };
            (format!("task-{i}"), Duration::from_secs(seconds))
        })
        .collect();
    let table = ends.clone();
    let server = ScriptedServer::start(move |seen, _| {
        let id = seen.target.rsplit('=').next().expect("a task id");
        let (_, end) = table.iter().find(|(t, _)| t == id).expect("a known task");
        let state = if seen.at - start >= *end {
            "success"
        } else {
            "generating"
        };
        Reply::ok(record(id, state))
    })
    .await;
    let client = builder(&server.url)
        .rate_limits(
            apikley::RateLimits::none()
                .with_queries(Some(apikley::RateLimit::new(2, Duration::from_secs(1)))),
        )
        .build()
        .expect("client builds");

    let waits: Vec<_> = ends
        .iter()
        .map(|(id, end)| {
            let wait = client
                .task(id.as_str())
                .waiter()
                .schedule(PollSchedule::Every(Duration::from_secs(1)))
                .expecting(*end)
                .deadline(Duration::from_secs(3600));
            let end = *end;
            tokio::spawn(async move {
                wait.await.expect("succeeds");
                start.elapsed() - end
            })
        })
        .collect();
    let mut lags = Vec::new();
    for wait in waits {
        lags.push(wait.await.expect("joins"));
    }
    let median = |lags: &mut [Duration]| {
        lags.sort();
        lags[lags.len() / 2]
    };
    let short = median(&mut lags[..10]);
    let long = median(&mut lags[10..]);
    assert!(
        short <= Duration::from_secs(5),
        "median lag of the 1-minute tasks: {short:?}"
    );
    // The others were not starved: each was seen within a minute of its end.
    assert!(
        lags[10..].iter().all(|lag| *lag <= Duration::from_secs(60)),
        "{lags:?}"
    );
    assert!(
        long <= Duration::from_secs(20),
        "median lag of the 10-minute tasks: {long:?}"
    );
}

/// Durations from the user saturate: a schedule, an expectation or a deadline too large to add
/// to the clock never panics; the wait still ends at its deadline.
#[tokio::test(start_paused = true)]
async fn huge_durations_saturate_instead_of_panicking() {
    let server =
        ScriptedServer::start(|_, _| Reply::ok(crate::support::record("t", "generating"))).await;
    let client = builder(&server.url)
        .wait_options(WaitOptions::default().with_schedule(PollSchedule::Every(Duration::MAX)))
        .build()
        .expect("client");
    let error = client
        .task("t")
        .waiter()
        .expecting(Duration::MAX)
        .deadline(Duration::from_secs(120))
        .await
        .expect_err("still generating");
    assert_eq!(error.kind(), ErrorKind::WaitTimedOut, "{error:?}");
    // On callbacks, the fallback saturates too.
    let error = client
        .task("t")
        .waiter()
        .expecting(Duration::MAX)
        .callbacks(apikley::callback::CallbackInbox::new())
        .deadline(Duration::from_secs(120))
        .await
        .expect_err("still generating");
    assert_eq!(error.kind(), ErrorKind::WaitTimedOut, "{error:?}");
}
