//! `cargo xtask new-model --spec openapi/<model>.json`: a Market model from its spec alone.
//!
//! 1. The document must describe one model: a POST operation whose JSON body has a `model` of
//!    one value and an `input` object. Anything else is refused with the construct named.
//! 2. The Market envelope's reviewed fixes (the same patches, with the same reasons, as every
//!    Market document needs) are written to `openapi/patches/<model>/` where they apply.
//! 3. The code is generated once in a scratch folder: a document progenitor cannot take is
//!    refused before anything is written, with progenitor's words.
//! 4. The raw crate is written under `crates/models/` (`Cargo.toml`, `build.rs`, `README.md`, its crate
//!    docs, and `src/lib.rs`: generated in the build step like the others, with its `Model`: the
//!    `apikley-model` contract), registered in the
//!    workspace and in `apikley-models`, and `regen` writes its package copy and snapshot.
//!
//! Running it again changes nothing that is already in place.

use std::io::Write;
use std::path::{Path, PathBuf};

use apikley_codegen::{MODELS_DIR, MarketModel, Patch, Spec, market_model, normalize_json};
use serde_json::Value;

use crate::regen;

/// The Market envelope's fixes, as templates: (file name, text).
const MARKET_PATCHES: [(&str, &str); 3] = [
    (
        "01-open-response-code.json",
        include_str!("../templates/market-patches/01-open-response-code.json"),
    ),
    (
        "02-error-response-body.json",
        include_str!("../templates/market-patches/02-error-response-body.json"),
    ),
    (
        "03-message-alias.json",
        include_str!("../templates/market-patches/03-message-alias.json"),
    ),
];

/// Why a model could not be added.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The spec file cannot be used.
    #[error(
        "{path}: {reason}\n  If the document needs a fix to be read, add it as a reviewed patch in \
         openapi/patches/{stem}/ (a JSON Patch with its reason; see openapi/patches/seedance-1.5-pro/)"
    )]
    Spec {
        /// The spec.
        path: PathBuf,
        /// The file stem, naming the patch folder.
        stem: String,
        /// What is wrong.
        reason: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The generated snapshot could not be written.
    #[error(transparent)]
    Regen(#[from] regen::Error),
}

/// What `new-model` did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The model id.
    pub model: String,
    /// The raw crate's package name.
    pub krate: String,
    /// The files written or changed, relative to the workspace.
    pub written: Vec<PathBuf>,
}

