//! What a model declares about itself, beside its schema: what it produces, how long its tasks
//! take and what files its inputs take. `cargo xtask new-model` derives each from the spec and
//! writes it as a reviewed patch (an `x-apikley-*` extension on the `createTask` operation);
//! the runtime reads the declarations and guesses nothing.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::media::{MediaType, Medium};

/// The operation's extension that declares what a model produces: `"video"`.
pub const OUTPUT_EXTENSION: &str = "x-apikley-output";
/// The operation's extension that declares how long a task takes: a [`DurationHint`].
pub const DURATION_EXTENSION: &str = "x-apikley-duration";
/// The operation's extension that declares what files inputs take: input name → [`FileHint`].
pub const FILES_EXTENSION: &str = "x-apikley-files";

/// What a model produces (ordered as listed: videos first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum OutputKind {
    /// Videos.
    Video,
    /// Images.
    Image,
    /// Sound.
    Audio,
    /// Something else (text, 3D, …).
    Other,
}

impl OutputKind {
    /// The kind's name, as `x-apikley-output` states it: `video`, `image`, `audio`, `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            OutputKind::Video => "video",
            OutputKind::Image => "image",
            OutputKind::Audio => "audio",
            OutputKind::Other => "other",
        }
    }

    /// The kind a name states (any case), if it is one.
    pub fn parse(name: &str) -> Option<Self> {
        [
            OutputKind::Video,
            OutputKind::Image,
            OutputKind::Audio,
            OutputKind::Other,
        ]
        .into_iter()
        .find(|k| k.as_str().eq_ignore_ascii_case(name.trim()))
    }

    /// The kind of a medium.
    pub fn of_medium(medium: Medium) -> Self {
        match medium {
            Medium::Video => OutputKind::Video,
            Medium::Image => OutputKind::Image,
            Medium::Audio => OutputKind::Audio,
        }
    }

    /// The file format a model of this kind produces when a request names none.
    pub fn default_media_type(self) -> Option<MediaType> {
        match self {
            OutputKind::Video => Some(MediaType::Mp4),
            OutputKind::Image => Some(MediaType::Png),
            OutputKind::Audio => Some(MediaType::Mp3),
            OutputKind::Other => None,
        }
    }
}

impl fmt::Display for OutputKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rough prior for how long a task takes, from its inputs (`x-apikley-duration`):
/// `(base_seconds + seconds_per_output_second × length) × scale × factor × …`. The inputs it
/// reads also label tasks that take about as long as each other (`8s 720p audio`).
///
/// ```
/// use apikley_model::DurationHint;
/// let hint: DurationHint = serde_json::from_value(serde_json::json!({
///     "base_seconds": 15, "seconds_per_output_second": 6,
///     "length": {"input": "duration", "default": 5},
///     "factors": [{"input": "resolution", "times": {"1080p": 2.0}, "otherwise": 1.2}]
/// }))?;
/// assert_eq!(hint.factors[0].times["1080p"], 2.0);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DurationHint {
    /// Seconds of work whatever the output's length.
    pub base_seconds: f64,
    /// Seconds of work per second of output.
    pub seconds_per_output_second: f64,
    /// The input that sets the output's length in seconds; without one the base says it all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<LengthInput>,
    /// A factor for what no input decides (1 when not stated).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub scale: f64,
    /// Inputs that make a task longer or shorter, in the order a workload label names them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub factors: Vec<Factor>,
}

/// The input that sets how many seconds of output a task makes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LengthInput {
    /// Its name in `input`.
    pub input: String,
    /// The length assumed when neither the request nor the spec's default gives one.
    pub default: f64,
}

/// An input whose value multiplies a task's expected duration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Factor {
    /// Its name in `input`.
    pub input: String,
    /// The factor of each value, by the value as text (`"1080p"`, `"true"`).
    pub times: BTreeMap<String, f64>,
    /// The factor of any other value, or of none (1 when not stated).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub otherwise: f64,
    /// For a yes/no input, the word a workload label uses when it is true (`audio`); other
    /// inputs are labelled by their value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

impl Factor {
    /// The factor for a value (`None`: not given).
    pub fn of(&self, value: Option<&Value>) -> f64 {
        value
            .and_then(key)
            .and_then(|k| self.times.get(&k).copied())
            .unwrap_or(self.otherwise)
    }
}

/// What files a file input (`format: uri`) takes (`x-apikley-files`, by input name).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileHint {
    /// The accepted formats, by MIME type (`image/png`); none stated: any.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "mime_list")]
    pub types: Vec<MediaType>,
    /// The largest size in bytes; none stated: any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
}

/// Everything a model's `createTask` operation declares about the model.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Declarations {
    /// What it produces.
    pub output: Option<OutputKind>,
    /// How long its tasks take.
    pub duration: Option<DurationHint>,
    /// What files its file inputs take, by input name.
    pub files: BTreeMap<String, FileHint>,
}

/// A declaration that cannot be read: it names its extension and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{extension}` cannot be read: {problem}")]
pub struct DeclarationError {
    /// The extension (`x-apikley-duration`).
    pub extension: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

impl Declarations {
    /// Reads the declarations of a `createTask` operation (its JSON object); one that is
    /// present but cannot be read is an error, never ignored.
    ///
    /// ```
    /// let operation = serde_json::json!({
    ///     "x-apikley-output": "image",
    ///     "x-apikley-files": {"image_urls": {"types": ["image/png"], "max_bytes": 10000000}}
    /// });
    /// let declared = apikley_model::Declarations::read(&operation)?;
    /// assert_eq!(declared.output, Some(apikley_model::OutputKind::Image));
    /// assert_eq!(declared.files["image_urls"].max_bytes, Some(10_000_000));
    /// assert!(apikley_model::Declarations::read(&serde_json::json!({"x-apikley-output": "hologram"})).is_err());
    /// # Ok::<(), apikley_model::DeclarationError>(())
    /// ```
    pub fn read(operation: &Value) -> Result<Self, DeclarationError> {
        fn field<T: serde::de::DeserializeOwned>(
            operation: &Value,
            extension: &'static str,
        ) -> Result<Option<T>, DeclarationError> {
            operation
                .get(extension)
                .map(|value| {
                    T::deserialize(value).map_err(|e| DeclarationError {
                        extension,
                        problem: e.to_string(),
                    })
                })
                .transpose()
        }
        Ok(Declarations {
            output: field(operation, OUTPUT_EXTENSION)?,
            duration: field(operation, DURATION_EXTENSION)?,
            files: field(operation, FILES_EXTENSION)?.unwrap_or_default(),
        })
    }
}

/// A value as a key of [`Factor::times`]: strings bare, booleans and numbers as JSON.
fn key(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(_) | Value::Number(_) => Some(value.to_string()),
        _ => None,
    }
}

fn one() -> f64 {
    1.0
}

fn is_one(x: &f64) -> bool {
    *x == 1.0
}

/// Formats as their MIME types.
mod mime_list {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::media::MediaType;

    pub fn serialize<S: Serializer>(types: &[MediaType], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(types.iter().map(|t| t.mime()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<MediaType>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|mime| {
                MediaType::from_mime(mime).ok_or_else(|| {
                    D::Error::custom(format!("{mime:?} is no MIME type this SDK tells apart"))
                })
            })
            .collect()
    }
}
