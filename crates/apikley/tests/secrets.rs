//! The key never shows in the traces of a full run.
//!
//! A test binary with a single test: a thread-scoped tracing subscriber only sees every span
//! when no other test thread is registering the same callsites at the same time.

#[path = "runtime/support.rs"]
mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use apikley_test_support::ExampleVideo;
use support::{KEY, Reply, ScriptedServer, body, client, created, record};

/// Collects everything a tracing subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .expect("not poisoned")
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("not poisoned")).into_owned()
    }
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_full_run_never_shows_the_key() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);

    // On the test's own runtime, so that the paused clock never jumps while a request is out.
    let server = ScriptedServer::start(|seen, _| {
        let bearer = format!("Bearer {KEY}");
        assert_eq!(seen.header("authorization"), Some(bearer.as_str()));
        if seen.target.starts_with("/api/v1/jobs/createTask") {
            Reply::ok(created("task-1"))
        } else {
            Reply::ok(record("task-1", "success"))
        }
    })
    .await;
    let client = client(&server.url);
    let done = client
        .submit_body::<ExampleVideo>(&body())
        .await
        .expect("created")
        .wait()
        .await
        .expect("done");
    assert_eq!(done.id().as_str(), "task-1");

    let traces = captured.text();
    assert!(
        traces.contains("apikley.call"),
        "spans were captured: {traces}"
    );
    assert!(
        traces.contains("operation=\"createTask\"") || traces.contains("operation=createTask"),
        "{traces}"
    );
    assert!(traces.contains("task created"), "{traces}");
    assert!(!traces.contains(KEY), "the key leaked into the traces");
    assert!(!format!("{client:?}").contains(KEY));
    assert!(format!("{client:?}").contains("[redacted]"));
}
