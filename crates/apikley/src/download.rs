//! Downloads of result files: streamed to a temporary file beside the target, resumed with
//! `Range` after an interruption, renamed into place only when complete.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_RANGE, ETAG, IF_RANGE, LAST_MODIFIED, RANGE};
use tokio::io::{AsyncSeekExt, AsyncWriteExt};
use url::Url;

use crate::client::Client;
use crate::error::Error;
use crate::task::TaskId;

/// How a download is going, reported after each chunk written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownloadProgress {
    /// Bytes on disk so far.
    pub received: u64,
    /// The file's size, when the server said.
    pub total: Option<u64>,
}

impl fmt::Display for DownloadProgress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.total {
            Some(total) if total > 0 => write!(
                f,
                "{} / {} bytes ({}%)",
                self.received,
                total,
                self.received * 100 / total
            ),
            _ => write!(f, "{} bytes", self.received),
        }
    }
}

/// A finished download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadedFile {
    /// Where the file is.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// How many times an interrupted transfer continued with a `Range` request.
    pub resumed: u32,
    /// How many times it started over (the server ignored `Range`, or the file changed).
    pub restarted: u32,
}

type ProgressFn<'a> = Box<dyn FnMut(&DownloadProgress) + Send + 'a>;

/// A configured download; `.await` it. Made by [`Client::download`] or
/// [`CompletedTask::download`](crate::CompletedTask::download).
#[must_use = "a Download does nothing until awaited"]
pub struct Download<'a> {
    job: Job<'a>,
    progress: Option<ProgressFn<'a>>,
}

/// What to download where; kept apart from the progress callback so that it is `Sync`.
struct Job<'a> {
    client: &'a Client,
    url: Url,
    path: PathBuf,
    task_id: Option<TaskId>,
    overwrite: bool,
    max_failures: u32,
}

impl fmt::Debug for Download<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Download")
            .field("url", &self.job.url.as_str())
            .field("path", &self.job.path)
            .field("overwrite", &self.job.overwrite)
            .finish_non_exhaustive()
    }
}

impl<'a> Download<'a> {
    pub(crate) fn new(
        client: &'a Client,
        url: Url,
        path: PathBuf,
        task_id: Option<TaskId>,
    ) -> Self {
        Download {
            job: Job {
                client,
                url,
                path,
                task_id,
                overwrite: false,
                max_failures: 5,
            },
            progress: None,
        }
    }

    /// Replaces an existing file at the path (default: refuse).
    pub fn overwrite(mut self, overwrite: bool) -> Self {
        self.job.overwrite = overwrite;
        self
    }

    /// Gives up after this many failed attempts in a row (default 5; an attempt that makes
    /// progress resets the count).
    pub fn max_failures(mut self, failures: u32) -> Self {
        self.job.max_failures = failures.max(1);
        self
    }

    /// Calls `progress` as bytes arrive.
    pub fn on_progress(mut self, progress: impl FnMut(&DownloadProgress) + Send + 'a) -> Self {
        self.progress = Some(Box::new(progress));
        self
    }
}

impl<'a> Job<'a> {
    fn error(&self, status: Option<StatusCode>, reason: impl Into<String>) -> Error {
        Error::Download {
            url: self.url.to_string(),
            task_id: self.task_id.clone(),
            status,
            reason: reason.into(),
        }
    }

    fn file_error(&self, path: &Path, reason: impl fmt::Display) -> Error {
        Error::File {
            path: path.to_owned(),
            reason: reason.to_string(),
        }
    }

    async fn run(self, mut progress: Option<ProgressFn<'a>>) -> Result<DownloadedFile, Error> {
        let target = self.path.clone();
        if !self.overwrite && tokio::fs::try_exists(&target).await.unwrap_or(false) {
            return Err(self.file_error(
                &target,
                "already exists; pass overwrite(true) to replace it",
            ));
        }
        let name = target
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| self.file_error(&target, "is not a file path"))?;
        let folder = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        let temp = folder.join(format!(".{name}.{:08x}.part", fastrand::u32(..)));
        let mut file = tokio::fs::File::create(&temp)
            .await
            .map_err(|e| self.file_error(&temp, format!("cannot be created ({e})")))?;

