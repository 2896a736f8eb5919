//! A command-line binary as the tests run it: in a folder of their own, against a sandbox on
//! 127.0.0.1 or none, never with a key or a base URL from the environment.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use apikley_sandbox::{Faults, Sandbox};

/// Runs the binary `bin` (a test's `env!("CARGO_BIN_EXE_…")`) with `args` in `dir`, pointed at
/// `sandbox` when given. The sandbox keeps serving on the test's runtime while it runs.
pub async fn run(
    bin: &str,
    sandbox: Option<&Sandbox>,
    args: &[impl AsRef<OsStr>],
    dir: &Path,
) -> Output {
    let mut command = assert_cmd::Command::from_std(command(bin, sandbox, args, dir));
    command.timeout(Duration::from_secs(60));
    tokio::task::spawn_blocking(move || command.output().expect("runs"))
        .await
        .expect("joins")
}

/// Where a command run in `dir` keeps its task history: in `dir`, never in the user's.
pub fn home(dir: &Path) -> std::path::PathBuf {
    dir.join(".apikley")
}

/// The binary `bin` with `args`, in `dir`, pointed at `sandbox` when given and otherwise at no
/// service: never a key or a base URL from the environment, its history in [`home`].
fn command(
    bin: &str,
    sandbox: Option<&Sandbox>,
    args: &[impl AsRef<OsStr>],
    dir: &Path,
) -> std::process::Command {
    let mut command = std::process::Command::new(bin);
    command
        .args(args)
        .current_dir(dir)
        .env("APIKLEY_HOME", home(dir))
        .env_remove("APIKLEY_API_KEY")
        .env_remove("APIKLEY_BASE_URL")
        .env_remove("APIKLEY_JOURNAL");
    if let Some(sandbox) = sandbox {
        command
            .env("APIKLEY_BASE_URL", sandbox.url())
            .env("APIKLEY_API_KEY", sandbox.api_key());
    }
    command
}

/// A sandbox in the test's process, 60 times faster than real time, with `faults`.
pub async fn sandbox(faults: Faults) -> Sandbox {
    Sandbox::builder()
        .speed(60.0)
        .faults(faults)
        .start()
        .await
        .expect("sandbox starts")
}

/// Words as arguments.
pub fn args(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| (*w).to_owned()).collect()
}

/// Output as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// What changes from run to run in a command's output, masked for snapshots: task ids, ports,
/// times, and the states a poll happened to see on the way (the final one stays).
pub const FILTERS: &[(&str, &str)] = &[
    (r"task_sandbox_[0-9a-f]{16}", "[TASK]"),
    (r"127\.0\.0\.1:\d+", "[HOST]"),
    (r"after \d+:\d\d", "after [TIME]"),
    (r"(?m)^(waiting|queuing|generating) after \[TIME\]\n", ""),
    // The allowed values are the spec's: checked against it, not written here.
    (
        r"must be one of [^(]+ \(got",
        "must be one of [THE SPEC'S VALUES] (got",
    ),
];

/// A binary, a folder of its own and (unless offline) a sandbox: what a command-line test
/// sets up before running the command.
pub struct Scene {
    bin: &'static str,
    sandbox: Option<Sandbox>,
    dir: tempfile::TempDir,
}

impl Scene {
    /// `bin` against a fast sandbox with `faults`.
    pub async fn new(bin: &'static str, faults: Faults) -> Self {
        Scene::with(bin, Some(sandbox(faults).await))
    }

    /// `bin` against `sandbox` (or no service at all).
    pub fn with(bin: &'static str, sandbox: Option<Sandbox>) -> Self {
        Scene {
            bin,
            sandbox,
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// Runs the binary with `args` in the scene's folder.
    pub async fn run(&self, args: &[impl AsRef<OsStr>]) -> Output {
        run(self.bin, self.sandbox.as_ref(), args, self.dir.path()).await
    }

    /// The sandbox, if there is one.
    pub fn sandbox(&self) -> &Sandbox {
        self.sandbox.as_ref().expect("a scene with a sandbox")
    }

    /// The scene's folder.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// Starts the binary `bin` with `args` in `dir` in the background, pointed at `sandbox` when
/// given, its output captured: to interrupt.
#[cfg(unix)]
pub fn spawn(
    bin: &str,
    sandbox: Option<&Sandbox>,
    args: &[impl AsRef<OsStr>],
    dir: &Path,
) -> Running {
    let child = command(bin, sandbox, args, dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starts");
    Running { child }
}

/// Waits (up to 10 s) until `ready` holds of `sandbox`; then lets 300 ms pass, so that what
/// it saw has reached the command.
pub async fn until(sandbox: &Sandbox, ready: impl Fn(&Sandbox) -> bool) {
    for _ in 0..200 {
        if ready(sandbox) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
}

#[cfg(unix)]
impl Scene {
    /// Starts the binary with `args` in the scene, in the background: see [`spawn`].
    pub fn spawn(&self, args: &[impl AsRef<OsStr>]) -> Running {
        spawn(self.bin, self.sandbox.as_ref(), args, self.dir())
    }

    /// Waits until `ready` holds of the scene's sandbox: see [`until`].
    pub async fn until(&self, ready: impl Fn(&Sandbox) -> bool) {
        until(self.sandbox(), ready).await;
    }
}

/// A command running in the background.
#[cfg(unix)]
pub struct Running {
    child: std::process::Child,
}

#[cfg(unix)]
impl Running {
    /// Sends it Ctrl-C (SIGINT).
    pub fn interrupt(&self) {
        let status = std::process::Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -INT failed");
    }

    /// Waits for it to end, at most `limit` (then kills it and fails), and returns its output.
    pub async fn output(self, limit: Duration) -> Output {
        let pid = self.child.id().to_string();
        let child = self.child;
        let waiting = tokio::task::spawn_blocking(move || child.wait_with_output().expect("exits"));
        match tokio::time::timeout(limit, waiting).await {
            Ok(joined) => joined.expect("joins"),
            Err(_) => {
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", &pid])
                    .status();
                panic!("the command did not stop within {limit:?}");
            }
        }
    }
}
