//! `new-model` on a scratch copy of the workspace's specs, manifests and snapshots: from a spec
//! it has never seen, it writes the raw crate, registers it, writes its patches, package copy
//! and snapshot; running it again changes nothing; a document that is no model is refused with
//! the construct named, and nothing is written.

use std::path::{Path, PathBuf};

mod support;
use support::copy_tree;

/// Everything `new-model` and `regen` read and write.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let source = xtask::workspace_root();
        support::copy_specs_and_manifests(dir.path());
        copy_tree(
            &source.join("tests/snapshots"),
            &dir.path().join("tests/snapshots"),
        );
        Scratch { dir }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path(relative)).expect("file reads")
    }

    fn new_model(
        &self,
        spec: &str,
    ) -> (
        Result<xtask::new_model::Outcome, xtask::new_model::Error>,
        String,
    ) {
        let mut out = Vec::new();
        let outcome = xtask::new_model::run(self.dir.path(), &self.path(spec), &mut out);
        (outcome, String::from_utf8(out).expect("UTF-8"))
    }
}

const FIXTURE: &str = "tests/fixtures/openapi/example.json";

#[test]
fn a_new_spec_becomes_a_registered_raw_crate_and_a_second_run_changes_nothing() {
    let scratch = Scratch::new();
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
    std::fs::copy(&spec, scratch.path("openapi/example-video.json")).expect("copy");

    let (outcome, report) = scratch.new_model("openapi/example-video.json");
    let outcome = outcome.unwrap_or_else(|e| panic!("{e}\n{report}"));
    assert_eq!(outcome.model, "example/video");
    assert_eq!(outcome.krate, "example-video-raw");
    let written: Vec<String> = outcome
        .written
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    for expected in [
        "openapi/patches/example-video/01-open-response-code.json",
        "openapi/patches/example-video/02-error-response-body.json",
        "openapi/patches/example-video/03-message-alias.json",
        "openapi/patches/example-video/04-output-kind.json",
        "openapi/patches/example-video/05-expected-duration.json",
        "crates/models/example-video-raw/Cargo.toml",
        "crates/models/example-video-raw/build.rs",
        "crates/models/example-video-raw/README.md",
        "crates/models/example-video-raw/src/lib.rs",
        "Cargo.toml",
        "crates/apikley-models/Cargo.toml",
    ] {
        assert!(
            written.iter().any(|w| w == expected),
            "{expected} in {written:?}"
        );
    }
    assert!(
        report.contains("example-video-raw: new snapshot with"),
        "{report}"
    );
    assert!(
        report.contains("What a person may still want to add by hand"),
        "{report}"
    );
    assert!(scratch.read("Cargo.toml").contains(
        "example-video-raw = { path = \"crates/models/example-video-raw\", version = \"0.1.0\" }"
    ));
    // Registered as a dependency, beside the other models, not after the last of them
    // (a dev-dependency at the end of the file).
    let models = scratch.read("crates/apikley-models/Cargo.toml");
    let dependencies = models
        .split("\n[")
        .find(|section| section.starts_with("dependencies]"))
        .expect("a [dependencies] section");
    assert!(
        dependencies.contains("\nexample-video-raw.workspace = true\n"),
        "{models}"
    );
    assert_eq!(
        models.matches("example-video-raw.workspace").count(),
        1,
        "{models}"
    );
    // The README's list of models has it, under its family and kind.
    assert!(
        scratch
            .read("README.md")
            .contains("| Example | video | `example/video` |"),
        "{}",
        scratch.read("README.md")
    );
    assert!(
        scratch
            .read("crates/models/example-video-raw/src/lib.rs")
            .starts_with("#![doc = include_str!(\"../README.md\")]"),
        "the crate docs open with the README"
    );
    assert!(
        scratch
            .read("crates/models/example-video-raw/README.md")
            .starts_with("# example-video-raw\n\nSpec-exact types and client for Apikley's `example/video` model"),
    );
    let manifest = scratch.read("crates/models/example-video-raw/Cargo.toml");
    assert!(
        manifest.contains("specs = [\"example-video.json\"]"),
        "{manifest}"
    );
    assert!(
        manifest.contains("apikley-model.workspace = true") && !manifest.contains("apikley = "),
        "{manifest}"
    );
    assert!(
        scratch
            .read("tests/snapshots/generated__example-video-raw.snap")
            .contains("impl apikley_model::Model for Model")
    );
    assert_eq!(
        scratch.read("crates/models/example-video-raw/openapi/example-video.json"),
        scratch.read("openapi/example-video.json")
    );
    let mut out = Vec::new();
    let check = xtask::regen::Options {
        check: true,
        ..Default::default()
    };
    assert!(
        xtask::regen::run(scratch.dir.path(), &check, &mut out)
            .expect("regen runs")
            .is_clean()
    );

    let (again, _) = scratch.new_model("openapi/example-video.json");
    assert!(
        again.expect("runs again").written.is_empty(),
        "the second run wrote something"
    );
}

