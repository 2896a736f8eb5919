//! Polling: lag and cost. Tasks whose real generation time is 20, 60, 120 and 300 s (each
//! ±5%, so that polls meet tasks at every phase), waited for with the default schedule when
//! the client's expectation is right, 3× too long and 3× too short, against the docs'
//! recommended schedule at its thrifty end and a fixed 3 s poll, all in one run on tokio's
//! paused clock. And a client whose expectation was learned by an earlier run (a warm task
//! history) waiting for tasks of one workload whose times vary in the service, beside the
//! docs' schedule over the same tasks. Status queries per task and detection lag (the task's end to the wait
//! returning): medians and p95. And waits on callbacks instead (a callback URL and an inbox),
//! on the real clock since callbacks are real HTTP: status queries per task, and the real
//! time from the task's end to the wait returning.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use apikley::{PollSchedule, RateLimits};
use apikley_sandbox::{Faults, Sandbox, SandboxModel};

use crate::common::{client, generation_seconds, median, quantile, request, sandbox, spec};
use crate::table::{Row, secs};

#[derive(Clone, Copy, PartialEq)]
enum Schedule {
    /// The SDK's default, with an expectation this many times the real time.
    Default(f64),
    /// The documented schedule at its thrifty end (3 s, 10 s, 30 s).
    Docs,
    /// Every 3 s.
    Fixed3,
    /// The SDK's default with no expectation given: the client's own (learned, or the spec's).
    Own,
}

/// Where the tasks' times vary (±5%, so that polls meet tasks at every phase).
#[derive(Clone, Copy, PartialEq)]
enum Spread {
    /// In their inputs: each task is a workload of its own.
    Inputs,
    /// In the service: one workload whose tasks vary, as a real model's do.
    Service,
}

/// Queries per task, and lag median and p95 in seconds.
struct Cell {
    queries: f64,
    lag: f64,
    lag_p95: f64,
}

/// `tasks` tasks of about `real` seconds waited for on `schedule`, by a client recording in
/// `history` (and starting from what it learned) when given.
async fn measure(
    real: f64,
    schedule: Schedule,
    tasks: usize,
    seed: u64,
    spread: Spread,
    history: Option<&Path>,
) -> Cell {
    let sandbox = match spread {
        Spread::Inputs => sandbox(Faults::none()).await,
        Spread::Service => Sandbox::builder()
            .credits(1e12)
            .model(SandboxModel::from_spec(spec()))
            .time_spread(0.05)
            .seed(seed)
            .start()
            .await
            .expect("the sandbox starts"),
    };
    let client = match history {
        Some(path) => sandbox
            .client()
            .for_paused_clock()
            .rate_limits(RateLimits::none())
            .history(path)
            .build()
            .expect("a client"),
        None => client(&sandbox, RateLimits::none()),
    };
    let spec = spec();
    let mut random = fastrand::Rng::with_seed(seed);
    let waits: Vec<_> = (0..tasks)
        .map(|i| {
            let varied = match spread {
                Spread::Inputs => 0.95 + 0.1 * random.f64(),
                Spread::Service => 1.0,
            };
            let real = Duration::from_secs_f64(real * varied);
            let request = request(&spec, real, &format!("task {i}"));
            let client = client.clone();
            tokio::spawn(async move {
                let task = client.submit(request).await.expect("created");
                let started = tokio::time::Instant::now();
                let queries = Arc::new(Mutex::new(0_u32));
                let seen = queries.clone();
                let mut waiter = task.waiter().deadline(Duration::from_secs(3600));
                waiter = match schedule {
                    Schedule::Default(factor) => waiter.expecting(real.mul_f64(factor)),
                    Schedule::Docs => waiter.expecting(Duration::ZERO),
                    Schedule::Fixed3 => {
                        waiter.schedule(PollSchedule::Every(Duration::from_secs(3)))
                    }
                    Schedule::Own => waiter,
                };
                let done = waiter
                    .on_progress(move |p| *seen.lock().expect("not poisoned") = p.queries)
                    .await
                    .expect("succeeds");
                let waited = started.elapsed().as_secs_f64();
                let record = done.record();
                let took = generation_seconds(record, real.as_secs_f64());
                let queries = *queries.lock().expect("not poisoned");
                (f64::from(queries), (waited - took).max(0.0))
            })
        })
        .collect();
    let mut queries = Vec::new();
    let mut lags = Vec::new();
    for wait in waits {
        let (q, lag) = wait.await.expect("no panic");
        queries.push(q);
        lags.push(lag);
    }
    Cell {
        queries: median(&mut queries),
        lag: median(&mut lags.clone()),
        lag_p95: quantile(&mut lags, 0.95),
    }
}

fn show(cell: &Cell) -> String {
    format!(
        "{:.1} queries/task, lag {} (p95 {})",
        cell.queries,
        secs(cell.lag),
        secs(cell.lag_p95)
    )
}