/// Adds the model `spec` (a path, normally inside `openapi/`) to the workspace at `root`.
pub fn run(root: &Path, spec: &Path, out: &mut dyn Write) -> Result<Outcome, Error> {
    let openapi = root.join("openapi");
    let file_name = spec
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_owned();
    let stem = file_name
        .strip_suffix(".json")
        .unwrap_or(&file_name)
        .to_owned();
    let refuse = |reason: String| Error::Spec {
        path: spec.to_owned(),
        stem: stem.clone(),
        reason,
    };
    if !file_name.ends_with(".json") || stem.is_empty() {
        return Err(refuse(
            "a spec is a .json file (the JSON the docs page renders)".into(),
        ));
    }
    let text = read(spec)?;
    let normalized = normalize_json(&text).map_err(|e| refuse(format!("not JSON: {e}")))?;
    let document: Value = serde_json::from_str(&normalized).map_err(|e| refuse(e.to_string()))?;
    let model = market_model(&document).ok_or_else(|| {
        refuse(
            "no createTask operation: no POST operation takes a JSON body whose `model` has one \
             value and whose `input` is an object"
                .into(),
        )
    })?;
    let krate = format!("{}-raw", stem.replace(['.', '_'], "-"));
    let mut outcome = Outcome {
        model: model.id.clone(),
        krate: krate.clone(),
        written: Vec::new(),
    };
    let mut files = Files {
        root,
        out,
        written: &mut outcome.written,
    };

    // What gets written, decided and tried before anything is.
    let mut patches: Vec<(String, String)> = MARKET_PATCHES
        .iter()
        .filter(|(_, template)| applies(template, &document))
        .map(|(name, template)| ((*name).to_owned(), (*template).to_owned()))
        .collect();
    regen::check_keywords(&file_name, &document).map_err(|e| refuse(e.to_string()))?;
    let declared = declarations(&document, &model).map_err(&refuse)?;
    patches.extend(declared.patches);
    trial(&file_name, &normalized, &patches).map_err(refuse)?;

    files.write(&openapi.join(&file_name), &normalized)?;
    for (name, text) in &patches {
        files.write_new(&openapi.join("patches").join(&stem).join(name), text)?;
    }
    let dir = root.join(MODELS_DIR).join(&krate);
    files.write_new(
        &dir.join("Cargo.toml"),
        &manifest(&krate, &file_name, &model),
    )?;
    files.write_new(&dir.join("build.rs"), BUILD_SCRIPT)?;
    files.write_new(
        &dir.join("README.md"),
        &readme(&krate, &file_name, &stem, &model),
    )?;
    files.write_new_rust(&dir.join("src/lib.rs"), &lib(&stem))?;
    files.register(
        &root.join("Cargo.toml"),
        "[workspace.dependencies]",
        &format!("{krate} = {{ path = \"{MODELS_DIR}/{krate}\", version = \"0.1.0\" }}"),
        "-raw = { path = \"crates/",
    )?;
    files.register(
        &root.join("crates/apikley-models/Cargo.toml"),
        "[dependencies]",
        &format!("{krate}.workspace = true"),
        "-raw.workspace = true",
    )?;
    for line in &declared.report {
        say(files.out, line);
    }
    say(
        files.out,
        &format!(
            "The declarations are in openapi/patches/{stem}/: change them there if they are wrong."
        ),
    );
    let options = regen::Options::default();
    regen::run(root, &options, files.out)?;
    say(
        files.out,
        &format!(
            "\nmodel {} is crate {krate} (`{}::Model`), registered in apikley-models: it appears in \
             `apikley models`, `apikley run` and the sandbox after a rebuild.",
            model.id,
            krate.replace('-', "_")
        ),
    );
    say(
        files.out,
        "What a person may still want to add by hand (none of it is needed):\n  \
         - friendly names for the inputs, as crates/seedance does for Seedance 1.5 Pro;\n  \
         - a patch in openapi/patches/ if the generated types should differ from the spec;\n  \
         then `cargo build --workspace && cargo test --workspace`.",
    );
    Ok(outcome)
}

/// The patches that declare what the model produces, how long its tasks take and what files
/// its inputs take (`x-apikley-output`, `x-apikley-duration`, `x-apikley-files` on the
/// `createTask` operation), as derived from the whole document.
const OUTPUT_PATCH: &str = "04-output-kind.json";
const DURATION_PATCH: &str = "05-expected-duration.json";
const FILES_PATCH: &str = "06-input-files.json";

/// The model's declarations as derived, with their patches and a line each for the report.
struct Declared {
    patches: Vec<(String, String)>,
    report: Vec<String>,
}

