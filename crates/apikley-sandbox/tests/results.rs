//! Verified results against the sandbox's faults, on tokio's paused clock: a link that serves a
//! page, an error or nothing saves nothing (the batch job stays resumable, and a rerun after the
//! link is fixed saves the file without paying again); a finished task is saved whatever its
//! state is called; a record about another task is never used; an image model's result is
//! named by what it is.

use std::path::Path;

use apikley::batch::{Batch, JobOutcome};
use apikley::{Content, MediaType, RateLimits, Request, TaskState};
use apikley_sandbox::{Faults, ResultBody, SAMPLE_IMAGE, SAMPLE_JPEG, SAMPLE_VIDEO, Sandbox};
use serde_json::json;

async fn sandbox(faults: Faults) -> Sandbox {
    Sandbox::builder()
        .speed(50.0)
        .credits(1e9)
        .faults(faults)
        .start()
        .await
        .expect("starts")
}

fn client(sandbox: &Sandbox) -> apikley::Client {
    sandbox
        .client()
        .for_paused_clock()
        .rate_limits(RateLimits::none())
        .build()
        .expect("client")
}

fn video(prompt: &str) -> Request {
    let spec = apikley_models::find("kling-2.6/text-to-video").expect("registered");
    Request::new(spec).with_inputs(json!({"prompt": prompt, "sound": false}))
}

fn image(prompt: &str, format: Option<&str>) -> Request {
    let spec = apikley_models::find("nano-banana-pro").expect("registered");
    let request = Request::new(spec).with_input("prompt", prompt);
    match format {
        Some(format) => request.with_input("output_format", format),
        None => request,
    }
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("reads")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("apikley-batch.sqlite") && n != ".apikley-batch.lock")
        .collect();
    names.sort();
    names
}

#[tokio::test(start_paused = true)]
async fn a_result_link_serving_a_page_an_error_or_nothing_saves_nothing_until_fixed() {
    for body in [ResultBody::Html, ResultBody::Json, ResultBody::Empty] {
        let sandbox = sandbox(Faults::none().with_result_body(Some(body))).await;
        let client = client(&sandbox);
        let dir = tempfile::tempdir().expect("temp dir");
        let target = dir.path().join("clip.mp4");
        let done = client
            .submit(video("A fox"))
            .await
            .expect("submits")
            .wait()
            .await
            .expect("finishes");
        let error = done.download(&target).await.expect_err("not a video");
        assert!(
            error.kind() == apikley::ErrorKind::NotAResult,
            "{body:?}: {error:?}"
        );
        assert_eq!(error.task_id(), Some(done.id()));
        assert!(
            files(dir.path()).is_empty(),
            "{body:?}: nothing at the target"
        );

        // The link fixed, the same task's video is saved.
        sandbox.set_faults(Faults::none());
        let file = client
            .download_task(done.id().clone(), &target)
            .await
            .expect("saved");
        assert_eq!(std::fs::read(&file.path).expect("reads"), SAMPLE_VIDEO);
        assert_eq!(file.content, Content::Media(MediaType::Mp4));
        assert_eq!(sandbox.stats().tasks_created, 1);
    }
}

#[tokio::test(start_paused = true)]
async fn a_batch_job_whose_link_serves_a_page_is_not_saved_and_a_rerun_saves_it() {
    let sandbox = sandbox(Faults::none().with_result_body(Some(ResultBody::Html))).await;
    let client = client(&sandbox);
    let dir = tempfile::tempdir().expect("temp dir");
    let run = || async {
        let mut batch = Batch::open(dir.path()).expect("opens");
        batch.add("fox-01", video("A fox")).expect("valid");
        batch.add("owl-01", video("An owl")).expect("valid");
        batch.run(&client).await.expect("runs")
    };
    let report = run().await;
    for job in &report.jobs {
        assert!(
            matches!(&job.outcome, JobOutcome::Error { task_id: Some(_), reason } if reason.contains("an HTML page")),
            "{}: {}",
            job.key,
            job.outcome
        );
    }
    assert!(files(dir.path()).is_empty(), "{:?}", files(dir.path()));

    sandbox.set_faults(Faults::none());
    let report = run().await;
    for job in &report.jobs {
        assert!(
            matches!(job.outcome, JobOutcome::Saved { earlier: false, .. }),
            "{}",
            job.outcome
        );
    }
    assert_eq!(files(dir.path()), ["fox-01.mp4", "owl-01.mp4"]);
    assert_eq!(
        std::fs::read(dir.path().join("fox-01.mp4")).expect("reads"),
        SAMPLE_VIDEO
    );
    assert_eq!(sandbox.stats().tasks_created, 2, "nothing paid twice");
}