        let outcome = self.transfer(&mut file, &temp, &mut progress).await;
        let outcome = match outcome {
            Ok(done) => file
                .sync_all()
                .await
                .map_err(|e| self.file_error(&temp, format!("cannot be written ({e})")))
                .map(|()| done),
            Err(e) => Err(e),
        };
        drop(file);
        let finished = match outcome {
            Ok(done) => self.put_in_place(&temp, &target).await.map(|()| done),
            Err(e) => Err(e),
        };
        if finished.is_err() {
            let _ = tokio::fs::remove_file(&temp).await;
        }
        finished
    }

    /// Renames the complete file into place; without `overwrite`, never replaces a file that
    /// appeared meanwhile.
    async fn put_in_place(&self, temp: &Path, target: &Path) -> Result<(), Error> {
        if self.overwrite {
            return tokio::fs::rename(temp, target)
                .await
                .map_err(|e| self.file_error(target, format!("cannot be written ({e})")));
        }
        match tokio::fs::hard_link(temp, target).await {
            Ok(()) => {
                let _ = tokio::fs::remove_file(temp).await;
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(self.file_error(
                target,
                "appeared during the download; pass overwrite(true) to replace it",
            )),
            // No hard links on this file system: check, then rename.
            Err(_) if !tokio::fs::try_exists(target).await.unwrap_or(false) => {
                tokio::fs::rename(temp, target)
                    .await
                    .map_err(|e| self.file_error(target, format!("cannot be written ({e})")))
            }
            Err(e) => Err(self.file_error(target, format!("cannot be written ({e})"))),
        }
    }

    async fn transfer(
        &self,
        file: &mut tokio::fs::File,
        temp: &Path,
        progress: &mut Option<ProgressFn<'a>>,
    ) -> Result<DownloadedFile, Error> {
        let http = self.client.inner.download_http.clone();
        let mut received: u64 = 0;
        let mut total: Option<u64> = None;
        let mut validator: Option<reqwest::header::HeaderValue> = None;
        let (mut resumed, mut restarted, mut failures) = (0u32, 0u32, 0u32);
        let mut last_error;

        loop {
            let mut request = http.get(self.url.clone());
            if received > 0 {
                request = request.header(RANGE, format!("bytes={received}-"));
                if let Some(validator) = &validator {
                    request = request.header(IF_RANGE, validator.clone());
                }
            }
            let before = received;
            match request.send().await {
                Err(e) => last_error = self.error(None, format!("no answer ({e})")),
                Ok(mut response) => {
                    let status = response.status();
                    let mut restart = false;
                    match status {
                        StatusCode::PARTIAL_CONTENT if received > 0 => {
                            match content_range(response.headers()) {
                                Some((start, size)) if start == received => {
                                    resumed += 1;
                                    total = size.or(total);
                                }
                                _ => restart = true,
                            }
                        }
                        StatusCode::RANGE_NOT_SATISFIABLE
                            if received > 0 && total == Some(received) =>
                        {
                            return Ok(self.done(received, resumed, restarted));
                        }
                        s if s.is_success() => {
                            restart = received > 0;
                            total = response.content_length();
                            validator = response
                                .headers()
                                .get(ETAG)
                                .filter(|v| !v.as_bytes().starts_with(b"W/"))
                                .or_else(|| response.headers().get(LAST_MODIFIED))
                                .cloned();
                        }
                        s => {
                            let error = self
                                .error(Some(s), format!("the server answered HTTP {}", s.as_u16()));
                            if !(s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS) {
                                return Err(error);
                            }
                            last_error = error;
                            failures += 1;
                            if failures >= self.max_failures {
                                return Err(last_error);
                            }
                            self.pause(failures).await;
                            continue;
                        }
                    }
                    if restart {
                        received = 0;
                        restarted += 1;
                        truncate(file).await.map_err(|e| self.file_error(temp, e))?;
                        if status != StatusCode::OK {
                            // A 206 for the wrong range: ask again for the whole file.
                            continue;
                        }
                    }
                    last_error = match self
                        .stream_body(&mut response, file, temp, &mut received, total, progress)
                        .await
                    {
                        Ok(()) => match total {
                            Some(expected) if received > expected => self.error(
                                None,
                                format!("got {received} bytes, more than the {expected} announced"),
                            ),
                            Some(expected) if received < expected => self.error(
                                None,
                                format!(
                                    "the connection ended after {received} of {expected} bytes"
                                ),
                            ),
                            _ => return Ok(self.done(received, resumed, restarted)),
                        },
                        Err(e @ Error::File { .. }) => return Err(e),
                        Err(e) => e,
                    };
                    if total.is_some_and(|expected| received > expected) {
                        // More than announced: the file is not what was asked for. Start over.
                        received = 0;
                        restarted += 1;
                        truncate(file).await.map_err(|e| self.file_error(temp, e))?;
                    }
                }
            }
            failures = if received > before { 1 } else { failures + 1 };
            if failures >= self.max_failures && received <= before {
                return Err(last_error);
            }
            tracing::debug!(url = %self.url, received, ?total, error = %last_error, "download interrupted; resuming");
            self.pause(failures).await;
        }
    }

    async fn stream_body(
        &self,
        response: &mut reqwest::Response,
        file: &mut tokio::fs::File,
        temp: &Path,
        received: &mut u64,
        total: Option<u64>,
        progress: &mut Option<ProgressFn<'a>>,
    ) -> Result<(), Error> {
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    file.write_all(&chunk)
                        .await
                        .map_err(|e| self.file_error(temp, format!("cannot be written ({e})")))?;
                    *received += chunk.len() as u64;
                    if let Some(progress) = progress {
                        progress(&DownloadProgress {
                            received: *received,
                            total,
                        });
                    }
                }
                Ok(None) => return Ok(()),
                Err(e) => {
                    let of = total.map(|t| format!(" of {t}")).unwrap_or_default();
                    return Err(self.error(
                        None,
                        format!("the transfer broke off after {received}{of} bytes ({e})"),
                    ));
                }
            }
        }
    }

    async fn pause(&self, failures: u32) {
        let bound = Duration::from_millis(500).saturating_mul(1 << failures.min(6));
        tokio::time::sleep(bound.mul_f64(fastrand::f64())).await;
    }

    fn done(&self, bytes: u64, resumed: u32, restarted: u32) -> DownloadedFile {
        DownloadedFile {
            path: self.path.clone(),
            bytes,
            resumed,
            restarted,
        }
    }
}