/// What a model produces, how long its tasks take and what files its inputs take are derived
/// from the whole document, printed with their reasons, and declared in reviewed patches that
/// the runtime reads (and a maintainer can correct).
#[test]
fn declarations_are_derived_printed_and_stated_in_patches() {
    let scratch = Scratch::new();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
    let mut document: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture).expect("reads")).expect("JSON");
    // An image model as Nano Banana Pro's page publishes it: its summary names no kind.
    let operation = &mut document["paths"]["/api/v1/jobs/createTask"]["post"];
    operation["summary"] = "Generate content using example/image".into();
    let inputs = &mut operation["requestBody"]["content"]["application/json"]["schema"]["properties"]
        ["input"]["properties"];
    inputs["output_format"] =
        serde_json::json!({"type": "string", "enum": ["png", "jpg"], "default": "png"});
    inputs["image_input"] = serde_json::json!({
        "type": "array", "items": {"type": "string", "format": "uri"},
        "description": "Reference images. Accepted types: image/jpeg, image/png; Max size: 30MB"
    });
    std::fs::write(
        scratch.path("openapi/example-image.json"),
        serde_json::to_string_pretty(&document).expect("JSON"),
    )
    .expect("writes");

    let (outcome, report) = scratch.new_model("openapi/example-image.json");
    outcome.unwrap_or_else(|e| panic!("{e}\n{report}"));
    for line in [
        "output: image (input `output_format` takes png, jpg); declared in 04-output-kind.json",
        "input files: `image_input`: its description lists the formats; its description states a \
         size limit (30000000 bytes); declared in 06-input-files.json",
        "The declarations are in openapi/patches/example-image/: change them there if they are wrong.",
    ] {
        assert!(report.contains(line), "{line}\nnot in\n{report}");
    }
    // An image model declares no expected duration.
    assert!(!report.contains("expected duration"), "{report}");
    assert!(
        !scratch
            .path("openapi/patches/example-image/05-expected-duration.json")
            .exists()
    );
    let patch = |name: &str| -> serde_json::Value {
        serde_json::from_str(&scratch.read(&format!("openapi/patches/example-image/{name}")))
            .expect("JSON")
    };
    assert_eq!(
        patch("04-output-kind.json")["patch"][0],
        serde_json::json!({"op": "add", "path": "/paths/~1api~1v1~1jobs~1createTask/post/x-apikley-output", "value": "image"})
    );
    assert_eq!(
        patch("06-input-files.json")["patch"][0]["value"],
        serde_json::json!({"image_input": {"types": ["image/jpeg", "image/png"], "max_bytes": 30000000}})
    );
    // The declarations are what the runtime reads from the patched document.
    let patched = apikley_codegen::Spec::new(scratch.path("openapi"), "example-image.json")
        .patched()
        .expect("patches apply");
    let spec = apikley::ModelSpec::from_document(&patched).expect("a model");
    assert_eq!(spec.declared_kind(), Some(apikley::OutputKind::Image));
    let rules = spec
        .input("image_input")
        .and_then(|i| i.file_rules())
        .expect("a file input");
    assert_eq!(
        (rules.types.to_vec(), rules.max_bytes),
        (
            vec![apikley::MediaType::Jpeg, apikley::MediaType::Png],
            30_000_000
        )
    );

    // The video model of the first test: a declared expectation, the runtime's prior.
    let (outcome, report) = scratch.new_model(&{
        let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
        std::fs::copy(&spec, scratch.path("openapi/example-video.json")).expect("copy");
        "openapi/example-video.json".to_owned()
    });
    outcome.unwrap_or_else(|e| panic!("{e}\n{report}"));
    assert!(
        report.contains("expected duration: a video model: 45 s (no input sets the length: 5 s of video assumed), ×1.2 for an unstated resolution; declared in 05-expected-duration.json"),
        "{report}"
    );
    let patched = apikley_codegen::Spec::new(scratch.path("openapi"), "example-video.json")
        .patched()
        .expect("patches apply");
    let spec = apikley::ModelSpec::from_document(&patched).expect("a model");
    assert_eq!(
        spec.expected_duration(&serde_json::json!({})),
        Some(std::time::Duration::from_secs(54))
    );
}

