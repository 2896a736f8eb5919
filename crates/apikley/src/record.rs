//! Tasks as the API reports them, typed: ids, states, records and results, read best effort.

use std::fmt;
use std::time::Duration;

use apikley_raw::task_detail::types as raw;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use crate::envelope;

/// A task's id, as returned by `createTask`. Opaque: keep it to resume a task later. Cloning
/// is cheap (the text is shared): a wait, its task and the client's scheduler hold one copy.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub struct TaskId(std::sync::Arc<str>);

impl From<TaskId> for String {
    fn from(id: TaskId) -> Self {
        id.0.as_ref().to_owned()
    }
}

impl TaskId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for TaskId {
    fn from(id: String) -> Self {
        TaskId(id.into())
    }
}

impl From<&str> for TaskId {
    fn from(id: &str) -> Self {
        TaskId(id.into())
    }
}

impl AsRef<str> for TaskId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Where a task is in its life. States the documentation does not list are kept as
/// [`TaskState::Unknown`]; new named states may be added.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TaskState {
    /// Queued, waiting to be processed.
    Waiting,
    /// In the processing queue.
    Queuing,
    /// Being generated.
    Generating,
    /// Finished; the results are ready.
    Success,
    /// Failed; see the fail code and message.
    Fail,
    /// A state the documentation does not list (the text as sent; empty when the record had
    /// none).
    Unknown(String),
}

/// Names of states that end a task in other services' words (`failed`, `canceled`, …): an
/// unknown state with one of these names is over, not still running.
const ENDING_NAMES: &[&str] = &[
    "failed",
    "failure",
    "error",
    "errored",
    "canceled",
    "cancelled",
    "cancel",
    "timeout",
    "timedout",
    "expired",
    "rejected",
    "aborted",
    "stopped",
    "terminated",
    "deleted",
    "succeeded",
    "successful",
    "completed",
    "complete",
    "done",
    "finished",
];

impl TaskState {
    /// The state for the API's name of it (in any case).
    pub fn parse(state: &str) -> Self {
        match state.trim().to_ascii_lowercase().as_str() {
            "waiting" => TaskState::Waiting,
            "queuing" => TaskState::Queuing,
            "generating" => TaskState::Generating,
            "success" => TaskState::Success,
            "fail" => TaskState::Fail,
            _ => TaskState::Unknown(state.to_owned()),
        }
    }

    /// The API's name of the state.
    pub fn as_str(&self) -> &str {
        match self {
            TaskState::Waiting => "waiting",
            TaskState::Queuing => "queuing",
            TaskState::Generating => "generating",
            TaskState::Success => "success",
            TaskState::Fail => "fail",
            TaskState::Unknown(other) => other,
        }
    }

    /// Whether the task has ended (success or fail). Unknown states are not final by name
    /// alone: see [`TaskRecord::has_ended`].
    pub fn is_final(&self) -> bool {
        matches!(self, TaskState::Success | TaskState::Fail)
    }

    /// Whether an unknown state's name says the task is over (`failed`, `canceled`, `error`,
    /// `completed`, …, in any case and with any separators).
    pub fn sounds_final(&self) -> bool {
        let TaskState::Unknown(name) = self else {
            return self.is_final();
        };
        let folded: String = name
            .chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect();
        ENDING_NAMES.contains(&folded.as_str())
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A task as Get Task Details (or a callback) reports it, read best effort: only the id and the
/// state matter for following a task, and only the result URLs for using it, so any other field
/// that is missing, `null` or of another type is simply absent here. The JSON-in-a-string
/// fields are parsed and the timestamps are real times.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TaskRecord {
    /// The task.
    pub id: TaskId,
    /// Its state.
    pub state: TaskState,
    /// The model, e.g. `bytedance/seedance-1.5-pro`.
    pub model: Option<String>,
    /// What `resultJson` holds: for a `success` record always present (without files when it
    /// named none) unless `resultJson` could not be read at all; see
    /// [`result_text`](Self::result_text) for the text as sent.
    pub result: Option<TaskResult>,
    /// `failCode`, when the task failed (empty strings are read as absent).
    pub fail_code: Option<String>,
    /// `failMsg`, when the task failed (empty strings are read as absent).
    pub fail_message: Option<String>,
    /// When the task was created.
    pub created_at: Option<DateTime<Utc>>,
    /// When the task was last updated.
    pub updated_at: Option<DateTime<Utc>>,
    /// When the task ended.
    pub completed_at: Option<DateTime<Utc>>,
    /// Generation progress 0–100, for the few models that report it.
    pub progress: Option<u8>,
    /// The record exactly as the API sent it (the `data` object).
    pub json: Value,
}

impl TaskRecord {
    /// Reads a record (the `data` of a Get Task Details answer, or of a callback). Fails only
    /// when `data` is not a JSON object; a record without an id has an empty one.
    pub fn from_json(data: &Value) -> Result<Self, NotARecord> {
        TaskRecord::from_value(data.clone())
    }