#[tokio::test(start_paused = true)]
async fn a_finished_task_is_saved_whatever_its_state_is_called() {
    let sandbox = sandbox(Faults::none().with_finished_state("succeeded")).await;
    let client = client(&sandbox);
    let dir = tempfile::tempdir().expect("temp dir");

    // A wait, and a download by id.
    let done = client
        .submit(video("A fox"))
        .await
        .expect("submits")
        .wait()
        .await
        .expect("a finish with files is a finish");
    assert_eq!(done.record().state, TaskState::Unknown("succeeded".into()));
    let file = client
        .download_task(done.id().clone(), dir.path().join("by-id.mp4"))
        .await
        .expect("saved");
    assert_eq!(std::fs::read(&file.path).expect("reads"), SAMPLE_VIDEO);

    // A batch saves it as it would a `success` (and journals it saved).
    let batch_dir = dir.path().join("batch");
    std::fs::create_dir(&batch_dir).expect("creates");
    let run = || async {
        let mut batch = Batch::open(&batch_dir).expect("opens");
        batch
            .add("fox-01", video("A fox in a batch"))
            .expect("valid");
        batch.run(&client).await.expect("runs")
    };
    let report = run().await;
    assert!(
        matches!(
            report.jobs[0].outcome,
            JobOutcome::Saved { earlier: false, .. }
        ),
        "{}",
        report.jobs[0].outcome
    );
    let report = run().await;
    assert!(
        matches!(
            report.jobs[0].outcome,
            JobOutcome::Saved { earlier: true, .. }
        ),
        "{}",
        report.jobs[0].outcome
    );
    assert_eq!(files(&batch_dir), ["fox-01.mp4"]);
    assert_eq!(sandbox.stats().tasks_created, 2);
}

#[tokio::test(start_paused = true)]
async fn a_record_about_another_task_never_ends_a_wait() {
    let sandbox = sandbox(Faults::none().with_records_of_other_tasks(true)).await;
    let client = client(&sandbox);
    let task = client.submit(video("A fox")).await.expect("submits");
    let error = task.status().await.expect_err("another task's record");
    assert!(error.to_string().contains("-other"), "{error}");

    let waiting = tokio::spawn({
        let task = client.task(task.id().clone());
        async move { task.wait().await }
    });
    tokio::time::sleep(std::time::Duration::from_secs(60)).await;
    assert!(
        !waiting.is_finished(),
        "no other task's record ends the wait"
    );
    sandbox.set_faults(Faults::none());
    let done = waiting.await.expect("joins").expect("finishes");
    assert_eq!(done.id(), task.id());
    assert_eq!(done.record().id, *task.id());
}

#[tokio::test(start_paused = true)]
async fn an_image_model_whose_summary_names_no_kind_gives_the_format_asked_for() {
    let sandbox = sandbox(Faults::none()).await;
    let client = client(&sandbox);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut batch = Batch::open(dir.path()).expect("opens");
    batch
        .add("banana-png", image("A banana hero", None))
        .expect("valid");
    batch
        .add("banana-jpg", image("A banana hero", Some("jpg")))
        .expect("valid");
    let report = batch.run(&client).await.expect("runs");
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(files(dir.path()), ["banana-jpg.jpg", "banana-png.png"]);
    assert_eq!(
        std::fs::read(dir.path().join("banana-png.png")).expect("reads"),
        SAMPLE_IMAGE
    );
    assert_eq!(
        std::fs::read(dir.path().join("banana-jpg.jpg")).expect("reads"),
        SAMPLE_JPEG
    );
}
