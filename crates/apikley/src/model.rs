//! How a Market model plugs into the runtime: its id, its vendored spec, and the spec-exact
//! body generated from it. Everything else comes from the spec.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::spec::ModelSpec;

/// A spec as read: the model, or why its document cannot be one.
type Read = Result<Arc<ModelSpec>, Arc<str>>;

/// A Market model with generated types: ties its id to its vendored OpenAPI document and to
/// the spec-exact `createTask` body generated from it. A model's raw crate implements it (with
/// its `apikley` feature), so a model added with `cargo xtask new-model` needs no code.
///
/// ```
/// /// A model whose body is `serde_json::Value` (a real one uses its raw crate's types).
/// struct Echo;
///
/// impl apikley::Model for Echo {
///     const ID: &'static str = "example/echo";
///     const SPEC: &'static str = r#"{"openapi": "3.0.0", "paths": {"/api/v1/jobs/createTask": {"post": {
///         "summary": "Echo text", "requestBody": {"content": {"application/json": {"schema": {
///         "type": "object", "properties": {"model": {"type": "string", "enum": ["example/echo"]},
///         "input": {"type": "object", "properties": {"text": {"type": "string"}}}}}}}}}}}}"#;
///     type Body = serde_json::Value;
/// }
///
/// let spec = <Echo as apikley::Model>::spec().expect("the spec reads");
/// assert_eq!(spec.id(), "example/echo");
/// ```
pub trait Model: Send + Sync + 'static {
    /// The id sent as `model`, e.g. `bytedance/seedance-1.5-pro`.
    const ID: &'static str;

    /// The model's OpenAPI document as its raw crate's generator read it (`SPEC`: vendored, with
    /// the reviewed patches applied): the source of its endpoint, its rules, its defaults and
    /// what it produces.
    const SPEC: &'static str;

    /// The spec-exact `createTask` body (`model`, `callBackUrl`, `input`), from the model's raw
    /// crate.
    type Body: Serialize + DeserializeOwned + Clone + Send + Sync + 'static;

    /// The model's spec, read once per process.
    fn spec() -> Result<Arc<ModelSpec>, Arc<str>> {
        static SPECS: OnceLock<Mutex<HashMap<&'static str, Read>>> = OnceLock::new();
        let specs = SPECS.get_or_init(Mutex::default);
        let read = || {
            ModelSpec::parse(Self::SPEC)
                .map(Arc::new)
                .map_err(|e| Arc::from(e.to_string()))
        };
        match specs.lock() {
            Ok(mut specs) => specs.entry(Self::ID).or_insert_with(read).clone(),
            Err(_) => read(),
        }
    }
}
