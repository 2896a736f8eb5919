//! Every registered model, from its spec alone, against the sandbox: the dynamic way (model id
//! and JSON inputs) and the typed way (the generated body) submit, wait and download; an input
//! that breaks the spec is refused locally, naming the field, with nothing sent. A model added
//! with `cargo xtask new-model` is covered here with no code written for it.

use std::sync::Arc;

use apikley::{ModelSpec, RateLimits, Request};
use apikley_sandbox::{SAMPLE_VIDEO, Sandbox};
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
    assert!(models.len() >= 3, "{} models", models.len());
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
        let target = dir
            .path()
            .join(format!("{}.out", spec.id().replace('/', "_")));
        let file = done.download(&target).await.expect("downloads");
        assert_eq!(
            std::fs::read(&file.path).expect("reads"),
            sample(&spec),
            "{}",
            spec.id()
        );
    }
    assert_eq!(sandbox.stats().tasks_created, models.len() as u64);
}

#[tokio::test]
async fn every_model_refuses_a_broken_input_locally_naming_the_field() {
    let sandbox = sandbox().await;
    let client = client(&sandbox);
    for spec in apikley_models::all() {
        let mut inputs = example_inputs(spec);
        let fields = inputs.as_object_mut().expect("an object");
        // A required input with no default, taken away; and one the spec does not have.
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
