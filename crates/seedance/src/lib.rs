#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod request;

pub use request::{AspectRatio, ParseError, Resolution, Seedance15Pro, VideoLength, VideoRequest};

/// The runtime this crate builds on: the client, its errors, tasks, waits and downloads, under
/// their one name (`seedance::apikley::Client` is `apikley::Client`).
pub use apikley;
/// The spec-exact types and client generated from the Seedance 1.5 Pro OpenAPI document.
pub use seedance_raw as raw;
