//! A Market model as its OpenAPI document describes it: its id, its `createTask` endpoint, and
//! the schema of its body, which validates every request before anything is sent (every rule,
//! every violation at once, with its JSON path), types command-line values, and describes the
//! model's inputs. The spec says it once; nothing here is written per model.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::endpoint::Endpoint;
use crate::error::{Violation, Violations};
use crate::files::{FileRules, MediaSource, MediaType, Medium};

/// How deep `$ref`s are followed before a document is refused as recursive.
const MAX_REF_DEPTH: usize = 32;

/// Why a document cannot be used as a Market model's spec. Each names the construct; a
/// document the generator or this reader cannot take can be fixed with a reviewed patch under
/// `openapi/patches/<spec>/`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// The text is not JSON.
    #[error("the document is not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    /// No operation takes a JSON body with a `model` of one value and an `input` object.
    #[error(
        "no createTask operation: no POST operation takes a JSON body whose `model` has one value and whose `input` is an object"
    )]
    NoCreateTask,
    /// More than one operation looks like a model's `createTask`.
    #[error("more than one createTask-like operation ({}): one model per document", .0.join(", "))]
    ManyCreateTasks(Vec<String>),
    /// A `$ref` points nowhere.
    #[error("`$ref` {0} points to nothing in the document")]
    UnresolvedRef(String),
    /// `$ref`s nest too deep (or in a circle).
    #[error("`$ref`s nest deeper than {MAX_REF_DEPTH} levels at {0} (a recursive schema?)")]
    RefTooDeep(String),
}

/// What a model produces. A spec declares it with `x-apikley-output` on its `createTask`
/// operation (`cargo xtask new-model` writes that declaration as a reviewed patch); a spec
/// without one is read by [`derive_output`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

/// The operation's extension that declares what a model produces.
pub const OUTPUT_EXTENSION: &str = "x-apikley-output";

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

/// What a model produces as read from its whole document, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutputDerivation {
    /// The kind.
    pub kind: OutputKind,
    /// What in the document says so, in words.
    pub reason: String,
}

/// Derives what the model of a document (already parsed, `$ref`s resolved in `body`)
/// produces, from the strongest sign there is: an `output_format` input's values; then the
/// model id and the operation's words (`text-to-video`, "Generate images"); then inputs only
/// one kind of model has (`duration`, `fps`, `num_images`); then which medium the summary,
/// description and title name most. A document with no sign is [`OutputKind::Other`].
pub fn derive_output(
    id: &str,
    operation: &Value,
    document: &Value,
    body: &Value,
) -> OutputDerivation {
    let found = |kind, reason: String| OutputDerivation { kind, reason };
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
    let counts = [
        (OutputKind::Video, count(&["video", "clip", "animation"])),
        (
            OutputKind::Image,
            count(&["image", "picture", "photo", "illustration"]),
        ),
        (
            OutputKind::Audio,
            count(&["audio", "speech", "music", "song", "voice"]),
        ),
    ];
    let best = counts.iter().max_by_key(|(_, n)| *n).copied();
    match best {
        Some((kind, n)) if n > 0 && counts.iter().filter(|(_, m)| *m == n).count() == 1 => found(
            kind,
            format!("the summary, description and title name {kind} most ({n} times)"),
        ),
        _ => found(
            OutputKind::Other,
            format!(
                "nothing in the document says what it produces (summary: {summary:?}); declare it with `{OUTPUT_EXTENSION}`"
            ),
        ),
    }
}

