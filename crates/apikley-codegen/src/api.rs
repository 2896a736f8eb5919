//! A comparable summary of a generated crate's public API, for `regen`'s change report.

use std::collections::BTreeMap;
use std::fmt;

use proc_macro2::{Delimiter, Group, TokenStream, TokenTree};
use quote::ToTokens;
use syn::{Attribute, Fields, ImplItem, Item};

/// What kind of public item a change is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ItemKind {
    /// A type in the `types` module.
    Type,
    /// A default value in `types::defaults`.
    Default,
    /// A `Client` method, i.e. an API operation.
    Operation,
    /// An entry of the `operations` table: an operation's method, path and query.
    Endpoint,
}

impl fmt::Display for ItemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ItemKind::Type => "type",
            ItemKind::Default => "default",
            ItemKind::Operation => "operation",
            ItemKind::Endpoint => "endpoint",
        })
    }
}

/// One difference between two versions of a generated API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiChange {
    /// An item that did not exist before.
    Added(ItemKind, String),
    /// An item that no longer exists.
    Removed(ItemKind, String),
    /// An item whose members (fields, variants, parameters, trait impls) differ; each detail
    /// is `+member`, `-member` or `~member`. Impls are named only when no field or variant
    /// changed.
    Changed(ItemKind, String, Vec<String>),
}

impl fmt::Display for ApiChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiChange::Added(kind, name) => write!(f, "+ {kind} {name}"),
            ApiChange::Removed(kind, name) => write!(f, "- {kind} {name}"),
            ApiChange::Changed(kind, name, details) => {
                write!(f, "~ {kind} {name}: {}", details.join(", "))
            }
        }
    }
}

/// The public items of generated code and the members each one is made of, ignoring
/// documentation and formatting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublicApi {
    items: BTreeMap<(ItemKind, String), BTreeMap<String, String>>,
}

impl PublicApi {
    /// Reads generated code (one or several concatenated progenitor outputs).
    pub fn parse(code: &str) -> Result<Self, syn::Error> {
        let tokens: TokenStream = syn::parse_str(code)?;
        let file: syn::File = syn::parse2(without_docs(tokens))?;
        let mut api = PublicApi::default();
        let builders = module(&file.items, "builder");
        for item in &file.items {
            if let Item::Mod(m) = item
                && m.ident == "types"
                && let Some((_, items)) = &m.content
            {
                api.add_types(items);
            }
            if let Item::Impl(imp) = item
                && imp.trait_.is_none()
                && is_named(&imp.self_ty, "Client")
            {
                api.add_operations(imp, builders);
            }
            if let Item::Mod(m) = item
                && m.ident == "operations"
            {
                api.add_endpoints(m);
            }
        }
        Ok(api)
    }

    /// The number of items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are no items.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// What changed from `self` to `new`.
    pub fn diff(&self, new: &PublicApi) -> Vec<ApiChange> {
        let mut changes = Vec::new();
        for ((kind, name), old_members) in &self.items {
            match new.items.get(&(*kind, name.clone())) {
                None => changes.push(ApiChange::Removed(*kind, name.clone())),
                Some(new_members) if new_members != old_members => {
                    let mut details = Vec::new();
                    for (member, shape) in old_members {
                        match new_members.get(member) {
                            None => details.push(format!("-{member}")),
                            Some(s) if s != shape => details.push(format!("~{member}")),
                            Some(_) => {}
                        }
                    }
                    for member in new_members.keys() {
                        if !old_members.contains_key(member) {
                            details.push(format!("+{member}"));
                        }
                    }
                    // Trait impls follow fields and variants; name them only when nothing
                    // else explains the change (e.g. an integer enum's allowed values).
                    if details.iter().any(|d| !d[1..].starts_with("impl")) {
                        details.retain(|d| !d[1..].starts_with("impl"));
                    }
                    changes.push(ApiChange::Changed(*kind, name.clone(), details));
                }
                Some(_) => {}
            }
        }
        for (kind, name) in new.items.keys() {
            if !self.items.contains_key(&(*kind, name.clone())) {
                changes.push(ApiChange::Added(*kind, name.clone()));
            }
        }
        changes
    }

