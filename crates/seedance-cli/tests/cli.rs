//! The `seedance` binary against a sandbox on 127.0.0.1: non-terminal output (insta snapshots
//! with ids, ports and times masked), exit codes, and the README's offline first command.

use std::time::Duration;

use apikley_sandbox::{Faults, SAMPLE_VIDEO, Sandbox};
use apikley_test_support::cli::{FILTERS, Scene, text};

const SEEDANCE: &str = env!("CARGO_BIN_EXE_seedance");

macro_rules! snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({ filters => FILTERS.to_vec() }, {
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

async fn scene(faults: Faults) -> Scene {
    Scene::new(SEEDANCE, faults).await
}

const GENERATE: [&str; 6] = [
    "generate",
    "A serene beach at sunset",
    "-o",
    "beach.mp4",
    "--poll-interval",
    "1",
];

#[tokio::test(flavor = "multi_thread")]
async fn generate_waits_and_saves_the_video_in_words_or_json() {
    let scene = scene(Faults::none()).await;
    let output = scene.run(&GENERATE).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout),
        "saved beach.mp4 (10777 bytes, MP4 video)\n",
        "stdout holds the result only"
    );
    snapshot!("generate_plain", text(&output.stderr));
    let saved = std::fs::read(scene.dir().join("beach.mp4")).expect("saved");
    assert_eq!(saved, SAMPLE_VIDEO);
    assert_eq!(scene.sandbox().stats().tasks_created, 1);

    let json: Vec<&str> = ["--json"].into_iter().chain(GENERATE).collect();
    let output = scene.run(&[&json[..], &["--overwrite"]].concat()).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let document: serde_json::Value =
        serde_json::from_str(&stdout).expect("exactly one JSON document");
    assert_eq!(document["bytes"], SAMPLE_VIDEO.len());
    snapshot!("generate_json", stdout);

    // Both runs are in the task history, saved, with what made them.
    let output = scene.run(&["tasks", "--json"]).await;
    let listed: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let listed = listed["tasks"].as_array().expect("tasks");
    assert_eq!(listed.len(), 2, "{listed:?}");
    for entry in listed {
        assert_eq!(entry["state"], "saved", "{entry}");
        assert_eq!(entry["model"], "bytedance/seedance-1.5-pro", "{entry}");
        assert_eq!(
            entry["input"]["prompt"], "A serene beach at sunset",
            "{entry}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_input_lists_every_problem_and_sends_nothing() {
    let scene = scene(Faults::none()).await;
    std::fs::write(
        scene.dir().join("photo.png"),
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00",
    )
    .expect("writes");
    let output = scene
        .run(&[
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
        ])
        .await;
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(text(&output.stdout), "");
    let stderr = text(&output.stderr);
    snapshot!("invalid_input", stderr.clone());
    for input in ["aspect_ratio", "resolution", "duration"] {
        let expected = format!("input.{input} must be one of {} (got", one_of(input));
        assert!(stderr.contains(&expected), "{expected}\n{stderr}");
    }
    let stats = scene.sandbox().stats();
    assert_eq!(
        (stats.create_requests, stats.uploads),
        (0, 0),
        "a request was made"
    );
}

/// Each way a command fails: one sentence (or one JSON document), its own exit code.
#[tokio::test(flavor = "multi_thread")]
async fn each_failure_is_one_sentence_with_its_own_exit_code() {
    let broke = Sandbox::builder().credits(0.0).start().await;
    let failing = Faults::none().with_failing_tasks("500", "Internal server error");
    let cases: [(&str, Scene, &[&str], i32); 4] = [
        (
            "api_error",
            Scene::with(SEEDANCE, Some(broke.expect("sandbox starts"))),
            &["generate", "A serene beach at sunset"],
            3,
        ),
        (
            "failed_task",
            scene(failing.clone()).await,
            &[
                "generate",
                "A serene beach at sunset",
                "--poll-interval",
                "1",
            ],
            4,
        ),
        (
            "failed_task_json",
            scene(failing).await,
            &[
                "--json",
                "generate",
                "A serene beach at sunset",
                "--poll-interval",
                "1",
            ],
            4,
        ),
        // No key and no --sandbox: the error suggests the sandbox.
        ("no_key", Scene::with(SEEDANCE, None), &["credits"], 2),
    ];
    for (name, scene, args, code) in cases {
        let output = scene.run(args).await;
        assert_eq!(output.status.code(), Some(code), "{name}");
        let shown = match args.first() {
            Some(&"--json") => &output.stdout,
            _ => &output.stderr,
        };
        snapshot!(name, text(shown));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_wait_then_status_wait_download_and_credits() {
    let scene = scene(Faults::none()).await;
    let submitted = scene
        .run(&["--json", "generate", "A serene beach", "--no-wait"])
        .await;
    assert!(submitted.status.success(), "{}", text(&submitted.stderr));
    let document: serde_json::Value = serde_json::from_slice(&submitted.stdout).expect("JSON");
    let id = document["task_id"].as_str().expect("task id").to_owned();
    assert_eq!(document["state"], "submitted");

    let waited = scene.run(&["wait", &id, "--poll-interval", "1"]).await;
    assert!(waited.status.success(), "{}", text(&waited.stderr));
    assert!(text(&waited.stdout).contains(&format!("/files/results/{id}.mp4")));

    let status = scene.run(&["--json", "status", &id]).await;
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).expect("JSON");
    assert_eq!(status["state"], "success");

    let downloaded = scene.run(&["download", &id, "-o", "again.mp4"]).await;
    assert!(downloaded.status.success(), "{}", text(&downloaded.stderr));
    let saved = std::fs::read(scene.dir().join("again.mp4")).expect("saved");
    assert_eq!(saved, SAMPLE_VIDEO);
    let refused = scene.run(&["download", &id, "-o", "again.mp4"]).await;
    assert_eq!(refused.status.code(), Some(2), "an existing file is kept");

    let credits = scene.run(&["credits"]).await;
    assert_eq!(
        text(&credits.stdout),
        format!("credits: {}\n", scene.sandbox().credits())
    );
}

/// The README's first command: a real video, offline, with only the binary.
#[tokio::test(flavor = "multi_thread")]
async fn the_readme_first_command_makes_a_video_offline() {
    let scene = Scene::with(SEEDANCE, None);
    let output = scene
        .run(&[
            "generate",
            "--sandbox",
            "A serene beach at sunset",
            "-o",
            "beach.mp4",
        ])
        .await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    let saved = std::fs::read(scene.dir().join("beach.mp4")).expect("saved");
    assert_eq!(saved, SAMPLE_VIDEO);
    assert!(
        text(&output.stdout).ends_with("saved beach.mp4 (10777 bytes, MP4 video)\n"),
        "{}",
        text(&output.stdout)
    );
}

/// Defect 2: where the video goes is checked before anything is paid for.
#[tokio::test(flavor = "multi_thread")]
async fn an_unusable_output_path_is_refused_before_any_request() {
    let scene = scene(Faults::none()).await;
    std::fs::write(scene.dir().join("existing.mp4"), b"keep me").expect("writes");
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
        let output = scene.run(&command).await;
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(
            text(&output.stderr).contains(problem),
            "{}",
            text(&output.stderr)
        );
        let json = [&["--json"][..], &command].concat();
        let output = scene.run(&json).await;
        let document: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
        assert_eq!(document["error"]["kind"], "file");
        assert_eq!(document["error"]["task_id"], serde_json::Value::Null);
    }
    let stats = scene.sandbox().stats();
    assert_eq!(
        (stats.create_requests, stats.uploads),
        (0, 0),
        "nothing was sent"
    );
    let kept = std::fs::read(scene.dir().join("existing.mp4")).expect("kept");
    assert_eq!(kept, b"keep me");
}

/// Defect 11: argument errors are one JSON document too with `--json`.
#[tokio::test(flavor = "multi_thread")]
async fn argument_errors_are_json_with_json() {
    let scene = Scene::with(SEEDANCE, None);
    let output = scene.run(&["--json", "generate", "--no-such-flag"]).await;
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
    let plain = scene.run(&["generate", "--no-such-flag"]).await;
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
    let scene = scene(Faults::none()).await;
    // With the task history on, the full disk refuses it first: nothing is sent.
    let output = on_a_full_disk(&scene, &[]).await;
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let message = document["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("the task history"), "{document}");
    assert!(scene.sandbox().tasks().is_empty());

    let output = on_a_full_disk(&scene, &["--no-history"]).await;
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
    let home = apikley_test_support::cli::home(scene.dir());
    let left: Vec<_> = std::fs::read_dir(scene.dir())
        .expect("reads")
        .map(|e| e.expect("entry").path())
        .filter(|path| *path != home)
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// `seedance --json generate … EXTRA` where no file may grow beyond 4 KiB.
#[cfg(target_os = "linux")]
async fn on_a_full_disk(scene: &Scene, extra: &[&str]) -> std::process::Output {
    use std::os::unix::process::CommandExt;
    let mut command = std::process::Command::new(SEEDANCE);
    command
        .arg("--json")
        .args(GENERATE)
        .args(extra)
        .current_dir(scene.dir())
        .env("APIKLEY_HOME", apikley_test_support::cli::home(scene.dir()))
        .env("APIKLEY_BASE_URL", scene.sandbox().url())
        .env("APIKLEY_API_KEY", scene.sandbox().api_key());
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
    tokio::task::spawn_blocking(move || command.output().expect("runs"))
        .await
        .expect("joins")
}

/// Runs `seedance ARGS` in the background, interrupts it once `ready` holds of the sandbox, and
/// returns its stderr (it must end with 130).
#[cfg(unix)]
async fn interrupted(scene: &Scene, args: &[&str], ready: impl Fn(&Sandbox) -> bool) -> String {
    let running = scene.spawn(args);
    scene.until(ready).await;
    running.interrupt();
    let output = running.output(Duration::from_secs(30)).await;
    assert_eq!(output.status.code(), Some(130));
    text(&output.stderr)
}

/// Ctrl-C during a wait leaves the task running and says how to resume it.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_during_a_wait_says_how_to_resume() {
    let slow = Sandbox::builder().speed(0.01).start().await;
    let scene = Scene::with(SEEDANCE, Some(slow.expect("sandbox starts")));
    let generate = [
        "generate",
        "A serene beach at sunset",
        "--poll-interval",
        "1",
    ];
    let stderr = interrupted(&scene, &generate, |s| s.stats().tasks_created == 1).await;
    assert_eq!(
        scene.sandbox().stats().tasks_created,
        1,
        "the task was created"
    );
    snapshot!("interrupted", stderr);
}

/// Defect 5: Ctrl-C while createTask is in flight says a task may exist; "none" is said only
/// when nothing was sent.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_says_what_was_sent() {
    let slow = Faults::none().with_slow(Duration::from_secs(20));
    let scene = scene(slow.clone()).await;
    let generate = ["generate", "A serene beach at sunset"];
    let stderr = interrupted(&scene, &generate, |s| s.stats().create_requests == 1).await;
    assert_eq!(scene.sandbox().stats().create_requests, 1);
    assert!(stderr.contains("a task may have been created"), "{stderr}");
    assert!(!stderr.contains("no task was created"), "{stderr}");

    // An image upload is slow: nothing that costs anything has gone out yet.
    let scene = self::scene(slow).await;
    std::fs::write(scene.dir().join("in.png"), b"\x89PNG\r\n\x1a\n0000").expect("writes");
    let with_image = ["generate", "A serene beach at sunset", "--image", "in.png"];
    let stderr = interrupted(&scene, &with_image, |s| s.stats().upload_requests == 1).await;
    let stats = scene.sandbox().stats();
    assert_eq!(stats.upload_requests, 1, "the upload was in flight");
    assert_eq!(stats.create_requests, 0);
    assert!(stderr.contains("no task was created"), "{stderr}");
}
