//! The `apikley` binary as the tests run it, through the workspace's shared harness
//! (`apikley-test-support`): in a folder of their own, against a sandbox on 127.0.0.1 or its own
//! built-in one, never with a key from the environment.

#![allow(
    dead_code,
    unused_imports,
    reason = "each test file uses some of the harness"
)]

use std::ffi::OsStr;
use std::path::Path;
use std::process::Output;

use apikley_sandbox::Sandbox;
pub use apikley_test_support::cli::{args, sandbox, spawn, text};

/// The binary under test.
pub const APIKLEY: &str = env!("CARGO_BIN_EXE_apikley");

/// Runs `apikley ARGS` in `dir`, pointed at `sandbox` when given.
pub async fn apikley(sandbox: Option<&Sandbox>, args: &[impl AsRef<OsStr>], dir: &Path) -> Output {
    apikley_test_support::cli::run(APIKLEY, sandbox, args, dir).await
}

/// Runs `line` exactly as printed (a hint, a README command), through `sh`, in `dir`, with
/// `apikley` on the PATH and the environment pointing at `sandbox` (as the user's shell would).
pub async fn shell(line: &str, dir: &Path, sandbox: &Sandbox) -> Output {
    let bin = Path::new(env!("CARGO_BIN_EXE_apikley"))
        .parent()
        .expect("a folder")
        .to_owned();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut command = std::process::Command::new("sh");
    command
        .args(["-c", line])
        .current_dir(dir)
        .env("PATH", path)
        .env("APIKLEY_HOME", apikley_test_support::cli::home(dir))
        .env("APIKLEY_BASE_URL", sandbox.url())
        .env("APIKLEY_API_KEY", sandbox.api_key())
        .env_remove("APIKLEY_WEBHOOK_KEY")
        .stdin(std::process::Stdio::null());
    tokio::task::spawn_blocking(move || command.output().expect("sh runs"))
        .await
        .expect("joins")
}

/// `apikley sandbox` in its own process (killed when dropped), on a free port, 10 times faster
/// than real time and answering every call `latency_ms` late.
pub struct SandboxProcess {
    _process: Process,
    url: String,
}

/// A child process, killed when dropped.
pub struct Process(pub std::process::Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl SandboxProcess {
    /// Starts it and reads where it listens.
    pub fn start(latency_ms: u64) -> Self {
        use std::io::BufRead;
        let mut child = std::process::Command::new(APIKLEY)
            .args(["sandbox", "--listen", "127.0.0.1:0", "--speed", "10"])
            .args(["--latency", &latency_ms.to_string(), "--json"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the sandbox starts");
        let stdout = child.stdout.take().expect("stdout");
        let process = Process(child);
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the sandbox says where it listens");
        let started: serde_json::Value = serde_json::from_str(&line).expect("JSON");
        let url = started["url"].as_str().expect("a URL").to_owned();
        SandboxProcess {
            _process: process,
            url,
        }
    }

    /// Its base URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The tasks it created: `GET /sandbox/tasks`.
    pub fn created_tasks(&self) -> Vec<serde_json::Value> {
        use std::io::{Read, Write};
        let address = self.url.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(address).expect("connects");
        write!(
            stream,
            "GET /sandbox/tasks HTTP/1.0\r\nHost: {address}\r\n\r\n"
        )
        .expect("asks");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("reads");
        let (_, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
        let body: serde_json::Value = serde_json::from_str(body).expect("JSON");
        body["tasks"].as_array().expect("tasks").clone()
    }
}
