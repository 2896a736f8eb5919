//! Uploads: local files (streamed), bytes (Base64) and URLs, hosted for a model's input. The
//! [`Client`](crate::Client) methods call these.

use std::path::Path;
use std::time::Duration;

use apikley_raw::file_upload::types as raw;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use url::Url;

use crate::endpoint::Op;
use crate::envelope::Envelope;
use crate::error::{Error, Repr};
use crate::files::{FileRules, MediaType, inspect};
use crate::transport::{Scope, Transport};

/// Uploaded files live this long at least: Apikley documents deletion after 3 days, kie.ai's
/// quickstart after 24 hours; the shorter is assumed.
pub const UPLOAD_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);

/// A file hosted by the upload service.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct UploadedFile {
    /// The URL to pass in a model's input.
    pub download_url: Url,
    /// The file's name on the service.
    pub file_name: String,
    /// Its path in the service's storage.
    pub file_path: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its MIME type, as the service detected it.
    pub mime_type: String,
    /// When it was uploaded.
    pub uploaded_at: DateTime<Utc>,
    /// When it may be deleted, at the earliest ([`UPLOAD_RETENTION`] after upload): use it
    /// before then.
    pub expires_at: DateTime<Utc>,
}

impl UploadedFile {
    fn from_raw(raw: raw::FileUploadResult, op: Op<'_>) -> Result<Self, Error> {
        let download_url = Url::parse(&raw.download_url).map_err(|e| Repr::Undecodable {
            operation: op.name(),
            task_id: None,
            status: reqwest::StatusCode::OK,
            reason: format!("downloadUrl is not a URL: {e}"),
            snippet: raw.download_url.chars().take(200).collect(),
            transient: false,
        })?;
        let retention = chrono::Duration::from_std(UPLOAD_RETENTION).unwrap_or_default();
        Ok(UploadedFile {
            download_url,
            file_name: raw.file_name,
            file_path: raw.file_path,
            size: u64::try_from(raw.file_size).unwrap_or_default(),
            mime_type: raw.mime_type,
            // A date at the end of time would overflow: then the file expires "now".
            expires_at: raw
                .uploaded_at
                .checked_add_signed(retention)
                .unwrap_or(raw.uploaded_at),
            uploaded_at: raw.uploaded_at,
        })
    }
}

/// Where and how a file is uploaded.
///
/// ```
/// use apikley::{FileRules, MediaType, UploadOptions};
/// const IMAGES: FileRules = FileRules::new(10_000_000, &[MediaType::Jpeg, MediaType::Png]);
/// let options = UploadOptions::default()
///     .with_upload_path("my-app/inputs")
///     .with_rules(IMAGES);
/// assert_eq!(options.upload_path, "my-app/inputs");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UploadOptions {
    /// The folder on the service (no leading or trailing slash). Default `apikley-sdk`.
    pub upload_path: String,
    /// The name on the service. Default: the local name behind a random prefix, because an
    /// upload with an existing name replaces that file.
    pub file_name: Option<String>,
    /// Checked before anything is sent, when set.
    pub rules: Option<FileRules>,
}

impl Default for UploadOptions {
    fn default() -> Self {
        UploadOptions {
            upload_path: "apikley-sdk".into(),
            file_name: None,
            rules: None,
        }
    }
}

impl UploadOptions {
    /// The folder on the service.
    #[must_use]
    pub fn with_upload_path(mut self, path: impl Into<String>) -> Self {
        self.upload_path = path.into();
        self
    }

    /// The name on the service (replacing any file of that name there).
    #[must_use]
    pub fn with_file_name(mut self, name: impl Into<String>) -> Self {
        self.file_name = Some(name.into());
        self
    }

    /// Checks files against `rules` before uploading them.
    #[must_use]
    pub fn with_rules(mut self, rules: FileRules) -> Self {
        self.rules = Some(rules);
        self
    }

    fn name_for(&self, local: &str) -> String {
        self.file_name
            .clone()
            .unwrap_or_else(|| format!("{:012x}-{local}", fastrand::u64(..) & 0xFFFF_FFFF_FFFF))
    }
}

