//! Downloads of result files: streamed to a temporary file beside the target, resumed with
//! `Range` after an interruption, renamed into place only when complete and durably on disk.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_RANGE, ETAG, HeaderValue, IF_RANGE, LAST_MODIFIED, RANGE};
use tokio::io::{AsyncSeekExt, AsyncWriteExt};
use url::Url;

use crate::error::{Error, Repr};
use crate::files::{Content, MediaType, NotMedia, SNIFF_LEN};
use crate::record::TaskId;
use crate::retry::{Class, Classified, RetryPolicy, retrying};
use crate::transport::Transport;

/// How a download is going, reported after each chunk written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
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
                u128::from(self.received) * 100 / u128::from(total)
            ),
            _ => write!(f, "{} bytes", self.received),
        }
    }
}

/// A finished download: a file whose content was checked to be a result (see [`Content`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DownloadedFile {
    /// Where the file is.
    pub path: PathBuf,
    /// What it is, by its content.
    pub content: Content,
    /// Its size in bytes, as written and synced to disk.
    pub bytes: u64,
    /// How many times an interrupted transfer continued with a `Range` request.
    pub resumed: u32,
    /// How many times it started over (the server ignored `Range`, or the file changed).
    pub restarted: u32,
}

impl DownloadedFile {
    /// A warning when the file's extension names another format than its content (a
    /// `clip.png` that holds an MP4 video): the file is kept as named.
    pub fn misnamed(&self) -> Option<String> {
        let kind = self.content.media_type()?;
        let extension = self.path.extension()?.to_str()?;
        let named = MediaType::from_extension(extension)?;
        (!kind.has_extension(extension)).then(|| {
            format!(
                "{} holds {}, but its extension says {named}: kept as named",
                self.path.display(),
                self.content
            )
        })
    }
}

type ProgressFn<'a> = Box<dyn FnMut(&DownloadProgress) + Send + 'a>;

/// Finds the URL of a task's file (one status query), after the target has been checked.
pub(crate) type Resolve = Pin<Box<dyn Future<Output = Result<Url, Error>> + Send>>;

/// What is downloaded.
enum Source {
    /// A file's URL.
    Url(Url),
    /// A task's file, whose URL is still to be found.
    Task(Resolve),
    /// Nothing can be: this error is the outcome.
    Refused(Error),
}

/// A configured download; `.await` it. Made by [`Client::download`](crate::Client::download),
/// [`Client::download_task`](crate::Client::download_task) or
/// [`CompletedTask::download`](crate::CompletedTask::download). It owns what it needs, so it can
/// be spawned.
#[must_use = "a Download does nothing until awaited"]
pub struct Download<'a> {
    transport: Transport,
    source: Source,
    path: PathBuf,
    task_id: Option<TaskId>,
    overwrite: bool,
    name_by_content: bool,
    retry: RetryPolicy,
    progress: Option<ProgressFn<'a>>,
}

impl fmt::Debug for Download<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match &self.source {
            Source::Url(url) => url.as_str().to_owned(),
            Source::Task(_) => format!("the file of task {:?}", self.task_id),
            Source::Refused(error) => format!("refused: {error}"),
        };
        f.debug_struct("Download")
            .field("source", &source)
            .field("path", &self.path)
            .field("overwrite", &self.overwrite)
            .finish_non_exhaustive()
    }
}

impl Download<'static> {
    fn new(transport: &Transport, source: Source, path: PathBuf, task_id: Option<TaskId>) -> Self {
        // A transfer may rightly take long: attempts bound the retries, not the clock.
        let retry = transport.retry_policy().with_max_elapsed(Duration::MAX);
        Download {
            transport: transport.clone(),
            source,
            path,
            task_id,
            overwrite: false,
            name_by_content: false,
            retry,
            progress: None,
        }
    }

    pub(crate) fn of_url(
        transport: &Transport,
        url: Url,
        path: PathBuf,
        task_id: Option<TaskId>,
    ) -> Self {
        Download::new(transport, Source::Url(url), path, task_id)
    }

    /// The file of task `id`, whose URL `resolve` finds once the target has been checked.
    pub(crate) fn of_task(
        transport: &Transport,
        id: TaskId,
        path: PathBuf,
        resolve: Resolve,
    ) -> Self {
        Download::new(transport, Source::Task(resolve), path, Some(id))
    }

    /// A download whose outcome is `error` (a task with no file to download).
    pub(crate) fn refused(transport: &Transport, path: PathBuf, error: Error) -> Self {
        let task_id = error.task_id().cloned();
        Download::new(transport, Source::Refused(error), path, task_id)
    }
}

