//! Any registered model, both ways in: by id with a JSON input, and through the generated
//! body type. Against the real service (`APIKLEY_API_KEY`), or the sandbox:
//!
//! ```sh
//! cargo run -p apikley-cli -- sandbox --speed 30 &
//! APIKLEY_BASE_URL=http://127.0.0.1:8080 APIKLEY_API_KEY=sandbox-key \
//!     cargo run -p apikley-models --example any_model
//! ```

use kling_2_6_text_to_video_raw::{Model, types};
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let client = apikley::Client::from_env()?;

    // By id, with a JSON input, checked against that model's spec before anything is sent.
    let spec = apikley_models::find("kling-2.6/text-to-video").ok_or("not registered")?;
    let request = apikley::Request::new(spec)
        .with_inputs(json!({"prompt": "A fox walking through fresh snow", "sound": true}))
        .with_input("duration", "10");
    let video = client.submit(request).await?.wait().await?;
    video.download("fox.mp4").await?;

    // Through the generated, spec-exact body type (the raw crate's `Model`).
    let input = types::Kling26TextToVideoBodyInput::builder()
        .prompt("A fox walking through fresh snow")
        .sound(false)
        .aspect_ratio(types::Kling26TextToVideoBodyInputAspectRatio::X169)
        .duration(types::Kling26TextToVideoBodyInputDuration::X5);
    let body = types::Kling26TextToVideoBody::builder()
        .model(types::Kling26TextToVideoBodyModel::Kling26TextToVideo)
        .input(Some(input.try_into()?));
    let task = client.submit_body::<Model>(&body.try_into()?).await?;
    println!("task {}", task.id());
    let video = task.wait().await?;
    video.download("fox-typed.mp4").await?;
    Ok(())
}
