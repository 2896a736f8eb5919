//! A jobs file: one JSON object per line, `{"key": …, "model": …, "input": {…}}` (and an
//! optional `"callBackUrl"`). Every line is read and checked against its model's spec before
//! anything is sent; every problem is reported with its line number.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use apikley::{ModelSpec, Request};
use serde_json::{Map, Value};

/// The fields a line may have.
const FIELDS: [&str; 4] = ["key", "model", "input", "callBackUrl"];

/// One job, from its line.
#[derive(Debug)]
pub struct JobLine {
    /// Its line number (from 1).
    pub line: usize,
    /// Its key.
    pub key: String,
    /// Its request, checked.
    pub request: Request,
}

/// A problem on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineProblem {
    /// The line number (from 1).
    pub line: usize,
    /// What is wrong.
    pub problem: String,
}

impl fmt::Display for LineProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.problem)
    }
}

/// Reads every line of `text`, with `find` naming the models. Blank lines are skipped.
pub fn parse(
    text: &str,
    find: impl Fn(&str) -> Option<Arc<ModelSpec>>,
) -> Result<Vec<JobLine>, Vec<LineProblem>> {
    let mut jobs = Vec::new();
    let mut problems = Vec::new();
    // Each key in lower case: its first line, as written.
    let mut keys: HashMap<String, (usize, String)> = HashMap::new();
    for (index, text) in text.lines().enumerate() {
        let line = index + 1;
        if text.trim().is_empty() {
            continue;
        }
        let mut problem = |problem: String| problems.push(LineProblem { line, problem });
        let object = match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(object)) => object,
            Ok(other) => {
                problem(format!("a job is a JSON object, not {}", kind(&other)));
                continue;
            }
            Err(e) => {
                problem(format!("not JSON: {e}"));
                continue;
            }
        };
        for name in object.keys().filter(|k| !FIELDS.contains(&k.as_str())) {
            problem(format!(
                "unknown field {name:?} (a job has {})",
                FIELDS.join(", ")
            ));
        }
        let key = match object.get("key") {
            Some(Value::String(key)) if !key.is_empty() => Some(key.clone()),
            Some(_) => {
                problem("\"key\" must be a non-empty string".into());
                None
            }
            None => {
                problem("no \"key\"".into());
                None
            }
        };
        if let Some(key) = &key {
            if let Some(bad) = apikley::batch::key_problem(key) {
                problem(format!("key {key:?}: {bad}"));
            }
            // Keys that differ only in case name one file on macOS and Windows.
            match keys.get(&key.to_lowercase()) {
                Some((first, other)) if other == key => {
                    problem(format!("key {key:?} is also on line {first}"));
                }
                Some((first, other)) => problem(format!(
                    "key {key:?} differs from {other:?} on line {first} only in case: they would name one file on macOS and Windows"
                )),
                None => {
                    keys.insert(key.to_lowercase(), (line, key.clone()));
                }
            }
        }
        let spec = match object.get("model") {
            Some(Value::String(model)) => match find(model) {
                Some(spec) => Some(spec),
                None => {
                    problem(format!(
                        "model {model:?} is not one this build knows (see `apikley models`)"
                    ));
                    None
                }
            },
            Some(_) => {
                problem("\"model\" must be a string".into());
                None
            }
            None => {
                problem("no \"model\"".into());
                None
            }
        };
        let input = match object.get("input") {
            Some(Value::Object(input)) => input.clone(),
            Some(other) => {
                problem(format!("\"input\" must be an object, not {}", kind(other)));
                Map::new()
            }
            None => {
                problem("no \"input\"".into());
                Map::new()
            }
        };
        let callback = match object.get("callBackUrl") {
            None | Some(Value::Null) => None,
            Some(Value::String(url)) => Some(url.clone()),
            Some(_) => {
                problem("\"callBackUrl\" must be a string".into());
                None
            }
        };
        let Some(spec) = spec else { continue };
        let mut request = Request::new(spec).with_inputs(Value::Object(input));
        if let Some(url) = callback {
            request = request.with_callback_url(url);
        }
        // Checked once: a batch does not check its jobs again.
        let request = match request.check() {
            Ok(request) => request,
            Err(violations) => {
                for violation in violations.iter() {
                    problem(violation.to_string());
                }
                continue;
            }
        };
        if let Some(key) = key {
            jobs.push(JobLine { line, key, request });
        }
    }
    if problems.is_empty() {
        Ok(jobs)
    } else {
        Err(problems)
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(name: &str) -> Option<Arc<ModelSpec>> {
        let spec = ModelSpec::of::<apikley_test_support::ExampleVideo>().expect("a spec");
        (name == "example/video").then_some(spec)
    }

    #[test]
    fn good_lines_become_jobs() {
        let text = r#"{"key": "a", "model": "example/video", "input": {"prompt": "A fox"}}

{"key": "b", "model": "example/video", "input": {"prompt": "A cat", "duration": 10}, "callBackUrl": "https://example.com/cb"}
"#;
        let jobs = parse(text, find).expect("valid");
        let lines: Vec<(usize, &str)> = jobs.iter().map(|j| (j.line, j.key.as_str())).collect();
        assert_eq!(lines, [(1, "a"), (3, "b")]);
        assert_eq!(
            jobs[1].request.body()["callBackUrl"],
            "https://example.com/cb"
        );
    }

    #[test]
    fn every_problem_is_listed_with_its_line() {
        let text = [
            r#"{"key": "a", "model": "example/video", "input": {"prompt": "A fox"}}"#,
            r#"{"key": "a", "model": "example/video", "input": {"prompt": "Again"}}"#,
            "not json",
            r#"["a list"]"#,
            r#"{"model": "nope", "input": {}}"#,
            r#"{"key": "../x", "model": "example/video", "input": {"prompt": "", "duration": -5}, "extra": 1}"#,
        ]
        .join("\n");
        let problems = parse(&text, find).expect_err("broken");
        let lines: Vec<usize> = problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, [2, 3, 4, 5, 5, 6, 6, 6, 6], "{problems:#?}");
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(text[0], r#"line 2: key "a" is also on line 1"#);
        assert!(text[1].starts_with("line 3: not JSON"), "{}", text[1]);
        assert_eq!(text[2], "line 4: a job is a JSON object, not an array");
        assert_eq!(text[3], "line 5: no \"key\"");
        assert!(text[4].contains("model \"nope\" is not one this build knows"));
        assert!(text[5].starts_with(r#"line 6: unknown field "extra""#));
        assert_eq!(
            text[6],
            r#"line 6: key "../x": a key has letters, digits, '.', '_' and '-' only: it names the result file"#
        );
        assert!(text[7].starts_with("line 6: input.prompt"), "{}", text[7]);
        assert!(text[8].starts_with("line 6: input.duration"), "{}", text[8]);
    }

    #[test]
    fn keys_are_portable_file_names_unlike_each_other_in_case() {
        let line = |key: &str| {
            format!(
                r#"{{"key": "{key}", "model": "example/video", "input": {{"prompt": "A fox"}}}}"#
            )
        };
        let text = [
            line("Fox-01"),
            line("fox-01"),
            line("CON"),
            line("nul.v2"),
            line("com1"),
            line("shot."),
            line("COM0"),
            line("console"),
        ]
        .join("\n");
        let problems = parse(&text, find).expect_err("broken keys");
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                r#"line 2: key "fox-01" differs from "Fox-01" on line 1 only in case: they would name one file on macOS and Windows"#,
                r#"line 3: key "CON": the key is a device name on Windows (CON, PRN, AUX, NUL, COM1-9, LPT1-9): it cannot name a file there"#,
                r#"line 4: key "nul.v2": the key is a device name on Windows (CON, PRN, AUX, NUL, COM1-9, LPT1-9): it cannot name a file there"#,
                r#"line 5: key "com1": the key is a device name on Windows (CON, PRN, AUX, NUL, COM1-9, LPT1-9): it cannot name a file there"#,
                r#"line 6: key "shot.": a key must not end with '.': Windows drops it from the file name"#,
            ]
        );
    }
}