/// A Market model, read from its OpenAPI document.
///
/// ```
/// let spec = apikley::ModelSpec::parse(r#"{
///   "openapi": "3.0.0", "info": {"title": "Example", "version": "1"},
///   "paths": {"/api/v1/jobs/createTask": {"post": {
///     "summary": "Generate videos", "operationId": "example-video",
///     "requestBody": {"content": {"application/json": {"schema": {
///       "type": "object", "required": ["model"],
///       "properties": {
///         "model": {"type": "string", "enum": ["example/video"]},
///         "input": {"type": "object", "required": ["prompt"], "properties": {
///           "prompt": {"type": "string", "maxLength": 10},
///           "seconds": {"type": "string", "enum": ["5", "10"], "default": "5"}
///         }}
///       }}}}},
///     "responses": {"200": {"description": "ok"}}
///   }}}
/// }"#)?;
/// assert_eq!(spec.id(), "example/video");
/// let body = serde_json::json!({"model": "example/video", "input": {"prompt": "far too long a prompt", "seconds": 5}});
/// let problems = spec.validate(&body);
/// assert_eq!(problems.fields(), ["input.prompt", "input.seconds"]);
/// # Ok::<(), apikley::SpecError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ModelSpec {
    id: String,
    summary: Option<String>,
    endpoint: Endpoint,
    body: Value,
    example: Option<Value>,
    declared: Option<OutputKind>,
    derived: OutputDerivation,
}

impl ModelSpec {
    /// Reads a model's OpenAPI document (JSON).
    pub fn parse(document: &str) -> Result<Self, SpecError> {
        let document: Value = serde_json::from_str(document).map_err(SpecError::NotJson)?;
        ModelSpec::from_document(&document)
    }

    /// Reads a model's OpenAPI document, already parsed.
    pub fn from_document(document: &Value) -> Result<Self, SpecError> {
        let mut found = Vec::new();
        for (path, item) in document
            .get("paths")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let Some(operation) = item.get("post") else {
                continue;
            };
            let Some(schema) = operation.pointer("/requestBody/content/application~1json/schema")
            else {
                continue;
            };
            let body = resolve(schema, document, 0, "requestBody")?;
            let example = operation
                .pointer("/requestBody/content/application~1json/example")
                .cloned();
            let model = body.pointer("/properties/model");
            let id = model
                .and_then(|m| m.get("enum"))
                .and_then(Value::as_array)
                .filter(|values| values.len() == 1)
                .and_then(|values| values[0].as_str())
                .or_else(|| model?.get("default")?.as_str());
            let has_input = body
                .pointer("/properties/input")
                .is_some_and(|input| input.get("type").and_then(Value::as_str) == Some("object"));
            if let (Some(id), true) = (id, has_input) {
                found.push((path.clone(), operation, id.to_owned(), body, example));
            }
        }
        let (path, operation, id, body, example) = match found.len() {
            0 => return Err(SpecError::NoCreateTask),
            1 => found.remove(0),
            _ => {
                return Err(SpecError::ManyCreateTasks(
                    found.into_iter().map(|(path, ..)| path).collect(),
                ));
            }
        };
        let server_path = document
            .pointer("/servers/0/url")
            .and_then(Value::as_str)
            .and_then(|url| url.split_once("://"))
            .and_then(|(_, rest)| rest.find('/').map(|at| &rest[at..]))
            .unwrap_or("")
            .trim_matches('/');
        let full_path = [server_path, path.trim_matches('/')]
            .iter()
            .filter(|p| !p.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join("/");
        let summary = ["summary", "description"]
            .iter()
            .find_map(|k| operation.get(*k).and_then(Value::as_str))
            .or_else(|| document.pointer("/info/title").and_then(Value::as_str))
            .map(str::to_owned);
        let declared = operation
            .get(OUTPUT_EXTENSION)
            .and_then(Value::as_str)
            .and_then(OutputKind::parse);
        let derived = derive_output(&id, operation, document, &body);
        Ok(ModelSpec {
            id,
            summary,
            endpoint: Endpoint {
                method: Cow::Borrowed("POST"),
                path: Cow::Owned(full_path),
            },
            body,
            example,
            declared,
            derived,
        })
    }

    /// The model id, sent as `model` (e.g. `bytedance/seedance-1.5-pro`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// What the document says the operation does.
    pub fn summary(&self) -> Option<&str> {
        self.summary.as_deref()
    }

    /// Where `createTask` is.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// What the model produces: as its spec declares it (`x-apikley-output`), else as
    /// [`derive_output`] reads the document.
    pub fn kind(&self) -> OutputKind {
        self.declared.unwrap_or(self.derived.kind)
    }