    fn add_types(&mut self, items: &[Item]) {
        for item in items {
            match item {
                Item::Struct(s) => {
                    let members = self.members(ItemKind::Type, &s.ident);
                    for (i, field) in s.fields.iter().enumerate() {
                        let name = field
                            .ident
                            .as_ref()
                            .map_or_else(|| i.to_string(), ToString::to_string);
                        members.insert(
                            format!("field {name}"),
                            shape(&field.attrs, field.ty.to_token_stream()),
                        );
                    }
                }
                Item::Enum(e) => {
                    let members = self.members(ItemKind::Type, &e.ident);
                    for v in &e.variants {
                        let fields = match &v.fields {
                            Fields::Unit => Default::default(),
                            fields => fields.to_token_stream(),
                        };
                        members.insert(format!("variant {}", v.ident), shape(&v.attrs, fields));
                    }
                }
                Item::Impl(imp) => {
                    let Some(name) = type_name(&imp.self_ty) else {
                        continue;
                    };
                    let which = imp.trait_.as_ref().map_or_else(
                        || "impl".to_owned(),
                        |(path, _)| {
                            let last = path.segments.last().map(ToTokens::to_token_stream);
                            format!(
                                "impl {}",
                                compact(last.unwrap_or_default()).replace(' ', "")
                            )
                        },
                    );
                    let body = compact(imp.items.iter().map(ToTokens::to_token_stream).collect());
                    self.members(ItemKind::Type, &name).insert(which, body);
                }
                Item::Mod(m) if m.ident == "defaults" => {
                    for item in m.content.iter().flat_map(|(_, items)| items) {
                        if let Item::Fn(f) = item {
                            self.members(ItemKind::Default, &f.sig.ident)
                                .insert("value".into(), compact(f.block.to_token_stream()));
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn add_operations(&mut self, client: &syn::ItemImpl, builders: &[Item]) {
        for item in &client.items {
            let ImplItem::Fn(f) = item else { continue };
            let syn::ReturnType::Type(_, ret) = &f.sig.output else {
                continue;
            };
            // An operation returns its request builder, `builder::<Operation>`.
            let Some(builder) = type_name(ret) else {
                continue;
            };
            let members = self.members(ItemKind::Operation, &f.sig.ident);
            for item in builders {
                match item {
                    Item::Struct(s) if s.ident == builder => {
                        for field in &s.fields {
                            if let Some(name) = &field.ident
                                && name != "client"
                            {
                                members.insert(
                                    format!("parameter {name}"),
                                    compact(field.ty.to_token_stream()),
                                );
                            }
                        }
                    }
                    Item::Impl(imp) if is_named(&imp.self_ty, &builder) => {
                        for item in &imp.items {
                            if let ImplItem::Fn(f) = item
                                && f.sig.ident == "send"
                            {
                                members.insert("request".into(), compact(f.to_token_stream()));
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    fn add_endpoints(&mut self, table: &syn::ItemMod) {
        for item in table.content.iter().flat_map(|(_, items)| items) {
            let Item::Mod(endpoint) = item else { continue };
            let members = self.members(ItemKind::Endpoint, &endpoint.ident);
            for item in endpoint.content.iter().flat_map(|(_, items)| items) {
                if let Item::Const(c) = item {
                    members.insert(
                        c.ident.to_string().to_lowercase(),
                        compact(c.expr.to_token_stream()),
                    );
                }
            }
        }
    }

    fn members(&mut self, kind: ItemKind, name: &impl ToString) -> &mut BTreeMap<String, String> {
        self.items.entry((kind, name.to_string())).or_default()
    }
}

fn module<'a>(items: &'a [Item], name: &str) -> &'a [Item] {
    items
        .iter()
        .find_map(|item| match item {
            Item::Mod(m) if m.ident == name => m.content.as_ref().map(|(_, i)| i.as_slice()),
            _ => None,
        })
        .unwrap_or(&[])
}

fn type_name(ty: &syn::Type) -> Option<String> {
    match ty {
        syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}

fn is_named(ty: &syn::Type, name: &str) -> bool {
    type_name(ty).is_some_and(|n| n == name)
}

/// A member's shape: its attributes (serde renames matter) and its tokens.
fn shape(attrs: &[Attribute], tokens: TokenStream) -> String {
    let mut out: String = attrs
        .iter()
        .map(|a| a.to_token_stream().to_string() + " ")
        .collect();
    out.push_str(&tokens.to_string());
    out
}

fn compact(tokens: TokenStream) -> String {
    tokens.to_string()
}

/// Drops every `#[doc = ..]` attribute: documentation is not API.
fn without_docs(tokens: TokenStream) -> TokenStream {
    let mut out = Vec::new();
    let mut tokens = tokens.into_iter().peekable();
    while let Some(token) = tokens.next() {
        match token {
            TokenTree::Punct(p) if p.as_char() == '#' => {
                if let Some(TokenTree::Group(g)) = tokens.peek()
                    && g.delimiter() == Delimiter::Bracket
                    && matches!(g.stream().into_iter().next(), Some(TokenTree::Ident(i)) if i == "doc")
                {
                    tokens.next();
                } else {
                    out.push(TokenTree::Punct(p));
                }
            }
            TokenTree::Group(g) => {
                out.push(TokenTree::Group(Group::new(
                    g.delimiter(),
                    without_docs(g.stream()),
                )));
            }
            other => out.push(other),
        }
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = r#"
        pub mod types {
            pub struct Body { pub prompt: String, pub size: u8 }
            pub enum Ratio { #[serde(rename = "1:1")] X11, #[serde(rename = "16:9")] X169 }
            pub struct Gone;
            pub mod defaults { pub fn body_size() -> u8 { 8 } }
        }
        impl Client { pub fn create(&self) -> builder::Create<'_> { todo!() } }
        pub mod builder {
            pub struct Create<'a> { client: &'a Client, body: Body }
            impl Create<'_> { pub async fn send(self) -> Result<(), ()> { todo!() } }
        }
        pub mod operations {
            pub mod create { pub const METHOD: &str = "POST"; pub const PATH: &str = "api/v1/create"; }
        }
    "#;

    const NEW: &str = r#"
        pub mod types {
            /// Docs do not count.
            pub struct Body { pub prompt: String, pub size: u16, pub seed: i64 }
            pub enum Ratio { #[serde(rename = "1:1")] X11, #[serde(rename = "21:9")] X219 }
            pub struct Fresh;
            pub mod defaults { pub fn body_size() -> u16 { 12 } }
        }
        impl Client { pub fn create(&self) -> builder::Create<'_> { todo!() } }
        pub mod builder {
            pub struct Create<'a> { client: &'a Client, body: Body }
            impl Create<'_> { pub async fn send(self) -> Result<(), ()> { todo!() } }
        }
        pub mod operations {
            pub mod create { pub const METHOD: &str = "POST"; pub const PATH: &str = "api/v2/create"; }
        }
    "#;

    #[test]
    fn diff_names_added_removed_and_changed_items() {
        let old = PublicApi::parse(OLD).unwrap();
        let new = PublicApi::parse(NEW).unwrap();
        let changes: Vec<String> = old.diff(&new).iter().map(ToString::to_string).collect();
        assert_eq!(
            changes,
            [
                "~ type Body: ~field size, +field seed",
                "- type Gone",
                "~ type Ratio: -variant X169, +variant X219",
                "~ default body_size: ~value",
                "~ endpoint create: ~path",
                "+ type Fresh",
            ]
        );
    }

    #[test]
    fn a_change_only_in_an_impl_names_the_trait() {
        let code = |allowed: &str| {
            format!(
                "pub mod types {{ pub struct Duration(i64);
                 impl ::std::convert::TryFrom<i64> for Duration {{
                     type Error = ();
                     fn try_from(v: i64) -> Result<Self, ()> {{
                         if [{allowed}].contains(&v) {{ Ok(Self(v)) }} else {{ Err(()) }}
                     }}
                 }} }}"
            )
        };
        let old = PublicApi::parse(&code("4, 8, 12")).unwrap();
        let new = PublicApi::parse(&code("4, 8, 10")).unwrap();
        let changes: Vec<String> = old.diff(&new).iter().map(ToString::to_string).collect();
        assert_eq!(changes, ["~ type Duration: ~impl TryFrom<i64>"]);
    }

    #[test]
    fn documentation_is_not_api() {
        let old = PublicApi::parse(OLD).unwrap();
        let documented = OLD.replace("pub struct Gone;", "/// Now documented.\npub struct Gone;");
        assert!(old.diff(&PublicApi::parse(&documented).unwrap()).is_empty());
        assert_eq!(old.len(), 6);
    }
}
