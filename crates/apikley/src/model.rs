//! How a Market model plugs into the runtime: the `apikley-model` contract (its id, its spec,
//! its spec-exact body), which generated code implements, and the spec read from it once.
//! Everything else comes from the spec.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

pub use apikley_model::Model;

use crate::spec::ModelSpec;

/// A spec as read: the model, or why its document cannot be one.
type Read = Result<Arc<ModelSpec>, Arc<str>>;

/// The specs of typed models, read once per process.
static SPECS: OnceLock<Mutex<HashMap<&'static str, Read>>> = OnceLock::new();

impl ModelSpec {
    /// The spec of model `M` (its generated crate's `SPEC`), read once per process.
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
    /// let spec = apikley::ModelSpec::of::<Echo>().expect("the spec reads");
    /// assert_eq!(spec.id(), "example/echo");
    /// ```
    pub fn of<M: Model>() -> Result<Arc<ModelSpec>, Arc<str>> {
        let specs = SPECS.get_or_init(Mutex::default);
        let read = || {
            ModelSpec::parse(M::SPEC)
                .map(Arc::new)
                .map_err(|e| Arc::from(e.to_string()))
        };
        match specs.lock() {
            Ok(mut specs) => specs.entry(M::ID).or_insert_with(read).clone(),
            Err(_) => read(),
        }
    }
}
