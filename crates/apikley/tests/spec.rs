//! `ModelSpec`: a model read from its document and its declarations, and every rule of its
//! schema checked, each violation with its JSON path, all at once, in the spec's order.

use apikley::{MediaType, ModelSpec, OutputKind, SpecError};
use serde_json::{Value, json};

/// A Market document whose `input` uses every rule the validator knows.
fn document() -> Value {
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Example API", "version": "1"},
        "servers": [{"url": "https://api.example.com/market"}],
        "paths": {
            "/api/v1/jobs/createTask": {"post": {
                "summary": "Generate videos from text",
                "operationId": "example-video",
                "x-apikley-output": "video",
                "x-apikley-duration": {
                    "base_seconds": 15, "seconds_per_output_second": 6,
                    "length": {"input": "duration", "default": 5},
                    "factors": [
                        {"input": "resolution", "times": {"480p": 1.0, "1080p": 2.0}, "otherwise": 1.2},
                        {"input": "sound", "times": {"true": 1.2}, "label": "audio"}
                    ]
                },
                "x-apikley-files": {"image_urls": {"types": ["image/jpeg", "image/png"], "max_bytes": 10000000}},
                "requestBody": {"content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Body"},
                    "example": {"model": "example/video", "input": {"prompt": "A fox", "sound": false}}
                }}},
                "responses": {"200": {"description": "ok"}}
            }},
            "/api/v1/other": {"get": {"responses": {"200": {"description": "ok"}}}}
        },
        "components": {"schemas": {
            "Body": {
                "type": "object",
                "required": ["model"],
                "properties": {
                    "model": {"type": "string", "enum": ["example/video"]},
                    "callBackUrl": {"type": "string", "format": "uri"},
                    "input": {"$ref": "#/components/schemas/Input"}
                }
            },
            "Input": {
                "type": "object",
                "required": ["prompt", "sound"],
                "properties": {
                    "prompt": {"type": "string", "minLength": 3, "maxLength": 10, "description": "What happens"},
                    "sound": {"type": "boolean"},
                    "duration": {"type": "string", "enum": ["5", "10"], "default": "5"},
                    "resolution": {"type": "string", "enum": ["480p", "1080p"], "default": "480p"},
                    "seed": {"type": "integer", "minimum": -1, "maximum": 2147483647},
                    "strength": {"type": "number", "minimum": 0, "exclusiveMaximum": true, "maximum": 1, "multipleOf": 0.1},
                    "code": {"type": "string", "pattern": "^[a-z]{3}$"},
                    "image_urls": {
                        "type": "array", "minItems": 1, "maxItems": 2, "uniqueItems": true,
                        "items": {"type": "string", "format": "uri"},
                        "description": "Images (Accepted types: image/jpeg, image/png; Max size: 10.0MB)"
                    },
                    "camera": {
                        "type": "object",
                        "properties": {"pan": {"type": "number"}},
                        "additionalProperties": false
                    },
                    "note": {"type": "string", "nullable": true},
                    "style": {"type": ["string", "null"]}
                }
            }
        }}
    })
}

fn spec() -> ModelSpec {
    ModelSpec::from_document(&document()).expect("a model")
}

fn body(input: Value) -> Value {
    json!({"model": "example/video", "input": input})
}

/// (field, rule) of each violation, in order.
fn problems(spec: &ModelSpec, body: &Value) -> Vec<(String, String)> {
    spec.validate(body)
        .iter()
        .map(|v| (v.field.clone(), v.rule.clone()))
        .collect()
}

