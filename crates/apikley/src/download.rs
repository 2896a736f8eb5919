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
    idle_timeout: Option<Duration>,
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
                idle_timeout: client.inner.download_idle_timeout,
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

    /// The target cannot be used (a user's choice to revisit, not a download failure).
    fn target_error(&self, reason: impl fmt::Display) -> Error {
        Error::File {
            path: self.path.clone(),
            reason: reason.to_string(),
        }
    }

    fn write_error(&self, e: impl fmt::Display) -> Error {
        self.error(
            None,
            format!("cannot write beside {} ({e})", self.path.display()),
        )
    }

    /// Waits for `step`, at most the idle timeout.
    async fn idle<T>(&self, step: impl Future<Output = T>) -> Result<T, Error> {
        match self.idle_timeout {
            Some(limit) => tokio::time::timeout(limit, step)
                .await
                .map_err(|_| self.error(None, format!("no data for {limit:?}"))),
            None => Ok(step.await),
        }
    }

    async fn run(self, mut progress: Option<ProgressFn<'a>>) -> Result<DownloadedFile, Error> {
        if !self.overwrite && tokio::fs::try_exists(&self.path).await.unwrap_or(false) {
            return Err(self.target_error("already exists; pass overwrite(true) to replace it"));
        }
        let name = self
            .path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| self.target_error("is not a file path"))?;
        let folder = match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        // Beside the target, so that the final rename stays on one file system. The guard
        // removes it however this ends: error, cancellation or panic.
        let temp = TempFile(folder.join(format!(".{name}.{:016x}.part", fastrand::u64(..))));
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp.0)
            .await
            .map_err(|e| self.write_error(e))?;
        let done = self.transfer(&mut file, &mut progress).await?;
        file.sync_all().await.map_err(|e| self.write_error(e))?;
        drop(file);
        self.put_in_place(&temp.0).await?;
        Ok(done)
    }

    /// Renames the complete file into place; without `overwrite`, never replaces a file that
    /// appeared meanwhile.
    async fn put_in_place(&self, temp: &Path) -> Result<(), Error> {
        let target = &self.path;
        if self.overwrite {
            return tokio::fs::rename(temp, target)
                .await
                .map_err(|e| self.write_error(e));
        }
        match tokio::fs::hard_link(temp, target).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(self
                .target_error("appeared during the download; pass overwrite(true) to replace it")),
            // No hard links on this file system: check, then rename.
            Err(_) if !tokio::fs::try_exists(target).await.unwrap_or(false) => {
                tokio::fs::rename(temp, target)
                    .await
                    .map_err(|e| self.write_error(e))
            }
            Err(e) => Err(self.write_error(e)),
        }
    }

    async fn transfer(
        &self,
        file: &mut tokio::fs::File,
        progress: &mut Option<ProgressFn<'a>>,
    ) -> Result<DownloadedFile, Error> {
        let http = &self.client.inner.download_http;
        let mut received: u64 = 0;
        let mut total: Option<u64> = None;
        // Resuming is only safe when the server can tell whether the file is still the same.
        let mut validator: Option<reqwest::header::HeaderValue> = None;
        let (mut resumed, mut restarted, mut failures) = (0u32, 0u32, 0u32);

        loop {
            let resume = received > 0 && validator.is_some();
            if received > 0 && !resume {
                received = 0;
                restarted += 1;
                truncate(file).await.map_err(|e| self.write_error(e))?;
            }
            let mut request = http.get(self.url.clone());
            if resume {
                request = request.header(RANGE, format!("bytes={received}-"));
                if let Some(validator) = &validator {
                    request = request.header(IF_RANGE, validator.clone());
                }
            }
            let before = received;
            let failure = match self.idle(request.send()).await {
                Err(e) => e,
                Ok(Err(e)) => self.error(None, format!("no answer ({e})")),
                Ok(Ok(mut response)) => {
                    let status = response.status();
                    let announced = match status {
                        StatusCode::PARTIAL_CONTENT if resume => {
                            match content_range(response.headers()) {
                                // The rest of the same file.
                                Some((start, size))
                                    if start == received
                                        && (size.is_none() || total.is_none() || size == total) =>
                                {
                                    resumed += 1;
                                    Some(total.or(size))
                                }
                                // Another range, or another file: start over.
                                _ => None,
                            }
                        }
                        StatusCode::RANGE_NOT_SATISFIABLE if resume && total == Some(received) => {
                            return Ok(self.done(received, resumed, restarted));
                        }
                        StatusCode::RANGE_NOT_SATISFIABLE if resume => None,
                        s if s.is_success() => {
                            if received > 0 {
                                // The server ignored the range, or the file changed.
                                received = 0;
                                restarted += 1;
                                truncate(file).await.map_err(|e| self.write_error(e))?;
                            }
                            validator = response
                                .headers()
                                .get(ETAG)
                                .filter(|v| !v.as_bytes().starts_with(b"W/"))
                                .or_else(|| response.headers().get(LAST_MODIFIED))
                                .cloned();
                            Some(response.content_length())
                        }
                        s => {
                            let error = self
                                .error(Some(s), format!("the server answered HTTP {}", s.as_u16()));
                            if !(s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS) {
                                return Err(error);
                            }
                            failures += 1;
                            if failures >= self.max_failures {
                                return Err(error);
                            }
                            self.pause(failures).await;
                            continue;
                        }
                    };
                    match announced {
                        None => {
                            validator = None; // forces a restart from zero
                            self.error(Some(status), "the server sent another part of the file")
                        }
                        Some(announced) => {
                            total = announced;
                            match self.stream_body(&mut response, file, &mut received, total, progress).await {
                                Ok(()) => match total {
                                    Some(expected) if received == expected => {
                                        return Ok(self.done(received, resumed, restarted));
                                    }
                                    None => return Ok(self.done(received, resumed, restarted)),
                                    Some(expected) if received > expected => {
                                        validator = None;
                                        self.error(None, format!("got {received} bytes, more than the {expected} announced"))
                                    }
                                    Some(expected) => self.error(
                                        None,
                                        format!("the connection ended after {received} of {expected} bytes"),
                                    ),
                                },
                                Err(e) => e,
                            }
                        }
                    }
                }
            };
            if matches!(failure, Error::File { .. }) {
                return Err(failure);
            }
            // An attempt that brought bytes resets the count.
            failures = if received > before { 1 } else { failures + 1 };
            if failures >= self.max_failures {
                return Err(failure);
            }
            tracing::debug!(url = %self.url, received, ?total, error = %failure, "download interrupted; resuming");
            self.pause(failures).await;
        }
    }

    async fn stream_body(
        &self,
        response: &mut reqwest::Response,
        file: &mut tokio::fs::File,
        received: &mut u64,
        total: Option<u64>,
        progress: &mut Option<ProgressFn<'a>>,
    ) -> Result<(), Error> {
        loop {
            match self.idle(response.chunk()).await? {
                Ok(Some(chunk)) => {
                    file.write_all(&chunk)
                        .await
                        .map_err(|e| self.write_error(e))?;
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

/// A temporary file, removed when dropped (a no-op once it has been renamed away).
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
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

    /// Prepares the download of a finished task's first result file to `path` (one status
    /// query); `.await` the returned [`Download`], after setting its options.
    ///
    /// ```no_run
    /// # async fn run(client: apikley::Client) -> Result<(), apikley::Error> {
    /// let file = client.download_task("task_123", "clip.mp4").await?.overwrite(true).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// A failed task is [`Error::TaskFailed`]; one that has not finished yet is an
    /// [`Error::Download`] saying so (retryable).
    pub async fn download_task(
        &self,
        task_id: impl Into<TaskId>,
        path: impl Into<PathBuf>,
    ) -> Result<Download<'_>, Error> {
        let record = self.task(task_id).status().await?;
        match (
            &record.state,
            record.result.as_ref().and_then(|r| r.urls.first()),
        ) {
            (_, Some(url)) => Ok(Download::new(
                self,
                url.clone(),
                path.into(),
                Some(record.id.clone()),
            )),
            (crate::TaskState::Fail, None) => Err(Error::TaskFailed {
                task_id: record.id,
                fail_code: record.fail_code,
                fail_message: record.fail_message,
            }),
            (state, None) => Err(Error::Download {
                url: self.base_url().to_string(),
                task_id: Some(record.id.clone()),
                status: None,
                reason: format!("the task has no file yet (state: {state}); wait for it first"),
            }),
        }
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
