//! The Seedance 1.5 Pro request, with friendly names and validation.

use std::fmt;
use std::str::FromStr;

use apikley::{
    Endpoint, FileRules, MediaSource, MediaType, Model, TaskRequest, Violation, Violations,
};
use seedance_raw::types as raw;

/// How many input images the model accepts (the spec's `input_urls.maxItems`, which the
/// generated types do not enforce).
pub const MAX_IMAGES: usize = 2;

/// What the model accepts as an input image (the spec's `input_urls` description: "Accepted
/// types: image/jpeg, image/png, image/webp; Max size per image: 10.0MB"), checked by content
/// before anything is uploaded. 10 MB is read as 10,000,000 bytes, the stricter reading.
pub const IMAGE_RULES: FileRules = FileRules::new(
    10_000_000,
    &[MediaType::Jpeg, MediaType::Png, MediaType::Webp],
);

/// The Seedance 1.5 Pro model: `bytedance/seedance-1.5-pro`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seedance15Pro;

impl Model for Seedance15Pro {
    const ID: &'static str = "bytedance/seedance-1.5-pro";
    const CREATE_TASK: Endpoint = {
        use seedance_raw::operations::bytedance_seedance_1_5_pro as create;
        Endpoint {
            method: create::METHOD,
            path: create::PATH,
        }
    };
    type Body = raw::BytedanceSeedance15ProBody;

    /// A rough prior until real timings are learned: longer videos, higher resolution and audio
    /// take longer (about 1.5 minutes for 8 s at 720p).
    fn expected_duration(body: &Self::Body) -> Option<std::time::Duration> {
        let input = body.input.as_ref()?;
        let seconds = 15.0 + 6.0 * (*input.duration as f64);
        let resolution = match input.resolution {
            raw::BytedanceSeedance15ProBodyInputResolution::X480p => 1.0,
            raw::BytedanceSeedance15ProBodyInputResolution::X720p => 1.4,
        };
        let audio = if input.generate_audio { 1.2 } else { 1.0 };
        Some(std::time::Duration::from_secs_f64(
            seconds * resolution * audio,
        ))
    }

    /// `input_urls` holds at most [`MAX_IMAGES`] absolute http(s) URLs, and `callBackUrl` is
    /// one: the spec's `maxItems` and `format: uri`, which the generated types do not enforce.
    fn check(body: &Self::Body) -> Violations {
        let mut violations = Violations::new();
        violations.extend(body.call_back_url.as_deref().and_then(callback_violation));
        let urls = body
            .input
            .as_ref()
            .map_or(&[][..], |i| i.input_urls.as_slice());
        violations.extend(image_count_violation(urls.len()));
        for (i, url) in urls.iter().enumerate() {
            violations.extend(image_url_violation(i, url));
        }
        violations
    }

    fn workload(body: &Self::Body) -> String {
        body.input.as_ref().map_or_else(String::new, |input| {
            format!(
                "{}s {}{}",
                *input.duration,
                input.resolution,
                if input.generate_audio { " audio" } else { "" }
            )
        })
    }
}

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

    /// The duration for a number of seconds, if the model offers it.
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
/// moving camera, no audio).
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
    /// A text-to-video request. The prompt must be 3 to 2500 characters.
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
    pub fn duration(mut self, duration: VideoLength) -> Self {
        self.duration = Some(duration);
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

    /// Adds an input image for image-to-video (at most two; JPEG, PNG or WebP, up to 10 MB
    /// each): a URL, or a local file that `submit` uploads first.
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

    /// Checks every rule of the spec; lists every problem at once.
    pub fn validate(&self) -> Result<(), Violations> {
        self.violations().into_result()
    }
}

// The rules the request and the body share (the body is checked again in `Model::check`).

fn callback_violation(url: &str) -> Option<Violation> {
    check_http_url(url)
        .err()
        .map(|rule| Violation::new("callBackUrl", rule, format!("{url:?}")))
}

fn image_count_violation(count: usize) -> Option<Violation> {
    (count > MAX_IMAGES).then(|| {
        Violation::new(
            "input.input_urls",
            format!("accepts at most {MAX_IMAGES} images"),
            format!("{count} images"),
        )
    })
}

fn image_url_violation(index: usize, url: &str) -> Option<Violation> {
    check_http_url(url).err().map(|rule| {
        Violation::new(
            format!("input.input_urls[{index}]"),
            rule,
            format!("{url:?}"),
        )
    })
}

fn check_http_url(text: &str) -> Result<(), String> {
    match url::Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => Ok(()),
        Ok(url) => Err(format!(
            "must be an absolute http(s) URL, not {}",
            url.scheme()
        )),
        Err(e) => Err(format!("must be an absolute http(s) URL ({e})")),
    }
}

impl TaskRequest for VideoRequest {
    type Model = Seedance15Pro;

