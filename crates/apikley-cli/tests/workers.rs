//! Several `apikley batch` workers on one PostgreSQL journal, against one sandbox that
//! enforces the documented create limit (20 per 10 s, 429 above it) and answers every call
//! 150 ms late: 200 jobs, four workers,
//! two of them killed (SIGKILL) at random moments. Every job is saved or reported (outcome
//! unknown only for creates on their way at a kill), no task is created twice, the service
//! never says 429, and the creates of all workers together keep the limit's pace.

use std::time::Duration;

use apikley::RateLimit;
use apikley_sandbox::SAMPLE_VIDEO;
use apikley_test_support::postgres::Postgres;
use apikley_test_support::workers::{Plan, Run, prompt, run};

mod support;
use support::APIKLEY;

const JOBS: usize = 200;
/// The documented create limit.
const LIMIT: RateLimit = RateLimit::new(20, Duration::from_secs(10));

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_workers_share_one_journal_and_the_account_limits_through_two_kills() {
    let Some(server) = Postgres::start() else {
        return;
    };
    // Two workers die at random moments: one while the first tasks run, one later.
    let seed = u64::from(std::process::id());
    let random = |below: u64, salt: u64| (seed ^ salt).wrapping_mul(0x9e37_79b9_7f4a_7c15) % below;
    let plan = Plan {
        jobs: JOBS,
        workers: 4,
        kills: vec![
            (0, Duration::from_secs(10 + random(25, 1))),
            (1, Duration::from_secs(40 + random(30, 2))),
        ],
        limit: LIMIT,
        // Tasks take seconds.
        speed: 50.0,
        // Every answer late, so that a kill may land on a create on its way.
        latency: Duration::from_millis(150),
    };
    let done = run(APIKLEY, &server, &plan).await;

    assert_eq!(done.created_twice(), 0, "tasks created twice (seed {seed})");
    assert_eq!(done.rate_limited, 0, "the service said 429");
    // Each survivor's report covers every job of the batch, and they agree.
    let (code, first) = &done.reports[0];
    assert_eq!(Run::outcomes(first).len(), JOBS);
    for (_, other) in &done.reports[1..] {
        assert_eq!(Run::outcomes(other), Run::outcomes(first));
    }
    let per_prompt = done.tasks_per_prompt();
    for (i, job) in first["jobs"].as_array().expect("jobs").iter().enumerate() {
        match job["outcome"].as_str() {
            Some("saved") => {
                let file = done.dir.path().join(job["file"].as_str().expect("a file"));
                assert_eq!(std::fs::read(&file).expect("saved"), SAMPLE_VIDEO, "{job}");
                assert_eq!(
                    per_prompt.get(&prompt(i)).map(|ids| ids[0].as_str()),
                    job["task_id"].as_str(),
                    "{job}"
                );
            }
            // Its createTask was on its way at a kill.
            Some("unknown") => {}
            _ => panic!("{job}"),
        }
    }
    let (saved, unknown) = done.saved_and_unknown();
    assert_eq!(saved + unknown, JOBS);
    assert!(
        unknown <= plan.kills.len() * apikley::batch::CREATES_IN_FLIGHT,
        "{unknown} unknown after {} kills (seed {seed})",
        plan.kills.len()
    );
    assert_eq!(*code, Some(if unknown == 0 { 0 } else { 3 }));

    // All workers together at the limit's pace, never above it.
    let rate = done.create_rate(LIMIT);
    let limit = f64::from(LIMIT.max) / LIMIT.per.as_secs_f64();
    println!(
        "kills at {:?} (seed {seed}): {saved} saved, {unknown} unknown, {} tasks created, 0 twice, \
         0 × 429; create rate {rate:.3}/s = {:.1}% of the limit; {:.0} s in all",
        plan.kills,
        done.created.len(),
        100.0 * rate / limit,
        done.took.as_secs_f64()
    );
    assert!(rate <= limit * 1.001, "{rate}/s: over the limit");
    assert!(
        rate >= limit * 0.9,
        "{rate}/s: more than 10% under the limit"
    );
}
