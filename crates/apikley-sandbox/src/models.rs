//! The models a sandbox accepts, each checked by its spec: every violation of a body is listed
//! in the 422, as the SDK lists them before sending.

use std::sync::Arc;
use std::time::Duration;

use apikley::{MediaType, ModelSpec};
use serde_json::Value;

/// What a valid body costs and how long its task takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Accepted {
    pub(crate) generation: Duration,
    pub(crate) credits: f64,
}

/// A model the sandbox accepts: its spec, which checks each `createTask` body, plans how long
/// the task takes (its [`ModelSpec::expected_duration`], 30 s when it has none, on the sandbox
/// clock) and what it produces.
#[derive(Debug, Clone)]
pub struct SandboxModel {
    spec: Arc<ModelSpec>,
}

impl SandboxModel {
    /// The model a spec describes.
    pub fn from_spec(spec: Arc<ModelSpec>) -> Self {
        SandboxModel { spec }
    }

    /// The model `M` (its spec).
    ///
    /// Panics if `M`'s spec cannot be read, which the tests of a generated model rule out.
    pub fn of<M: apikley::Model>() -> Self {
        match ModelSpec::of::<M>() {
            Ok(spec) => SandboxModel::from_spec(spec),
            Err(reason) => panic!("the spec of {} cannot be read: {reason}", M::ID),
        }
    }

    /// The model id.
    pub fn id(&self) -> &str {
        self.spec.id()
    }

    /// The file a task of this body produces: the format the request asks for (its
    /// `output_format`, else the model's usual one), as near as the sandbox's samples go.
    pub(crate) fn output(&self, body: &Value) -> MediaType {
        let input = body.get("input").unwrap_or(&Value::Null);
        crate::samples::sample(self.spec.output_media_type(input).unwrap_or(MediaType::Mp4)).1
    }

    /// Checks a body; charges one credit per 5 seconds of generation (rounded up to a half).
    pub(crate) fn accept(&self, body: &Value) -> Result<Accepted, String> {
        let violations = self.spec.validate(body);
        if !violations.is_empty() {
            let problems: Vec<String> = violations
                .iter()
                .map(|v| format!("{}: {} (got {})", v.field, v.rule, v.value))
                .collect();
            return Err(problems.join("; "));
        }
        let input = body.get("input").unwrap_or(&Value::Null);
        let generation = self
            .spec
            .expected_duration(input)
            .unwrap_or(Duration::from_secs(30));
        let credits = (generation.as_secs_f64() / 5.0 * 2.0).ceil() / 2.0;
        Ok(Accepted {
            generation,
            credits,
        })
    }
}
