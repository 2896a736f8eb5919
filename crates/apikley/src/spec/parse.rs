//! Reading a model's document: its one `createTask` operation, the body schema with every `$ref`
//! resolved, and its declarations, each checked against the inputs it speaks of.

use std::borrow::Cow;

use apikley_model::{DURATION_EXTENSION, DeclarationError, Declarations, FILES_EXTENSION};
use serde_json::{Map, Value};

use super::ModelSpec;
use super::describe::takes_files;
use crate::endpoint::Endpoint;

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
    /// A declaration (`x-apikley-…`) cannot be read.
    #[error(transparent)]
    Declaration(#[from] DeclarationError),
    /// A declaration speaks of an input the model does not have (or, for files, one that
    /// takes no file URLs).
    #[error("`{extension}` speaks of input `{input}`, {why}")]
    DeclaredInput {
        /// The extension.
        extension: &'static str,
        /// The input it names.
        input: String,
        /// What is wrong with that.
        why: &'static str,
    },
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
        let family = document
            .pointer("/info/title")
            .and_then(Value::as_str)
            .map(|title| title.trim().trim_end_matches("API").trim_end())
            .filter(|family| !family.is_empty())
            .map(str::to_owned);
        let declared = Declarations::read(operation)?;
        check_declared(&declared, &body)?;
        Ok(ModelSpec {
            id,
            summary,
            family,
            endpoint: Endpoint {
                method: Cow::Borrowed("POST"),
                path: Cow::Owned(full_path),
            },
            body,
            example,
            declared,
        })
    }
}

/// Refuses declarations about inputs the body does not have.
fn check_declared(declared: &Declarations, body: &Value) -> Result<(), SpecError> {
    let inputs = body.pointer("/properties/input/properties");
    let input = |name: &str| inputs.and_then(|i| i.get(name));
    let refuse = |extension, name: &str, why| SpecError::DeclaredInput {
        extension,
        input: name.to_owned(),
        why,
    };
    for name in declared.files.keys() {
        match input(name) {
            None => {
                return Err(refuse(
                    FILES_EXTENSION,
                    name,
                    "which the model does not have",
                ));
            }
            Some(schema) if !takes_files(schema) => {
                return Err(refuse(
                    FILES_EXTENSION,
                    name,
                    "which takes no file URLs (`format: uri`)",
                ));
            }
            Some(_) => {}
        }
    }
    let duration = declared.duration.iter();
    let named = duration.flat_map(|hint| {
        hint.length
            .iter()
            .map(|l| &l.input)
            .chain(hint.factors.iter().map(|f| &f.input))
    });
    for name in named {
        if input(name).is_none() {
            return Err(refuse(
                DURATION_EXTENSION,
                name,
                "which the model does not have",
            ));
        }
    }
    Ok(())
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
