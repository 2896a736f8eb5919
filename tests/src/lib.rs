#![doc = include_str!("../README.md")]

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits inside the workspace")
        .to_owned()
}

/// The workspace's `openapi/` folder.
pub fn openapi_dir() -> PathBuf {
    workspace().join("openapi")
}

/// A vendored spec, parsed (without patches).
pub fn spec(name: &str) -> Value {
    apikley_codegen::Spec::new(openapi_dir(), name)
        .load()
        .expect("vendored spec parses")
}

/// A `reqwest::Client` that authenticates as the API expects: `Authorization: Bearer <key>`.
pub fn http_client(key: &str) -> reqwest::Client {
    let mut auth = reqwest::header::HeaderValue::from_str(&format!("Bearer {key}"))
        .expect("test keys are valid header values");
    auth.set_sensitive(true);
    reqwest::Client::builder()
        .default_headers(
            [(reqwest::header::AUTHORIZATION, auth)]
                .into_iter()
                .collect(),
        )
        .build()
        .expect("reqwest client builds")
}

/// Follows a JSON pointer, failing the test with the pointer when it is absent.
pub fn at<'a>(value: &'a Value, pointer: &str) -> &'a Value {
    value
        .pointer(pointer)
        .unwrap_or_else(|| panic!("missing {pointer}"))
}

/// JSON equality where numbers compare by value (`100` equals `100.0`): generated types read a
/// `number` as `f64`, which re-encodes integers with a fraction.
pub fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

/// The workspace README, whose Rust examples compile as this crate's doctests (only then: the
/// README is outside this crate's package).
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub mod readme {}
