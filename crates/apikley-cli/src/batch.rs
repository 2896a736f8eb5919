//! `apikley batch JOBS.jsonl --out-dir DIR`: a jobs file run as a batch that survives a crash
//! (see `apikley::batch`). Every line is checked first; then one bar overall with the counts
//! per state on a terminal, a line per finished job otherwise, a summary at the end, and one
//! JSON document with `--json`. Ctrl-C stops submitting, lets a `createTask` already on its
//! way finish, and says how to go on.

use std::collections::HashMap;
use std::io::IsTerminal;
#[cfg(feature = "callbacks")]
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use apikley::batch::{
    Batch, BatchError, BatchEvent, BatchReport, JOURNAL_FILE, JobOutcome, JobStage, SendingStopped,
};
#[cfg(feature = "callbacks")]
use apikley::callback::{CallbackInbox, CallbackVerifier, axum::inbox_router};
use apikley::{CancellationToken, Client, Clock};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

use crate::failure::exit;
use crate::global::Global;
use crate::jobs::{self, LineProblem};
use crate::session::{Session, quoted};
use crate::sidecar::{self, Origin};

/// What `apikley batch` is asked to do: its arguments.
#[derive(Args, Debug, Clone)]
pub struct BatchArgs {
    /// The jobs file (JSON Lines).
    pub jobs: PathBuf,
    /// Where results go (made if missing), and the journal with them.
    #[arg(long, value_name = "DIR")]
    pub out_dir: PathBuf,
    /// At most this many jobs in flight at once (the rate limits apply on top).
    #[arg(long, value_name = "N", default_value_t = apikley::batch::DEFAULT_CONCURRENCY, value_parser = crate::checks::concurrency)]
    pub concurrency: usize,
    /// The journal file (default: OUT_DIR/apikley-batch.sqlite), or a PostgreSQL database
    /// (postgres://USER@HOST:PORT/DB) that workers on several machines share: each started
    /// with the same jobs file and its own --out-dir takes jobs until none is left.
    #[arg(
        long,
        value_name = "FILE|URL",
        env = "APIKLEY_JOURNAL",
        hide_env_values = true
    )]
    pub journal: Option<PathBuf>,
    /// Send again the jobs whose outcome is unknown (their createTask went out without an
    /// answer): this may pay twice for them.
    #[arg(long)]
    pub resend_unknown: bool,
    /// Stop sending jobs once this run has spent this many credits (the balance's drop, read
    /// before the first send and after each task created; the creates on their way then may
    /// add up to two tasks more). The jobs not sent are sent by the next run.
    #[arg(long, value_name = "N", value_parser = crate::checks::credits)]
    pub max_credits: Option<f64>,
    #[cfg(feature = "callbacks")]
    /// Wait on callbacks instead of polling: every createTask names this URL, and each task is
    /// queried once, to confirm its callback. Needs --callback-listen.
    #[arg(long, value_name = "URL", requires = "callback_listen", value_parser = crate::checks::callback_url, env = "APIKLEY_CALLBACK_URL", hide_env_values = true)]
    pub callback_url: Option<String>,
    #[cfg(feature = "callbacks")]
    /// Where this command receives the callbacks sent to --callback-url (a public URL
    /// forwarded here, e.g. by a tunnel or a reverse proxy).
    #[arg(long, value_name = "ADDR", requires = "callback_url")]
    pub callback_listen: Option<SocketAddr>,
    #[cfg(feature = "callbacks")]
    /// Check each callback's signature with this webhook key (X-Webhook-Signature); without
    /// it callbacks are taken unsigned (each is confirmed by id all the same).
    #[arg(
        long,
        value_name = "KEY",
        env = "APIKLEY_WEBHOOK_KEY",
        hide_env_values = true
    )]
    pub webhook_key: Option<String>,
}

