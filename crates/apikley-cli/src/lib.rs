#![doc = include_str!("../README.md")]
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
