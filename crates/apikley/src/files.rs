//! Local input files: what they are (by content), and whether a model accepts them.

use std::borrow::Cow;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

pub use apikley_model::{MediaType, Medium};

/// How many first bytes of a body [`Content::sniff`] reads.
pub const SNIFF_LEN: usize = 512;

/// What a downloaded body is, by its first bytes: the one judge of whether it counts as a
/// result, whatever its status and `Content-Type` said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Content {
    /// A media file of a format told apart here.
    Media(MediaType),
    /// A binary file of another format: kept, named by its URL.
    Other,
}

/// Why a body is not a result: what it is instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NotMedia {
    /// Nothing at all.
    Empty,
    /// A web page (an error page, a "link expired" page, a proxy's page).
    Html,
    /// A JSON document (an API error).
    Json,
    /// An XML document (a storage service's error).
    Xml,
    /// Plain text.
    Text,
}

impl fmt::Display for NotMedia {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NotMedia::Empty => "an empty body",
            NotMedia::Html => "an HTML page",
            NotMedia::Json => "a JSON document",
            NotMedia::Xml => "an XML document",
            NotMedia::Text => "plain text",
        })
    }
}

impl Content {
    /// Judges a body by its first bytes (up to [`SNIFF_LEN`]; fewer only when that is all
    /// there is). A media format wins; then anything that reads as text (HTML, JSON, XML,
    /// plain) is refused; any other binary body is [`Content::Other`].
    pub fn sniff(head: &[u8]) -> Result<Content, NotMedia> {
        if let Some(kind) = MediaType::sniff(head) {
            return Ok(Content::Media(kind));
        }
        let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
        let start = text.iter().position(|b| !b.is_ascii_whitespace());
        let Some(start) = start else {
            return if head.is_empty() || is_text(head) {
                Err(NotMedia::Empty)
            } else {
                Ok(Content::Other)
            };
        };
        let text = &text[start..];
        let lower: Vec<u8> = text.iter().take(64).map(u8::to_ascii_lowercase).collect();
        if lower.starts_with(b"<?xml") {
            // An XHTML page is a page.
            let page = text.windows(5).any(|w| w.eq_ignore_ascii_case(b"<html"));
            return Err(if page { NotMedia::Html } else { NotMedia::Xml });
        }
        if lower.starts_with(b"<!doctype html")
            || lower.starts_with(b"<html")
            || lower.starts_with(b"<head")
            || lower.starts_with(b"<body")
            || lower.starts_with(b"<!--")
        {
            return Err(NotMedia::Html);
        }
        if lower.starts_with(b"<") && is_text(text) {
            return Err(NotMedia::Xml);
        }
        if (lower.starts_with(b"{") || lower.starts_with(b"[")) && is_text(text) {
            return Err(NotMedia::Json);
        }
        if is_text(text) {
            return Err(NotMedia::Text);
        }
        Ok(Content::Other)
    }

    /// The media type, when it is one.
    pub fn media_type(self) -> Option<MediaType> {
        match self {
            Content::Media(kind) => Some(kind),
            Content::Other => None,
        }
    }
}

impl fmt::Display for Content {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Content::Media(kind) => write!(f, "{kind} {}", kind.medium()),
            Content::Other => f.write_str("a file of another format (output kind \"other\")"),
        }
    }
}

/// Whether bytes read as text: UTF-8 (a character cut off at the end allowed) without control
/// characters other than whitespace.
fn is_text(bytes: &[u8]) -> bool {
    let valid = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        // Cut off mid-character at the end of the head: the rest is still text.
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return false,
    };
    valid
        .chars()
        .all(|c| !c.is_control() || c.is_ascii_whitespace())
}

/// What a model accepts for a file input: which formats (by content) and how large.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileRules {
    /// The largest size, in bytes.
    pub max_bytes: u64,
    /// The accepted formats; empty when the spec names none this SDK can tell by content
    /// (then any format is taken).
    pub types: Cow<'static, [MediaType]>,
}

/// A local file that passed a model's [`FileRules`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckedFile {
    /// The file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// Its format, by content, when told apart here.
    pub media_type: Option<MediaType>,
}

