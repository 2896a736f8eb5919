#![allow(dead_code)] // shared by two test binaries, each using a part
//! Test servers and clients shared by the runtime's integration tests.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use apikley::{Client, RateLimits, RetryPolicy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub const KEY: &str = "sk-test-SECRET-0123456789abcdef";

/// A client for tests on tokio's paused clock: no request timeouts and no connection pool (a
/// pending timer would make the paused clock jump while a request is on the wire), fast retries.
pub fn client(base_url: &str) -> Client {
    builder(base_url).build().expect("client builds")
}

pub fn builder(base_url: &str) -> apikley::ClientBuilder {
    Client::builder()
        .api_key(KEY)
        .base_url(base_url)
        .for_paused_clock()
        .retry(
            RetryPolicy::default()
                .with_max_attempts(5)
                .with_max_elapsed(Duration::from_secs(120))
                .with_initial_delay(Duration::from_millis(500))
                .with_max_delay(Duration::from_secs(5)),
        )
        .rate_limits(RateLimits::none())
}

/// The tokio clock of the test's runtime, readable from httpmock's own threads.
#[derive(Clone)]
pub struct TestClock(tokio::runtime::Handle);

impl TestClock {
    pub fn current() -> Self {
        TestClock(tokio::runtime::Handle::current())
    }

    pub fn now(&self) -> tokio::time::Instant {
        let _runtime = self.0.enter();
        tokio::time::Instant::now()
    }
}

/// One HTTP request as the scripted server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: tokio::time::Instant,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the scripted server does with a request.
pub enum Reply {
    /// Answer with a status and a JSON body (and extra headers).
    Json(u16, serde_json::Value, Vec<(String, String)>),
    /// Close the connection without answering.
    Drop,
    /// Write these bytes (a whole or cut-off HTTP response), then close.
    Raw(Vec<u8>),
    /// Never answer (keep the connection open).
    Stall,
}

impl Reply {
    pub fn ok(body: serde_json::Value) -> Self {
        Reply::Json(200, body, Vec::new())
    }
}

/// A minimal HTTP/1.1 server on 127.0.0.1 that runs on the test's own runtime (so it reads
/// the paused clock) and can do what httpmock cannot: drop a connection mid-request. One
/// request per connection.
pub struct ScriptedServer {
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl ScriptedServer {
    pub async fn start(script: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) -> Self {
        Self::start_on(0, script).await
    }

    /// On a given port (0: any free one).
    pub async fn start_on(
        port: u16,
        script: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let script = Arc::new(script);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let log = log.clone();
                let script = script.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, log, &*script).await;
                });
            }
        });
        ScriptedServer { url, seen }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("not poisoned").clone()
    }
}

async fn serve(
    mut stream: TcpStream,
    log: Arc<Mutex<Vec<Seen>>>,
    script: &(dyn Fn(&Seen, usize) -> Reply + Send + Sync),
) -> std::io::Result<()> {
    let mut buffer = Vec::new();
    let head_end = loop {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_owned();
    let target = request_line.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buffer[head_end..].to_vec();
    while body.len() < length {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let seen = Seen {
        method,
        target,
        headers,
        body,
        at: tokio::time::Instant::now(),
    };
    let index = {
        let mut log = log.lock().expect("not poisoned");
        log.push(seen.clone());
        log.len() - 1
    };
    match script(&seen, index) {
        Reply::Drop => Ok(()),
        Reply::Stall => std::future::pending().await,
        Reply::Raw(bytes) => {
            stream.write_all(&bytes).await?;
            stream.shutdown().await
        }
        Reply::Json(status, body, extra) => {
            let body = body.to_string();
            let mut response = format!(
                "HTTP/1.1 {status} Status\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                body.len()
            );
            for (name, value) in extra {
                response.push_str(&format!("{name}: {value}\r\n"));
            }
            response.push_str("\r\n");
            response.push_str(&body);
            stream.write_all(response.as_bytes()).await?;
            stream.shutdown().await
        }
    }
}

/// An HTTP response head with these headers, followed by `body`.
pub fn raw_response(status: u16, headers: &[(&str, String)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} Status\r\nconnection: close\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

/// A `recordInfo` answer for a task in `state`.
pub fn record(task_id: &str, state: &str) -> serde_json::Value {
    let mut data = serde_json::json!({
        "taskId": task_id,
        "model": "example/video",
        "state": state,
        "param": "{\"model\":\"example/video\",\"input\":{\"prompt\":\"hi\"}}",
        "failCode": "",
        "failMsg": "",
        "createTime": 1_700_000_000_000_i64,
        "updateTime": 1_700_000_060_000_i64
    });
    if state == "success" {
        data["resultJson"] = "{\"resultUrls\":[\"https://cdn.example/video.mp4\"]}".into();
        data["completeTime"] = 1_700_000_120_000_i64.into();
    }
    serde_json::json!({"code": 200, "msg": "success", "data": data})
}

pub fn body() -> serde_json::Value {
    apikley_test_support::example_body("A serene beach")
}

pub fn created(task_id: &str) -> serde_json::Value {
    serde_json::json!({"code": 200, "msg": "success", "data": {"taskId": task_id}})
}