async fn truncate(file: &mut tokio::fs::File) -> std::io::Result<()> {
    file.set_len(0).await?;
    file.rewind().await.map(|_| ())
}

/// `Content-Range: bytes START-END/SIZE` → (START, SIZE if known).
fn content_range(headers: &reqwest::header::HeaderMap) -> Option<(u64, Option<u64>)> {
    let value = headers.get(CONTENT_RANGE)?.to_str().ok()?;
    let rest = value.trim().strip_prefix("bytes ")?;
    let (range, size) = rest.split_once('/')?;
    let (start, _) = range.split_once('-')?;
    Some((start.trim().parse().ok()?, size.trim().parse().ok()))
}

impl<'a> IntoFuture for Download<'a> {
    type Output = Result<DownloadedFile, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.job.run(self.progress))
    }
}

impl Client {
    /// Downloads a file to `path` (see [`Download`] for the options).
    pub fn download(&self, url: Url, path: impl Into<PathBuf>) -> Download<'_> {
        Download::new(self, url, path.into(), None)
    }

    /// Downloads the first result file of a finished task to `path`.
    pub async fn download_task(
        &self,
        task_id: impl Into<TaskId>,
        path: impl Into<PathBuf>,
    ) -> Result<DownloadedFile, Error> {
        let task = self.task(task_id);
        let record = task.status().await?;
        let url = record
            .result
            .as_ref()
            .and_then(|r| r.urls.first().cloned())
            .ok_or_else(|| Error::TaskFailed {
                task_id: record.id.clone(),
                fail_code: record.fail_code.clone(),
                fail_message: Some(match &record.fail_message {
                    Some(message) => message.clone(),
                    None => format!(
                        "the task has no result to download (state: {})",
                        record.state
                    ),
                }),
            })?;
        Download::new(self, url, path.into(), Some(record.id)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges_are_read() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(CONTENT_RANGE, "bytes 500-999/1000".parse().unwrap());
        assert_eq!(content_range(&headers), Some((500, Some(1000))));
        headers.insert(CONTENT_RANGE, "bytes 500-999/*".parse().unwrap());
        assert_eq!(content_range(&headers), Some((500, None)));
        headers.insert(CONTENT_RANGE, "pages 1-2/3".parse().unwrap());
        assert_eq!(content_range(&headers), None);
    }
}
