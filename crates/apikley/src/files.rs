//! Local input files: what they are (by content), and whether a model accepts them.

use std::borrow::Cow;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

/// A file format, told from the file's first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaType {
    /// JPEG image.
    Jpeg,
    /// PNG image.
    Png,
    /// WebP image.
    Webp,
    /// GIF image.
    Gif,
    /// BMP image.
    Bmp,
    /// MP4 (ISO base media) video.
    Mp4,
}

impl MediaType {
    /// The format of a file starting with `head` (its first 16 bytes suffice), if known.
    pub fn sniff(head: &[u8]) -> Option<Self> {
        match head {
            [0xFF, 0xD8, 0xFF, ..] => Some(MediaType::Jpeg),
            [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, ..] => Some(MediaType::Png),
            [
                b'R',
                b'I',
                b'F',
                b'F',
                _,
                _,
                _,
                _,
                b'W',
                b'E',
                b'B',
                b'P',
                ..,
            ] => Some(MediaType::Webp),
            [b'G', b'I', b'F', b'8', b'7' | b'9', b'a', ..] => Some(MediaType::Gif),
            [b'B', b'M', ..] => Some(MediaType::Bmp),
            [_, _, _, _, b'f', b't', b'y', b'p', ..] => Some(MediaType::Mp4),
            _ => None,
        }
    }

    /// The format of a MIME type (`image/png`), if it is one told apart here.
    pub fn from_mime(mime: &str) -> Option<Self> {
        let mime = mime
            .trim()
            .trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '/');
        [
            MediaType::Jpeg,
            MediaType::Png,
            MediaType::Webp,
            MediaType::Gif,
            MediaType::Bmp,
            MediaType::Mp4,
        ]
        .into_iter()
        .find(|t| {
            t.mime().eq_ignore_ascii_case(mime) || (mime == "image/jpg" && *t == MediaType::Jpeg)
        })
    }

    /// The MIME type.
    pub fn mime(self) -> &'static str {
        match self {
            MediaType::Jpeg => "image/jpeg",
            MediaType::Png => "image/png",
            MediaType::Webp => "image/webp",
            MediaType::Gif => "image/gif",
            MediaType::Bmp => "image/bmp",
            MediaType::Mp4 => "video/mp4",
        }
    }

    fn extensions(self) -> &'static [&'static str] {
        match self {
            MediaType::Jpeg => &["jpg", "jpeg"],
            MediaType::Png => &["png"],
            MediaType::Webp => &["webp"],
            MediaType::Gif => &["gif"],
            MediaType::Bmp => &["bmp"],
            MediaType::Mp4 => &["mp4", "m4v", "mov"],
        }
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MediaType::Jpeg => "JPEG",
            MediaType::Png => "PNG",
            MediaType::Webp => "WebP",
            MediaType::Gif => "GIF",
            MediaType::Bmp => "BMP",
            MediaType::Mp4 => "MP4",
        })
    }
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
    let mut head = [0u8; 16];
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
        Some(ext)
            if !kind
                .extensions()
                .contains(&ext.to_ascii_lowercase().as_str()) =>
        {
            format!(" (named .{ext})")
        }
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
