//! The `{code, msg, data}` envelope every answer comes in, read leniently: the server is someone
//! else's, and an answer that carries a task id or a result must never be lost to a detail.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::{Map, Value};

/// Answers are small JSON documents; a body longer than this is not one (and is not read further).
pub(crate) const MAX_BODY: usize = 4 << 20;
/// How much of an unexpected body an error quotes.
pub(crate) const SNIPPET_CHARS: usize = 512;
/// How many `{` a body is searched from for its JSON (a proxy's prefix, a byte-order mark).
const MAX_JSON_STARTS: usize = 16;
/// How deep a task id is looked for inside `data`.
const MAX_ID_DEPTH: usize = 4;

/// The API's answer: `code`, `msg` (or `message`) and `data`, whatever their JSON types.
///
/// ```
/// let body = b"\xEF\xBB\xBF{\"code\":\"402\",\"message\":\"Insufficient credits\",\"data\":null}\n\0";
/// let envelope = apikley::Envelope::find(body).expect("JSON inside");
/// assert_eq!(envelope.code, Some(402));
/// assert_eq!(envelope.message.as_deref(), Some("Insufficient credits"));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Envelope {
    /// `code`, read from a number or a numeric string; `None` when absent or unreadable.
    pub code: Option<i64>,
    /// `msg`, or `message` (the docs use both); blank messages are `None`.
    pub message: Option<String>,
    /// `data`, as sent (`Null` when absent).
    pub data: Value,
    /// The other top-level fields, where a task id may also be.
    rest: Map<String, Value>,
}

impl Envelope {
    /// Finds the envelope in a body: a JSON object, possibly with bytes around it (a byte-order
    /// mark, a proxy's prefix, trailing bytes). `None` when the body holds no JSON object, as
    /// with a proxy's or a maintenance page's HTML.
    pub fn find(body: &[u8]) -> Option<Envelope> {
        find_object(body).map(Envelope::from_object)
    }

    fn from_object(mut object: Map<String, Value>) -> Envelope {
        let code = object.get("code").and_then(integer);
        let message = ["msg", "message"]
            .iter()
            .filter_map(|key| object.get(*key))
            .find_map(text)
            .filter(|m| !m.trim().is_empty());
        let data = object.remove("data").unwrap_or(Value::Null);
        for key in ["code", "msg", "message"] {
            object.remove(key);
        }
        Envelope {
            code,
            message,
            data,
            rest: object,
        }
    }

    /// The task id a `createTask` answer carries: `data.taskId`, or the same under another
    /// spelling (`task_id`, `taskID`), as a string or a number, a few levels of wrapping deeper
    /// (the nearest wins), or beside `data`; else a bare `data.id`, or `data` itself when it is a
    /// string. Two different ids at the same depth are no answer: guessing could follow the
    /// wrong task.
    pub fn task_id(&self) -> Option<String> {
        match &self.data {
            Value::String(id) => scalar(&self.data).filter(|_| !id.trim().is_empty()),
            data => nearest_task_id(data)
                .or_else(|| nearest_task_id(&Value::Object(self.rest.clone())))
                .or_else(|| {
                    let bare = data
                        .as_object()?
                        .iter()
                        .filter(|(k, _)| id_key(k) == Some(IdKey::Id));
                    only(bare.filter_map(|(_, v)| scalar(v)))
                }),
        }
    }
}

/// A success answer of exactly the documented shape, `{"code": 200, "msg": …, "data": …}`, read
/// by a typed decoder (no JSON tree for the envelope). The lenient reader takes everything else.
#[derive(Deserialize)]
struct Documented<D> {
    code: i64,
    data: D,
}

/// `createTask`'s documented `data`: the task id and nothing else.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Created<'a> {
    #[serde(rename = "taskId", borrow)]
    task_id: Cow<'a, str>,
}