/// `PROGRAM batch`: checks every line, connects, then runs until done or Ctrl-C (which it
/// handles itself, letting a createTask on its way finish).
pub async fn command(args: &BatchArgs, global: &Global, program: &'static str) -> ExitCode {
    let jobs = match read_jobs(args, global.json) {
        Ok(jobs) => jobs,
        Err(code) => return code,
    };
    // Workers on one PostgreSQL journal keep to the account's limits together.
    let limits = match shared_limits(args).await {
        Ok(limits) => limits,
        Err(error) => return refuse(global.json, "batch", &error, Value::Null),
    };
    let (client, _sandbox) = match global.connect_with(limits).await {
        Ok(connected) => connected,
        Err(failure) => {
            let mut out = global.output();
            return crate::failure::report(failure, &mut out, &Session::new(program));
        }
    };
    let resume = resume_command(args, program, global.sandbox());
    run(args, global, jobs, &client, &resume).await
}

/// The command that goes on with this batch: the same jobs file, output folder and journal,
/// the same callbacks and sandbox, quoted for a POSIX shell; never a secret (a webhook key or
/// a password in the callback URL stays in its environment variable). When the command needs
/// such a variable set, a second line says which.
pub fn resume_command(options: &BatchArgs, program: &str, sandbox: bool) -> String {
    let mut words = vec![
        program.to_owned(),
        "batch".into(),
        quoted(&options.jobs),
        "--out-dir".into(),
        quoted(&options.out_dir),
    ];
    let mut needs: Vec<String> = Vec::new();
    if let Some(journal) = &options.journal {
        // A password, in the user part or the query (`?password=`), stays in the environment.
        let secret = database(options).is_some_and(|url| {
            url::Url::parse(url).is_ok_and(|u| {
                u.password().is_some() || u.query_pairs().any(|(name, _)| name == "password")
            })
        });
        if secret {
            words.extend(["--journal".into(), format!("\"${JOURNAL_VAR}\"")]);
            needs.push(format!("{JOURNAL_VAR} set to the journal's address"));
        } else {
            words.extend(["--journal".into(), quoted(journal)]);
        }
    }
    if options.concurrency != apikley::batch::DEFAULT_CONCURRENCY {
        words.extend(["--concurrency".into(), options.concurrency.to_string()]);
    }
    if let Some(credits) = options.max_credits {
        words.extend(["--max-credits".into(), credits.to_string()]);
    }
    #[cfg(feature = "callbacks")]
    if let (Some(url), Some(listen)) = (&options.callback_url, options.callback_listen) {
        let secret = url::Url::parse(url).is_ok_and(|u| u.password().is_some());
        words.push("--callback-url".into());
        if secret {
            words.push(format!("\"${CALLBACK_URL_VAR}\""));
            needs.push(format!("{CALLBACK_URL_VAR} set to the callback URL"));
        } else {
            words.push(quoted(std::path::Path::new(url)));
        }
        words.extend(["--callback-listen".into(), listen.to_string()]);
        if options.webhook_key.is_some() && std::env::var_os(WEBHOOK_KEY_VAR).is_none() {
            needs.push(format!("{WEBHOOK_KEY_VAR} set to the webhook key"));
        }
    }
    if sandbox {
        words.push("--sandbox".into());
    }
    let command = words.join(" ");
    match needs.is_empty() {
        true => command,
        false => format!(
            "{command}\n  (with {} in the environment)",
            needs.join(" and ")
        ),
    }
}

/// Where a journal address holding a password is read from (hints never print it).
pub const JOURNAL_VAR: &str = "APIKLEY_JOURNAL";

/// Where a callback URL holding a password is read from (hints never print it).
#[cfg(feature = "callbacks")]
pub const CALLBACK_URL_VAR: &str = "APIKLEY_CALLBACK_URL";

/// Where the webhook key is read from (hints never print it).
#[cfg(feature = "callbacks")]
pub const WEBHOOK_KEY_VAR: &str = "APIKLEY_WEBHOOK_KEY";

