//! Checking a request against the spec before anything is sent: every rule of the body's
//! schema, every violation at once, each with its JSON path. The checker fails closed: a
//! keyword it does not enforce is named by [`ModelSpec::unchecked_keywords`], and `new-model`
//! and `regen` refuse the spec.

use std::collections::BTreeMap;

use apikley_model::FileHint;
use serde_json::{Map, Value};

use super::ModelSpec;
use super::describe::{display, file_rules, keyword, required, type_of};
use crate::error::{Violation, Violations};
use crate::files::{FileRules, MediaSource};

impl ModelSpec {
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
            files: &self.declared.files,
        };
        check(&self.body, body, "", ctx, &mut violations);
        violations
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
    /// What the model declares its file inputs take.
    files: &'r BTreeMap<String, FileHint>,
}

/// Checks `value` against `schema` at `path`, adding every violation to `out`, in the order the
/// schema declares its properties.
fn check(schema: &Value, value: &Value, path: &str, ctx: Context<'_>, out: &mut Violations) {
    let field = if path.is_empty() { "body" } else { path };
    // A schema without a type takes null, unless it lists its values (null among them or not).
    let null_allowed = keyword(schema, "nullable") == Some(&Value::Bool(true))
        || (type_of(schema).is_none() && keyword(schema, "enum").is_none())
        || keyword(schema, "type")
            .and_then(Value::as_array)
            .is_some_and(|kinds| kinds.contains(&Value::from("null")));
    if value.is_null() && null_allowed {
        return;
    }
    if let Some(constant) = keyword(schema, "const")
        && !same(constant, value)
    {
        out.push(Violation::new(
            field,
            format!("must be {}", allowed(constant)),
            given(value),
        ));
        return;
    }
    let values = keyword(schema, "enum").and_then(Value::as_array);
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
    for part in keyword(schema, "allOf")
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
    if let Some(branches) = keyword(schema, "anyOf").and_then(Value::as_array)
        && !branches.iter().any(fits)
    {
        out.push(Violation::new(
            field,
            "matches none of the allowed shapes",
            given(value),
        ));
    }
    if let Some(branches) = keyword(schema, "oneOf").and_then(Value::as_array) {
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
    if let Some(forbidden) = keyword(schema, "not")
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
            let bound = |key: &str| keyword(schema, key).and_then(Value::as_u64);
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
            if keyword(schema, "uniqueItems") == Some(&Value::Bool(true))
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
            if let Some(item_schema) = keyword(schema, "items") {
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
    let properties = keyword(schema, "properties").and_then(Value::as_object);
    let required = required(schema);
    let missing = |name: &str| fields.get(name).is_none_or(Value::is_null);
    for (name, item_schema) in properties.into_iter().flatten() {
        match fields.get(name) {
            Some(item) if !item.is_null() || !required.contains(&name.as_str()) => {
                // The body and its input are strict; deeper objects follow their schema.
                let in_input = path == "input";
                let rules = in_input
                    .then(|| file_rules(item_schema, ctx.files.get(name)))
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
    let closed = ctx.strict || keyword(schema, "additionalProperties") == Some(&Value::Bool(false));
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
    let bound = |key: &str| keyword(schema, key).and_then(Value::as_u64);
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
    let bound = |key: &str| keyword(schema, key).and_then(Value::as_u64);
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
    if let Some(pattern) = keyword(schema, "pattern").and_then(Value::as_str) {
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
    if keyword(schema, "format").and_then(Value::as_str) == Some("uri") && !fetchable(text) {
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
    let bound = |key: &str| keyword(schema, key).and_then(Value::as_f64);
    // OpenAPI 3.0 marks exclusive bounds with a boolean; 3.1 gives the bound itself.
    let exclusive = |key: &str, plain: &str| match keyword(schema, key) {
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