/// The task id of a `createTask` answer of exactly the documented shape (`code` 200, `data`
/// holding a non-blank `taskId` string and nothing else); `None` for any other answer, which
/// [`Envelope::find`] and [`Envelope::task_id`] then read.
pub(crate) fn documented_task_id(body: &[u8]) -> Option<String> {
    let answer: Documented<Created<'_>> = serde_json::from_slice(body).ok()?;
    let id = answer.data.task_id;
    (answer.code == 200 && !id.is_empty() && id.trim() == id).then(|| id.into_owned())
}

/// The `data` object of a success answer of exactly the documented shape (`code` 200, `data`
/// an object); `None` for any other answer, which [`Envelope::find`] then reads.
pub(crate) fn documented_data(body: &[u8]) -> Option<Value> {
    let answer: Documented<Value> = serde_json::from_slice(body).ok()?;
    (answer.code == 200 && answer.data.is_object()).then_some(answer.data)
}

/// The first JSON object in `body`, tried from each `{` in turn.
pub(crate) fn find_object(body: &[u8]) -> Option<Map<String, Value>> {
    if body.len() > MAX_BODY {
        return None;
    }
    if let Ok(Value::Object(object)) = serde_json::from_slice(body) {
        return Some(object);
    }
    body.iter()
        .enumerate()
        .filter(|(_, b)| **b == b'{')
        .take(MAX_JSON_STARTS)
        .find_map(|(start, _)| {
            let mut values = serde_json::Deserializer::from_slice(&body[start..]).into_iter();
            match values.next() {
                Some(Ok(Value::Object(object))) => Some(object),
                _ => None,
            }
        })
}

#[derive(PartialEq)]
enum IdKey {
    TaskId,
    Id,
}

/// `taskId`, `task_id`, `TaskID`… are task ids; a bare `id` is one only inside `data`.
fn id_key(key: &str) -> Option<IdKey> {
    // Compared without allocating: every key of every answer goes through here.
    let folded = || {
        key.chars()
            .filter(|c| *c != '_' && *c != '-')
            .flat_map(char::to_lowercase)
    };
    if folded().eq("taskid".chars()) {
        Some(IdKey::TaskId)
    } else if folded().eq("id".chars()) {
        Some(IdKey::Id)
    } else {
        None
    }
}

/// A task id's text: a non-blank string, or a number.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The one distinct value, if there is exactly one.
fn only(values: impl Iterator<Item = String>) -> Option<String> {
    let mut distinct: Vec<String> = values.collect();
    distinct.sort();
    distinct.dedup();
    match distinct.as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    }
}

/// The `taskId`-like values nearest the top of `value`, breadth first, if they agree.
fn nearest_task_id(value: &Value) -> Option<String> {
    let mut level = vec![value];
    for _ in 0..=MAX_ID_DEPTH {
        let mut found = Vec::new();
        let mut next = Vec::new();
        for value in level {
            match value {
                Value::Object(fields) => {
                    for (key, value) in fields {
                        if id_key(key) == Some(IdKey::TaskId) {
                            found.extend(scalar(value));
                        } else {
                            next.push(value);
                        }
                    }
                }
                Value::Array(items) => next.extend(items),
                _ => {}
            }
        }
        if !found.is_empty() {
            return only(found.into_iter());
        }
        level = next;
    }
    None
}

/// An integer from a number (`200`, `200.0`) or a numeric string (`"200"`).
pub(crate) fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        }),
        Value::String(s) => integer(&serde_json::from_str(s.trim()).ok()?),
        _ => None,
    }
}

/// A number from a number or a numeric string.
pub(crate) fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

/// Text from a string, or a number or boolean written out; `None` for null, arrays and objects.
pub(crate) fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The start of a body, for an error message: at most [`SNIPPET_CHARS`] characters, with the
/// key replaced wherever it appears (a server could echo it back).
pub(crate) fn snippet(body: &[u8], key: &str) -> String {
    // Redacted before it is cut, so that no key straddling the cut shows its first half.
    let window = &body[..body.len().min(SNIPPET_CHARS * 4 + key.len())];
    redact(&String::from_utf8_lossy(window), key)
        .chars()
        .take(SNIPPET_CHARS)
        .collect()
}