impl<'a> Download<'a> {
    /// Replaces an existing file at the path (default: refuse).
    pub fn overwrite(mut self, overwrite: bool) -> Self {
        self.overwrite = overwrite;
        self
    }

    /// Lets the content name the file (default: the path is kept as given, with a warning
    /// when its extension contradicts the content): the path's extension is replaced by the
    /// one of the format the content turns out to be, else by the URL's, else kept. The file
    /// is saved at [`DownloadedFile::path`].
    pub fn name_by_content(mut self, by_content: bool) -> Self {
        self.name_by_content = by_content;
        self
    }

    /// Gives up after this many failed attempts in all (default: the client's
    /// [`RetryPolicy::max_attempts`]). Disk errors are never retried.
    pub fn max_failures(mut self, failures: u32) -> Self {
        self.retry.max_attempts = failures.max(1);
        self
    }

    /// Calls `progress` as bytes reach the disk (replacing any earlier callback). The callback
    /// may borrow from its surroundings; the download then lives no longer than they do.
    pub fn on_progress<'b>(
        self,
        progress: impl FnMut(&DownloadProgress) + Send + 'b,
    ) -> Download<'b>
    where
        'a: 'b,
    {
        Download {
            transport: self.transport,
            source: self.source,
            path: self.path,
            task_id: self.task_id,
            overwrite: self.overwrite,
            name_by_content: self.name_by_content,
            retry: self.retry,
            progress: Some(Box::new(progress)),
        }
    }

    async fn run(self) -> Result<DownloadedFile, Error> {
        let Download {
            transport,
            source,
            path,
            task_id,
            overwrite,
            name_by_content,
            retry,
            progress,
        } = self;
        let mut target = Target {
            path,
            overwrite,
            task_id: task_id.clone(),
        };
        // The target is checked before anything is asked of the network.
        target.check().await?;
        let url = match source {
            Source::Refused(error) => return Err(error),
            Source::Url(url) => url,
            Source::Task(resolve) => resolve.await?,
        };
        let job = Job {
            transport: &transport,
            url,
            task_id,
        };
        let temp = target.temporary().map_err(|e| target.error(e))?;
        let file = temp
            .reopen()
            .map(tokio::fs::File::from_std)
            .map_err(|e| target.error(e))?;
        let state = tokio::sync::Mutex::new(Transfer {
            file,
            received: 0,
            total: None,
            validator: None,
            head: Vec::with_capacity(SNIFF_LEN),
            content: None,
            resumed: 0,
            restarted: 0,
            progress,
        });
        retrying(
            &retry,
            true,
            None,
            || {
                let (job, target, state) = (&job, &target, &state);
                async move { job.attempt(target, &mut *state.lock().await).await }
            },
            |failure, delay| {
                tracing::debug!(url = %job.url, error = %failure, delay_ms = delay.as_millis() as u64, "download interrupted; trying again");
            },
        )
        .await?;
        let mut transfer = state.into_inner();
        // The bytes decide whether this is a result at all, whatever the status said.
        let content = match transfer.content {
            Some(content) => content,
            None => job.judge(&mut transfer)?,
        };
        // Only bytes the disk confirmed count: a short file is never put in place.
        transfer
            .file
            .sync_all()
            .await
            .map_err(|e| target.error(e))?;
        let on_disk = transfer
            .file
            .metadata()
            .await
            .map_err(|e| target.error(e))?
            .len();
        if on_disk != transfer.received || transfer.total.is_some_and(|t| t != on_disk) {
            return Err(target.error(format!(
                "only {on_disk} of {} bytes reached the disk",
                transfer.total.unwrap_or(transfer.received)
            )));
        }
        drop(transfer.file);
        if name_by_content {
            let extension = content
                .media_type()
                .map(|kind| kind.extension().to_owned())
                .or_else(|| url_extension(&job.url));
            if let Some(extension) = extension {
                target.path.set_extension(extension);
            }
        }
        target.put_in_place(temp)?;
        let file = DownloadedFile {
            path: target.path,
            content,
            bytes: on_disk,
            resumed: transfer.resumed,
            restarted: transfer.restarted,
        };
        if let Some(warning) = file.misnamed() {
            tracing::warn!(task_id = ?job.task_id, "{warning}");
        }
        Ok(file)
    }
}

