//! The upload routes, and the files themselves (uploads and task results).

use std::sync::Arc;

use apikley::raw::file_upload::types as raw;
use axum::Json;
use axum::extract::{Multipart, Path, State as Shared};
use axum::http::header::{
    ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, IF_RANGE, RANGE,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::json;

use crate::Faults;
use crate::reply::{Envelope, error, gate};
use crate::samples::sample;
use crate::state::{Stage, State, StoredFile};

/// The largest upload accepted (the documented recommendation for URL uploads is 100 MB).
pub(crate) const MAX_UPLOAD: usize = 110 * 1000 * 1000;

fn stored(
    state: &State,
    upload_path: &str,
    file_name: Option<String>,
    bytes: Vec<u8>,
    mime: Option<String>,
) -> Response {
    let mime = mime
        .filter(|m| !m.is_empty() && m != "application/octet-stream")
        .or_else(|| crate::signature::mime_of(&bytes).map(str::to_owned))
        .unwrap_or_else(|| "application/octet-stream".into());
    let file_name = file_name
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| state.new_file_name());
    let path = format!("{}/{file_name}", upload_path.trim_matches('/'));
    // Each segment percent-encoded, so that names with `#`, `?` or `%` still make a URL.
    let mut download_url = match url::Url::parse(&state.url) {
        Ok(url) => url,
        Err(e) => {
            return error(
                &state.faults(),
                Envelope::Upload,
                500,
                format!("sandbox URL: {e}"),
            );
        }
    };
    if let Ok(mut segments) = download_url.path_segments_mut() {
        segments.clear().push("files").extend(path.split('/'));
    }
    let size = bytes.len();
    state.store_file(
        path.clone(),
        StoredFile {
            bytes,
            mime: mime.clone(),
        },
    );
    state.count(|s| s.uploads += 1);
    Json(json!({
        "success": true,
        "code": 200,
        "msg": "File uploaded successfully",
        "data": {
            "fileName": file_name,
            "filePath": path,
            "downloadUrl": download_url.as_str(),
            "fileSize": size,
            "mimeType": mime,
            "uploadedAt": chrono::DateTime::<chrono::Utc>::from(std::time::SystemTime::now())
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        }
    }))
    .into_response()
}

pub(crate) async fn upload_stream(
    Shared(state): Shared<Arc<State>>,
    headers: HeaderMap,
    mut form: Multipart,
) -> Response {
    state.count(|s| s.upload_requests += 1);
    let faults = state.faults();
    if let Err(refused) = gate(&state, &faults, &headers).await {
        return refused;
    }
    let (mut file, mut upload_path, mut file_name) = (None, None, None);
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => {
                return error(
                    &faults,
                    Envelope::Upload,
                    400,
                    format!("Invalid multipart body: {e}"),
                );
            }
        };
        let name = field.name().unwrap_or_default().to_owned();
        let mime = field.content_type().map(str::to_owned);
        let original = field.file_name().map(str::to_owned);
        let Ok(bytes) = field.bytes().await else {
            return error(
                &faults,
                Envelope::Upload,
                400,
                format!("Field {name} could not be read"),
            );
        };
        match name.as_str() {
            "file" => file = Some((bytes.to_vec(), mime, original)),
            "uploadPath" => upload_path = Some(String::from_utf8_lossy(&bytes).into_owned()),
            "fileName" => file_name = Some(String::from_utf8_lossy(&bytes).into_owned()),
            _ => {}
        }
    }
    let Some((bytes, mime, original)) = file else {
        return error(
            &faults,
            Envelope::Upload,
            400,
            "Missing required parameter: file",
        );
    };
    let Some(upload_path) = upload_path else {
        return error(
            &faults,
            Envelope::Upload,
            400,
            "Missing required parameter: uploadPath",
        );
    };
    stored(&state, &upload_path, file_name.or(original), bytes, mime)
}

/// The gate, then the body read as the generated request type (400 when it is not one).
async fn json_request<T: serde::de::DeserializeOwned>(
    state: &State,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Faults, T), Response> {
    state.count(|s| s.upload_requests += 1);
    let faults = state.faults();
    gate(state, &faults, headers).await?;
    match serde_json::from_slice(body) {
        Ok(request) => Ok((faults, request)),
        Err(e) => Err(error(
            &faults,
            Envelope::Upload,
            400,
            format!("Invalid request: {e}"),
        )),
    }
}

