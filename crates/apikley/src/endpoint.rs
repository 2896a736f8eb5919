//! The API's operations. Paths, methods and query parameter names come from the tables
//! generated from the vendored specs (`apikley_raw::*::operations`, and each model's own for
//! `createTask`): a spec that moves an endpoint moves it here too.

use std::borrow::Cow;
use std::time::Duration;

use apikley_raw::{credits, file_upload, task_detail};

/// An operation as a spec declares it: its method, and its path relative to the base URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    pub(crate) method: Cow<'static, str>,
    pub(crate) path: Cow<'static, str>,
}

impl Endpoint {
    /// The endpoint `method path`, e.g. from a raw crate's `operations` table.
    pub const fn new(method: &'static str, path: &'static str) -> Self {
        Endpoint {
            method: Cow::Borrowed(method),
            path: Cow::Borrowed(path),
        }
    }

    /// The HTTP method, upper case (`POST`).
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The path relative to the API's base URL (`api/v1/jobs/createTask`).
    pub fn path(&self) -> &str {
        &self.path
    }
}

/// How long the service may spend fetching a URL upload (it allows itself 30 s), on top of the
/// request timeout: the answer must not be given up while the fetch may still be going on.
const URL_FETCH_ALLOWANCE: Duration = Duration::from_secs(45);

/// An API operation the runtime calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op<'e> {
    /// `createTask`, at the endpoint its model's spec declares.
    CreateTask(&'e Endpoint),
    TaskDetail,
    Credits,
    UploadBase64,
    UploadUrl,
    UploadStream,
}

impl<'e> Op<'e> {
    /// The name the docs give it, for errors and traces.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Op::CreateTask(_) => "createTask",
            Op::TaskDetail => "recordInfo",
            Op::Credits => "credit",
            Op::UploadBase64 => "file-base64-upload",
            Op::UploadUrl => "file-url-upload",
            Op::UploadStream => "file-stream-upload",
        }
    }

    /// The endpoint, as the vendored spec declares it.
    pub(crate) fn endpoint(self) -> Cow<'e, Endpoint> {
        macro_rules! declared {
            ($operation:path) => {{
                use $operation as op;
                Cow::Owned(Endpoint::new(op::METHOD, op::PATH))
            }};
        }
        match self {
            Op::CreateTask(endpoint) => Cow::Borrowed(endpoint),
            Op::TaskDetail => declared!(task_detail::operations::get_task_detail),
            Op::Credits => declared!(credits::operations::get_account_credits),
            Op::UploadBase64 => declared!(file_upload::operations::upload_file_base64),
            Op::UploadUrl => declared!(file_upload::operations::upload_file_url),
            Op::UploadStream => declared!(file_upload::operations::upload_file_stream),
        }
    }

    /// The name of the task id's query parameter of Get Task Details.
    pub(crate) const TASK_ID_PARAMETER: &'static str =
        task_detail::operations::get_task_detail::QUERY[0];

    /// Whether a repeat cannot do the work twice. `createTask` charges again; a URL upload
    /// makes the service fetch the file again.
    pub(crate) fn idempotent(self) -> bool {
        !matches!(self, Op::CreateTask(_) | Op::UploadUrl)
    }

    /// Whether it counts against the rate limit of new tasks (`Some(true)`) or of status
    /// queries (`Some(false)`).
    pub(crate) fn creates_tasks(self) -> Option<bool> {
        match self {
            Op::CreateTask(_) => Some(true),
            Op::TaskDetail => Some(false),
            _ => None,
        }
    }

    /// Time on top of the request timeout.
    pub(crate) fn allowance(self) -> Duration {
        match self {
            Op::UploadUrl => URL_FETCH_ALLOWANCE,
            _ => Duration::ZERO,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table is read from the vendored documents, not written here: this states what the
    /// documents say today, so that a change shows up in review.
    #[test]
    fn the_endpoints_are_the_documented_ones() {
        let shared = [
            Op::TaskDetail,
            Op::Credits,
            Op::UploadBase64,
            Op::UploadUrl,
            Op::UploadStream,
        ];
        let endpoints: Vec<String> = shared
            .iter()
            .map(|op| format!("{} {}", op.endpoint().method(), op.endpoint().path()))
            .collect();
        assert_eq!(
            endpoints,
            [
                "GET api/v1/jobs/recordInfo",
                "GET api/v1/chat/credit",
                "POST file-upload/api/file-base64-upload",
                "POST file-upload/api/file-url-upload",
                "POST file-upload/api/file-stream-upload",
            ]
        );
        assert_eq!(Op::TASK_ID_PARAMETER, "taskId");
    }
}