    /// Every place where the `createTask` body's schema uses a keyword the checker does not
    /// enforce (`if`/`then`, `patternProperties`, a `format` such as `email`, a `pattern` it
    /// cannot compile, …), as (JSON path in the schema, keyword). A spec with any cannot be
    /// trusted to refuse what the service refuses: `new-model` and `regen` refuse it, naming
    /// each, until the checker enforces it or a reviewed patch rewrites it.
    pub fn unchecked_keywords(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        unchecked(&self.body, "", &mut out);
        out
    }

    /// What the spec declares the model produces (`x-apikley-output`), if it does.
    pub fn declared_kind(&self) -> Option<OutputKind> {
        self.declared
    }

    /// What the document, read as a whole, says the model produces, and why.
    pub fn derived_kind(&self) -> &OutputDerivation {
        &self.derived
    }

    /// The file format a request asks for: its `output_format` (or the spec's default for
    /// it) when that names a format, else the usual one of the model's kind; `None` when
    /// nothing says.
    pub fn output_media_type(&self, input: &Value) -> Option<MediaType> {
        self.media_type_for(input.get("output_format"))
    }

    /// [`output_media_type`](Self::output_media_type), from the `output_format` given, if any.
    pub(crate) fn media_type_for(&self, output_format: Option<&Value>) -> Option<MediaType> {
        output_format
            .filter(|v| !v.is_null())
            .or_else(|| self.input("output_format")?.schema.get("default"))
            .and_then(Value::as_str)
            .and_then(MediaType::from_extension)
            .or_else(|| self.kind().default_media_type())
    }

    /// The document's example of a `createTask` body, if it gives one.
    pub fn example(&self) -> Option<&Value> {
        self.example.as_ref()
    }

    /// The schema of the `createTask` body, with every `$ref` resolved.
    pub fn body_schema(&self) -> &Value {
        &self.body
    }

    fn input_schema(&self) -> &Value {
        self.body
            .pointer("/properties/input")
            .unwrap_or(&Value::Null)
    }

    /// The model's inputs, in the document's order.
    pub fn inputs(&self) -> Vec<Input<'_>> {
        let schema = self.input_schema();
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        schema
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(name, schema)| Input {
                name,
                schema,
                required: required.contains(&name.as_str()),
            })
            .collect()
    }

    /// One input, by name.
    pub fn input(&self, name: &str) -> Option<Input<'_>> {
        self.inputs().into_iter().find(|i| i.name == name)
    }

    /// Every rule of the spec that `body` (a whole `createTask` body) breaks, each with its JSON
    /// path (`input.input_urls[2]`), in the body's order. Keys the spec does not declare are
    /// refused too: they would be ignored, or be a typo.
    pub fn validate(&self, body: &Value) -> Violations {
        self.check(body, false)
    }

    /// [`validate`](Self::validate), where file inputs may also hold local paths, each checked
    /// against what the input accepts (format by content, size).
    pub(crate) fn validate_request(&self, body: &Value) -> Violations {
        self.check(body, true)
    }

    fn check(&self, body: &Value, local_files: bool) -> Violations {
        let mut violations = Violations::new();
        let ctx = Context {
            strict: true,
            local_files,
            rules: None,
        };
        check(&self.body, body, "", ctx, &mut violations);
        violations
    }

    /// A rough prior for how long a task takes, from its inputs: for a video model, longer
    /// videos, higher resolutions and sound take longer (about 1.5 minutes for 8 s at 720p).
    pub fn expected_duration(&self, input: &Value) -> Option<Duration> {
        if self.kind() != OutputKind::Video {
            return None;
        }
        let seconds = self
            .value_or_default(input, "duration")
            .and_then(number)
            .unwrap_or(5.0);
        let resolution = match self
            .value_or_default(input, "resolution")
            .and_then(Value::as_str)
        {
            Some(r) if r.contains("480") || r.contains("512") => 1.0,
            Some(r) if r.contains("720") || r.contains("768") => 1.4,
            Some(r) if r.contains("1080") => 2.0,
            _ => 1.2,
        };
        let audio = ["generate_audio", "sound"]
            .iter()
            .any(|name| self.value_or_default(input, name) == Some(&Value::Bool(true)));
        let audio = if audio { 1.2 } else { 1.0 };
        Duration::try_from_secs_f64((15.0 + 6.0 * seconds.clamp(0.0, 600.0)) * resolution * audio)
            .ok()
    }

    /// A label for tasks that take about as long as each other (`8s 720p audio`): the inputs
    /// the expected duration depends on.
    pub fn workload(&self, input: &Value) -> String {
        let text = |name: &str| self.value_or_default(input, name).map(display);
        let mut parts = Vec::new();
        if let Some(seconds) = text("duration") {
            parts.push(format!("{seconds}s"));
        }
        if let Some(resolution) = text("resolution") {
            parts.push(resolution);
        }
        if ["generate_audio", "sound"]
            .iter()
            .any(|name| self.value_or_default(input, name) == Some(&Value::Bool(true)))
        {
            parts.push("audio".into());
        }
        parts.join(" ")
    }

    fn value_or_default<'a>(&'a self, input: &'a Value, name: &str) -> Option<&'a Value> {
        input
            .get(name)
            .filter(|v| !v.is_null())
            .or_else(|| self.input(name)?.schema.get("default"))
    }
}