/// The jobs, read and checked: every problem of every line, before anything is sent.
pub fn read_jobs(options: &BatchArgs, json: bool) -> Result<Vec<jobs::JobLine>, ExitCode> {
    let text = std::fs::read_to_string(&options.jobs).map_err(|e| {
        refuse(
            json,
            "jobs_file",
            &format!("cannot read {}: {e}", options.jobs.display()),
            Value::Null,
        )
    })?;
    jobs::parse(&text, apikley_models::find).map_err(|problems| {
        let list: Vec<Value> = problems
            .iter()
            .map(|p| json!({"line": p.line, "problem": p.problem}))
            .collect();
        let lines: Vec<String> = problems.iter().map(LineProblem::to_string).collect();
        let noun = if problems.len() == 1 {
            "problem"
        } else {
            "problems"
        };
        refuse(
            json,
            "invalid_jobs",
            &format!(
                "{}: {} {noun}; nothing was sent\n  {}",
                options.jobs.display(),
                problems.len(),
                lines.join("\n  ")
            ),
            Value::Array(list),
        )
    })
}

/// The `--journal` value, when it names a PostgreSQL database.
fn database(options: &BatchArgs) -> Option<&str> {
    let journal = options.journal.as_deref()?.to_str()?;
    ["postgres://", "postgresql://"]
        .iter()
        .any(|scheme| journal.starts_with(scheme))
        .then_some(journal)
}

/// Opens the batch: in its journal file, or in the PostgreSQL database `--journal` names (as
/// the batch named after the jobs file).
async fn open(options: &BatchArgs) -> Result<Batch, String> {
    match database(options) {
        Some(url) => open_shared(options, url).await,
        None => {
            let journal = options
                .journal
                .clone()
                .unwrap_or_else(|| options.out_dir.join(JOURNAL_FILE));
            Batch::open_with_journal(&options.out_dir, &journal).map_err(|e| e.to_string())
        }
    }
}

#[cfg(feature = "postgres")]
async fn open_shared(options: &BatchArgs, url: &str) -> Result<Batch, String> {
    let name = options
        .jobs
        .file_name()
        .map_or_else(|| "batch".into(), |n| n.to_string_lossy().into_owned());
    Batch::open_shared(&options.out_dir, url, &name)
        .await
        .map_err(|e| e.to_string())
}

#[cfg(not(feature = "postgres"))]
async fn open_shared(_options: &BatchArgs, _url: &str) -> Result<Batch, String> {
    Err(NO_POSTGRES.into())
}

/// With a PostgreSQL journal, the client keeps to the account's limits together with the
/// other workers, through the same database.
#[cfg(feature = "postgres")]
async fn shared_limits(
    options: &BatchArgs,
) -> Result<impl FnOnce(apikley::ClientBuilder) -> apikley::ClientBuilder, String> {
    let limits = match database(options) {
        Some(url) => Some(
            apikley::SharedLimits::connect(url)
                .await
                .map_err(|e| e.to_string())?,
        ),
        None => None,
    };
    Ok(move |builder: apikley::ClientBuilder| match limits {
        Some(limits) => builder.shared_limits(limits),
        None => builder,
    })
}

#[cfg(not(feature = "postgres"))]
async fn shared_limits(
    options: &BatchArgs,
) -> Result<impl FnOnce(apikley::ClientBuilder) -> apikley::ClientBuilder, String> {
    match database(options) {
        Some(_) => Err(NO_POSTGRES.to_owned()),
        None => Ok(|builder| builder),
    }
}

/// Why a PostgreSQL journal cannot be used by a build without it.
#[cfg_attr(
    feature = "postgres",
    allow(dead_code, reason = "builds without the feature")
)]
const NO_POSTGRES: &str = "a PostgreSQL journal needs the `postgres` feature of apikley-cli, \
    which this build lacks: cargo install apikley-cli --features postgres";