/// The extension of a URL's file name, when it is a plain one (1 to 5 letters and digits),
/// in lower case.
pub(crate) fn url_extension(url: &Url) -> Option<String> {
    let name = url.path_segments()?.next_back()?;
    let (_, extension) = name.rsplit_once('.')?;
    let plain =
        (1..=5).contains(&extension.len()) && extension.bytes().all(|b| b.is_ascii_alphanumeric());
    plain.then(|| extension.to_ascii_lowercase())
}

/// Where the file goes.
struct Target {
    path: PathBuf,
    overwrite: bool,
    task_id: Option<TaskId>,
}

impl Target {
    /// The target cannot be used, or the disk failed: a user's matter, never retried.
    fn error(&self, reason: impl fmt::Display) -> Error {
        Repr::File {
            path: self.path.clone(),
            reason: reason.to_string(),
            task_id: self.task_id.clone(),
        }
        .into()
    }

    fn folder(&self) -> PathBuf {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        }
    }

    async fn check(&self) -> Result<(), Error> {
        if self.path.file_name().is_none() {
            return Err(self.error("is not a file path"));
        }
        if !self.overwrite && tokio::fs::try_exists(&self.path).await.unwrap_or(false) {
            return Err(self.error("already exists; pass overwrite(true) to replace it"));
        }
        Ok(())
    }

    /// A temporary file beside the target (so that the final rename stays on one file system),
    /// removed however the download ends: error, cancellation or panic. Its name is short
    /// whatever the target's, and it gets the permissions a new file normally gets.
    fn temporary(&self) -> std::io::Result<tempfile::NamedTempFile> {
        let name: String = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().chars().take(40).collect())
            .unwrap_or_default();
        let prefix = format!(".{name}.");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".part");
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
        builder.tempfile_in(self.folder())
    }

    /// Renames the complete file into place; without `overwrite`, never replaces a file that
    /// appeared meanwhile. Where the file system cannot rename without replacing, it checks,
    /// then renames. If the file cannot be put in place at all, it is kept where it is, and the
    /// error says where: a paid download is never thrown away.
    fn put_in_place(&self, temp: tempfile::NamedTempFile) -> Result<(), Error> {
        let placed = if self.overwrite {
            temp.persist(&self.path)
        } else {
            match temp.persist_noclobber(&self.path) {
                Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
                    return Err(self.error(
                        "already exists (it may have appeared during the download); pass overwrite(true) to replace it",
                    ));
                }
                Err(e) if !self.path.exists() => e.file.persist(&self.path),
                other => other,
            }
        };
        match placed {
            Ok(_) => Ok(()),
            Err(e) => {
                let reason = e.error.to_string();
                Err(match e.file.keep() {
                    Ok((_, kept)) => self.error(format!(
                        "cannot be put in place ({reason}); the complete file is at {}",
                        kept.display()
                    )),
                    Err(_) => self.error(format!("cannot be put in place ({reason})")),
                })
            }
        }
    }
}