/// One input of a model, as its spec declares it.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    name: &'a str,
    schema: &'a Value,
    required: bool,
}

impl<'a> Input<'a> {
    /// Its name in `input`.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// Its schema.
    pub fn schema(&self) -> &'a Value {
        self.schema
    }

    /// Whether it must be given.
    pub fn is_required(&self) -> bool {
        self.required
    }

    /// Its JSON type (`string`, `integer`, `number`, `boolean`, `array`, `object`), or
    /// `array of <type>`.
    pub fn kind(&self) -> String {
        let kind = type_of(self.schema).unwrap_or("any");
        match (kind, self.schema.get("items")) {
            ("array", Some(items)) => format!("array of {}", type_of(items).unwrap_or("any")),
            _ => kind.to_owned(),
        }
    }

    /// The values it may take, when the spec lists them.
    pub fn values(&self) -> Vec<&'a Value> {
        self.schema
            .get("enum")
            .or_else(|| self.schema.pointer("/items/enum"))
            .and_then(Value::as_array)
            .map(|values| values.iter().collect())
            .unwrap_or_default()
    }

    /// Its default, if the spec states one.
    pub fn default(&self) -> Option<&'a Value> {
        self.schema.get("default")
    }

    /// Its description, if any.
    pub fn description(&self) -> Option<&'a str> {
        self.schema.get("description").and_then(Value::as_str)
    }

    /// Its bounds, in words (`3 to 2500 characters`, `at most 2 items`, `-1 to 2147483647`).
    pub fn bounds(&self) -> Vec<String> {
        let s = self.schema;
        let mut out = Vec::new();
        let pair = |low: &str, high: &str, unit: &str| match (s.get(low), s.get(high)) {
            (Some(a), Some(b)) => Some(format!("{} to {}{unit}", display(a), display(b))),
            (Some(a), None) => Some(format!("at least {}{unit}", display(a))),
            (None, Some(b)) => Some(format!("at most {}{unit}", display(b))),
            (None, None) => None,
        };
        out.extend(pair("minLength", "maxLength", " characters"));
        out.extend(pair("minimum", "maximum", ""));
        out.extend(pair("minItems", "maxItems", " items"));
        if let Some(format) = s
            .get("format")
            .or_else(|| s.pointer("/items/format"))
            .and_then(Value::as_str)
        {
            out.push(format!("format {format}"));
        }
        out
    }

    /// Whether it takes a list of values.
    pub fn is_list(&self) -> bool {
        type_of(self.schema) == Some("array")
    }

    /// For an input that takes URLs of files (`format: uri`): the files a local one may be,
    /// as the description states them ("Accepted types: image/jpeg, image/png; Max size: 10MB").
    pub fn file_rules(&self) -> Option<FileRules> {
        let item = if self.is_list() {
            self.schema.get("items")?
        } else {
            self.schema
        };
        if item.get("format").and_then(Value::as_str) != Some("uri") {
            return None;
        }
        let description = self.description().unwrap_or("");
        let mut types: Vec<MediaType> = description
            .split(|c: char| c.is_whitespace() || c == ',' || c == ';' || c == ')' || c == '(')
            .filter_map(MediaType::from_mime)
            .collect();
        types.dedup();
        if types.is_empty() {
            // No types stated: what its name says it takes (`audio_url`, `image_urls`).
            if let Some(medium) = self.medium() {
                types = MediaType::of_medium(medium);
            }
        }
        let max_bytes = max_size(description).unwrap_or(u64::MAX);
        Some(FileRules::owned(max_bytes, types))
    }

    /// The medium a file input's name says it takes (`audio_url`, `video_urls`, `image_input`).
    fn medium(&self) -> Option<Medium> {
        let name = self.name.to_ascii_lowercase();
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

/// Resolves every `$ref` in `schema` against `document`.
fn resolve(schema: &Value, document: &Value, depth: usize, at: &str) -> Result<Value, SpecError> {
    if depth > MAX_REF_DEPTH {
        return Err(SpecError::RefTooDeep(at.to_owned()));
    }
    match schema {
        Value::Object(fields) => {
            if let Some(reference) = fields.get("$ref").and_then(Value::as_str) {
                let target = reference
                    .strip_prefix('#')
                    .and_then(|pointer| document.pointer(pointer))
                    .ok_or_else(|| SpecError::UnresolvedRef(reference.to_owned()))?;
                return resolve(target, document, depth + 1, reference);
            }
            let mut out = Map::new();
            for (key, value) in fields {
                out.insert(key.clone(), resolve(value, document, depth, at)?);
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => items
            .iter()
            .map(|item| resolve(item, document, depth, at))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        other => Ok(other.clone()),
    }
}

fn type_of(schema: &Value) -> Option<&str> {
    match schema.get("type")? {
        Value::String(kind) => Some(kind),
        // OpenAPI 3.1 style: ["string", "null"].
        Value::Array(kinds) => kinds
            .iter()
            .filter_map(Value::as_str)
            .find(|k| *k != "null"),
        _ => None,
    }
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A value as a person writes it: strings bare, everything else as JSON.
fn display(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// An allowed value in a list of them: strings that hold numbers are quoted, so that "5" and 5
/// are told apart.
fn allowed(value: &Value) -> String {
    match value {
        Value::String(s) if s.trim().parse::<f64>().is_ok() => format!("{s:?}"),
        other => display(other),
    }
}

/// A given value, for a violation.
fn given(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn fits_type(kind: &str, value: &Value) -> bool {
    match kind {
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "number" => value.is_number(),
        "integer" => match value {
            Value::Number(n) => {
                n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
            }
            _ => false,
        },
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    }
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// A schema in a few words, for a `not` violation: `{"required": ["a", "b"]}` → "a and b
/// together".
fn describe_schema(schema: &Value) -> String {
    match schema.get("required").and_then(Value::as_array) {
        Some(names) if schema.as_object().is_some_and(|o| o.len() == 1) => {
            let names: Vec<String> = names.iter().map(display).collect();
            format!("{} together", names.join(" and "))
        }
        _ => schema.to_string(),
    }
}

/// The keywords the checker enforces, or that state nothing to check (annotations).
const KNOWN_KEYWORDS: &[&str] = &[
    "type",
    "enum",
    "const",
    "required",
    "properties",
    "additionalProperties",
    "items",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "format",
    "nullable",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    // Annotations: they state nothing a request could break.
    "default",
    "description",
    "title",
    "example",
    "examples",
    "deprecated",
    "readOnly",
    "writeOnly",
    "$comment",
    "externalDocs",
];

/// The formats the checker enforces (`uri`) or that the type already says (numbers' widths,
/// timestamps the service parses).
const KNOWN_FORMATS: &[&str] = &["uri", "int32", "int64", "float", "double", "date-time"];

/// Every place where `schema` (a `createTask` body, `$ref`s resolved) uses what the checker does
/// not enforce, as (JSON path in the schema, keyword): a request could break it unseen.
fn unchecked(schema: &Value, at: &str, out: &mut Vec<(String, String)>) {
    let Some(fields) = schema.as_object() else {
        return;
    };
    for (key, value) in fields {
        let here = format!("{at}/{key}");
        if key.starts_with("x-") {
            continue;
        }
        if !KNOWN_KEYWORDS.contains(&key.as_str()) {
            out.push((here.clone(), key.clone()));
            continue;
        }
        match key.as_str() {
            "format" if value.as_str().is_some_and(|f| !KNOWN_FORMATS.contains(&f)) => {
                out.push((here, format!("format {value}")));
            }
            "pattern" => {
                if let Some(Err(e)) = value.as_str().map(regex_lite::Regex::new) {
                    out.push((
                        here,
                        format!("pattern {value} (it cannot be compiled: {e})"),
                    ));
                }
            }
            "additionalProperties" if !value.is_boolean() => {
                out.push((here, "additionalProperties with a schema".into()));
            }
            "properties" => {
                for (name, property) in value.as_object().into_iter().flatten() {
                    unchecked(property, &format!("{here}/{name}"), out);
                }
            }
            "items" | "not" => unchecked(value, &here, out),
            "allOf" | "anyOf" | "oneOf" => {
                for (i, branch) in value.as_array().into_iter().flatten().enumerate() {
                    unchecked(branch, &format!("{here}/{i}"), out);
                }
            }
            _ => {}
        }
    }
}

/// An absolute URL the service can fetch.
fn fetchable(text: &str) -> bool {
    url::Url::parse(text).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
}

/// How a body is checked.
#[derive(Clone, Copy)]
struct Context<'r> {
    /// Keys the schema does not declare are violations (the body and its `input`).
    strict: bool,
    /// File inputs may hold local paths (a request about to upload them); else only URLs.
    local_files: bool,
    /// What a local file of the input being checked may be.
    rules: Option<&'r FileRules>,
}

/// Checks `value` against `schema` at `path`, adding every violation to `out`, in the order the
/// schema declares its properties.
fn check(schema: &Value, value: &Value, path: &str, ctx: Context<'_>, out: &mut Violations) {
    let field = if path.is_empty() { "body" } else { path };
    // A schema without a type takes null, unless it lists its values (null among them or not).
    let null_allowed = schema.get("nullable") == Some(&Value::Bool(true))
        || (type_of(schema).is_none() && schema.get("enum").is_none())
        || schema
            .get("type")
            .and_then(Value::as_array)
            .is_some_and(|kinds| kinds.contains(&Value::from("null")));
    if value.is_null() && null_allowed {
        return;
    }
    if let Some(constant) = schema.get("const")
        && !same(constant, value)
    {
        out.push(Violation::new(
            field,
            format!("must be {}", allowed(constant)),
            given(value),
        ));
        return;
    }
    let values = schema.get("enum").and_then(Value::as_array);
    let in_enum = |values: &Vec<Value>| values.iter().any(|v| same(v, value));
    if let Some(values) = values.filter(|values| !in_enum(values)) {
        // Before the type: `5` where "5" and "10" are allowed is best answered with the list.
        let list: Vec<String> = values.iter().map(allowed).collect();
        out.push(Violation::new(
            field,
            format!("must be one of {}", list.join(", ")),
            given(value),
        ));
        return;
    }
    if let Some(kind) = type_of(schema)
        && !fits_type(kind, value)
    {
        let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        out.push(Violation::new(
            field,
            format!("must be {article} {kind}"),
            kind_of(value),
        ));
        return;
    }
    let nested = Context {
        strict: false,
        ..ctx
    };
    for part in schema
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        check(part, value, path, nested, out);
    }
    let fits = |branch: &Value| {
        let mut trial = Violations::new();
        check(branch, value, path, nested, &mut trial);
        trial.is_empty()
    };
    if let Some(branches) = schema.get("anyOf").and_then(Value::as_array)
        && !branches.iter().any(fits)
    {
        out.push(Violation::new(
            field,
            "matches none of the allowed shapes",
            given(value),
        ));
    }
    if let Some(branches) = schema.get("oneOf").and_then(Value::as_array) {
        match branches.iter().filter(|b| fits(b)).count() {
            1 => {}
            0 => out.push(Violation::new(
                field,
                "matches none of the allowed shapes",
                given(value),
            )),
            n => out.push(Violation::new(
                field,
                format!("must match exactly one of the allowed shapes (matches {n})"),
                given(value),
            )),
        }
    }
    if let Some(forbidden) = schema.get("not")
        && fits(forbidden)
    {
        out.push(Violation::new(
            field,
            format!("must not match {}", describe_schema(forbidden)),
            given(value),
        ));
    }
    match value {
        Value::String(text) => check_string(schema, text, field, ctx, out),
        Value::Number(_) => check_number(schema, value, field, out),
        Value::Array(items) => {
            let count = items.len() as u64;
            let bound = |key: &str| schema.get(key).and_then(Value::as_u64);
            if let Some(min) = bound("minItems").filter(|min| count < *min) {
                out.push(Violation::new(
                    field,
                    format!("must have at least {min} items"),
                    format!("{count} items"),
                ));
            }
            if let Some(max) = bound("maxItems").filter(|max| count > *max) {
                out.push(Violation::new(
                    field,
                    format!("accepts at most {max} items"),
                    format!("{count} items"),
                ));
            }
            if schema.get("uniqueItems") == Some(&Value::Bool(true))
                && items
                    .iter()
                    .enumerate()
                    .any(|(i, a)| items[..i].iter().any(|b| same(a, b)))
            {
                out.push(Violation::new(
                    field,
                    "must not repeat items",
                    format!("{count} items"),
                ));
            }
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    check(item_schema, item, &format!("{path}[{i}]"), nested, out);
                }
            }
        }
        Value::Object(fields) => check_object(schema, fields, path, ctx, out),
        _ => {}
    }
}

fn check_object(
    schema: &Value,
    fields: &Map<String, Value>,
    path: &str,
    ctx: Context<'_>,
    out: &mut Violations,
) {
    let properties = schema.get("properties").and_then(Value::as_object);
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let missing = |name: &str| fields.get(name).is_none_or(Value::is_null);
    for (name, item_schema) in properties.into_iter().flatten() {
        match fields.get(name) {
            Some(item) if !item.is_null() || !required.contains(&name.as_str()) => {
                // The body and its input are strict; deeper objects follow their schema.
                let in_input = path == "input";
                let rules = in_input
                    .then(|| {
                        Input {
                            name,
                            schema: item_schema,
                            required: false,
                        }
                        .file_rules()
                    })
                    .flatten();
                let ctx = Context {
                    strict: path.is_empty() && name == "input",
                    rules: rules.as_ref().or(ctx.rules),
                    ..ctx
                };
                check(item_schema, item, &join(path, name), ctx, out);
            }
            _ if required.contains(&name.as_str()) => {
                out.push(Violation::new(join(path, name), "is required", "nothing"));
            }
            _ => {}
        }
    }
    for name in required
        .iter()
        .filter(|n| properties.is_none_or(|p| !p.contains_key(**n)))
    {
        if missing(name) {
            out.push(Violation::new(join(path, name), "is required", "nothing"));
        }
    }
    let closed = ctx.strict || schema.get("additionalProperties") == Some(&Value::Bool(false));
    if closed {
        let declared = |name: &str| properties.is_some_and(|p| p.contains_key(name));
        for (name, item) in fields.iter().filter(|(name, _)| !declared(name)) {
            let known: Vec<&str> = properties
                .into_iter()
                .flat_map(|p| p.keys().map(String::as_str))
                .collect();
            let rule = match known.is_empty() {
                true => "is not in the spec (it takes no keys)".to_owned(),
                false => format!("is not in the spec (known: {})", known.join(", ")),
            };
            out.push(Violation::new(join(path, name), rule, given(item)));
        }
    }
    let count = fields.len() as u64;
    let bound = |key: &str| schema.get(key).and_then(Value::as_u64);
    if let Some(min) = bound("minProperties").filter(|min| count < *min) {
        out.push(Violation::new(
            if path.is_empty() { "body" } else { path },
            format!("must have at least {min} keys"),
            format!("{count} keys"),
        ));
    }
    if let Some(max) = bound("maxProperties").filter(|max| count > *max) {
        out.push(Violation::new(
            if path.is_empty() { "body" } else { path },
            format!("accepts at most {max} keys"),
            format!("{count} keys"),
        ));
    }
}

fn check_string(schema: &Value, text: &str, field: &str, ctx: Context<'_>, out: &mut Violations) {
    let chars = text.chars().count() as u64;
    let shown = || format!("{chars} characters: {text:?}");
    let bound = |key: &str| schema.get(key).and_then(Value::as_u64);
    match (bound("minLength"), bound("maxLength")) {
        (Some(min), Some(max)) if chars < min || chars > max => {
            out.push(Violation::new(
                field,
                format!("must be {min} to {max} characters"),
                shown(),
            ));
        }
        (Some(min), None) if chars < min => {
            out.push(Violation::new(
                field,
                format!("must be at least {min} characters"),
                shown(),
            ));
        }
        (None, Some(max)) if chars > max => {
            out.push(Violation::new(
                field,
                format!("must be at most {max} characters"),
                shown(),
            ));
        }
        _ => {}
    }
    if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
        match regex_lite::Regex::new(pattern) {
            Ok(regex) if !regex.is_match(text) => {
                out.push(Violation::new(
                    field,
                    format!("must match the pattern {pattern}"),
                    format!("{text:?}"),
                ));
            }
            _ => {}
        }
    }
    if schema.get("format").and_then(Value::as_str) == Some("uri") && !fetchable(text) {
        match (
            ctx.rules.filter(|_| ctx.local_files),
            MediaSource::from(text),
        ) {
            // A local file for a file input, uploaded on submit: checked against what the
            // input accepts.
            (Some(rules), MediaSource::File(path)) if !text.trim().is_empty() => {
                if let Err(problem) = rules.check(&path) {
                    out.push(Violation::new(
                        field,
                        format!("file {problem}"),
                        path.display(),
                    ));
                }
            }
            _ => out.push(Violation::new(
                field,
                "must be an absolute http(s) URL",
                format!("{text:?}"),
            )),
        }
    }
}

fn check_number(schema: &Value, value: &Value, field: &str, out: &mut Violations) {
    let Some(n) = value.as_f64() else { return };
    let bound = |key: &str| schema.get(key).and_then(Value::as_f64);
    // OpenAPI 3.0 marks exclusive bounds with a boolean; 3.1 gives the bound itself.
    let exclusive = |key: &str, plain: &str| match schema.get(key) {
        Some(Value::Bool(true)) => bound(plain),
        Some(Value::Number(b)) => b.as_f64(),
        _ => None,
    };
    let shown = value.to_string();
    if let Some(min) = exclusive("exclusiveMinimum", "minimum") {
        if n <= min {
            out.push(Violation::new(
                field,
                format!("must be greater than {min}"),
                &shown,
            ));
        }
    } else if let Some(min) = bound("minimum").filter(|min| n < *min) {
        out.push(Violation::new(
            field,
            format!("must be at least {min}"),
            &shown,
        ));
    }
    if let Some(max) = exclusive("exclusiveMaximum", "maximum") {
        if n >= max {
            out.push(Violation::new(
                field,
                format!("must be less than {max}"),
                &shown,
            ));
        }
    } else if let Some(max) = bound("maximum").filter(|max| n > *max) {
        out.push(Violation::new(
            field,
            format!("must be at most {max}"),
            &shown,
        ));
    }
    if let Some(step) = bound("multipleOf").filter(|s| *s > 0.0) {
        let ratio = n / step;
        if (ratio - ratio.round()).abs() > 1e-9 {
            out.push(Violation::new(
                field,
                format!("must be a multiple of {step}"),
                &shown,
            ));
        }
    }
}

impl fmt::Display for ModelSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)?;
        if let Some(summary) = &self.summary {
            write!(f, ": {summary}")?;
        }
        Ok(())
    }
}
