//! What a model declares about itself (the `apikley-model` [`Declarations`]), derived from its
//! document where the document does not state it: what it produces, how long its tasks take,
//! what files its inputs take. `cargo xtask new-model` writes each as a reviewed patch with the
//! reason given here; the runtime reads only the declarations.
//!
//! [`Declarations`]: apikley_model::Declarations

use std::collections::BTreeMap;

use apikley_model::{DurationHint, Factor, FileHint, LengthInput, MediaType, Medium, OutputKind};
use serde_json::Value;

use crate::model::MarketModel;

/// A derived declaration and what in the document says so, in words.
#[derive(Debug, Clone, PartialEq)]
pub struct Derived<T> {
    /// The declaration.
    pub value: T,
    /// Why, for the patch's reason and `new-model`'s report.
    pub reason: String,
}

/// Everything derived about a model.
#[derive(Debug, Clone, PartialEq)]
pub struct Derivation {
    /// What it produces.
    pub output: Derived<OutputKind>,
    /// How long its tasks take (video models).
    pub duration: Option<Derived<DurationHint>>,
    /// What files its file inputs (`format: uri`) take, by input name.
    pub files: BTreeMap<String, Derived<FileHint>>,
}

/// Derives a model's declarations from its `document`, whose `createTask` body schema, with
/// every `$ref` resolved, is `body`.
pub fn derive(document: &Value, model: &MarketModel, body: &Value) -> Derivation {
    let operation = document
        .get("paths")
        .and_then(|paths| paths.get(&model.path))
        .and_then(|item| item.get("post"))
        .unwrap_or(&Value::Null);
    let output = derive_output(&model.id, operation, document, body);
    let inputs = body
        .pointer("/properties/input/properties")
        .and_then(Value::as_object);
    let duration = (output.value == OutputKind::Video).then(|| derive_duration(inputs));
    let files = inputs
        .into_iter()
        .flatten()
        .filter_map(|(name, schema)| Some((name.clone(), derive_files(name, schema)?)))
        .collect();
    Derivation {
        output,
        duration,
        files,
    }
}

/// What a model produces, from the strongest sign there is: an `output_format` input's
/// values; then the model id and the operation's words (`text-to-video`); then what the
/// summary's verb makes ("Generate images"); then inputs only one kind of model has
/// (`duration`, `fps`, `num_images`); then which medium the summary, description and title
/// name most. A document with no sign is
/// [`OutputKind::Other`].
fn derive_output(
    id: &str,
    operation: &Value,
    document: &Value,
    body: &Value,
) -> Derived<OutputKind> {
    let found = |value, reason: String| Derived { value, reason };
    let input = body.pointer("/properties/input/properties");
    let format_values: Vec<String> = input
        .and_then(|i| i.get("output_format"))
        .and_then(|f| f.get("enum").or_else(|| f.pointer("/items/enum")))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    let media: Vec<Medium> = format_values
        .iter()
        .filter_map(|v| MediaType::from_extension(v))
        .map(MediaType::medium)
        .collect();
    if let Some(first) = media.first().filter(|m| media.iter().all(|x| x == *m)) {
        return found(
            OutputKind::of_medium(*first),
            format!("input `output_format` takes {}", format_values.join(", ")),
        );
    }
    let text = |value: Option<&Value>| value.and_then(Value::as_str).unwrap_or("").to_owned();
    let summary = text(operation.get("summary"));
    let words = [
        summary.clone(),
        text(operation.get("description")),
        text(document.pointer("/info/title")),
        text(document.pointer("/info/description")),
    ]
    .join(" ")
    .to_lowercase();
    let named = format!("{id} {} {}", text(operation.get("operationId")), words).to_lowercase();
    for (phrase, kind) in [
        ("to-video", OutputKind::Video),
        ("to video", OutputKind::Video),
        ("to-image", OutputKind::Image),
        ("to image", OutputKind::Image),
        ("to-speech", OutputKind::Audio),
        ("to speech", OutputKind::Audio),
        ("to-audio", OutputKind::Audio),
        ("to audio", OutputKind::Audio),
        ("to-music", OutputKind::Audio),
    ] {
        if named.contains(phrase) {
            return found(kind, format!("the model's id or summary says {phrase:?}"));
        }
    }
    if let Some((kind, word)) = made(&summary) {
        return found(kind, format!("the summary says it makes {word}"));
    }
    for (name, kind) in [
        ("duration", OutputKind::Video),
        ("fps", OutputKind::Video),
        ("camera_fixed", OutputKind::Video),
        ("fixed_lens", OutputKind::Video),
        ("num_images", OutputKind::Image),
        ("image_size", OutputKind::Image),
    ] {
        if input.and_then(|i| i.get(name)).is_some() {
            return found(
                kind,
                format!("it has input `{name}`, which only {kind} models have"),
            );
        }
    }
    let count =
        |stems: &[&str]| -> usize { stems.iter().map(|stem| words.matches(stem).count()).sum() };
    let counts = KIND_WORDS.map(|(kind, words)| (kind, count(words)));
    let best = counts.iter().max_by_key(|(_, n)| *n).copied();
    match best {
        Some((kind, n)) if n > 0 && counts.iter().filter(|(_, m)| *m == n).count() == 1 => found(
            kind,
            format!("the summary, description and title name {kind} most ({n} times)"),
        ),
        _ => found(
            OutputKind::Other,
            format!(
                "nothing in the document says what it produces (summary: {summary:?}); declare it with `{}`",
                apikley_model::OUTPUT_EXTENSION
            ),
        ),
    }
}