    /// [`from_json`](Self::from_json), keeping `data` as the record's JSON without a copy.
    pub(crate) fn from_value(data: Value) -> Result<Self, NotARecord> {
        let Value::Object(fields) = &data else {
            return Err(NotARecord(kind(&data)));
        };
        let field = |name: &str| fields.get(name).filter(|v| !v.is_null());
        let string = |name: &str| {
            field(name)
                .and_then(envelope::text)
                .filter(|s| !s.is_empty())
        };
        let time = |name: &str| {
            field(name)
                .and_then(envelope::integer)
                .filter(|ms| *ms > 0)
                .and_then(DateTime::from_timestamp_millis)
        };
        let state = TaskState::parse(&string("state").unwrap_or_default());
        let result_text = field("resultJson").and_then(json_text);
        let result = match (&state, result_text.as_deref()) {
            (_, Some(text)) if !text.trim().is_empty() => TaskResult::parse(text).ok(),
            (TaskState::Success, _) => Some(TaskResult::default()),
            _ => None,
        };
        Ok(TaskRecord {
            id: TaskId::from(
                string("taskId")
                    .or_else(|| string("task_id"))
                    .unwrap_or_default(),
            ),
            state,
            model: string("model"),
            result,
            fail_code: string("failCode"),
            fail_message: string("failMsg"),
            created_at: time("createTime"),
            updated_at: time("updateTime"),
            completed_at: time("completeTime"),
            progress: field("progress")
                .and_then(envelope::integer)
                .and_then(|p| u8::try_from(p).ok())
                .filter(|p| *p <= 100),
            json: data,
        })
    }

    /// The record as the spec-exact generated type, when it fits it.
    pub fn spec_exact(&self) -> Option<raw::TaskRecord> {
        serde_json::from_value(self.json.clone()).ok()
    }

    /// `resultJson` as sent (a JSON text), if any.
    pub fn result_text(&self) -> Option<String> {
        self.json.get("resultJson").and_then(json_text)
    }

    /// Whether the record says the task is over: a known final state, or an unknown one with a
    /// sign of an end (a fail code other than `0`, a fail message, a completion time, result
    /// files, or a name such as `failed`, `canceled` or `completed`). A state with no such sign
    /// is still running.
    pub fn has_ended(&self) -> bool {
        self.state.is_final()
            || self.state.sounds_final()
            || self.fail_code.as_deref().is_some_and(|code| code != "0")
            || self.fail_message.is_some()
            || self.completed_at.is_some()
            || self.result.as_ref().is_some_and(|r| !r.urls.is_empty())
    }

    /// Whether the record shows a finished task with files to save: `success`, or a state this
    /// SDK does not know (`succeeded`, `completed`, …) that names result files. One rule for
    /// waits, downloads and batches: a task is over with nothing to save only when its record
    /// says failure or names no file.
    pub fn finished_with_files(&self) -> bool {
        matches!(self.state, TaskState::Success | TaskState::Unknown(_))
            && self.result.as_ref().is_some_and(|r| !r.urls.is_empty())
    }

    /// The original `createTask` request (the `param` JSON text), read into `T` — for example
    /// the model's generated request body.
    pub fn request<T: DeserializeOwned>(&self) -> Option<Result<T, serde_json::Error>> {
        match self.json.get("param")? {
            Value::String(text) if text.is_empty() => None,
            Value::String(text) => Some(serde_json::from_str(text)),
            Value::Null => None,
            other => Some(serde_json::from_value(other.clone())),
        }
    }

