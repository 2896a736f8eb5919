//! Tasks as the API reports them, typed: ids, states, records and results.

use std::fmt;
use std::time::Duration;

use apikley_raw::task_detail::types as raw;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use url::Url;

/// A task's id, as returned by `createTask`. Opaque: keep it to resume a task later.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskId(String);

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
        TaskId(id)
    }
}

impl From<&str> for TaskId {
    fn from(id: &str) -> Self {
        TaskId(id.to_owned())
    }
}

impl AsRef<str> for TaskId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Where a task is in its life. States the documentation does not list are kept as
/// [`TaskState::Unknown`] and treated as still running; new named states may be added.
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
    /// A state the documentation does not list.
    Unknown(String),
}

impl TaskState {
    /// The state for the API's name of it.
    pub fn parse(state: &str) -> Self {
        match state {
            "waiting" => TaskState::Waiting,
            "queuing" => TaskState::Queuing,
            "generating" => TaskState::Generating,
            "success" => TaskState::Success,
            "fail" => TaskState::Fail,
            other => TaskState::Unknown(other.to_owned()),
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

    /// Whether the task has ended (success or fail). Unknown states are not final.
    pub fn is_final(&self) -> bool {
        matches!(self, TaskState::Success | TaskState::Fail)
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A task as Get Task Details reports it, with the JSON-in-a-string fields parsed and the
/// timestamps as real times.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRecord {
    /// The task.
    pub id: TaskId,
    /// Its state.
    pub state: TaskState,
    /// The model, e.g. `bytedance/seedance-1.5-pro`.
    pub model: Option<String>,
    /// The results, when the state is `success`.
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
    /// The record exactly as the API sent it (spec-exact generated type).
    pub raw: raw::TaskRecord,
}

impl TaskRecord {
    /// Reads a generated record. Fails only when a `success` record's `resultJson` is not the
    /// documented JSON text.
    pub fn from_raw(raw: raw::TaskRecord) -> Result<Self, String> {
        let state = TaskState::parse(&raw.state.0);
        let result = match (&state, non_empty(&raw.result_json)) {
            (TaskState::Success, Some(text)) => Some(TaskResult::parse(text)?),
            (TaskState::Success, None) => return Err("a successful task has no resultJson".into()),
            _ => None,
        };
        Ok(TaskRecord {
            id: TaskId(raw.task_id.clone()),
            state,
            model: raw.model.clone(),
            result,
            fail_code: non_empty(&raw.fail_code).map(str::to_owned),
            fail_message: non_empty(&raw.fail_msg).map(str::to_owned),
            created_at: raw.create_time.and_then(DateTime::from_timestamp_millis),
            updated_at: raw.update_time.and_then(DateTime::from_timestamp_millis),
            completed_at: raw.complete_time.and_then(DateTime::from_timestamp_millis),
            progress: raw.progress.and_then(|p| u8::try_from(p).ok()),
            raw,
        })
    }

    /// The original `createTask` request (the `param` JSON text), read into `T` — for example
    /// the model's generated request body.
    pub fn request<T: DeserializeOwned>(&self) -> Option<Result<T, serde_json::Error>> {
        non_empty(&self.raw.param).map(serde_json::from_str)
    }

    /// How long the task took: from `createTime` to `completeTime` when both are known, else
    /// `costTime` (documented in milliseconds, though one callback example looks like seconds,
    /// which is why the timestamps come first).
    pub fn generation_time(&self) -> Option<Duration> {
        let from_times = match (self.raw.create_time, self.raw.complete_time) {
            (Some(start), Some(end)) => {
                end.checked_sub(start).and_then(|ms| u64::try_from(ms).ok())
            }
            _ => None,
        };
        from_times
            .or_else(|| self.raw.cost_time.and_then(|ms| u64::try_from(ms).ok()))
            .map(Duration::from_millis)
    }
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

/// What a successful task produced (its `resultJson`).
#[derive(Debug, Clone, PartialEq)]
pub struct TaskResult {
    /// The generated files (videos for a video model). They expire (24 hours to 14 days):
    /// download promptly.
    pub urls: Vec<Url>,
    /// First frames, for models that return them.
    pub first_frame_urls: Vec<Url>,
    /// Last frames, for models that return them.
    pub last_frame_urls: Vec<Url>,
    /// `resultObject`, for text models.
    pub object: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResultJson {
    #[serde(default)]
    result_urls: Vec<String>,
    #[serde(default)]
    first_frame_url: Vec<String>,
    #[serde(default)]
    last_frame_url: Vec<String>,
    #[serde(default)]
    result_object: Option<serde_json::Value>,
}

impl TaskResult {
    /// Parses `resultJson` text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let json: ResultJson = serde_json::from_str(text)
            .map_err(|e| format!("resultJson is not the documented JSON: {e}"))?;
        if json.result_urls.is_empty() && json.result_object.is_none() {
            return Err("resultJson holds neither resultUrls nor resultObject".into());
        }
        let urls = |list: Vec<String>| -> Result<Vec<Url>, String> {
            list.iter()
                .map(|u| {
                    Url::parse(u).map_err(|e| format!("resultJson holds an invalid URL {u:?}: {e}"))
                })
                .collect()
        };
        Ok(TaskResult {
            urls: urls(json.result_urls)?,
            first_frame_urls: urls(json.first_frame_url)?,
            last_frame_urls: urls(json.last_frame_url)?,
            object: json.result_object,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(json: serde_json::Value) -> Result<TaskRecord, String> {
        TaskRecord::from_raw(serde_json::from_value(json).expect("raw record"))
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
        assert!(TaskState::Success.is_final() && TaskState::Fail.is_final());
    }

    #[test]
    fn a_success_record_is_parsed() {
        let r = record(serde_json::json!({
            "taskId": "t1", "state": "success", "model": "m",
            "param": "{\"model\":\"m\",\"input\":{\"prompt\":\"hi\"}}",
            "resultJson": "{\"resultUrls\":[\"https://cdn.example/v.mp4\"],\"lastFrameUrl\":[\"https://cdn.example/l.png\"]}",
            "failCode": "", "failMsg": "",
            "createTime": 1698765400000_i64, "completeTime": 1698765432000_i64
        }))
        .unwrap();
        let result = r.result.clone().unwrap();
        assert_eq!(result.urls[0].as_str(), "https://cdn.example/v.mp4");
        assert_eq!(result.last_frame_urls.len(), 1);
        assert_eq!(r.fail_code, None);
        assert_eq!(r.generation_time(), Some(Duration::from_secs(32)));
        assert_eq!(
            r.created_at.unwrap().to_rfc3339(),
            "2023-10-31T15:16:40+00:00"
        );
        let param: serde_json::Value = r.request().unwrap().unwrap();
        assert_eq!(param["input"]["prompt"], "hi");
    }

    #[test]
    fn broken_result_json_is_an_error_not_a_panic() {
        let error = record(
            serde_json::json!({"taskId": "t", "state": "success", "resultJson": "{not json"}),
        )
        .unwrap_err();
        assert!(
            error.contains("resultJson is not the documented JSON"),
            "{error}"
        );
        let error = record(serde_json::json!({"taskId": "t", "state": "success", "resultJson": "{\"resultUrls\":[\"nope\"]}"}))
            .unwrap_err();
        assert!(error.contains("invalid URL"), "{error}");
        assert!(record(serde_json::json!({"taskId": "t", "state": "success"})).is_err());
        let empty = record(
            serde_json::json!({"taskId": "t", "state": "success", "resultJson": "{\"resultUrls\":[]}"}),
        );
        assert!(
            empty
                .unwrap_err()
                .contains("neither resultUrls nor resultObject")
        );
        let extreme = record(
            serde_json::json!({"taskId": "t", "state": "fail", "createTime": i64::MAX, "completeTime": i64::MIN}),
        );
        assert_eq!(extreme.unwrap().generation_time(), None);
    }
}
