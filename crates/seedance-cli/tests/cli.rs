//! The `seedance` binary against a sandbox on 127.0.0.1: non-terminal output (insta snapshots
//! with ids, ports and times masked), exit codes, and the README's offline first command.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use apikley_sandbox::{Faults, SAMPLE_VIDEO, Sandbox};

/// Runs `seedance` with `args` against `sandbox` (or with no service configured).
async fn seedance(sandbox: Option<&Sandbox>, args: &[&str], dir: &Path) -> Output {
    let mut command = assert_cmd::cargo::cargo_bin_cmd!("seedance");
    command
        .args(args)
        .current_dir(dir)
        .env_remove("APIKLEY_API_KEY")
        .env_remove("APIKLEY_BASE_URL")
        .timeout(Duration::from_secs(60));
    if let Some(sandbox) = sandbox {
        command
            .env("APIKLEY_BASE_URL", sandbox.url())
            .env("APIKLEY_API_KEY", sandbox.api_key());
    }
    // The sandbox keeps serving on this runtime while the binary runs.
    tokio::task::spawn_blocking(move || command.output().expect("runs"))
        .await
        .expect("joins")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Masks what changes from run to run: task ids, ports, times, and the states a poll happened
/// to see on the way (the final one stays).
macro_rules! snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({
            filters => vec![
                (r"task_sandbox_[0-9a-f]{16}", "[TASK]"),
                (r"127\.0\.0\.1:\d+", "[HOST]"),
                (r"after \d+:\d\d", "after [TIME]"),
                (r"(?m)^(waiting|queuing|generating) after \[TIME\]\n", ""),
                // The allowed values are the spec's: checked against it, not written here.
                (r"must be one of [^(]+ \(got", "must be one of [THE SPEC'S VALUES] (got"),
            ]
        }, {
            insta::assert_snapshot!($name, $value);
        });
    };
}

