//! The fault suite: the client against the sandbox misbehaving on purpose, on tokio's paused
//! clock. Every wait ends with the right result within its deadline, no task is ever created
//! twice, and nothing panics. The counts are printed (`--nocapture`) for the record.

use std::time::Duration;

use apikley::{RateLimits, TaskState};
use apikley_sandbox::{Faults, STATUS_FAULT_DELAY, Sandbox};
use seedance::{Resolution, VideoLength, VideoRequest};

const WAITS: usize = 200;

/// 200 tasks, each submitted and waited for, while 30% of status queries fail in every way the
/// sandbox knows: HTTP 500, 455, a dropped connection, an answer slower than the request
/// timeout, an HTML page with status 200.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn every_wait_ends_right_and_in_time_through_status_faults() {
    let sandbox = Sandbox::builder()
        .seed(9)
        .credits(1e9)
        .faults(Faults::none().with_status_fault_rate(0.3))
        .start()
        .await
        .expect("starts");
    let timeout = Duration::from_secs(30);
    assert!(
        STATUS_FAULT_DELAY > timeout,
        "slow answers outlast the timeout"
    );
    let client = sandbox
        .client()
        .for_paused_clock()
        .request_timeout(Some(timeout))
        .rate_limits(RateLimits::default())
        .build()
        .expect("client");
    let deadline = Duration::from_secs(15 * 60);
    let started = tokio::time::Instant::now();
    let waits: Vec<_> = (0..WAITS)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                let request = VideoRequest::new(format!("Shot number {i}"))
                    .duration(VideoLength::Seconds4)
                    .resolution(Resolution::P480);
                let task = client.submit(request).await.expect("created");
                let submitted = tokio::time::Instant::now();
                let done = task.waiter().deadline(deadline).await;
                (done, submitted.elapsed())
            })
        })
        .collect();
    let mut completed = 0;
    for wait in waits {
        let (done, took) = wait.await.expect("no panic");
        let done = done.expect("every wait ends with the video");
        assert_eq!(done.record().state, TaskState::Success);
        assert_eq!(done.urls().len(), 1);
        assert!(took <= deadline, "{took:?}");
        completed += 1;
    }
    let stats = sandbox.stats();
    println!(
        "fault suite: {} status queries, {} faults injected ({} connections dropped), \
         {completed} of {WAITS} waits completed in {:?} of sandbox time, {} tasks created, 0 panics",
        stats.status_queries,
        stats.status_faults,
        stats.dropped,
        started.elapsed(),
        stats.tasks_created
    );
    assert_eq!(completed, WAITS);
    assert_eq!(stats.tasks_created, WAITS as u64, "no duplicate task");
    assert_eq!(stats.create_requests, WAITS as u64);
    assert!(stats.dropped > 0, "connections were dropped");
    let rate = stats.status_faults as f64 / stats.status_queries as f64;
    assert!((0.2..0.4).contains(&rate), "fault rate {rate}");
}

/// The connection drops after every create: every caller learns that the outcome is unknown,
/// with what to do, and no create is ever sent twice.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_drop_after_every_create_never_duplicates_a_task() {
    let sandbox = Sandbox::builder()
        .credits(1e9)
        .faults(Faults::none().with_drop_after_create(true))
        .start()
        .await
        .expect("starts");
    let client = sandbox.client().for_paused_clock().build().expect("client");
    let submits: Vec<_> = (0..50)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                client
                    .submit(VideoRequest::new(format!("Shot number {i}")))
                    .await
            })
        })
        .collect();
    for submit in submits {
        let error = submit.await.expect("no panic").expect_err("no answer");
        assert!(error.is_outcome_unknown(), "{error:?}");
        let words = error.to_string();
        assert!(words.contains("it was not resent"), "{words}");
        assert!(words.contains("Check the task list"), "{words}");
    }
    let stats = sandbox.stats();
    println!(
        "drop after create: {} creates sent, {} tasks created, {} duplicates",
        stats.create_requests,
        stats.tasks_created,
        stats.create_requests - 50
    );
    assert_eq!((stats.create_requests, stats.tasks_created), (50, 50));
}