/// Why a local file cannot be used, in words that complete "the file …".
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileProblem {
    /// It cannot be opened or read.
    #[error("cannot be read ({0})")]
    Unreadable(#[source] std::io::Error),
    /// It is a folder or a device, not a file.
    #[error("is not a file")]
    NotAFile,
    /// Its content is of a format the rules do not accept.
    #[error("is a {found} file{}; accepted: {}", misnamed(path, *found), list(accepted))]
    WrongType {
        /// The file (for its name).
        path: PathBuf,
        /// What its content is.
        found: MediaType,
        /// What is accepted.
        accepted: Vec<MediaType>,
    },
    /// Its content is of no format known here.
    #[error("is of no format told apart here; accepted: {}", list(accepted))]
    Unrecognised {
        /// What is accepted.
        accepted: Vec<MediaType>,
    },
    /// It is larger than allowed.
    #[error("is {size} bytes, more than the {max} bytes allowed")]
    TooLarge {
        /// Its size.
        size: u64,
        /// The most allowed.
        max: u64,
    },
}

fn list(types: &[MediaType]) -> String {
    types
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A local file's size and format (by its first bytes), read without loading it.
pub(crate) fn inspect(path: &Path) -> Result<(u64, Option<MediaType>), FileProblem> {
    let mut file = std::fs::File::open(path).map_err(FileProblem::Unreadable)?;
    let metadata = file.metadata().map_err(FileProblem::Unreadable)?;
    if !metadata.is_file() {
        return Err(FileProblem::NotAFile);
    }
    let mut head = [0u8; 64];
    let read = read_head(&mut file, &mut head).map_err(FileProblem::Unreadable)?;
    Ok((metadata.len(), MediaType::sniff(&head[..read])))
}

impl FileRules {
    /// Files of these formats, up to `max_bytes`.
    pub const fn new(max_bytes: u64, types: &'static [MediaType]) -> Self {
        FileRules {
            max_bytes,
            types: Cow::Borrowed(types),
        }
    }

    /// The same, with formats known at run time (from a spec).
    pub fn owned(max_bytes: u64, types: Vec<MediaType>) -> Self {
        FileRules {
            max_bytes,
            types: Cow::Owned(types),
        }
    }

    /// Checks a local file without reading more than its first bytes.
    pub fn check(&self, path: &Path) -> Result<CheckedFile, FileProblem> {
        let (size, found) = inspect(path)?;
        let media_type = match found {
            Some(kind) if self.types.is_empty() || self.types.contains(&kind) => Some(kind),
            None if self.types.is_empty() => None,
            Some(found) => {
                return Err(FileProblem::WrongType {
                    path: path.to_owned(),
                    found,
                    accepted: self.types.to_vec(),
                });
            }
            None => {
                return Err(FileProblem::Unrecognised {
                    accepted: self.types.to_vec(),
                });
            }
        };
        if size > self.max_bytes {
            return Err(FileProblem::TooLarge {
                size,
                max: self.max_bytes,
            });
        }
        Ok(CheckedFile {
            path: path.to_owned(),
            size,
            media_type,
        })
    }
}

fn read_head(file: &mut std::fs::File, head: &mut [u8]) -> std::io::Result<usize> {
    let mut read = 0;
    while read < head.len() {
        match file.read(&mut head[read..])? {
            0 => break,
            n => read += n,
        }
    }
    Ok(read)
}

/// " (named .png)" when the extension claims another format.
fn misnamed(path: &Path, kind: MediaType) -> String {
    match path.extension().and_then(|e| e.to_str()) {
        Some(ext) if !kind.has_extension(ext) => format!(" (named .{ext})"),
        _ => String::new(),
    }
}

/// Where an input file comes from: a URL the service can fetch, or a local file that
/// [`Client::submit`](crate::Client::submit) uploads first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaSource {
    /// A URL (validated as an absolute http(s) URL).
    Url(String),
    /// A local file.
    File(PathBuf),
}

impl MediaSource {
    /// The local file, if this is one.
    pub fn file(&self) -> Option<&Path> {
        match self {
            MediaSource::File(path) => Some(path),
            MediaSource::Url(_) => None,
        }
    }
}

impl From<&str> for MediaSource {
    /// Text with a URL scheme (`https://…`, also `ftp:`, `data:`) is a URL; anything else,
    /// including Windows paths such as `C:\photos\a.png`, is a local path.
    fn from(text: &str) -> Self {
        match url::Url::parse(text) {
            Ok(url) if url.scheme().len() > 1 => MediaSource::Url(text.to_owned()),
            _ => MediaSource::File(PathBuf::from(text)),
        }
    }
}

impl From<String> for MediaSource {
    fn from(text: String) -> Self {
        MediaSource::from(text.as_str())
    }
}

impl From<PathBuf> for MediaSource {
    fn from(path: PathBuf) -> Self {
        MediaSource::File(path)
    }
}

impl From<&Path> for MediaSource {
    fn from(path: &Path) -> Self {
        MediaSource::File(path.to_owned())
    }
}

impl From<url::Url> for MediaSource {
    fn from(url: url::Url) -> Self {
        MediaSource::Url(url.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IMAGES: FileRules =
        FileRules::new(100, &[MediaType::Jpeg, MediaType::Png, MediaType::Webp]);

    #[test]
    fn formats_are_told_by_content() {
        assert_eq!(
            MediaType::sniff(b"\xFF\xD8\xFF\xE0rest"),
            Some(MediaType::Jpeg)
        );
        assert_eq!(
            MediaType::sniff(b"\x89PNG\r\n\x1a\n...."),
            Some(MediaType::Png)
        );
        assert_eq!(
            MediaType::sniff(b"RIFF\x10\0\0\0WEBPVP8 "),
            Some(MediaType::Webp)
        );
        assert_eq!(MediaType::sniff(b"GIF89a......"), Some(MediaType::Gif));
        assert_eq!(
            MediaType::sniff(b"\0\0\0\x18ftypmp42"),
            Some(MediaType::Mp4)
        );
        assert_eq!(MediaType::sniff(b"hello"), None);
        for (head, kind) in [
            (&b"\0\0\0\x14ftypqt  \0\0\0\0"[..], MediaType::Mov),
            (b"\0\0\0\x08wide\0\0\0\0mdat", MediaType::Mov),
            (
                b"\x1A\x45\xDF\xA3\x9F\x42\x86\x81\x01\x42\x82\x84webm",
                MediaType::Webm,
            ),
            (b"ID3\x04\0\0\0\0\0\0", MediaType::Mp3),
            (b"\xFF\xFB\x90\x64\0\0", MediaType::Mp3),
            (b"RIFF\x24\0\0\0WAVEfmt ", MediaType::Wav),
            (b"\xFF\xF1\x50\x80\x02\x1F", MediaType::Aac),
            (b"\0\0\0\x20ftypM4A \0\0\0\0", MediaType::M4a),
            (b"OggS\0\x02\0\0", MediaType::Ogg),
            (b"fLaC\0\0\0\x22", MediaType::Flac),
        ] {
            assert_eq!(MediaType::sniff(head), Some(kind), "{kind}");
            assert_eq!(Content::sniff(head), Ok(Content::Media(kind)), "{kind}");
        }
        // A Matroska file that is not WebM is not told apart.
        assert_eq!(
            MediaType::sniff(b"\x1A\x45\xDF\xA3\x9F\x42\x86matroska"),
            None
        );
        // What a broken link serves is never a result; other binary formats are kept.
        assert_eq!(Content::sniff(b"  <!doctype HTML>"), Err(NotMedia::Html));
        assert_eq!(
            Content::sniff(b"<?xml version='1.0'?><html/>"),
            Err(NotMedia::Html)
        );
        assert_eq!(
            Content::sniff(b"<Error><Code>403</Code></Error>"),
            Err(NotMedia::Xml)
        );
        assert_eq!(Content::sniff(b"[1, 2]"), Err(NotMedia::Json));
        assert_eq!(
            Content::sniff("Доступ запрещён".as_bytes()),
            Err(NotMedia::Text)
        );
        assert_eq!(Content::sniff(b" \r\n"), Err(NotMedia::Empty));
        assert_eq!(Content::sniff(b"glTF\x02\0\0\0"), Ok(Content::Other));
    }

    #[test]
    fn mime_types_and_extensions_name_formats() {
        assert_eq!(MediaType::from_mime("audio/mpeg"), Some(MediaType::Mp3));
        assert_eq!(MediaType::from_mime("audio/x-wav"), Some(MediaType::Wav));
        assert_eq!(
            MediaType::from_mime("Video/QuickTime"),
            Some(MediaType::Mov)
        );
        assert_eq!(MediaType::from_mime("image/jpg"), Some(MediaType::Jpeg));
        assert_eq!(MediaType::from_mime("text/html"), None);
        assert_eq!(MediaType::from_extension("JPG"), Some(MediaType::Jpeg));
        assert_eq!(MediaType::from_extension("mov"), Some(MediaType::Mov));
        assert_eq!(MediaType::from_extension("bin"), None);
        assert_eq!(MediaType::of_medium(Medium::Audio).len(), 6);
    }

    #[test]
    fn files_are_checked_by_content_and_size() {
        let dir = std::env::temp_dir().join(format!("apikley-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, bytes: &[u8]| {
            let path = dir.join(name);
            std::fs::write(&path, bytes).unwrap();
            path
        };
        let png = write("ok.png", b"\x89PNG\r\n\x1a\n0123456789");
        assert_eq!(IMAGES.check(&png).unwrap().media_type, Some(MediaType::Png));
        let problem = |path: &Path| IMAGES.check(path).unwrap_err().to_string();
        let gif = write("fake.png", b"GIF89a0123456789");
        assert_eq!(
            problem(&gif),
            "is a GIF file (named .png); accepted: JPEG, PNG, WebP"
        );
        let big = write("big.jpg", &[&b"\xFF\xD8\xFF"[..], &[0u8; 120]].concat());
        assert_eq!(
            problem(&big),
            "is 123 bytes, more than the 100 bytes allowed"
        );
        assert!(problem(&dir.join("missing.png")).starts_with("cannot be read"));
        assert_eq!(problem(&dir), "is not a file");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn sources_tell_urls_from_paths() {
        assert_eq!(
            MediaSource::from("https://x/a.png"),
            MediaSource::Url("https://x/a.png".into())
        );
        assert_eq!(
            MediaSource::from("ftp://x/a.png"),
            MediaSource::Url("ftp://x/a.png".into())
        );
        assert_eq!(
            MediaSource::from("photos/a.png"),
            MediaSource::File("photos/a.png".into())
        );
        assert_eq!(
            MediaSource::from("C:\\photos\\a.png"),
            MediaSource::File("C:\\photos\\a.png".into())
        );
        assert_eq!(
            MediaSource::from("/tmp/a.png").file(),
            Some(Path::new("/tmp/a.png"))
        );
    }
}
