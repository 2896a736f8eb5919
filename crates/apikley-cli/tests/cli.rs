//! The `apikley` binary against a sandbox on 127.0.0.1: every registered model runs from its
//! spec alone, inputs typed from `key=value`; a broken input exits 2 listing every problem with
//! nothing sent; `models` and `describe` say what the specs say.

use std::path::Path;

use apikley_sandbox::{SAMPLE_VIDEO, Sandbox};
use serde_json::Value;

mod support;
use support::{apikley, args, text};

/// The spec example's inputs as `key=value` arguments (each list item its own argument).
fn example_args(spec: &apikley::ModelSpec) -> Vec<String> {
    let inputs = spec
        .example()
        .and_then(|e| e.get("input"))
        .and_then(Value::as_object)
        .expect("the spec has an example");
    let mut out = Vec::new();
    for (key, value) in inputs {
        match value {
            Value::String(s) => out.push(format!("{key}={s}")),
            Value::Array(items) => {
                out.extend(items.iter().map(|item| match item {
                    Value::String(s) => format!("{key}={s}"),
                    other => format!("{key}={other}"),
                }));
            }
            Value::Object(_) => out.push(format!("{key}:={value}")),
            other => out.push(format!("{key}={other}")),
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn every_registered_model_runs_from_key_value_inputs() {
    let sandbox = Sandbox::builder()
        .speed(60.0)
        .start()
        .await
        .expect("sandbox starts");
    let dir = tempfile::tempdir().expect("temp dir");
    for spec in apikley_models::all() {
        // Example image URLs point outside this machine: the sandbox would not fetch them anyway.
        let mut run = args(&["run", spec.id()]);
        run.extend(example_args(spec));
        // Named as the model's result should be: a mismatch would print a warning.
        let input = spec
            .example()
            .and_then(|e| e.get("input"))
            .expect("example");
        let (sample, media) = apikley_sandbox::sample(
            spec.output_media_type(input)
                .expect("every registered model says what it produces"),
        );
        let file = format!("{}.{}", spec.id().replace('/', "_"), media.extension());
        run.extend(args(&["-o", &file, "--poll-interval", "1"]));
        let before = sandbox.stats().tasks_created;
        let output = apikley(Some(&sandbox), &run, dir.path()).await;
        assert!(
            output.status.success(),
            "{}: {}",
            spec.id(),
            text(&output.stderr)
        );
        assert_eq!(
            std::fs::read(dir.path().join(&file)).expect("saved"),
            sample,
            "{}",
            spec.id()
        );
        assert!(
            !text(&output.stderr).contains("warning"),
            "{}",
            text(&output.stderr)
        );
        assert_eq!(sandbox.stats().tasks_created, before + 1);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_readme_kling_command_makes_a_video_offline() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = apikley(
        None,
        &args(&[
            "run",
            "kling-2.6/text-to-video",
            "prompt=A fox in snow",
            "sound=true",
            "duration=5",
            "--sandbox",
            "-o",
            "fox.mp4",
        ]),
        dir.path(),
    )
    .await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout),
        "saved fox.mp4 (10777 bytes, MP4 video)\n"
    );
    assert_eq!(
        std::fs::read(dir.path().join("fox.mp4")).expect("saved"),
        SAMPLE_VIDEO
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_input_lists_every_problem_and_sends_nothing() {
    let sandbox = Sandbox::start().await.expect("sandbox starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let broken = args(&[
        "run",
        "kling-2.6",
        "prompt=A fox in snow",
        "duration=7",
        "aspect_ratio=4:3",
        "sound=maybe",
        "colour=red",
        "-o",
        "fox.mp4",
    ]);
    let output = apikley(Some(&sandbox), &broken, dir.path()).await;
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    // The allowed values are the spec's: checked against it, not written in the snapshot.
    insta::with_settings!({
        filters => vec![
            (r"must be one of [^(]+ \(got", "must be one of [THE SPEC'S VALUES] (got"),
            (r"\(inputs: [^)]+\)", "(inputs: [THE SPEC'S INPUTS])"),
        ]
    }, {
        insta::assert_snapshot!("broken_input", stderr.clone());
    });
    let spec = apikley_models::find("kling-2.6/text-to-video").expect("registered");
    for input in ["aspect_ratio", "duration"] {
        let facts = apikley_cli::facts(&spec, input).expect("an input");
        let values = facts
            .split("; ")
            .find_map(|f| f.strip_prefix("one of "))
            .expect("values");
        let expected = format!("input.{input} must be one of {values} (got");
        assert!(stderr.contains(&expected), "{expected}\n{stderr}");
    }
    let mut json = args(&["--json"]);
    json.extend(broken);
    let output = apikley(Some(&sandbox), &json, dir.path()).await;
    assert_eq!(output.status.code(), Some(2));
    let document: Value = serde_json::from_slice(&output.stdout).expect("one JSON document");
    let fields: Vec<&str> = document["error"]["violations"]
        .as_array()
        .expect("violations")
        .iter()
        .filter_map(|v| v["field"].as_str())
        .collect();
    assert_eq!(
        fields,
        [
            "input.sound",
            "input.colour",
            "input.aspect_ratio",
            "input.duration"
        ]
    );
    let stats = sandbox.stats();
    assert_eq!((stats.create_requests, stats.upload_requests), (0, 0));
    assert!(!dir.path().join("fox.mp4").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn models_and_describe_say_what_the_specs_say() {
    let dir = tempfile::tempdir().expect("temp dir");
    let models = apikley(None, &args(&["models"]), dir.path()).await;
    assert!(models.status.success());
    let listed = text(&models.stdout);
    // One line per model under a header, every id in one column; a family and kind are said on
    // the first line of their group only, and each group comes once.
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), apikley_models::all().len() + 1, "{listed}");
    let column = lines[0].find("MODEL").expect("a header");
    let mut groups = Vec::new();
    let mut group = (String::new(), String::new());
    for line in &lines[1..] {
        let (left, right) = line.split_at(column);
        let id = right.split_whitespace().next().expect("an id");
        let spec = apikley_models::find(id).expect("a registered id");
        let said: Vec<&str> = left
            .split("  ")
            .map(str::trim)
            .filter(|w| !w.is_empty())
            .collect();
        if let [family, kind] = said[..] {
            group = (family.to_owned(), kind.to_owned());
            groups.push(group.clone());
        } else {
            assert!(said.is_empty(), "{line}");
        }
        assert_eq!(
            (group.0.as_str(), group.1.as_str()),
            (spec.family().expect("a titled spec"), spec.kind().as_str()),
            "{line}"
        );
    }
    let mut distinct = groups.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), groups.len(), "a group split: {listed}");
    assert!(groups.iter().any(|(_, kind)| kind == "image"), "{listed}");
    let json = apikley(None, &args(&["--json", "models"]), dir.path()).await;
    let document: Value = serde_json::from_slice(&json.stdout).expect("JSON");
    let seedream = document["models"]
        .as_array()
        .expect("a list")
        .iter()
        .find(|m| m["model"] == "seedream/4.5-text-to-image")
        .expect("listed");
    assert_eq!(
        (&seedream["family"], &seedream["kind"]),
        (&serde_json::json!("Seedream"), &serde_json::json!("image"))
    );
    // Every input, with what its spec says of it (read from the spec here too, so that a spec
    // change and `regen` keep this green).
    let describe = apikley(None, &args(&["describe", "kling-2.6"]), dir.path()).await;
    assert!(describe.status.success(), "{}", text(&describe.stderr));
    let described = text(&describe.stdout);
    let spec = apikley_models::find("kling-2.6/text-to-video").expect("registered");
    assert!(
        described.starts_with("kling-2.6/text-to-video\n"),
        "{described}"
    );
    for input in spec.inputs() {
        let facts = apikley_cli::facts(&spec, input.name()).expect("facts");
        let line = format!("  {}  ({}; {facts})", input.name(), input.kind());
        assert!(described.contains(&line), "{line}\n{described}");
        for description in input.description().into_iter().flat_map(str::lines) {
            assert!(described.contains(description.trim()), "{description}");
        }
    }
    let json = apikley(
        None,
        &args(&["--json", "describe", "v1-pro-text"]),
        dir.path(),
    )
    .await;
    let document: Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(document["model"], "bytedance/v1-pro-text-to-video");
    assert_eq!(document["endpoint"], "POST api/v1/jobs/createTask");
    let unknown = apikley(None, &args(&["describe", "no-such-model"]), dir.path()).await;
    assert_eq!(unknown.status.code(), Some(2));
    assert!(text(&unknown.stderr).contains("names no model of this build"));
    // A part of several ids names them, so that the user can pick one.
    let several = apikley(None, &args(&["describe", "v1-pro"]), dir.path()).await;
    assert_eq!(several.status.code(), Some(2));
    let said = text(&several.stderr);
    for id in apikley_models::all().iter().map(|m| m.id()) {
        assert_eq!(said.contains(id), id.contains("v1-pro"), "{id}: {said}");
    }
    assert!(said.contains("give more of the id"), "{said}");
}

#[tokio::test(flavor = "multi_thread")]
async fn completions_load_in_bash_and_complete_subcommands() {
    let dir = tempfile::tempdir().expect("temp dir");
    // The line `apikley completions --help` prints, as printed, with the binary on the PATH;
    // then a completion as bash asks for one: the command, the word, the word before it.
    let help = apikley(None, &["completions", "--help"], dir.path()).await;
    let line = "source <(apikley completions bash)";
    assert!(text(&help.stdout).contains(line), "{}", text(&help.stdout));
    let script = format!(
        "{line} && complete -p apikley >/dev/null && \
         COMP_WORDS=(apikley ru) COMP_CWORD=1 COMP_LINE='apikley ru' COMP_POINT=10 && \
         _apikley apikley ru apikley && echo \"${{COMPREPLY[*]}}\""
    );
    let folder = Path::new(support::APIKLEY).parent().expect("a folder");
    let path = format!(
        "{}:{}",
        folder.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let completed = std::process::Command::new("bash")
        .args(["--norc", "-c", &script])
        .current_dir(dir.path())
        .env("PATH", path)
        .output()
        .expect("bash runs");
    assert!(completed.status.success(), "{}", text(&completed.stderr));
    assert_eq!(text(&completed.stdout).trim(), "run");
    for shell in ["zsh", "fish", "powershell"] {
        let output = apikley(None, &["completions", shell], dir.path()).await;
        assert!(output.status.success(), "{shell}: {}", text(&output.stderr));
        assert!(text(&output.stdout).contains("tasks"), "{shell}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn quiet_prints_the_result_and_nothing_else() {
    let dir = tempfile::tempdir().expect("temp dir");
    let run = [
        "run",
        "seedance-1.5-pro",
        "prompt=A fox in snow",
        "--sandbox",
    ];
    let talkative = apikley(None, &[&run[..], &["-o", "a.mp4"]].concat(), dir.path()).await;
    assert!(text(&talkative.stderr).contains("submitted task"));
    let quiet = apikley(
        None,
        &[&run[..], &["-o", "b.mp4", "--quiet"]].concat(),
        dir.path(),
    )
    .await;
    assert!(quiet.status.success());
    assert_eq!(text(&quiet.stderr), "");
    assert_eq!(
        text(&quiet.stdout),
        "saved b.mp4 (10777 bytes, MP4 video)\n"
    );
    // Errors still say why.
    let refused = apikley(
        None,
        &[&run[..], &["-o", "b.mp4", "-q"]].concat(),
        dir.path(),
    )
    .await;
    assert_eq!(refused.status.code(), Some(2));
    assert!(text(&refused.stderr).contains("b.mp4: already exists"));
}

#[test]
fn no_color_is_honoured_even_where_colour_is_forced() {
    let run = |no_color: bool| {
        let mut command = std::process::Command::new(support::APIKLEY);
        command
            .arg("bogus")
            .env("CLICOLOR_FORCE", "1")
            .env_remove("NO_COLOR");
        if no_color {
            command.env("NO_COLOR", "1");
        }
        text(&command.output().expect("runs").stderr)
    };
    assert!(
        run(false).contains("\u{1b}["),
        "colour forced: escapes expected"
    );
    let plain = run(true);
    assert!(!plain.contains('\u{1b}'), "{plain:?}");
    assert!(plain.contains("unrecognized subcommand 'bogus'"), "{plain}");
}
