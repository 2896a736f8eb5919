//! The flags every command takes, and what follows from them: the client (the service or the
//! built-in sandbox, the polling schedule, the task history) and the logs.

use std::path::PathBuf;
use std::time::Duration;

use apikley::PollSchedule;
use clap::Args;

use crate::failure::Failure;
use crate::flow;

/// Where the flags every command takes come in help: after the command's own.
const GLOBAL_ORDER: usize = 1000;

/// The flags every command takes.
#[derive(Args, Debug)]
pub struct Global {
    /// Print one JSON document on stdout instead of human-readable output.
    #[arg(long, global = true, display_order = GLOBAL_ORDER)]
    pub(crate) json: bool,

    /// Use a built-in local sandbox with a fast clock instead of the real service.
    #[cfg(feature = "sandbox")]
    #[arg(long, global = true, display_order = GLOBAL_ORDER)]
    sandbox: bool,

    /// Poll every this many seconds (1 to 3600) instead of the adaptive schedule.
    #[arg(long, global = true, display_order = GLOBAL_ORDER, value_name = "SECONDS", value_parser = crate::checks::poll_interval)]
    poll_interval: Option<u64>,

    /// Print only results (stdout) and errors (stderr): no progress, no commentary.
    #[arg(short, long, global = true, display_order = GLOBAL_ORDER, conflicts_with = "verbose")]
    pub(crate) quiet: bool,

    /// Log the HTTP calls (to stderr).
    #[arg(short, long, global = true, display_order = GLOBAL_ORDER)]
    verbose: bool,

    /// Keep no record of the tasks this command creates (by default each one is recorded in
    /// the task history, in APIKLEY_HOME or the platform's data folder; see `tasks`).
    #[arg(long, global = true, display_order = GLOBAL_ORDER)]
    pub(crate) no_history: bool,

    /// Write no provenance file beside a saved result (by default `clip.mp4` gets
    /// `clip.mp4.json`: model, inputs, task, times, SHA-256; see `run --again`).
    #[arg(long, global = true, display_order = GLOBAL_ORDER)]
    no_sidecar: bool,
}

impl Global {
    /// Whether to use the built-in sandbox (never, in a build without the `sandbox` feature).
    pub(crate) fn sandbox(&self) -> bool {
        #[cfg(feature = "sandbox")]
        return self.sandbox;
        #[cfg(not(feature = "sandbox"))]
        false
    }

    /// The polling schedule asked for: `--poll-interval`, or every second on the fast sandbox;
    /// `None` for the client's adaptive default.
    pub(crate) fn schedule(&self) -> Option<PollSchedule> {
        match (self.poll_interval, self.sandbox()) {
            (Some(seconds), _) => Some(PollSchedule::Every(Duration::from_secs(seconds))),
            (None, true) => Some(PollSchedule::Every(Duration::from_secs(1))),
            (None, false) => None,
        }
    }

    /// The task history's file, unless `--no-history` or the built-in sandbox (whose tasks
    /// end with the command).
    pub(crate) fn history(&self) -> Option<PathBuf> {
        if self.no_history || self.sandbox() {
            return None;
        }
        history_file()
    }

    /// Where the command's output goes, in the form the flags ask for.
    pub(crate) fn output(&self) -> crate::output::Output {
        crate::output::Output::new(self.json, self.quiet)
    }

    /// Whether a saved result gets its provenance file.
    pub(crate) fn sidecars(&self) -> bool {
        !self.no_sidecar
    }

    /// A client as the flags ask for ([`flow::connect`]).
    pub(crate) async fn connect(&self) -> Result<(apikley::Client, flow::Sandbox), Failure> {
        self.connect_with(|builder| builder).await
    }

    /// [`connect`](Self::connect), the client's settings passed through `configure` first.
    pub(crate) async fn connect_with(
        &self,
        configure: impl FnOnce(apikley::ClientBuilder) -> apikley::ClientBuilder,
    ) -> Result<(apikley::Client, flow::Sandbox), Failure> {
        flow::connect(self.sandbox(), self.schedule(), self.history(), configure).await
    }

    /// Sends the SDK's logs to stderr with `--verbose`.
    pub(crate) fn init_logging(&self) {
        if self.verbose {
            tracing_subscriber::fmt()
                .with_writer(std::io::stderr)
                .with_max_level(tracing_subscriber::filter::LevelFilter::DEBUG)
                .init();
        }
    }
}

/// The variable that moves the task history (and everything else this program keeps).
pub const HOME_VAR: &str = "APIKLEY_HOME";

/// The history's file: in `APIKLEY_HOME`, else in the platform's data folder.
pub fn history_file() -> Option<PathBuf> {
    let home = std::env::var_os(HOME_VAR)
        .filter(|home| !home.is_empty())
        .map(PathBuf::from)
        .or_else(|| dirs::data_dir().map(|data| data.join("apikley")))?;
    Some(home.join("history.sqlite"))
}
