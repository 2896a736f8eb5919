//! Every registered model, from its spec alone, against the sandbox: the dynamic way (model id
//! and JSON inputs) and the typed way (the generated body) submit, wait and download a file of
//! the model's kind (by its first bytes) under the extension its content gives; inputs that
//! break each enum, bound and list rule of the spec are refused locally, every field named, with
//! nothing sent. A model added
//! with `cargo xtask new-model` is covered here with no code written for it.

use std::collections::BTreeMap;
use std::sync::Arc;

use apikley::{ModelSpec, RateLimits, Request};
use apikley_sandbox::{SAMPLE_VIDEO, Sandbox};
use apikley_test_support::magic;
use serde_json::Value;

/// The inputs of the spec's own example.
fn example_inputs(spec: &ModelSpec) -> Value {
    spec.example()
        .and_then(|example| example.get("input"))
        .cloned()
        .unwrap_or_else(|| panic!("{}: the spec has a request example", spec.id()))
}

/// What a task of the spec's example produces: the format it asks for, else its kind's.
fn sample(spec: &ModelSpec) -> &'static [u8] {
    let wanted = spec
        .output_media_type(&example_inputs(spec))
        .unwrap_or_else(|| panic!("{}: says what it produces", spec.id()));
    apikley_sandbox::sample(wanted).0
}

async fn sandbox() -> Sandbox {
    Sandbox::builder()
        .speed(50.0)
        .credits(1e6)
        .start()
        .await
        .expect("starts")
}

fn client(sandbox: &Sandbox) -> apikley::Client {
    sandbox
        .client()
        .for_paused_clock()
        .rate_limits(RateLimits::none())
        .build()
        .expect("client")
}

#[tokio::test(start_paused = true)]
async fn every_model_runs_end_to_end_by_id_from_its_spec() {
    let models = apikley_models::all();
    assert!(models.len() >= 25, "{} models", models.len());
    let sandbox = sandbox().await;
    let client = client(&sandbox);
    let dir = tempfile::tempdir().expect("temp dir");
    for spec in models {
        let spec: Arc<ModelSpec> = spec.clone();
        let request = Request::new(spec.clone()).with_inputs(example_inputs(&spec));
        assert!(
            request.violations().is_empty(),
            "{}: {}",
            spec.id(),
            request.violations()
        );
        let done = client
            .submit(request)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", spec.id()))
            .wait()
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", spec.id()));
        assert_eq!(done.record().model.as_deref(), Some(spec.id()));
        // Saved under a name its content gives: a file of the model's kind, by its first bytes.
        let target = dir
            .path()
            .join(format!("{}.out", spec.id().replace('/', "_")));
        let file = done
            .download(&target)
            .name_by_content(true)
            .await
            .expect("downloads");
        let bytes = std::fs::read(&file.path).expect("reads");
        assert_eq!(bytes, sample(&spec), "{}", spec.id());
        let (kind, extensions) = magic(&bytes).unwrap_or_else(|| panic!("{}: no media", spec.id()));
        assert_eq!(kind, spec.kind().as_str(), "{}", spec.id());
        let extension = file.path.extension().and_then(|e| e.to_str()).unwrap_or("");
        assert!(
            extensions.contains(&extension),
            "{}: a {kind} saved as {}",
            spec.id(),
            file.path.display()
        );
    }
    assert_eq!(sandbox.stats().tasks_created, models.len() as u64);
}

/// A value that breaks one rule of an input's schema, for each enum, bound and list rule it
/// has, read from the schema here (not from the SDK's checker): a value not listed, one step
/// past each bound, one character or item too many or too few.
fn broken_values(schema: &Value, example: Option<&Value>) -> Vec<(&'static str, Value)> {
    let number = |key| schema.get(key).and_then(Value::as_f64);
    let count = |key| schema.get(key).and_then(Value::as_u64);
    let integer = schema.get("type").and_then(Value::as_str) == Some("integer");
    let as_number = |n: f64| {
        if integer || n.fract() == 0.0 {
            Value::from(n as i64)
        } else {
            Value::from(n)
        }
    };
    let mut broken = Vec::new();
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let value = match values.first() {
            Some(Value::String(_)) => Value::from("not-one-of-them"),
            _ => {
                let top = values.iter().filter_map(Value::as_f64).fold(0.0, f64::max);
                as_number(top + 1.0)
            }
        };
        broken.push(("enum", value));
    }
    for (key, step) in [("minimum", -1.0), ("exclusiveMinimum", 0.0)] {
        if let Some(bound) = number(key) {
            broken.push(("bound", as_number(bound + step)));
        }
    }
    for (key, step) in [("maximum", 1.0), ("exclusiveMaximum", 0.0)] {
        if let Some(bound) = number(key) {
            broken.push(("bound", as_number(bound + step)));
        }
    }
    if let Some(max) = count("maxLength") {
        broken.push(("bound", Value::from("x".repeat(max as usize + 1))));
    }
    if let Some(min) = count("minLength").filter(|min| *min > 0) {
        broken.push(("bound", Value::from("x".repeat(min as usize - 1))));
    }
    let item = example
        .and_then(Value::as_array)
        .and_then(|items| items.first())
        .cloned()
        .unwrap_or_else(|| Value::from("https://example.com/item.png"));
    if let Some(max) = count("maxItems") {
        broken.push(("list", Value::from(vec![item.clone(); max as usize + 1])));
    }
    if let Some(min) = count("minItems").filter(|min| *min > 0) {
        broken.push(("list", Value::from(vec![item; min as usize - 1])));
    }
    broken
}

