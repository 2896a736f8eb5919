//! Memory, each figure from a fresh child process of this binary: (4) resident memory per
//! waiting task with thousands of waits in flight, and whether it stays flat; (6) peak memory
//! of uploading a file (streamed from disk, or held in memory for the Base64 route) and of
//! downloading small and large files (it must not grow with the file).

use std::future::IntoFuture;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use apikley::{Client, RateLimits, UploadOptions};
use apikley_sandbox::Faults;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{client, memory_kib, paused_runtime, request, sandbox, spec};
use crate::table::Row;

/// Runs this binary as `child ARGS…`; its last stdout line, split on spaces, as numbers.
fn child(args: &[String]) -> Vec<f64> {
    let output = Command::new(std::env::current_exe().expect("this binary"))
        .arg("child")
        .args(args)
        .output()
        .expect("the child runs");
    assert!(
        output.status.success(),
        "child {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .last()
        .unwrap_or("")
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect()
}

/// In the child: `waits` tasks created, then as many waits spawned; prints the resident KiB
/// before, one simulated minute after, and ten simulated minutes after.
pub fn waits_child(waits: usize) {
    paused_runtime().block_on(async {
        let sandbox = sandbox(Faults::none()).await;
        let client = client(&sandbox, RateLimits::default().with_creates(None));
        let spec = spec();
        let mut ids = Vec::with_capacity(waits);
        for i in 0..waits {
            let request = request(&spec, Duration::from_secs(7200), &format!("wait {i}"));
            ids.push(client.submit(request).await.expect("created").id().clone());
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (before, _) = memory_kib();
        let handles: Vec<_> = ids
            .iter()
            .map(|id| {
                let wait = client
                    .task(id.clone())
                    .waiter()
                    .expecting(Duration::from_secs(7200))
                    .deadline(Duration::from_secs(3 * 3600));
                tokio::spawn(wait.into_future())
            })
            .collect();
        tokio::time::sleep(Duration::from_secs(60)).await;
        let (minute, _) = memory_kib();
        tokio::time::sleep(Duration::from_secs(540)).await;
        let (ten, _) = memory_kib();
        for handle in &handles {
            handle.abort();
        }
        println!("{before} {minute} {ten}");
    });
}

pub fn waits(tasks: usize) -> Row {
    let kib = child(&["waits".into(), tasks.to_string()]);
    let (before, minute, ten) = (kib[0], kib[1], kib[2]);
    let per = |after: f64| (after - before) / tasks as f64;
    Row {
        bench: "4 memory",
        case: format!("{tasks} tasks waiting at once (resident memory)"),
        ours: format!(
            "{:.2} KiB per waiting task after 1 min, {:.2} KiB after 10 min ({:.1} → {:.1} MiB)",
            per(minute),
            per(ten),
            before / 1024.0,
            ten / 1024.0
        ),
        other: "2.25 KiB per task before the wait's state was trimmed (2.6 KiB before the shared scheduler)".into(),
        target: "< 1.5 KiB per task, flat over time".into(),
        met: Some(per(ten) < 1.5 && per(ten) <= per(minute) * 1.1 + 0.05),
    }
}

const UPLOAD: usize = 25 * 1000 * 1000;

/// In the child: one transfer (`baseline`, `streamed`, `in-memory` upload of `path`, or a
/// `download` of `size` bytes); prints the peak resident KiB.
pub fn transfer_child(mode: &str, arg: &str) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let url = local_server().await;
        let client = Client::builder()
            .api_key("benchmark")
            .base_url(&url)
            .rate_limits(RateLimits::none())
            .build()
            .expect("a client");
        match mode {
            "baseline" => {
                client.credits().await.expect("credits");
            }
            "streamed" => {
                client.upload_file(arg).await.expect("uploads");
            }
            "in-memory" => {
                let bytes = std::fs::read(arg).expect("reads");
                client
                    .upload_bytes(&bytes, "big.png", &UploadOptions::default())
                    .await
                    .expect("uploads");
            }
            _ => {
                let dir =
                    std::env::temp_dir().join(format!("apikley-bench-{}", std::process::id()));
                std::fs::create_dir_all(&dir).expect("a folder");
                let target = dir.join("download.bin");
                let file_url = format!("{url}/download/{arg}").parse().expect("a URL");
                client
                    .download(file_url, &target)
                    .overwrite(true)
                    .await
                    .expect("downloads");
                let _ = std::fs::remove_dir_all(&dir);
            }
        }
    });
    let (_, peak) = memory_kib();
    println!("{peak}");
}