    fn violations(&self) -> Violations {
        let mut violations = Violations::new();
        violations.extend(self.callback_url.as_deref().and_then(callback_violation));
        // The generated type holds the spec's bounds, counted in characters.
        if let Err(e) = raw::BytedanceSeedance15ProBodyInputPrompt::try_from(self.prompt.as_str()) {
            violations.push(Violation::new(
                "input.prompt",
                format!("is {e}"),
                format!(
                    "{} characters: {:?}",
                    self.prompt.chars().count(),
                    self.prompt
                ),
            ));
        }
        violations.extend(image_count_violation(self.images.len()));
        for (i, image) in self.images.iter().enumerate() {
            match image {
                MediaSource::Url(url) => violations.extend(image_url_violation(i, url)),
                MediaSource::File(path) => {
                    if let Err(problem) = IMAGE_RULES.check(path) {
                        violations.push(Violation::new(
                            format!("input.input_urls[{i}]"),
                            format!("file {problem}"),
                            path.display(),
                        ));
                    }
                }
            }
        }
        violations
    }

    fn local_files_mut(&mut self) -> Vec<&mut MediaSource> {
        self.images
            .iter_mut()
            .filter(|i| i.file().is_some())
            .collect()
    }

    fn into_body(self) -> Result<raw::BytedanceSeedance15ProBody, Violations> {
        let conversion = |field: &str, error: raw::error::ConversionError| {
            let mut violations = Violations::new();
            violations.push(Violation::new(
                field,
                "does not convert to the spec's type",
                error,
            ));
            violations
        };
        let mut input = raw::BytedanceSeedance15ProBodyInput::builder()
            .prompt(self.prompt)
            .aspect_ratio(raw::BytedanceSeedance15ProBodyInputAspectRatio::from(
                self.aspect_ratio.unwrap_or(AspectRatio::Square1x1),
            ))
            .input_urls(
                self.images
                    .into_iter()
                    .map(|image| match image {
                        MediaSource::Url(url) => Ok(url),
                        MediaSource::File(path) => Err(path),
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|path| {
                        let mut violations = Violations::new();
                        violations.push(Violation::new(
                            "input.input_urls",
                            "must be uploaded first (Client::submit does this)",
                            path.display(),
                        ));
                        violations
                    })?,
            );
        if let Some(resolution) = self.resolution {
            input = input.resolution(raw::BytedanceSeedance15ProBodyInputResolution::from(
                resolution,
            ));
        }
        if let Some(duration) = self.duration {
            input = input.duration(i64::from(duration.seconds()));
        }
        if let Some(fixed) = self.fixed_lens {
            input = input.fixed_lens(fixed);
        }
        if let Some(audio) = self.generate_audio {
            input = input.generate_audio(audio);
        }
        let input = raw::BytedanceSeedance15ProBodyInput::try_from(input)
            .map_err(|e| conversion("input", e))?;
        raw::BytedanceSeedance15ProBody::builder()
            .model(raw::BytedanceSeedance15ProBodyModel::BytedanceSeedance15Pro)
            .call_back_url(self.callback_url)
            .input(Some(input))
            .try_into()
            .map_err(|e| conversion("body", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let body = VideoRequest::new("A serene beach").into_body().unwrap();
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({
                "model": "bytedance/seedance-1.5-pro",
                "input": {
                    "prompt": "A serene beach", "aspect_ratio": "1:1", "resolution": "720p",
                    "duration": 8, "fixed_lens": false, "generate_audio": false
                }
            })
        );
        assert_eq!(Seedance15Pro::workload(&body), "8s 720p");
        assert_eq!(
            Seedance15Pro::expected_duration(&body),
            Some(std::time::Duration::from_secs_f64(88.2))
        );
    }

    #[test]
    fn the_model_checks_what_the_generated_types_cannot() {
        let mut body = VideoRequest::new("A serene beach").into_body().unwrap();
        assert!(Seedance15Pro::check(&body).is_empty());
        body.call_back_url = Some("not a url".into());
        if let Some(input) = body.input.as_mut() {
            input.input_urls = vec![
                "https://a/1.png".into(),
                "ftp://a/2.png".into(),
                "https://a/3.png".into(),
            ];
        }
        assert_eq!(
            Seedance15Pro::check(&body).fields(),
            ["callBackUrl", "input.input_urls", "input.input_urls[1]"]
        );
    }

    #[test]
    fn every_option_reaches_the_body() {
        let body = VideoRequest::new("A serene beach")
            .aspect_ratio(AspectRatio::Portrait9x16)
            .resolution(Resolution::P480)
            .duration(VideoLength::Seconds4)
            .fixed_lens(true)
            .generate_audio(true)
            .image_url("https://example.com/a.png")
            .callback_url("https://example.com/hook")
            .into_body()
            .unwrap();
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({
                "model": "bytedance/seedance-1.5-pro",
                "callBackUrl": "https://example.com/hook",
                "input": {
                    "prompt": "A serene beach", "aspect_ratio": "9:16", "resolution": "480p",
                    "duration": 4, "fixed_lens": true, "generate_audio": true,
                    "input_urls": ["https://example.com/a.png"]
                }
            })
        );
    }
}
