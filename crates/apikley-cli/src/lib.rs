#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod batch;
mod checks;
mod commands;
mod failure;
mod flow;
mod global;
mod inputs;
mod jobs;
mod output;
mod program;
mod session;
mod sidecar;
mod tasks;

#[cfg(feature = "sandbox")]
pub use commands::SandboxArgs;
pub use commands::{Plan, Save, SubmitArgs, TaskCommand, run};
pub use failure::usage;
pub use global::Global;
pub use inputs::facts;
pub use program::main;