    /// How long the task took: from `createTime` to `completeTime` when both are known, else
    /// `costTime` (documented in milliseconds, though one callback example looks like seconds,
    /// which is why the timestamps come first).
    pub fn generation_time(&self) -> Option<Duration> {
        let from_times = match (self.created_at, self.completed_at) {
            (Some(start), Some(end)) => (end - start).to_std().ok(),
            _ => None,
        };
        from_times.or_else(|| {
            self.json
                .get("costTime")
                .and_then(envelope::integer)
                .and_then(|ms| u64::try_from(ms).ok())
                .map(Duration::from_millis)
        })
    }
}

/// What a task record was, when it was not one (a JSON object).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the record is {0}, not an object")]
pub struct NotARecord(&'static str);

/// Why `resultJson` could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResultError {
    /// The text is not a JSON object (nor holds one).
    #[error("resultJson is not a JSON object")]
    NotAnObject,
    /// It names files, but not one with a usable (absolute http or https) URL.
    #[error("{field} names {count} file(s), none with a usable URL")]
    NoUsableUrl {
        /// The field, e.g. `resultUrls`.
        field: &'static str,
        /// How many entries it has.
        count: usize,
    },
}

/// A JSON-in-a-string field's text; an object sent in its place is written back out.
fn json_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        other => Some(other.to_string()),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// What a successful task produced (its `resultJson`).
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct TaskResult {
    /// The generated files (videos for a video model). They expire (24 hours to 14 days):
    /// download promptly.
    pub urls: Vec<Url>,
    /// First frames, for models that return them.
    pub first_frame_urls: Vec<Url>,
    /// Last frames, for models that return them.
    pub last_frame_urls: Vec<Url>,
    /// `resultObject`, for text models.
    pub object: Option<Value>,
}

impl TaskResult {
    /// Parses `resultJson` text, leniently: stray bytes around the JSON, a single URL where a
    /// list was expected, `{url: …}` objects in the list, unusable entries skipped. Fails when
    /// the text is not JSON, or names files of which not one is a usable URL.
    pub fn parse(text: &str) -> Result<Self, ResultError> {
        let object = match serde_json::from_str::<Value>(text.trim()) {
            Ok(Value::Object(object)) => object,
            // A JSON string holding the JSON text (encoded twice).
            Ok(Value::String(inner)) if inner.trim_start().starts_with('{') => {
                return TaskResult::parse(&inner);
            }
            _ => envelope::find_object(text.as_bytes()).ok_or(ResultError::NotAnObject)?,
        };
        let list = |names: &[&'static str]| -> Result<Vec<Url>, ResultError> {
            let Some(value) = names
                .iter()
                .find_map(|n| object.get(*n).filter(|v| !v.is_null()))
            else {
                return Ok(Vec::new());
            };
            let entries: Vec<&Value> = match value {
                Value::Array(items) => items.iter().collect(),
                single => vec![single],
            };
            let urls: Vec<Url> = entries.iter().filter_map(|e| url(e)).collect();
            if urls.is_empty() && !entries.is_empty() {
                return Err(ResultError::NoUsableUrl {
                    field: names[0],
                    count: entries.len(),
                });
            }
            Ok(urls)
        };
        Ok(TaskResult {
            urls: list(&["resultUrls", "result_urls", "urls"])?,
            first_frame_urls: list(&["firstFrameUrl", "firstFrameUrls"]).unwrap_or_default(),
            last_frame_urls: list(&["lastFrameUrl", "lastFrameUrls"]).unwrap_or_default(),
            object: object.get("resultObject").filter(|v| !v.is_null()).cloned(),
        })
    }
}

/// An absolute http(s) URL, from a string or a `{url: …}` object.
fn url(value: &Value) -> Option<Url> {
    let text = match value {
        Value::String(text) => text.as_str(),
        Value::Object(fields) => fields.get("url")?.as_str()?,
        _ => return None,
    };
    Url::parse(text.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(json: Value) -> TaskRecord {
        TaskRecord::from_json(&json).expect("an object")
    }

    #[test]
    fn states_round_trip_and_unknown_ones_are_kept() {
        for name in [
            "waiting",
            "queuing",
            "generating",
            "success",
            "fail",
            "canceled",
        ] {
            assert_eq!(TaskState::parse(name).as_str(), name);
        }
        assert_eq!(
            TaskState::parse("canceled"),
            TaskState::Unknown("canceled".into())
        );
        assert!(!TaskState::parse("canceled").is_final());
        assert_eq!(TaskState::parse("SUCCESS"), TaskState::Success);
        assert_eq!(TaskState::parse(" Fail "), TaskState::Fail);
        assert!(TaskState::Success.is_final() && TaskState::Fail.is_final());
        for ending in ["canceled", "FAILED", "Timed_Out", "error", "completed"] {
            assert!(TaskState::parse(ending).sounds_final(), "{ending}");
        }
        for running in ["processing", "running", "pending", ""] {
            assert!(!TaskState::parse(running).sounds_final(), "{running}");
        }
    }

    #[test]
    fn a_success_record_is_parsed() {
        let r = record(json!({
            "taskId": "t1", "state": "success", "model": "m",
            "param": "{\"model\":\"m\",\"input\":{\"prompt\":\"hi\"}}",
            "resultJson": "{\"resultUrls\":[\"https://cdn.example/v.mp4\"],\"lastFrameUrl\":[\"https://cdn.example/l.png\"]}",
            "failCode": "", "failMsg": "",
            "createTime": 1698765400000_i64, "completeTime": 1698765432000_i64
        }));
        let result = r.result.clone().unwrap();
        assert_eq!(result.urls[0].as_str(), "https://cdn.example/v.mp4");
        assert_eq!(result.last_frame_urls.len(), 1);
        assert_eq!(r.fail_code, None);
        assert_eq!(r.generation_time(), Some(Duration::from_secs(32)));
        assert_eq!(
            r.created_at.unwrap().to_rfc3339(),
            "2023-10-31T15:16:40+00:00"
        );
        let param: Value = r.request().unwrap().unwrap();
        assert_eq!(param["input"]["prompt"], "hi");
        assert!(r.spec_exact().is_some());
        assert!(r.has_ended());
    }

    #[test]
    fn auxiliary_fields_of_any_shape_never_hide_the_urls() {
        let r = record(json!({
            "taskId": 12345, "state": "success", "model": null,
            "param": {"model": "m", "input": {"prompt": "hi"}},
            "resultJson": {"resultUrls": "https://cdn.example/v.mp4", "firstFrameUrl": null},
            "failCode": 0, "failMsg": null, "costTime": "15000",
            "createTime": "soon", "updateTime": [], "completeTime": {"at": 1},
            "progress": "45", "brandNew": {"nested": [1, 2]}
        }));
        assert_eq!(r.id.as_str(), "12345");
        assert_eq!(
            r.result.as_ref().unwrap().urls[0].as_str(),
            "https://cdn.example/v.mp4"
        );
        assert_eq!(r.fail_code.as_deref(), Some("0"));
        assert_eq!(r.created_at, None);
        assert_eq!(r.progress, Some(45));
        assert_eq!(r.generation_time(), Some(Duration::from_secs(15)));
        let param: Value = r.request().unwrap().unwrap();
        assert_eq!(param["input"]["prompt"], "hi");
    }

    #[test]
    fn result_json_is_read_leniently_and_unusable_urls_say_so() {
        let urls = |text: &str| {
            TaskResult::parse(text)
                .map(|r| r.urls.len())
                .map_err(|e| e.to_string())
        };
        assert_eq!(urls(r#"{"resultUrls":[]}"#), Ok(0));
        assert_eq!(
            urls(r#"{"resultUrls":[{"url":"https://a/1.mp4"},"https://a/2.mp4"]}"#),
            Ok(2)
        );
        assert_eq!(
            urls(r#"{"resultUrls":["nope","https://a/2.mp4",7]}"#),
            Ok(1)
        );
        assert_eq!(
            urls("\u{feff}{\"resultUrls\":[\"https://a/1.mp4\"]} trailing"),
            Ok(1)
        );
        assert_eq!(urls(r#""{\"resultUrls\":[\"https://a/1.mp4\"]}""#), Ok(1));
        assert_eq!(urls(r#"{"resultObject":{"text":"hi"}}"#), Ok(0));
        assert!(urls("{not json").unwrap_err().contains("not a JSON object"));
        assert!(
            urls(r#"{"resultUrls":["nope","ftp://a/x"]}"#)
                .unwrap_err()
                .contains("none with a usable URL")
        );
    }

    #[test]
    fn a_success_keeps_its_text_when_the_result_is_unreadable() {
        let r = record(json!({"taskId": "t", "state": "success", "resultJson": "{not json"}));
        assert_eq!(r.result, None);
        assert_eq!(r.result_text().as_deref(), Some("{not json"));
        let empty = record(json!({"taskId": "t", "state": "success"}));
        assert_eq!(empty.result, Some(TaskResult::default()));
        assert_eq!(
            TaskRecord::from_json(&json!([1])).unwrap_err().to_string(),
            "the record is an array, not an object"
        );
    }

    #[test]
    fn unknown_states_end_only_with_a_sign_of_an_end() {
        let ended = [
            json!({"taskId": "t", "state": "canceled"}),
            json!({"taskId": "t", "state": "processing", "failCode": "499"}),
            json!({"taskId": "t", "state": "processing", "failMsg": "stopped by the user"}),
            json!({"taskId": "t", "state": "archived", "completeTime": 1698765432000_i64}),
            json!({"taskId": "t", "state": "archived", "resultJson": "{\"resultUrls\":[\"https://a/v.mp4\"]}"}),
        ];
        for json in ended {
            assert!(record(json.clone()).has_ended(), "{json}");
        }
        for json in [
            json!({"taskId": "t", "state": "processing", "failCode": "", "failMsg": ""}),
            json!({"taskId": "t", "state": "processing", "failCode": 0}),
            json!({"taskId": "t"}),
            json!({"taskId": "t", "state": 3}),
        ] {
            assert!(!record(json.clone()).has_ended(), "{json}");
        }
        let extreme = record(
            json!({"taskId": "t", "state": "fail", "createTime": i64::MAX, "completeTime": i64::MIN}),
        );
        assert_eq!(extreme.generation_time(), None);
    }
}