/// Each kind's words, as they are counted in a document.
const KIND_WORDS: [(OutputKind, &[&str]); 3] = [
    (OutputKind::Video, &["video", "clip", "animation"]),
    (
        OutputKind::Image,
        &["image", "picture", "photo", "illustration"],
    ),
    (
        OutputKind::Audio,
        &["audio", "speech", "music", "song", "voice"],
    ),
];

/// What the summary's verb makes: the first kind's word after "generate", "create" or "make"
/// ("Generate talking-avatar videos from an image and an audio track": videos, although an
/// image and audio are named too).
fn made(summary: &str) -> Option<(OutputKind, &'static str)> {
    let lower = summary.to_lowercase();
    let verb = ["generate", "create", "make"]
        .iter()
        .filter_map(|verb| lower.find(verb))
        .min()?;
    let object = &lower[verb..];
    KIND_WORDS
        .iter()
        .flat_map(|(kind, words)| words.iter().map(move |word| (*kind, *word)))
        .filter_map(|(kind, word)| Some((object.find(word)?, kind, word)))
        .min_by_key(|(at, ..)| *at)
        .map(|(_, kind, word)| (kind, word))
}

/// Seconds a video task takes before its length counts, and per second of video.
const BASE_SECONDS: f64 = 15.0;
const SECONDS_PER_OUTPUT_SECOND: f64 = 6.0;
/// The length assumed when a request gives none.
const DEFAULT_LENGTH: f64 = 5.0;
/// The factor of a resolution no value names (or of no resolution input).
const OTHER_RESOLUTION: f64 = 1.2;
/// The factor of generated sound.
const SOUND: f64 = 1.2;

/// A video model's expected duration, from the inputs that set it: the length (`duration`),
/// the resolution (`480p` 1, `720p` 1.4, `1080p` 2, else 1.2) and sound (`generate_audio` or
/// `sound`: 1.2). About 1.5 minutes for 8 s at 720p.
fn derive_duration(inputs: Option<&serde_json::Map<String, Value>>) -> Derived<DurationHint> {
    let has = |name: &str| inputs.is_some_and(|i| i.contains_key(name));
    let mut reason = Vec::new();
    let mut hint = DurationHint {
        base_seconds: BASE_SECONDS,
        seconds_per_output_second: SECONDS_PER_OUTPUT_SECOND,
        length: None,
        scale: 1.0,
        factors: Vec::new(),
    };
    if has("duration") {
        hint.length = Some(LengthInput {
            input: "duration".into(),
            default: DEFAULT_LENGTH,
        });
        reason.push(format!(
            "{BASE_SECONDS} s plus {SECONDS_PER_OUTPUT_SECOND} s per second of input `duration` ({DEFAULT_LENGTH} s when not given)"
        ));
    } else {
        hint.base_seconds += SECONDS_PER_OUTPUT_SECOND * DEFAULT_LENGTH;
        reason.push(format!(
            "{} s (no input sets the length: {DEFAULT_LENGTH} s of video assumed)",
            hint.base_seconds
        ));
    }
    match inputs.and_then(|i| i.get("resolution")) {
        Some(resolution) => {
            let times: BTreeMap<String, f64> = resolution
                .get("enum")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .filter_map(|value| Some((value.to_owned(), resolution_factor(value)?)))
                .collect();
            let listed: Vec<String> = times.iter().map(|(v, f)| format!("{v} ×{f}")).collect();
            reason.push(format!(
                "input `resolution` ({}; else ×{OTHER_RESOLUTION})",
                listed.join(", ")
            ));
            hint.factors.push(Factor {
                input: "resolution".into(),
                times,
                otherwise: OTHER_RESOLUTION,
                label: None,
            });
        }
        None => {
            hint.scale = OTHER_RESOLUTION;
            reason.push(format!("×{OTHER_RESOLUTION} for an unstated resolution"));
        }
    }
    if let Some(name) = ["generate_audio", "sound"].into_iter().find(|n| has(n)) {
        reason.push(format!("×{SOUND} with input `{name}`"));
        hint.factors.push(Factor {
            input: name.into(),
            times: BTreeMap::from([("true".to_owned(), SOUND)]),
            otherwise: 1.0,
            label: Some("audio".into()),
        });
    }
    Derived {
        value: hint,
        reason: format!("a video model: {}", reason.join(", ")),
    }
}