#[test]
fn the_document_gives_id_endpoint_kind_summary_and_example() {
    let spec = spec();
    assert_eq!(spec.id(), "example/video");
    assert_eq!(spec.endpoint().method(), "POST");
    // The server's own path comes first, as the service routes it.
    assert_eq!(spec.endpoint().path(), "market/api/v1/jobs/createTask");
    assert_eq!(spec.kind(), OutputKind::Video);
    assert_eq!(spec.summary(), Some("Generate videos from text"));
    // The family is the title without its "API"; a document without a title has none.
    assert_eq!(spec.family(), Some("Example"));
    let mut untitled = document();
    untitled["info"]["title"] = Value::from(" API ");
    assert_eq!(
        ModelSpec::from_document(&untitled).expect("reads").family(),
        None
    );
    let example = spec.example().expect("the document's example");
    assert!(
        spec.validate(example).is_empty(),
        "{}",
        spec.validate(example)
    );
    // `$ref`s are resolved.
    assert!(
        spec.body_schema()
            .pointer("/properties/input/properties/prompt")
            .is_some()
    );
}

#[test]
fn a_valid_body_has_no_violations() {
    let spec = spec();
    let full = body(json!({
        "prompt": "A fox", "sound": true, "duration": "10", "resolution": "1080p",
        "seed": -1, "strength": 0.3, "code": "abc",
        "image_urls": ["https://example.com/a.png", "http://example.com/b.png"],
        "camera": {"pan": 0.5}, "note": null, "style": null
    }));
    assert_eq!(problems(&spec, &full), []);
    // An integer may be written as a whole float.
    assert_eq!(
        problems(
            &spec,
            &body(json!({"prompt": "A fox", "sound": true, "seed": 7.0}))
        ),
        []
    );
}

#[test]
fn every_rule_is_checked_and_every_violation_listed_in_spec_order() {
    let spec = spec();
    let broken = body(json!({
        "style": 3,
        "camera": {"pan": 1, "tilt": 2},
        "image_urls": ["https://example.com/a.png", "not a url", "https://example.com/a.png"],
        "code": "ABCD",
        "strength": 1.0,
        "seed": 2147483648_i64,
        "resolution": "720p",
        "duration": 5,
        "sound": "yes",
        "prompt": "ab",
        "extra": 1
    }));
    let found = problems(&spec, &broken);
    let fields: Vec<&str> = found.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        fields,
        [
            "input.prompt",
            "input.sound",
            "input.duration",
            "input.resolution",
            "input.seed",
            "input.strength",
            "input.code",
            "input.image_urls",
            "input.image_urls",
            "input.image_urls[1]",
            "input.camera.tilt",
            "input.style",
            "input.extra",
        ],
        "{found:#?}"
    );
    let rules: Vec<&str> = found.iter().map(|(_, r)| r.as_str()).collect();
    assert_eq!(rules[0], "must be 3 to 10 characters");
    assert_eq!(rules[1], "must be a boolean");
    // A number where the spec lists strings that hold numbers: the quotes tell them apart.
    assert_eq!(rules[2], r#"must be one of "5", "10""#);
    assert_eq!(rules[3], "must be one of 480p, 1080p");
    assert_eq!(rules[4], "must be at most 2147483647");
    assert_eq!(rules[5], "must be less than 1");
    assert_eq!(rules[6], "must match the pattern ^[a-z]{3}$");
    assert_eq!(rules[7], "accepts at most 2 items");
    assert_eq!(rules[8], "must not repeat items");
    assert_eq!(rules[9], "must be an absolute http(s) URL");
    assert!(rules[10].starts_with("is not in the spec"), "{}", rules[10]);
    assert_eq!(rules[11], "must be a string");
    assert!(
        rules[12].starts_with("is not in the spec (known: prompt, sound"),
        "{}",
        rules[12]
    );
}

#[test]
fn required_inputs_and_the_body_envelope_are_checked() {
    let spec = spec();
    assert_eq!(
        problems(&spec, &body(json!({"prompt": null}))),
        [
            ("input.prompt".to_owned(), "is required".to_owned()),
            ("input.sound".to_owned(), "is required".to_owned()),
        ]
    );
    let envelope = json!({"model": "other/model", "callBackUrl": "ftp://x", "input": {"prompt": "A fox", "sound": true}, "modle": 1});
    let fields: Vec<String> = problems(&spec, &envelope)
        .into_iter()
        .map(|(f, _)| f)
        .collect();
    assert_eq!(fields, ["model", "callBackUrl", "modle"]);
    assert_eq!(
        problems(&spec, &json!([])),
        [("body".to_owned(), "must be an object".to_owned())]
    );
}

