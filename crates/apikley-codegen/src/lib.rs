//! The pipeline that turns an Apikley OpenAPI document into Rust code.
//!
//! ```text
//! openapi/<spec>.json ──► patches/<spec>/*.json ──► progenitor ──► fixups ──► prettyplease
//!        (verbatim)        (reviewed, with reasons)  (one settings set)
//! ```
//!
//! A raw crate's `build.rs` is one call to [`build_script`]; `cargo xtask regen` uses the same
//! [`Spec::generate`] to snapshot the code, so what is reviewed is exactly what is compiled.
//!
//! ```no_run
//! let spec = apikley_codegen::Spec::new("openapi", "seedance-1.5-pro.json");
//! let code = spec.generate()?;
//! assert!(code.contains("pub struct Client"));
//! # Ok::<(), apikley_codegen::Error>(())
//! ```
#![deny(missing_docs)]

mod api;
mod build;
mod declare;
mod error;
mod fixups;
mod generate;
mod model;
mod operations;
mod patch;
mod raw_crate;
mod spec;

pub use api::{ApiChange, PublicApi};
pub use build::build_script;
pub use declare::{Derivation, Derived, derive};
pub use error::Error;
pub use generate::{generate, settings};
pub use model::{MarketModel, market_model};
pub use patch::Patch;
pub use raw_crate::{MODELS_DIR, RawCrate};
pub use spec::{Spec, normalize_json};
