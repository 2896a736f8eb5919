//! `cargo xtask regen`: keep every generated artefact in line with `openapi/`.
//!
//! 1. `--from PATH` re-vendors a spec, in its canonical formatting.
//! 2. Every spec a raw crate uses must be in canonical formatting.
//! 3. Each raw crate's package copy (`crates/<raw>/openapi/`) must equal the workspace's specs
//!    and patches, file for file.
//! 4. Each raw crate's generated code must equal its snapshot, `tests/snapshots/generated__<crate>.snap`
//!    (an insta snapshot, which the `generated_code` test also checks).
//! 5. The README's list of models must be the registry's ([`catalogue`]).
//!
//! In write mode each step brings its files in line and says what changed, including a summary
//! of public API changes; with `--check` nothing is written and every difference is shown as a
//! diff.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use apikley_codegen::{PublicApi, RawCrate, Spec, normalize_json};

use crate::catalogue;
use similar::TextDiff;

/// Where the snapshots of generated code live, relative to the workspace.
pub const SNAPSHOT_DIR: &str = "tests/snapshots";

/// How many diff lines to show per file before eliding the rest.
const MAX_DIFF_LINES: usize = 200;

/// What `regen` was asked to do.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// Re-vendor this file.
    pub from: Option<PathBuf>,
    /// The spec `from` replaces (a path inside `openapi/`); default: the one with its file name.
    pub spec: Option<String>,
    /// Only report; write nothing.
    pub check: bool,
}

/// What was (or, with `--check`, would be) brought up to date.
#[derive(Debug, Default)]
pub struct Outcome {
    stale: Vec<PathBuf>,
}

impl Outcome {
    /// Whether everything already was up to date.
    pub fn is_clean(&self) -> bool {
        self.stale.is_empty()
    }

    /// The files that were out of date, relative to the workspace.
    pub fn stale(&self) -> &[PathBuf] {
        &self.stale
    }
}

/// Why `regen` could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading specs or generating code failed.
    #[error(transparent)]
    Codegen(#[from] apikley_codegen::Error),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The `--from` file is not usable.
    #[error("--from {path}: {message}")]
    FromFile {
        /// The file given.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The registry or the README's list of models cannot be read.
    #[error("{path}: {message}")]
    Registry {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A model's `createTask` body uses keywords the SDK's checker does not enforce: requests
    /// breaking them would be sent unseen.
    #[error(
        "{spec}: the createTask body uses what the SDK's request checker does not enforce, so a \
         request breaking it would be sent unseen:\n{}\n  Rewrite it with a reviewed patch in \
         openapi/patches/ (or teach apikley::spec to check it).",
        .keywords.iter().map(|(at, keyword)| format!("  - {keyword} at {at}")).collect::<Vec<_>>().join("\n")
    )]
    Unchecked {
        /// The spec.
        spec: String,
        /// Each (JSON path in the body schema, keyword).
        keywords: Vec<(String, String)>,
    },
}

/// Refuses a model document (patches applied) whose `createTask` body uses keywords the
/// checker does not enforce; other documents pass.
pub fn check_keywords(spec: &str, document: &serde_json::Value) -> Result<(), Error> {
    if apikley_codegen::market_model(document).is_none() {
        return Ok(());
    }
    let Ok(model) = apikley::ModelSpec::from_document(document) else {
        return Ok(());
    };
    let keywords = model.unchecked_keywords();
    match keywords.is_empty() {
        true => Ok(()),
        false => Err(Error::Unchecked {
            spec: spec.to_owned(),
            keywords,
        }),
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_owned(),
        source,
    }
}