#[test]
fn bounds_count_characters_and_follow_both_exclusive_styles() {
    let spec = spec();
    let at = |input: Value| problems(&spec, &body(input));
    // Ten multi-byte characters are ten characters.
    assert_eq!(at(json!({"prompt": "海".repeat(10), "sound": true})), []);
    assert_eq!(
        at(json!({"prompt": "海".repeat(11), "sound": true})).len(),
        1
    );
    assert_eq!(
        at(json!({"prompt": "A fox", "sound": true, "strength": -0.1})),
        [("input.strength".to_owned(), "must be at least 0".to_owned())]
    );
    assert_eq!(
        at(json!({"prompt": "A fox", "sound": true, "strength": 0.25})),
        [(
            "input.strength".to_owned(),
            "must be a multiple of 0.1".to_owned()
        )]
    );
    assert_eq!(
        at(json!({"prompt": "A fox", "sound": true, "seed": 1.5})),
        [("input.seed".to_owned(), "must be an integer".to_owned())]
    );
    assert_eq!(
        at(json!({"prompt": "A fox", "sound": true, "image_urls": []})),
        [(
            "input.image_urls".to_owned(),
            "must have at least 1 items".to_owned()
        )]
    );

    // OpenAPI 3.1: the exclusive bound is the number itself.
    let mut document = document();
    document["components"]["schemas"]["Input"]["properties"]["strength"] =
        json!({"type": "number", "exclusiveMinimum": 0});
    let spec = ModelSpec::from_document(&document).expect("a model");
    assert_eq!(
        problems(
            &spec,
            &body(json!({"prompt": "A fox", "sound": true, "strength": 0}))
        ),
        [(
            "input.strength".to_owned(),
            "must be greater than 0".to_owned()
        )]
    );
}

#[test]
fn a_long_value_is_shortened_in_the_violation() {
    let spec = spec();
    let violations = spec.validate(&body(json!({"prompt": "x".repeat(10_000), "sound": true})));
    let value = &violations.iter().next().expect("one").value;
    assert!(value.chars().count() <= 60, "{value}");
    assert!(value.starts_with("10000 characters"), "{value}");
}

#[test]
fn inputs_describe_type_values_default_bounds_and_files() {
    let spec = spec();
    let names: Vec<&str> = spec.inputs().iter().map(|i| i.name()).collect();
    assert_eq!(
        names,
        [
            "prompt",
            "sound",
            "duration",
            "resolution",
            "seed",
            "strength",
            "code",
            "image_urls",
            "camera",
            "note",
            "style"
        ]
    );
    let prompt = spec.input("prompt").expect("prompt");
    assert!(prompt.is_required());
    assert_eq!(prompt.kind(), "string");
    assert_eq!(prompt.bounds(), ["3 to 10 characters"]);
    assert_eq!(prompt.description(), Some("What happens"));
    assert!(prompt.file_rules().is_none());

    let duration = spec.input("duration").expect("duration");
    assert!(!duration.is_required());
    assert_eq!(duration.values(), [&json!("5"), &json!("10")]);
    assert_eq!(duration.default(), Some(&json!("5")));

    assert_eq!(
        spec.input("seed").expect("seed").bounds(),
        ["-1 to 2147483647"]
    );
    assert_eq!(spec.input("style").expect("style").kind(), "string");

    let images = spec.input("image_urls").expect("image_urls");
    assert!(images.is_list());
    assert_eq!(images.kind(), "array of string");
    assert_eq!(images.bounds(), ["1 to 2 items", "format uri"]);
    let rules = images.file_rules().expect("a file input");
    assert_eq!(rules.max_bytes, 10_000_000);
    assert_eq!(
        rules.types.iter().map(|t| t.mime()).collect::<Vec<_>>(),
        ["image/jpeg", "image/png"]
    );
}

