#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod declaration;
mod media;

pub use declaration::{
    DURATION_EXTENSION, DeclarationError, Declarations, DurationHint, FILES_EXTENSION, Factor,
    FileHint, LengthInput, OUTPUT_EXTENSION, OutputKind,
};
pub use media::{MediaType, Medium};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A Market model with generated types: ties its id to its OpenAPI document and to the
/// spec-exact `createTask` body generated from it.
pub trait Model: Send + Sync + 'static {
    /// The id sent as `model`, e.g. `bytedance/seedance-1.5-pro`.
    const ID: &'static str;

    /// The model's OpenAPI document as its raw crate's generator read it (vendored, with the
    /// reviewed patches applied): the source of its endpoint, its rules, its defaults and what
    /// it declares about itself (such as `x-apikley-output`).
    const SPEC: &'static str;

    /// The spec-exact `createTask` body (`model`, `callBackUrl`, `input`).
    type Body: Serialize + DeserializeOwned + Clone + Send + Sync + 'static;
}
