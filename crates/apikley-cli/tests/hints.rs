//! Every hint `apikley` prints is run as printed, by a POSIX shell, with a custom `--journal`,
//! `--out-dir` and `-o`, against a sandbox on 127.0.0.1: each does what it says, and none sends
//! a job that was already paid for. Also: Ctrl-C twice stops a batch at once with its journal
//! consistent; keys that would collide or name a device are refused before anything is sent; a
//! journal written by the previous version works; a run from another folder finds the files.

use std::path::Path;
use std::time::Duration;

use apikley_sandbox::{Faults, ResultBody, SAMPLE_VIDEO, Sandbox};
use serde_json::Value;

mod support;
use apikley_test_support::cli::until;
use support::{APIKLEY, apikley, shell, spawn, text};

/// The text after `prefix` on the line that has it.
fn hint<'a>(output: &'a str, prefix: &str) -> &'a str {
    output
        .lines()
        .find_map(|l| l.split_once(prefix).map(|(_, rest)| rest))
        .unwrap_or_else(|| panic!("no {prefix:?} in:\n{output}"))
}

async fn sandbox(faults: Faults) -> Sandbox {
    Sandbox::builder()
        .speed(60.0)
        .credits(1e9)
        .faults(faults)
        .start()
        .await
        .expect("sandbox starts")
}

fn job(key: &str, prompt: &str) -> String {
    format!(
        r#"{{"key": "{key}", "model": "kling-2.6/text-to-video", "input": {{"prompt": "{prompt}", "sound": false}}}}"#
    )
}

/// The journal somewhere else than the output folder, a folder with a space in its name.
const BATCH: [&str; 8] = [
    "batch",
    "jobs.jsonl",
    "--out-dir",
    "my videos",
    "--journal",
    "state/j.sqlite",
    "--poll-interval",
    "1",
];