pub(crate) async fn upload_base64(
    Shared(state): Shared<Arc<State>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let (faults, request) =
        match json_request::<raw::Base64UploadRequest>(&state, &headers, &body).await {
            Ok(accepted) => accepted,
            Err(refused) => return refused,
        };
    let (mime, data) = match request.base64_data.strip_prefix("data:") {
        Some(rest) => match rest.split_once(";base64,") {
            Some((mime, data)) => (Some(mime.to_owned()), data),
            None => {
                return error(
                    &faults,
                    Envelope::Upload,
                    400,
                    "Base64 decoding failed: Invalid data URL",
                );
            }
        },
        None => (None, request.base64_data.as_str()),
    };
    let Ok(bytes) = BASE64.decode(data.trim()) else {
        return error(
            &faults,
            Envelope::Upload,
            400,
            "Base64 decoding failed: Invalid Base64 format",
        );
    };
    stored(&state, &request.upload_path, request.file_name, bytes, mime)
}

pub(crate) async fn upload_url(
    Shared(state): Shared<Arc<State>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let (faults, request) =
        match json_request::<raw::UrlUploadRequest>(&state, &headers, &body).await {
            Ok(accepted) => accepted,
            Err(refused) => return refused,
        };
    // The sandbox never reaches the internet: it can only copy its own files, named by their
    // path with each segment percent-decoded, as they were stored.
    let own = format!("{}/files/", state.url);
    let Some(file) = own_file(&state, &request.file_url) else {
        return error(
            &faults,
            Envelope::Upload,
            400,
            format!(
                "the sandbox cannot fetch {}: it only copies its own files ({own}…)",
                request.file_url
            ),
        );
    };
    stored(
        &state,
        &request.upload_path,
        request.file_name,
        file.bytes,
        Some(file.mime),
    )
}

/// The stored file a URL of this sandbox names, if any.
fn own_file(state: &State, file_url: &str) -> Option<StoredFile> {
    let url = url::Url::parse(file_url).ok()?;
    let base = url::Url::parse(&state.url).ok()?;
    if url.origin() != base.origin() {
        return None;
    }
    let mut segments = url.path_segments()?;
    if segments.next() != Some("files") {
        return None;
    }
    let path = segments
        .map(|s| percent_encoding::percent_decode_str(s).decode_utf8().ok())
        .collect::<Option<Vec<_>>>()?
        .join("/");
    state.file(&path)
}

/// Uploaded files and task results, with single-range support (`Range: bytes=N-`).
/// A strong validator for a file's contents.
fn etag(bytes: &[u8]) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    bytes.hash(&mut hasher);
    format!("\"{:016x}-{:x}\"", hasher.finish(), bytes.len())
}

pub(crate) async fn serve(
    Shared(state): Shared<Arc<State>>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = path
        .strip_prefix("results/")
        .and_then(|name| name.rsplit_once('.'))
        .and_then(|(task_id, _)| state.task(task_id));
    let faults = state.faults();
    let file = match result {
        Some(task) => (task.stage_after(state.now().saturating_sub(task.created))
            == Stage::Success)
            .then(|| match faults.result_body {
                // What a broken link serves: a page, an error, nothing; with a status and a
                // type that claim a video.
                Some(body) => StoredFile {
                    bytes: body.bytes().to_vec(),
                    mime: task.media.mime().into(),
                },
                None => StoredFile {
                    bytes: sample(task.media).0.to_vec(),
                    mime: task.media.mime().into(),
                },
            }),
        None => state.file(&path),
    };
    let Some(file) = file else {
        return (StatusCode::NOT_FOUND, "no such file").into_response();
    };
    let total = file.bytes.len();
    let tag = etag(&file.bytes);
    // A range only applies to the same contents (If-Range); otherwise the whole file.
    let same = headers
        .get(IF_RANGE)
        .is_none_or(|v| v.to_str().is_ok_and(|v| v == tag));
    let start = headers
        .get(RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes="))
        .and_then(|v| v.strip_suffix('-'))
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|_| same);
    let mut response_headers = HeaderMap::new();
    let header =
        |v: String| HeaderValue::from_str(&v).unwrap_or(HeaderValue::from_static("invalid"));
    response_headers.insert(CONTENT_TYPE, header(file.mime.clone()));
    response_headers.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    response_headers.insert(ETAG, header(tag));
    match start {
        Some(start) if start >= total => {
            response_headers.insert(CONTENT_RANGE, header(format!("bytes */{total}")));
            (StatusCode::RANGE_NOT_SATISFIABLE, response_headers).into_response()
        }
        Some(start) => {
            response_headers.insert(
                CONTENT_RANGE,
                header(format!("bytes {start}-{}/{total}", total - 1)),
            );
            response_headers.insert(CONTENT_LENGTH, header((total - start).to_string()));
            (
                StatusCode::PARTIAL_CONTENT,
                response_headers,
                file.bytes[start..].to_vec(),
            )
                .into_response()
        }
        None => (StatusCode::OK, response_headers, file.bytes).into_response(),
    }
}
