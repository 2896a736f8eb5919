//! A batch on a PostgreSQL journal, run by one worker after another (each with its own output
//! folder): a create without an answer is never resent by another worker unless asked, and a
//! job another worker saved is reported from the journal, not done again.

use std::time::Duration;

use apikley::batch::{Batch, JobOutcome};
use apikley::{PollSchedule, RateLimits, Request, WaitOptions};
use apikley_sandbox::{Faults, Sandbox};
use apikley_test_support::postgres::Postgres;

const MODEL: &str = "kling-2.6/text-to-video";

fn request(i: usize) -> Request {
    let spec = apikley_models::find(MODEL).expect("registered");
    Request::new(spec).with_inputs(serde_json::json!({
        "prompt": format!("Shot number {i}"), "sound": false, "aspect_ratio": "16:9", "duration": "5"
    }))
}

/// A worker on the batch `shots` in the database at `url`, saving into `out_dir`.
async fn worker(url: &str, out_dir: &std::path::Path) -> Batch {
    let mut batch = Batch::open_shared(out_dir, url, "shots")
        .await
        .expect("opens");
    for i in 0..3 {
        batch
            .add(format!("shot-{i}"), request(i))
            .expect("a valid job");
    }
    batch
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_never_resend_an_unknown_create_and_report_what_others_saved() {
    let Some(server) = Postgres::start() else {
        return;
    };
    let url = server.url();
    let sandbox = Sandbox::builder()
        .speed(100.0)
        .credits(1e9)
        .faults(Faults::none().with_drop_after_create(true))
        .start()
        .await
        .expect("starts");
    let client = sandbox
        .client()
        .rate_limits(RateLimits::none())
        .wait_options(
            WaitOptions::default().with_schedule(PollSchedule::Every(Duration::from_secs(1))),
        )
        .build()
        .expect("client");
    let dir = tempfile::tempdir().expect("temp dir");
    let folder = |name: &str| dir.path().join(name);

    // The first worker's creates get no answer: unknown.
    let report = worker(&url, &folder("a"))
        .await
        .run(&client)
        .await
        .expect("runs");
    assert_eq!(report.counts.unknown, 3, "{report:#?}");
    assert_eq!(sandbox.tasks().len(), 3);

    // Another worker finds them unknown in the journal and sends nothing.
    sandbox.set_faults(Faults::none());
    let report = worker(&url, &folder("b"))
        .await
        .run(&client)
        .await
        .expect("runs");
    assert_eq!(report.counts.unknown, 3, "{report:#?}");
    assert_eq!(sandbox.tasks().len(), 3, "not resent");

    // Asked to, a third sends them again and saves them.
    let report = worker(&url, &folder("c"))
        .await
        .resend_unknown(true)
        .run(&client)
        .await
        .expect("runs");
    assert!(report.is_complete(), "{report:#?}");
    assert_eq!(sandbox.tasks().len(), 6, "resent, as asked");

    // A fourth finds every job saved by the third, and does nothing.
    let report = worker(&url, &folder("d"))
        .await
        .run(&client)
        .await
        .expect("runs");
    assert!(report.is_complete(), "{report:#?}");
    for job in &report.jobs {
        let JobOutcome::Saved { path, earlier, .. } = &job.outcome else {
            panic!("{job:?}");
        };
        assert!(*earlier && path.starts_with(folder("c")), "{job:?}");
    }
    assert_eq!(sandbox.tasks().len(), 6, "nothing sent");
    assert!(!folder("d").join("shot-0.mp4").exists());
}
