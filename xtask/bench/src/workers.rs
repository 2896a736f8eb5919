//! Workers sharing one batch: `apikley batch` processes on one PostgreSQL journal (a
//! throwaway server), against one sandbox enforcing the documented create limit (20 per 10 s,
//! 429 above it), some killed (SIGKILL) on the way: tasks created twice, 429s, and the create
//! rate of all workers together against the limit.

use std::time::Duration;

use apikley::RateLimit;
use apikley_test_support::postgres::Postgres;
use apikley_test_support::workers::{Plan, run};

use crate::table::Row;

/// The documented create limit.
const LIMIT: RateLimit = RateLimit::new(20, Duration::from_secs(10));

pub fn shared_batch(quick: bool) -> Row {
    // Quick: no kill (a dead worker's unsent claims wait out its lease, about 20 s, which a
    // run of seconds cannot absorb; the test and the full run kill).
    let plan = if quick {
        Plan {
            jobs: 40,
            workers: 2,
            kills: vec![],
            limit: LIMIT,
            speed: 50.0,
            latency: Duration::from_millis(150),
        }
    } else {
        Plan {
            jobs: 200,
            workers: 4,
            kills: vec![(0, Duration::from_secs(25)), (1, Duration::from_secs(55))],
            limit: LIMIT,
            speed: 50.0,
            latency: Duration::from_millis(150),
        }
    };
    let case = format!(
        "{} jobs, {} `apikley batch` workers on one PostgreSQL journal, {} SIGKILLed (at [{}]), sandbox enforcing 20 creates/10 s and answering 150 ms late",
        plan.jobs,
        plan.workers,
        plan.kills.len(),
        plan.kills
            .iter()
            .map(|(_, at)| format!("{} s", at.as_secs()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let target = "0 created twice, 0 × 429, create rate within 10% of the limit".to_owned();
    let Some(server) = Postgres::start() else {
        return Row {
            bench: "11 workers",
            case,
            ours: "skipped: PostgreSQL is not installed".into(),
            other: String::new(),
            target,
            met: None,
        };
    };
    // The `apikley` binary beside this one, built with its `postgres` feature.
    let bin = std::env::current_exe()
        .expect("this binary's path")
        .with_file_name("apikley");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let done = runtime.block_on(run(&bin.to_string_lossy(), &server, &plan));
    let (saved, unknown) = done.saved_and_unknown();
    let rate = done.create_rate(LIMIT);
    let limit = f64::from(LIMIT.max) / LIMIT.per.as_secs_f64();
    let twice = done.created_twice();
    Row {
        bench: "11 workers",
        case,
        ours: format!(
            "{saved} saved, {unknown} outcome unknown, {} tasks created, {twice} twice, {} × 429; create rate {rate:.3}/s = {:.1}% of the limit; {:.0} s in all",
            done.created.len(),
            done.rate_limited,
            100.0 * rate / limit,
            done.took.as_secs_f64()
        ),
        other: format!("the limit: {limit:.3} creates/s"),
        target,
        met: Some(
            twice == 0
                && done.rate_limited == 0
                && saved + unknown == plan.jobs
                && (0.9..=1.001).contains(&(rate / limit)),
        ),
    }
}