pub async fn run(quick: bool) -> Vec<Row> {
    let tasks = if quick { 8 } else { 40 };
    let mut rows = Vec::new();
    for (n, real) in [20.0, 60.0, 120.0, 300.0].into_iter().enumerate() {
        let seed = 1000 + n as u64;
        let docs = measure(real, Schedule::Docs, tasks, seed, Spread::Inputs, None).await;
        let fixed = measure(real, Schedule::Fixed3, tasks, seed, Spread::Inputs, None).await;
        for (factor, name) in [
            (1.0, "right"),
            (3.0, "3× too long"),
            (1.0 / 3.0, "3× too short"),
        ] {
            let ours = measure(
                real,
                Schedule::Default(factor),
                tasks,
                seed,
                Spread::Inputs,
                None,
            )
            .await;
            let fewer = docs.queries / ours.queries.max(1.0);
            let mut met = ours.queries <= docs.queries && ours.lag <= docs.lag + 0.05;
            let mut target = "queries ≤ docs; median lag ≤ docs".to_owned();
            if factor == 1.0 {
                met &= fewer >= 2.0;
                target.push_str("; ≥ 2× fewer queries");
            }
            rows.push(Row {
                bench: "1 polling",
                case: format!("{real:.0} s task, expectation {name}"),
                ours: format!("{} ({fewer:.1}× fewer than docs)", show(&ours)),
                other: format!("docs: {} · fixed 3 s: {}", show(&docs), show(&fixed)),
                target,
                met: Some(met),
            });
        }
        rows.push(learned(real, tasks, seed).await);
    }
    rows
}

/// Tasks earlier runs saw before the measured ones, in the learned case.
const WARM_TASKS: usize = 8;

/// A client whose history holds [`WARM_TASKS`] tasks of the same workload, seen by an earlier
/// client (another run), beside the docs' schedule over the same tasks (the same sandbox seed:
/// the same times).
async fn learned(real: f64, tasks: usize, seed: u64) -> Row {
    let dir = tempfile::tempdir().expect("a temp dir");
    let history = dir.path().join("history.sqlite");
    let warm = Some(history.as_path());
    measure(
        real,
        Schedule::Own,
        WARM_TASKS,
        seed + 100,
        Spread::Service,
        warm,
    )
    .await;
    let ours = measure(real, Schedule::Own, tasks, seed, Spread::Service, warm).await;
    let docs = measure(real, Schedule::Docs, tasks, seed, Spread::Service, None).await;
    let fewer = docs.queries / ours.queries.max(1.0);
    Row {
        bench: "1 polling",
        case: format!(
            "{real:.0} s task, expectation learned from a warm history ({WARM_TASKS} earlier tasks; the service varies ±5%)"
        ),
        ours: format!("{} ({fewer:.1}× fewer than docs)", show(&ours)),
        other: format!("docs, same tasks: {}", show(&docs)),
        target: "≥ 2× fewer queries than docs; median lag ≤ docs".into(),
        met: Some(fewer >= 2.0 && ours.lag <= docs.lag + 0.05),
    }
}

/// Waits on callbacks: `tasks` tasks of `real` (sandbox time) on a sandbox `speed` times faster
/// than real time, each wait given the inbox that the callback endpoint delivers to. On its
/// own real-clock runtime.
pub fn callbacks(quick: bool) -> Row {
    let (tasks, real, speed) = if quick {
        (8, 60.0, 100.0)
    } else {
        (40, 60.0, 100.0)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let (queries, lags) = runtime.block_on(async {
        let inbox = apikley::callback::CallbackInbox::new();
        let app = apikley::callback::axum::inbox_router("/hook", inbox.clone(), None);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let hook = format!("http://{}/hook", listener.local_addr().expect("address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        let sandbox = apikley_sandbox::Sandbox::builder()
            .credits(1e12)
            .speed(speed)
            .model(apikley_sandbox::SandboxModel::from_spec(spec()))
            .start()
            .await
            .expect("the sandbox starts");
        let client = sandbox
            .client()
            .rate_limits(RateLimits::none())
            .build()
            .expect("a client");
        let spec = spec();
        let waits: Vec<_> = (0..tasks)
            .map(|i| {
                let request = request(&spec, Duration::from_secs_f64(real), &format!("task {i}"))
                    .with_callback_url(&hook);
                let client = client.clone();
                let inbox = inbox.clone();
                tokio::spawn(async move {
                    let started = std::time::Instant::now();
                    let task = client.submit(request).await.expect("created");
                    let queries = Arc::new(Mutex::new(0_u32));
                    let seen = queries.clone();
                    let done = task
                        .waiter()
                        .callbacks(inbox)
                        .on_progress(move |p| *seen.lock().expect("not poisoned") = p.queries)
                        .await
                        .expect("succeeds");
                    let record = done.record();
                    let took = generation_seconds(record, real);
                    let lag = started.elapsed().as_secs_f64() - took / speed;
                    let queries = *queries.lock().expect("not poisoned");
                    (f64::from(queries), lag.max(0.0))
                })
            })
            .collect();
        let mut queries = Vec::new();
        let mut lags = Vec::new();
        for wait in waits {
            let (q, lag) = wait.await.expect("no panic");
            queries.push(q);
            lags.push(lag);
        }
        (queries, lags)
    });
    let (mut queries, mut lags) = (queries, lags);
    let most = queries.iter().copied().fold(0.0, f64::max);
    let median_queries = median(&mut queries);
    Row {
        bench: "1 polling",
        case: format!(
            "{real:.0} s task, with a callback URL ({tasks} tasks, real clock, sandbox {speed:.0}× real time)"
        ),
        ours: format!(
            "{median_queries:.1} queries/task (at most {most:.0}: the one confirming the callback), 0 polls; lag {:.0} ms (p95 {:.0} ms) of real time",
            1000.0 * median(&mut lags.clone()),
            1000.0 * quantile(&mut lags, 0.95)
        ),
        other: "docs' schedule over the same task: see the 60 s rows".into(),
        target: "zero polls".into(),
        met: Some(most <= 1.0),
    }
}
