//! What the code generator derives for a model's declarations from its document: the output
//! kind from the strongest sign there is, a video model's expected duration from its inputs,
//! and what files its file inputs take from their descriptions or names.

use apikley_codegen::{Derivation, derive, market_model};
use apikley_model::{MediaType, OutputKind};
use serde_json::{Value, json};

/// A Market document with `inputs` and `summary`, its body written out (no `$ref`s).
fn document(summary: &str, inputs: Value) -> Value {
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Example API", "version": "1"},
        "paths": {"/api/v1/jobs/createTask": {"post": {
            "summary": summary,
            "operationId": "example",
            "requestBody": {"content": {"application/json": {"schema": {
                "type": "object",
                "properties": {
                    "model": {"type": "string", "enum": ["acme-1"]},
                    "input": {"type": "object", "properties": inputs}
                }
            }}}},
            "responses": {"200": {"description": "ok"}}
        }}}
    })
}

fn derived(document: &Value) -> Derivation {
    let model = market_model(document).expect("a model");
    let body = document
        .pointer(
            "/paths/~1api~1v1~1jobs~1createTask/post/requestBody/content/application~1json/schema",
        )
        .expect("a body");
    derive(document, &model, body)
}

fn output(summary: &str, inputs: Value) -> (OutputKind, String) {
    let derivation = derived(&document(summary, inputs));
    (derivation.output.value, derivation.output.reason)
}

#[test]
fn what_a_model_produces_is_read_from_the_whole_spec_not_its_summary() {
    // Nano Banana Pro's page: a summary that names no kind, an `output_format` that does.
    let image_inputs = json!({
        "prompt": {"type": "string"},
        "image_input": {"type": "array", "items": {"type": "string", "format": "uri"}},
        "output_format": {"type": "string", "enum": ["png", "jpg"]}
    });
    let (kind, reason) = output("Generate content using nano-banana-pro", image_inputs);
    assert_eq!(kind, OutputKind::Image);
    assert_eq!(reason, "input `output_format` takes png, jpg");

    // A kind's words, where nothing stronger speaks.
    let prompt = json!({"prompt": {"type": "string"}});
    assert_eq!(
        output("Edit an image with a prompt", prompt.clone()).0,
        OutputKind::Image
    );
    // An id or summary that says text-to-video; an input only videos have.
    let (kind, reason) = output("Generate content using acme/text-to-video", prompt.clone());
    assert_eq!(kind, OutputKind::Video);
    assert!(reason.contains("\"to-video\""), "{reason}");
    let (kind, reason) = output("Generate content", json!({"fps": {"type": "integer"}}));
    assert_eq!(kind, OutputKind::Video);
    assert!(reason.contains("input `fps`"), "{reason}");
    assert_eq!(
        output("Make a song from lyrics", prompt.clone()).0,
        OutputKind::Audio
    );
    // What the summary's verb makes, where the other media are the inputs (Kling AI Avatar).
    let (kind, reason) = output(
        "Generate talking-avatar videos from an image and an audio track",
        prompt.clone(),
    );
    assert_eq!(kind, OutputKind::Video);
    assert_eq!(reason, "the summary says it makes video");

    // Nothing says: other, and the reason says how to declare it.
    let (kind, reason) = output("Generate content using acme-1", prompt);
    assert_eq!(kind, OutputKind::Other);
    assert!(reason.contains("x-apikley-output"), "{reason}");
}

#[test]
fn a_video_model_expects_longer_tasks_for_longer_sharper_louder_videos() {
    let seedance_like = derived(&document(
        "Generate videos",
        json!({
            "prompt": {"type": "string"},
            "resolution": {"type": "string", "enum": ["480p", "720p", "1080p", "4k"]},
            "duration": {"type": "integer", "enum": [4, 8, 12]},
            "generate_audio": {"type": "boolean"}
        }),
    ));
    let hint = seedance_like.duration.expect("a video model").value;
    assert_eq!(
        serde_json::to_value(&hint).expect("serializes"),
        json!({
            "base_seconds": 15.0, "seconds_per_output_second": 6.0,
            "length": {"input": "duration", "default": 5.0},
            "factors": [
                // `4k` names no resolution known here: the otherwise factor.
                {"input": "resolution", "times": {"480p": 1.0, "720p": 1.4, "1080p": 2.0}, "otherwise": 1.2},
                {"input": "generate_audio", "times": {"true": 1.2}, "label": "audio"}
            ]
        })
    );
    assert_eq!(hint.factors[0].of(Some(&json!("1080p"))), 2.0);
    assert_eq!(hint.factors[0].of(Some(&json!("4k"))), 1.2);
    assert_eq!(hint.factors[1].of(None), 1.0);

    // No resolution or length inputs: the unstated resolution scales all, 5 s is assumed.
    let plain = derived(&document(
        "Generate videos",
        json!({"sound": {"type": "boolean"}}),
    ));
    let hint = plain.duration.expect("a video model").value;
    assert_eq!(
        (hint.base_seconds, hint.scale, hint.length),
        (45.0, 1.2, None)
    );
    assert_eq!(hint.factors[0].input, "sound");

    // Not a video model: no expectation.
    let image = derived(&document(
        "Generate images",
        json!({"duration": {"type": "integer"}, "output_format": {"enum": ["png"]}}),
    ));
    assert_eq!(image.output.value, OutputKind::Image);
    assert!(image.duration.is_none());
}

#[test]
fn file_inputs_take_what_their_description_or_name_says() {
    let derivation = derived(&document(
        "Generate videos",
        json!({
            "prompt": {"type": "string"},
            "image_urls": {
                "type": "array", "items": {"type": "string", "format": "uri"},
                "description": "Images (Accepted types: image/jpeg, image/png; Max size: 10.0MB)"
            },
            "audio_url": {"type": "string", "format": "uri"},
            "reference": {"type": ["array", "null"], "items": {"type": "string", "format": "uri"},
                          "description": "Anything (max size 2 GB)"},
            "homepage": {"type": "string"}
        }),
    ));
    let files = &derivation.files;
    assert_eq!(
        files.keys().collect::<Vec<_>>(),
        ["audio_url", "image_urls", "reference"]
    );
    let images = &files["image_urls"];
    assert_eq!(images.value.types, [MediaType::Jpeg, MediaType::Png]);
    assert_eq!(images.value.max_bytes, Some(10_000_000));
    assert!(
        images.reason.contains("description lists the formats"),
        "{}",
        images.reason
    );
    // No types stated: what the name says it takes, any size.
    let audio = &files["audio_url"];
    assert_eq!(
        audio.value.types,
        MediaType::of_medium(apikley_model::Medium::Audio)
    );
    assert_eq!(audio.value.max_bytes, None);
    assert!(
        audio.reason.contains("its name says audio"),
        "{}",
        audio.reason
    );
    // Neither: any format, the size its description states.
    let any = &files["reference"].value;
    assert!(any.types.is_empty());
    assert_eq!(any.max_bytes, Some(2_000_000_000));
}
