//! Running out of credits in a batch: the first refusal stops the sending (at most the creates
//! already on their way are refused too), the tasks created are waited for and saved, the rest
//! stay resumable, and the printed command, run after a top-up, saves them.

use std::path::Path;

use apikley::batch::CREATES_IN_FLIGHT;
use apikley_sandbox::{SAMPLE_VIDEO, Sandbox};
use serde_json::json;

mod support;
use support::{apikley, shell, text};

const MODEL: &str = "kling-2.6/text-to-video";

async fn sandbox(credits: f64) -> Sandbox {
    Sandbox::builder()
        .speed(60.0)
        .credits(credits)
        .start()
        .await
        .expect("sandbox starts")
}

/// What one task of the jobs below costs in the sandbox.
async fn price(dir: &Path) -> f64 {
    let probe = sandbox(1e6).await;
    let run = ["run", MODEL, "prompt=A probe", "sound=false", "--no-wait"];
    let output = apikley(Some(&probe), &run, dir).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    1e6 - probe.credits()
}

/// `jobs.jsonl` in `dir`: 20 jobs of [`MODEL`], `shot-00` to `shot-19`.
fn write_jobs(dir: &Path) {
    let jobs: Vec<String> = (0..20)
        .map(|i| {
            json!({"key": format!("shot-{i:02}"), "model": MODEL,
                   "input": {"prompt": format!("Shot {i}"), "sound": false}})
            .to_string()
        })
        .collect();
    std::fs::write(dir.join("jobs.jsonl"), jobs.join("\n")).expect("writes");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_that_runs_out_of_credits_stops_sending_and_goes_on_after_a_top_up() {
    runs_out_of_credits(None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_on_a_shared_journal_runs_out_of_credits_and_goes_on_alike() {
    let Some(server) = apikley_test_support::postgres::Postgres::start() else {
        return;
    };
    runs_out_of_credits(Some(&server.url())).await;
}

/// A batch of 20 with credits for 8, journaled in its folder or in the PostgreSQL database at
/// `journal`; then the command it prints, run as printed after a top-up.
async fn runs_out_of_credits(journal: Option<&str>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let price = price(dir.path()).await;
    assert!(price > 0.0);
    let sandbox = sandbox(8.5 * price).await;
    write_jobs(dir.path());
    let mut batch = vec![
        "batch",
        "jobs.jsonl",
        "--out-dir",
        "out",
        "--poll-interval",
        "1",
    ];
    if let Some(journal) = journal {
        batch.extend(["--journal", journal]);
    }
    let output = apikley(Some(&sandbox), &batch, dir.path()).await;
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(3),
        "{stdout}{}",
        text(&output.stderr)
    );

    let stats = sandbox.stats();
    assert_eq!(stats.tasks_created, 8, "{stats:?}");
    let refused = stats.create_requests - stats.tasks_created - stats.rate_limited;
    assert!(
        (1..=CREATES_IN_FLIGHT as u64).contains(&refused),
        "{refused} creates refused"
    );
    let saved = |dir: &Path| {
        std::fs::read_dir(dir.join("out"))
            .expect("out/")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|name| name.ends_with(".mp4"))
            .count()
    };
    assert_eq!(saved(dir.path()), 8, "the tasks created are saved");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("out of credits ("))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(line.contains("12 jobs not sent"), "{line}");
    let resume = line
        .split_once("then go on: ")
        .map(|(_, command)| command)
        .expect("a command");
    if let Some(journal) = journal {
        assert!(resume.contains(journal), "{resume}");
    }

    // After a top-up, the command as printed saves the rest, paying for each once.
    sandbox.top_up(20.0 * price);
    let output = shell(resume, dir.path(), &sandbox).await;
    assert!(output.status.success(), "{}", text(&output.stdout));
    assert_eq!(sandbox.stats().tasks_created, 20);
    assert_eq!(saved(dir.path()), 20);
    let video = std::fs::read(dir.path().join("out/shot-19.mp4")).expect("saved");
    assert_eq!(video, SAMPLE_VIDEO);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_refused_for_credits_shows_the_balance() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sandbox = sandbox(0.5).await;
    let run = [
        "run",
        MODEL,
        "prompt=A fox in snow",
        "sound=false",
        "--json",
    ];
    let output = apikley(Some(&sandbox), &run, dir.path()).await;
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(document["error"]["kind"], "out_of_credits", "{document}");
    assert_eq!(document["error"]["balance"], 0.5);
    let message = document["error"]["message"].as_str().expect("a message");
    assert!(
        message.contains("\nthe account holds 0.5 credits: top up the account"),
        "{message}"
    );
    assert_eq!(sandbox.stats().tasks_created, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_spending_cap_stops_the_sending_within_its_stated_overshoot() {
    let dir = tempfile::tempdir().expect("temp dir");
    let price = price(dir.path()).await;
    let sandbox = sandbox(1e6).await;
    write_jobs(dir.path());
    let cap = (5.5 * price).to_string();
    let batch = [
        "batch",
        "jobs.jsonl",
        "--out-dir",
        "out",
        "--max-credits",
        &cap,
    ];
    let output = apikley(Some(&sandbox), &batch, dir.path()).await;
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(3),
        "{stdout}{}",
        text(&output.stderr)
    );
    // Six tasks reach the cap; the creates on their way then add at most two.
    let created = sandbox.stats().tasks_created;
    assert!(
        (6..=6 + CREATES_IN_FLIGHT as u64).contains(&created),
        "{created} created"
    );
    let spent = 1e6 - sandbox.credits();
    assert!(spent <= (6 + CREATES_IN_FLIGHT) as f64 * price, "{spent}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("spending cap reached ("))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        line.contains(&format!("{} jobs not sent", 20 - created)),
        "{line}"
    );
    let resume = line
        .split_once("To go on with a new budget: ")
        .map(|(_, command)| command)
        .expect("a command");
    assert!(
        resume.ends_with(&format!("--max-credits {cap}")),
        "{resume}"
    );

    // The command as printed sends more, each job once.
    let words: Vec<&str> = resume.split(' ').skip(1).collect();
    let output = apikley(Some(&sandbox), &words, dir.path()).await;
    let again = sandbox.stats().tasks_created;
    assert!(again > created, "{}", text(&output.stdout));
    let prompts: std::collections::HashSet<String> = sandbox
        .tasks()
        .iter()
        .map(|t| t.param["input"]["prompt"].to_string())
        .collect();
    assert_eq!(prompts.len() as u64, again, "no job sent twice");
}
