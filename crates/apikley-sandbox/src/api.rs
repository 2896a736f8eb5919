//! The Market endpoints: createTask, Get Task Details, credits.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Extension, Query, State as Shared};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::files;
use crate::reply::{Envelope, error, gate, ok};
use crate::server::DropConnection;
use crate::signature;
use crate::state::{State, TaskEntry};

pub(crate) fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/api/v1/jobs/createTask", post(create_task))
        .route("/api/v1/jobs/recordInfo", get(record_info))
        .route("/api/v1/chat/credit", get(credit))
        .route("/sandbox/tasks", get(created_tasks))
        .route(
            "/file-upload/api/file-stream-upload",
            post(files::upload_stream),
        )
        .route(
            "/file-upload/api/file-base64-upload",
            post(files::upload_base64),
        )
        .route("/file-upload/api/file-url-upload", post(files::upload_url))
        .route("/files/{*path}", get(files::serve))
        .layer(DefaultBodyLimit::max(files::MAX_UPLOAD))
        .with_state(state)
}

/// Every task created so far: for tests that run the sandbox in another process.
async fn created_tasks(Shared(state): Shared<Arc<State>>) -> Response {
    let tasks: Vec<Value> = state
        .tasks()
        .into_iter()
        .map(crate::CreatedTask::from)
        .map(|t| json!({"taskId": t.id, "model": t.model, "param": t.param}))
        .collect();
    axum::Json(json!({ "tasks": tasks })).into_response()
}

async fn create_task(
    Shared(state): Shared<Arc<State>>,
    connection: Option<Extension<DropConnection>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    state.count(|s| s.create_requests += 1);
    let faults = state.faults();
    if let Err(refused) = gate(&state, &faults, &headers).await {
        return refused;
    }
    let body: Value = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(e) => {
            return error(
                &faults,
                Envelope::Market,
                422,
                format!("the body is not JSON: {e}"),
            );
        }
    };
    let model_id = match body.get("model") {
        None => {
            return error(
                &faults,
                Envelope::Market,
                422,
                "model: missing field `model`",
            );
        }
        Some(Value::String(id)) => id.clone(),
        Some(other) => {
            return error(
                &faults,
                Envelope::Market,
                422,
                format!("model: must be a string, not {other}"),
            );
        }
    };
    let Some(model) = state.models.iter().find(|m| m.id() == model_id) else {
        let known: Vec<&str> = state.models.iter().map(|m| m.id()).collect();
        return error(
            &faults,
            Envelope::Market,
            422,
            format!(
                "model: unknown model {model_id:?} (this sandbox knows {})",
                known.join(", ")
            ),
        );
    };
    let accepted = match model.accept(&body) {
        Ok(accepted) => accepted,
        Err(problem) => return error(&faults, Envelope::Market, 422, problem),
    };
    if !state.admit_create(faults.rate_limit) {
        state.count(|s| s.rate_limited += 1);
        return error(&faults, Envelope::Market, 429, "Rate limit exceeded");
    }
    if !state.charge(accepted.credits) {
        return error(
            &faults,
            Envelope::Market,
            402,
            format!(
                "Insufficient Credits: the task needs {} credits, the balance is {}",
                accepted.credits,
                state.credits()
            ),
        );
    }
    let task = TaskEntry {
        id: state.new_task_id(),
        model: model_id,
        media: model.output(&body),
        param: body.to_string(),
        created: state.now(),
        stages: stages(state.varied(accepted.generation)),
        failure: faults.fail_tasks.clone(),
        credits: accepted.credits,
        callback: body
            .get("callBackUrl")
            .and_then(Value::as_str)
            .map(str::to_owned),
    };
    state.insert_task(task.clone());
    state.count(|s| s.tasks_created += 1);
    tracing::info!(task_id = %task.id, model = %task.model, "task created");
    let id = task.id.clone();
    tokio::spawn(lifecycle(state.clone(), task));

    if faults.drop_after_create
        && let Some(Extension(connection)) = connection
    {
        state.count(|s| s.dropped += 1);
        connection.drop_now();
        return std::future::pending::<Response>().await;
    }
    ok(json!({"taskId": id}))
}

