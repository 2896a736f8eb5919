//! The command line, as clap reads it.

#[cfg(feature = "sandbox")]
use apikley_cli::SandboxArgs;
use apikley_cli::{Global, SubmitArgs, TaskCommand};
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

    #[command(flatten)]
    pub global: Global,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    #[command(flatten)]
    Api(ApiCommand),
    /// Run a local sandbox server until Ctrl-C.
    #[cfg(feature = "sandbox")]
    Sandbox(SandboxArgs),
}

/// The commands that talk to the API (or the built-in sandbox).
#[derive(Subcommand, Debug)]
pub enum ApiCommand {
    /// Generate a video: validate, upload local images, submit, wait with progress, download.
    Generate(Generate),
    #[command(flatten)]
    Task(TaskCommand),
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
    #[command(flatten)]
    pub submit: SubmitArgs,
}