#[tokio::test]
async fn every_model_refuses_a_broken_input_locally_naming_the_field() {
    let sandbox = sandbox().await;
    let client = client(&sandbox);
    let mut rules_broken: BTreeMap<&str, usize> = BTreeMap::new();
    for spec in apikley_models::all() {
        let example = example_inputs(spec);
        // Every input's broken values; request k breaks each input's k-th rule at once.
        let broken: Vec<(String, Vec<(&str, Value)>)> = spec
            .inputs()
            .into_iter()
            .map(|i| {
                let values = broken_values(i.schema(), example.get(i.name()));
                (i.name().to_owned(), values)
            })
            .collect();
        let rounds = broken.iter().map(|(_, v)| v.len()).max().unwrap_or(0);
        for round in 0..rounds {
            let mut inputs = example.clone();
            let fields = inputs.as_object_mut().expect("an object");
            let mut expected = Vec::new();
            for (name, values) in &broken {
                if let Some((rule, value)) = values.get(round) {
                    fields.insert(name.clone(), value.clone());
                    expected.push(format!("input.{name}"));
                    *rules_broken.entry(rule).or_default() += 1;
                }
            }
            let request = Request::new(spec.clone()).with_inputs(inputs);
            let error = client.submit(request).await.expect_err("refused");
            let Some(violations) = error.violations() else {
                panic!("{}: {error:?}", spec.id());
            };
            let mut fields = violations.fields();
            fields.dedup();
            assert_eq!(
                fields,
                expected,
                "{} round {round}: {violations}",
                spec.id()
            );
        }

        // A required input with no default, taken away; and one the spec does not have.
        let mut inputs = example.clone();
        let fields = inputs.as_object_mut().expect("an object");
        let required = spec
            .inputs()
            .into_iter()
            .find(|i| i.is_required() && i.default().is_none())
            .map(|i| i.name().to_owned());
        if let Some(name) = &required {
            fields.remove(name);
        }
        fields.insert("not_an_input".into(), Value::from(1));
        let request = Request::new(spec.clone()).with_inputs(inputs);
        let error = client.submit(request).await.expect_err("refused");
        let Some(violations) = error.violations() else {
            panic!("{}: {error:?}", spec.id());
        };
        let mut expected: Vec<String> = required.iter().map(|n| format!("input.{n}")).collect();
        expected.push("input.not_an_input".into());
        assert_eq!(violations.fields(), expected, "{}: {violations}", spec.id());
    }
    // The catalogue has each kind of rule, and each was broken.
    for rule in ["enum", "bound", "list"] {
        assert!(
            rules_broken.get(rule).is_some_and(|n| *n > 0),
            "{rules_broken:?}"
        );
    }
    let stats = sandbox.stats();
    assert_eq!(
        (stats.create_requests, stats.upload_requests),
        (0, 0),
        "nothing was sent"
    );
}

/// The typed way: the generated body of each new model, through its generated `Model`.
#[tokio::test(start_paused = true)]
async fn the_generated_bodies_of_the_new_models_submit_wait_and_download() {
    use bytedance_v1_pro_text_to_video_raw::types as v1;
    use kling_2_6_text_to_video_raw::types as kling;

    let sandbox = sandbox().await;
    let client = client(&sandbox);
    let dir = tempfile::tempdir().expect("temp dir");

    let kling_body = kling::Kling26TextToVideoBody::builder()
        .model(kling::Kling26TextToVideoBodyModel::Kling26TextToVideo)
        .input(Some(
            kling::Kling26TextToVideoBodyInput::builder()
                .prompt("A fox walking through fresh snow")
                .sound(true)
                .aspect_ratio(kling::Kling26TextToVideoBodyInputAspectRatio::X169)
                .duration(kling::Kling26TextToVideoBodyInputDuration::X10)
                .try_into()
                .expect("a complete input"),
        ))
        .try_into()
        .expect("a complete body");
    let done = client
        .submit_body::<kling_2_6_text_to_video_raw::Model>(&kling_body)
        .await
        .expect("created")
        .wait()
        .await
        .expect("done");
    let file = done
        .download(dir.path().join("fox.mp4"))
        .await
        .expect("downloads");
    assert_eq!(std::fs::read(&file.path).expect("reads"), SAMPLE_VIDEO);
    let sent: Value = done.record().request().expect("param").expect("JSON");
    assert_eq!(
        sent["input"]["duration"], "10",
        "a string, as the spec says"
    );
    assert_eq!(sent["input"]["sound"], true);

    let v1_body = v1::BytedanceV1ProTextToVideoBody::builder()
        .model(v1::BytedanceV1ProTextToVideoBodyModel::BytedanceV1ProTextToVideo)
        .input(Some(
            v1::BytedanceV1ProTextToVideoBodyInput::builder()
                .prompt("A lighthouse in a storm")
                .duration(v1::BytedanceV1ProTextToVideoBodyInputDuration::X10)
                .camera_fixed(true)
                .try_into()
                .expect("a complete input"),
        ))
        .try_into()
        .expect("a complete body");
    let done = client
        .submit_body::<bytedance_v1_pro_text_to_video_raw::Model>(&v1_body)
        .await
        .expect("created")
        .wait()
        .await
        .expect("done");
    let file = done
        .download(dir.path().join("lighthouse.mp4"))
        .await
        .expect("downloads");
    assert_eq!(std::fs::read(&file.path).expect("reads"), SAMPLE_VIDEO);

    // A body that breaks a rule the generated types cannot carry: the seed's bounds.
    let mut broken = v1_body.clone();
    if let Some(input) = broken.input.as_mut() {
        input.seed = -7.0;
    }
    let error = client
        .submit_body::<bytedance_v1_pro_text_to_video_raw::Model>(&broken)
        .await
        .expect_err("refused");
    assert!(
        error
            .violations()
            .is_some_and(|v| v.fields() == ["input.seed"]),
        "{error}"
    );
    assert_eq!(sandbox.stats().tasks_created, 2);
}