#[test]
fn expectations_grow_with_the_work_asked_for() {
    let spec = spec();
    let expect = |input: Value| spec.expected_duration(&input).expect("a video model");
    let short = expect(json!({"prompt": "A fox"}));
    let long = expect(json!({"prompt": "A fox", "duration": "10"}));
    let sharp = expect(json!({"prompt": "A fox", "duration": "10", "resolution": "1080p"}));
    let loud =
        expect(json!({"prompt": "A fox", "duration": "10", "resolution": "1080p", "sound": true}));
    assert!(
        short < long && long < sharp && sharp < loud,
        "{short:?} {long:?} {sharp:?} {loud:?}"
    );
    // Defaults count when an input is not given.
    assert_eq!(spec.workload(&json!({"prompt": "A fox"})), "5s 480p");
    assert_eq!(
        spec.workload(&json!({"sound": true, "duration": "10"})),
        "10s 480p audio"
    );
}

#[test]
fn documents_that_are_no_model_are_refused_naming_the_construct() {
    assert!(matches!(ModelSpec::parse("{"), Err(SpecError::NotJson(_))));

    let mut no_input = document();
    no_input["components"]["schemas"]["Body"]["properties"]
        .as_object_mut()
        .expect("properties")
        .remove("input");
    assert!(matches!(
        ModelSpec::from_document(&no_input),
        Err(SpecError::NoCreateTask)
    ));

    let mut two_models = document();
    two_models["components"]["schemas"]["Body"]["properties"]["model"]["enum"] = json!(["a", "b"]);
    assert!(matches!(
        ModelSpec::from_document(&two_models),
        Err(SpecError::NoCreateTask)
    ));

    let mut twice = document();
    let create = twice["paths"]["/api/v1/jobs/createTask"].clone();
    twice["paths"]["/api/v2/jobs/createTask"] = create;
    let error = ModelSpec::from_document(&twice).expect_err("two operations");
    assert!(
        matches!(&error, SpecError::ManyCreateTasks(paths) if paths.len() == 2),
        "{error}"
    );

    let mut dangling = document();
    dangling["components"]["schemas"]
        .as_object_mut()
        .expect("schemas")
        .remove("Input");
    let error = ModelSpec::from_document(&dangling).expect_err("a dangling $ref");
    assert_eq!(
        error.to_string(),
        "`$ref` #/components/schemas/Input points to nothing in the document"
    );

    let mut circular = document();
    circular["components"]["schemas"]["Input"]["properties"]["camera"] =
        json!({"$ref": "#/components/schemas/Loop"});
    circular["components"]["schemas"]["Loop"] = json!({"$ref": "#/components/schemas/Loop"});
    assert!(matches!(
        ModelSpec::from_document(&circular),
        Err(SpecError::RefTooDeep(_))
    ));
}

/// The createTask operation of `document`.
fn operation(document: &mut Value) -> &mut Value {
    &mut document["paths"]["/api/v1/jobs/createTask"]["post"]
}

/// A Market image model as Nano Banana Pro's page publishes it: a summary that names no kind.
fn image_model() -> Value {
    let mut document = document();
    *operation(&mut document) = json!({
        "summary": "Generate content using nano-banana-pro",
        "operationId": "nano-banana-pro",
        "requestBody": {"content": {"application/json": {"schema": {
            "type": "object",
            "properties": {
                "model": {"type": "string", "enum": ["nano-banana-pro"]},
                "input": {"type": "object", "required": ["prompt"], "properties": {
                    "prompt": {"type": "string"},
                    "image_input": {"type": "array", "items": {"type": "string", "format": "uri"}},
                    "resolution": {"type": "string", "enum": ["1K", "2K", "4K"], "default": "1K"},
                    "output_format": {"type": "string", "enum": ["png", "jpg"], "default": "png"}
                }}
            }
        }}}},
        "responses": {"200": {"description": "ok"}}
    });
    document
}

