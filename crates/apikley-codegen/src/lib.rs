#![doc = include_str!("../README.md")]
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