/// A transfer's state across attempts.
struct Transfer<'a> {
    file: tokio::fs::File,
    /// Bytes written and confirmed by the file system.
    received: u64,
    /// The file's size, once a server said.
    total: Option<u64>,
    /// Resuming is only safe when the server can tell whether the file is still the same.
    validator: Option<HeaderValue>,
    /// The body's first bytes (up to [`SNIFF_LEN`]), until its content is judged.
    head: Vec<u8>,
    /// What the body is, once judged.
    content: Option<Content>,
    resumed: u32,
    restarted: u32,
    progress: Option<ProgressFn<'a>>,
}

impl Transfer<'_> {
    async fn start_over(&mut self, target: &Target) -> Result<(), Error> {
        self.received = 0;
        self.restarted += 1;
        self.head.clear();
        self.content = None;
        self.file.set_len(0).await.map_err(|e| target.error(e))?;
        self.file
            .rewind()
            .await
            .map(drop)
            .map_err(|e| target.error(e))
    }

    /// Writes a chunk and waits until the file system has taken it: a full disk or a file size
    /// limit ends the download here, before the bytes are counted.
    async fn write(&mut self, chunk: &[u8], target: &Target) -> Result<(), Error> {
        self.file
            .write_all(chunk)
            .await
            .map_err(|e| target.error(format!("cannot be written ({e})")))?;
        self.file
            .flush()
            .await
            .map_err(|e| target.error(format!("cannot be written ({e})")))?;
        self.received += chunk.len() as u64;
        if self.content.is_none() && self.head.len() < SNIFF_LEN {
            let take = chunk.len().min(SNIFF_LEN - self.head.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        if let Some(progress) = &mut self.progress {
            progress(&DownloadProgress {
                received: self.received,
                total: self.total,
            });
        }
        Ok(())
    }
}

/// What to download; shared by the attempts.
struct Job<'t> {
    transport: &'t Transport,
    url: Url,
    task_id: Option<TaskId>,
}

impl Classified for Error {
    fn class(&self) -> Class {
        match self.repr() {
            Repr::Download { status: None, .. } => Class::Transient,
            Repr::Download {
                status: Some(status),
                ..
            } => Class::of_status(*status),
            // A page instead of the file is a passing fault as often as not (a proxy's page,
            // maintenance): retried like a 5xx.
            Repr::NotAResult { .. } => Class::Transient,
            _ => Class::Permanent,
        }
    }
}