/// Says why nothing was sent, and exits 2.
fn refuse(json: bool, kind: &str, message: &str, problems: Value) -> ExitCode {
    if json {
        println!(
            "{}",
            json!({"error": {"kind": kind, "message": message, "problems": problems}})
        );
    } else {
        eprintln!("error: {message}");
    }
    ExitCode::from(exit::INVALID_INPUT)
}

/// Runs the batch with `client` until it ends or Ctrl-C, as the flags every command takes say
/// (`--json`, `--quiet`, `--no-sidecar`).
pub async fn run(
    options: &BatchArgs,
    global: &Global,
    jobs: Vec<jobs::JobLine>,
    client: &Client,
    resume: &str,
) -> ExitCode {
    let (json, sidecars) = (global.json, global.sidecars());
    let mut batch = match open(options).await {
        Ok(batch) => {
            let batch = batch
                .concurrency(options.concurrency)
                .resend_unknown(options.resend_unknown);
            match options.max_credits {
                Some(credits) => batch.max_credits(credits),
                None => batch,
            }
        }
        Err(error) => return refuse(json, "batch", &error, Value::Null),
    };
    let mut origins = HashMap::new();
    for job in jobs {
        if let Some(origin) = Origin::of_request(&job.request).filter(|_| sidecars) {
            origins.insert(job.key.clone(), origin);
        }
        if let Err(error) = batch.add(&job.key, job.request) {
            let message = format!("line {}: {error}", job.line);
            return refuse(json, "invalid_jobs", &message, Value::Null);
        }
    }
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    let stop_resume = resume.to_owned();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            if !json {
                eprintln!(
                    "stopping: no new job is sent; a createTask on its way is let finish (Ctrl-C \
                     again to stop at once). Tasks in flight go on at Apikley; to go on: {stop_resume}"
                );
            }
            stop.cancel();
        }
        // A second Ctrl-C ends the process at once: every journal write is a synced
        // transaction, so the journal stays consistent, as after a crash.
        if tokio::signal::ctrl_c().await.is_ok() {
            if !json {
                eprintln!("stopped at once; to go on: {stop_resume}");
            }
            std::process::exit(i32::from(exit::INTERRUPTED));
        }
    });

    #[cfg_attr(not(feature = "callbacks"), expect(unused_mut))]
    let mut run = batch.run(client).cancel_on(cancel.clone());
    #[cfg(feature = "callbacks")]
    let mut _receiver = None;
    #[cfg(feature = "callbacks")]
    if let (Some(url), Some(listen)) = (&options.callback_url, options.callback_listen) {
        let inbox = CallbackInbox::new();
        match receive_callbacks(listen, url, options.webhook_key.as_deref(), inbox.clone()).await {
            Ok(receiver) => _receiver = Some(receiver),
            Err(message) => return refuse(json, "callbacks", &message, Value::Null),
        }
        run = run.callbacks(url, inbox);
    }
    // Quiet: the report only.
    let mut display = Display::new(json || global.quiet);
    let outcome = run.on_event(|event| display.event(event)).await;
    display.finish();
    let report = match outcome {
        Ok(report) => report,
        Err(error @ BatchError::Changed(_)) => {
            return refuse(json, "changed_jobs", &error.to_string(), Value::Null);
        }
        Err(error) => return refuse(json, "batch", &error.to_string(), Value::Null),
    };
    write_sidecars(client, &report, &origins, json).await;
    summary(&report, json, resume, cancel.is_cancelled())
}

