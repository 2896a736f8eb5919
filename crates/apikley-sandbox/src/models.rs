//! The models a sandbox accepts, each checked through its generated, spec-exact body type.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

/// What a valid body costs and how long its task takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Accepted {
    pub(crate) generation: Duration,
    pub(crate) credits: f64,
}

type Accept = dyn Fn(&Value) -> Result<Accepted, String> + Send + Sync;

/// A model the sandbox accepts: its id, and how a `createTask` body is checked and charged.
///
/// Bodies are read into the model's generated type (so every enum, bound and required field of
/// the spec applies), then put through [`apikley::Model::check`] for what the generated types
/// cannot enforce. Tasks take the model's
/// [`expected_duration`](apikley::Model::expected_duration) (30 s when it has none) on the
/// sandbox clock.
#[derive(Clone)]
pub struct SandboxModel {
    id: &'static str,
    accept: Arc<Accept>,
}

impl fmt::Debug for SandboxModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxModel")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl SandboxModel {
    /// The model `M`, charged one credit per 5 seconds of generation (rounded up to a half).
    pub fn of<M: apikley::Model>() -> Self {
        SandboxModel {
            id: M::ID,
            accept: Arc::new(|value: &Value| {
                let body: M::Body = serde_path_to_error::deserialize(value).map_err(|e| {
                    let path = e.path().to_string();
                    if path == "." {
                        e.inner().to_string()
                    } else {
                        format!("{path}: {}", e.inner())
                    }
                })?;
                let violations = M::check(&body);
                if !violations.is_empty() {
                    let problems: Vec<String> = violations
                        .iter()
                        .map(|v| format!("{}: {} (got {})", v.field, v.rule, v.value))
                        .collect();
                    return Err(problems.join("; "));
                }
                let generation = M::expected_duration(&body).unwrap_or(Duration::from_secs(30));
                let credits = (generation.as_secs_f64() / 5.0 * 2.0).ceil() / 2.0;
                Ok(Accepted {
                    generation,
                    credits,
                })
            }),
        }
    }

    /// The model id.
    pub fn id(&self) -> &'static str {
        self.id
    }

    pub(crate) fn accept(&self, body: &Value) -> Result<Accepted, String> {
        (self.accept)(body)
    }
}
