//! Every Apikley Market model this workspace generates, by id: the dynamic way in.
//!
//! A model added with `cargo xtask new-model --spec openapi/<model>.json` is a raw crate, and
//! a dependency of this crate; it appears here, in the `apikley` command and in the sandbox
//! after a rebuild, with no code written for it.
//!
//! ```
//! use serde_json::json;
//!
//! let spec = apikley_models::find("bytedance/seedance-1.5-pro").expect("registered");
//! let request = apikley::Request::new(spec)
//!     .with_inputs(json!({"prompt": "A serene beach at sunset", "aspect_ratio": "16:9"}));
//! assert!(request.violations().is_empty());
//! // client.submit(request).await? sends it, with every guarantee of the runtime.
//! ```
#![deny(missing_docs)]

use std::sync::{Arc, OnceLock};

use apikley::ModelSpec;

include!(concat!(env!("OUT_DIR"), "/models.rs"));

/// Every registered model, by id.
pub fn all() -> &'static [Arc<ModelSpec>] {
    static MODELS: OnceLock<Vec<Arc<ModelSpec>>> = OnceLock::new();
    MODELS.get_or_init(|| {
        let mut models: Vec<Arc<ModelSpec>> = SPECS
            .iter()
            .filter_map(|(krate, spec)| match ModelSpec::parse(spec) {
                Ok(spec) => Some(Arc::new(spec)),
                // Each raw crate's spec is checked by the tests: this cannot happen in a build
                // that passed them.
                Err(error) => {
                    tracing::warn!(%krate, %error, "a registered spec cannot be read as a model");
                    None
                }
            })
            .collect();
        models.sort_by(|a, b| a.id().cmp(b.id()));
        models
    })
}

/// The model with this id; or, when the text is part of exactly one model's id (`kling-2.6`,
/// `seedance-1.5-pro`), that model.
pub fn find(id: &str) -> Option<Arc<ModelSpec>> {
    let models = all();
    if let Some(model) = models.iter().find(|m| m.id() == id) {
        return Some(model.clone());
    }
    let mut partial = models.iter().filter(|m| m.id().contains(id));
    match (partial.next(), partial.next()) {
        (Some(model), None) => Some(model.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_registered_spec_reads_as_a_model() {
        assert_eq!(super::all().len(), super::SPECS.len());
        for (krate, spec) in super::SPECS {
            apikley::ModelSpec::parse(spec).unwrap_or_else(|e| panic!("{krate}: {e}"));
        }
        assert!(super::find("bytedance/seedance-1.5-pro").is_some());
        assert!(super::find("seedance-1.5").is_some());
        assert!(super::find("no-such-model").is_none());
    }
}
