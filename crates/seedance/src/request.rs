//! The Seedance 1.5 Pro request, with friendly names. Every rule is the spec's: the request
//! becomes an [`apikley::Request`], which the model's vendored document checks.

use std::fmt;
use std::str::FromStr;

use apikley::{MediaSource, Request, Violation, Violations};
use seedance_raw::types as raw;

/// The Seedance 1.5 Pro model: `bytedance/seedance-1.5-pro`, generated from its spec.
pub type Seedance15Pro = seedance_raw::Model;

/// A value that is not one of a setting's accepted values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    setting: &'static str,
    value: String,
    accepted: String,
}

impl ParseError {
    /// The same problem as a request [`Violation`] of `field`.
    pub fn violation(&self, field: &str) -> Violation {
        Violation::new(
            field,
            format!("must be one of {}", self.accepted),
            format!("{:?}", self.value),
        )
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown {} {:?}: expected one of {}",
            self.setting, self.value, self.accepted
        )
    }
}

impl std::error::Error for ParseError {}

/// Friendly names for a spec enum: `Display`/`FromStr` use the spec's values, and the
/// conversion to the generated type is an exhaustive match.
macro_rules! spec_enum {
    (
        $(#[$doc:meta])* $name:ident => $raw:ty, $setting:literal {
            $($(#[$vdoc:meta])* $variant:ident => $raw_variant:ident,)*
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
        }

        impl $name {
            /// Every value, in the spec's order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];
        }

        impl From<$name> for $raw {
            fn from(value: $name) -> Self {
                match value {
                    $($name::$variant => <$raw>::$raw_variant,)*
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                <$raw>::from(*self).fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = ParseError;

            fn from_str(value: &str) -> Result<Self, ParseError> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.to_string() == value.trim())
                    .ok_or_else(|| ParseError {
                        setting: $setting,
                        value: value.to_owned(),
                        accepted: $name::ALL.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
                    })
            }
        }
    };
}

spec_enum! {
    /// The video's aspect ratio (`input.aspect_ratio`; default 1:1).
    AspectRatio => raw::BytedanceSeedance15ProBodyInputAspectRatio, "aspect ratio" {
        /// 1:1
        Square1x1 => X11,
        /// 4:3
        Landscape4x3 => X43,
        /// 3:4
        Portrait3x4 => X34,
        /// 16:9
        Landscape16x9 => X169,
        /// 9:16
        Portrait9x16 => X916,
        /// 21:9
        Ultrawide21x9 => X219,
    }
}

spec_enum! {
    /// The video's resolution (`input.resolution`; default 720p): 480p is faster, 720p looks better.
    Resolution => raw::BytedanceSeedance15ProBodyInputResolution, "resolution" {
        /// 480p
        P480 => X480p,
        /// 720p
        P720 => X720p,
    }
}

/// The video's length (`input.duration`; default 8 s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VideoLength {
    /// 4 seconds.
    Seconds4,
    /// 8 seconds.
    Seconds8,
    /// 12 seconds.
    Seconds12,
}

impl VideoLength {
    /// Every value.
    pub const ALL: &'static [VideoLength] = &[
        VideoLength::Seconds4,
        VideoLength::Seconds8,
        VideoLength::Seconds12,
    ];

    /// The length in seconds.
    pub fn seconds(self) -> u32 {
        match self {
            VideoLength::Seconds4 => 4,
            VideoLength::Seconds8 => 8,
            VideoLength::Seconds12 => 12,
        }
    }

    /// The length for a number of seconds, if the model offers it.
    pub fn from_secs(seconds: u64) -> Result<Self, ParseError> {
        VideoLength::ALL
            .iter()
            .copied()
            .find(|d| u64::from(d.seconds()) == seconds)
            .ok_or_else(|| ParseError {
                setting: "duration",
                value: seconds.to_string(),
                accepted: "4, 8, 12 (seconds)".into(),
            })
    }
}