fn declarations(document: &Value, model: &MarketModel) -> Result<Declared, String> {
    let spec = apikley::ModelSpec::from_document(document).map_err(|e| e.to_string())?;
    let derived = apikley_codegen::derive(document, model, spec.body_schema());
    let operation = format!(
        "/paths/{}/post",
        model.path.replace('~', "~0").replace('/', "~1")
    );
    let patch = |file: &str, extension: &str, value: Value, reason: String| {
        let text = serde_json::to_string_pretty(&serde_json::json!({
            "reason": reason,
            "patch": [{"op": "add", "path": format!("{operation}/{extension}"), "value": value}],
        }))
        .map_err(|e| e.to_string())?;
        Ok::<_, String>((file.to_owned(), format!("{text}\n")))
    };
    fn json(value: &impl serde::Serialize) -> Result<Value, String> {
        serde_json::to_value(value).map_err(|e| e.to_string())
    }
    let mut declared = Declared {
        patches: Vec::new(),
        report: Vec::new(),
    };
    let output = &derived.output;
    declared.patches.push(patch(
        OUTPUT_PATCH,
        apikley::OUTPUT_EXTENSION,
        Value::from(output.value.as_str()),
        format!(
            "What the model produces, derived by `cargo xtask new-model` from the whole document: {}. \
             Result files are named, the sandbox serves results and `apikley describe` tells it from \
             this declaration; if it is wrong, change the value (video, image, audio or other).",
            output.reason
        ),
    )?);
    declared.report.push(format!(
        "output: {} ({}); declared in {OUTPUT_PATCH}",
        output.value, output.reason
    ));
    if let Some(duration) = &derived.duration {
        declared.patches.push(patch(
            DURATION_PATCH,
            apikley::DURATION_EXTENSION,
            json(&duration.value)?,
            format!(
                "How long a task takes, derived by `cargo xtask new-model` from the inputs: {}. \
                 Waits pace their status queries and the sandbox times its tasks by it; \
                 `(base_seconds + seconds_per_output_second × length) × scale × each factor`. \
                 Correct the figures here when the model is faster or slower.",
                duration.reason
            ),
        )?);
        declared.report.push(format!(
            "expected duration: {}; declared in {DURATION_PATCH}",
            duration.reason
        ));
    }
    if !derived.files.is_empty() {
        let hints: serde_json::Map<String, Value> = derived
            .files
            .iter()
            .map(|(name, hint)| Ok((name.clone(), json(&hint.value)?)))
            .collect::<Result<_, String>>()?;
        let reasons: Vec<String> = derived
            .files
            .iter()
            .map(|(name, hint)| format!("`{name}`: {}", hint.reason))
            .collect();
        declared.patches.push(patch(
            FILES_PATCH,
            apikley::FILES_EXTENSION,
            Value::Object(hints),
            format!(
                "What files the file inputs take (formats by MIME type, size in bytes), derived by \
                 `cargo xtask new-model` from the inputs' names and descriptions: {}. Local files \
                 are checked by content against it before upload; correct it here when the service \
                 takes more or less.",
                reasons.join("; ")
            ),
        )?);
        declared.report.push(format!(
            "input files: {}; declared in {FILES_PATCH}",
            reasons.join("; ")
        ));
    }
    Ok(declared)
}

/// Whether a patch template applies to the document (its targets are there).
fn applies(template: &str, document: &Value) -> bool {
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(_) => return false,
    };
    let path = dir.path().join("patch.json");
    std::fs::write(&path, template).is_ok()
        && Patch::load(&path).is_ok_and(|patch| patch.apply(&mut document.clone()).is_ok())
}

/// Generates the code from the document and patches in a scratch folder.
fn trial(file_name: &str, document: &str, patches: &[(String, String)]) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let openapi = dir.path().join("openapi");
    let stem = file_name.strip_suffix(".json").unwrap_or(file_name);
    let patch_dir = openapi.join("patches").join(stem);
    std::fs::create_dir_all(&patch_dir).map_err(|e| e.to_string())?;
    std::fs::write(openapi.join(file_name), document).map_err(|e| e.to_string())?;
    for (name, text) in patches {
        std::fs::write(patch_dir.join(name), text).map_err(|e| e.to_string())?;
    }
    Spec::new(&openapi, file_name)
        .generate()
        .map(drop)
        .map_err(|e| format!("the generator cannot take it: {e}"))
}

const BUILD_SCRIPT: &str = "fn main() {\n    apikley_codegen::build_script();\n}\n";

fn manifest(krate: &str, file_name: &str, model: &MarketModel) -> String {
    format!(
        r#"[package]
name = "{krate}"
description = "Spec-exact types and client for Apikley's {id} (createTask), generated by progenitor at build time"
version.workspace = true
edition.workspace = true
rust-version.workspace = true
license.workspace = true
authors.workspace = true
keywords = ["apikley", "openapi", "progenitor"]
categories = ["api-bindings"]
readme = "README.md"
include = ["build.rs", "README.md", "src/**", "openapi/**"]

[package.metadata.apikley-codegen]
specs = ["{file_name}"]

[dependencies]
apikley-model.workspace = true
progenitor-client.workspace = true
reqwest.workspace = true
schemars.workspace = true
serde.workspace = true
serde_json.workspace = true

[build-dependencies]
apikley-codegen.workspace = true
"#,
        id = model.id
    )
}

/// The crate's README, which its docs open with.
fn readme(krate: &str, file_name: &str, stem: &str, model: &MarketModel) -> String {
    let summary = model
        .summary
        .as_deref()
        .map(|s| format!("{s}.\n\n"))
        .unwrap_or_default();
    format!(
        r#"# {krate}

Spec-exact types and client for Apikley's `{id}` model, generated by [progenitor] at
build time from its OpenAPI document (`openapi/{file_name}`, plus the reviewed patches in
`openapi/patches/{stem}/`). Written by `cargo xtask new-model`; nothing here is by hand.

{summary}`Model` is the model for the `apikley` runtime (through the `apikley-model` contract):
`client.submit_body::<{lib}::Model>(&body)`, or `apikley::Request::of::<{lib}::Model>()`
with inputs by name, every rule of the spec checked before anything is sent.

[progenitor]: https://github.com/oxidecomputer/progenitor
"#,
        id = model.id,
        lib = krate.replace('-', "_"),
    )
}

