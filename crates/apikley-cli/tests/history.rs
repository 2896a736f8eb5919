//! The task history, against a sandbox in another process: a run killed (SIGKILL) after its
//! task id was recorded and before it was printed is found by `apikley tasks` and saved by
//! `apikley tasks --pending --resume` at the run's `-o` path; one killed while its `createTask`
//! was on its way is listed as "outcome unknown"; two runs at once both record their tasks;
//! `wait last` and `download last` follow the newest.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use apikley_sandbox::SAMPLE_VIDEO;
use serde_json::Value;

mod support;
use support::{APIKLEY, Process, SandboxProcess, text};

/// `apikley ARGS` in `dir`, against the sandbox at `url`, its history in the test's folder.
fn apikley(dir: &Path, url: &str, args: &[&str]) -> Command {
    let mut command = Command::new(APIKLEY);
    command
        .args(args)
        .current_dir(dir)
        .env("APIKLEY_HOME", apikley_test_support::cli::home(dir))
        .env("APIKLEY_BASE_URL", url)
        .env("APIKLEY_API_KEY", apikley_sandbox::DEFAULT_API_KEY)
        .env_remove("APIKLEY_TEST_HOLD")
        .stdin(Stdio::null());
    command
}

fn run(dir: &Path, url: &str, args: &[&str]) -> Output {
    apikley(dir, url, args).output().expect("runs")
}

/// `apikley tasks --json ARGS`: the listed tasks.
fn tasks(dir: &Path, url: &str, args: &[&str]) -> Vec<Value> {
    let output = run(dir, url, &[&["tasks", "--json"], args].concat());
    assert!(output.status.success(), "{}", text(&output.stderr));
    let listed: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    listed["tasks"].as_array().expect("tasks").clone()
}

const RUN: &[&str] = &["run", "seedance-1.5-pro", "prompt=A fox in snow"];

#[test]
fn a_run_killed_after_its_task_was_recorded_is_resumed_from_the_history() {
    let sandbox = SandboxProcess::start(0);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut command = apikley(
        dir.path(),
        sandbox.url(),
        &[RUN, &["-o", "my clip.mp4"]].concat(),
    );
    command
        .env("APIKLEY_TEST_HOLD", "recorded")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut held = Process(command.spawn().expect("starts"));
    let stderr = held.0.stderr.take().expect("stderr");
    let mut said = String::new();
    for line in BufReader::new(stderr).lines() {
        let line = line.expect("reads");
        said.push_str(&line);
        if line == "holding at recorded" {
            break;
        }
    }
    assert!(said.ends_with("holding at recorded"), "{said}");
    assert!(
        !said.contains("submitted task"),
        "killed before the id is printed"
    );
    held.0.kill().expect("SIGKILL");
    held.0.wait().expect("reaped");

    let created = sandbox.created_tasks();
    assert_eq!(created.len(), 1);
    let id = created[0]["taskId"].as_str().expect("an id").to_owned();
    let listed = tasks(dir.path(), sandbox.url(), &[]);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["task_id"], id.as_str());
    assert_eq!(listed[0]["model"], "bytedance/seedance-1.5-pro");
    assert_eq!(listed[0]["input"]["prompt"], "A fox in snow");
    let target = dir.path().join("my clip.mp4");
    assert_eq!(
        listed[0]["file"].as_str().map(Path::new),
        Some(target.as_path())
    );
    let table = text(&run(dir.path(), sandbox.url(), &["tasks"]).stdout);
    assert!(table.starts_with("TASK "), "{table}");
    assert!(
        table.contains(&id) && table.contains("my clip.mp4"),
        "{table}"
    );

    let resumed = run(
        dir.path(),
        sandbox.url(),
        &["tasks", "--pending", "--resume"],
    );
    assert!(resumed.status.success(), "{}", text(&resumed.stderr));
    assert!(text(&resumed.stdout).contains(&format!("task {id}: saved")));
    assert_eq!(std::fs::read(&target).expect("saved"), SAMPLE_VIDEO);
    let sidecar = std::fs::read(dir.path().join("my clip.mp4.json")).expect("its sidecar");
    let sidecar: Value = serde_json::from_slice(&sidecar).expect("JSON");
    assert_eq!(sidecar["task_id"], id.as_str());
    assert_eq!(sidecar["model"], "bytedance/seedance-1.5-pro");
    assert_eq!(sidecar["input"]["prompt"], "A fox in snow");
    assert_eq!(sidecar["bytes"], SAMPLE_VIDEO.len());
    assert_eq!(sandbox.created_tasks().len(), 1, "nothing created twice");
    assert!(tasks(dir.path(), sandbox.url(), &["--pending"]).is_empty());
    assert_eq!(tasks(dir.path(), sandbox.url(), &[])[0]["state"], "saved");
}