#[test]
fn a_model_produces_what_it_declares_and_nothing_is_guessed() {
    let mut declared = image_model();
    operation(&mut declared)["x-apikley-output"] = json!("image");
    let spec = ModelSpec::from_document(&declared).expect("a model");
    assert_eq!(spec.kind(), OutputKind::Image);
    assert_eq!(spec.declared_kind(), Some(OutputKind::Image));
    // No `x-apikley-duration`: no expectation, however the inputs are named.
    assert_eq!(spec.expected_duration(&json!({"resolution": "4K"})), None);
    assert_eq!(spec.workload(&json!({"resolution": "4K"})), "");
    // The format a request asks for names its result.
    assert_eq!(spec.output_media_type(&json!({})), Some(MediaType::Png));
    assert_eq!(
        spec.output_media_type(&json!({"output_format": "jpg"})),
        Some(MediaType::Jpeg)
    );
    // No `x-apikley-files`: a file input takes any file, of any size.
    let rules = spec
        .input("image_input")
        .and_then(|i| i.file_rules())
        .expect("a file input");
    assert!(
        rules.types.is_empty() && rules.max_bytes == u64::MAX,
        "{rules:?}"
    );

    // Undeclared: other, whatever its inputs and words suggest.
    let spec = ModelSpec::from_document(&image_model()).expect("a model");
    assert_eq!(spec.declared_kind(), None);
    assert_eq!(spec.kind(), OutputKind::Other);
    assert_eq!(
        spec.output_media_type(&json!({"output_format": "jpg"})),
        Some(MediaType::Jpeg)
    );
    assert_eq!(
        spec.output_media_type(&json!({"output_format": null})),
        Some(MediaType::Png)
    );
    let mut silent = image_model();
    let inputs = &mut operation(&mut silent)["requestBody"]["content"]["application/json"]["schema"]
        ["properties"]["input"]["properties"];
    inputs
        .as_object_mut()
        .expect("inputs")
        .remove("output_format");
    let spec = ModelSpec::from_document(&silent).expect("a model");
    assert_eq!(spec.output_media_type(&json!({})), None);
}

#[test]
fn a_declaration_that_cannot_be_read_or_names_no_such_input_is_refused() {
    let refused = |extension: &str, value: Value| {
        let mut document = image_model();
        operation(&mut document)[extension] = value;
        ModelSpec::from_document(&document)
            .expect_err("a bad declaration")
            .to_string()
    };
    let error = refused("x-apikley-output", json!("hologram"));
    assert!(
        error.starts_with("`x-apikley-output` cannot be read: unknown variant `hologram`"),
        "{error}"
    );
    let error = refused(
        "x-apikley-files",
        json!({"image_input": {"types": ["image/tiff"]}}),
    );
    assert!(
        error.contains("\"image/tiff\" is no MIME type this SDK tells apart"),
        "{error}"
    );
    let error = refused("x-apikley-files", json!({"image_input": {"max_size": 5}}));
    assert!(error.contains("unknown field `max_size`"), "{error}");
    assert_eq!(
        refused("x-apikley-files", json!({"photos": {}})),
        "`x-apikley-files` speaks of input `photos`, which the model does not have"
    );
    assert_eq!(
        refused("x-apikley-files", json!({"prompt": {}})),
        "`x-apikley-files` speaks of input `prompt`, which takes no file URLs (`format: uri`)"
    );
    assert_eq!(
        refused(
            "x-apikley-duration",
            json!({"base_seconds": 10, "seconds_per_output_second": 0,
                   "factors": [{"input": "quality", "times": {}}]})
        ),
        "`x-apikley-duration` speaks of input `quality`, which the model does not have"
    );
}