impl Job<'_> {
    /// A network failure (or a server answer) that another attempt may get past.
    fn error(&self, status: Option<StatusCode>, reason: impl Into<String>) -> Error {
        Repr::Download {
            url: self.url.to_string(),
            task_id: self.task_id.clone(),
            status,
            reason: reason.into(),
        }
        .into()
    }

    /// Judges the body by its first bytes: a result, or the error that says what came instead.
    fn judge(&self, t: &mut Transfer<'_>) -> Result<Content, Error> {
        match Content::sniff(&t.head) {
            Ok(content) => {
                t.content = Some(content);
                Ok(content)
            }
            Err(found) => {
                // Whatever comes next time is judged from its start.
                t.validator = None;
                Err(self.not_a_result(found, &t.head))
            }
        }
    }

    fn not_a_result(&self, found: NotMedia, head: &[u8]) -> Error {
        let snippet: String = String::from_utf8_lossy(head).chars().take(200).collect();
        Repr::NotAResult {
            url: self.url.to_string(),
            task_id: self.task_id.clone(),
            found,
            snippet,
        }
        .into()
    }

    /// Waits for `step`, at most the idle timeout.
    async fn idle<T>(&self, step: impl Future<Output = T>) -> Result<T, Error> {
        match self.transport.download_idle_timeout() {
            Some(limit) => tokio::time::timeout(limit, step)
                .await
                .map_err(|_| self.error(None, format!("no data for {limit:?}"))),
            None => Ok(step.await),
        }
    }

    /// One request: the whole file, or the rest of it.
    async fn attempt(&self, target: &Target, t: &mut Transfer<'_>) -> Result<(), Error> {
        let resume = t.received > 0 && t.validator.is_some();
        if t.received > 0 && !resume {
            t.start_over(target).await?;
        }
        let mut request = self.transport.http().get(self.url.clone());
        if resume {
            request = request.header(RANGE, format!("bytes={}-", t.received));
            if let Some(validator) = &t.validator {
                request = request.header(IF_RANGE, validator.clone());
            }
        }
        let mut response = self
            .idle(request.send())
            .await?
            .map_err(|e| self.error(None, format!("no answer ({e})")))?;
        match response.status() {
            StatusCode::PARTIAL_CONTENT if resume => match content_range(response.headers()) {
                // The rest of the same file.
                Some((start, size))
                    if start == t.received
                        && (size.is_none() || t.total.is_none() || size == t.total) =>
                {
                    t.resumed += 1;
                    t.total = t.total.or(size);
                }
                // Another range, or another file: the next attempt starts over.
                _ => {
                    t.validator = None;
                    return Err(self.error(None, "the server sent another part of the file"));
                }
            },
            StatusCode::RANGE_NOT_SATISFIABLE if resume && t.total == Some(t.received) => {
                return Ok(());
            }
            StatusCode::RANGE_NOT_SATISFIABLE if resume => {
                t.validator = None;
                return Err(self.error(None, "the server cannot resume the file"));
            }
            status if status.is_success() => {
                if t.received > 0 {
                    // The server ignored the range, or the file changed.
                    t.start_over(target).await?;
                }
                let headers = response.headers();
                t.validator = headers
                    .get(ETAG)
                    .filter(|v| !v.as_bytes().starts_with(b"W/"))
                    .or_else(|| headers.get(LAST_MODIFIED))
                    .cloned();
                t.total = response.content_length();
            }
            status => {
                return Err(self.error(
                    Some(status),
                    format!("the server answered HTTP {}", status.as_u16()),
                ));
            }
        }
        loop {
            match self.idle(response.chunk()).await? {
                Ok(Some(chunk)) => {
                    t.write(&chunk, target).await?;
                    // Judged as soon as enough has come: a page is not downloaded to its end.
                    if t.content.is_none() && t.head.len() >= SNIFF_LEN {
                        self.judge(t)?;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let of = t.total.map(|n| format!(" of {n}")).unwrap_or_default();
                    return Err(self.error(
                        None,
                        format!(
                            "the transfer broke off after {}{of} bytes ({e})",
                            t.received
                        ),
                    ));
                }
            }
        }
        match t.total {
            Some(total) if t.received > total => {
                t.validator = None;
                Err(self.error(
                    None,
                    format!("got {} bytes, more than the {total} announced", t.received),
                ))
            }
            Some(total) if t.received < total => Err(self.error(
                None,
                format!("the connection ended after {} of {total} bytes", t.received),
            )),
            _ => match t.content {
                Some(_) => Ok(()),
                None => self.judge(t).map(drop),
            },
        }
    }
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
        #[cfg(feature = "history")]
        if let (Some(history), Some(id)) = (self.transport.history().cloned(), self.task_id.clone())
        {
            let download = self.run();
            return Box::pin(async move {
                let file = download.await?;
                if let Err(e) = history.saved(&id, &file.path).await {
                    tracing::warn!(error = %e, "the task history was not updated");
                }
                Ok(file)
            });
        }
        Box::pin(self.run())
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

    #[test]
    fn file_names_take_the_urls_extension_when_plain() {
        let url = |s: &str| Url::parse(s).expect("a URL");
        assert_eq!(
            url_extension(&url("https://cdn/x/video.MP4")).as_deref(),
            Some("mp4")
        );
        assert_eq!(
            url_extension(&url("https://cdn/x/frame.webp?sig=1")).as_deref(),
            Some("webp")
        );
        assert_eq!(url_extension(&url("https://cdn/x/noext")), None);
        assert_eq!(url_extension(&url("https://cdn/x/a.b c")), None);
    }

    #[test]
    fn progress_reads_well_even_for_huge_files() {
        let progress = DownloadProgress {
            received: u64::MAX / 2,
            total: Some(u64::MAX),
        };
        assert!(progress.to_string().ends_with("(49%)"), "{progress}");
    }
}