#[test]
fn a_run_killed_while_its_create_was_on_its_way_is_an_unknown_outcome() {
    // Every answer 30 s late: the create is still on its way when the run is killed.
    let sandbox = SandboxProcess::start(30_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut running = Process(
        apikley(dir.path(), sandbox.url(), RUN)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starts"),
    );
    let started = Instant::now();
    while tasks(dir.path(), sandbox.url(), &[]).is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "never recorded"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    running.0.kill().expect("SIGKILL");
    running.0.wait().expect("reaped");

    let listed = tasks(dir.path(), sandbox.url(), &["--pending"]);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["state"], "outcome unknown");
    assert_eq!(listed[0]["task_id"], Value::Null);
    let table = text(&run(dir.path(), sandbox.url(), &["tasks"]).stdout);
    assert!(
        table.contains("outcome unknown: a createTask for bytedance/seedance-1.5-pro went out at "),
        "{table}"
    );
}

#[test]
fn two_runs_at_once_both_record_and_last_names_the_newest() {
    let sandbox = SandboxProcess::start(0);
    let dir = tempfile::tempdir().expect("temp dir");
    // Processes creating the history at once all get it (one loses the race to WAL mode).
    let openers: Vec<Process> = (0..6)
        .map(|_| {
            Process(
                apikley(dir.path(), sandbox.url(), &["tasks"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("starts"),
            )
        })
        .collect();
    for mut opener in openers {
        assert!(opener.0.wait().expect("ends").success(), "an opener failed");
    }
    let spawn = |file: &str| {
        Process(
            apikley(dir.path(), sandbox.url(), &[RUN, &["-o", file]].concat())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("starts"),
        )
    };
    let (mut a, mut b) = (spawn("a.mp4"), spawn("b.mp4"));
    assert!(a.0.wait().expect("ends").success());
    assert!(b.0.wait().expect("ends").success());
    let listed = tasks(dir.path(), sandbox.url(), &[]);
    let mut recorded: Vec<&str> = listed
        .iter()
        .filter_map(|t| t["task_id"].as_str())
        .collect();
    let mut created: Vec<String> = sandbox
        .created_tasks()
        .iter()
        .filter_map(|t| t["taskId"].as_str().map(str::to_owned))
        .collect();
    recorded.sort_unstable();
    created.sort_unstable();
    assert_eq!(recorded, created);
    assert!(listed.iter().all(|t| t["state"] == "saved"), "{listed:?}");

    // A run without waiting, then `last` follows it; `--no-history` records nothing.
    let submitted = run(
        dir.path(),
        sandbox.url(),
        &[RUN, &["--no-wait", "--json"]].concat(),
    );
    let submitted: Value = serde_json::from_slice(&submitted.stdout).expect("JSON");
    let id = submitted["task_id"].as_str().expect("an id");
    let quiet = run(
        dir.path(),
        sandbox.url(),
        &[RUN, &["--no-history", "-o", "q.mp4"]].concat(),
    );
    assert!(quiet.status.success(), "{}", text(&quiet.stderr));
    assert_eq!(tasks(dir.path(), sandbox.url(), &[]).len(), 3);
    let waited = run(
        dir.path(),
        sandbox.url(),
        &["wait", "last", "-o", "last.mp4"],
    );
    assert!(waited.status.success(), "{}", text(&waited.stderr));
    assert_eq!(
        std::fs::read(dir.path().join("last.mp4")).expect("saved"),
        SAMPLE_VIDEO
    );
    let again = run(
        dir.path(),
        sandbox.url(),
        &["download", "last", "-o", "again.mp4"],
    );
    assert!(again.status.success(), "{}", text(&again.stderr));
    let newest = &tasks(dir.path(), sandbox.url(), &["--limit", "1"])[0];
    assert_eq!(newest["task_id"], id);
    assert_eq!(newest["state"], "saved");
}

#[test]
fn a_saved_result_carries_its_provenance_and_again_makes_it_with_one_change() {
    let sandbox = SandboxProcess::start(0);
    let dir = tempfile::tempdir().expect("temp dir");
    let first = run(
        dir.path(),
        sandbox.url(),
        &[RUN, &["aspect_ratio=16:9", "duration=4", "-o", "clip.mp4"]].concat(),
    );
    assert!(first.status.success(), "{}", text(&first.stderr));
    let sidecar: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("clip.mp4.json")).expect("written"))
            .expect("JSON");
    let task = &sandbox.created_tasks()[0];
    assert_eq!(sidecar["model"], "bytedance/seedance-1.5-pro");
    assert_eq!(sidecar["input"]["prompt"], "A fox in snow");
    assert_eq!(sidecar["input"]["duration"], 4);
    assert_eq!(sidecar["task_id"], task["taskId"]);
    assert!(sidecar["cost_time"].is_u64(), "{sidecar}");
    assert!(sidecar["created_at"].is_string() && sidecar["completed_at"].is_string());
    assert_eq!(sidecar["sdk_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(sidecar["file"], "clip.mp4");
    assert_eq!(sidecar["bytes"], SAMPLE_VIDEO.len());
    let digest = std::process::Command::new("sha256sum")
        .arg("clip.mp4")
        .current_dir(dir.path())
        .output()
        .expect("sha256sum runs");
    let digest = text(&digest.stdout);
    assert_eq!(sidecar["sha256"].as_str(), digest.split(' ').next());

    // The same path again: refused before anything is paid for, the sidecar named.
    std::fs::rename(dir.path().join("clip.mp4"), dir.path().join("kept.mp4")).expect("moves");
    let refused = run(
        dir.path(),
        sandbox.url(),
        &[RUN, &["-o", "clip.mp4"]].concat(),
    );
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stderr));
    assert!(
        text(&refused.stderr).contains("clip.mp4.json: already exists"),
        "{}",
        text(&refused.stderr)
    );
    assert_eq!(sandbox.created_tasks().len(), 1);

    // Made again with one change, over the old result with --overwrite.
    let again = run(
        dir.path(),
        sandbox.url(),
        &[
            "run",
            "--again",
            "clip.mp4.json",
            "duration=8",
            "-o",
            "clip.mp4",
            "--overwrite",
        ],
    );
    assert!(again.status.success(), "{}", text(&again.stderr));
    let created = sandbox.created_tasks();
    assert_eq!(created.len(), 2);
    let mut expected = task["param"]["input"].clone();
    expected["duration"] = 8.into();
    assert_eq!(created[1]["param"]["input"], expected);
    assert_eq!(created[1]["param"]["model"], "bytedance/seedance-1.5-pro");
    let sidecar: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("clip.mp4.json")).expect("written"))
            .expect("JSON");
    assert_eq!(sidecar["task_id"], created[1]["taskId"]);

    // --no-sidecar writes none; a file that is not a provenance file is refused, nothing sent.
    let quiet = run(
        dir.path(),
        sandbox.url(),
        &[RUN, &["--no-sidecar", "-o", "q.mp4"]].concat(),
    );
    assert!(quiet.status.success(), "{}", text(&quiet.stderr));
    assert!(!dir.path().join("q.mp4.json").exists());
    let broken = run(dir.path(), sandbox.url(), &["run", "--again", "q.mp4"]);
    assert_eq!(broken.status.code(), Some(2));
    assert!(
        text(&broken.stderr).contains("--again must be a result's provenance file"),
        "{}",
        text(&broken.stderr)
    );
    assert_eq!(sandbox.created_tasks().len(), 3);
}
