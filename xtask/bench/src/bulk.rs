//! Bulk: many tasks through one client against the sandbox enforcing the documented limits,
//! on tokio's paused clock. (2) Tasks submitted and awaited: 429s, the create rate as a
//! fraction of the limit, status queries per task, total time against the floor the limit
//! sets. (3) Tasks all waiting at once, real times spread between 60 and 180 s, under the
//! documented 10 status queries per second: detection lag, median, p95 and worst.

use std::time::Duration;

use apikley::{RateLimit, RateLimits};
use apikley_sandbox::Faults;

use crate::common::{client, generation_seconds, median, quantile, request, sandbox, spec};
use crate::table::{Row, secs};

const CREATES: RateLimit = RateLimit::new(20, Duration::from_secs(10));

pub async fn submitted_and_awaited(tasks: usize) -> Row {
    let sandbox = sandbox(Faults::none().with_rate_limit(CREATES)).await;
    let client = client(&sandbox, RateLimits::default());
    let spec = spec();
    let real = Duration::from_secs(60);
    let started = tokio::time::Instant::now();
    let waits: Vec<_> = (0..tasks)
        .map(|i| {
            let client = client.clone();
            let request = request(&spec, real, &format!("bulk {i}"));
            tokio::spawn(async move {
                let task = client.submit(request).await.expect("created");
                task.waiter()
                    .deadline(Duration::from_secs(24 * 3600))
                    .await
                    .expect("succeeds");
            })
        })
        .collect();
    for wait in waits {
        wait.await.expect("no panic");
    }
    let total = started.elapsed().as_secs_f64();
    let stats = sandbox.stats();
    let created: Vec<f64> = sandbox
        .tasks()
        .iter()
        .map(|t| t.created.as_secs_f64())
        .collect();
    let span = created.last().copied().unwrap_or(0.0) - created.first().copied().unwrap_or(0.0);
    let window = CREATES.per.as_secs_f64();
    let limit = f64::from(CREATES.max) / window;
    let rate = tasks as f64 / (span + window);
    let fraction = rate / limit;
    let windows = tasks.div_ceil(CREATES.max as usize) as f64;
    let floor = (windows - 1.0) * window + real.as_secs_f64();
    let per_task = stats.status_queries as f64 / tasks as f64;
    Row {
        bench: "2 bulk",
        case: format!("{tasks} tasks of 60 s, one client, sandbox enforcing 20 creates/10 s"),
        ours: format!(
            "{} 429s; create rate {:.3}/s = {:.1}% of the limit; {per_task:.1} status queries/task; total {} ({:.2}× the floor)",
            stats.rate_limited,
            rate,
            100.0 * fraction,
            secs(total),
            total / floor
        ),
        other: format!("floor set by the limit: {}", secs(floor)),
        target: "0 429s; create rate ≥ 0.95 of the limit".into(),
        met: Some(stats.rate_limited == 0 && fraction >= 0.95),
    }
}

/// Lags (seconds) of `tasks` tasks waiting at once, with expectations `prior(real)`.
async fn lags_in_flight(
    tasks: usize,
    prior: impl Fn(f64, &mut fastrand::Rng) -> f64,
) -> (Vec<f64>, f64) {
    let sandbox = sandbox(Faults::none()).await;
    // All tasks in flight at once: no create limit here; the query limit is the documented one.
    let client = client(&sandbox, RateLimits::default().with_creates(None));
    let spec = spec();
    let mut random = fastrand::Rng::with_seed(7);
    let mut tasks_made = Vec::new();
    for i in 0..tasks {
        let real = 60.0 + 120.0 * random.f64();
        let request = request(
            &spec,
            Duration::from_secs_f64(real),
            &format!("in flight {i}"),
        );
        let task = client.submit(request).await.expect("created");
        let submitted = tokio::time::Instant::now();
        tasks_made.push((task, submitted, real, prior(real, &mut random)));
    }
    let waits: Vec<_> = tasks_made
        .into_iter()
        .map(|(task, submitted, real, expected)| {
            tokio::spawn(async move {
                let done = task
                    .waiter()
                    .expecting(Duration::from_secs_f64(expected))
                    .deadline(Duration::from_secs(3600))
                    .await
                    .expect("succeeds");
                let record = done.record();
                let took = generation_seconds(record, real);
                submitted.elapsed().as_secs_f64() - took
            })
        })
        .collect();
    let mut lags = Vec::new();
    for wait in waits {
        lags.push(wait.await.expect("no panic").max(0.0));
    }
    let queries = sandbox.stats().status_queries as f64 / tasks as f64;
    (lags, queries)
}

/// A wait's expectation for a task of this real duration.
type Prior = fn(f64, &mut fastrand::Rng) -> f64;

pub async fn in_flight(tasks: usize) -> Vec<Row> {
    let mut rows = Vec::new();
    let cases: [(&str, Prior); 2] = [
        ("expectations within ±20%", |real, random| {
            real * (0.8 + 0.4 * random.f64())
        }),
        ("every expectation 120 s (nothing known)", |_, _| 120.0),
    ];
    for (n, (name, prior)) in cases.into_iter().enumerate() {
        let (mut lags, queries) = lags_in_flight(tasks, prior).await;
        let worst = lags.iter().copied().fold(0.0, f64::max);
        let p95 = quantile(&mut lags, 0.95);
        let lag = median(&mut lags);
        rows.push(Row {
            bench: "3 in flight",
            case: format!("{tasks} tasks waiting at once, 60–180 s, 10 queries/s; {name}"),
            ours: format!(
                "lag {} (p95 {}, worst {}); {queries:.1} queries/task",
                secs(lag),
                secs(p95),
                secs(worst)
            ),
            other: "first come, first served: each task seen about every 100 s (1000 / 10 per s)"
                .into(),
            target: if n == 0 {
                "median ≤ 15 s, p95 ≤ 60 s".into()
            } else {
                "(no target: shows what expectations buy)".into()
            },
            met: (n == 0).then_some(lag <= 15.0 && p95 <= 60.0),
        });
    }
    rows
}
