//! The task history: every task a client creates is on disk before its `createTask` goes out,
//! completed as the task goes on, and found again by a program that crashed before its own
//! bookkeeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use apikley::history::{EntryState, History};
use apikley::{ErrorKind, RetryPolicy, TaskState};
use serde_json::json;

use apikley_test_support::ExampleVideo;

use crate::support::{
    Reply, ScriptedServer, body as example_body, builder, created, raw_response, record,
};

/// The start of an MP4 file, then filler.
fn video() -> Vec<u8> {
    let mut bytes = b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom".to_vec();
    bytes.extend((0..20_000).map(|i| (i % 251) as u8));
    bytes
}

/// The task id a status query asks about.
fn queried_id(seen: &crate::support::Seen) -> String {
    seen.target
        .rsplit('=')
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// A server whose tasks are `task-N` (N counted from 1) and succeed at once with `/v.mp4`.
async fn service(file: Vec<u8>) -> (ScriptedServer, Arc<AtomicUsize>) {
    let creates = Arc::new(AtomicUsize::new(0));
    let counted = creates.clone();
    let server = ScriptedServer::start(move |seen, _| {
        if seen.target.starts_with("/api/v1/jobs/createTask") {
            let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
            return Reply::ok(created(&format!("task-{n}")));
        }
        if seen.target.starts_with("/api/v1/jobs/recordInfo") {
            let id = queried_id(seen);
            let url = format!("http://{}/v.mp4", seen.header("host").unwrap_or_default());
            return Reply::ok(json!({"code": 200, "msg": "success", "data": {
                "taskId": id, "state": "success",
                "resultJson": json!({"resultUrls": [url]}).to_string()
            }}));
        }
        Reply::Raw(raw_response(
            200,
            &[("content-length", file.len().to_string())],
            &file,
        ))
    })
    .await;
    (server, creates)
}

#[tokio::test(start_paused = true)]
async fn a_crash_after_submit_is_recovered_from_the_history() {
    let file = video();
    let (server, creates) = service(file.clone()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("state").join("history.sqlite");
    let target = dir.path().join("beach.mp4");

    // The program submits, then dies before writing the id anywhere of its own.
    {
        let client = builder(&server.url)
            .history(&store)
            .build()
            .expect("builds");
        let task = client
            .submit_body::<ExampleVideo>(&example_body())
            .destination(&target)
            .await
            .expect("submits");
        assert_eq!(task.id().as_str(), "task-1");
    }

    // The next run finds it, with what it was and where it was to go.
    let history = History::open(&store).expect("opens");
    let pending = history.pending().await.expect("reads");
    assert_eq!(pending.len(), 1, "{pending:?}");
    let entry = &pending[0];
    assert_eq!(entry.task_id.as_ref().map(|t| t.as_str()), Some("task-1"));
    assert_eq!(entry.model, "example/video");
    assert_eq!(entry.input["prompt"], "A serene beach");
    assert_eq!(entry.state, EntryState::Task(TaskState::Waiting));
    assert_eq!(entry.destination.as_deref(), Some(target.as_path()));

    let client = builder(&server.url)
        .history(&store)
        .build()
        .expect("builds");
    let id = entry.task_id.clone().expect("an id");
    let done = client.task(id).wait().await.expect("ends");
    let entry = history.last().await.expect("reads").expect("an entry");
    assert_eq!(entry.state, EntryState::Task(TaskState::Success));
    assert_eq!(entry.urls, done.urls());
    done.download(entry.destination.clone().expect("a destination"))
        .await
        .expect("saves");

    assert_eq!(std::fs::read(&target).expect("saved"), file);
    let entry = history.last().await.expect("reads").expect("an entry");
    assert_eq!(entry.state, EntryState::Saved);
    assert_eq!(entry.saved_to.as_deref(), Some(target.as_path()));
    assert!(history.pending().await.expect("reads").is_empty());
    assert_eq!(creates.load(Ordering::SeqCst), 1, "nothing created twice");
}

/// The error of a submission, recorded in the history at `store`, to a server that answers
/// `createTask` as `answer` does (sent once, never retried).
async fn refused_create(
    answer: impl Fn(&crate::support::Seen, usize) -> Reply + Send + Sync + 'static,
    store: &std::path::Path,
) -> apikley::Error {
    let server = ScriptedServer::start(answer).await;
    let client = builder(&server.url)
        .retry(RetryPolicy::none())
        .history(store)
        .build()
        .expect("builds");
    client
        .submit_body::<ExampleVideo>(&example_body())
        .await
        .expect_err("refused")
}

#[tokio::test(start_paused = true)]
async fn a_create_without_an_answer_is_an_unknown_outcome_and_a_refusal_is_forgotten() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("history.sqlite");
    let history = History::open(&store).expect("opens");

    let error = refused_create(
        |_, _| Reply::Raw(raw_response(502, &[], b"<html>Bad Gateway</html>")),
        &store,
    )
    .await;
    assert_eq!(error.kind(), ErrorKind::OutcomeUnknown);
    let entries = history.entries(10).await.expect("reads");
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0].state, EntryState::OutcomeUnknown);
    assert!(entries[0].outcome_unknown() && !entries[0].is_pending());
    assert!(
        entries[0]
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("502"))
    );

    // Refused: provably nothing was created, so nothing is remembered.
    let error = refused_create(
        |_, _| Reply::ok(json!({"code": 402, "msg": "insufficient credits", "data": null})),
        &store,
    )
    .await;
    assert_eq!(error.kind(), ErrorKind::Api);
    assert_eq!(history.entries(10).await.expect("reads").len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_failed_task_is_not_pending_and_clients_share_one_history() {
    let creates = AtomicUsize::new(0);
    let server = ScriptedServer::start(move |seen, _| {
        if seen.target.starts_with("/api/v1/jobs/createTask") {
            let n = creates.fetch_add(1, Ordering::SeqCst) + 1;
            return Reply::ok(created(&format!("task-{n}")));
        }
        let id = queried_id(seen);
        Reply::ok(json!({"code": 200, "msg": "success", "data": {
            "taskId": id, "state": "fail", "failCode": "500", "failMsg": "flagged"
        }}))
    })
    .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("history.sqlite");
    let (first, second) = (
        builder(&server.url)
            .history(&store)
            .build()
            .expect("builds"),
        builder(&server.url)
            .history(&store)
            .build()
            .expect("builds"),
    );
    let (a, b) = tokio::join!(
        first.submit_body::<ExampleVideo>(&example_body()),
        second.submit_body::<ExampleVideo>(&example_body()),
    );
    let (a, b) = (a.expect("submits"), b.expect("submits"));
    let error = a.wait().await.expect_err("fails");
    assert_eq!(error.kind(), ErrorKind::TaskFailed);

    let history = History::open(&store).expect("opens");
    let entries = history.entries(10).await.expect("reads");
    assert_eq!(entries.len(), 2, "both recorded: {entries:?}");
    assert!(entries[0].number > entries[1].number, "newest first");
    let failed = history.find(a.id()).await.expect("reads").expect("found");
    assert_eq!(failed.state, EntryState::Task(TaskState::Fail));
    assert!(
        failed
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("flagged"))
    );
    assert!(!failed.is_pending());
    // The task no wait followed stays pending; the failed one does not.
    let pending = history.pending().await.expect("reads");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].task_id.as_ref(), Some(b.id()));
}

