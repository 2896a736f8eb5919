//! File formats and media: what a model's input files and results are, told by content, by
//! MIME type or by extension.

use std::fmt;

/// A file format, told from the file's first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
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
    /// QuickTime (MOV) video.
    Mov,
    /// WebM video.
    Webm,
    /// MP3 audio.
    Mp3,
    /// WAV audio.
    Wav,
    /// AAC audio (ADTS stream).
    Aac,
    /// M4A audio (AAC in an ISO base media file).
    M4a,
    /// Ogg audio.
    Ogg,
    /// FLAC audio.
    Flac,
}

/// Every format told apart here.
const ALL: [MediaType; 14] = [
    MediaType::Jpeg,
    MediaType::Png,
    MediaType::Webp,
    MediaType::Gif,
    MediaType::Bmp,
    MediaType::Mp4,
    MediaType::Mov,
    MediaType::Webm,
    MediaType::Mp3,
    MediaType::Wav,
    MediaType::Aac,
    MediaType::M4a,
    MediaType::Ogg,
    MediaType::Flac,
];

/// What kind of medium a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Medium {
    /// A still image.
    Image,
    /// A video.
    Video,
    /// Sound.
    Audio,
}

impl fmt::Display for Medium {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Medium::Image => "image",
            Medium::Video => "video",
            Medium::Audio => "audio",
        })
    }
}

impl MediaType {
    /// The format of a file starting with `head` (its first 64 bytes suffice), if known.
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
                b'A',
                b'V',
                b'E',
                ..,
            ] => Some(MediaType::Wav),
            [b'G', b'I', b'F', b'8', b'7' | b'9', b'a', ..] => Some(MediaType::Gif),
            [b'B', b'M', _, _, _, _, 0, 0, 0, 0, ..] => Some(MediaType::Bmp),
            [_, _, _, _, b'f', b't', b'y', b'p', brand @ ..] => Some(match brand {
                [b'q', b't', b' ', b' ', ..] => MediaType::Mov,
                [b'M', b'4', b'A' | b'B', ..] => MediaType::M4a,
                _ => MediaType::Mp4,
            }),
            // QuickTime files that start with another atom.
            [_, _, _, _, b'm', b'o', b'o', b'v' | b'd', ..]
            | [_, _, _, _, b'w', b'i', b'd', b'e', ..] => Some(MediaType::Mov),
            // EBML; WebM names its doc type near the start.
            [0x1A, 0x45, 0xDF, 0xA3, rest @ ..] => rest
                .windows(4)
                .any(|w| w == b"webm")
                .then_some(MediaType::Webm),
            [b'I', b'D', b'3', ..] => Some(MediaType::Mp3),
            [b'O', b'g', b'g', b'S', ..] => Some(MediaType::Ogg),
            [b'f', b'L', b'a', b'C', ..] => Some(MediaType::Flac),
            // ADTS (AAC): sync word, layer 0.
            [0xFF, second, ..] if second & 0xF6 == 0xF0 => Some(MediaType::Aac),
            // An MPEG audio frame: sync word, a layer other than the reserved one.
            [0xFF, second, ..] if second & 0xE0 == 0xE0 && second & 0x06 != 0 => {
                Some(MediaType::Mp3)
            }
            _ => None,
        }
    }

    /// The format of a MIME type (`image/png`, `audio/mpeg`), if it is one told apart here.
    pub fn from_mime(mime: &str) -> Option<Self> {
        let mime = mime
            .trim()
            .trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '/')
            .to_ascii_lowercase();
        let alias = match mime.as_str() {
            "image/jpg" | "image/pjpeg" => Some(MediaType::Jpeg),
            "audio/mp3" | "audio/mpeg3" => Some(MediaType::Mp3),
            "audio/x-wav" | "audio/wave" | "audio/vnd.wave" => Some(MediaType::Wav),
            "audio/x-aac" | "audio/aacp" => Some(MediaType::Aac),
            "audio/mp4" | "audio/x-m4a" | "audio/m4a" => Some(MediaType::M4a),
            "audio/x-flac" => Some(MediaType::Flac),
            "audio/x-ogg" | "application/ogg" => Some(MediaType::Ogg),
            "image/x-ms-bmp" => Some(MediaType::Bmp),
            _ => None,
        };
        alias.or_else(|| ALL.into_iter().find(|t| t.mime() == mime))
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
            MediaType::Mov => "video/quicktime",
            MediaType::Webm => "video/webm",
            MediaType::Mp3 => "audio/mpeg",
            MediaType::Wav => "audio/wav",
            MediaType::Aac => "audio/aac",
            MediaType::M4a => "audio/mp4",
            MediaType::Ogg => "audio/ogg",
            MediaType::Flac => "audio/flac",
        }
    }

    /// What kind of medium it is.
    pub fn medium(self) -> Medium {
        match self {
            MediaType::Jpeg
            | MediaType::Png
            | MediaType::Webp
            | MediaType::Gif
            | MediaType::Bmp => Medium::Image,
            MediaType::Mp4 | MediaType::Mov | MediaType::Webm => Medium::Video,
            MediaType::Mp3
            | MediaType::Wav
            | MediaType::Aac
            | MediaType::M4a
            | MediaType::Ogg
            | MediaType::Flac => Medium::Audio,
        }
    }

    /// Every format of a medium told apart here.
    pub fn of_medium(medium: Medium) -> Vec<MediaType> {
        ALL.into_iter().filter(|t| t.medium() == medium).collect()
    }

    /// The usual file extension (without the dot).
    pub fn extension(self) -> &'static str {
        self.extensions()[0]
    }

    /// Whether `extension` (without the dot, any case) names this format.
    pub fn has_extension(self, extension: &str) -> bool {
        self.extensions()
            .contains(&extension.to_ascii_lowercase().as_str())
    }

    /// The format an extension names (`jpg`, `MP4`), if it is one told apart here.
    pub fn from_extension(extension: &str) -> Option<Self> {
        ALL.into_iter().find(|t| t.has_extension(extension))
    }

    fn extensions(self) -> &'static [&'static str] {
        match self {
            MediaType::Jpeg => &["jpg", "jpeg"],
            MediaType::Png => &["png"],
            MediaType::Webp => &["webp"],
            MediaType::Gif => &["gif"],
            MediaType::Bmp => &["bmp"],
            MediaType::Mp4 => &["mp4", "m4v"],
            MediaType::Mov => &["mov", "qt"],
            MediaType::Webm => &["webm"],
            MediaType::Mp3 => &["mp3"],
            MediaType::Wav => &["wav"],
            MediaType::Aac => &["aac"],
            MediaType::M4a => &["m4a"],
            MediaType::Ogg => &["ogg", "oga", "opus"],
            MediaType::Flac => &["flac"],
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
            MediaType::Mov => "MOV",
            MediaType::Webm => "WebM",
            MediaType::Mp3 => "MP3",
            MediaType::Wav => "WAV",
            MediaType::Aac => "AAC",
            MediaType::M4a => "M4A",
            MediaType::Ogg => "Ogg",
            MediaType::Flac => "FLAC",
        })
    }
}