pub fn transfers(quick: bool) -> Vec<Row> {
    let dir = std::env::temp_dir().join(format!("apikley-bench-upload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a folder");
    let path = dir.join("big.png");
    write_png_like(&path, UPLOAD);
    let file = path.to_string_lossy().into_owned();
    let peak =
        |mode: &str, arg: &str| child(&["transfer".into(), mode.into(), arg.into()])[0] / 1024.0;
    let baseline = peak("baseline", "");
    let streamed = peak("streamed", &file);
    let in_memory = peak("in-memory", &file);
    let _ = std::fs::remove_dir_all(&dir);
    let (small, large) = if quick {
        (10_000_000_u64, 100_000_000_u64)
    } else {
        (20_000_000, 500_000_000)
    };
    let small_peak = peak("download", &small.to_string());
    let large_peak = peak("download", &large.to_string());
    vec![
        Row {
            bench: "6 upload memory",
            case: format!("{:.0} MB file, peak resident memory", UPLOAD as f64 / 1e6),
            ours: format!(
                "streamed `upload_file`: {streamed:.1} MiB (+{:.1} over baseline)",
                streamed - baseline
            ),
            other: format!(
                "baseline (one small call) {baseline:.1} MiB · Base64 `upload_bytes` held in memory {in_memory:.1} MiB"
            ),
            target: "streamed: memory does not grow with the file".into(),
            met: Some(streamed - baseline < 5.0),
        },
        Row {
            bench: "6 download memory",
            case: format!(
                "{} MB vs {} MB file, peak resident memory",
                small / 1_000_000,
                large / 1_000_000
            ),
            ours: format!("{large_peak:.1} MiB for the large file"),
            other: format!("{small_peak:.1} MiB for the small one"),
            target: "peak does not grow with the file".into(),
            met: Some(large_peak - small_peak < 5.0),
        },
    ]
}

fn write_png_like(path: &Path, size: usize) {
    let mut file = std::fs::File::create(path).expect("creates");
    file.write_all(b"\x89PNG\r\n\x1a\n").expect("writes");
    let block: Vec<u8> = (0..1 << 20).map(|i: usize| (i * 31 % 251) as u8).collect();
    let mut written = 8;
    while written < size {
        let n = block.len().min(size - written);
        file.write_all(&block[..n]).expect("writes");
        written += n;
    }
}

/// A local server for transfers: it reads each request to its end without keeping it and
/// answers with an upload (or credits) envelope; `GET /download/N` streams N bytes.
async fn local_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream));
        }
    });
    url
}

async fn serve(mut stream: tokio::net::TcpStream) -> std::io::Result<()> {
    let mut buffer = vec![0u8; 64 * 1024];
    let mut head = Vec::new();
    let (text, length, mut seen) = loop {
        let n = stream.read(&mut buffer).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buffer[..n]);
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            let text = String::from_utf8_lossy(&head[..end]).to_ascii_lowercase();
            let length = text
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            break (text, length, head.len() - end - 4);
        }
    };
    if let Some(size) = text
        .strip_prefix("get /download/")
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse::<u64>().ok())
    {
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: {size}\r\nconnection: close\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await?;
        let chunk = vec![7u8; 64 * 1024];
        let mut sent = 0;
        while sent < size {
            let n = chunk.len().min((size - sent) as usize);
            stream.write_all(&chunk[..n]).await?;
            sent += n as u64;
        }
        return stream.shutdown().await;
    }
    while seen < length {
        let n = stream.read(&mut buffer).await?;
        if n == 0 {
            break;
        }
        seen += n;
    }
    let body = if length < 1000 {
        r#"{"code":200,"msg":"success","data":100}"#.to_owned()
    } else {
        format!(
            r#"{{"success":true,"code":200,"msg":"ok","data":{{"fileName":"big.png","filePath":"x/big.png","downloadUrl":"https://files.example/big.png","fileSize":{seen},"mimeType":"image/png","uploadedAt":"2025-01-01T12:00:00Z"}}}}"#
        )
    };
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}
