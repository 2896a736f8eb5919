//! What every Apikley model's command line shares: output for people, scripts (`--json`) and
//! terminals; the session that knows what has been paid for and how to resume; failures with
//! exit codes and resume hints; the flow (connect, check where the video goes, wait, save);
//! and inputs typed by a model's spec. The `apikley` binary runs any registered model with
//! these; the `seedance` binary is a friendly face on the same parts.
#![deny(missing_docs)]

pub mod batch;
pub mod checks;
pub mod commands;
pub mod failure;
pub mod flow;
pub mod inputs;
pub mod jobs;
pub mod output;
pub mod session;