#[test]
fn audio_and_video_inputs_are_checked_by_content_like_images() {
    let mut document = image_model();
    let inputs = &mut operation(&mut document)["requestBody"]["content"]["application/json"]["schema"]
        ["properties"]["input"]["properties"];
    inputs["audio_url"] = json!({"type": "string", "format": "uri"});
    inputs["video_url"] = json!({"type": "string", "format": "uri"});
    operation(&mut document)["x-apikley-files"] = json!({
        "audio_url": {"types": ["audio/mpeg", "audio/wav", "audio/aac", "audio/mp4", "audio/ogg"], "max_bytes": 10000000},
        "video_url": {"types": ["video/mp4", "video/quicktime", "video/webm"]}
    });
    let spec = ModelSpec::from_document(&document).expect("a model");
    let audio = spec
        .input("audio_url")
        .and_then(|i| i.file_rules())
        .expect("a file input");
    assert_eq!(
        audio.types.to_vec(),
        [
            MediaType::Mp3,
            MediaType::Wav,
            MediaType::Aac,
            MediaType::M4a,
            MediaType::Ogg
        ]
    );
    assert_eq!(audio.max_bytes, 10_000_000);
    let video = spec
        .input("video_url")
        .and_then(|i| i.file_rules())
        .expect("a file input");
    assert_eq!(
        video.types.to_vec(),
        [MediaType::Mp4, MediaType::Mov, MediaType::Webm]
    );
    assert_eq!(video.max_bytes, u64::MAX);

    let dir = tempfile::tempdir().expect("temp dir");
    let png = dir.path().join("voice.mp3");
    std::fs::write(&png, b"\x89PNG\r\n\x1a\n0123456789").expect("writes");
    let wav = dir.path().join("voice.wav");
    std::fs::write(&wav, b"RIFF\x24\0\0\0WAVEfmt \x10\0\0\0").expect("writes");
    let request = apikley::Request::new(std::sync::Arc::new(spec))
        .with_input("prompt", "a song")
        .with_file("audio_url", png.as_path())
        .with_file("video_url", wav.as_path());
    let violations = request.violations();
    assert_eq!(
        violations.fields(),
        ["input.audio_url", "input.video_url"],
        "{violations}"
    );
    let text = violations.to_string();
    assert!(
        text.contains("is a PNG file (named .mp3); accepted: MP3, WAV, AAC, M4A, Ogg"),
        "{text}"
    );
    assert!(
        text.contains("is a WAV file; accepted: MP4, MOV, WebM"),
        "{text}"
    );
}

/// A model whose `input` schema is `input` (the rest of the body as Market documents have it).
fn with_input(input: Value) -> ModelSpec {
    let mut document = image_model();
    operation(&mut document)["requestBody"]["content"]["application/json"]["schema"]["properties"]
        ["input"] = input;
    ModelSpec::from_document(&document).expect("a model")
}

fn fields(spec: &ModelSpec, input: Value) -> Vec<String> {
    let body = json!({"model": "nano-banana-pro", "input": input});
    spec.validate(&body)
        .iter()
        .map(|v| format!("{}: {}", v.field, v.rule))
        .collect()
}

