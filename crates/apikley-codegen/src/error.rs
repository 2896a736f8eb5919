use std::path::PathBuf;

/// Everything that can go wrong between a spec file and formatted code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A file is not valid JSON (or not the expected shape).
    #[error("{path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// Where and why parsing failed.
        source: serde_json::Error,
    },
    /// A patch file has no reason, or does not apply to its spec.
    #[error("patch {path}: {message}")]
    Patch {
        /// The patch file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A manifest's `[package.metadata.apikley-codegen]` table is missing or malformed.
    #[error("{path}: {message}")]
    Manifest {
        /// The `Cargo.toml`.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The patched document is not an OpenAPI 3.0 document progenitor accepts.
    #[error("{spec}: {message}")]
    Generator {
        /// The spec's name.
        spec: String,
        /// progenitor's complaint.
        message: String,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Error::Io { path, source }
    }

    pub(crate) fn json(path: impl Into<PathBuf>) -> impl FnOnce(serde_json::Error) -> Self {
        let path = path.into();
        move |source| Error::Json { path, source }
    }
}