impl fmt::Display for VideoLength {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}s", self.seconds())
    }
}

impl FromStr for VideoLength {
    type Err = ParseError;

    /// Reads `8` or `8s`.
    fn from_str(value: &str) -> Result<Self, ParseError> {
        let trimmed = value.trim();
        let number = trimmed.strip_suffix('s').unwrap_or(trimmed);
        match number.parse::<u64>() {
            Ok(seconds) => VideoLength::from_secs(seconds),
            Err(_) => Err(ParseError {
                setting: "duration",
                value: value.to_owned(),
                accepted: "4, 8, 12 (seconds)".into(),
            }),
        }
    }
}

/// A Seedance 1.5 Pro video request. Unset options take the spec's defaults (1:1, 720p, 8 s,
/// moving camera, no audio). It becomes an [`apikley::Request`]: the model's spec checks it.
///
/// ```
/// use seedance::{AspectRatio, VideoLength, VideoRequest};
///
/// let request = VideoRequest::new("A serene beach at sunset")
///     .aspect_ratio(AspectRatio::Landscape16x9)
///     .duration(VideoLength::Seconds12)
///     .image_url("https://example.com/beach.png")
///     .generate_audio(true);
/// assert!(request.validate().is_ok());
///
/// let problems = VideoRequest::new("Hi").callback_url("not a url").validate().unwrap_err();
/// assert_eq!(problems.fields(), ["callBackUrl", "input.prompt"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct VideoRequest {
    prompt: String,
    aspect_ratio: Option<AspectRatio>,
    resolution: Option<Resolution>,
    duration: Option<VideoLength>,
    fixed_lens: Option<bool>,
    generate_audio: Option<bool>,
    images: Vec<MediaSource>,
    callback_url: Option<String>,
}

impl VideoRequest {
    /// A text-to-video request.
    pub fn new(prompt: impl Into<String>) -> Self {
        VideoRequest {
            prompt: prompt.into(),
            aspect_ratio: None,
            resolution: None,
            duration: None,
            fixed_lens: None,
            generate_audio: None,
            images: Vec::new(),
            callback_url: None,
        }
    }

    /// The aspect ratio.
    pub fn aspect_ratio(mut self, ratio: AspectRatio) -> Self {
        self.aspect_ratio = Some(ratio);
        self
    }

    /// The resolution.
    pub fn resolution(mut self, resolution: Resolution) -> Self {
        self.resolution = Some(resolution);
        self
    }

    /// The length.
    pub fn duration(mut self, length: VideoLength) -> Self {
        self.duration = Some(length);
        self
    }

    /// Locks the camera for a static shot (default: dynamic camera movement).
    pub fn fixed_lens(mut self, fixed: bool) -> Self {
        self.fixed_lens = Some(fixed);
        self
    }

    /// Generates audio too (costs more).
    pub fn generate_audio(mut self, audio: bool) -> Self {
        self.generate_audio = Some(audio);
        self
    }

    /// Adds an input image for image-to-video: a URL, or a local file that `submit` uploads
    /// first (the spec states how many images and which files it takes).
    ///
    /// Text with a URL scheme is a URL; anything else is a path (see [`MediaSource`]).
    pub fn image(mut self, image: impl Into<MediaSource>) -> Self {
        self.images.push(image.into());
        self
    }

    /// Adds an input image by URL.
    pub fn image_url(mut self, url: impl Into<String>) -> Self {
        self.images.push(MediaSource::Url(url.into()));
        self
    }

    /// Where Apikley POSTs the result when the task ends (an absolute http(s) URL).
    pub fn callback_url(mut self, url: impl Into<String>) -> Self {
        self.callback_url = Some(url.into());
        self
    }

    /// The prompt.
    pub fn prompt(&self) -> &str {
        &self.prompt
    }

    /// The input images.
    pub fn images(&self) -> &[MediaSource] {
        &self.images
    }