/// The values the Seedance spec allows for `input`, as violations list them.
fn one_of(input: &str) -> String {
    let spec = apikley::ModelSpec::of::<seedance::Seedance15Pro>().expect("the spec reads");
    let input = spec.input(input).expect("an input of the spec");
    let values: Vec<String> = input
        .values()
        .iter()
        .map(|v| match v {
            serde_json::Value::String(s) if s.parse::<f64>().is_ok() => format!("{s:?}"),
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    values.join(", ")
}

async fn fast_sandbox(faults: Faults) -> Sandbox {
    Sandbox::builder()
        .speed(60.0)
        .faults(faults)
        .start()
        .await
        .expect("sandbox starts")
}

#[tokio::test(flavor = "multi_thread")]
async fn generate_waits_and_saves_the_video() {
    let sandbox = fast_sandbox(Faults::none()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let output = seedance(
        Some(&sandbox),
        &[
            "generate",
            "A serene beach at sunset",
            "--aspect-ratio",
            "16:9",
            "-o",
            "beach.mp4",
            "--poll-interval",
            "1",
        ],
        dir.path(),
    )
    .await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout),
        "saved beach.mp4 (10777 bytes, MP4 video)\n",
        "stdout holds the result only"
    );
    snapshot!("generate_plain", text(&output.stderr));
    assert_eq!(
        std::fs::read(dir.path().join("beach.mp4")).expect("saved"),
        SAMPLE_VIDEO
    );
    assert_eq!(sandbox.stats().tasks_created, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn generate_json_is_one_document() {
    let sandbox = fast_sandbox(Faults::none()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let output = seedance(
        Some(&sandbox),
        &[
            "--json",
            "generate",
            "A serene beach at sunset",
            "-o",
            "beach.mp4",
            "--poll-interval",
            "1",
        ],
        dir.path(),
    )
    .await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let document: serde_json::Value =
        serde_json::from_str(&stdout).expect("exactly one JSON document");
    assert_eq!(document["bytes"], SAMPLE_VIDEO.len());
    snapshot!("generate_json", stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_input_lists_every_problem_and_sends_nothing() {
    let sandbox = fast_sandbox(Faults::none()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("photo.png"),
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00",
    )
    .expect("writes");
    let output = seedance(
        Some(&sandbox),
        &[
            "generate",
            "ab",
            "--aspect-ratio",
            "5:4",
            "--duration",
            "5",
            "--resolution",
            "1080p",
            "--image",
            "photo.png",
            "--image",
            "https://example.com/b.png",
            "--image",
            "ftp://example.com/c.png",
            "--callback-url",
            "callbacks/seedance",
        ],
        dir.path(),
    )
    .await;
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(text(&output.stdout), "");
    let stderr = text(&output.stderr);
    snapshot!("invalid_input", stderr.clone());
    for input in ["aspect_ratio", "resolution", "duration"] {
        let expected = format!("input.{input} must be one of {} (got", one_of(input));
        assert!(stderr.contains(&expected), "{expected}\n{stderr}");
    }
    let stats = sandbox.stats();
    assert_eq!(
        (stats.create_requests, stats.uploads),
        (0, 0),
        "a request was made"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_api_error_is_one_sentence_with_its_own_exit_code() {
    let sandbox = Sandbox::builder()
        .credits(0.0)
        .start()
        .await
        .expect("sandbox starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let output = seedance(
        Some(&sandbox),
        &["generate", "A serene beach at sunset"],
        dir.path(),
    )
    .await;
    assert_eq!(output.status.code(), Some(3));
    snapshot!("api_error", text(&output.stderr));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_task_names_the_task_and_exits_4() {
    let faults = Faults::none().with_failing_tasks("500", "Internal server error");
    let sandbox = fast_sandbox(faults).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let output = seedance(
        Some(&sandbox),
        &[
            "generate",
            "A serene beach at sunset",
            "--poll-interval",
            "1",
        ],
        dir.path(),
    )
    .await;
    assert_eq!(output.status.code(), Some(4));
    snapshot!("failed_task", text(&output.stderr));
    let json = seedance(
        Some(&sandbox),
        &[
            "--json",
            "generate",
            "A serene beach at sunset",
            "--poll-interval",
            "1",
        ],
        dir.path(),
    )
    .await;
    assert_eq!(json.status.code(), Some(4));
    snapshot!("failed_task_json", text(&json.stdout));
}

#[tokio::test(flavor = "multi_thread")]
async fn no_wait_then_status_wait_download_and_credits() {
    let sandbox = fast_sandbox(Faults::none()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let submitted = seedance(
        Some(&sandbox),
        &["--json", "generate", "A serene beach", "--no-wait"],
        dir.path(),
    )
    .await;
    assert!(submitted.status.success(), "{}", text(&submitted.stderr));
    let document: serde_json::Value = serde_json::from_slice(&submitted.stdout).expect("JSON");
    let id = document["task_id"].as_str().expect("task id").to_owned();
    assert_eq!(document["state"], "submitted");

    let waited = seedance(
        Some(&sandbox),
        &["wait", &id, "--poll-interval", "1"],
        dir.path(),
    )
    .await;
    assert!(waited.status.success(), "{}", text(&waited.stderr));
    assert!(text(&waited.stdout).contains(&format!("/files/results/{id}.mp4")));

    let status = seedance(Some(&sandbox), &["--json", "status", &id], dir.path()).await;
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).expect("JSON");
    assert_eq!(status["state"], "success");

    let downloaded = seedance(
        Some(&sandbox),
        &["download", &id, "-o", "again.mp4"],
        dir.path(),
    )
    .await;
    assert!(downloaded.status.success(), "{}", text(&downloaded.stderr));
    assert_eq!(
        std::fs::read(dir.path().join("again.mp4")).expect("saved"),
        SAMPLE_VIDEO
    );
    let refused = seedance(
        Some(&sandbox),
        &["download", &id, "-o", "again.mp4"],
        dir.path(),
    )
    .await;
    assert_eq!(refused.status.code(), Some(2), "an existing file is kept");

    let credits = seedance(Some(&sandbox), &["credits"], dir.path()).await;
    assert_eq!(
        text(&credits.stdout),
        format!("credits: {}\n", sandbox.credits())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_key_the_error_suggests_the_sandbox() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = seedance(None, &["credits"], dir.path()).await;
    assert_eq!(output.status.code(), Some(2));
    snapshot!("no_key", text(&output.stderr));
}

/// The README's first command: a real video, offline, with only the binary.
#[tokio::test(flavor = "multi_thread")]
async fn the_readme_first_command_makes_a_video_offline() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = seedance(
        None,
        &[
            "generate",
            "--sandbox",
            "A serene beach at sunset",
            "-o",
            "beach.mp4",
        ],
        dir.path(),
    )
    .await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        std::fs::read(dir.path().join("beach.mp4")).expect("saved"),
        SAMPLE_VIDEO
    );
    assert!(
        text(&output.stdout).ends_with("saved beach.mp4 (10777 bytes, MP4 video)\n"),
        "{}",
        text(&output.stdout)
    );
}

/// Ctrl-C during a wait leaves the task running and says how to resume it.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_during_a_wait_says_how_to_resume() {
    let sandbox = Sandbox::builder()
        .speed(0.01)
        .start()
        .await
        .expect("sandbox starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin!("seedance"))
        .args([
            "generate",
            "A serene beach at sunset",
            "--poll-interval",
            "1",
        ])
        .current_dir(dir.path())
        .env("APIKLEY_BASE_URL", sandbox.url())
        .env("APIKLEY_API_KEY", sandbox.api_key())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starts");
    // Once the task exists, interrupt.
    for _ in 0..200 {
        if sandbox.stats().tasks_created == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(sandbox.stats().tasks_created, 1, "the task was created");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = child.id();
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let waiting = tokio::task::spawn_blocking(move || child.wait_with_output().expect("exits"));
    let output = match tokio::time::timeout(Duration::from_secs(30), waiting).await {
        Ok(joined) => joined.expect("joins"),
        Err(_) => {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("seedance did not stop on SIGINT");
        }
    };
    assert_eq!(output.status.code(), Some(130));
    snapshot!("interrupted", text(&output.stderr));
}

/// Defect 2: where the video goes is checked before anything is paid for.
#[tokio::test(flavor = "multi_thread")]
async fn an_unusable_output_path_is_refused_before_any_request() {
    let sandbox = fast_sandbox(Faults::none()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("existing.mp4"), b"keep me").expect("writes");
    for (args, problem) in [
        (
            vec!["-o", "existing.mp4"],
            "already exists; pass --overwrite",
        ),
        (vec!["-o", "missing/clip.mp4"], "is not an existing folder"),
        (vec!["-o", "."], "is a folder"),
    ] {
        let mut command = vec!["generate", "A serene beach at sunset"];
        command.extend(&args);
        let output = seedance(Some(&sandbox), &command, dir.path()).await;
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(
            text(&output.stderr).contains(problem),
            "{}",
            text(&output.stderr)
        );
        let mut json = vec!["--json"];
        json.extend(&command);
        let output = seedance(Some(&sandbox), &json, dir.path()).await;
        let document: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
        assert_eq!(document["error"]["kind"], "file");
        assert_eq!(document["error"]["task_id"], serde_json::Value::Null);
    }
    let stats = sandbox.stats();
    assert_eq!(
        (stats.create_requests, stats.uploads),
        (0, 0),
        "nothing was sent"
    );
    assert_eq!(
        std::fs::read(dir.path().join("existing.mp4")).expect("kept"),
        b"keep me"
    );
}

/// Defect 11: argument errors are one JSON document too with `--json`.
#[tokio::test(flavor = "multi_thread")]
async fn argument_errors_are_json_with_json() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = seedance(None, &["--json", "generate", "--no-such-flag"], dir.path()).await;
    assert_eq!(output.status.code(), Some(2));
    let document: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("exactly one JSON document");
    assert_eq!(document["error"]["kind"], "usage");
    assert!(
        document["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("--no-such-flag")),
        "{document}"
    );
    let plain = seedance(None, &["generate", "--no-such-flag"], dir.path()).await;
    assert_eq!(plain.status.code(), Some(2));
    assert_eq!(text(&plain.stdout), "");
    assert!(text(&plain.stderr).contains("--no-such-flag"));
}

/// Defects 1 and 11: the disk fills up while the video is saved (a file size limit on the
/// process). The task exists and is paid for: the error names it and says how to save its video
/// with the same `-o`, and no partial file is left.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_while_saving_names_the_task_and_keeps_the_output_in_the_hint() {
    use std::os::unix::process::CommandExt;
    let sandbox = fast_sandbox(Faults::none()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin!("seedance"));
    command
        .args([
            "--json",
            "generate",
            "A serene beach at sunset",
            "-o",
            "beach.mp4",
            "--poll-interval",
            "1",
        ])
        .current_dir(dir.path())
        .env("APIKLEY_BASE_URL", sandbox.url())
        .env("APIKLEY_API_KEY", sandbox.api_key());
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 4096,
                rlim_max: 4096,
            };
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let output = tokio::task::spawn_blocking(move || command.output().expect("runs"))
        .await
        .expect("joins");
    assert_eq!(output.status.code(), Some(6), "{}", text(&output.stderr));
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let id = document["error"]["task_id"].as_str().expect("the task id");
    assert!(id.starts_with("task_sandbox_"), "{document}");
    assert_eq!(document["error"]["kind"], "file");
    assert_eq!(
        document["error"]["resume"],
        format!("seedance download {id} -o beach.mp4")
    );
    assert!(
        document["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("File too large")),
        "{document}"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .expect("reads")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// Runs `seedance` in the background against `sandbox`, interrupts it once `ready` says so, and
/// returns its stderr.
async fn interrupted(
    sandbox: &Sandbox,
    args: &[&str],
    dir: &Path,
    ready: impl Fn(&Sandbox) -> bool,
) -> String {
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin!("seedance"))
        .args(args)
        .current_dir(dir)
        .env("APIKLEY_BASE_URL", sandbox.url())
        .env("APIKLEY_API_KEY", sandbox.api_key())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starts");
    for _ in 0..200 {
        if ready(sandbox) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = child.id().to_string();
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let waiting = tokio::task::spawn_blocking(move || child.wait_with_output().expect("exits"));
    let output = match tokio::time::timeout(Duration::from_secs(30), waiting).await {
        Ok(joined) => joined.expect("joins"),
        Err(_) => {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid])
                .status();
            panic!("seedance did not stop on SIGINT");
        }
    };
    assert_eq!(output.status.code(), Some(130));
    text(&output.stderr)
}

/// Defect 5: Ctrl-C while createTask is in flight says a task may exist; "none" is said only
/// when nothing was sent.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_says_what_was_sent() {
    let slow = Faults::none().with_slow(Duration::from_secs(20));
    let sandbox = fast_sandbox(slow.clone()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let stderr = interrupted(
        &sandbox,
        &["generate", "A serene beach at sunset"],
        dir.path(),
        |s| s.stats().create_requests == 1,
    )
    .await;
    assert_eq!(sandbox.stats().create_requests, 1);
    assert!(stderr.contains("a task may have been created"), "{stderr}");
    assert!(!stderr.contains("no task was created"), "{stderr}");

    // An image upload is slow: nothing that costs anything has gone out yet.
    let sandbox = fast_sandbox(slow).await;
    std::fs::write(dir.path().join("in.png"), b"\x89PNG\r\n\x1a\n0000").expect("writes");
    let stderr = interrupted(
        &sandbox,
        &["generate", "A serene beach at sunset", "--image", "in.png"],
        dir.path(),
        |s| s.stats().upload_requests == 1,
    )
    .await;
    assert_eq!(
        sandbox.stats().upload_requests,
        1,
        "the upload was in flight"
    );
    assert_eq!(sandbox.stats().create_requests, 0);
    assert!(stderr.contains("no task was created"), "{stderr}");
}
