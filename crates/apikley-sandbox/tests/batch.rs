//! `apikley::batch` against the sandbox, on tokio's paused clock: every job saved once, runs
//! resumed from the journal without paying twice, unknown outcomes never resent, changed jobs
//! refused, cancellation, and the documented create limit kept to.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use apikley::batch::{Batch, BatchError, BatchEvent, JobOutcome, JobStage};
use apikley::{CancellationToken, RateLimit, RateLimits, Request};
use apikley_sandbox::{Faults, SAMPLE_VIDEO, Sandbox};

const MODEL: &str = "kling-2.6/text-to-video";

fn request(prompt: &str) -> Request {
    let spec = apikley_models::find(MODEL).expect("registered");
    Request::new(spec).with_inputs(serde_json::json!({
        "prompt": prompt, "sound": false, "aspect_ratio": "16:9", "duration": "5"
    }))
}

fn jobs(n: usize) -> Vec<(String, Request)> {
    (0..n)
        .map(|i| (format!("shot-{i:03}"), request(&format!("Shot number {i}"))))
        .collect()
}

async fn sandbox(faults: Faults) -> Sandbox {
    Sandbox::builder()
        .credits(1e9)
        .faults(faults)
        .start()
        .await
        .expect("starts")
}

fn client(sandbox: &Sandbox, limits: RateLimits) -> apikley::Client {
    sandbox
        .client()
        .for_paused_clock()
        .rate_limits(limits)
        .build()
        .expect("client")
}

fn batch(dir: &Path, jobs: &[(String, Request)]) -> Batch {
    let mut batch = Batch::open(dir).expect("opens");
    for (key, request) in jobs {
        batch.add(key, request.clone()).expect("a valid job");
    }
    batch
}

/// How many tasks the sandbox created for each prompt.
fn tasks_per_prompt(sandbox: &Sandbox) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for task in sandbox.tasks() {
        let prompt = task.param["input"]["prompt"]
            .as_str()
            .expect("a prompt")
            .to_owned();
        *counts.entry(prompt).or_insert(0) += 1;
    }
    counts
}

#[tokio::test(start_paused = true)]
async fn every_job_is_saved_once_and_a_second_run_sends_nothing() {
    let sandbox = sandbox(Faults::none()).await;
    let client = client(&sandbox, RateLimits::default());
    let dir = tempfile::tempdir().expect("temp dir");
    let jobs = jobs(20);

    let events = Arc::new(Mutex::new(Vec::<BatchEvent>::new()));
    let log = events.clone();
    let report = batch(dir.path(), &jobs)
        .concurrency(8)
        .run(&client)
        .on_event(move |e| log.lock().expect("not poisoned").push(e.clone()))
        .await
        .expect("runs");
    assert!(report.is_complete(), "{report:#?}");
    for (job, (key, _)) in report.jobs.iter().zip(&jobs) {
        assert_eq!(&job.key, key);
        let JobOutcome::Saved {
            path,
            bytes,
            earlier,
            ..
        } = &job.outcome
        else {
            panic!("{key}: {}", job.outcome);
        };
        assert!(!earlier);
        assert_eq!(path, &dir.path().join(format!("{key}.mp4")));
        assert_eq!(std::fs::read(path).expect("the file"), SAMPLE_VIDEO);
        assert_eq!(*bytes, SAMPLE_VIDEO.len() as u64);
    }
    assert!(tasks_per_prompt(&sandbox).values().all(|n| *n == 1));
    assert_eq!(sandbox.tasks().len(), 20);

    // Progress: never more than 8 jobs in flight, and the last event has them all saved.
    let events = std::mem::take(&mut *events.lock().expect("not poisoned"));
    let in_flight = events
        .iter()
        .map(|e| e.counts.submitting + e.counts.waiting + e.counts.downloading)
        .max();
    assert!(
        in_flight.is_some_and(|n| (1..=8).contains(&n)),
        "{in_flight:?}"
    );
    let last = events.last().expect("events");
    assert_eq!((last.counts.saved, last.counts.total), (20, 20));
    assert!(events.iter().any(|e| e.stage == JobStage::Waiting));
    assert!(events.iter().filter(|e| e.eta.is_some()).count() > 10);

    // Again, from the journal: nothing sent, every file checked.
    let again = batch(dir.path(), &jobs).run(&client).await.expect("runs");
    assert!(again.is_complete());
    assert!(
        again
            .jobs
            .iter()
            .all(|j| matches!(j.outcome, JobOutcome::Saved { earlier: true, .. }))
    );
    assert_eq!(sandbox.tasks().len(), 20);

    // A lost file is fetched again from its task, which is not created again.
    std::fs::remove_file(dir.path().join("shot-007.mp4")).expect("removes");
    let again = batch(dir.path(), &jobs).run(&client).await.expect("runs");
    assert!(again.is_complete());
    assert!(matches!(
        again.jobs[7].outcome,
        JobOutcome::Saved { earlier: false, .. }
    ));
    assert_eq!(sandbox.tasks().len(), 20);
}