    /// Checks every rule of the spec, and the local images; lists every problem at once.
    pub fn validate(&self) -> Result<(), Violations> {
        Request::from(self.clone()).violations().into_result()
    }
}

impl From<VideoRequest> for Request {
    fn from(video: VideoRequest) -> Self {
        let mut request = Request::of::<Seedance15Pro>().with_input("prompt", video.prompt);
        if let Some(ratio) = video.aspect_ratio {
            request = request.with_input("aspect_ratio", ratio.to_string());
        }
        if let Some(resolution) = video.resolution {
            request = request.with_input("resolution", resolution.to_string());
        }
        if let Some(length) = video.duration {
            request = request.with_input("duration", length.seconds());
        }
        if let Some(fixed) = video.fixed_lens {
            request = request.with_input("fixed_lens", fixed);
        }
        if let Some(audio) = video.generate_audio {
            request = request.with_input("generate_audio", audio);
        }
        for image in video.images {
            request = request.with_file("input_urls", image);
        }
        if let Some(url) = video.callback_url {
            request = request.with_callback_url(url);
        }
        request
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(request: VideoRequest) -> serde_json::Value {
        let request = Request::from(request);
        assert!(request.violations().is_empty(), "{}", request.violations());
        // Through the generated type: the body as sent.
        let typed: raw::BytedanceSeedance15ProBody =
            serde_json::from_value(request.body()).expect("fits");
        serde_json::to_value(typed).expect("serializes")
    }

    #[test]
    fn names_read_and_print_as_the_spec_values() {
        assert_eq!(AspectRatio::Landscape16x9.to_string(), "16:9");
        assert_eq!(
            "21:9".parse::<AspectRatio>(),
            Ok(AspectRatio::Ultrawide21x9)
        );
        assert_eq!(Resolution::P480.to_string(), "480p");
        assert_eq!("8s".parse::<VideoLength>(), Ok(VideoLength::Seconds8));
        assert_eq!("12".parse::<VideoLength>(), Ok(VideoLength::Seconds12));
        let error = "5:4".parse::<AspectRatio>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown aspect ratio \"5:4\": expected one of 1:1, 4:3, 3:4, 16:9, 9:16, 21:9"
        );
        assert!(VideoLength::from_secs(5).is_err());
    }

    #[test]
    fn the_body_takes_the_spec_defaults_for_unset_options() {
        let spec = apikley::ModelSpec::of::<Seedance15Pro>().expect("spec");
        let mut input = serde_json::Map::new();
        input.insert("prompt".into(), "A serene beach".into());
        for field in spec.inputs() {
            if let Some(default) = field.default() {
                input.insert(field.name().to_owned(), default.clone());
            }
        }
        assert_eq!(
            body(VideoRequest::new("A serene beach")),
            serde_json::json!({"model": "bytedance/seedance-1.5-pro", "input": input})
        );
        let input = serde_json::json!({"prompt": "A serene beach"});
        assert_eq!(spec.workload(&input), "8s 720p");
        assert_eq!(
            spec.expected_duration(&input),
            Some(std::time::Duration::from_secs_f64(88.2))
        );
    }

    #[test]
    fn every_option_reaches_the_body() {
        let request = VideoRequest::new("A serene beach")
            .aspect_ratio(AspectRatio::Portrait9x16)
            .resolution(Resolution::P480)
            .duration(VideoLength::Seconds4)
            .fixed_lens(true)
            .generate_audio(true)
            .image_url("https://example.com/a.png")
            .callback_url("https://example.com/hook");
        assert_eq!(
            serde_json::to_value(Request::from(request).inputs()).expect("JSON"),
            serde_json::json!({
                "prompt": "A serene beach", "aspect_ratio": "9:16", "resolution": "480p",
                "duration": 4, "fixed_lens": true, "generate_audio": true,
                "input_urls": ["https://example.com/a.png"]
            })
        );
    }
}
