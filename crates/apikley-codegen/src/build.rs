use std::path::PathBuf;

use crate::{Error, RawCrate};

/// The whole `build.rs` of a raw crate: generates the code of every spec the crate's manifest
/// declares into `OUT_DIR/<spec file stem>.rs`, for the crate to `include!`, and writes the
/// patched document beside it (`OUT_DIR/<spec file name>`), which the code embeds as `SPEC`.
///
/// ```text
/// // build.rs
/// fn main() {
///     apikley_codegen::build_script();
/// }
/// ```
///
/// Failures are reported to cargo as build errors naming the spec or patch at fault.
pub fn build_script() {
    if let Err(e) = run() {
        // One line per message: cargo reads `cargo::error=` line by line.
        for line in e.to_string().lines() {
            println!("cargo::error={line}");
        }
    }
}

fn run() -> Result<(), Error> {
    let dir = env_path("CARGO_MANIFEST_DIR")?;
    let out = env_path("OUT_DIR")?;
    println!("cargo::rerun-if-changed=Cargo.toml");
    println!("cargo::rerun-if-changed=openapi");
    let krate = RawCrate::load(&dir)?.ok_or_else(|| Error::Manifest {
        path: dir.join("Cargo.toml"),
        message: "no `[package.metadata.apikley-codegen]` table naming the specs".into(),
    })?;
    for spec in krate.package_specs() {
        let path = out.join(spec.output_file());
        std::fs::write(&path, spec.generate()?).map_err(Error::io(path))?;
        // The generated `SPEC`: the document as the generator read it, patches applied.
        let path = out.join(spec.patched_file());
        let patched = serde_json::to_string_pretty(&spec.patched()?).map_err(Error::json(&path))?;
        std::fs::write(&path, patched).map_err(Error::io(path))?;
    }
    Ok(())
}

fn env_path(name: &str) -> Result<PathBuf, Error> {
    std::env::var_os(name)
        .map(PathBuf::from)
        .ok_or_else(|| Error::Io {
            path: PathBuf::from(format!("${name}")),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "not set: build_script() must run inside a build script",
            ),
        })
}