#[tokio::test(start_paused = true)]
async fn a_create_without_an_answer_is_never_resent_unless_asked() {
    let sandbox = sandbox(Faults::none().with_drop_after_create(true)).await;
    let client = client(&sandbox, RateLimits::none());
    let dir = tempfile::tempdir().expect("temp dir");
    let jobs = jobs(3);

    let report = batch(dir.path(), &jobs).run(&client).await.expect("runs");
    assert!(
        report
            .jobs
            .iter()
            .all(|j| matches!(j.outcome, JobOutcome::OutcomeUnknown { .. })),
        "{report:#?}"
    );
    assert_eq!(report.counts.unknown, 3);
    assert_eq!(sandbox.tasks().len(), 3, "each create went through once");

    sandbox.set_faults(Faults::none());
    let report = batch(dir.path(), &jobs).run(&client).await.expect("runs");
    assert_eq!(report.counts.unknown, 3, "{report:#?}");
    assert_eq!(sandbox.tasks().len(), 3, "not resent");

    let report = batch(dir.path(), &jobs)
        .resend_unknown(true)
        .run(&client)
        .await
        .expect("runs");
    assert!(report.is_complete(), "{report:#?}");
    assert_eq!(sandbox.tasks().len(), 6, "resent, as asked");
}

#[tokio::test(start_paused = true)]
async fn a_job_changed_under_its_key_is_refused_before_anything_is_sent() {
    let sandbox = sandbox(Faults::none()).await;
    let client = client(&sandbox, RateLimits::none());
    let dir = tempfile::tempdir().expect("temp dir");
    let mut jobs = jobs(3);
    batch(dir.path(), &jobs).run(&client).await.expect("runs");
    let creates = sandbox.stats().create_requests;

    jobs[1].1 = request("Another shot entirely");
    jobs.push(("shot-new".into(), request("A new shot")));
    let error = batch(dir.path(), &jobs)
        .run(&client)
        .await
        .expect_err("refused");
    assert!(
        matches!(&error, BatchError::Changed(keys) if keys == &["shot-001"]),
        "{error}"
    );
    assert_eq!(sandbox.stats().create_requests, creates);

    // Dropping a job from the list leaves it in the journal, reported as dropped.
    let _dropped = jobs.remove(1);
    let report = batch(dir.path(), &jobs).run(&client).await.expect("runs");
    assert_eq!(report.dropped, ["shot-001"]);
    assert!(report.is_complete());
    assert_eq!(sandbox.tasks().len(), 4);
}

