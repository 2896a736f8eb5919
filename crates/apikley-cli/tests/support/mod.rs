//! The `apikley` binary as the tests run it, through the workspace's shared harness
//! (`apikley-test-support`): in a folder of their own, against a sandbox on 127.0.0.1 or its own
//! built-in one, never with a key from the environment.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Output;

use apikley_sandbox::Sandbox;
#[allow(unused_imports, reason = "each test file uses some of the harness")]
pub use apikley_test_support::cli::{args, sandbox, spawn, text};

/// The binary under test.
pub const APIKLEY: &str = env!("CARGO_BIN_EXE_apikley");

/// Runs `apikley ARGS` in `dir`, pointed at `sandbox` when given.
pub async fn apikley(sandbox: Option<&Sandbox>, args: &[impl AsRef<OsStr>], dir: &Path) -> Output {
    apikley_test_support::cli::run(APIKLEY, sandbox, args, dir).await
}

/// Runs `line` exactly as printed (a hint, a README command), through `sh`, in `dir`, with
/// `apikley` on the PATH and the environment pointing at `sandbox` (as the user's shell would).
#[allow(dead_code, reason = "each test file uses some of the harness")]
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
        .env("APIKLEY_BASE_URL", sandbox.url())
        .env("APIKLEY_API_KEY", sandbox.api_key())
        .env_remove("APIKLEY_WEBHOOK_KEY")
        .stdin(std::process::Stdio::null());
    tokio::task::spawn_blocking(move || command.output().expect("sh runs"))
        .await
        .expect("joins")
}