/// `text` with every occurrence of the key replaced. Only what is shown is redacted, never the
/// bytes that are decoded (a short key can occur anywhere).
pub(crate) fn redact(text: &str, key: &str) -> String {
    if key.is_empty() || !text.contains(key) {
        return text.to_owned();
    }
    text.replace(key, "[redacted]")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_envelope_is_found_among_stray_bytes() {
        for body in [
            &br#"{"code":200,"msg":"success","data":{"taskId":"t1"}}"#[..],
            b"\xEF\xBB\xBF{\"code\":200,\"data\":{\"taskId\":\"t1\"}}",
            b")]}',\n{\"code\":200,\"data\":{\"taskId\":\"t1\"}}",
            b"{\"code\":200,\"data\":{\"taskId\":\"t1\"}}\n\0garbage{",
            b"<html><script>{\"code\":200,\"data\":{\"taskId\":\"t1\"}}</script></html>",
        ] {
            let envelope = Envelope::find(body).expect("found");
            assert_eq!(envelope.code, Some(200), "{body:?}");
            assert_eq!(envelope.task_id().as_deref(), Some("t1"), "{body:?}");
        }
        for body in [
            &b""[..],
            b"null",
            b"[1,2]",
            b"<html>502 Bad Gateway</html>",
            b"{",
        ] {
            assert_eq!(Envelope::find(body), None, "{body:?}");
        }
    }

    #[test]
    fn codes_and_messages_are_read_from_any_type() {
        let envelope = Envelope::find(br#"{"code":"433","message":"limit"}"#).unwrap();
        assert_eq!(
            (envelope.code, envelope.message.as_deref()),
            (Some(433), Some("limit"))
        );
        assert_eq!(
            Envelope::find(br#"{"code":200.0}"#).unwrap().code,
            Some(200)
        );
        assert_eq!(Envelope::find(br#"{"code":2.5}"#).unwrap().code, None);
        assert_eq!(
            Envelope::find(br#"{"code":null,"msg":"  "}"#)
                .unwrap()
                .message,
            None
        );
        assert_eq!(
            Envelope::find(br#"{"msg":404}"#)
                .unwrap()
                .message
                .as_deref(),
            Some("404")
        );
    }

    #[test]
    fn a_task_id_is_found_under_other_names_types_and_wrappings() {
        for (body, id) in [
            (r#"{"code":200,"data":{"task_id":"t2"}}"#, "t2"),
            (r#"{"code":200,"data":{"taskID":12345}}"#, "12345"),
            (r#"{"code":200,"data":{"id":"t3"}}"#, "t3"),
            (r#"{"code":200,"data":{"data":{"taskId":"t4"}}}"#, "t4"),
            (
                r#"{"code":200,"data":{"result":{"task":{"taskId":"t5"}}}}"#,
                "t5",
            ),
            (r#"{"code":200,"data":"t6"}"#, "t6"),
            (r#"{"code":200,"taskId":"t7"}"#, "t7"),
            (r#"{"code":200,"data":{},"taskId":"t7b"}"#, "t7b"),
            (r#"{"code":200,"data":{"model":"m","taskId":" t8 "}}"#, "t8"),
            (
                r#"{"code":200,"data":{"model":{"id":"seedance"},"task":{"taskId":"t9"}}}"#,
                "t9",
            ),
            (r#"{"code":200,"data":[{"taskId":"t10"}]}"#, "t10"),
            (
                r#"{"code":200,"data":{"a":{"taskId":"t11"},"b":{"taskId":"t11"}}}"#,
                "t11",
            ),
            (
                r#"{"code":200,"data":{"id":"t12","model":{"id":"y"}}}"#,
                "t12",
            ),
        ] {
            let envelope = Envelope::find(body.as_bytes()).unwrap();
            assert_eq!(envelope.task_id().as_deref(), Some(id), "{body}");
        }
        for body in [
            r#"{"code":200,"data":{}}"#,
            r#"{"code":200,"data":{"taskId":""}}"#,
            r#"{"code":200,"data":{"taskId":null}}"#,
            r#"{"code":200,"data":{"taskId":["t"]}}"#,
            r#"{"code":200,"data":null}"#,
            r#"{"code":200,"data":{"a":{"taskId":"t1"},"b":{"taskId":"t2"}}}"#,
            r#"{"code":200,"data":{"model":{"id":"y"},"other":{"id":"z"}},"more":{"id":"w"}}"#,
        ] {
            assert_eq!(
                Envelope::find(body.as_bytes()).unwrap().task_id(),
                None,
                "{body}"
            );
        }
    }

    #[test]
    fn only_answers_of_the_documented_shape_take_the_fast_path() {
        let documented = br#"{"code":200,"msg":"success","data":{"taskId":"t1"}}"#;
        assert_eq!(documented_task_id(documented).as_deref(), Some("t1"));
        let record = br#"{"code":200,"msg":"success","data":{"taskId":"t1","state":"waiting"}}"#;
        assert_eq!(
            documented_data(record).expect("an object")["state"],
            "waiting"
        );
        // Everything else is left to the lenient reader, which finds what there is to find.
        for body in [
            &br#"{"code":"200","data":{"taskId":"t1"}}"#[..],
            br#"{"code":200,"data":{"taskId":"t1","task_id":"t2"}}"#,
            br#"{"code":200,"data":{"taskId":" t1 "}}"#,
            br#"{"code":200,"data":{"taskId":""}}"#,
            br#"{"code":200,"data":{"taskId":12345}}"#,
            br#"{"code":200,"data":{"data":{"taskId":"t1"}}}"#,
            br#"{"code":433,"data":{"taskId":"t1"}}"#,
            br#"{"code":200,"code":200,"data":{"taskId":"t1"}}"#,
            b"\xEF\xBB\xBF{\"code\":200,\"data\":{\"taskId\":\"t1\"}}",
            br#"{"code":200,"data":{"taskId":"t1"}} trailing"#,
        ] {
            assert_eq!(
                documented_task_id(body),
                None,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        for body in [
            &br#"{"code":200,"data":null}"#[..],
            br#"{"code":200,"data":"t1"}"#,
            br#"{"code":500,"data":{}}"#,
            br#"{"code":200.0,"data":{}}"#,
        ] {
            assert_eq!(
                documented_data(body),
                None,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn snippets_are_bounded_and_never_show_the_key() {
        assert_eq!(
            snippet(b"bad key sk-1 (sk-1)", "sk-1"),
            "bad key [redacted] ([redacted])"
        );
        assert_eq!(snippet(&[b'x'; 10_000], "k").len(), SNIPPET_CHARS);
        assert_eq!(
            snippet("é".repeat(1000).as_bytes(), "k").chars().count(),
            SNIPPET_CHARS
        );
    }

    proptest! {
        #[test]
        fn any_bytes_are_read_without_panicking(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Some(envelope) = Envelope::find(&body) {
                let _ = envelope.task_id();
            }
            let _ = snippet(&body, "k");
        }

        #[test]
        fn an_envelope_reads_back_what_was_written(
            code in any::<i32>(),
            message in "\\PC{0,40}",
            id in "[A-Za-z0-9_-]{1,40}",
            as_text in any::<bool>(),
            prefix in "[^{]{0,8}",
            suffix in "\\PC{0,8}",
        ) {
            let code_json = if as_text { Value::from(code.to_string()) } else { Value::from(code) };
            let body = serde_json::json!({"code": code_json, "msg": message, "data": {"taskId": id}});
            let wire = format!("{prefix}{body}{suffix}");
            let envelope = Envelope::find(wire.as_bytes()).expect("found");
            // The fast path, where it applies, reads the same id.
            if let Some(fast) = documented_task_id(wire.as_bytes()) {
                prop_assert_eq!(Some(fast), envelope.task_id());
            }
            prop_assert_eq!(envelope.code, Some(i64::from(code)));
            prop_assert_eq!(envelope.message.clone(), Some(message.clone()).filter(|m| !m.trim().is_empty()));
            prop_assert_eq!(envelope.task_id(), Some(id));
        }
    }
}
