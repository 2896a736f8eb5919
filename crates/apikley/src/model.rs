//! How a Market model plugs into the runtime.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::endpoint::Endpoint;
use crate::error::Violations;
use crate::files::MediaSource;

/// A Market model: ties a model id to the spec-exact `createTask` body generated from its
/// OpenAPI document. Every Market model shares `createTask`, Get Task Details and the
/// `{code, msg, data}` envelope, so this is all the runtime needs to know about one.
///
/// ```
/// use std::time::Duration;
///
/// /// A model whose generated body is `serde_json::Value` (a real one uses its raw crate's type,
/// /// and its raw crate's `operations` table for the endpoint).
/// struct Echo;
///
/// impl apikley::Model for Echo {
///     const ID: &'static str = "example/echo";
///     const CREATE_TASK: apikley::Endpoint = apikley::Endpoint {
///         method: "POST",
///         path: "api/v1/jobs/createTask",
///     };
///     type Body = serde_json::Value;
///
///     fn expected_duration(_: &Self::Body) -> Option<Duration> {
///         Some(Duration::from_secs(20))
///     }
/// }
/// ```
pub trait Model: Send + Sync + 'static {
    /// The id sent as `model`, e.g. `bytedance/seedance-1.5-pro`.
    const ID: &'static str;

    /// Where `createTask` is, as the model's spec declares it (its raw crate's `operations`).
    const CREATE_TASK: Endpoint;

    /// The spec-exact `createTask` body (`model`, `callBackUrl`, `input`), from the model's raw
    /// crate.
    type Body: Serialize + DeserializeOwned + Clone + Send + Sync + 'static;

    /// A rough prior for how long a task takes, used to plan polling until the client has
    /// seen real tasks of the same [`workload`](Model::workload). `None`: poll on the
    /// documented schedule.
    fn expected_duration(body: &Self::Body) -> Option<Duration> {
        let _ = body;
        None
    }

    /// The spec's rules that the generated types do not enforce (array sizes, `format: uri`),
    /// checked on the spec-exact body. [`Client::submit_body`](crate::Client::submit_body)
    /// refuses a body that breaks one; a stand-in server can check arriving bodies the same way.
    fn check(body: &Self::Body) -> Violations {
        let _ = body;
        Violations::new()
    }

    /// A label for tasks that take about as long as each other (e.g. `8s 720p audio`); the
    /// client learns one duration per label.
    fn workload(body: &Self::Body) -> String {
        let _ = body;
        String::new()
    }
}

/// An ergonomic request the client can submit: it knows its model, checks itself, and becomes
/// the model's spec-exact body.
pub trait TaskRequest: Send {
    /// The model the request is for.
    type Model: Model;

    /// Every rule the request breaks (empty when it is valid). The client calls this before
    /// anything is sent.
    fn violations(&self) -> Violations;

    /// The spec-exact body. Called only when [`violations`](TaskRequest::violations) is empty;
    /// may still report violations the typed conversion finds.
    fn into_body(self) -> Result<<Self::Model as Model>::Body, Violations>;

    /// The request's input files. [`Client::submit`](crate::Client::submit) uploads every
    /// [`MediaSource::File`] among them and replaces it with its hosted URL before calling
    /// [`into_body`](TaskRequest::into_body). Check local files in
    /// [`violations`](TaskRequest::violations) (see [`FileRules`](crate::FileRules)).
    fn local_files_mut(&mut self) -> Vec<&mut MediaSource> {
        Vec::new()
    }
}