fn lib(stem: &str) -> String {
    format!(
        r#"#![doc = include_str!("../README.md")]

include!(concat!(env!("OUT_DIR"), "/{stem}.rs"));
"#
    )
}

fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

fn say(out: &mut dyn Write, line: &str) {
    // Reporting is best effort: a closed stdout must not stop the work.
    let _ = writeln!(out, "{line}");
}

/// Writes files once: what is already there is left as it is, and said so.
struct Files<'a> {
    root: &'a Path,
    out: &'a mut dyn Write,
    written: &'a mut Vec<PathBuf>,
}

impl Files<'_> {
    fn relative(&self, path: &Path) -> PathBuf {
        path.strip_prefix(self.root).unwrap_or(path).to_owned()
    }

    /// Makes `path` hold `text`.
    fn write(&mut self, path: &Path, text: &str) -> Result<(), Error> {
        if std::fs::read_to_string(path).ok().as_deref() == Some(text) {
            return Ok(());
        }
        let io = |source| Error::Io {
            path: path.to_owned(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        std::fs::write(path, text).map_err(io)?;
        let relative = self.relative(path);
        say(self.out, &format!("✓ wrote {}", relative.display()));
        self.written.push(relative);
        Ok(())
    }

    /// Writes `path` unless it exists (then it is someone's, and stays).
    fn write_new(&mut self, path: &Path, text: &str) -> Result<(), Error> {
        if path.exists() {
            if std::fs::read_to_string(path).ok().as_deref() != Some(text) {
                let relative = self.relative(path);
                say(
                    self.out,
                    &format!("· {} exists and is left as it is", relative.display()),
                );
            }
            return Ok(());
        }
        self.write(path, text)
    }

    /// [`write_new`](Self::write_new) for Rust code, formatted as `cargo fmt` formats it (the
    /// layout of a line depends on its length, hence on the model's name).
    fn write_new_rust(&mut self, path: &Path, text: &str) -> Result<(), Error> {
        if path.exists() {
            return self.write_new(path, text);
        }
        self.write(path, text)?;
        let formatted = std::process::Command::new("rustfmt")
            .args(["--edition", "2024"])
            .arg(path)
            .status();
        if !formatted.is_ok_and(|status| status.success()) {
            let relative = self.relative(path);
            say(
                self.out,
                &format!(
                    "· {} could not be formatted: run `cargo fmt`",
                    relative.display()
                ),
            );
        }
        Ok(())
    }

    /// Adds `line` to `section` of a manifest (`[dependencies]`), after the section's last line
    /// containing `anchor`, else after its last line, unless the section has its key already.
    /// Only that section counts: a model that is a dev-dependency elsewhere in the file is not
    /// registered by it.
    fn register(
        &mut self,
        manifest: &Path,
        section: &str,
        line: &str,
        anchor: &str,
    ) -> Result<(), Error> {
        let text = read(manifest)?;
        let mut lines: Vec<&str> = text.lines().collect();
        let Some(header) = lines.iter().position(|l| l.trim() == section) else {
            return Err(Error::Io {
                path: manifest.to_owned(),
                source: std::io::Error::other(format!("it has no {section} section")),
            });
        };
        let start = header + 1;
        let end = lines[start..]
            .iter()
            .position(|l| l.trim_start().starts_with('['))
            .map_or(lines.len(), |i| start + i);
        let body = &lines[start..end];
        let key = line.split([' ', '.']).next().unwrap_or(line);
        if body
            .iter()
            .any(|l| l.split([' ', '.', '=']).next() == Some(key))
        {
            return Ok(());
        }
        let after = body
            .iter()
            .rposition(|l| l.contains(anchor))
            .or_else(|| body.iter().rposition(|l| !l.trim().is_empty()));
        lines.insert(after.map_or(start, |i| start + i + 1), line);
        let mut updated = lines.join("\n");
        updated.push('\n');
        self.write(manifest, &updated)
    }
}