/// Runs `regen` on the workspace at `root`, reporting to `out`.
pub fn run(root: &Path, options: &Options, out: &mut dyn Write) -> Result<Outcome, Error> {
    let crates = RawCrate::discover(root)?;
    let openapi = root.join("openapi");
    let mut sync = Reconciler {
        root,
        check: options.check,
        out,
        outcome: Outcome::default(),
    };

    let mut specs: Vec<String> = Vec::new();
    for spec in crates.iter().flat_map(|k| k.specs_in(&openapi)) {
        if !specs.iter().any(|s| s == spec.name()) {
            specs.push(spec.name().to_owned());
        }
    }

    if let Some(from) = &options.from {
        let target = target_spec(from, options.spec.as_deref(), &specs)?;
        let text = std::fs::read_to_string(from).map_err(io(from))?;
        let normalized = normalize_json(&text).map_err(|e| Error::FromFile {
            path: from.clone(),
            message: format!("not JSON: {e}"),
        })?;
        // Refused before anything is written.
        let mut document: serde_json::Value =
            serde_json::from_str(&normalized).map_err(|e| Error::FromFile {
                path: from.clone(),
                message: format!("not JSON: {e}"),
            })?;
        for patch in Spec::new(&openapi, target.clone()).patches()? {
            patch.apply(&mut document)?;
        }
        check_keywords(&target, &document)?;
        sync.text_file(&openapi.join(&target), &normalized)?;
    }

    for name in &specs {
        check_keywords(name, &Spec::new(&openapi, name.clone()).patched()?)?;
    }

    for name in &specs {
        let path = openapi.join(name);
        let text = std::fs::read_to_string(&path).map_err(io(&path))?;
        let normalized = normalize_json(&text).map_err(|e| {
            Error::Codegen(apikley_codegen::Error::Json {
                path: path.clone(),
                source: e,
            })
        })?;
        sync.text_file(&path, &normalized)?;
    }

    for krate in &crates {
        sync.package_copy(krate, &openapi)?;
    }

    for krate in &crates {
        sync.snapshot(krate, &openapi)?;
    }

    let registered = catalogue::registered(root, &crates)
        .map_err(|catalogue::Broken { path, message }| Error::Registry { path, message })?;
    if let Some(models) = registered {
        let readme = root.join("README.md");
        let current = std::fs::read_to_string(&readme).map_err(io(&readme))?;
        let expected =
            catalogue::with_table(&current, &catalogue::table(&models)).ok_or_else(|| {
                Error::Registry {
                    path: readme.clone(),
                    message: format!(
                        "has no list of models to keep up to date: put a line `{}` and a line `{}` \
                     where it goes",
                        catalogue::BEGIN,
                        catalogue::END
                    ),
                }
            })?;
        sync.text_file(&readme, &expected)?;
    }

    Ok(sync.outcome)
}

fn target_spec(from: &Path, spec: Option<&str>, specs: &[String]) -> Result<String, Error> {
    if let Some(spec) = spec {
        return if specs.iter().any(|s| s == spec) {
            Ok(spec.to_owned())
        } else {
            Err(Error::FromFile {
                path: from.to_owned(),
                message: format!(
                    "--spec {spec} is not a spec of any raw crate (known: {})",
                    specs.join(", ")
                ),
            })
        };
    }
    let file = from.file_name().and_then(|f| f.to_str()).unwrap_or("");
    let matching: Vec<_> = specs
        .iter()
        .filter(|s| s.rsplit('/').next() == Some(file))
        .collect();
    match matching.as_slice() {
        [one] => Ok((*one).clone()),
        _ => Err(Error::FromFile {
            path: from.to_owned(),
            message: format!(
                "no spec is named `{file}`; say which one it replaces with --spec (known: {})",
                specs.join(", ")
            ),
        }),
    }
}

/// Brings files in line with what they should hold (or, with `--check`, reports how they
/// differ).
struct Reconciler<'a> {
    root: &'a Path,
    check: bool,
    out: &'a mut dyn Write,
    outcome: Outcome,
}