/// The factor of a resolution value (`720p`, `1280x720`), when it names one known here.
fn resolution_factor(value: &str) -> Option<f64> {
    match value {
        v if v.contains("480") || v.contains("512") => Some(1.0),
        v if v.contains("720") || v.contains("768") => Some(1.4),
        v if v.contains("1080") => Some(2.0),
        _ => None,
    }
}

/// For an input that takes URLs of files (`format: uri`): the formats its description states
/// ("Accepted types: image/jpeg, image/png"), else those its name says (`audio_url`,
/// `image_urls`), and the size its description states ("Max size: 10MB").
fn derive_files(name: &str, schema: &Value) -> Option<Derived<FileHint>> {
    // `"array"`, or OpenAPI 3.1's `["array", "null"]`.
    let is_list = match schema.get("type") {
        Some(Value::String(kind)) => kind == "array",
        Some(Value::Array(kinds)) => kinds.contains(&Value::from("array")),
        _ => false,
    };
    let item = if is_list {
        schema.get("items")?
    } else {
        schema
    };
    if item.get("format").and_then(Value::as_str) != Some("uri") {
        return None;
    }
    let description = schema
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut types: Vec<MediaType> = description
        .split(|c: char| c.is_whitespace() || c == ',' || c == ';' || c == ')' || c == '(')
        .filter_map(MediaType::from_mime)
        .collect();
    types.dedup();
    let mut reason = Vec::new();
    if !types.is_empty() {
        reason.push("its description lists the formats".to_owned());
    } else if let Some(medium) = medium(name) {
        types = MediaType::of_medium(medium);
        reason.push(format!("its name says {medium}"));
    } else {
        reason.push("nothing states its formats (any is taken)".to_owned());
    }
    let max_bytes = max_size(description);
    if let Some(max) = max_bytes {
        reason.push(format!("its description states a size limit ({max} bytes)"));
    }
    Some(Derived {
        value: FileHint { types, max_bytes },
        reason: reason.join("; "),
    })
}

/// The medium a file input's name says it takes (`audio_url`, `video_urls`, `image_input`).
fn medium(name: &str) -> Option<Medium> {
    let name = name.to_ascii_lowercase();
    [
        ("audio", Medium::Audio),
        ("voice", Medium::Audio),
        ("video", Medium::Video),
        ("image", Medium::Image),
        ("photo", Medium::Image),
        ("frame", Medium::Image),
    ]
    .into_iter()
    .find(|(word, _)| name.contains(word))
    .map(|(_, medium)| medium)
}

/// "Max size per image: 10.0MB" → 10,000,000 (the stricter, decimal reading).
fn max_size(description: &str) -> Option<u64> {
    let lower = description.to_lowercase();
    let at = lower.find("max size")?;
    let rest = &lower[at..];
    let start = rest.find(|c: char| c.is_ascii_digit())?;
    let number: String = rest[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let value: f64 = number.parse().ok()?;
    let unit = rest[start + number.len()..].trim_start();
    let scale = if unit.starts_with("gb") {
        1e9
    } else if unit.starts_with("mb") {
        1e6
    } else if unit.starts_with("kb") {
        1e3
    } else {
        1.0
    };
    Some((value * scale) as u64)
}