/// The provenance file of each saved result that has none yet (a run stopped between the two
/// leaves the next run to write it), from its task's final record (one status query for a
/// result an earlier run saved).
async fn write_sidecars(
    client: &Client,
    report: &BatchReport,
    origins: &HashMap<String, Origin>,
    json: bool,
) {
    let written = report.jobs.iter().filter_map(|job| {
        let JobOutcome::Saved {
            task_id,
            path,
            bytes,
            record,
            ..
        } = &job.outcome
        else {
            return None;
        };
        let origin = origins.get(&job.key)?;
        // Saved by a worker on another machine (a shared journal): not this one's to describe.
        if sidecar::path(path).exists() || !path.exists() {
            return None;
        }
        Some(async move {
            let record = match record {
                Some(record) => Ok((**record).clone()),
                None => client.task(task_id.clone()).status().await,
            };
            let outcome = match record {
                Ok(record) => sidecar::write(path, *bytes, &record, origin, true).await,
                Err(e) => Err(e.to_string()),
            };
            (job.key.as_str(), outcome)
        })
    });
    for (key, outcome) in futures_util::future::join_all(written).await {
        if let (Err(e), false) = (outcome, json) {
            eprintln!("warning: {key}: the result is saved, but its provenance file is not: {e}");
        }
    }
}

#[cfg(feature = "callbacks")]
/// Serves `POST <url's path>` on `listen` until dropped: each callback (signature checked
/// with `webhook_key` when given) goes to `inbox`.
async fn receive_callbacks(
    listen: SocketAddr,
    url: &str,
    webhook_key: Option<&str>,
    inbox: CallbackInbox,
) -> Result<AbortOnDrop, String> {
    let path = url::Url::parse(url)
        .map_err(|e| format!("--callback-url {url:?} is not a URL: {e}"))?
        .path()
        .to_owned();
    let verifier = webhook_key
        .map(CallbackVerifier::new)
        .transpose()
        .map_err(|e| format!("--webhook-key: {e}"))?;
    if verifier.is_none() && !listen.ip().is_loopback() {
        eprintln!(
            "warning: listening for callbacks on {listen} without a webhook key: anyone who can \
             reach it can post callbacks (each is confirmed by id, but set --webhook-key or \
             {WEBHOOK_KEY_VAR} if Apikley signs yours)"
        );
    }
    let app = inbox_router(&path, inbox, verifier);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen for callbacks on {listen}: {e}"))?;
    Ok(AbortOnDrop(tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    })))
}

#[cfg(feature = "callbacks")]
/// Stops the task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

#[cfg(feature = "callbacks")]
impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Why sending stopped, in the JSON report.
fn stopped_json(why: &SendingStopped) -> Value {
    match why {
        SendingStopped::SpendingCap { cap, spent } => {
            json!({"kind": "spending_cap", "cap": cap, "spent": spent, "message": why.to_string()})
        }
        SendingStopped::OutOfCredits(_) => {
            json!({"kind": "out_of_credits", "message": why.to_string()})
        }
        _ => json!({"kind": "balance_unread", "message": why.to_string()}),
    }
}

