//! A request for any model: its inputs as JSON, checked against the model's spec before
//! anything is sent, with local files for the inputs that take URLs of files.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::error::{Violation, Violations};
use crate::files::MediaSource;
use crate::model::Model;
use crate::spec::ModelSpec;
use crate::wait::Workload;

/// Re-reads a body through a model's generated type: the body that is sent is spec-exact.
type Typed = fn(&Value) -> Result<Value, String>;

/// A request to one model: inputs by name (any JSON), an optional callback URL, and the
/// model's spec, which checks every rule at once before anything is sent.
///
/// An input that takes URLs of files (`format: uri`) also takes local paths: they are checked
/// (format by content, size, as the spec's description states) and uploaded on submit.
///
/// ```
/// # fn spec() -> std::sync::Arc<apikley::ModelSpec> {
/// #   let schema = serde_json::json!({
/// #     "type": "object",
/// #     "properties": {
/// #       "model": {"type": "string", "enum": ["example/video"]},
/// #       "input": {"type": "object", "required": ["prompt"], "properties": {
/// #         "prompt": {"type": "string", "minLength": 3},
/// #         "sound": {"type": "boolean"}
/// #       }}
/// #     }
/// #   });
/// #   let document = serde_json::json!({"paths": {"/api/v1/jobs/createTask": {"post": {
/// #     "summary": "Generate videos",
/// #     "requestBody": {"content": {"application/json": {"schema": schema}}}
/// #   }}}});
/// #   std::sync::Arc::new(apikley::ModelSpec::from_document(&document).unwrap())
/// # }
/// use apikley::Request;
/// use serde_json::json;
///
/// let request = Request::new(spec()).with_inputs(json!({"prompt": "A fox in snow", "sound": true}));
/// assert!(request.violations().is_empty());
/// let bad = Request::new(spec()).with_input("prompt", "ok").with_input("sound", "yes");
/// assert_eq!(bad.violations().fields(), ["input.prompt", "input.sound"]);
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Request {
    spec: Result<Arc<ModelSpec>, Arc<str>>,
    input: Map<String, Value>,
    callback_url: Option<String>,
    typed: Option<Typed>,
    /// The body as [`check`](Request::check) found it valid: a request is checked once, and
    /// any change forgets it.
    checked: Option<Value>,
}

impl Request {
    /// A request to the model `spec` describes, with no inputs yet.
    pub fn new(spec: Arc<ModelSpec>) -> Self {
        Request {
            spec: Ok(spec),
            input: Map::new(),
            callback_url: None,
            typed: None,
            checked: None,
        }
    }

    /// A request to model `M`, whose body is re-read through its generated type before it is
    /// sent.
    pub fn of<M: Model>() -> Self {
        Request {
            spec: ModelSpec::of::<M>(),
            input: Map::new(),
            callback_url: None,
            typed: Some(|body| {
                serde_json::from_value::<M::Body>(body.clone())
                    .and_then(serde_json::to_value)
                    .map_err(|e| e.to_string())
            }),
            checked: None,
        }
    }

    /// A request made of a spec-exact body of model `M`.
    pub fn from_body<M: Model>(body: &M::Body) -> Self {
        let mut request = Request::of::<M>();
        match serde_json::to_value(body) {
            Ok(Value::Object(mut body)) => {
                if let Some(Value::Object(input)) = body.remove("input") {
                    request.input = input;
                }
                request.callback_url = body
                    .remove("callBackUrl")
                    .and_then(|url| url.as_str().map(str::to_owned));
            }
            Ok(other) => request.spec = Err(format!("the body is not an object: {other}").into()),
            Err(e) => request.spec = Err(format!("the body does not serialize: {e}").into()),
        }
        request
    }

    /// Sets input `name` (replacing any earlier value).
    pub fn with_input(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.checked = None;
        self.input.insert(name.to_owned(), value.into());
        self
    }

    /// Sets every input of a JSON object (a value that is not an object sets nothing).
    pub fn with_inputs(mut self, inputs: Value) -> Self {
        if let Value::Object(inputs) = inputs {
            self.checked = None;
            self.input.extend(inputs);
        }
        self
    }

    /// Adds a value to list input `name` (making it a list if it was not one).
    pub fn with_item(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.checked = None;
        let entry = self
            .input
            .entry(name.to_owned())
            .or_insert_with(|| Value::Array(Vec::new()));
        match entry {
            Value::Array(items) => items.push(value.into()),
            other => *other = Value::Array(vec![other.take(), value.into()]),
        }
        self
    }

    /// Sets a file input: a URL, or a local file uploaded on submit. For a list input, adds it.
    pub fn with_file(self, name: &str, file: impl Into<MediaSource>) -> Self {
        let text = match file.into() {
            MediaSource::Url(url) => url,
            MediaSource::File(path) => path.to_string_lossy().into_owned(),
        };
        let list = self
            .spec()
            .and_then(|spec| spec.input(name))
            .is_some_and(|input| input.is_list());
        if list {
            self.with_item(name, text)
        } else {
            self.with_input(name, text)
        }
    }

    /// Where Apikley POSTs the result when the task ends (an absolute http(s) URL).
    pub fn with_callback_url(mut self, url: impl Into<String>) -> Self {
        self.checked = None;
        self.callback_url = Some(url.into());
        self
    }

    /// The model's spec, if it could be read.
    pub fn spec(&self) -> Option<&ModelSpec> {
        self.spec.as_deref().ok()
    }

    /// The model's id.
    pub fn model_id(&self) -> Option<&str> {
        self.spec().map(ModelSpec::id)
    }

