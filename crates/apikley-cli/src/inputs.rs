//! Inputs from a command line, typed by the model's spec: `key=value` (a number where the spec
//! says number, a boolean where it says boolean, a string where it says string even when it
//! holds a number), `key=value` again for each item of a list, `key:=JSON` for any JSON.

use std::sync::Arc;

use apikley::{ModelSpec, Request, Violation, Violations};
use serde_json::{Map, Value};

/// Builds a request to `spec`'s model from `key=value` (or `key:=JSON`) arguments and an
/// optional callback URL, listing every problem at once: unknown keys, values that are not of
/// the input's type, and then every rule of the spec.
pub fn request(
    spec: Arc<ModelSpec>,
    args: &[impl AsRef<str>],
    callback_url: Option<&str>,
) -> Result<Request, Violations> {
    request_from(spec, Map::new(), args, callback_url)
}

/// [`request`] on top of the inputs `base` (a result's, made again): an input the arguments
/// name is replaced, not added to.
pub fn request_from(
    spec: Arc<ModelSpec>,
    mut base: Map<String, Value>,
    args: &[impl AsRef<str>],
    callback_url: Option<&str>,
) -> Result<Request, Violations> {
    for arg in args {
        if let Some((name, _)) = arg.as_ref().split_once('=') {
            base.remove(name.trim_end_matches(':').trim());
        }
    }
    let mut problems = Violations::new();
    let mut request = Request::new(spec.clone()).with_inputs(Value::Object(base));
    if let Some(url) = callback_url {
        request = request.with_callback_url(url);
    }
    for arg in args {
        let arg = arg.as_ref();
        let (name, value) = match arg.split_once(":=") {
            Some((name, json)) if !name.contains('=') => match serde_json::from_str(json) {
                Ok(value) => (name, Typed::Whole(value)),
                Err(e) => {
                    problems.push(Violation::new(
                        format!("input.{name}"),
                        format!("is not JSON ({e})"),
                        json,
                    ));
                    continue;
                }
            },
            _ => match arg.split_once('=') {
                Some((name, text)) => (name, Typed::Text(text)),
                None => {
                    problems.push(Violation::new(
                        "arguments",
                        "must be key=value (or key:=JSON)",
                        format!("{arg:?}"),
                    ));
                    continue;
                }
            },
        };
        let name = name.trim();
        let Some(input) = spec.input(name) else {
            let known: Vec<&str> = spec.inputs().iter().map(|i| i.name()).collect();
            problems.push(Violation::new(
                format!("input.{name}"),
                format!(
                    "is not an input of {} (inputs: {})",
                    spec.id(),
                    known.join(", ")
                ),
                format!("{arg:?}"),
            ));
            continue;
        };
        let value = match value {
            Typed::Whole(value) => value,
            Typed::Text(text) => {
                let schema = match (input.is_list(), input.schema().get("items")) {
                    (true, Some(items)) => items,
                    _ => input.schema(),
                };
                match typed(schema, text) {
                    Ok(value) => value,
                    Err(kind) => {
                        problems.push(Violation::new(
                            format!("input.{name}"),
                            format!("must be {kind}"),
                            format!("{text:?}"),
                        ));
                        continue;
                    }
                }
            }
        };
        request = if input.is_list() && !value.is_array() {
            request.with_item(name, value)
        } else {
            request.with_input(name, value)
        };
    }
    // The spec's own rules, for what could be read (a problem above is not repeated); checked
    // once: the client does not check the request again.
    let read: Vec<String> = problems.iter().map(|p| p.field.clone()).collect();
    let request = match request.check() {
        Ok(request) => request,
        Err(violations) => {
            let new = violations
                .iter()
                .filter(|v| !read.iter().any(|f| v.field.starts_with(f.as_str())));
            problems.extend(new.cloned());
            return Err(problems);
        }
    };
    problems.into_result().map(|()| request)
}

enum Typed<'a> {
    /// `key=value`: typed by the schema.
    Text(&'a str),
    /// `key:=JSON`: as given.
    Whole(Value),
}

/// `text` as the JSON the schema asks for, or the kind it should have been.
fn typed(schema: &Value, text: &str) -> Result<Value, &'static str> {
    let kind = schema.get("type").and_then(Value::as_str);
    match kind {
        Some("string") => Ok(Value::String(text.to_owned())),
        Some("integer") => text
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| "an integer"),
        // A whole number stays whole (`-1`, not `-1.0`).
        Some("number") => match text.trim().parse::<i64>() {
            Ok(whole) => Ok(Value::from(whole)),
            Err(_) => text
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .ok_or("a number"),
        },
        Some("boolean") => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Ok(Value::Bool(true)),
            "false" | "no" | "off" | "0" => Ok(Value::Bool(false)),
            _ => Err("true or false"),
        },
        Some("array") | Some("object") => serde_json::from_str(text).map_err(|_| "JSON"),
        // No type: JSON when it is JSON, else text.
        _ => Ok(serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))),
    }
}

/// The inputs of a model, for people: name, type, whether required, allowed values, default,
/// bounds, files, description.
pub fn describe(spec: &ModelSpec) -> String {
    let mut out = format!("{}\n", spec.id());
    if let Some(summary) = spec.summary() {
        out.push_str(&format!("{summary}\n"));
    }
    out.push_str(&format!("produces: {}\n", produces(spec)));
    out.push_str(
        "\ninputs (key=value; repeat the key for each item of a list; key:=JSON for any JSON):\n",
    );
    for input in spec.inputs() {
        let facts = facts_of(&input);
        out.push_str(&format!(
            "  {}  ({}; {facts})\n",
            input.name(),
            input.kind()
        ));
        if let Some(description) = input.description() {
            for line in description.lines().filter(|l| !l.trim().is_empty()) {
                out.push_str(&format!("      {}\n", line.trim()));
            }
        }
    }
    out
}

