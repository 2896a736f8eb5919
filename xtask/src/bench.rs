//! `cargo xtask bench [--quick]`: runs the benchmark binary (`xtask/bench`, built in release
//! for a full run) and adds what only a build can measure: the clean build cost of a consumer
//! of `apikley-seedance` against a minimal reqwest client (full run only, three alternating
//! rounds), and the time to a first video with the README's first command on a warm build.
//! Everything is printed as one Markdown table; `xtask/BENCHMARKS.md` keeps a full run's.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

/// Why a benchmark run failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A command could not run or failed.
    #[error("{command}: {reason}")]
    Command {
        /// The command.
        command: String,
        /// What went wrong.
        reason: String,
    },
    /// A scratch folder could not be made.
    #[error("scratch folder: {0}")]
    Io(#[from] std::io::Error),
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Runs `command` to its end; its stdout.
fn run(command: &mut Command) -> Result<String, Error> {
    let shown = format!("{command:?}");
    let output = command.output().map_err(|e| Error::Command {
        command: shown.clone(),
        reason: e.to_string(),
    })?;
    if !output.status.success() {
        return Err(Error::Command {
            command: shown,
            // What it said on stderr is why (a compile error, a full disk): keep it.
            reason: format!(
                "exited with {}\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim_end()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Runs the benchmarks (`only` these rows, when any are named) and prints the table.
pub fn bench(root: &Path, quick: bool, only: &[String]) -> Result<(), Error> {
    let profile = if quick { "debug" } else { "release" };
    let wanted = |row: &str| only.is_empty() || only.iter().any(|o| o == row);
    // Each built alone, as `cargo run -p …` builds it, so that the runs below find them warm.
    // apikley with its shared journal: row 11 runs it as workers.
    for (package, features) in [
        ("apikley-bench", ""),
        ("seedance-cli", ""),
        ("apikley-cli", "postgres"),
    ] {
        let mut build = Command::new(cargo());
        build
            .current_dir(root)
            .args(["build", "--quiet", "-p", package]);
        if !features.is_empty() {
            build.args(["--features", features]);
        }
        if !quick {
            build.arg("--release");
        }
        eprintln!("building {package} ({profile})…");
        run(&mut build)?;
    }
    let target = target_dir(root);
    let rows = ["1", "2", "3", "4", "5", "6", "9", "10", "11"];
    let binary_rows: Vec<&str> = rows.into_iter().filter(|row| wanted(row)).collect();
    if !binary_rows.is_empty() {
        let mut bench = Command::new(target.join(profile).join("apikley-bench"));
        if quick {
            bench.arg("--quick");
        }
        if !only.is_empty() {
            bench.args(binary_rows.iter().flat_map(|row| ["--only", row]));
        }
        print!("{}", run(&mut bench)?);
    }
    if wanted("8") {
        println!("{}", first_video(root, quick)?);
    }
    if wanted("7") && quick {
        println!(
            "| 7 build cost | clean builds, three alternating rounds | (full run only) | | | |"
        );
    } else if wanted("7") {
        println!("{}", build_cost(root)?);
    }
    Ok(())
}

fn target_dir(root: &Path) -> std::path::PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The README's first command, on a warm build, start to file: the median of three runs.
fn first_video(root: &Path, quick: bool) -> Result<String, Error> {
    let scratch = tempfile::tempdir()?;
    let runs = if quick { 1 } else { 3 };
    let mut times = Vec::new();
    // The first run builds whatever the command alone needs (a warm build is the premise).
    for n in 0..=runs {
        let file = scratch.path().join(format!("beach-{n}.mp4"));
        let started = Instant::now();
        let mut command = Command::new(cargo());
        command
            .current_dir(root)
            .args(["run", "--quiet", "-p", "seedance-cli"]);
        if !quick {
            command.arg("--release");
        }
        command
            .args([
                "--",
                "generate",
                "--sandbox",
                "A serene beach at sunset",
                "-o",
            ])
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        run(&mut command)?;
        if n > 0 {
            times.push(started.elapsed().as_secs_f64());
        }
        let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        if size == 0 {
            return Err(Error::Command {
                command: "seedance generate --sandbox".into(),
                reason: "no video was written".into(),
            });
        }
    }
    Ok(format!(
        "| 8 time to first video | `cargo run -p seedance-cli -- generate --sandbox \"A serene beach at sunset\" -o beach.mp4`, warm build | {:.1} s (median of {runs}) | | | |",
        median(times)
    ))
}

/// A consumer crate in `dir`: `main.rs` and the dependencies given, pinned by the workspace's
/// lock file.
fn consumer(root: &Path, dir: &Path, dependencies: &str, main: &str) -> Result<(), Error> {
    std::fs::create_dir_all(dir.join("src"))?;
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"consumer\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n[workspace]\n\n[dependencies]\n{dependencies}"
        ),
    )?;
    std::fs::write(dir.join("src/main.rs"), main)?;
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock"))?;
    Ok(())
}

/// Clean debug builds of a consumer of `apikley-seedance` and of a minimal reqwest + serde +
/// tokio client, alternating, three rounds each.
fn build_cost(root: &Path) -> Result<String, Error> {
    let scratch = tempfile::tempdir()?;
    let sdk = scratch.path().join("sdk");
    let minimal = scratch.path().join("minimal");
    let seedance = root.join("crates/seedance");
    consumer(
        root,
        &sdk,
        &format!(
            "apikley-seedance = {{ path = {:?} }}\ntokio = {{ version = \"1\", features = [\"macros\", \"rt-multi-thread\"] }}\n",
            seedance.display().to_string()
        ),
        "#[tokio::main]\nasync fn main() {\n    let client = seedance::apikley::Client::from_env();\n    println!(\"{}\", client.is_ok());\n}\n",
    )?;
    consumer(
        root,
        &minimal,
        "reqwest = { version = \"0.13\", default-features = false, features = [\"rustls\", \"http2\", \"json\", \"query\", \"stream\", \"multipart\"] }\nserde = { version = \"1\", features = [\"derive\"] }\nserde_json = \"1\"\ntokio = { version = \"1\", features = [\"macros\", \"rt-multi-thread\"] }\n",
        "#[derive(serde::Deserialize)]\nstruct Answer { code: i64 }\n#[tokio::main]\nasync fn main() {\n    let client = reqwest::Client::new();\n    let answer: Result<Answer, _> = serde_json::from_str(\"{\\\"code\\\": 200}\");\n    println!(\"{:?} {}\", client, answer.map(|a| a.code).unwrap_or(0));\n}\n",
    )?;
    let mut sdk_times = Vec::new();
    let mut minimal_times = Vec::new();
    for round in 1..=3 {
        for (dir, times) in [(&sdk, &mut sdk_times), (&minimal, &mut minimal_times)] {
            let target = dir.join("target");
            let _ = std::fs::remove_dir_all(&target);
            eprintln!("build cost round {round}: {}…", dir.display());
            let started = Instant::now();
            run(Command::new(cargo())
                .current_dir(dir)
                .env("CARGO_TARGET_DIR", &target)
                .args(["build", "--quiet"])
                .stdout(Stdio::null()))?;
            times.push(started.elapsed().as_secs_f64());
        }
    }
    let duplicates = run(Command::new(cargo()).current_dir(root).args([
        "tree",
        "-p",
        "apikley-seedance",
        "-e",
        "normal",
        "-d",
        "--depth",
        "0",
    ]))?;
    let duplicated: Vec<&str> = duplicates
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with(' '))
        .collect();
    let (ours, theirs) = (median(sdk_times), median(minimal_times));
    Ok(format!(
        "| 7 build cost | clean debug build, median of 3 alternating rounds | consumer of `apikley-seedance`: {ours:.0} s | minimal reqwest + serde + tokio client: {theirs:.0} s ({:.2}×, +{:.0} s); duplicated crate versions in the SDK's tree: {} | know the price | |",
        ours / theirs,
        ours - theirs,
        if duplicated.is_empty() {
            "none".to_owned()
        } else {
            duplicated.join(", ")
        }
    ))
}
