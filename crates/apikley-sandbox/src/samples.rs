//! The files the sandbox's tasks produce: one small real sample per format it can make.

use apikley::MediaType;

/// The video every successful task of a video model produces: 2 s, 160×90, H.264 and AAC in
/// MP4 (11 KB).
pub const SAMPLE_VIDEO: &[u8] = include_bytes!("../fixtures/sample.mp4");

/// The image every successful task of an image model produces: a 64×36 PNG.
pub const SAMPLE_IMAGE: &[u8] = include_bytes!("../fixtures/sample.png");

/// The same image as a JPEG, for requests that ask for one (`output_format: jpg`).
pub const SAMPLE_JPEG: &[u8] = include_bytes!("../fixtures/sample.jpg");

/// The same image as a WebP.
pub const SAMPLE_WEBP: &[u8] = include_bytes!("../fixtures/sample.webp");

/// The sound every successful task of an audio model produces: 1 s of a 440 Hz tone, WAV.
pub const SAMPLE_AUDIO: &[u8] = include_bytes!("../fixtures/sample.wav");

/// The sample a task asked to produce `wanted` serves: the nearest the sandbox has (same
/// medium), and the format it really is.
pub fn sample(wanted: MediaType) -> (&'static [u8], MediaType) {
    match (wanted, wanted.medium()) {
        (MediaType::Jpeg, _) => (SAMPLE_JPEG, MediaType::Jpeg),
        (MediaType::Webp, _) => (SAMPLE_WEBP, MediaType::Webp),
        (_, apikley::Medium::Image) => (SAMPLE_IMAGE, MediaType::Png),
        (_, apikley::Medium::Audio) => (SAMPLE_AUDIO, MediaType::Wav),
        _ => (SAMPLE_VIDEO, MediaType::Mp4),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use apikley::{Content, Medium};

    #[test]
    fn every_format_gets_a_real_sample_of_its_medium() {
        for wanted in [
            MediaType::Png,
            MediaType::Jpeg,
            MediaType::Webp,
            MediaType::Gif,
            MediaType::Mp4,
            MediaType::Mov,
            MediaType::Mp3,
            MediaType::Wav,
        ] {
            let (bytes, served) = sample(wanted);
            assert_eq!(
                Content::sniff(bytes),
                Ok(Content::Media(served)),
                "{wanted}"
            );
            assert_eq!(served.medium(), wanted.medium(), "{wanted}");
        }
        assert_eq!(sample(MediaType::Jpeg).1, MediaType::Jpeg);
        assert_eq!(sample(MediaType::Webp).1, MediaType::Webp);
        assert_eq!(sample(MediaType::Flac).1.medium(), Medium::Audio);
    }
}
