use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::{Error, Patch};

/// An OpenAPI document under an `openapi/` folder, together with its patches.
///
/// `name` is the document's path relative to that folder, e.g. `seedance-1.5-pro.json` or
/// `common/get-task-detail.json`; its patches live in `patches/<name without .json>/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    openapi_dir: PathBuf,
    name: String,
}

impl Spec {
    /// The spec `name` inside `openapi_dir`.
    pub fn new(openapi_dir: impl Into<PathBuf>, name: impl Into<String>) -> Self {
        Spec {
            openapi_dir: openapi_dir.into(),
            name: name.into(),
        }
    }

    /// The path relative to the `openapi/` folder, e.g. `common/get-task-detail.json`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The same spec inside another `openapi/` folder (a raw crate's package copy).
    pub fn in_dir(&self, openapi_dir: impl Into<PathBuf>) -> Spec {
        Spec::new(openapi_dir, self.name.clone())
    }

    /// The document's file.
    pub fn path(&self) -> PathBuf {
        self.openapi_dir.join(&self.name)
    }

    /// The folder of this spec's patch files.
    pub fn patch_dir(&self) -> PathBuf {
        let stem = self.name.strip_suffix(".json").unwrap_or(&self.name);
        self.openapi_dir.join("patches").join(stem)
    }

    /// The file the generated code is written to in `OUT_DIR`, e.g. `get-task-detail.rs`.
    pub fn output_file(&self) -> String {
        let file = self.name.rsplit('/').next().unwrap_or(&self.name);
        format!("{}.rs", file.strip_suffix(".json").unwrap_or(file))
    }

    /// The patch files, in the order they apply (file-name order).
    pub fn patch_files(&self) -> Result<Vec<PathBuf>, Error> {
        let dir = self.patch_dir();
        if !dir.exists() {
            return Ok(Vec::new());
        }
        let mut files = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(Error::io(&dir))? {
            let path = entry.map_err(Error::io(&dir))?.path();
            if path.extension().is_some_and(|e| e == "json") {
                files.push(path);
            }
        }
        files.sort();
        Ok(files)
    }

    /// The file the patched document is written to in `OUT_DIR` (the generated `SPEC`), e.g.
    /// `get-task-detail.json`.
    pub fn patched_file(&self) -> String {
        let file = self.name.rsplit('/').next().unwrap_or(&self.name);
        file.to_owned()
    }

    /// The patches, in the order they apply.
    pub fn patches(&self) -> Result<Vec<Patch>, Error> {
        self.patch_files()?.iter().map(|p| Patch::load(p)).collect()
    }

    /// Every file generation reads: the document, then its patches.
    pub fn inputs(&self) -> Result<Vec<PathBuf>, Error> {
        let mut files = vec![self.path()];
        files.extend(self.patch_files()?);
        Ok(files)
    }

    /// The document as vendored, without patches.
    pub fn load(&self) -> Result<Value, Error> {
        read_json(&self.path())
    }

    /// The document with every patch applied: what the generator sees.
    pub fn patched(&self) -> Result<Value, Error> {
        let mut spec = self.load()?;
        for patch in self.patches()? {
            patch.apply(&mut spec)?;
        }
        Ok(spec)
    }

    /// Generates the formatted Rust code for this spec.
    pub fn generate(&self) -> Result<String, Error> {
        crate::generate(&self.load()?, &self.patched()?, &self.name)
    }
}

pub(crate) fn read_json(path: &Path) -> Result<Value, Error> {
    let text = std::fs::read_to_string(path).map_err(Error::io(path))?;
    serde_json::from_str(&text).map_err(Error::json(path))
}

/// The one canonical formatting of a vendored JSON document: keys in their published order,
/// two-space indentation, UTF-8 kept as is, a final newline. Formatting twice changes nothing.
pub fn normalize_json(text: &str) -> Result<String, serde_json::Error> {
    let value: Value = serde_json::from_str(text)?;
    let mut out = serde_json::to_string_pretty(&value)?;
    out.push('\n');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_keeps_key_order_and_is_idempotent() {
        let once = normalize_json(r#"{"b":1,"a":{"z":[1,2],"y":"é"}}"#).unwrap();
        assert_eq!(
            once,
            "{\n  \"b\": 1,\n  \"a\": {\n    \"z\": [\n      1,\n      2\n    ],\n    \"y\": \"é\"\n  }\n}\n"
        );
        assert_eq!(normalize_json(&once).unwrap(), once);
    }

    #[test]
    fn names_derive_from_the_spec_path() {
        let spec = Spec::new("/x/openapi", "common/get-task-detail.json");
        assert_eq!(spec.output_file(), "get-task-detail.rs");
        assert_eq!(spec.patched_file(), "get-task-detail.json");
        assert_eq!(
            spec.patch_dir(),
            Path::new("/x/openapi/patches/common/get-task-detail")
        );
    }
}
