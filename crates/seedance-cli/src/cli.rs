//! The command line, as clap reads it.

#[cfg(feature = "sandbox")]
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Generate videos with Apikley's Seedance 1.5 Pro (bytedance/seedance-1.5-pro).
///
/// Talks to the service configured by APIKLEY_API_KEY and APIKLEY_BASE_URL, or, with
/// --sandbox, to a built-in local sandbox: no key, no network.
#[derive(Parser, Debug)]
#[command(name = "seedance", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Print one JSON document on stdout instead of human-readable output.
    #[arg(long, global = true)]
    pub json: bool,

    /// Use a built-in local sandbox with a fast clock instead of the real service.
    #[cfg(feature = "sandbox")]
    #[arg(long, global = true)]
    pub sandbox: bool,

    /// Poll every this many seconds instead of the adaptive schedule.
    #[arg(long, global = true, value_name = "SECONDS")]
    pub poll_interval: Option<u64>,

    /// Log the HTTP calls (to stderr).
    #[arg(short, long, global = true)]
    pub verbose: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    #[command(flatten)]
    Api(ApiCommand),
    /// Run a local sandbox server until Ctrl-C.
    #[cfg(feature = "sandbox")]
    Sandbox {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// How much faster than real time tasks progress.
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// The API key to accept.
        #[arg(long, default_value = apikley_sandbox::DEFAULT_API_KEY)]
        key: String,
    },
}

/// The commands that talk to the API (or the built-in sandbox).
#[derive(Subcommand, Debug)]
pub enum ApiCommand {
    /// Generate a video: validate, upload local images, submit, wait with progress, download.
    Generate(Generate),
    /// Show a task's status.
    Status {
        /// The task id.
        task_id: String,
    },
    /// Wait for a task to finish, and download its video with -o.
    Wait {
        /// The task id.
        task_id: String,
        #[command(flatten)]
        save: Save,
    },
    /// Download a finished task's video.
    Download {
        /// The task id.
        task_id: String,
        /// Where to save the video.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
        /// Replace the file if it exists.
        #[arg(long)]
        overwrite: bool,
    },
    /// Show the account's remaining credits.
    Credits,
}

impl Cli {
    /// Whether to use the built-in sandbox.
    pub fn sandbox(&self) -> bool {
        #[cfg(feature = "sandbox")]
        return self.sandbox;
        #[cfg(not(feature = "sandbox"))]
        false
    }
}

/// `generate`'s options. Values are checked together, so that every problem is reported at once.
#[derive(Args, Debug)]
pub struct Generate {
    /// What the video shows.
    pub prompt: String,
    /// An input image, a local file (uploaded first) or an http(s) URL.
    #[arg(long = "image", value_name = "FILE_OR_URL")]
    pub images: Vec<String>,
    /// The aspect ratio.
    #[arg(long, value_name = "RATIO")]
    pub aspect_ratio: Option<String>,
    /// The resolution.
    #[arg(long)]
    pub resolution: Option<String>,
    /// The length, in seconds (`8` or `8s`).
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<String>,
    /// Lock the camera for a static shot.
    #[arg(long)]
    pub fixed_lens: bool,
    /// Generate audio too (costs more).
    #[arg(long)]
    pub audio: bool,
    /// Where Apikley POSTs the result when the task ends.
    #[arg(long, value_name = "URL")]
    pub callback_url: Option<String>,
    /// Submit and print the task id, without waiting.
    #[arg(long, conflicts_with_all = ["output", "overwrite"])]
    pub no_wait: bool,
    #[command(flatten)]
    pub save: Save,
}

/// Where a finished video goes.
#[derive(Args, Debug)]
pub struct Save {
    /// Where to save the video (default: seedance-TASK_ID.mp4).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Replace the file if it exists.
    #[arg(long)]
    pub overwrite: bool,
}