    /// The file format the request asks for ([`ModelSpec::output_media_type`]).
    pub fn output_media_type(&self) -> Option<crate::MediaType> {
        self.spec()?
            .media_type_for(self.inputs().get("output_format"))
    }

    /// The inputs as given.
    pub fn inputs(&self) -> &Map<String, Value> {
        &self.input
    }

    /// The local files among the file inputs, where they are (`input_urls`, index in the list).
    pub fn local_files(&self) -> Vec<(String, Option<usize>, PathBuf)> {
        let mut files = Vec::new();
        for input in self.spec().map(ModelSpec::inputs).unwrap_or_default() {
            if input.file_rules().is_none() {
                continue;
            }
            match self.input.get(input.name()) {
                Some(Value::String(text)) => {
                    if let Some(path) = local(text) {
                        files.push((input.name().to_owned(), None, path));
                    }
                }
                Some(Value::Array(items)) => {
                    for (i, item) in items.iter().enumerate() {
                        if let Some(path) = item.as_str().and_then(local) {
                            files.push((input.name().to_owned(), Some(i), path));
                        }
                    }
                }
                _ => {}
            }
        }
        files
    }

    /// Every rule the request breaks, all at once: the spec's (each with its JSON path), and
    /// those of its local files (format by content, size). Empty when it may be sent.
    pub fn violations(&self) -> Violations {
        match &self.checked {
            Some(_) => Violations::new(),
            None => self.checked_body().err().unwrap_or_default(),
        }
    }

    /// Checks the request once, as [`violations`](Request::violations) does, and keeps what it
    /// found valid, so that submitting it does not check it again (until it is changed).
    pub fn check(mut self) -> Result<Request, Violations> {
        if self.checked.is_none() {
            self.checked = Some(self.checked_body()?);
        }
        Ok(self)
    }

    /// The body the request makes, spec-exact through the model's generated type when it has
    /// one (local files still as paths), or every rule it breaks.
    fn checked_body(&self) -> Result<Value, Violations> {
        let mut violations = Violations::new();
        let spec = match &self.spec {
            Ok(spec) => spec,
            Err(reason) => {
                violations.push(Violation::new(
                    "model",
                    format!("has a spec that cannot be read ({reason})"),
                    "the model's document",
                ));
                return Err(violations);
            }
        };
        let draft = self.body();
        violations.extend(spec.validate_request(&draft).iter().cloned());
        violations.into_result()?;
        match self.typed {
            None => Ok(draft),
            Some(typed) => typed(&draft).map_err(|reason| {
                let mut violations = Violations::new();
                violations.push(Violation::new(
                    "body",
                    "does not fit the model's generated type",
                    reason,
                ));
                violations
            }),
        }
    }

    /// The body to send when the request has no local files, checked once: kept by
    /// [`check`](Request::check), or checked now.
    pub(crate) fn checked(&self) -> Result<Value, Violations> {
        match &self.checked {
            Some(body) => Ok(body.clone()),
            None => self.checked_body(),
        }
    }

    /// The `createTask` body this request makes: required inputs the spec gives a default
    /// filled in, local files still as their paths (they become hosted URLs on submit).
    pub fn body(&self) -> Value {
        self.body_with(&HashMap::new())
    }

    /// The body, with local files replaced by their hosted URLs, and required inputs the spec
    /// gives a default filled in.
    pub(crate) fn body_with(&self, hosted: &HashMap<PathBuf, String>) -> Value {
        let mut input = self.input.clone();
        for value in input.values_mut() {
            let replace = |text: &mut String| {
                if let Some(url) = local(text).and_then(|path| hosted.get(&path)) {
                    *text = url.clone();
                }
            };
            match value {
                Value::String(text) => replace(text),
                Value::Array(items) => {
                    for item in items {
                        if let Value::String(text) = item {
                            replace(text);
                        }
                    }
                }
                _ => {}
            }
        }
        let spec = self.spec();
        for (name, default) in spec.into_iter().flat_map(ModelSpec::required_defaults) {
            if !input.contains_key(name) {
                input.insert(name.to_owned(), default.clone());
            }
        }
        let mut body = Map::new();
        if let Some(id) = spec.map(ModelSpec::id) {
            body.insert("model".into(), id.into());
        }
        if let Some(url) = &self.callback_url {
            body.insert("callBackUrl".into(), url.clone().into());
        }
        body.insert("input".into(), Value::Object(input));
        Value::Object(body)
    }

    /// The body to send: spec-exact through the model's generated type, when it has one.
    pub(crate) fn final_body(&self, hosted: &HashMap<PathBuf, String>) -> Result<Value, String> {
        let body = self.body_with(hosted);
        match self.typed {
            Some(typed) => typed(&body),
            None => Ok(body),
        }
    }

    /// The label tasks that take about as long are learned under, and a rough prior for how
    /// long the task takes, from the spec and the inputs.
    pub(crate) fn workload(&self) -> Workload {
        let Some(spec) = self.spec() else {
            return Workload {
                key: String::new(),
                prior: None,
            };
        };
        Workload {
            key: format!("{} {}", spec.id(), spec.workload_of(Some(&self.input))),
            prior: spec.expected_duration_of(Some(&self.input)),
        }
    }
}

/// A local path, when `text` is not a URL.
fn local(text: &str) -> Option<PathBuf> {
    match MediaSource::from(text) {
        MediaSource::File(path) if !text.trim().is_empty() => Some(path),
        _ => None,
    }
}

impl From<Arc<ModelSpec>> for Request {
    fn from(spec: Arc<ModelSpec>) -> Self {
        Request::new(spec)
    }
}
