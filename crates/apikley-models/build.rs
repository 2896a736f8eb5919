//! Writes the list of registered models: every `*-raw` dependency of this crate (but the
//! shared `apikley-raw`), each with its `SPEC`.

use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let manifest = dir.join("Cargo.toml");
    println!("cargo::rerun-if-changed=Cargo.toml");
    let text = match std::fs::read_to_string(&manifest) {
        Ok(text) => text,
        Err(e) => return println!("cargo::error={}: {e}", manifest.display()),
    };
    let table: toml::Table = match text.parse() {
        Ok(table) => table,
        Err(e) => return println!("cargo::error={}: {e}", manifest.display()),
    };
    let mut crates: Vec<String> = table
        .get("dependencies")
        .and_then(|d| d.as_table())
        .into_iter()
        .flat_map(|d| d.keys())
        .filter(|name| name.ends_with("-raw") && *name != "apikley-raw")
        .map(|name| name.replace('-', "_"))
        .collect();
    crates.sort();
    let entries: String = crates
        .iter()
        .map(|krate| format!("    ({krate:?}, {krate}::SPEC),\n"))
        .collect();
    let code = format!(
        "/// Each registered model's raw crate and vendored spec.\n\
         pub(crate) const SPECS: &[(&str, &str)] = &[\n{entries}];\n"
    );
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("models.rs");
    if let Err(e) = std::fs::write(&out, code) {
        println!("cargo::error={}: {e}", out.display());
    }
}
