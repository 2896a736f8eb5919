//! Submits a Seedance 1.5 Pro video, waits for it with progress, and prints the video URLs.
//!
//! ```sh
//! APIKLEY_API_KEY=... cargo run -p apikley-seedance --example generate -- "A serene beach at sunset"
//! ```
//!
//! `APIKLEY_BASE_URL` points it elsewhere, e.g. at a local sandbox.

use seedance::apikley::Client;
use seedance::{AspectRatio, Resolution, VideoLength, VideoRequest};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let prompt = std::env::args().nth(1).unwrap_or_else(|| {
        "A serene beach at sunset, waves gently crashing on the shore".to_owned()
    });

    let client = Client::from_env()?;
    let request = VideoRequest::new(prompt)
        .aspect_ratio(AspectRatio::Landscape16x9)
        .resolution(Resolution::P720)
        .duration(VideoLength::Seconds8);

    let task = client.submit(request).await?;
    eprintln!("submitted task {} (resume with client.task(id))", task.id());

    let video = task.wait_with(|progress| eprintln!("{progress}")).await?;
    for url in video.urls() {
        println!("{url}");
    }
    Ok(())
}