/// Prints the report and picks the exit code: 0 when every job is saved, 130 after Ctrl-C,
/// 3 when a job ended in an error or an unknown outcome, else 4 when a task failed.
fn summary(report: &BatchReport, json: bool, resume: &str, interrupted: bool) -> ExitCode {
    let counts = report.counts;
    let code = if report.is_complete() {
        0
    } else if interrupted {
        exit::INTERRUPTED
    } else if counts.unknown + counts.other > 0 {
        exit::API_ERROR
    } else {
        exit::TASK_FAILED
    };
    if json {
        let jobs: Vec<Value> = report
            .jobs
            .iter()
            .map(|j| job_json(&j.key, &j.outcome))
            .collect();
        println!(
            "{}",
            json!({
                "jobs": jobs,
                "counts": {
                    "total": counts.total, "saved": counts.saved, "failed": counts.failed,
                    "unknown": counts.unknown, "other": counts.other,
                },
                "dropped": report.dropped,
                "journal": report.journal,
                "complete": report.is_complete(),
                "sending_stopped": report.sending_stopped.as_ref().map(stopped_json),
            })
        );
        return ExitCode::from(code);
    }
    let pending: Vec<_> = report
        .jobs
        .iter()
        .filter(|j| !matches!(j.outcome, JobOutcome::Saved { .. }))
        .collect();
    if !pending.is_empty() {
        let width = pending.iter().map(|j| j.key.len()).max().unwrap_or(0);
        println!("{:width$}  {:8}  task / reason", "job", "outcome");
        for job in &pending {
            let task = job
                .outcome
                .task_id()
                .map(|id| format!("{id}: "))
                .unwrap_or_default();
            println!(
                "{:width$}  {:8}  {task}{}",
                job.key,
                job.outcome.name(),
                job.outcome
            );
        }
    }
    println!(
        "{} jobs: {} saved, {} failed, {} unknown, {} other{}",
        counts.total,
        counts.saved,
        counts.failed,
        counts.unknown,
        counts.other,
        if report.dropped.is_empty() {
            String::new()
        } else {
            format!(
                "; {} in the journal but not in the jobs file (left as they are)",
                report.dropped.len()
            )
        }
    );
    if counts.unknown > 0 {
        println!(
            "outcome unknown: their createTask went out and no answer came back, so they may \
             have created (and charged) a task. They are not resent. Check Apikley's task \
             list; to send them again anyway: {resume} --resend-unknown"
        );
    }
    let unsent = report
        .jobs
        .iter()
        .filter(|j| matches!(&j.outcome, JobOutcome::Error { task_id: None, .. }))
        .count();
    match &report.sending_stopped {
        Some(SendingStopped::OutOfCredits(reason)) => println!(
            "out of credits ({reason}): {unsent} jobs not sent; the tasks already created were \
             waited for and saved. Top up the account, then go on: {resume}"
        ),
        Some(SendingStopped::SpendingCap { cap, spent }) => println!(
            "spending cap reached ({spent} of {cap} credits spent; the creates on their way \
             then may add up to two tasks): {unsent} jobs not sent; the tasks created were \
             waited for and saved. To go on with a new budget: {resume}"
        ),
        Some(other) => println!("{other}: {unsent} jobs not sent; to go on: {resume}"),
        None if !report.is_complete()
            && counts.unknown + counts.failed < counts.total - counts.saved =>
        {
            println!("to go on: {resume}");
        }
        None => {}
    }
    ExitCode::from(code)
}

fn job_json(key: &str, outcome: &JobOutcome) -> Value {
    let mut job = json!({
        "key": key,
        "outcome": outcome.name(),
        "task_id": outcome.task_id(),
    });
    match outcome {
        JobOutcome::Saved {
            path,
            bytes,
            earlier,
            ..
        } => {
            job["file"] = json!(path);
            job["bytes"] = json!(bytes);
            job["earlier"] = json!(earlier);
        }
        JobOutcome::Failed { reason, .. }
        | JobOutcome::OutcomeUnknown { reason }
        | JobOutcome::Error { reason, .. } => job["reason"] = json!(reason),
        _ => {}
    }
    job
}

/// The live view: one bar overall on a terminal, a line per finished job otherwise.
struct Display {
    json: bool,
    bar: Option<ProgressBar>,
}

