//! Provenance beside each saved result: `clip.mp4.json` says what made `clip.mp4` (model,
//! inputs, task, times, the service's `costTime`, the SDK's version) and the file's SHA-256,
//! so that it can be checked, and made again with one change (`apikley run --again`).

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use apikley::{Request, TaskRecord};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// The sidecar of `file`: its name with `.json` added.
pub fn path(file: &Path) -> PathBuf {
    let mut name = OsString::from(file.as_os_str());
    name.push(".json");
    PathBuf::from(name)
}

/// What a result was made from: the model, and the inputs as the user gave them (local files by
/// path).
#[derive(Debug, Clone)]
pub struct Origin {
    /// The model's id.
    pub model: String,
    /// The inputs.
    pub input: Map<String, Value>,
}

impl Origin {
    /// The request's model and inputs.
    pub fn of_request(request: &Request) -> Option<Origin> {
        Some(Origin {
            model: request.model_id()?.to_owned(),
            input: request.inputs().clone(),
        })
    }

    /// What the record says the task was made from (`param`, as the service kept it).
    pub fn of_record(record: &TaskRecord) -> Origin {
        let param: Value = record.request().and_then(Result::ok).unwrap_or_default();
        Origin {
            model: param["model"]
                .as_str()
                .or(record.model.as_deref())
                .unwrap_or_default()
                .to_owned(),
            input: param["input"].as_object().cloned().unwrap_or_default(),
        }
    }

    /// A sidecar file read back: its model and inputs.
    pub fn read(path: &Path) -> Result<Origin, String> {
        let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
        let document: Value = serde_json::from_str(&text).map_err(|e| format!("not JSON: {e}"))?;
        let model = document["model"].as_str().ok_or("names no model")?;
        let input = document["input"].as_object().ok_or("has no input object")?;
        Ok(Origin {
            model: model.to_owned(),
            input: input.clone(),
        })
    }
}

/// Writes the sidecar of the saved `file` (`bytes` long) of the task `record` describes, made
/// from `origin`; an existing sidecar is replaced only with `overwrite`. Its path, or why it
/// was not written.
pub async fn write(
    file: &Path,
    bytes: u64,
    record: &TaskRecord,
    origin: &Origin,
    overwrite: bool,
) -> Result<PathBuf, String> {
    let (file, record, origin) = (file.to_owned(), record.clone(), origin.clone());
    tokio::task::spawn_blocking(move || write_blocking(&file, bytes, &record, &origin, overwrite))
        .await
        .map_err(|e| e.to_string())?
}

fn write_blocking(
    file: &Path,
    bytes: u64,
    record: &TaskRecord,
    origin: &Origin,
    overwrite: bool,
) -> Result<PathBuf, String> {
    let target = path(file);
    let document = json!({
        "model": origin.model,
        "input": origin.input,
        "task_id": record.id,
        "created_at": record.created_at.map(|t| t.to_rfc3339()),
        "completed_at": record.completed_at.map(|t| t.to_rfc3339()),
        "cost_time": record.json.get("costTime"),
        "sdk_version": apikley::VERSION,
        "file": file.file_name().map(|n| n.to_string_lossy()),
        "bytes": bytes,
        "sha256": sha256(file).map_err(|e| format!("{}: {e}", file.display()))?,
    });
    let folder = match target.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let fail = |e: std::io::Error| format!("{}: {e}", target.display());
    let mut temporary = tempfile::NamedTempFile::new_in(folder).map_err(fail)?;
    let mut text = serde_json::to_string_pretty(&document).map_err(|e| e.to_string())?;
    text.push('\n');
    temporary.write_all(text.as_bytes()).map_err(fail)?;
    temporary.as_file().sync_all().map_err(fail)?;
    let persisted = match overwrite {
        true => temporary.persist(&target),
        false => temporary.persist_noclobber(&target),
    };
    persisted.map_err(|e| fail(e.error))?;
    Ok(target)
}

/// The file's SHA-256, in hex.
pub fn sha256(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sidecar_is_named_after_its_file() {
        assert_eq!(
            path(Path::new("out/clip.mp4")),
            Path::new("out/clip.mp4.json")
        );
        assert_eq!(path(Path::new("my clip")), Path::new("my clip.json"));
    }

    #[test]
    fn the_digest_is_sha256() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("abc");
        std::fs::write(&file, b"abc").expect("writes");
        assert_eq!(
            sha256(&file).expect("reads"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
