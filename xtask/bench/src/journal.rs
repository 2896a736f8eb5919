//! Bench 9: what a batch's journal costs the runtime. 250 jobs in flight against the sandbox on
//! the real clock, the journal on disk (synced at every step), while a 10 ms timer measures how
//! late the runtime wakes it: a write that blocks a worker shows as a stall. Compared with the
//! same timer while nothing else runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use apikley::batch::Batch;
use apikley::{PollSchedule, RateLimits, WaitOptions};
use apikley_sandbox::{Faults, Sandbox, SandboxModel};

use crate::common::{quantile, request, spec};
use crate::table::Row;

const TICK: Duration = Duration::from_millis(10);

/// How late each tick of a 10 ms timer came, in ms, until `done` is set.
async fn ticks(done: Arc<AtomicBool>) -> Vec<f64> {
    let mut lateness = Vec::new();
    let mut interval = tokio::time::interval(TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut expected = tokio::time::Instant::now();
    while !done.load(Ordering::Relaxed) {
        interval.tick().await;
        let now = tokio::time::Instant::now();
        lateness.push(now.saturating_duration_since(expected).as_secs_f64() * 1000.0);
        expected = now + TICK;
    }
    lateness
}

/// The longest stall, in ms, and the figures in words.
fn summary(mut lateness: Vec<f64>) -> (f64, String) {
    let p99 = quantile(&mut lateness, 0.99);
    let worst = lateness.last().copied().unwrap_or(f64::NAN);
    let text = format!(
        "longest stall {worst:.1} ms (p99 {p99:.1} ms, {} ticks)",
        lateness.len()
    );
    (worst, text)
}

pub fn stall(quick: bool) -> Row {
    let jobs = if quick { 60 } else { 250 };
    // As the CLI runs: a multi-threaded runtime with a worker per core (2 here).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        // The timer alone, for as long as a batch about takes.
        let done = Arc::new(AtomicBool::new(false));
        let timer = tokio::spawn(ticks(done.clone()));
        tokio::time::sleep(Duration::from_secs(if quick { 1 } else { 3 })).await;
        done.store(true, Ordering::Relaxed);
        let alone = timer.await.expect("the timer runs");

        let sandbox = Sandbox::builder()
            .speed(300.0)
            .credits(1e12)
            .model(SandboxModel::from_spec(spec()))
            .faults(Faults::none())
            .start()
            .await
            .expect("the sandbox starts");
        let client = sandbox
            .client()
            .rate_limits(RateLimits::none())
            .wait_options(
                WaitOptions::default()
                    .with_schedule(PollSchedule::Every(Duration::from_millis(50))),
            )
            .build()
            .expect("a client");
        let dir = tempfile::tempdir().expect("a temporary folder");
        let spec = spec();
        let mut batch = Batch::open(dir.path())
            .expect("the journal opens")
            .concurrency(jobs);
        for i in 0..jobs {
            let job = request(&spec, Duration::from_secs(30), &format!("journal {i}"));
            batch.add(format!("job-{i:03}"), job).expect("a valid job");
        }
        let done = Arc::new(AtomicBool::new(false));
        let timer = tokio::spawn(ticks(done.clone()));
        let report = batch.run(&client).await.expect("the batch runs");
        done.store(true, Ordering::Relaxed);
        let during = timer.await.expect("the timer runs");
        assert!(report.is_complete(), "every job saved: {:?}", report.counts);
        let (worst, ours) = summary(during);
        Row {
            bench: "9 journal",
            case: format!(
                "{jobs} jobs in flight, journal synced on disk, 2 workers: a 10 ms timer"
            ),
            ours,
            other: format!("the timer alone: {}", summary(alone).1),
            target: "longest stall ≤ 50 ms".into(),
            met: Some(worst <= 50.0),
        }
    })
}