impl Reconciler<'_> {
    fn relative<'p>(&self, path: &'p Path) -> &'p Path {
        path.strip_prefix(self.root).unwrap_or(path)
    }

    fn say(&mut self, line: impl AsRef<str>) {
        // Reporting is best effort: a closed stdout must not abort a regeneration.
        let _ = writeln!(self.out, "{}", line.as_ref());
    }

    fn stale(&mut self, path: &Path, old: &str, new: &str) {
        let relative = self.relative(path).to_owned();
        if self.check {
            self.say(format!("✗ {} is out of date:", relative.display()));
            self.diff(&relative, old, new);
        } else {
            self.say(format!("✓ updated {}", relative.display()));
        }
        self.outcome.stale.push(relative);
    }

    fn diff(&mut self, relative: &Path, old: &str, new: &str) {
        let name = relative.display().to_string();
        let diff = TextDiff::from_lines(old, new)
            .unified_diff()
            .context_radius(3)
            .header(&format!("a/{name}"), &format!("b/{name}"))
            .to_string();
        let lines: Vec<&str> = diff.lines().collect();
        for line in lines.iter().take(MAX_DIFF_LINES) {
            self.say(format!("    {line}"));
        }
        if lines.len() > MAX_DIFF_LINES {
            self.say(format!(
                "    … {} more diff lines",
                lines.len() - MAX_DIFF_LINES
            ));
        }
    }

    /// Makes `path` hold `expected`.
    fn text_file(&mut self, path: &Path, expected: &str) -> Result<(), Error> {
        let current = read_optional(path)?;
        if current.as_deref() == Some(expected) {
            return Ok(());
        }
        self.stale(path, current.as_deref().unwrap_or(""), expected);
        if !self.check {
            write(path, expected)?;
        }
        Ok(())
    }

    /// Makes `crates/<raw>/openapi/` an exact copy of the crate's specs and their patches.
    fn package_copy(&mut self, krate: &RawCrate, openapi: &Path) -> Result<(), Error> {
        let copy_dir = krate.dir().join("openapi");
        let mut expected = BTreeMap::new();
        for spec in krate.specs_in(openapi) {
            for file in spec.inputs()? {
                let relative = file.strip_prefix(openapi).unwrap_or(&file).to_owned();
                let text = std::fs::read_to_string(&file).map_err(io(&file))?;
                expected.insert(relative, text);
            }
        }
        for (relative, text) in &expected {
            self.text_file(&copy_dir.join(relative), text)?;
        }
        for relative in files_under(&copy_dir)? {
            if !expected.contains_key(&relative) {
                let path = copy_dir.join(&relative);
                let old = std::fs::read_to_string(&path).unwrap_or_default();
                self.stale(&path, &old, "");
                if !self.check {
                    std::fs::remove_file(&path).map_err(io(&path))?;
                }
            }
        }
        Ok(())
    }

    /// Makes the crate's snapshot hold its generated code, and summarises API changes.
    fn snapshot(&mut self, krate: &RawCrate, openapi: &Path) -> Result<(), Error> {
        let path = self
            .root
            .join(SNAPSHOT_DIR)
            .join(format!("generated__{}.snap", krate.name()));
        let code = krate.generate(openapi)?;
        let current = read_optional(&path)?;
        let old = current.as_deref().map(snapshot_contents);
        if old == Some(code.trim_end()) {
            return Ok(());
        }
        self.stale(&path, old.unwrap_or(""), code.trim_end());
        self.api_summary(krate.name(), old, &code);
        if !self.check {
            write(&path, &snapshot_file(&code))?;
        }
        Ok(())
    }

    fn api_summary(&mut self, name: &str, old: Option<&str>, new: &str) {
        let parse = |code: &str| PublicApi::parse(code).ok();
        match (old.and_then(parse), parse(new)) {
            (Some(old), Some(new)) => {
                let changes = old.diff(&new);
                if changes.is_empty() {
                    self.say(format!(
                        "  {name}: public API unchanged (documentation or internals only)"
                    ));
                } else {
                    self.say(format!("  {name}: public API changes:"));
                    for change in changes {
                        self.say(format!("    {change}"));
                    }
                }
            }
            (None, Some(new)) => self.say(format!(
                "  {name}: new snapshot with {} public items",
                new.len()
            )),
            _ => self.say(format!(
                "  {name}: (the API summary could not parse the code)"
            )),
        }
    }
}

/// An insta snapshot file holding `code`, as the `generated_code` test asserts it.
pub fn snapshot_file(code: &str) -> String {
    format!(
        "---\nsource: tests/generated_code.rs\nexpression: code\n---\n{}\n",
        code.trim_end()
    )
}

/// The contents of an insta snapshot file, without its metadata header.
pub fn snapshot_contents(file: &str) -> &str {
    let body = file
        .strip_prefix("---\n")
        .and_then(|rest| {
            rest.find("\n---\n")
                .map(|end| &rest[end + "\n---\n".len()..])
        })
        .unwrap_or(file);
    body.trim_end()
}

fn read_optional(path: &Path) -> Result<Option<String>, Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::Io {
            path: path.to_owned(),
            source: e,
        }),
    }
}

fn write(path: &Path, text: &str) -> Result<(), Error> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    std::fs::write(path, text).map_err(io(path))
}

/// Every file under `dir`, relative to it; none if it does not exist.
fn files_under(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(current) = pending.pop() {
        let entries = match std::fs::read_dir(&current) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(Error::Io {
                    path: current,
                    source: e,
                });
            }
        };
        for entry in entries {
            let path = entry.map_err(io(&current))?.path();
            if path.is_dir() {
                pending.push(path);
            } else if let Ok(relative) = path.strip_prefix(dir) {
                files.push(relative.to_owned());
            }
        }
    }
    files.sort();
    Ok(files)
}
