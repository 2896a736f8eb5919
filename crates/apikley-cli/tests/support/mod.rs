//! The `apikley` binary as the tests run it: in a folder of their own, against a sandbox on
//! 127.0.0.1 or its own built-in one, never with a key from the environment.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use apikley_sandbox::Sandbox;

/// Runs `apikley ARGS` in `dir`, pointed at `sandbox` when given.
pub async fn apikley(sandbox: Option<&Sandbox>, args: &[impl AsRef<OsStr>], dir: &Path) -> Output {
    let mut command = assert_cmd::cargo::cargo_bin_cmd!("apikley");
    command
        .args(args)
        .current_dir(dir)
        .env_remove("APIKLEY_API_KEY")
        .env_remove("APIKLEY_BASE_URL")
        .timeout(Duration::from_secs(60));
    if let Some(sandbox) = sandbox {
        command
            .env("APIKLEY_BASE_URL", sandbox.url())
            .env("APIKLEY_API_KEY", sandbox.api_key());
    }
    tokio::task::spawn_blocking(move || command.output().expect("runs"))
        .await
        .expect("joins")
}

/// Words as arguments.
#[allow(
    dead_code,
    reason = "not every test file builds its arguments from words"
)]
pub fn args(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| (*w).to_owned()).collect()
}

/// Output as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