#[tokio::test(start_paused = true)]
async fn bad_jobs_and_a_journal_in_use_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut batch = Batch::open(dir.path()).expect("opens");
    let problem = |result: Result<(), BatchError>| match result {
        Err(BatchError::Job { problem, .. }) => problem.to_string(),
        other => panic!("{other:?}"),
    };
    assert!(problem(batch.add("../escape", request("A fox"))).starts_with("a key has letters"));
    assert!(problem(batch.add("Aux", request("A fox"))).contains("device name on Windows"));
    batch.add("fox", request("A fox")).expect("valid");
    for twin in ["fox", "FOX"] {
        assert_eq!(
            problem(batch.add(twin, request("A fox"))),
            "the key is used by another job (keys that differ only in case count as one)"
        );
    }
    let long = request(&"x".repeat(1001));
    assert!(problem(batch.add("long", long)).contains("input.prompt"));

    assert!(matches!(
        Batch::open(dir.path()),
        Err(BatchError::JournalInUse { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn cancelling_stops_cleanly_and_the_next_run_finishes_without_duplicates() {
    let sandbox = sandbox(Faults::none()).await;
    let client = client(&sandbox, RateLimits::default());
    let dir = tempfile::tempdir().expect("temp dir");
    let jobs = jobs(30);

    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    let report = batch(dir.path(), &jobs)
        .concurrency(10)
        .run(&client)
        .cancel_on(cancel)
        .on_event(move |e| {
            if e.counts.saved >= 5 {
                stop.cancel();
            }
        })
        .await
        .expect("runs");
    assert!(!report.is_complete());
    let stopped = report
        .jobs
        .iter()
        .filter(|j| matches!(j.outcome, JobOutcome::Stopped { .. }))
        .count();
    assert!(stopped > 0, "{report:#?}");
    let created_before = sandbox.tasks().len();
    assert!(created_before < 30, "submitting stopped: {created_before}");

    let report = batch(dir.path(), &jobs).run(&client).await.expect("runs");
    assert!(report.is_complete(), "{report:#?}");
    assert_eq!(sandbox.tasks().len(), 30);
    assert!(tasks_per_prompt(&sandbox).values().all(|n| *n == 1));
}

/// 200 jobs against the sandbox enforcing the documented 20 creates per 10 s, with the
/// client's default limits: no 429, and the creates come at the limit's pace.
#[tokio::test(start_paused = true)]
async fn two_hundred_jobs_keep_to_the_create_limit_at_its_pace() {
    let limit = RateLimit::new(20, Duration::from_secs(10));
    let sandbox = sandbox(Faults::none().with_rate_limit(limit)).await;
    let client = client(&sandbox, RateLimits::default());
    let dir = tempfile::tempdir().expect("temp dir");
    let jobs = jobs(200);
    let report = batch(dir.path(), &jobs).run(&client).await.expect("runs");
    assert!(report.is_complete(), "{}", report.counts);
    assert_eq!(sandbox.stats().rate_limited, 0);
    let created: Vec<Duration> = sandbox.tasks().iter().map(|t| t.created).collect();
    assert_eq!(created.len(), 200);
    let span = created[199] - created[0];
    // 200 creates at 20 per 10 s fill ten windows: the first at once, the last 90 s later.
    let rate = 200.0 / (span + limit.per).as_secs_f64();
    let allowed = f64::from(limit.max) / limit.per.as_secs_f64();
    println!(
        "200 creates in {span:?} + one window: {rate:.3}/s, {:.1}% of the limit",
        100.0 * rate / allowed
    );
    assert!(
        rate >= 0.95 * allowed && rate <= allowed * 1.001,
        "{rate}/s"
    );
}

/// Callbacks instead of polling, for a whole batch: each job's task is queried once, to confirm
/// the callback that said it ended. On the real clock (callbacks are real HTTP), fast sandbox.
#[tokio::test]
async fn a_batch_on_callbacks_queries_each_task_once() {
    let inbox = apikley::callback::CallbackInbox::new();
    let app = apikley::callback::axum::inbox_router("/hook", inbox.clone(), None);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let hook = format!("http://{}/hook", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, app).await });

    let sandbox = Sandbox::builder()
        .credits(1e9)
        .speed(40.0)
        .start()
        .await
        .expect("starts");
    // Polling every second would query each task about twice before its end.
    let client = sandbox
        .client()
        .rate_limits(RateLimits::none())
        .wait_options(
            apikley::WaitOptions::default()
                .with_schedule(apikley::PollSchedule::Every(Duration::from_secs(1))),
        )
        .build()
        .expect("client");
    let dir = tempfile::tempdir().expect("temp dir");
    let jobs = jobs(6);
    let report = batch(dir.path(), &jobs)
        .concurrency(6)
        .run(&client)
        .callbacks(hook, inbox)
        .await
        .expect("runs");
    assert!(report.is_complete(), "{:?}", report.counts);
    let stats = sandbox.stats();
    assert_eq!(stats.tasks_created, 6);
    assert_eq!(stats.callbacks_delivered, 6);
    assert_eq!(stats.status_queries, 6, "one confirming query per task");
    for task in sandbox.tasks() {
        assert!(
            task.param["callBackUrl"]
                .as_str()
                .is_some_and(|u| u.ends_with("/hook"))
        );
    }
}

/// A batch resumed on callbacks looks at each task it resumes once, at the start: a task that
/// ended while nothing ran (its callback long gone) is saved at once, not after the fallback.
#[tokio::test(start_paused = true)]
async fn a_resumed_batch_on_callbacks_looks_at_each_task_once_at_the_start() {
    let sandbox = sandbox(Faults::none()).await;
    let client = client(&sandbox, RateLimits::none());
    let dir = tempfile::tempdir().expect("temp dir");
    let jobs = jobs(4);
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    let report = batch(dir.path(), &jobs)
        .run(&client)
        .cancel_on(cancel)
        .on_event(move |e| {
            if e.counts.waiting == 4 {
                stop.cancel();
            }
        })
        .await
        .expect("runs");
    assert_eq!(report.counts.saved, 0);
    assert_eq!(sandbox.stats().tasks_created, 4);
    // The tasks end while nothing runs.
    tokio::time::sleep(Duration::from_secs(3600)).await;

    let queries = sandbox.stats().status_queries;
    let inbox = apikley::callback::CallbackInbox::new();
    let started = tokio::time::Instant::now();
    let report = batch(dir.path(), &jobs)
        .run(&client)
        .callbacks("http://127.0.0.1:9/hook", inbox)
        .await
        .expect("runs");
    assert!(report.is_complete(), "{:?}", report.counts);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "saved at once, not after the fallback: {:?}",
        started.elapsed()
    );
    assert_eq!(
        sandbox.stats().status_queries - queries,
        4,
        "one look per task"
    );
    assert_eq!(sandbox.stats().tasks_created, 4);
}

/// One run per output folder: a second one with another journal is refused while the first
/// holds the folder, and let in once it is done.
#[tokio::test(start_paused = true)]
async fn a_second_run_with_another_journal_is_kept_out_of_the_folder() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = Batch::open(dir.path()).expect("opens");
    let other_journal = dir.path().join("elsewhere.sqlite");
    match Batch::open_with_journal(dir.path(), &other_journal) {
        Err(BatchError::FolderInUse { journal, .. }) => {
            assert!(journal.ends_with("apikley-batch.sqlite"), "{journal}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        Batch::open(dir.path()),
        Err(BatchError::JournalInUse { .. })
    ));
    drop(first);
    Batch::open_with_journal(dir.path(), &other_journal).expect("the folder is free again");
}

/// "Changed" means what the user wrote changed: a spec whose default changed (an upgrade)
/// does not make a paid job look changed, and nothing is sent again.
#[tokio::test(start_paused = true)]
async fn a_changed_default_does_not_make_a_job_look_changed() {
    let sandbox = sandbox(Faults::none()).await;
    let client = client(&sandbox, RateLimits::none());
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = apikley_models::find(MODEL).expect("registered");
    let written = serde_json::json!({"prompt": "A fox", "sound": false});
    let mut batch = Batch::open(dir.path()).expect("opens");
    batch
        .add(
            "fox",
            Request::new(spec.clone()).with_inputs(written.clone()),
        )
        .expect("valid");
    assert!(batch.run(&client).await.expect("runs").is_complete());

    // The same spec, its `aspect_ratio` default changed.
    let mut document: serde_json::Value =
        serde_json::from_str(kling_2_6_text_to_video_raw::SPEC).expect("JSON");
    document["paths"]["/api/v1/jobs/createTask"]["post"]["requestBody"]["content"]["application/json"]
        ["schema"]["properties"]["input"]["properties"]["aspect_ratio"]["default"] = "16:9".into();
    let upgraded = Arc::new(apikley::ModelSpec::from_document(&document).expect("a model"));
    let mut batch = Batch::open(dir.path()).expect("opens");
    batch
        .add("fox", Request::new(upgraded).with_inputs(written))
        .expect("valid");
    let report = batch.run(&client).await.expect("not refused as changed");
    assert!(matches!(
        report.jobs[0].outcome,
        JobOutcome::Saved { earlier: true, .. }
    ));
    assert_eq!(sandbox.stats().tasks_created, 1);

    // What the user wrote, changed: refused, nothing sent, and the advice pays nothing again.
    let mut batch = Batch::open(dir.path()).expect("opens");
    batch.add("fox", request("A fox, changed")).expect("valid");
    let error = batch.run(&client).await.expect_err("changed");
    let advice = error.to_string();
    assert!(matches!(error, BatchError::Changed(_)), "{advice}");
    assert!(advice.contains("keep using it"), "{advice}");
    assert!(!advice.contains("new output folder"), "{advice}");
    assert_eq!(sandbox.stats().tasks_created, 1);
}

/// A killed run's partial downloads are removed when the batch is run again; other files stay.
#[tokio::test(start_paused = true)]
async fn partial_downloads_of_a_killed_run_are_removed_on_resume() {
    let sandbox = sandbox(Faults::none()).await;
    let client = client(&sandbox, RateLimits::none());
    let dir = tempfile::tempdir().expect("temp dir");
    let leftover = dir.path().join(".shot-000.mp4.a1B2c3.part");
    let other = dir.path().join(".notes.part");
    std::fs::write(&leftover, b"half a video").expect("writes");
    std::fs::write(&other, b"someone else's").expect("writes");
    let report = batch(dir.path(), &jobs(2))
        .run(&client)
        .await
        .expect("runs");
    assert!(report.is_complete());
    assert!(!leftover.exists(), "the partial download is gone");
    assert!(other.exists(), "a file that is no job's stays");
}