impl Display {
    fn new(json: bool) -> Self {
        let bar = (!json && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Display { json, bar }
    }

    fn event(&mut self, event: &BatchEvent) {
        if self.json {
            return;
        }
        let line = match (&event.stage, &event.outcome) {
            (JobStage::Finished, Some(outcome)) => Some(format!("{}: {outcome}", event.key)),
            _ => None,
        };
        match &self.bar {
            Some(bar) => {
                bar.set_length(event.counts.total as u64);
                bar.set_position(event.counts.finished() as u64);
                let eta = event
                    .eta
                    .map(|eta| format!(" · about {} left", Clock(eta)))
                    .unwrap_or_default();
                bar.set_message(format!("{}{eta}", event.counts));
                if let Some(line) = line {
                    bar.println(line);
                }
            }
            None => {
                if let Some(line) = line {
                    eprintln!("{line}");
                }
            }
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Command {
        #[command(flatten)]
        batch: BatchArgs,
    }

    fn hint(args: &[&str], sandbox: bool) -> String {
        let args = Command::try_parse_from(std::iter::once("batch").chain(args.iter().copied()))
            .expect("parses")
            .batch;
        resume_command(&args, "apikley", sandbox)
    }

    #[test]
    fn hints_carry_every_option_that_decides_what_they_act_on() {
        assert_eq!(
            hint(
                &[
                    "my jobs.jsonl",
                    "--out-dir",
                    "out",
                    "--journal",
                    "j.sqlite",
                    "--concurrency",
                    "8"
                ],
                true
            ),
            "apikley batch 'my jobs.jsonl' --out-dir out --journal j.sqlite --concurrency 8 --sandbox"
        );
    }

    #[cfg(feature = "callbacks")]
    #[test]
    fn hints_never_print_a_secret() {
        let with_secrets = hint(
            &[
                "jobs.jsonl",
                "--out-dir",
                "out",
                "--callback-url",
                "https://user:hunter2@hooks.example/cb",
                "--callback-listen",
                "0.0.0.0:8080",
                "--webhook-key",
                "whk_secret",
            ],
            false,
        );
        assert!(!with_secrets.contains("hunter2") && !with_secrets.contains("whk_secret"));
        let mut lines = with_secrets.lines();
        assert_eq!(
            lines.next(),
            Some(
                "apikley batch jobs.jsonl --out-dir out --callback-url \"$APIKLEY_CALLBACK_URL\" --callback-listen 0.0.0.0:8080"
            )
        );
        let needs = lines.next().expect("a second line");
        assert!(
            needs.contains("APIKLEY_CALLBACK_URL set to the callback URL"),
            "{needs}"
        );
        if std::env::var_os(WEBHOOK_KEY_VAR).is_none() {
            assert!(
                needs.contains("APIKLEY_WEBHOOK_KEY set to the webhook key"),
                "{needs}"
            );
        }
    }

    #[test]
    fn a_database_journal_is_told_from_a_file_and_its_password_never_printed() {
        let parse = |journal: &str| {
            Command::try_parse_from([
                "batch",
                "jobs.jsonl",
                "--out-dir",
                "out",
                "--journal",
                journal,
            ])
            .expect("parses")
            .batch
        };
        assert_eq!(
            database(&parse("postgres://me@db/x")),
            Some("postgres://me@db/x")
        );
        assert_eq!(
            database(&parse("postgresql://db/x")),
            Some("postgresql://db/x")
        );
        assert_eq!(database(&parse("postgres.sqlite")), None);
        assert_eq!(
            hint(
                &[
                    "jobs.jsonl",
                    "--out-dir",
                    "out",
                    "--journal",
                    "postgres://me@db:5432/x"
                ],
                false
            ),
            "apikley batch jobs.jsonl --out-dir out --journal postgres://me@db:5432/x"
        );
        let secret = hint(
            &[
                "jobs.jsonl",
                "--out-dir",
                "out",
                "--journal",
                "postgres://me:hunter2@db/x",
            ],
            false,
        );
        assert!(!secret.contains("hunter2"), "{secret}");
        let in_query = hint(
            &[
                "jobs.jsonl",
                "--out-dir",
                "out",
                "--journal",
                "postgres://me@db/x?password=hunter2",
            ],
            false,
        );
        assert!(!in_query.contains("hunter2"), "{in_query}");
        assert!(
            secret.starts_with(
                "apikley batch jobs.jsonl --out-dir out --journal \"$APIKLEY_JOURNAL\""
            ),
            "{secret}"
        );
        assert!(
            secret.contains("APIKLEY_JOURNAL set to the journal's address"),
            "{secret}"
        );
        // A build without the feature says which one it lacks.
        assert!(NO_POSTGRES.contains("`postgres` feature of apikley-cli"));
    }
}
