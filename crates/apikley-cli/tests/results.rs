//! `apikley` and what it saves, against a sandbox on 127.0.0.1: an image model's result named
//! by what it is; a link that serves a page instead of the video exits 6 with the task id and a
//! hint that, run as printed once the link works, saves the video without paying again; a batch
//! whose links serve pages saves nothing, and its rerun saves everything.

use std::path::Path;

use apikley_sandbox::{Faults, ResultBody, SAMPLE_IMAGE, SAMPLE_JPEG, SAMPLE_VIDEO};
use apikley_test_support::magic;

mod support;
use support::{apikley, sandbox, shell, text};

/// The files in `dir`, but the task history's folder.
fn files(dir: &Path) -> Vec<String> {
    let home = apikley_test_support::cli::home(dir);
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("reads")
        .map(|e| e.expect("entry").path())
        .filter(|path| *path != home)
        .map(|path| {
            path.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread")]
async fn an_image_model_whose_summary_names_no_kind_saves_the_image_it_made() {
    let dir = tempfile::tempdir().expect("temp dir");
    let png = dir.path().join("png");
    let jpg = dir.path().join("jpg");
    std::fs::create_dir(&png).expect("creates");
    std::fs::create_dir(&jpg).expect("creates");
    let run = [
        "run",
        "nano-banana-pro",
        "prompt=A banana hero",
        "--sandbox",
    ];
    let output = apikley(None, &run, &png).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    let saved = files(&png);
    assert_eq!(saved.len(), 2, "the image and its provenance: {saved:?}");
    assert_eq!(saved[1], format!("{}.json", saved[0]));
    assert!(
        saved[0].starts_with("nano-banana-pro-") && saved[0].ends_with(".png"),
        "{saved:?}"
    );
    assert_eq!(
        std::fs::read(png.join(&saved[0])).expect("reads"),
        SAMPLE_IMAGE
    );
    assert!(
        text(&output.stdout).contains("PNG image"),
        "{}",
        text(&output.stdout)
    );

    let output = apikley(None, &[&run[..], &["output_format=jpg"]].concat(), &jpg).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    let saved = files(&jpg);
    assert!(saved.len() == 2 && saved[0].ends_with(".jpg"), "{saved:?}");
    assert_eq!(saved[1], format!("{}.json", saved[0]));
    assert_eq!(
        std::fs::read(jpg.join(&saved[0])).expect("reads"),
        SAMPLE_JPEG
    );

    // A name given with -o is kept, and a contradiction said.
    let output = apikley(None, &[&run[..], &["-o", "banana.mp4"]].concat(), &jpg).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains(
            "warning: banana.mp4 holds PNG image, but its extension says MP4: kept as named"
        ),
        "{}",
        text(&output.stderr)
    );
    assert_eq!(
        std::fs::read(jpg.join("banana.mp4")).expect("reads"),
        SAMPLE_IMAGE
    );

    // `describe` says what the model makes, and what its file inputs take.
    let output = apikley(None, &["describe", "nano-banana-pro"], dir.path()).await;
    let described = text(&output.stdout);
    assert!(
        described.contains("produces: image (declared by its spec)"),
        "{described}"
    );
    assert!(
        described.contains("URL or local file: JPEG/PNG/WebP, at most 30 MB"),
        "{described}"
    );
}

/// The README's image commands, as printed: a list of local images, each checked by its content
/// and uploaded, then sent as hosted URLs; the result saved under the extension of what it is.
/// A list with a disguised file, a missing one and one image too many is refused, every
/// problem named, nothing uploaded.
#[tokio::test(flavor = "multi_thread")]
async fn an_image_model_takes_local_images_each_checked_and_uploaded() {
    let readme = include_str!("../../../README.md");
    let command = |model: &str| {
        readme
            .lines()
            .find(|line| line.starts_with(&format!("apikley run {model} ")))
            .unwrap_or_else(|| panic!("the README runs {model}"))
            .to_owned()
    };
    let sandbox = sandbox(Faults::none()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("me.png"), SAMPLE_IMAGE).expect("writes");
    std::fs::write(dir.path().join("you.jpg"), SAMPLE_JPEG).expect("writes");

    let output = shell(&command("nano-banana-pro"), dir.path(), &sandbox).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(sandbox.stats().uploads, 2);
    let sent = &sandbox.tasks()[0].param["input"]["image_input"];
    let urls: Vec<&str> = sent
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(serde_json::Value::as_str)
        .collect();
    assert_eq!(urls.len(), 2, "{sent}");
    // Each hosted URL serves the file given at its place in the list.
    let client = sandbox.client().build().expect("client");
    for (url, original) in urls.iter().zip([SAMPLE_IMAGE, SAMPLE_JPEG]) {
        assert!(url.starts_with(sandbox.url()), "{url}");
        let url = apikley::Url::parse(url).expect("a URL");
        let copy = dir.path().join("copy");
        client
            .download(url, &copy)
            .overwrite(true)
            .await
            .expect("served back");
        assert_eq!(std::fs::read(&copy).expect("reads"), original);
    }
    let saved: Vec<String> = files(dir.path())
        .into_iter()
        .filter(|name| name.starts_with("nano-banana-pro-") && !name.ends_with(".json"))
        .collect();
    let [name] = &saved[..] else {
        panic!("{saved:?}");
    };
    let bytes = std::fs::read(dir.path().join(name)).expect("reads");
    assert_eq!(
        magic(&bytes),
        Some(("image", &["jpg", "jpeg"][..])),
        "{name}"
    );
    assert!(name.ends_with(".jpg"), "{name}");

    let output = shell(&command("seedream/4.5"), dir.path(), &sandbox).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    let saved: Vec<String> = files(dir.path())
        .into_iter()
        .filter(|name| name.starts_with("seedream_4.5-text-to-image-") && !name.ends_with(".json"))
        .collect();
    assert!(
        saved.len() == 1
            && magic(&std::fs::read(dir.path().join(&saved[0])).expect("reads"))
                .is_some_and(|(kind, ext)| kind == "image"
                    && ext.iter().any(|e| saved[0].ends_with(&format!(".{e}")))),
        "{saved:?}"
    );

    // Broken: a text file named .png, a file that is not there, and nine images for eight.
    std::fs::write(dir.path().join("notes.png"), "just words").expect("writes");
    let before = sandbox.stats();
    let mut words = vec![
        "run",
        "nano-banana-pro",
        "prompt=A banana hero",
        "image_input=notes.png",
        "image_input=gone.webp",
    ];
    words.extend(["image_input=me.png"; 7]);
    let output = apikley(Some(&sandbox), &words, dir.path()).await;
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    let said = text(&output.stderr);
    for field in [
        "input.image_input ",
        "input.image_input[0]",
        "input.image_input[1]",
    ] {
        assert!(said.contains(field), "{field}: {said}");
    }
    let after = sandbox.stats();
    assert_eq!(
        (after.upload_requests, after.create_requests),
        (before.upload_requests, before.create_requests),
        "nothing sent"
    );
}

/// A batch of image and video jobs names each result by its key and the extension of what it
/// holds: a JPEG asked for is `.jpg`, an image of the default format `.png`, a video `.mp4`.
#[tokio::test(flavor = "multi_thread")]
async fn a_batch_names_each_result_by_its_kind() {
    let sandbox = sandbox(Faults::none()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let jobs = [
        r#"{"key": "banana", "model": "nano-banana-pro", "input": {"prompt": "A banana hero", "output_format": "jpg"}}"#,
        r#"{"key": "lighthouse", "model": "seedream/4.5-text-to-image", "input": {"prompt": "A lighthouse", "aspect_ratio": "16:9", "quality": "basic"}}"#,
        r#"{"key": "fox", "model": "kling-2.6/text-to-video", "input": {"prompt": "A fox in snow", "sound": false, "aspect_ratio": "1:1", "duration": "5"}}"#,
    ];
    std::fs::write(dir.path().join("jobs.jsonl"), jobs.join("\n")).expect("writes");
    let output = apikley(
        Some(&sandbox),
        &["batch", "jobs.jsonl", "--out-dir", "out"],
        dir.path(),
    )
    .await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    let out = dir.path().join("out");
    let saved: Vec<String> = files(&out)
        .into_iter()
        .filter(|name| !name.starts_with('.') && !name.ends_with(".sqlite"))
        .collect();
    assert_eq!(
        saved,
        [
            "banana.jpg",
            "banana.jpg.json",
            "fox.mp4",
            "fox.mp4.json",
            "lighthouse.png",
            "lighthouse.png.json"
        ],
        "each result and its provenance: {saved:?}"
    );
    for (name, kind) in [
        ("banana.jpg", "image"),
        ("fox.mp4", "video"),
        ("lighthouse.png", "image"),
    ] {
        let bytes = std::fs::read(out.join(name)).expect("reads");
        let (found, extensions) = magic(&bytes).expect("a media file");
        assert_eq!(found, kind, "{name}");
        assert!(
            extensions.iter().any(|e| name.ends_with(&format!(".{e}"))),
            "{name}"
        );
    }
}

/// Every registered model, run as a user would with its spec's example input against the
/// built-in sandbox: one file, of the model's kind by its first bytes, named for the model with
/// an extension its format goes by; and its description.
#[tokio::test(flavor = "multi_thread")]
async fn every_model_run_with_its_example_input_saves_a_file_of_its_kind() {
    let runs = apikley_models::all().iter().map(|spec| {
        let spec = spec.clone();
        tokio::spawn(async move {
            let dir = tempfile::tempdir().expect("temp dir");
            let example = spec
                .example()
                .and_then(|e| e.get("input"))
                .and_then(serde_json::Value::as_object)
                .cloned()
                .unwrap_or_default();
            let mut words = vec![
                "run".to_owned(),
                spec.id().to_owned(),
                "--sandbox".to_owned(),
            ];
            words.extend(example.iter().map(|(key, value)| format!("{key}:={value}")));
            let output = apikley(None, &words, dir.path()).await;
            assert!(
                output.status.success(),
                "{}: {}",
                spec.id(),
                text(&output.stderr)
            );
            let saved = files(dir.path());
            let [name, sidecar] = &saved[..] else {
                panic!("{}: {saved:?}", spec.id());
            };
            assert_eq!(*sidecar, format!("{name}.json"));
            let bytes = std::fs::read(dir.path().join(name)).expect("reads");
            let (kind, extensions) = magic(&bytes).unwrap_or_else(|| panic!("{name}: no media"));
            assert_eq!(kind, spec.kind().as_str(), "{name}");
            let (stem, extension) = name.rsplit_once('.').expect("an extension");
            assert!(extensions.contains(&extension), "a {kind} saved as {name}");
            assert!(stem.starts_with(&spec.id().replace('/', "_")), "{name}");
            // And `describe` shows each of its inputs, as its spec says.
            let words = ["describe".to_owned(), spec.id().to_owned()];
            let describe = apikley(None, &words, dir.path()).await;
            assert!(describe.status.success(), "{}", text(&describe.stderr));
            let described = text(&describe.stdout);
            assert!(
                described.starts_with(&format!("{}\n", spec.id())),
                "{described}"
            );
            for input in spec.inputs() {
                let facts = apikley_cli::facts(&spec, input.name()).expect("facts");
                let line = format!("  {}  ({}; {facts})", input.name(), input.kind());
                assert!(described.contains(&line), "{}: {line}", spec.id());
            }
        })
    });
    let runs: Vec<_> = runs.collect();
    assert!(runs.len() >= 25);
    for run in runs {
        run.await.expect("the run passes");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_link_serving_a_page_an_error_or_nothing_exits_6_and_the_printed_hint_saves_the_video() {
    // The three at once: each run spends its retries' backoff before giving up.
    let runs = [
        (ResultBody::Html, "an HTML page"),
        (ResultBody::Json, "a JSON document"),
        (ResultBody::Empty, "an empty body"),
    ]
    .map(|(body, found)| tokio::spawn(a_link_serving(body, found)));
    for run in runs {
        run.await.expect("the run passes");
    }
}

async fn a_link_serving(body: ResultBody, found: &'static str) {
    let sandbox = sandbox(Faults::none().with_result_body(Some(body))).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let run = [
        "run",
        "kling-2.6/text-to-video",
        "prompt=A fox in snow",
        "sound=true",
        "-o",
        "fox.mp4",
    ];
    let output = apikley(Some(&sandbox), &run, dir.path()).await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(6), "{found}: {stderr}");
    let task = sandbox.tasks()[0].id.clone();
    assert!(stderr.contains(&format!("task {task}")), "{stderr}");
    assert!(
        stderr.contains(&format!("is {found}, not a media file")),
        "{stderr}"
    );
    assert!(files(dir.path()).is_empty(), "{:?}", files(dir.path()));
    let hint = stderr
        .lines()
        .find_map(|l| l.strip_prefix("resume with: "))
        .expect("a resume hint");
    assert_eq!(hint, format!("apikley download {task} -o fox.mp4"));

    // Followed as printed (the first word is the program) once the link works.
    sandbox.set_faults(Faults::none());
    let words: Vec<&str> = hint.split(' ').skip(1).collect();
    let output = apikley(Some(&sandbox), &words, dir.path()).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        std::fs::read(dir.path().join("fox.mp4")).expect("saved"),
        SAMPLE_VIDEO
    );
    assert_eq!(sandbox.stats().tasks_created, 1, "nothing paid twice");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_whose_links_serve_pages_saves_nothing_and_its_rerun_saves_everything() {
    let sandbox = sandbox(Faults::none().with_result_body(Some(ResultBody::Json))).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let jobs = [
        r#"{"key": "fox-01", "model": "kling-2.6/text-to-video", "input": {"prompt": "A fox", "sound": false}}"#,
        r#"{"key": "banana-01", "model": "nano-banana-pro", "input": {"prompt": "A banana", "output_format": "jpg"}}"#,
    ];
    std::fs::write(dir.path().join("jobs.jsonl"), jobs.join("\n")).expect("writes");
    let batch = [
        "batch",
        "jobs.jsonl",
        "--out-dir",
        "out",
        "--poll-interval",
        "1",
    ];
    std::fs::create_dir(dir.path().join("out")).expect("creates");
    let output = apikley(Some(&sandbox), &batch, dir.path()).await;
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    let saved: Vec<String> = files(&dir.path().join("out"))
        .into_iter()
        .filter(|f| !f.starts_with("apikley-batch") && f != ".apikley-batch.lock")
        .collect();
    assert!(saved.is_empty(), "{saved:?}");

    sandbox.set_faults(Faults::none());
    let output = apikley(Some(&sandbox), &batch, dir.path()).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    let out = dir.path().join("out");
    assert_eq!(
        std::fs::read(out.join("fox-01.mp4")).expect("saved"),
        SAMPLE_VIDEO
    );
    assert_eq!(
        std::fs::read(out.join("banana-01.jpg")).expect("saved"),
        SAMPLE_JPEG
    );
    assert_eq!(sandbox.stats().tasks_created, 2, "nothing paid twice");
}
