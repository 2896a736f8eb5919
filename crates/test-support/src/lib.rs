#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

#[cfg(feature = "cli")]
pub mod cli;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "workers")]
pub mod workers;

/// The example video model's spec: `example/video`, a required `prompt`, a `duration` in
/// seconds (14 by default) and a `resolution` (480p by default), with its declarations.
pub const EXAMPLE_SPEC: &str = r#"{
  "openapi": "3.0.0",
  "info": {"title": "Example", "version": "1"},
  "paths": {"/api/v1/jobs/createTask": {"post": {
    "summary": "Generate videos (an example model for tests and benchmarks)",
    "operationId": "example-video",
    "x-apikley-output": "video",
    "x-apikley-duration": {"base_seconds": 15, "seconds_per_output_second": 6,
      "length": {"input": "duration", "default": 5},
      "factors": [{"input": "resolution", "times": {"480p": 1.0}, "otherwise": 1.2}]},
    "requestBody": {"content": {"application/json": {"schema": {
      "type": "object", "required": ["model"],
      "properties": {
        "model": {"type": "string", "enum": ["example/video"]},
        "callBackUrl": {"type": "string", "format": "uri"},
        "input": {"type": "object", "required": ["prompt"], "properties": {
          "prompt": {"type": "string", "minLength": 1},
          "duration": {"type": "number", "minimum": 0, "default": 14},
          "resolution": {"type": "string", "default": "480p"}
        }}
      }}}}},
    "responses": {"200": {"description": "ok"}}
  }}}
}"#;

/// The example video model, with a plain JSON body: expected to take 99 s by default (14 s of
/// 480p video).
pub struct ExampleVideo;

impl apikley_model::Model for ExampleVideo {
    const ID: &'static str = "example/video";
    const SPEC: &'static str = EXAMPLE_SPEC;
    type Body = serde_json::Value;
}

/// A `createTask` body for the example model.
pub fn example_body(prompt: &str) -> serde_json::Value {
    serde_json::json!({"model": "example/video", "input": {"prompt": prompt}})
}

/// What a file is by its first bytes: its kind (`video`, `image`, `audio`) and the extensions
/// its format goes by. Written from the formats' own specifications (ISO BMFF's `ftyp` box,
/// the PNG signature, JPEG's SOI marker, RIFF's `WEBP` and `WAVE` forms), not from the SDK's
/// sniffer, so that a test checks that sniffer instead of echoing it.
pub fn magic(bytes: &[u8]) -> Option<(&'static str, &'static [&'static str])> {
    let riff =
        |form: &[u8]| bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == form;
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        Some(("video", &["mp4", "mov", "m4v"]))
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(("image", &["png"]))
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(("image", &["jpg", "jpeg"]))
    } else if riff(b"WEBP") {
        Some(("image", &["webp"]))
    } else if riff(b"WAVE") {
        Some(("audio", &["wav"]))
    } else {
        None
    }
}
