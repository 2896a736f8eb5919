//! A Market model as its OpenAPI document describes it: its id, its `createTask` endpoint, the
//! schema of its body and what it declares about itself. Three jobs, one module each:
//! [`parse`](ModelSpec::parse) reads the document, `validate` checks every request against it
//! before anything is sent (every rule, every violation at once, with its JSON path), and
//! `describe` tells the model's inputs, file rules and expected task length. The spec says it
//! once; nothing here is written per model, and nothing is guessed: what the schema cannot say
//! is read from the model's declarations (`x-apikley-*`, see [`Declarations`]).

mod describe;
mod parse;
mod validate;

use std::fmt;

use apikley_model::{Declarations, OutputKind};
use serde_json::Value;

use crate::endpoint::Endpoint;

pub use describe::Input;
pub use parse::SpecError;

/// A Market model, read from its OpenAPI document.
///
/// ```
/// let spec = apikley::ModelSpec::parse(r#"{
///   "openapi": "3.0.0", "info": {"title": "Example", "version": "1"},
///   "paths": {"/api/v1/jobs/createTask": {"post": {
///     "summary": "Generate videos", "operationId": "example-video",
///     "requestBody": {"content": {"application/json": {"schema": {
///       "type": "object", "required": ["model"],
///       "properties": {
///         "model": {"type": "string", "enum": ["example/video"]},
///         "input": {"type": "object", "required": ["prompt"], "properties": {
///           "prompt": {"type": "string", "maxLength": 10},
///           "seconds": {"type": "string", "enum": ["5", "10"], "default": "5"}
///         }}
///       }}}}},
///     "responses": {"200": {"description": "ok"}}
///   }}}
/// }"#)?;
/// assert_eq!(spec.id(), "example/video");
/// let body = serde_json::json!({"model": "example/video", "input": {"prompt": "far too long a prompt", "seconds": 5}});
/// let problems = spec.validate(&body);
/// assert_eq!(problems.fields(), ["input.prompt", "input.seconds"]);
/// # Ok::<(), apikley::SpecError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ModelSpec {
    id: String,
    summary: Option<String>,
    family: Option<String>,
    endpoint: Endpoint,
    body: Value,
    example: Option<Value>,
    declared: Declarations,
}

impl ModelSpec {
    /// The model id, sent as `model` (e.g. `bytedance/seedance-1.5-pro`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// What the document says the operation does.
    pub fn summary(&self) -> Option<&str> {
        self.summary.as_deref()
    }

    /// The family the document is titled for: its `info.title` without a trailing "API"
    /// (`Kling API` → `Kling`), if it has a title.
    pub fn family(&self) -> Option<&str> {
        self.family.as_deref()
    }

    /// Where `createTask` is.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// What the model produces, as its spec declares it (`x-apikley-output`);
    /// [`OutputKind::Other`] when it does not.
    pub fn kind(&self) -> OutputKind {
        self.declared.output.unwrap_or(OutputKind::Other)
    }

    /// What the spec declares the model produces (`x-apikley-output`), if it does.
    pub fn declared_kind(&self) -> Option<OutputKind> {
        self.declared.output
    }

    /// Everything the spec declares about the model (`x-apikley-*` on `createTask`).
    pub fn declarations(&self) -> &Declarations {
        &self.declared
    }

    /// The document's example of a `createTask` body, if it gives one.
    pub fn example(&self) -> Option<&Value> {
        self.example.as_ref()
    }

    /// The schema of the `createTask` body, with every `$ref` resolved.
    pub fn body_schema(&self) -> &Value {
        &self.body
    }
}

impl fmt::Display for ModelSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)?;
        if let Some(summary) = &self.summary {
            write!(f, ": {summary}")?;
        }
        Ok(())
    }
}
