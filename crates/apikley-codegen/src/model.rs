//! The Market model a document describes, if it describes one: a POST operation whose JSON body
//! has a `model` of one value and an `input` object. Its raw crate then implements the
//! `apikley-model` contract's `Model` (the crate depends on the contract, never on the runtime):
//! no code is written per model.

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;
use serde_json::Value;
use syn::{Fields, ImplItem, Item, ReturnType, Type};

/// A Market model's facts, as its document states them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketModel {
    /// The model id, e.g. `kling-2.6/text-to-video`.
    pub id: String,
    /// The `operationId` of its `createTask`.
    pub operation_id: String,
    /// The path of its `createTask`.
    pub path: String,
    /// What the document says the operation does.
    pub summary: Option<String>,
}

/// The model a document describes; `None` for a document of shared endpoints.
pub fn market_model(document: &Value) -> Option<MarketModel> {
    let resolve = |schema: &Value| -> Option<Value> {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(reference) => document.pointer(reference.strip_prefix('#')?).cloned(),
            None => Some(schema.clone()),
        }
    };
    document
        .get("paths")?
        .as_object()?
        .iter()
        .find_map(|(path, item)| {
            let operation = item.get("post")?;
            let body =
                resolve(operation.pointer("/requestBody/content/application~1json/schema")?)?;
            let properties = body.get("properties")?;
            let model = resolve(properties.get("model")?)?;
            let input = resolve(properties.get("input")?)?;
            if input.get("type").and_then(Value::as_str) != Some("object") {
                return None;
            }
            let id = match model.get("enum").and_then(Value::as_array) {
                Some(values) if values.len() == 1 => values[0].as_str()?.to_owned(),
                _ => model.get("default")?.as_str()?.to_owned(),
            };
            Some(MarketModel {
                id,
                operation_id: operation.get("operationId")?.as_str()?.to_owned(),
                path: path.clone(),
                summary: operation
                    .get("summary")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            })
        })
}

/// `SPEC`, the document with its reviewed patches applied (written to `OUT_DIR` by the build
/// script), and for a model document its `Model`.
pub(crate) fn items(
    vendored: &Value,
    source: &str,
    file: &syn::File,
) -> Result<TokenStream, String> {
    let name = source.rsplit('/').next().unwrap_or(source);
    let path = format!("/{name}");
    let spec = quote! {
        /// The document as the generator read it: `openapi/` in this crate with its reviewed
        /// patches applied (such as the model's declared output, `x-apikley-output`), for code
        /// that reads the spec itself: validation, descriptions, defaults.
        pub const SPEC: &str = include_str!(concat!(env!("OUT_DIR"), #path));
    };
    let Some(model) = market_model(vendored) else {
        return Ok(spec);
    };
    let body = body_type(file, &model.operation_id).ok_or_else(|| {
        format!(
            "no request body type found for operation {}",
            model.operation_id
        )
    })?;
    let body = Ident::new(&body, Span::call_site());
    let id = &model.id;
    let doc = format!(" The model `{id}`, for the `apikley` runtime:");
    let usage = " `client.submit_body::<Model>(&body)`, or `apikley::Request::of::<Model>()`.";
    Ok(quote! {
        #spec

        #[doc = #doc]
        #[doc = #usage]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub struct Model;

        impl apikley_model::Model for Model {
            const ID: &'static str = #id;
            const SPEC: &'static str = SPEC;
            type Body = types::#body;
        }
    })
}

/// The body type of operation `operation_id`, as progenitor wired it: the type in the `body`
/// field of the operation's request builder.
fn body_type(file: &syn::File, operation_id: &str) -> Option<String> {
    let method = crate::operations::snake(operation_id);
    let builder = file.items.iter().find_map(|item| match item {
        Item::Impl(imp) => imp.items.iter().find_map(|item| match item {
            ImplItem::Fn(f) if f.sig.ident == method => match &f.sig.output {
                ReturnType::Type(_, ty) => last_segment(ty),
                ReturnType::Default => None,
            },
            _ => None,
        }),
        _ => None,
    })?;
    let builders = file.items.iter().find_map(|item| match item {
        Item::Mod(m) if m.ident == "builder" => m.content.as_ref().map(|(_, items)| items),
        _ => None,
    })?;
    builders.iter().find_map(|item| match item {
        Item::Struct(s) if s.ident == builder => match &s.fields {
            Fields::Named(fields) => fields.named.iter().find_map(|field| {
                if field.ident.as_ref()? != "body" {
                    return None;
                }
                // `Result<types::builder::XBody, String>`: the last segment of the first
                // generic argument.
                let Type::Path(result) = &field.ty else {
                    return None;
                };
                let args = &result.path.segments.last()?.arguments;
                let syn::PathArguments::AngleBracketed(args) = args else {
                    return None;
                };
                match args.args.first()? {
                    syn::GenericArgument::Type(ty) => last_segment(ty),
                    _ => None,
                }
            }),
            _ => None,
        },
        _ => None,
    })
}

fn last_segment(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_market_document_names_its_model_and_others_none() {
        let document = serde_json::json!({
            "paths": {"/api/v1/jobs/createTask": {"post": {
                "operationId": "kling-2-6-text-to-video", "summary": "Generate videos",
                "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Body"}}}}
            }}},
            "components": {"schemas": {"Body": {"type": "object", "properties": {
                "model": {"type": "string", "enum": ["kling-2.6/text-to-video"]},
                "input": {"type": "object", "properties": {}}
            }}}}
        });
        let model = market_model(&document).expect("a model");
        assert_eq!(model.id, "kling-2.6/text-to-video");
        assert_eq!(model.operation_id, "kling-2-6-text-to-video");
        let shared = serde_json::json!({"paths": {"/api/v1/jobs/recordInfo": {"get": {}}}});
        assert_eq!(market_model(&shared), None);
    }
}
