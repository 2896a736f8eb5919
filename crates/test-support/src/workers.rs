//! Several `apikley batch` workers on one PostgreSQL journal, against one sandbox that
//! enforces a create limit, some of them killed (SIGKILL) on the way: what the workers test
//! asserts and bench row 11 prints.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use apikley::RateLimit;
use apikley_sandbox::{CreatedTask, Faults, Sandbox};
use serde_json::{Value, json};

use crate::postgres::Postgres;

/// What to run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Jobs in the batch.
    pub jobs: usize,
    /// Workers started at once.
    pub workers: usize,
    /// Which workers die (SIGKILL) when, counted from the start.
    pub kills: Vec<(usize, Duration)>,
    /// The create limit the sandbox enforces (429 above it) and the workers keep to.
    pub limit: RateLimit,
    /// How much faster than real time the sandbox's clock runs.
    pub speed: f64,
    /// How late the sandbox answers every call: kills then land on creates on their way.
    pub latency: Duration,
}

/// What came of it.
#[derive(Debug)]
pub struct Run {
    /// Each surviving worker's exit code and JSON report.
    pub reports: Vec<(Option<i32>, Value)>,
    /// Every task the sandbox created.
    pub created: Vec<CreatedTask>,
    /// `createTask` requests the sandbox refused with 429.
    pub rate_limited: u64,
    /// From the start to the last survivor's end.
    pub took: Duration,
    /// The folder the workers ran in (their output folders are in it).
    pub dir: tempfile::TempDir,
    speed: f64,
}

/// Job `i`'s prompt: a task's prompt names its job.
pub fn prompt(i: usize) -> String {
    format!("Shot {i}: a fox in fresh snow")
}

/// A worker killed when dropped.
struct Worker(Child);

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(bin: &str, dir: &Path, n: usize, journal: &str, sandbox: &Sandbox) -> Worker {
    let out_dir = format!("worker-{n}");
    let child = Command::new(bin)
        .args([
            "batch",
            "jobs.jsonl",
            "--journal",
            journal,
            "--out-dir",
            &out_dir,
        ])
        .args(["--poll-interval", "1", "--json"])
        .current_dir(dir)
        .env("APIKLEY_HOME", dir.join(format!("home-{n}")))
        .env("APIKLEY_BASE_URL", sandbox.url())
        .env("APIKLEY_API_KEY", sandbox.api_key())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("a worker starts");
    Worker(child)
}

/// Waits for a worker to end, at most until `deadline`; its exit code and report.
async fn report(mut worker: Worker, deadline: Instant) -> (Option<i32>, Value) {
    loop {
        if let Some(status) = worker.0.try_wait().expect("status") {
            let mut out = String::new();
            let stdout = worker.0.stdout.as_mut().expect("stdout");
            std::io::Read::read_to_string(stdout, &mut out).expect("reads");
            let report = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
            return (status.code(), report);
        }
        assert!(Instant::now() < deadline, "a worker did not finish");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Runs `plan` with the `apikley` binary `bin` (built with its `postgres` feature) on the
/// database `postgres` holds. Panics when a worker ends before its kill or any runs past
/// seven minutes.
pub async fn run(bin: &str, postgres: &Postgres, plan: &Plan) -> Run {
    let sandbox = Sandbox::builder()
        .speed(plan.speed)
        .credits(1e9)
        .faults(
            Faults::none()
                .with_rate_limit(plan.limit)
                .with_slow(plan.latency),
        )
        .start()
        .await
        .expect("the sandbox starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let lines: Vec<String> = (0..plan.jobs)
        .map(|i| {
            json!({
                "key": format!("shot-{i:03}"),
                "model": "kling-2.6/text-to-video",
                "input": {"prompt": prompt(i), "sound": false, "aspect_ratio": "16:9", "duration": "5"}
            })
            .to_string()
        })
        .collect();
    std::fs::write(dir.path().join("jobs.jsonl"), lines.join("\n")).expect("writes");

    let journal = postgres.url();
    let started = Instant::now();
    let mut workers: Vec<Option<Worker>> = (0..plan.workers)
        .map(|n| Some(start(bin, dir.path(), n, &journal, &sandbox)))
        .collect();
    let mut kills = plan.kills.clone();
    kills.sort_by_key(|(_, at)| *at);
    for (n, at) in kills {
        tokio::time::sleep(at.saturating_sub(started.elapsed())).await;
        let mut dead = workers[n].take().expect("each worker is killed once");
        assert!(
            dead.0.try_wait().expect("status").is_none(),
            "worker {n} ended before its kill at {at:?}"
        );
        dead.0.kill().expect("SIGKILL");
        dead.0.wait().expect("reaped");
    }
    let deadline = started + Duration::from_secs(420);
    let mut reports = Vec::new();
    for survivor in workers.into_iter().flatten() {
        reports.push(report(survivor, deadline).await);
    }
    Run {
        reports,
        created: sandbox.tasks(),
        rate_limited: sandbox.stats().rate_limited,
        took: started.elapsed(),
        dir,
        speed: plan.speed,
    }
}

impl Run {
    /// The ids of the tasks created for each prompt.
    pub fn tasks_per_prompt(&self) -> HashMap<String, Vec<String>> {
        let mut per_prompt: HashMap<String, Vec<String>> = HashMap::new();
        for task in &self.created {
            let prompt = task.param["input"]["prompt"].as_str().unwrap_or_default();
            per_prompt
                .entry(prompt.to_owned())
                .or_default()
                .push(task.id.clone());
        }
        per_prompt
    }

    /// Prompts with more than one task.
    pub fn created_twice(&self) -> usize {
        self.tasks_per_prompt()
            .values()
            .filter(|ids| ids.len() > 1)
            .count()
    }

    /// Each job's key and outcome in a report.
    pub fn outcomes(report: &Value) -> Vec<(String, String)> {
        report["jobs"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|job| {
                let field = |name: &str| job[name].as_str().unwrap_or_default().to_owned();
                (field("key"), field("outcome"))
            })
            .collect()
    }

    /// Jobs the first survivor's report says were saved, and of unknown outcome.
    pub fn saved_and_unknown(&self) -> (usize, usize) {
        let outcomes = self
            .reports
            .first()
            .map(|(_, report)| Self::outcomes(report))
            .unwrap_or_default();
        let count = |name: &str| outcomes.iter().filter(|(_, o)| o == name).count();
        (count("saved"), count("unknown"))
    }

    /// Tasks created per second, all workers together: their number over the time from the
    /// first create to the last plus one window of `limit` (what a limited run cannot beat).
    pub fn create_rate(&self, limit: RateLimit) -> f64 {
        let times: Vec<f64> = self
            .created
            .iter()
            .map(|t| t.created.as_secs_f64() / self.speed)
            .collect();
        let first = times.iter().copied().fold(f64::MAX, f64::min);
        let last = times.iter().copied().fold(0.0, f64::max);
        self.created.len() as f64 / (last - first + limit.per.as_secs_f64())
    }
}