/// The upload service's `data`: the generated type.
fn read_upload(answer: Envelope) -> Result<raw::FileUploadResult, String> {
    serde_json::from_value(answer.data)
        .map_err(|e| format!("`data` is not the documented upload result: {e}"))
}

/// The file as a multipart part that reads it from disk as it is sent.
fn file_part(path: &Path, size: u64, name: &str) -> reqwest::multipart::Part {
    let stream = futures_util::stream::once(tokio::fs::File::open(path.to_owned()))
        .map_ok(|file| tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024))
        .try_flatten();
    reqwest::multipart::Part::stream_with_length(reqwest::Body::wrap_stream(stream), size)
        .file_name(name.to_owned())
}

/// How long a streamed upload may take on top of the request timeout: one second per 256 KiB.
fn upload_allowance(size: u64) -> Duration {
    Duration::from_secs(size / (256 * 1024))
}

/// Uploads a local file, streamed from disk; with rules, checked before anything is sent.
pub(crate) async fn file(
    transport: &Transport,
    path: &Path,
    options: &UploadOptions,
) -> Result<UploadedFile, Error> {
    let file_error = |reason: String| Repr::File {
        path: path.to_owned(),
        reason,
        task_id: None,
    };
    let (size, mime) = match &options.rules {
        Some(rules) => {
            let checked = rules.check(path).map_err(|e| file_error(e.to_string()))?;
            let mime = checked
                .media_type
                .map_or("application/octet-stream", MediaType::mime);
            (checked.size, mime)
        }
        None => {
            let (size, media_type) = inspect(path).map_err(|e| file_error(e.to_string()))?;
            (
                size,
                media_type.map_or("application/octet-stream", MediaType::mime),
            )
        }
    };
    let local_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("upload")
        .to_owned();
    let name = options.name_for(&local_name);
    let scope = Scope {
        extra_time: upload_allowance(size),
        ..Scope::default()
    };
    let raw: raw::FileUploadResult = transport
        .call(
            Op::UploadStream,
            scope,
            |request| {
                // A fresh stream per attempt: the file is reopened, never held in memory.
                let part = file_part(path, size, &name)
                    .mime_str(mime)
                    .unwrap_or_else(|_| file_part(path, size, &name));
                let form = reqwest::multipart::Form::new()
                    .text("uploadPath", options.upload_path.clone())
                    .text("fileName", name.clone())
                    .part("file", part);
                request.multipart(form)
            },
            read_upload,
        )
        .await?;
    UploadedFile::from_raw(raw, Op::UploadStream)
}

/// Uploads bytes held in memory, as Base64.
pub(crate) async fn bytes(
    transport: &Transport,
    bytes: &[u8],
    file_name: &str,
    options: &UploadOptions,
) -> Result<UploadedFile, Error> {
    let mime = MediaType::sniff(bytes).map_or("application/octet-stream", MediaType::mime);
    let body = raw::Base64UploadRequest {
        base64_data: format!("data:{mime};base64,{}", BASE64.encode(bytes)),
        upload_path: options.upload_path.clone(),
        file_name: Some(options.name_for(file_name)),
    };
    json(transport, Op::UploadBase64, &body).await
}

/// Has the service fetch a URL.
pub(crate) async fn url(
    transport: &Transport,
    file_url: &Url,
    options: &UploadOptions,
) -> Result<UploadedFile, Error> {
    let local = file_url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .filter(|s| !s.is_empty())
        .unwrap_or("download");
    let body = raw::UrlUploadRequest {
        file_url: file_url.to_string(),
        upload_path: options.upload_path.clone(),
        file_name: Some(options.name_for(local)),
    };
    json(transport, Op::UploadUrl, &body).await
}

/// POSTs a generated upload request as JSON; reads the hosted file.
async fn json(
    transport: &Transport,
    op: Op<'_>,
    body: &impl serde::Serialize,
) -> Result<UploadedFile, Error> {
    let raw: raw::FileUploadResult = transport
        .call(
            op,
            Scope::default(),
            |request| request.json(body),
            read_upload,
        )
        .await?;
    UploadedFile::from_raw(raw, op)
}
