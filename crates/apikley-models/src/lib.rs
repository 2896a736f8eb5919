#![doc = include_str!("../README.md")]
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

    /// The vendored models' hints, read from their declarations (`x-apikley-duration`,
    /// `x-apikley-files`): the figures the name-based guess gave before it became data.
    #[test]
    fn the_vendored_models_declare_their_expected_durations_and_file_rules() {
        use apikley::MediaType::{Jpeg, Png, Webp};
        use serde_json::json;
        let model = |id| super::find(id).expect("registered");
        let hint = |id, input| {
            let spec = model(id);
            let seconds = spec.expected_duration(&input).map(|d| d.as_secs_f64());
            (seconds, spec.workload(&input))
        };
        assert_eq!(
            hint("bytedance/seedance-1.5-pro", json!({})),
            (Some(88.2), "8s 720p".into())
        );
        assert_eq!(
            hint(
                "bytedance/seedance-1.5-pro",
                json!({"duration": 12, "resolution": "480p", "generate_audio": true})
            ),
            (Some(104.4), "12s 480p audio".into())
        );
        assert_eq!(
            hint(
                "bytedance/v1-pro-text-to-video",
                json!({"duration": "10", "resolution": "1080p"})
            ),
            (Some(150.0), "10s 1080p".into())
        );
        // No resolution input: the unstated resolution's factor.
        assert_eq!(
            hint("kling-2.6/text-to-video", json!({"sound": true})),
            (Some(64.8), "5s audio".into())
        );
        assert_eq!(hint("nano-banana-pro", json!({})), (None, String::new()));

        let rules = |id, input| {
            let rules = model(id)
                .input(input)
                .and_then(|i| i.file_rules())
                .expect("a file input");
            (rules.types.to_vec(), rules.max_bytes)
        };
        assert_eq!(
            rules("bytedance/seedance-1.5-pro", "input_urls"),
            (vec![Jpeg, Png, Webp], 10_000_000)
        );
        assert_eq!(
            rules("nano-banana-pro", "image_input"),
            (vec![Jpeg, Png, Webp], 30_000_000)
        );
    }
}
