//! What every answer goes through: the gate (slowness, the key, maintenance, random 500s), and
//! the error envelopes, in the shape the faults ask for.

use axum::Json;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::state::State;
use crate::{ErrorShape, Faults};

/// Which API's envelope an answer uses: the Market's `{code, msg, data}`, or the upload
/// service's `{success, code, msg, data}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Envelope {
    Market,
    Upload,
}

/// `{code: 200, msg: "success", data}`.
pub(crate) fn ok(data: Value) -> Response {
    Json(json!({"code": 200, "msg": "success", "data": data})).into_response()
}

/// An API error in the configured shape.
pub(crate) fn error(
    faults: &Faults,
    envelope: Envelope,
    code: u16,
    message: impl Into<String>,
) -> Response {
    let body = match envelope {
        Envelope::Market => json!({"code": code, "msg": message.into(), "data": null}),
        Envelope::Upload => json!({"success": false, "code": code, "msg": message.into()}),
    };
    let status = match faults.error_shape {
        ErrorShape::HttpStatus => {
            StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
        }
        ErrorShape::Envelope => StatusCode::OK,
    };
    (status, Json(body)).into_response()
}

/// What every API call goes through: the slow fault, the key, maintenance, random 500s.
pub(crate) async fn gate(
    state: &State,
    faults: &Faults,
    headers: &HeaderMap,
) -> Result<(), Response> {
    if let Some(delay) = faults.slow {
        tokio::time::sleep(delay).await;
    }
    let key = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if key != Some(state.api_key.as_str()) {
        return Err(error(
            faults,
            Envelope::Market,
            401,
            "You do not have access permissions",
        ));
    }
    if faults.maintenance {
        return Err(error(
            faults,
            Envelope::Market,
            455,
            "Service Unavailable - System is currently undergoing maintenance",
        ));
    }
    if state.chance(faults.server_error_rate) {
        return Err(error(
            faults,
            Envelope::Market,
            500,
            "Server Error - An unexpected error occurred while processing the request",
        ));
    }
    Ok(())
}
