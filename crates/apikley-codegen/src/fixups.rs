//! Mechanical corrections to what the generator emits, each for a known generator gap.
//! They apply to every spec alike; spec-specific fixes belong in patch files instead.

use std::collections::BTreeMap;

use proc_macro2::{Group, Ident, TokenStream, TokenTree};

use syn::punctuated::Punctuated;
use syn::{BinOp, Expr, ImplItem, Item, Lit, Stmt, Token, parse_quote};

/// Corrections made to the generator's tokens, before they are parsed.
pub(crate) fn tokens(tokens: TokenStream) -> TokenStream {
    edition_2024_keywords(tokens)
}

/// Corrections made to the parsed file.
pub(crate) fn file(file: &mut syn::File) {
    string_length_schemas(&mut file.items);
    unused_default_helpers(&mut file.items);
}

/// typify writes its generic default helpers (`default_i64`, `default_u64`, …) into
/// `types::defaults` whether or not a type uses them; a document whose defaults need none of
/// them would otherwise fail a build that denies warnings.
fn unused_default_helpers(items: &mut [Item]) {
    for item in items.iter_mut() {
        if let Item::Mod(module) = item
            && let Some((_, content)) = &mut module.content
        {
            if module.ident == "defaults" {
                module.attrs.push(parse_quote!(#[allow(dead_code)]));
            } else {
                unused_default_helpers(content);
            }
        }
    }
}

/// typify writes edition-2021 code that names `schemars::gen` and a `gen` parameter; `gen` is a
/// reserved keyword in edition 2024, which the raw crates use. Write it as the raw identifier.
fn edition_2024_keywords(tokens: TokenStream) -> TokenStream {
    tokens
        .into_iter()
        .map(|token| match token {
            TokenTree::Ident(ident) if ident == "gen" => {
                TokenTree::Ident(Ident::new_raw("gen", ident.span()))
            }
            TokenTree::Group(group) => {
                let mut fixed =
                    Group::new(group.delimiter(), edition_2024_keywords(group.stream()));
                fixed.set_span(group.span());
                TokenTree::Group(fixed)
            }
            other => other,
        })
        .collect()
}

#[derive(Default)]
struct Bounds {
    min: Option<u32>,
    max: Option<u32>,
}

/// typify enforces `minLength`/`maxLength` in a string newtype's `FromStr`, but derives its
/// `JsonSchema`, which forgets them (typify-impl 0.8, `type_entry.rs`: "if a user were to derive
/// schemars::JsonSchema, it wouldn't be accurate"). Replace that derive with an impl stating the
/// bounds typify checks, so the schema says what the type accepts.
fn string_length_schemas(items: &mut Vec<Item>) {
    for item in items.iter_mut() {
        if let Item::Mod(module) = item
            && let Some((_, content)) = &mut module.content
        {
            string_length_schemas(content);
        }
    }

    let mut bounded = BTreeMap::new();
    for item in items.iter() {
        if let Item::Impl(imp) = item
            && imp
                .trait_
                .as_ref()
                .is_some_and(|(path, _)| path.segments.last().is_some_and(|s| s.ident == "FromStr"))
            && let syn::Type::Path(ty) = &*imp.self_ty
            && let Some(name) = ty.path.get_ident()
        {
            let bounds = length_checks(&imp.items);
            if bounds.min.is_some() || bounds.max.is_some() {
                bounded.insert(name.to_string(), bounds);
            }
        }
    }

    for (name, bounds) in bounded {
        let Some(strukt) = items.iter_mut().find_map(|item| match item {
            Item::Struct(s) if s.ident == name => Some(s),
            _ => None,
        }) else {
            continue;
        };
        if !remove_derive(&mut strukt.attrs, "JsonSchema") {
            continue;
        }
        let ident = strukt.ident.clone();
        let min = bounds.min.map(|v| quote_set("min_length", v));
        let max = bounds.max.map(|v| quote_set("max_length", v));
        items.push(parse_quote! {
            impl ::schemars::JsonSchema for #ident {
                fn schema_name() -> ::std::string::String {
                    #name.to_string()
                }
                fn json_schema(
                    generator: &mut ::schemars::r#gen::SchemaGenerator,
                ) -> ::schemars::schema::Schema {
                    let mut schema =
                        <::std::string::String as ::schemars::JsonSchema>::json_schema(generator)
                            .into_object();
                    #min
                    #max
                    schema.into()
                }
            }
        });
    }
}

fn quote_set(field: &str, value: u32) -> Stmt {
    let field = Ident::new(field, proc_macro2::Span::call_site());
    parse_quote! { schema.string().#field = ::std::option::Option::Some(#value); }
}

/// Reads `if value.chars().count() > N` / `< N` checks out of a generated `from_str`.
fn length_checks(items: &[ImplItem]) -> Bounds {
    let mut bounds = Bounds::default();
    for item in items {
        let ImplItem::Fn(f) = item else { continue };
        for stmt in &f.block.stmts {
            let Stmt::Expr(Expr::If(check), _) = stmt else {
                continue;
            };
            let Expr::Binary(cmp) = &*check.cond else {
                continue;
            };
            let Expr::MethodCall(call) = &*cmp.left else {
                continue;
            };
            let Expr::Lit(lit) = &*cmp.right else {
                continue;
            };
            let Lit::Int(n) = &lit.lit else { continue };
            let Ok(n) = n.base10_parse::<u32>() else {
                continue;
            };
            if call.method != "count" {
                continue;
            }
            match cmp.op {
                BinOp::Gt(_) => bounds.max = Some(n),
                BinOp::Lt(_) => bounds.min = Some(n),
                _ => {}
            }
        }
    }
    bounds
}

/// Removes `name` from the item's `#[derive(..)]` lists; reports whether it was there.
fn remove_derive(attrs: &mut [syn::Attribute], name: &str) -> bool {
    let mut removed = false;
    for attr in attrs.iter_mut().filter(|a| a.path().is_ident("derive")) {
        let Ok(paths) = attr.parse_args_with(Punctuated::<syn::Path, Token![,]>::parse_terminated)
        else {
            continue;
        };
        let kept: Vec<_> = paths
            .iter()
            .filter(|p| p.segments.last().is_none_or(|s| s.ident != name))
            .collect();
        if kept.len() < paths.len() {
            removed = true;
            *attr = parse_quote!(#[derive(#(#kept),*)]);
        }
    }
    removed
}
