//! One account's limits shared by several processes through PostgreSQL: together they stay
//! within the limit the service enforces, and keep its pace. Each client here has its own
//! database connection (its own session), as separate processes would.

use std::time::{Duration, Instant};

use apikley::{Client, RateLimit, RateLimits, RetryPolicy, SharedLimits};
use apikley_sandbox::{Faults, Sandbox};
use apikley_test_support::postgres::Postgres;

/// 10 creates per second: the documented 20 per 10 s, ten times as fast, so that the test is
/// short.
const LIMIT: RateLimit = RateLimit::new(10, Duration::from_secs(1));
const CLIENTS: usize = 3;
const CREATES_EACH: usize = 20;

/// `CLIENTS` clients each creating `CREATES_EACH` tasks at once: how long it took, and the
/// sandbox's count of 429s.
async fn run(sandbox: &Sandbox, clients: Vec<Client>) -> (Duration, u64) {
    let started = Instant::now();
    let mut creates = tokio::task::JoinSet::new();
    for client in clients {
        for i in 0..CREATES_EACH {
            let client = client.clone();
            creates.spawn(async move {
                let body = apikley_test_support::example_body(&format!("task {i}"));
                client
                    .submit_body::<apikley_test_support::ExampleVideo>(&body)
                    .await
                    .expect("created")
            });
        }
    }
    while let Some(created) = creates.join_next().await {
        created.expect("no panic");
    }
    (started.elapsed(), sandbox.stats().rate_limited)
}

async fn sandbox() -> Sandbox {
    Sandbox::builder()
        .speed(1000.0)
        .credits(1e9)
        .model(apikley_sandbox::SandboxModel::of::<
            apikley_test_support::ExampleVideo,
        >())
        .faults(Faults::none().with_rate_limit(LIMIT))
        .start()
        .await
        .expect("starts")
}

fn builder(sandbox: &Sandbox) -> apikley::ClientBuilder {
    sandbox
        .client()
        .rate_limits(RateLimits::none().with_creates(Some(LIMIT)))
        .retry(RetryPolicy::default().with_max_attempts(10))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_sharing_the_limits_keep_to_them_together() {
    let Some(server) = Postgres::start() else {
        return;
    };
    // Alone, each keeps to the limit and together they exceed it: the service says 429.
    let alone = sandbox().await;
    let clients = (0..CLIENTS)
        .map(|_| builder(&alone).build().expect("builds"))
        .collect();
    let (_, refused) = run(&alone, clients).await;
    assert!(refused > 0, "three clients alone exceed the limit");

    // Shared, never.
    let shared = sandbox().await;
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let limits = SharedLimits::connect(&server.url())
            .await
            .expect("connects");
        clients.push(
            builder(&shared)
                .shared_limits(limits)
                .build()
                .expect("builds"),
        );
    }
    let (took, refused) = run(&shared, clients).await;
    assert_eq!(refused, 0);
    assert_eq!(
        shared.stats().tasks_created,
        (CLIENTS * CREATES_EACH) as u64
    );
    // 60 creates at 10 per second: the first 10 at once, then 10 a second, so at least 5 s;
    // within 10% of the limit's pace.
    let floor = Duration::from_secs(5);
    assert!(took >= floor, "{took:?}: faster than the limit");
    assert!(
        took <= floor.mul_f64(1.1) + LIMIT.per,
        "{took:?}: far slower than the limit"
    );
}