/// Waiting, queuing and generating, out of a task's whole duration.
fn stages(total: Duration) -> [Duration; 3] {
    let waiting = (total / 10).min(Duration::from_secs(2));
    let queuing = (total / 10).min(Duration::from_secs(3));
    [waiting, queuing, total.saturating_sub(waiting + queuing)]
}

/// Whether a URL names this machine: `localhost` or a loopback address.
fn on_this_machine(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Ends the task: refunds a failure, POSTs the callback.
async fn lifecycle(state: Arc<State>, task: TaskEntry) {
    tokio::time::sleep(state.real(task.total())).await;
    let failed = task.failure.is_some();
    if failed {
        state.refund(task.credits);
    }
    let Some(url) = &task.callback else { return };
    // The sandbox never reaches the internet: callbacks go to this machine only.
    if !url::Url::parse(url).is_ok_and(|u| on_this_machine(&u)) {
        tracing::warn!(task_id = %task.id, %url, "callback not sent: the sandbox only calls loopback addresses");
        return;
    }
    let mut data = state.record(&task);
    data["consumeCredits"] = if failed { 0.0 } else { task.credits }.into();
    data["remainedCredits"] = state.credits().into();
    let (code, message) = if failed {
        (501, "Playground task failed.")
    } else {
        (200, "Playground task completed successfully.")
    };
    let mut request = state
        .http
        .post(url)
        .json(&json!({"code": code, "msg": message, "data": data}));
    if let Some(signer) = &state.webhook {
        let timestamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        request = request
            .header(signature::TIMESTAMP, timestamp.to_string())
            .header(signature::SIGNATURE, signer.sign(&task.id, timestamp));
    }
    match request.send().await {
        Ok(response) if response.status().is_success() => {
            state.count(|s| s.callbacks_delivered += 1)
        }
        Ok(response) => {
            tracing::warn!(task_id = %task.id, status = %response.status(), "callback refused")
        }
        Err(e) => tracing::warn!(task_id = %task.id, error = %e, "callback failed"),
    }
}

async fn record_info(
    Shared(state): Shared<Arc<State>>,
    connection: Option<Extension<DropConnection>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    state.count(|s| s.status_queries += 1);
    let faults = state.faults();
    if let Err(refused) = gate(&state, &faults, &headers).await {
        return refused;
    }
    if state.chance(faults.status_fault_rate) {
        state.count(|s| s.status_faults += 1);
        match state.pick(5) {
            0 => return error(&faults, Envelope::Market, 500, "Server Error"),
            1 => return error(&faults, Envelope::Market, 455, "Service Unavailable"),
            2 => {
                if let Some(Extension(connection)) = connection {
                    state.count(|s| s.dropped += 1);
                    connection.drop_now();
                    return std::future::pending::<Response>().await;
                }
            }
            3 => tokio::time::sleep(crate::STATUS_FAULT_DELAY).await,
            _ => {
                return (
                    StatusCode::OK,
                    [(axum::http::header::CONTENT_TYPE, "text/html")],
                    "<html><body><h1>502 Bad Gateway</h1>nginx</body></html>",
                )
                    .into_response();
            }
        }
    }
    let Some(id) = query.get("taskId").filter(|id| !id.is_empty()) else {
        return error(
            &faults,
            Envelope::Market,
            400,
            "taskId parameter is required",
        );
    };
    match state.task(id) {
        Some(task) if faults.records_of_other_tasks => {
            // What a confused proxy or cache might answer: another task's record.
            let mut record = state.record(&task);
            record["taskId"] = format!("{id}-other").into();
            ok(record)
        }
        Some(task) => ok(state.record(&task)),
        None => error(&faults, Envelope::Market, 404, "Task not found"),
    }
}

async fn credit(Shared(state): Shared<Arc<State>>, headers: HeaderMap) -> Response {
    let faults = state.faults();
    if let Err(refused) = gate(&state, &faults, &headers).await {
        return refused;
    }
    ok(json!(state.credits()))
}