#[test]
fn a_document_that_is_no_model_is_refused_with_the_construct_named() {
    let scratch = Scratch::new();
    let (outcome, _) = scratch.new_model("openapi/common/common-api.json");
    let error = outcome.expect_err("no createTask");
    let message = error.to_string();
    assert!(message.contains("no createTask operation"), "{message}");
    assert!(message.contains("openapi/patches/common-api/"), "{message}");
    assert!(
        !scratch.path("crates/models/common-api-raw").exists(),
        "nothing is written"
    );

    std::fs::write(scratch.path("openapi/broken.json"), "{ not json").expect("writes");
    let (outcome, _) = scratch.new_model("openapi/broken.json");
    assert!(
        outcome
            .expect_err("not JSON")
            .to_string()
            .contains("not JSON")
    );
}

/// A createTask body using what the SDK's checker does not enforce is refused by `new-model`
/// and by `regen`, naming the keyword and its place; nothing is written.
#[test]
fn a_spec_the_checker_cannot_enforce_is_refused_naming_the_keyword() {
    let scratch = Scratch::new();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
    let mut document: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture).expect("reads")).expect("JSON");
    document["paths"]["/api/v1/jobs/createTask"]["post"]["requestBody"]["content"]["application/json"]
        ["schema"]["properties"]["input"]["dependentRequired"] =
        serde_json::json!({"prompt": ["aspect_ratio"]});
    std::fs::write(
        scratch.path("openapi/example-strict.json"),
        serde_json::to_string_pretty(&document).expect("JSON"),
    )
    .expect("writes");
    let (outcome, _) = scratch.new_model("openapi/example-strict.json");
    let message = outcome.expect_err("refused").to_string();
    assert!(
        message.contains("- dependentRequired at /properties/input/dependentRequired"),
        "{message}"
    );
    assert!(
        !scratch.path("crates/models/example-strict-raw").exists(),
        "nothing is written"
    );

    // `regen` refuses the same keyword arriving in a vendored spec's update.
    let updated = scratch.path("update.json");
    let mut seedance: serde_json::Value =
        serde_json::from_str(&scratch.read("openapi/seedance-1.5-pro.json")).expect("JSON");
    seedance["paths"]["/api/v1/jobs/createTask"]["post"]["requestBody"]["content"]["application/json"]
        ["schema"]["properties"]["input"]["properties"]["prompt"]["format"] = "email".into();
    std::fs::write(&updated, seedance.to_string()).expect("writes");
    let before = scratch.read("openapi/seedance-1.5-pro.json");
    let options = xtask::regen::Options {
        from: Some(updated),
        spec: Some("seedance-1.5-pro.json".into()),
        ..Default::default()
    };
    let mut out = Vec::new();
    let error = xtask::regen::run(scratch.dir.path(), &options, &mut out).expect_err("refused");
    let message = error.to_string();
    assert!(
        message.contains("- format \"email\" at /properties/input/properties/prompt/format"),
        "{message}"
    );
    assert_eq!(
        scratch.read("openapi/seedance-1.5-pro.json"),
        before,
        "nothing written"
    );
}
