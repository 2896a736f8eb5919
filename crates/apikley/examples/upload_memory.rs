//! Peak memory of uploading a 25 MB file: streamed from disk (`upload_file`) against held in
//! memory (`upload_bytes`, the Base64 route), each measured in a fresh process beside a
//! baseline process that makes one small call.
//!
//! ```sh
//! cargo run --release -p apikley --example upload_memory
//! ```
//!
//! Linux only (reads the peak resident set size, `VmHWM`, from `/proc/self/status`). The upload
//! goes to a local sink on 127.0.0.1 that reads and discards the body as it arrives.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use apikley::{Client, RateLimits, UploadOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SIZE: usize = 25 * 1000 * 1000;
const MODES: [&str; 3] = ["baseline", "streamed", "in-memory"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if let [_, child, mode, path] = args.as_slice()
        && child == "child"
    {
        return child_run(mode, Path::new(path));
    }

    let dir = std::env::temp_dir().join(format!("apikley-upload-memory-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("big.png");
    let mut file = std::fs::File::create(&path)?;
    file.write_all(b"\x89PNG\r\n\x1a\n")?;
    let block: Vec<u8> = (0..1 << 20).map(|i: usize| (i * 31 % 251) as u8).collect();
    let mut written = 8;
    while written < SIZE {
        let n = block.len().min(SIZE - written);
        file.write_all(&block[..n])?;
        written += n;
    }
    drop(file);

    println!(
        "upload of a {:.1} MB file; peak resident memory (VmHWM) per process",
        SIZE as f64 / 1e6
    );
    println!(
        "{:<10} {:>14} {:>20}",
        "mode", "peak (MiB)", "over baseline (MiB)"
    );
    let mut baseline = None;
    for mode in MODES {
        let output = Command::new(std::env::current_exe()?)
            .args(["child", mode, &path.to_string_lossy()])
            .output()?;
        if !output.status.success() {
            return Err(format!("{mode}: {}", String::from_utf8_lossy(&output.stderr)).into());
        }
        let kib: f64 = String::from_utf8_lossy(&output.stdout).trim().parse()?;
        let mib = kib / 1024.0;
        let base = *baseline.get_or_insert(mib);
        println!("{mode:<10} {mib:>14.1} {:>20.1}", mib - base);
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

fn child_run(mode: &str, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let url = sink().await?;
        let client = Client::builder()
            .api_key("benchmark")
            .base_url(url)
            .rate_limits(RateLimits::none())
            .build()?;
        match mode {
            "baseline" => {
                client.credits().await?;
            }
            "streamed" => {
                client.upload_file(path).await?;
            }
            _ => {
                let bytes = std::fs::read(path)?;
                client
                    .upload_bytes(&bytes, "big.png", &UploadOptions::default())
                    .await?;
            }
        }
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    println!("{}", peak_kib()?);
    Ok(())
}

/// A server that reads each request to its end without keeping it, then answers with an
/// upload (or credits) envelope.
async fn sink() -> std::io::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 64 * 1024];
                let mut head = Vec::new();
                let (length, mut seen) = loop {
                    let n = stream.read(&mut buffer).await?;
                    if n == 0 {
                        return Ok::<_, std::io::Error>(());
                    }
                    head.extend_from_slice(&buffer[..n]);
                    if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                        let text = String::from_utf8_lossy(&head[..end]).to_ascii_lowercase();
                        let length = text
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        break (length, head.len() - end - 4);
                    }
                };
                while seen < length {
                    let n = stream.read(&mut buffer).await?;
                    if n == 0 {
                        break;
                    }
                    seen += n;
                }
                let body = format!(
                    r#"{{"success":true,"code":200,"msg":"ok","data":{{"fileName":"big.png","filePath":"x/big.png","downloadUrl":"https://files.example/big.png","fileSize":{seen},"mimeType":"image/png","uploadedAt":"2025-01-01T12:00:00Z"}}}}"#
                );
                let body = if length < 1000 {
                    r#"{"code":200,"msg":"success","data":100}"#.to_owned()
                } else {
                    body
                };
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                stream.write_all(response.as_bytes()).await?;
                stream.shutdown().await
            });
        }
    });
    Ok(url)
}

fn peak_kib() -> Result<u64, Box<dyn std::error::Error>> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .ok_or("no VmHWM in /proc/self/status (Linux only)")?;
    Ok(line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()?)
}
