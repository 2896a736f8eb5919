//! Telling a model's inputs: their types, values, defaults and bounds from the schema; what
//! files they take and how long a task takes from the model's declarations.

use std::time::Duration;

use apikley_model::FileHint;
use serde_json::{Map, Value};

use super::ModelSpec;
use crate::files::{FileRules, MediaType};

/// The longest output, in seconds, an expected duration believes in.
const MAX_LENGTH: f64 = 600.0;

impl ModelSpec {
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

    fn input_schema(&self) -> &Value {
        // Not `pointer`: that allocates, and every submit reads the input schema.
        keyword(&self.body, "properties")
            .and_then(|properties| keyword(properties, "input"))
            .unwrap_or(&Value::Null)
    }

    /// The model's inputs, in the document's order.
    pub fn inputs(&self) -> Vec<Input<'_>> {
        let schema = self.input_schema();
        let required = required(schema);
        schema
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(name, schema)| Input {
                name,
                schema,
                required: required.contains(&name.as_str()),
                file: self.declared.files.get(name),
            })
            .collect()
    }

    /// One input, by name.
    pub fn input(&self, name: &str) -> Option<Input<'_>> {
        // Looked up, not listed: the expectation of every submit asks for inputs by name.
        let schema = self.input_schema();
        let (name, input) = schema.get("properties")?.as_object()?.get_key_value(name)?;
        Some(Input {
            name,
            schema: input,
            required: required(schema).contains(&name.as_str()),
            file: self.declared.files.get(name),
        })
    }

    /// The required inputs the spec gives a default, with it.
    pub(crate) fn required_defaults(&self) -> impl Iterator<Item = (&str, &Value)> {
        let schema = self.input_schema();
        let properties = schema.get("properties");
        required(schema).into_iter().filter_map(move |name| {
            let default = properties?.get(name)?.get("default")?;
            Some((name, default))
        })
    }

    /// A rough prior for how long a task takes, from its inputs, as the model declares it
    /// (`x-apikley-duration`; for a video model, longer videos, higher resolutions and sound
    /// take longer). `None` for a model that declares nothing.
    pub fn expected_duration(&self, input: &Value) -> Option<Duration> {
        self.expected_duration_of(input.as_object())
    }

    /// [`expected_duration`](Self::expected_duration) of an `input` object, if any.
    pub(crate) fn expected_duration_of(
        &self,
        input: Option<&Map<String, Value>>,
    ) -> Option<Duration> {
        let hint = self.declared.duration.as_ref()?;
        let length = match &hint.length {
            Some(length) => self
                .value_or_default(input, &length.input)
                .and_then(number)
                .unwrap_or(length.default)
                .clamp(0.0, MAX_LENGTH),
            None => 0.0,
        };
        let seconds = hint
            .factors
            .iter()
            .map(|factor| factor.of(self.value_or_default(input, &factor.input)))
            .fold(
                (hint.base_seconds + hint.seconds_per_output_second * length) * hint.scale,
                |seconds, factor| seconds * factor,
            );
        Duration::try_from_secs_f64(seconds).ok()
    }

    /// A label for tasks that take about as long as each other (`8s 720p audio`): the inputs
    /// the model declares its expected duration depends on.
    pub fn workload(&self, input: &Value) -> String {
        self.workload_of(input.as_object())
    }

    /// [`workload`](Self::workload) of an `input` object, if any.
    pub(crate) fn workload_of(&self, input: Option<&Map<String, Value>>) -> String {
        let Some(hint) = &self.declared.duration else {
            return String::new();
        };
        let value = |name: &str| self.value_or_default(input, name);
        let length = hint
            .length
            .iter()
            .filter_map(|length| value(&length.input))
            .map(|seconds| format!("{}s", display(seconds)));
        let factors =
            hint.factors
                .iter()
                .filter_map(|factor| match (&factor.label, value(&factor.input)) {
                    (Some(label), Some(Value::Bool(true))) => Some(label.clone()),
                    (Some(_), _) | (None, None) => None,
                    (None, Some(given)) => Some(display(given)),
                });
        length.chain(factors).collect::<Vec<_>>().join(" ")
    }

    fn value_or_default<'a>(
        &'a self,
        input: Option<&'a Map<String, Value>>,
        name: &str,
    ) -> Option<&'a Value> {
        input
            .and_then(|input| input.get(name))
            .filter(|v| !v.is_null())
            .or_else(|| {
                let properties = self.input_schema().get("properties")?;
                properties.get(name)?.get("default")
            })
    }
}

/// One input of a model, as its spec declares it.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    name: &'a str,
    schema: &'a Value,
    required: bool,
    file: Option<&'a FileHint>,
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

    /// For an input that takes URLs of files (`format: uri`): the files a local one may be, as
    /// the model declares them (`x-apikley-files`); any file of any size when it declares
    /// nothing.
    pub fn file_rules(&self) -> Option<FileRules> {
        file_rules(self.schema, self.file)
    }
}

/// Whether an input takes URLs of files (`format: uri`, or a list of them).
pub(super) fn takes_files(schema: &Value) -> bool {
    let item = match type_of(schema) {
        Some("array") => keyword(schema, "items"),
        _ => Some(schema),
    };
    item.and_then(|i| keyword(i, "format"))
        .and_then(Value::as_str)
        == Some("uri")
}

/// What a file input (schema `schema`) takes: as declared, else any file.
pub(super) fn file_rules(schema: &Value, declared: Option<&FileHint>) -> Option<FileRules> {
    if !takes_files(schema) {
        return None;
    }
    let declared = declared.cloned().unwrap_or_default();
    Some(FileRules::owned(
        declared.max_bytes.unwrap_or(u64::MAX),
        declared.types,
    ))
}

/// A keyword of a schema node, found by a scan rather than a hash: a node has a handful of
/// keys, and hashing each lookup was most of the time a request's check took.
pub(super) fn keyword<'a>(schema: &'a Value, key: &str) -> Option<&'a Value> {
    let node = schema.as_object()?;
    node.iter().find_map(|(k, v)| (k == key).then_some(v))
}

/// The names an object schema's `required` lists.
pub(super) fn required(schema: &Value) -> Vec<&str> {
    keyword(schema, "required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

pub(super) fn type_of(schema: &Value) -> Option<&str> {
    match keyword(schema, "type")? {
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
pub(super) fn display(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
