//! The sandbox's world: its clock, account, tasks and files.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use crate::models::SandboxModel;
use crate::{Faults, Stats, TaskFailure};
use apikley::MediaType;

pub(crate) struct Settings {
    pub(crate) url: String,
    pub(crate) api_key: String,
    pub(crate) speed: f64,
    pub(crate) credits: f64,
    pub(crate) webhook: Option<crate::signature::WebhookKey>,
    pub(crate) faults: Faults,
    pub(crate) models: Vec<SandboxModel>,
    pub(crate) seed: Option<u64>,
    pub(crate) time_spread: f64,
}

/// A created task and its plan.
#[derive(Debug, Clone)]
pub(crate) struct TaskEntry {
    pub(crate) id: String,
    pub(crate) model: String,
    /// The request as JSON text (`param`).
    pub(crate) param: String,
    /// When it was created, on the sandbox clock.
    pub(crate) created: Duration,
    /// How long it waits, queues and generates, on the sandbox clock.
    pub(crate) stages: [Duration; 3],
    pub(crate) failure: Option<TaskFailure>,
    /// What it produces.
    pub(crate) media: MediaType,
    pub(crate) credits: f64,
    pub(crate) callback: Option<String>,
}

impl TaskEntry {
    pub(crate) fn total(&self) -> Duration {
        self.stages.iter().sum()
    }

    /// The stage `elapsed` after creation.
    pub(crate) fn stage_after(&self, elapsed: Duration) -> Stage {
        let [waiting, queuing, _] = self.stages;
        if elapsed < waiting {
            Stage::Waiting
        } else if elapsed < waiting + queuing {
            Stage::Queuing
        } else if elapsed < self.total() {
            Stage::Generating
        } else if self.failure.is_some() {
            Stage::Fail
        } else {
            Stage::Success
        }
    }
}

/// Where a sandbox task is, named as the API names its states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    Waiting,
    Queuing,
    Generating,
    Success,
    Fail,
}

impl Stage {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Stage::Waiting => "waiting",
            Stage::Queuing => "queuing",
            Stage::Generating => "generating",
            Stage::Success => "success",
            Stage::Fail => "fail",
        }
    }

    fn is_over(self) -> bool {
        matches!(self, Stage::Success | Stage::Fail)
    }
}

/// A stored file.
#[derive(Debug, Clone)]
pub(crate) struct StoredFile {
    pub(crate) bytes: Vec<u8>,
    pub(crate) mime: String,
}

pub(crate) struct State {
    pub(crate) url: String,
    pub(crate) api_key: String,
    speed: f64,
    started: Instant,
    epoch_ms: i64,
    pub(crate) webhook: Option<crate::signature::WebhookKey>,
    pub(crate) models: Vec<SandboxModel>,
    pub(crate) http: reqwest::Client,
    faults: Mutex<Faults>,
    credits: Mutex<f64>,
    tasks: Mutex<HashMap<String, TaskEntry>>,
    files: Mutex<HashMap<String, StoredFile>>,
    creates: Mutex<VecDeque<Instant>>,
    rng: Mutex<fastrand::Rng>,
    time_spread: f64,
    stats: Mutex<Stats>,
}

/// `span × factor`, saturating instead of overflowing.
fn scaled(span: Duration, factor: f64) -> Duration {
    Duration::try_from_secs_f64(span.as_secs_f64() * factor).unwrap_or(Duration::MAX)
}

