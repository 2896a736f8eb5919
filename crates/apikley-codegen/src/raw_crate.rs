use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::{Error, Spec};

/// Where the generated model crates live, one per Market model, relative to the workspace
/// (the shared endpoints' `apikley-raw` stays beside the hand-written crates).
pub const MODELS_DIR: &str = "crates/models";

/// A crate whose code is generated from specs, as its manifest declares:
///
/// ```toml
/// [package.metadata.apikley-codegen]
/// specs = ["seedance-1.5-pro.json"]   # paths inside openapi/
/// ```
///
/// The crate keeps a copy of each spec and its patches in its own `openapi/` folder, so that the
/// published package builds on its own; `cargo xtask regen` keeps the copies identical to the
/// workspace's `openapi/`.
#[derive(Debug, Clone)]
pub struct RawCrate {
    name: String,
    dir: PathBuf,
    specs: Vec<String>,
}

#[derive(Deserialize)]
struct Manifest {
    package: Package,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    #[serde(default)]
    metadata: Option<Metadata>,
}

#[derive(Deserialize)]
struct Metadata {
    #[serde(rename = "apikley-codegen")]
    codegen: Option<CodegenMetadata>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CodegenMetadata {
    specs: Vec<String>,
}

impl RawCrate {
    /// Reads the crate in `dir`; `Ok(None)` when its manifest declares no specs.
    pub fn load(dir: &Path) -> Result<Option<Self>, Error> {
        let path = dir.join("Cargo.toml");
        let text = std::fs::read_to_string(&path).map_err(Error::io(&path))?;
        let manifest: Manifest = toml::from_str(&text).map_err(|e| Error::Manifest {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let Some(codegen) = manifest.package.metadata.and_then(|m| m.codegen) else {
            return Ok(None);
        };
        if codegen.specs.is_empty() {
            return Err(Error::Manifest {
                path,
                message: "`package.metadata.apikley-codegen.specs` is empty".into(),
            });
        }
        Ok(Some(RawCrate {
            name: manifest.package.name,
            dir: dir.to_owned(),
            specs: codegen.specs,
        }))
    }

    /// Every raw crate under `<workspace>/crates/` and `<workspace>/crates/models/`, sorted by
    /// name.
    pub fn discover(workspace: &Path) -> Result<Vec<Self>, Error> {
        let mut found = Vec::new();
        for folder in [workspace.join("crates"), workspace.join(MODELS_DIR)] {
            if !folder.is_dir() {
                continue;
            }
            for entry in std::fs::read_dir(&folder).map_err(Error::io(&folder))? {
                let dir = entry.map_err(Error::io(&folder))?.path();
                if dir.join("Cargo.toml").is_file()
                    && let Some(krate) = RawCrate::load(&dir)?
                {
                    found.push(krate);
                }
            }
        }
        found.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(found)
    }

    /// The package name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The crate's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The crate's own copy of its specs: what its build script reads.
    pub fn package_specs(&self) -> Vec<Spec> {
        self.specs_in(&self.dir.join("openapi"))
    }

    /// The crate's specs inside another `openapi/` folder (normally the workspace's).
    pub fn specs_in(&self, openapi_dir: &Path) -> Vec<Spec> {
        self.specs
            .iter()
            .map(|name| Spec::new(openapi_dir, name.clone()))
            .collect()
    }

    /// All the crate's generated code from the specs in `openapi_dir`, one spec after the other:
    /// what the snapshot of this crate holds.
    pub fn generate(&self, openapi_dir: &Path) -> Result<String, Error> {
        let parts = self
            .specs_in(openapi_dir)
            .iter()
            .map(Spec::generate)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(parts.join("\n"))
    }
}
