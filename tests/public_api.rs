//! No type of the HTTP stack (reqwest, http, hyper, axum) is part of the public API of `apikley`
//! or `seedance`, so that upgrading that stack is never a breaking release of theirs. Every
//! `pub` item of their sources is read (functions and methods, fields, variants, aliases,
//! constants, re-exports); a type named through those crates fails the test, outside the named
//! exceptions.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use quote::ToTokens;
use syn::{Fields, ImplItem, Item, UseTree, Visibility};

/// The crates whose types must not appear.
const FOREIGN: [&str; 4] = ["reqwest", "http", "hyper", "axum"];

/// Where a foreign type is public on purpose, and why.
const EXCEPTIONS: [(&str, &str); 2] = [
    // The one integration point: a caller's own configured reqwest client.
    ("crates/apikley/src/client.rs", "fn http_client"),
    // The axum extractor, behind the `axum` feature: it exists to be used with axum.
    ("crates/apikley/src/callback/axum.rs", ""),
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ reads") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The names a file imports from a foreign crate (`use reqwest::StatusCode` → `StatusCode`).
fn imported(tree: &UseTree, foreign: bool, out: &mut BTreeSet<String>) {
    match tree {
        UseTree::Path(path) => {
            let here = foreign || FOREIGN.contains(&path.ident.to_string().as_str());
            imported(&path.tree, here, out);
        }
        UseTree::Name(name) if foreign => {
            out.insert(name.ident.to_string());
        }
        UseTree::Rename(rename) if foreign => {
            out.insert(rename.rename.to_string());
        }
        UseTree::Group(group) => group.items.iter().for_each(|t| imported(t, foreign, out)),
        _ => {}
    }
}

/// The public surface of one item, as (what, tokens) pairs.
fn public(item: &Item, out: &mut Vec<(String, String)>) {
    let is_pub = |vis: &Visibility| matches!(vis, Visibility::Public(_));
    let text = |tokens: &dyn ToTokens| tokens.to_token_stream().to_string();
    match item {
        Item::Fn(f) if is_pub(&f.vis) => out.push((format!("fn {}", f.sig.ident), text(&f.sig))),
        Item::Struct(s) if is_pub(&s.vis) => {
            for field in s.fields.iter().filter(|f| is_pub(&f.vis)) {
                out.push((format!("struct {}", s.ident), text(&field.ty)));
            }
        }
        Item::Enum(e) if is_pub(&e.vis) => {
            for variant in &e.variants {
                if !matches!(variant.fields, Fields::Unit) {
                    out.push((format!("enum {}", e.ident), text(&variant.fields)));
                }
            }
        }
        Item::Type(t) if is_pub(&t.vis) => out.push((format!("type {}", t.ident), text(&t.ty))),
        Item::Const(c) if is_pub(&c.vis) => out.push((format!("const {}", c.ident), text(&c.ty))),
        Item::Static(s) if is_pub(&s.vis) => out.push((format!("static {}", s.ident), text(&s.ty))),
        Item::Use(u) if is_pub(&u.vis) => out.push(("pub use".into(), text(&u.tree))),
        Item::Trait(t) if is_pub(&t.vis) => out.push((format!("trait {}", t.ident), text(t))),
        Item::Impl(block) if block.trait_.is_none() => {
            for item in &block.items {
                if let ImplItem::Fn(f) = item
                    && is_pub(&f.vis)
                {
                    out.push((format!("fn {}", f.sig.ident), text(&f.sig)));
                }
            }
        }
        Item::Mod(m) => {
            for item in m.content.iter().flat_map(|(_, items)| items) {
                public(item, out);
            }
        }
        _ => {}
    }
}

/// Every public item of the crate at `dir` that names a foreign type, as `file: item: tokens`.
fn leaks(root: &Path, dir: &str) -> Vec<String> {
    let mut files = Vec::new();
    sources(&root.join(dir).join("src"), &mut files);
    let mut found = Vec::new();
    for file in files {
        let relative = file
            .strip_prefix(root)
            .expect("inside")
            .display()
            .to_string();
        let code = std::fs::read_to_string(&file).expect("reads");
        let ast = syn::parse_file(&code).unwrap_or_else(|e| panic!("{relative}: {e}"));
        let mut names = BTreeSet::new();
        let mut items = Vec::new();
        for item in &ast.items {
            if let Item::Use(u) = item {
                imported(&u.tree, false, &mut names);
            }
            // Test modules are not API.
            if matches!(item, Item::Mod(m) if m.ident == "tests") {
                continue;
            }
            public(item, &mut items);
        }
        for (what, tokens) in items {
            let words: Vec<&str> = tokens
                .split(|c: char| !c.is_alphanumeric() && c != '_')
                .collect();
            let foreign = words.iter().any(|w| names.contains(*w))
                || FOREIGN.iter().any(|c| tokens.contains(&format!("{c} ::")));
            let excused = EXCEPTIONS
                .iter()
                .any(|(path, item)| relative == *path && what.starts_with(item));
            if foreign && !excused {
                found.push(format!("{relative}: {what}: {tokens}"));
            }
        }
    }
    found
}

#[test]
fn no_http_stack_type_is_public_in_the_sdk() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace");
    for krate in ["crates/apikley", "crates/seedance"] {
        let found = leaks(root, krate);
        assert!(
            found.is_empty(),
            "public items naming reqwest/http/hyper/axum types:\n{}",
            found.join("\n")
        );
    }
}

/// The check itself: a public item that names a foreign type, directly or through an import,
/// is caught; one that is not public, or is an exception, is not.
#[test]
fn the_check_catches_a_leak() {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = dir.path().join("crates/apikley/src");
    std::fs::create_dir_all(&src).expect("mkdir");
    std::fs::write(
        src.join("lib.rs"),
        "use reqwest::StatusCode;\n\
         pub struct A { pub status: StatusCode, hidden: reqwest::Url }\n\
         pub fn headers() -> http::HeaderMap { todo!() }\n\
         pub(crate) fn inner() -> StatusCode { todo!() }\n\
         pub struct B; impl B { pub fn code(&self) -> u16 { 200 } }\n",
    )
    .expect("writes");
    std::fs::write(
        src.join("client.rs"),
        "pub struct C; impl C { pub fn http_client(self, c: reqwest::Client) -> Self { self } }\n",
    )
    .expect("writes");
    let found = leaks(dir.path(), "crates/apikley");
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(
        found[0].contains("struct A: StatusCode") || found[1].contains("struct A: StatusCode"),
        "{found:#?}"
    );
    assert!(found.iter().any(|f| f.contains("fn headers")), "{found:#?}");
}