/// What the model produces, and where that comes from: `video (declared by its spec)`, or
/// `other (not declared: …)`.
fn produces(spec: &ModelSpec) -> String {
    match spec.declared_kind() {
        Some(kind) => format!("{kind} (declared by its spec)"),
        None => format!(
            "{} (not declared: its spec states no `{}`)",
            spec.kind(),
            apikley::OUTPUT_EXTENSION
        ),
    }
}

/// What the spec says of input `name`, in a line: required, allowed values, default, bounds,
/// files (`required; one of 1:1, 16:9; default 1:1`). `None` for a name that is no input.
pub fn facts(spec: &ModelSpec, name: &str) -> Option<String> {
    spec.input(name).map(|input| facts_of(&input))
}

fn facts_of(input: &apikley::Input<'_>) -> String {
    let mut facts = Vec::new();
    // A required input with a default is filled in when not given.
    if input.is_required() && input.default().is_none() {
        facts.push("required".into());
    }
    let values = input.values();
    if !values.is_empty() {
        let list: Vec<String> = values.iter().map(|v| shown(v)).collect();
        facts.push(format!("one of {}", list.join(", ")));
    }
    if let Some(default) = input.default() {
        facts.push(format!("default {}", shown(default)));
    }
    let rules = input.file_rules();
    facts.extend(
        input
            .bounds()
            .into_iter()
            .filter(|bound| rules.is_none() || bound != "format uri"),
    );
    if let Some(rules) = rules {
        facts.push(files(&rules));
    }
    if facts.is_empty() {
        facts.push("optional".into());
    }
    facts.join("; ")
}

/// The inputs as JSON.
pub fn describe_json(spec: &ModelSpec) -> Value {
    let inputs: Vec<Value> = spec
        .inputs()
        .iter()
        .map(|input| {
            serde_json::json!({
                "name": input.name(),
                "type": input.kind(),
                "required": input.is_required(),
                "values": input.values(),
                "default": input.default(),
                "bounds": input.bounds(),
                "files": input.file_rules().map(|rules| files(&rules)),
                "description": input.description(),
            })
        })
        .collect();
    serde_json::json!({
        "model": spec.id(),
        "summary": spec.summary(),
        "produces": spec.kind().as_str(),
        "produces_declared": spec.declared_kind().is_some(),
        "endpoint": format!("{} {}", spec.endpoint().method(), spec.endpoint().path()),
        "inputs": inputs,
    })
}

fn files(rules: &apikley::FileRules) -> String {
    let types: Vec<String> = rules.types.iter().map(ToString::to_string).collect();
    let kinds = if types.is_empty() {
        "any file".to_owned()
    } else {
        types.join("/")
    };
    match rules.max_bytes {
        u64::MAX => format!("URL or local file: {kinds}"),
        max => format!("URL or local file: {kinds}, at most {}", size(max)),
    }
}

/// A size in decimal units, as the specs state them: 10000000 → "10 MB".
fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1_000_000 && b % 100_000 == 0 => format!("{} MB", b as f64 / 1e6),
        b if b >= 1_000 && b % 100 == 0 => format!("{} kB", b as f64 / 1e3),
        b => format!("{b} bytes"),
    }
}

/// A value as a person writes it on the command line: strings bare, except those that hold a
/// number, which are quoted (they are text).
fn shown(value: &Value) -> String {
    match value {
        Value::String(s) if s.parse::<f64>().is_ok() => format!("{s:?}"),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_typed_and_every_problem_is_listed() {
        let spec = apikley_models::find("bytedance/seedance-1.5-pro").expect("registered");
        let args = [
            "prompt=A fox in snow",
            "duration=8",
            "generate_audio=yes",
            "aspect_ratio=16:9",
        ];
        let valid = request(spec.clone(), &args, None).expect("valid");
        assert_eq!(valid.inputs()["duration"], 8);
        assert_eq!(valid.inputs()["generate_audio"], true);
        let problems = request(spec, &["prompt=hi", "duration=eight", "colour=red"], None)
            .expect_err("invalid");
        assert_eq!(
            problems.fields(),
            ["input.duration", "input.colour", "input.prompt"]
        );
    }

    #[test]
    fn sizes_read_as_the_specs_write_them() {
        assert_eq!(size(10_000_000), "10 MB");
        assert_eq!(size(2_500_000), "2.5 MB");
        assert_eq!(size(30_000), "30 kB");
        assert_eq!(size(10_485_761), "10485761 bytes");
    }

    #[test]
    fn values_are_typed_by_the_schema() {
        let string = serde_json::json!({"type": "string", "enum": ["5", "10"]});
        assert_eq!(typed(&string, "5"), Ok(Value::from("5")));
        let integer = serde_json::json!({"type": "integer"});
        assert_eq!(typed(&integer, " 8 "), Ok(Value::from(8)));
        assert_eq!(typed(&integer, "8.5"), Err("an integer"));
        let boolean = serde_json::json!({"type": "boolean"});
        assert_eq!(typed(&boolean, "Yes"), Ok(Value::Bool(true)));
        assert_eq!(typed(&boolean, "maybe"), Err("true or false"));
        let number = serde_json::json!({"type": "number"});
        assert_eq!(typed(&number, "-1"), Ok(Value::from(-1)));
        assert_eq!(typed(&number, "0.5"), Ok(Value::from(0.5)));
        assert_eq!(
            typed(&serde_json::json!({}), "[1]"),
            Ok(serde_json::json!([1]))
        );
    }
}
