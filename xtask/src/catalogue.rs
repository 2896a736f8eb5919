//! The README's list of models, written by `regen` from the registry (the `*-raw` crates that
//! `apikley-models` depends on, each read from its patched spec), so that it cannot drift:
//! `regen --check` fails when a model was added, removed or renamed and the list was not.

use std::path::Path;

use apikley::ModelSpec;
use apikley_codegen::RawCrate;

/// The registry's manifest, relative to the workspace.
pub const REGISTRY: &str = "crates/apikley-models/Cargo.toml";
/// The line after which the README's list starts.
pub const BEGIN: &str = "<!-- models: written by `cargo xtask regen` from the registry -->";
/// The line before which it ends.
pub const END: &str = "<!-- /models -->";

/// A registered model, as the list shows it.
#[derive(Debug, Clone)]
pub struct Listed {
    /// The family the spec is titled for ([`ModelSpec::family`]), or "Other".
    pub family: String,
    /// What it makes.
    pub kind: apikley::OutputKind,
    /// The model id.
    pub id: String,
    /// Whether its spec says it was reconstructed from documentation rather than downloaded.
    pub reconstructed: bool,
}

/// The registry cannot be read, or names something that is no model.
#[derive(Debug)]
pub struct Broken {
    /// The registry's manifest.
    pub path: std::path::PathBuf,
    /// What is wrong.
    pub message: String,
}

/// Every registered model of the workspace at `root`, in the list's order (family, kind, id);
/// `None` when the workspace has no registry.
pub fn registered(root: &Path, crates: &[RawCrate]) -> Result<Option<Vec<Listed>>, Broken> {
    let manifest = root.join(REGISTRY);
    let Ok(text) = std::fs::read_to_string(&manifest) else {
        return Ok(None);
    };
    let broken = |message: String| Broken {
        path: manifest.clone(),
        message,
    };
    let table: toml::Table = text.parse().map_err(|e| broken(format!("{e}")))?;
    let names = table
        .get("dependencies")
        .and_then(toml::Value::as_table)
        .into_iter()
        .flat_map(|d| d.keys())
        .filter(|name| name.ends_with("-raw") && *name != "apikley-raw");
    let openapi = root.join("openapi");
    let mut listed = Vec::new();
    for name in names {
        let krate = crates
            .iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| broken(format!("{name} is registered but is no raw crate")))?;
        for spec in krate.specs_in(&openapi) {
            let document = spec
                .patched()
                .map_err(|e| broken(format!("{name}: {}: {e}", spec.name())))?;
            let model = ModelSpec::from_document(&document)
                .map_err(|e| broken(format!("{name}: {}: {e}", spec.name())))?;
            let reconstructed = document
                .pointer("/info/description")
                .and_then(serde_json::Value::as_str)
                .is_some_and(|d| d.to_lowercase().contains("reconstructed from"));
            listed.push(Listed {
                family: model.family().unwrap_or("Other").to_owned(),
                kind: model.kind(),
                id: model.id().to_owned(),
                reconstructed,
            });
        }
    }
    listed.sort_by(|a, b| {
        (a.family.to_lowercase(), a.kind, &a.id).cmp(&(b.family.to_lowercase(), b.kind, &b.id))
    });
    Ok(Some(listed))
}

/// The list as a Markdown table: a row per family and kind, its models' ids, † marking a spec
/// reconstructed from documentation.
pub fn table(models: &[Listed]) -> String {
    let mut text = String::from("| family | makes | models |\n| --- | --- | --- |\n");
    let mut rows: Vec<(&str, &str, Vec<String>)> = Vec::new();
    for model in models {
        let id = format!(
            "`{}`{}",
            model.id,
            if model.reconstructed { " †" } else { "" }
        );
        match rows.last_mut() {
            Some((family, kind, ids))
                if (*family, *kind) == (&model.family, model.kind.as_str()) =>
            {
                ids.push(id)
            }
            _ => rows.push((&model.family, model.kind.as_str(), vec![id])),
        }
    }
    for (family, kind, ids) in rows {
        text.push_str(&format!("| {family} | {kind} | {} |\n", ids.join(", ")));
    }
    text
}

/// `readme` with the text between its [`BEGIN`] and [`END`] lines replaced by `table`; `None`
/// when it lacks them.
pub fn with_table(readme: &str, table: &str) -> Option<String> {
    let start = readme.find(BEGIN)? + BEGIN.len();
    let end = start + readme[start..].find(END)?;
    Some(format!("{}\n{table}{}", &readme[..start], &readme[end..]))
}