#[tokio::test(flavor = "multi_thread")]
async fn the_batch_hints_run_as_printed_and_pay_for_nothing_twice() {
    let sandbox = sandbox(Faults::none()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("state")).expect("creates");
    std::fs::write(
        dir.path().join("jobs.jsonl"),
        [job("fox-01", "A fox"), job("owl-01", "An owl")].join("\n"),
    )
    .expect("writes");
    let output = apikley(Some(&sandbox), &BATCH, dir.path()).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(sandbox.stats().tasks_created, 2);

    // A third job, whose createTask gets no answer: its outcome is unknown.
    std::fs::write(
        dir.path().join("jobs.jsonl"),
        [
            job("fox-01", "A fox"),
            job("owl-01", "An owl"),
            job("cat-01", "A cat"),
        ]
        .join("\n"),
    )
    .expect("writes");
    sandbox.set_faults(Faults::none().with_drop_after_create(true));
    let output = apikley(Some(&sandbox), &BATCH, dir.path()).await;
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let resend = hint(&stdout, "to send them again anyway: ");
    assert_eq!(
        resend,
        "apikley batch jobs.jsonl --out-dir 'my videos' --journal state/j.sqlite --resend-unknown"
    );
    assert_eq!(sandbox.stats().tasks_created, 3);

    // As printed: only the unknown job is sent again; the two saved ones are not.
    sandbox.set_faults(Faults::none());
    let output = shell(resend, dir.path(), &sandbox).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        sandbox.stats().tasks_created,
        4,
        "only cat-01 was sent again"
    );
    assert_eq!(
        std::fs::read(dir.path().join("my videos/cat-01.mp4")).expect("saved"),
        SAMPLE_VIDEO
    );

    // "to go on": a result link that serves a page leaves the job to the next run.
    std::fs::write(
        dir.path().join("jobs.jsonl"),
        [
            job("fox-01", "A fox"),
            job("owl-01", "An owl"),
            job("cat-01", "A cat"),
            job("emu-01", "An emu"),
        ]
        .join("\n"),
    )
    .expect("writes");
    sandbox.set_faults(Faults::none().with_result_body(Some(ResultBody::Html)));
    let output = apikley(Some(&sandbox), &BATCH, dir.path()).await;
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    let go_on = hint(&text(&output.stdout), "to go on: ").to_owned();
    assert_eq!(
        go_on,
        "apikley batch jobs.jsonl --out-dir 'my videos' --journal state/j.sqlite"
    );
    sandbox.set_faults(Faults::none());
    let output = shell(&go_on, dir.path(), &sandbox).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        sandbox.stats().tasks_created,
        5,
        "emu-01 once, nothing else again"
    );
    assert!(dir.path().join("my videos/emu-01.mp4").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_run_and_wait_hints_run_as_printed() {
    let sandbox = sandbox(Faults::none()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("out dir")).expect("creates");

    // --no-wait: the wait that saves where the run would have.
    let run = [
        "run",
        "kling-2.6/text-to-video",
        "prompt=A fox",
        "sound=false",
        "--no-wait",
    ];
    let output = apikley(Some(&sandbox), &run, dir.path()).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    let task = text(&output.stdout).trim().to_owned();
    let resume = hint(&text(&output.stderr), "resume with: ").to_owned();
    assert!(
        resume.starts_with(&format!(
            "apikley wait {task} -o kling-2.6_text-to-video-{task}.mp4"
        )),
        "{resume}"
    );
    let output = shell(&resume, dir.path(), &sandbox).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    let saved = dir
        .path()
        .join(format!("kling-2.6_text-to-video-{task}.mp4"));
    assert_eq!(std::fs::read(&saved).expect("saved"), SAMPLE_VIDEO);

    // A result link that serves a page: the download hint, with -o and --overwrite.
    std::fs::write(dir.path().join("out dir/fox.mp4"), b"an older fox").expect("writes");
    sandbox.set_faults(Faults::none().with_result_body(Some(ResultBody::Empty)));
    let run = [
        "run",
        "kling-2.6/text-to-video",
        "prompt=A second fox",
        "sound=false",
        "-o",
        "out dir/fox.mp4",
        "--overwrite",
    ];
    let output = apikley(Some(&sandbox), &run, dir.path()).await;
    assert_eq!(output.status.code(), Some(6), "{}", text(&output.stderr));
    assert_eq!(
        std::fs::read(dir.path().join("out dir/fox.mp4")).expect("kept"),
        b"an older fox"
    );
    let resume = hint(&text(&output.stderr), "resume with: ").to_owned();
    assert!(
        resume.ends_with(" -o 'out dir/fox.mp4' --overwrite"),
        "{resume}"
    );
    sandbox.set_faults(Faults::none());
    let output = shell(&resume, dir.path(), &sandbox).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        std::fs::read(dir.path().join("out dir/fox.mp4")).expect("saved"),
        SAMPLE_VIDEO
    );
    assert_eq!(sandbox.stats().tasks_created, 2, "no task created twice");

    // With the built-in sandbox, no hint pretends its task outlives the command.
    let output = apikley(
        None,
        &[&run[..3], &["sound=false", "--no-wait", "--sandbox"]].concat(),
        dir.path(),
    )
    .await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    assert!(!stderr.contains("resume with"), "{stderr}");
    assert!(stderr.contains("ended with this command"), "{stderr}");
    assert!(
        stderr.contains("`apikley sandbox` in another terminal"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_twice_stops_a_batch_at_once_and_its_hint_goes_on_without_paying_twice() {
    // Every answer 30 s late: the first Ctrl-C lets the creates on their way finish, the
    // second does not wait for them.
    let sandbox = sandbox(Faults::none().with_slow(Duration::from_secs(30))).await;
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("state")).expect("creates");
    let jobs: Vec<String> = (0..4)
        .map(|i| job(&format!("shot-{i}"), &format!("Shot {i}")))
        .collect();
    std::fs::write(dir.path().join("jobs.jsonl"), jobs.join("\n")).expect("writes");
    let running = spawn(APIKLEY, Some(&sandbox), &BATCH, dir.path());
    until(&sandbox, |s| s.stats().create_requests == 2).await;
    assert_eq!(
        sandbox.stats().create_requests,
        2,
        "two creates on their way"
    );
    running.interrupt();
    tokio::time::sleep(Duration::from_millis(300)).await;
    running.interrupt();
    let started = std::time::Instant::now();
    let output = running.output(Duration::from_secs(30)).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stopped at once"
    );
    assert_eq!(output.status.code(), Some(130), "{}", text(&output.stderr));
    let go_on = hint(&text(&output.stderr), "stopped at once; to go on: ").to_owned();
    assert_eq!(
        go_on,
        "apikley batch jobs.jsonl --out-dir 'my videos' --journal state/j.sqlite"
    );

    // The journal is consistent: the two creates that were on their way are unknown (never
    // resent), the two never sent are sent now.
    sandbox.set_faults(Faults::none());
    let output = shell(&format!("{go_on} --json"), dir.path(), &sandbox).await;
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(report["counts"]["saved"], 2, "{report}");
    assert_eq!(report["counts"]["unknown"], 2, "{report}");
    let mut prompts: Vec<String> = sandbox
        .tasks()
        .iter()
        .map(|t| {
            t.param["input"]["prompt"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    let created = prompts.len();
    prompts.dedup();
    prompts.sort();
    prompts.dedup();
    assert_eq!(prompts.len(), created, "no job created twice: {prompts:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_that_would_collide_or_name_a_device_are_refused_with_nothing_sent() {
    let sandbox = sandbox(Faults::none()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("jobs.jsonl"),
        [
            job("Fox-01", "A fox"),
            job("fox-01", "Another fox"),
            job("NUL", "Nothing"),
        ]
        .join("\n"),
    )
    .expect("writes");
    let output = apikley(Some(&sandbox), &BATCH, dir.path()).await;
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("line 2: key \"fox-01\" differs from \"Fox-01\" on line 1 only in case"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 3: key \"NUL\": the key is a device name on Windows"),
        "{stderr}"
    );
    assert_eq!(sandbox.stats().create_requests, 0);
}

/// A journal written by the previous version (before schema versions, with fingerprints of
/// the whole body) keeps working: its saved jobs are recognised, nothing is sent. Then a run
/// from another folder finds the same files (paths are journaled whole).
#[tokio::test(flavor = "multi_thread")]
async fn a_journal_of_the_previous_version_works_and_another_folder_finds_the_files() {
    let sandbox = sandbox(Faults::none()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/journal-v0");
    std::fs::create_dir(dir.path().join("out")).expect("creates");
    std::fs::copy(fixture.join("jobs.jsonl"), dir.path().join("jobs.jsonl")).expect("copies");
    std::fs::copy(
        fixture.join("apikley-batch.sqlite"),
        dir.path().join("out/apikley-batch.sqlite"),
    )
    .expect("copies");
    for key in ["fox-01", "owl-01"] {
        std::fs::write(dir.path().join(format!("out/{key}.mp4")), SAMPLE_VIDEO).expect("writes");
    }
    let run = ["batch", "jobs.jsonl", "--out-dir", "out", "--json"];
    let output = apikley(Some(&sandbox), &run, dir.path()).await;
    assert!(
        output.status.success(),
        "{}{}",
        text(&output.stderr),
        text(&output.stdout)
    );
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(report["counts"]["saved"], 2, "{report}");
    assert!(
        report["jobs"]
            .as_array()
            .expect("jobs")
            .iter()
            .all(|j| j["earlier"] == true)
    );
    assert_eq!(sandbox.stats().create_requests, 0, "nothing sent");

    // From another folder, the same batch: every file found where the journal says.
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).expect("creates");
    let run = ["batch", "../jobs.jsonl", "--out-dir", "../out", "--json"];
    let output = apikley(Some(&sandbox), &run, &elsewhere).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(report["counts"]["saved"], 2, "{report}");
    assert_eq!(sandbox.stats().create_requests, 0, "nothing sent");
}

/// Callbacks received on a public address without a webhook key: said, not silently taken.
#[tokio::test(flavor = "multi_thread")]
async fn unsigned_callbacks_on_a_public_address_are_warned_about() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("jobs.jsonl"), "").expect("writes");
    let batch = [
        "batch",
        "jobs.jsonl",
        "--out-dir",
        "out",
        "--callback-url",
        "https://hooks.example/apikley",
        "--callback-listen",
        "0.0.0.0:0",
        "--sandbox",
    ];
    let output = apikley(None, &batch, dir.path()).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr)
            .contains("warning: listening for callbacks on 0.0.0.0:0 without a webhook key"),
        "{}",
        text(&output.stderr)
    );
    // With a key, or on loopback, nothing to warn about.
    let output = apikley(
        None,
        &[&batch[..7], &["127.0.0.1:0", "--sandbox"]].concat(),
        dir.path(),
    )
    .await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        !text(&output.stderr).contains("warning"),
        "{}",
        text(&output.stderr)
    );
}
