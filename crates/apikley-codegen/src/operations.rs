//! The operations a document declares, as constants beside the generated client, so that code
//! making its own requests takes its paths and methods from the spec rather than writing them
//! again.

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;
use serde_json::Value;

use crate::Error;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// `pub mod operations { pub mod <operation_id> { METHOD, PATH, QUERY } ... }` for every
/// operation of the document as vendored (patches that hide an operation from the generator,
/// such as a hand-written upload, do not hide it here). `PATH` is relative to the API's base
/// URL, with the server's own path (e.g. `/file-upload`) in front.
pub(crate) fn module(spec: &Value, source: &str) -> Result<TokenStream, Error> {
    let fail = |message: String| Error::Generator {
        spec: source.to_owned(),
        message,
    };
    let server_path = spec
        .pointer("/servers/0/url")
        .and_then(Value::as_str)
        .map(|url| match url.split_once("://") {
            Some((_, rest)) => rest.find('/').map_or("", |at| &rest[at..]),
            None => url,
        })
        .unwrap_or("")
        .trim_matches('/');
    let paths = spec
        .get("paths")
        .and_then(Value::as_object)
        .ok_or_else(|| fail("the document has no `paths`".into()))?;
    let mut operations = Vec::new();
    for (path, item) in paths {
        for method in METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let id = operation
                .get("operationId")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    fail(format!(
                        "{} {path} has no operationId",
                        method.to_uppercase()
                    ))
                })?;
            let full = [server_path, path.trim_matches('/')]
                .iter()
                .filter(|p| !p.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join("/");
            let query: Vec<&str> = operation
                .get("parameters")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|p| p.get("in").and_then(Value::as_str) == Some("query"))
                .filter_map(|p| p.get("name").and_then(Value::as_str))
                .collect();
            let name = Ident::new(&snake(id), Span::call_site());
            let upper = method.to_uppercase();
            let doc = format!(" `{upper} {path}` (`{id}`).");
            operations.push(quote! {
                #[doc = #doc]
                pub mod #name {
                    /// The HTTP method.
                    pub const METHOD: &str = #upper;
                    /// The path relative to the API's base URL.
                    pub const PATH: &str = #full;
                    /// The names of the query parameters.
                    pub const QUERY: &[&str] = &[#(#query),*];
                }
            });
        }
    }
    Ok(quote! {
        /// The operations the document declares, as vendored: for code that makes its own
        /// requests, so that its paths and methods come from the spec.
        pub mod operations {
            #(#operations)*
        }
    })
}

/// `bytedance-seedance-1-5-pro` → `bytedance_seedance_1_5_pro`, as progenitor names methods.
pub(crate) fn snake(id: &str) -> String {
    let mut out = String::new();
    for (i, c) in id.chars().enumerate() {
        if c.is_ascii_alphanumeric() {
            if c.is_ascii_uppercase() && i > 0 && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let out = out.trim_matches('_').to_owned();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        format!("op_{out}")
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_take_the_server_path_the_method_and_the_query() {
        let spec = serde_json::json!({
            "servers": [{"url": "https://api.example/file-upload"}],
            "paths": {
                "/api/file-url-upload": {"post": {"operationId": "upload-file-url"}},
                "/api/v1/jobs/recordInfo": {"get": {"operationId": "getTaskDetail",
                    "parameters": [{"name": "taskId", "in": "query"}, {"name": "x", "in": "header"}]}}
            }
        });
        let code = module(&spec, "t.json").unwrap().to_string();
        assert!(code.contains("pub mod upload_file_url"), "{code}");
        assert!(
            code.contains("\"file-upload/api/file-url-upload\""),
            "{code}"
        );
        assert!(code.contains("pub mod get_task_detail"), "{code}");
        assert!(
            code.contains("\"file-upload/api/v1/jobs/recordInfo\""),
            "{code}"
        );
        assert!(code.contains("& [\"taskId\"]"), "{code}");
        assert!(code.contains("\"GET\""), "{code}");
        let missing = serde_json::json!({"paths": {"/x": {"get": {}}}});
        assert!(
            module(&missing, "t.json")
                .unwrap_err()
                .to_string()
                .contains("no operationId")
        );
    }

    #[test]
    fn names_are_snake_case_identifiers() {
        assert_eq!(
            snake("bytedance-seedance-1-5-pro"),
            "bytedance_seedance_1_5_pro"
        );
        assert_eq!(snake("getTaskDetail"), "get_task_detail");
        assert_eq!(snake("2-step"), "op_2_step");
    }
}