/// The checker fails closed: what it enforces, it enforces as JSON Schema means it; what it
/// does not, it names, so that `new-model` and `regen` refuse the spec.
#[test]
fn every_keyword_is_enforced_or_named() {
    // `not`: a forbidden combination.
    let spec = with_input(json!({"type": "object", "properties": {
        "negative_prompt": {"type": "string"}, "cfg_scale": {"type": "number"}},
        "not": {"required": ["negative_prompt", "cfg_scale"]}}));
    assert_eq!(
        fields(&spec, json!({"negative_prompt": "blur", "cfg_scale": 0.5})),
        ["input: must not match negative_prompt and cfg_scale together"]
    );
    assert!(fields(&spec, json!({"cfg_scale": 0.5})).is_empty());

    // Property counts.
    let spec = with_input(
        json!({"type": "object", "minProperties": 1, "maxProperties": 2,
        "properties": {"a": {"type": "string"}, "b": {"type": "string"}, "c": {"type": "string"}}}),
    );
    assert_eq!(
        fields(&spec, json!({})),
        ["input: must have at least 1 keys"]
    );
    assert_eq!(
        fields(&spec, json!({"a": "x", "b": "y", "c": "z"})),
        ["input: accepts at most 2 keys"]
    );

    // `oneOf` means exactly one.
    let spec = with_input(json!({"type": "object", "properties": {"size": {"oneOf": [
        {"type": "integer"}, {"type": "number", "minimum": 0}]}}}));
    assert_eq!(
        fields(&spec, json!({"size": 3})),
        ["input.size: must match exactly one of the allowed shapes (matches 2)"]
    );
    assert!(fields(&spec, json!({"size": 2.5})).is_empty());

    // An enum without a type takes null only when it lists it; `const` is one allowed value.
    let spec = with_input(json!({"type": "object", "properties": {
        "mode": {"enum": ["fast", "slow"]}, "either": {"enum": ["on", null]},
        "version": {"const": 2}}}));
    assert_eq!(
        fields(&spec, json!({"mode": null, "either": null, "version": 3})),
        [
            "input.mode: must be one of fast, slow",
            "input.version: must be 2"
        ]
    );

    // `additionalProperties: false` holds without `properties`.
    let spec = with_input(json!({"type": "object", "properties": {
        "extra": {"type": "object", "additionalProperties": false}}}));
    assert_eq!(
        fields(&spec, json!({"extra": {"anything": 1}})),
        ["input.extra.anything: is not in the spec (it takes no keys)"]
    );

    // What it does not enforce, it names with its place.
    let spec = with_input(json!({"type": "object", "properties": {
        "a": {"type": "string", "format": "email"},
        "b": {"type": "string", "pattern": "(?<=x)y"},
        "c": {"type": "object", "patternProperties": {"^x": {"type": "string"}}},
        "d": {"type": "array", "prefixItems": [{"type": "string"}]},
        "e": {"type": "object", "additionalProperties": {"type": "string"}},
        "f": {"type": "integer", "format": "int64"}},
        "if": {"required": ["a"]}, "then": {"required": ["b"]},
        "dependentRequired": {"a": ["b"]}}));
    let named: Vec<String> = spec
        .unchecked_keywords()
        .into_iter()
        .map(|(at, keyword)| format!("{at}: {keyword}"))
        .collect();
    assert_eq!(
        named,
        [
            "/properties/input/properties/a/format: format \"email\"",
            "/properties/input/properties/b/pattern: pattern \"(?<=x)y\" (it cannot be compiled: look-around is not supported)",
            "/properties/input/properties/c/patternProperties: patternProperties",
            "/properties/input/properties/d/prefixItems: prefixItems",
            "/properties/input/properties/e/additionalProperties: additionalProperties with a schema",
            "/properties/input/if: if",
            "/properties/input/then: then",
            "/properties/input/dependentRequired: dependentRequired",
        ]
    );
    // The vendored-style documents use nothing it does not check.
    assert!(
        ModelSpec::from_document(&document())
            .expect("a model")
            .unchecked_keywords()
            .is_empty()
    );
}

/// A request is checked once: `check` keeps what it found valid (so a submit does not check it
/// again), and any change forgets it.
#[test]
fn a_checked_request_is_checked_again_only_once_changed() {
    let spec = std::sync::Arc::new(spec());
    let request = apikley::Request::new(spec.clone())
        .with_input("prompt", "A fox")
        .with_input("sound", true);
    let checked = request.check().expect("valid");
    assert!(checked.violations().is_empty());
    let changed = checked.clone().with_input("prompt", "ab");
    assert_eq!(changed.violations().fields(), ["input.prompt"]);
    let refused = changed.check().expect_err("invalid");
    assert_eq!(refused.fields(), ["input.prompt"]);
    let url = checked.with_callback_url("not a url");
    assert_eq!(url.check().expect_err("invalid").fields(), ["callBackUrl"]);
}