#[cfg(unix)]
#[test]
fn the_history_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("history.sqlite");
    drop(History::open(&path).expect("opens"));
    let mode = std::fs::metadata(&path)
        .expect("exists")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

/// A server whose tasks `task-N` each end two minutes after their create (as their records
/// say too), answering every status query before that with "generating".
async fn two_minute_tasks() -> ScriptedServer {
    let created_at = Arc::new(std::sync::Mutex::new(Vec::new()));
    ScriptedServer::start(move |seen, _| {
        let mut created_at = created_at.lock().expect("not poisoned");
        if seen.target.starts_with("/api/v1/jobs/createTask") {
            created_at.push(seen.at);
            return Reply::ok(created(&format!("task-{}", created_at.len())));
        }
        let id = queried_id(seen);
        let n: usize = id
            .trim_start_matches("task-")
            .parse()
            .expect("a task of ours");
        let done = seen.at - created_at[n - 1] >= std::time::Duration::from_secs(120);
        Reply::ok(record(&id, if done { "success" } else { "generating" }))
    })
    .await
}

#[tokio::test(start_paused = true)]
async fn timings_learned_in_one_run_make_the_next_runs_waits_sparser() {
    let server = two_minute_tasks().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("history.sqlite");
    // One program (a client) per task, each on the same history: status queries of its task.
    let run = |history: Option<&std::path::Path>| {
        let mut client = builder(&server.url);
        if let Some(history) = history {
            client = client.history(history);
        }
        let client = client.build().expect("builds");
        let server = &server;
        async move {
            let started = tokio::time::Instant::now();
            let task = client
                .submit_body::<ExampleVideo>(&example_body())
                .await
                .expect("submits");
            task.wait().await.expect("succeeds");
            let queries = server
                .seen()
                .iter()
                .filter(|s| s.target.contains("recordInfo") && queried_id(s) == task.id().as_str())
                .count();
            (queries, started.elapsed())
        }
    };
    // The spec's prior (99 s) until five tasks were seen; the documented schedule would make
    // 19 queries for a two-minute task.
    let (without, seen_after) = run(None).await;
    assert!((10..=19).contains(&without), "{without} queries");
    // (The sparse start is jittered: a query more or less.)
    let prior = without - 1..=without + 1;
    for n in 1..=5 {
        let (queries, _) = run(Some(&store)).await;
        assert!(prior.contains(&queries), "run {n}: still the prior");
    }
    // Learned: one look halfway to the earliest plausible end (108 s), then the documented
    // queries from there (110 s, 120 s): the task is seen as soon as without.
    let (learned, seen_learned) = run(Some(&store)).await;
    assert_eq!(learned, 3, "{learned} queries");
    assert_eq!(seen_learned.as_secs(), seen_after.as_secs());
    // Another history knows nothing yet.
    let (fresh, _) = run(Some(&dir.path().join("other.sqlite"))).await;
    assert!(prior.contains(&fresh), "{fresh} queries");
}
