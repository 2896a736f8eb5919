//! `apikley` and what it saves, against a sandbox on 127.0.0.1: an image model's result named
//! by what it is; a link that serves a page instead of the video exits 6 with the task id and a
//! hint that, run as printed once the link works, saves the video without paying again; a batch
//! whose links serve pages saves nothing, and its rerun saves everything.

use std::path::Path;

use apikley_sandbox::{Faults, ResultBody, SAMPLE_IMAGE, SAMPLE_JPEG, SAMPLE_VIDEO};

mod support;
use support::{apikley, sandbox, text};

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("reads")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread")]
async fn an_image_model_whose_summary_names_no_kind_saves_the_image_it_made() {
    let dir = tempfile::tempdir().expect("temp dir");
    let png = dir.path().join("png");
    let jpg = dir.path().join("jpg");
    std::fs::create_dir(&png).expect("creates");
    std::fs::create_dir(&jpg).expect("creates");
    let run = [
        "run",
        "nano-banana-pro",
        "prompt=A banana hero",
        "--sandbox",
    ];
    let output = apikley(None, &run, &png).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    let saved = files(&png);
    assert_eq!(saved.len(), 1, "{saved:?}");
    assert!(
        saved[0].starts_with("nano-banana-pro-") && saved[0].ends_with(".png"),
        "{saved:?}"
    );
    assert_eq!(
        std::fs::read(png.join(&saved[0])).expect("reads"),
        SAMPLE_IMAGE
    );
    assert!(
        text(&output.stdout).contains("PNG image"),
        "{}",
        text(&output.stdout)
    );

    let output = apikley(None, &[&run[..], &["output_format=jpg"]].concat(), &jpg).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    let saved = files(&jpg);
    assert!(saved.len() == 1 && saved[0].ends_with(".jpg"), "{saved:?}");
    assert_eq!(
        std::fs::read(jpg.join(&saved[0])).expect("reads"),
        SAMPLE_JPEG
    );

    // A name given with -o is kept, and a contradiction said.
    let output = apikley(None, &[&run[..], &["-o", "banana.mp4"]].concat(), &jpg).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains(
            "warning: banana.mp4 holds PNG image, but its extension says MP4: kept as named"
        ),
        "{}",
        text(&output.stderr)
    );
    assert_eq!(
        std::fs::read(jpg.join("banana.mp4")).expect("reads"),
        SAMPLE_IMAGE
    );

    // `describe` says what the model makes, and what its file inputs take.
    let output = apikley(None, &["describe", "nano-banana-pro"], dir.path()).await;
    let described = text(&output.stdout);
    assert!(
        described.contains("produces: image (declared by its spec)"),
        "{described}"
    );
    assert!(
        described.contains("URL or local file: JPEG/PNG/WebP, at most 30 MB"),
        "{described}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_link_serving_a_page_an_error_or_nothing_exits_6_and_the_printed_hint_saves_the_video() {
    // The three at once: each run spends its retries' backoff before giving up.
    let runs = [
        (ResultBody::Html, "an HTML page"),
        (ResultBody::Json, "a JSON document"),
        (ResultBody::Empty, "an empty body"),
    ]
    .map(|(body, found)| tokio::spawn(a_link_serving(body, found)));
    for run in runs {
        run.await.expect("the run passes");
    }
}

async fn a_link_serving(body: ResultBody, found: &'static str) {
    let sandbox = sandbox(Faults::none().with_result_body(Some(body))).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let run = [
        "run",
        "kling-2.6/text-to-video",
        "prompt=A fox in snow",
        "sound=true",
        "-o",
        "fox.mp4",
    ];
    let output = apikley(Some(&sandbox), &run, dir.path()).await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(6), "{found}: {stderr}");
    let task = sandbox.tasks()[0].id.clone();
    assert!(stderr.contains(&format!("task {task}")), "{stderr}");
    assert!(
        stderr.contains(&format!("is {found}, not a media file")),
        "{stderr}"
    );
    assert!(files(dir.path()).is_empty(), "{:?}", files(dir.path()));
    let hint = stderr
        .lines()
        .find_map(|l| l.strip_prefix("resume with: "))
        .expect("a resume hint");
    assert_eq!(hint, format!("apikley download {task} -o fox.mp4"));

    // Followed as printed (the first word is the program) once the link works.
    sandbox.set_faults(Faults::none());
    let words: Vec<&str> = hint.split(' ').skip(1).collect();
    let output = apikley(Some(&sandbox), &words, dir.path()).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        std::fs::read(dir.path().join("fox.mp4")).expect("saved"),
        SAMPLE_VIDEO
    );
    assert_eq!(sandbox.stats().tasks_created, 1, "nothing paid twice");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_whose_links_serve_pages_saves_nothing_and_its_rerun_saves_everything() {
    let sandbox = sandbox(Faults::none().with_result_body(Some(ResultBody::Json))).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let jobs = [
        r#"{"key": "fox-01", "model": "kling-2.6/text-to-video", "input": {"prompt": "A fox", "sound": false}}"#,
        r#"{"key": "banana-01", "model": "nano-banana-pro", "input": {"prompt": "A banana", "output_format": "jpg"}}"#,
    ];
    std::fs::write(dir.path().join("jobs.jsonl"), jobs.join("\n")).expect("writes");
    let batch = [
        "batch",
        "jobs.jsonl",
        "--out-dir",
        "out",
        "--poll-interval",
        "1",
    ];
    std::fs::create_dir(dir.path().join("out")).expect("creates");
    let output = apikley(Some(&sandbox), &batch, dir.path()).await;
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    let saved: Vec<String> = files(&dir.path().join("out"))
        .into_iter()
        .filter(|f| !f.starts_with("apikley-batch") && f != ".apikley-batch.lock")
        .collect();
    assert!(saved.is_empty(), "{saved:?}");

    sandbox.set_faults(Faults::none());
    let output = apikley(Some(&sandbox), &batch, dir.path()).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    let out = dir.path().join("out");
    assert_eq!(
        std::fs::read(out.join("fox-01.mp4")).expect("saved"),
        SAMPLE_VIDEO
    );
    assert_eq!(
        std::fs::read(out.join("banana-01.jpg")).expect("saved"),
        SAMPLE_JPEG
    );
    assert_eq!(sandbox.stats().tasks_created, 2, "nothing paid twice");
}
