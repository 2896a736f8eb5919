use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::Error;

/// One reviewed fix to a spec, applied at generation time: a JSON Patch (RFC 6902) and its reason.
///
/// Patch files live in `openapi/patches/<spec name without .json>/` and apply in file-name order:
///
/// ```json
/// {
///   "reason": "why the generator needs this",
///   "patch": [{ "op": "remove", "path": "/components/schemas/ApiResponse/properties/code/enum" }]
/// }
/// ```
///
/// An operation whose target is gone fails loudly, so a spec change that makes a patch obsolete
/// is noticed at the next `regen`.
#[derive(Debug, Clone)]
pub struct Patch {
    path: PathBuf,
    reason: String,
    operations: json_patch::Patch,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchFile {
    reason: String,
    patch: json_patch::Patch,
}

impl Patch {
    /// Reads a patch file; its `reason` must not be empty.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(Error::io(path))?;
        let file: PatchFile = serde_json::from_str(&text).map_err(Error::json(path))?;
        if file.reason.trim().is_empty() {
            return Err(Error::Patch {
                path: path.to_owned(),
                message: "`reason` is empty: say why the generator needs this patch".into(),
            });
        }
        Ok(Patch {
            path: path.to_owned(),
            reason: file.reason,
            operations: file.patch,
        })
    }

    /// The patch file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Why the generator needs this patch.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// Applies the patch; on failure the document is left unchanged.
    pub fn apply(&self, spec: &mut Value) -> Result<(), Error> {
        json_patch::patch(spec, &self.operations).map_err(|e| Error::Patch {
            path: self.path.clone(),
            message: format!("does not apply: {e}"),
        })
    }
}
