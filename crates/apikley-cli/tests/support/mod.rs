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
