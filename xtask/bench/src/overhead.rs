//! Client overhead: create + status round trips through the SDK against a minimal
//! hand-written reqwest client, against the same sandbox in another process, limits off,
//! rounds interleaved in one run: requests per second of each, the ratio, and this process's
//! CPU time per request. And the price of the task history: the same round trips by a client
//! that records them (synced SQLite) and one that does not.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use apikley::{Client, RateLimits};
use serde_json::{Value, json};

use crate::common::{cpu_time, median, request, spec};
use crate::table::Row;

/// In the child: a sandbox on the real clock until stdin closes; prints its URL.
pub fn serve_child() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let sandbox = apikley_sandbox::Sandbox::builder()
            .credits(1e12)
            .speed(1e6)
            .model(apikley_sandbox::SandboxModel::from_spec(spec()))
            .start()
            .await
            .expect("starts");
        println!("{}", sandbox.url());
        // Until the parent is done with it.
        let _ = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
        })
        .await;
    });
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn server() -> (Server, String) {
    let mut child = Command::new(std::env::current_exe().expect("this binary"))
        .args(["child", "serve"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the server starts");
    let stdout = child.stdout.take().expect("stdout");
    let server = Server(child);
    let mut url = String::new();
    BufReader::new(stdout).read_line(&mut url).expect("its URL");
    (server, url.trim().to_owned())
}

const WORKERS: usize = 8;

/// Round trips by the SDK: `submit` and one `status`.
async fn sdk(client: &Client, trips: usize) {
    let spec = spec();
    let work = (0..WORKERS).map(|_| {
        let spec = spec.clone();
        async move {
            for _ in 0..trips / WORKERS {
                let request = request(&spec, Duration::from_secs(60), "overhead");
                let task = client.submit(request).await.expect("created");
                task.status().await.expect("a record");
            }
        }
    });
    futures_util::future::join_all(work).await;
}

/// The same by hand: reqwest, the bearer key, JSON in and out.
async fn raw(http: &reqwest::Client, url: &str, trips: usize) {
    let work = (0..WORKERS).map(|_| async move {
        for _ in 0..trips / WORKERS {
            let model = <apikley_test_support::ExampleVideo as apikley::Model>::ID;
            let body = json!({"model": model, "input": {"prompt": "overhead", "duration": 7.5}});
            let created: Value = http
                .post(format!("{url}/api/v1/jobs/createTask"))
                .bearer_auth(apikley_sandbox::DEFAULT_API_KEY)
                .json(&body)
                .send()
                .await
                .expect("sent")
                .json()
                .await
                .expect("JSON");
            let id = created["data"]["taskId"]
                .as_str()
                .expect("an id")
                .to_owned();
            let record: Value = http
                .get(format!("{url}/api/v1/jobs/recordInfo"))
                .query(&[("taskId", id.as_str())])
                .bearer_auth(apikley_sandbox::DEFAULT_API_KEY)
                .send()
                .await
                .expect("sent")
                .json()
                .await
                .expect("JSON");
            assert_eq!(record["data"]["taskId"], id.as_str());
        }
    });
    futures_util::future::join_all(work).await;
}

pub fn run(quick: bool) -> Row {
    let (_server, url) = server();
    let (trips, rounds) = if quick { (200, 3) } else { (4000, 9) };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let client = Client::builder()
        .api_key(apikley_sandbox::DEFAULT_API_KEY)
        .base_url(&url)
        .rate_limits(RateLimits::none())
        .build()
        .expect("a client");
    let http = reqwest::Client::new();
    let mut ours = (Vec::new(), Vec::new());
    let mut theirs = (Vec::new(), Vec::new());
    runtime.block_on(async {
        // Warm both up: connections, allocations.
        sdk(&client, WORKERS).await;
        raw(&http, &url, WORKERS).await;
        for _ in 0..rounds {
            for which in [true, false] {
                let cpu = cpu_time();
                let started = Instant::now();
                if which {
                    sdk(&client, trips).await;
                } else {
                    raw(&http, &url, trips).await;
                }
                let requests = (trips / WORKERS * WORKERS * 2) as f64;
                let rate = requests / started.elapsed().as_secs_f64();
                let cpu = (cpu_time() - cpu).as_secs_f64() * 1e6 / requests;
                let into = if which { &mut ours } else { &mut theirs };
                into.0.push(rate);
                into.1.push(cpu);
            }
        }
    });
    let (rate, cpu) = (median(&mut ours.0), median(&mut ours.1));
    let (raw_rate, raw_cpu) = (median(&mut theirs.0), median(&mut theirs.1));
    let ratio = rate / raw_rate;
    Row {
        bench: "5 client overhead",
        case: format!(
            "{trips} create + status round trips × {rounds} interleaved rounds, 8 at a time, limits off"
        ),
        ours: format!("{rate:.0} requests/s, {cpu:.0} µs CPU per request (client process)"),
        other: format!(
            "hand-written reqwest: {raw_rate:.0} requests/s, {raw_cpu:.0} µs CPU per request; ratio {ratio:.2}"
        ),
        target: "≥ 0.95 of the hand-written client's rate".into(),
        met: Some(ratio >= 0.95),
    }
}

/// The same round trips by a client with a task history (each create recorded and synced
/// before it goes out, then its id, then what the status query saw) and by one without,
/// rounds interleaved: the time each round trip takes.
pub fn history(quick: bool) -> Row {
    let (_server, url) = server();
    let (trips, rounds) = if quick { (40, 3) } else { (800, 7) };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let folder = tempfile::tempdir().expect("a temp dir");
    let builder = || {
        Client::builder()
            .api_key(apikley_sandbox::DEFAULT_API_KEY)
            .base_url(&url)
            .rate_limits(RateLimits::none())
    };
    let recorded = builder()
        .history(folder.path().join("history.sqlite"))
        .build()
        .expect("a client");
    let plain = builder().build().expect("a client");
    let (mut with, mut without) = (Vec::new(), Vec::new());
    runtime.block_on(async {
        sdk(&recorded, WORKERS).await;
        sdk(&plain, WORKERS).await;
        for _ in 0..rounds {
            for (client, into) in [(&recorded, &mut with), (&plain, &mut without)] {
                let started = Instant::now();
                sdk(client, trips).await;
                into.push(
                    started.elapsed().as_secs_f64() * 1e3 / (trips / WORKERS * WORKERS) as f64,
                );
            }
        }
    });
    let (with, without) = (median(&mut with), median(&mut without));
    Row {
        bench: "10 history",
        case: format!(
            "{trips} create + status round trips × {rounds} interleaved rounds, 8 at a time, history on disk (synced) vs none"
        ),
        ours: format!(
            "{with:.2} ms per round trip with the history ({:.0} tasks/s)",
            1e3 / with
        ),
        other: format!(
            "without: {without:.2} ms ({:.0} tasks/s); the record costs {:.2} ms per task",
            1e3 / without,
            with - without
        ),
        target: "(no target: the price of the record; opt-in in the library)".into(),
        met: None,
    }
}
