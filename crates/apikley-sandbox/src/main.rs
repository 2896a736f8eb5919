//! `apikley-sandbox`: runs a local stand-in for the Apikley API until Ctrl-C.

use std::net::SocketAddr;
use std::time::Duration;

use apikley_sandbox::{ErrorShape, Faults, Sandbox};
use clap::Parser;

/// A local stand-in for the Apikley API: Market tasks, uploads, callbacks and faults.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The API key to accept.
    #[arg(long, default_value = apikley_sandbox::DEFAULT_API_KEY)]
    key: String,
    /// How much faster than real time tasks progress.
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Starting credits.
    #[arg(long, default_value_t = 1000.0)]
    credits: f64,
    /// Sign callbacks with this webhook key.
    #[arg(long)]
    webhook_key: Option<String>,
    /// Answer 429 above this many creates per 10 s.
    #[arg(long)]
    rate_limit: Option<u32>,
    /// Answer every call with 455 (maintenance).
    #[arg(long)]
    maintenance: bool,
    /// Answer this fraction of calls with 500.
    #[arg(long, default_value_t = 0.0)]
    server_errors: f64,
    /// Make every task fail with this failCode.
    #[arg(long)]
    fail_code: Option<String>,
    /// Drop the connection after creating a task, without answering.
    #[arg(long)]
    drop_after_create: bool,
    /// Send errors as HTTP 200 with the code in the body.
    #[arg(long)]
    errors_in_body: bool,
    /// Make this fraction of status queries fail (500, 455, a dropped connection, a 60 s
    /// answer, or an HTML page with status 200).
    #[arg(long, default_value_t = 0.0)]
    status_faults: f64,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let mut faults = Faults::none()
        .with_maintenance(args.maintenance)
        .with_server_error_rate(args.server_errors)
        .with_drop_after_create(args.drop_after_create)
        .with_status_fault_rate(args.status_faults);
    if let Some(max) = args.rate_limit {
        faults = faults.with_rate_limit(apikley::RateLimit::new(max, Duration::from_secs(10)));
    }
    if let Some(code) = args.fail_code {
        faults = faults.with_failing_tasks(code, "Generation failed (sandbox fault)");
    }
    if args.errors_in_body {
        faults = faults.with_error_shape(ErrorShape::Envelope);
    }
    let mut builder = Sandbox::builder()
        .address(args.listen)
        .api_key(&args.key)
        .speed(args.speed)
        .credits(args.credits)
        .faults(faults);
    if let Some(key) = args.webhook_key {
        builder = builder.webhook_key(key);
    }
    let sandbox = builder.start().await?;
    println!("Apikley sandbox listening on {}", sandbox.url());
    println!("API key: {}", sandbox.api_key());
    println!(
        "Try: APIKLEY_BASE_URL={} APIKLEY_API_KEY={} seedance generate \"A serene beach at sunset\" -o beach.mp4",
        sandbox.url(),
        sandbox.api_key()
    );
    tokio::signal::ctrl_c().await?;
    println!("stopped");
    Ok(())
}