/// Poisoning only follows a panic elsewhere; the data is still the best there is.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl State {
    pub(crate) fn new(settings: Settings) -> Self {
        let epoch_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        State {
            url: settings.url,
            api_key: settings.api_key,
            speed: settings.speed,
            started: Instant::now(),
            epoch_ms,
            webhook: settings.webhook,
            models: settings.models,
            // Callbacks: no redirects (they could lead off this machine), a bounded wait.
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            faults: Mutex::new(settings.faults),
            credits: Mutex::new(settings.credits),
            tasks: Mutex::new(HashMap::new()),
            files: Mutex::new(HashMap::new()),
            creates: Mutex::new(VecDeque::new()),
            rng: Mutex::new(
                settings
                    .seed
                    .map_or_else(fastrand::Rng::new, fastrand::Rng::with_seed),
            ),
            time_spread: settings.time_spread,
            stats: Mutex::new(Stats::default()),
        }
    }

    /// Time since start on the sandbox clock (real time × speed).
    pub(crate) fn now(&self) -> Duration {
        scaled(self.started.elapsed(), self.speed)
    }

    /// A sandbox-clock span in real time.
    pub(crate) fn real(&self, span: Duration) -> Duration {
        scaled(span, 1.0 / self.speed)
    }

    /// Unix milliseconds of a sandbox-clock time.
    pub(crate) fn unix_ms(&self, at: Duration) -> i64 {
        self.epoch_ms
            .saturating_add(i64::try_from(at.as_millis()).unwrap_or(i64::MAX))
    }

    pub(crate) fn faults(&self) -> Faults {
        lock(&self.faults).clone()
    }

    pub(crate) fn set_faults(&self, faults: Faults) {
        *lock(&self.faults) = faults;
    }

    pub(crate) fn stats(&self) -> Stats {
        lock(&self.stats).clone()
    }

    pub(crate) fn count(&self, update: impl FnOnce(&mut Stats)) {
        update(&mut lock(&self.stats));
    }

    pub(crate) fn credits(&self) -> f64 {
        *lock(&self.credits)
    }

    /// Takes `amount` if the balance allows it.
    pub(crate) fn charge(&self, amount: f64) -> bool {
        let mut credits = lock(&self.credits);
        if *credits < amount {
            return false;
        }
        *credits -= amount;
        true
    }

    pub(crate) fn refund(&self, amount: f64) {
        *lock(&self.credits) += amount;
    }

    pub(crate) fn chance(&self, rate: f64) -> bool {
        rate > 0.0 && lock(&self.rng).f64() < rate
    }

    /// How long a task planned to take `planned` takes: varied by the time spread.
    pub(crate) fn varied(&self, planned: Duration) -> Duration {
        if self.time_spread == 0.0 {
            return planned;
        }
        let factor = 1.0 + self.time_spread * (2.0 * lock(&self.rng).f64() - 1.0);
        scaled(planned, factor)
    }

    /// A number below `n`, from the sandbox's random source.
    pub(crate) fn pick(&self, n: usize) -> usize {
        lock(&self.rng).usize(..n)
    }

    pub(crate) fn new_task_id(&self) -> String {
        format!("task_sandbox_{:016x}", lock(&self.rng).u64(..))
    }

    pub(crate) fn new_file_name(&self) -> String {
        format!("{:012x}", lock(&self.rng).u64(..) & 0xFFFF_FFFF_FFFF)
    }

    /// Records a create at `now` unless `max` already arrived within `per`.
    pub(crate) fn admit_create(&self, limit: Option<apikley::RateLimit>) -> bool {
        let Some(limit) = limit else { return true };
        let now = Instant::now();
        let mut creates = lock(&self.creates);
        while creates.front().is_some_and(|at| now - *at >= limit.per) {
            creates.pop_front();
        }
        if creates.len() >= limit.max as usize {
            return false;
        }
        creates.push_back(now);
        true
    }

    pub(crate) fn insert_task(&self, task: TaskEntry) {
        lock(&self.tasks).insert(task.id.clone(), task);
    }

    pub(crate) fn task(&self, id: &str) -> Option<TaskEntry> {
        lock(&self.tasks).get(id).cloned()
    }

    /// Every task created, in the order created.
    pub(crate) fn tasks(&self) -> Vec<TaskEntry> {
        let mut tasks: Vec<TaskEntry> = lock(&self.tasks).values().cloned().collect();
        tasks.sort_by_key(|t| t.created);
        tasks
    }

    pub(crate) fn store_file(&self, path: String, file: StoredFile) {
        lock(&self.files).insert(path, file);
    }

    pub(crate) fn file(&self, path: &str) -> Option<StoredFile> {
        lock(&self.files).get(path).cloned()
    }

    /// The task's record as Get Task Details returns it, as of now.
    pub(crate) fn record(&self, task: &TaskEntry) -> Value {
        let elapsed = self.now().saturating_sub(task.created);
        let stage = task.stage_after(elapsed);
        let done = stage.is_over();
        let updated = task.created + elapsed.min(task.total());
        let mut record = json!({
            "taskId": task.id,
            "model": task.model,
            "state": match (stage, &self.faults().finished_state) {
                (Stage::Success, Some(name)) => name.as_str(),
                _ => stage.as_str(),
            },
            "param": task.param,
            "resultJson": "",
            "failCode": "",
            "failMsg": "",
            "createTime": self.unix_ms(task.created),
            "updateTime": self.unix_ms(updated),
        });
        if done {
            record["completeTime"] = self.unix_ms(task.created + task.total()).into();
            record["costTime"] = i64::try_from(task.total().as_millis())
                .unwrap_or(i64::MAX)
                .into();
        }
        match (stage, &task.failure) {
            (Stage::Success, _) => {
                let url = format!(
                    "{}/files/results/{}.{}",
                    self.url,
                    task.id,
                    task.media.extension()
                );
                record["resultJson"] = json!({"resultUrls": [url]}).to_string().into();
            }
            (Stage::Fail, Some(failure)) => {
                record["failCode"] = failure.code.as_str().into();
                record["failMsg"] = failure.message.as_str().into();
            }
            _ => {}
        }
        record
    }
}
