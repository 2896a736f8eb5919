//! `regen` and `regen --check` on a fixture workspace (`tests/fixtures/`: one Market document,
//! one patch, one raw crate), so that they test `regen` itself, whatever the live specs say; and
//! once on a scratch copy of the real workspace, which must be up to date.

use std::path::{Path, PathBuf};

use xtask::regen::{Options, Outcome, run};

mod support;
use support::copy_tree;

/// A scratch workspace: the fixture, or a copy of the real one.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    /// The fixture, with its package copy and snapshot written by a first `regen`.
    fn fixture() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        copy_tree(&fixture, dir.path());
        let scratch = Scratch { dir };
        let (outcome, report) = scratch.regen(Options::default());
        assert_eq!(stale(&outcome), [COPY, PATCH_COPY, SNAPSHOT], "{report}");
        assert!(
            report.contains("example-raw: new snapshot with"),
            "{report}"
        );
        scratch
    }

    /// Everything `regen` reads and writes in the real workspace.
    fn workspace() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let source = xtask::workspace_root();
        support::copy_specs_and_manifests(dir.path());
        let snapshots = dir.path().join("tests/snapshots");
        std::fs::create_dir_all(&snapshots).expect("mkdir");
        for entry in std::fs::read_dir(source.join("tests/snapshots")).expect("snapshots/") {
            let file = entry.expect("entry").path();
            let name = file
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            if name.starts_with("generated__") && name.ends_with(".snap") {
                std::fs::copy(&file, snapshots.join(name)).expect("copy");
            }
        }
        Scratch { dir }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path(relative)).expect("file reads")
    }

    fn write(&self, relative: &str, text: &str) {
        std::fs::write(self.path(relative), text).expect("file writes");
    }

    fn regen(&self, options: Options) -> (Outcome, String) {
        let mut out = Vec::new();
        let outcome = run(self.dir.path(), &options, &mut out).expect("regen runs");
        (outcome, String::from_utf8(out).expect("UTF-8 report"))
    }

    fn check(&self) -> (Outcome, String) {
        self.regen(Options {
            check: true,
            ..Options::default()
        })
    }
}

fn stale(outcome: &Outcome) -> Vec<String> {
    outcome
        .stale()
        .iter()
        .map(|p| p.display().to_string())
        .collect()
}

/// Whether the report's diffs remove (`-`) or add (`+`) a line reading `text`.
fn diff_line(report: &str, sign: char, text: &str) -> bool {
    report.lines().any(|line| {
        line.trim_start()
            .strip_prefix(sign)
            .is_some_and(|rest| rest.trim() == text)
    })
}

const SPEC: &str = "openapi/example.json";
const COPY: &str = "crates/example-raw/openapi/example.json";
const PATCH_COPY: &str = "crates/example-raw/openapi/patches/example/01-open-response-code.json";
const SNAPSHOT: &str = "tests/snapshots/generated__example-raw.snap";

#[test]
fn the_committed_workspace_is_up_to_date() {
    let scratch = Scratch::workspace();
    let (outcome, report) = scratch.check();
    assert!(outcome.is_clean(), "{report}");
    assert_eq!(report, "");
}

#[test]
fn an_edited_enum_value_fails_the_check_with_a_diff_and_regen_fixes_it() {
    let scratch = Scratch::fixture();
    assert!(scratch.check().0.is_clean());
    let before = [SPEC, COPY, SNAPSHOT].map(|f| scratch.read(f));
    scratch.write(SPEC, &before[0].replace("\"16:9\"", "\"21:9\""));

    let (outcome, report) = scratch.check();
    assert_eq!(stale(&outcome), [COPY, SNAPSHOT]);
    assert!(
        report.contains(&format!("✗ {COPY} is out of date:")),
        "{report}"
    );
    assert!(diff_line(&report, '-', "\"16:9\""), "{report}");
    assert!(diff_line(&report, '+', "\"21:9\""), "{report}");
    assert!(
        diff_line(&report, '+', "#[serde(rename = \"21:9\")]"),
        "{report}"
    );
    assert!(
        report.contains("~ type ExampleVideoBodyInputAspectRatio: -variant X169, +variant X219"),
        "{report}"
    );
    // --check wrote nothing.
    assert_eq!(scratch.read(COPY), before[1]);
    assert_eq!(scratch.read(SNAPSHOT), before[2]);

    let (outcome, report) = scratch.regen(Options::default());
    assert_eq!(stale(&outcome), [COPY, SNAPSHOT]);
    assert!(
        report.contains(&format!("✓ updated {SNAPSHOT}")),
        "{report}"
    );
    assert_eq!(scratch.read(COPY), scratch.read(SPEC));
    assert!(scratch.read(SNAPSHOT).contains("X219"));

    let (outcome, report) = scratch.check();
    assert!(outcome.is_clean(), "{report}");
}

#[test]
fn from_revendors_in_canonical_formatting() {
    let scratch = Scratch::fixture();
    let original = scratch.read(SPEC);
    let mut value: serde_json::Value = serde_json::from_str(&original).expect("JSON");
    value["info"]["version"] = "1.0.1".into();
    let download = scratch.path("download/example.json");
    std::fs::create_dir_all(download.parent().expect("parent")).expect("mkdir");
    // Minified, as a download might be.
    std::fs::write(&download, serde_json::to_string(&value).expect("JSON")).expect("writes");

    let (outcome, report) = scratch.regen(Options {
        from: Some(download),
        ..Options::default()
    });
    assert_eq!(stale(&outcome), [SPEC, COPY, SNAPSHOT], "{report}");
    let vendored = scratch.read(SPEC);
    assert_eq!(
        vendored,
        original.replace("\"version\": \"1.0.0\"", "\"version\": \"1.0.1\"")
    );
    // The version only reaches the client's `api-version` header, not the types or operations.
    assert!(
        report.contains("example-raw: public API unchanged"),
        "{report}"
    );
    assert!(scratch.check().0.is_clean());
}

#[test]
fn from_needs_a_known_spec_name() {
    let scratch = Scratch::fixture();
    let download = scratch.path("spec.json");
    std::fs::write(&download, "{}").expect("writes");
    let mut out = Vec::new();
    let error = run(
        scratch.dir.path(),
        &Options {
            from: Some(download),
            ..Options::default()
        },
        &mut out,
    )
    .expect_err("`spec.json` names no spec");
    assert!(
        error
            .to_string()
            .contains("say which one it replaces with --spec"),
        "{error}"
    );
}

#[test]
fn stale_package_files_and_unformatted_specs_are_reported_and_fixed() {
    let scratch = Scratch::fixture();
    let leftover = "crates/example-raw/openapi/patches/example/99-removed.json";
    scratch.write(leftover, "{}");
    let minified = serde_json::to_string(
        &serde_json::from_str::<serde_json::Value>(&scratch.read(SPEC)).expect("JSON"),
    )
    .expect("JSON");
    scratch.write(SPEC, &minified);

    let (outcome, report) = scratch.check();
    assert_eq!(stale(&outcome), [SPEC, COPY, leftover], "{report}");

    let (outcome, _) = scratch.regen(Options::default());
    assert_eq!(stale(&outcome), [SPEC, leftover]);
    assert!(!scratch.path(leftover).exists());
    assert!(
        scratch
            .read(SPEC)
            .starts_with("{\n  \"openapi\": \"3.0.0\"")
    );
    assert!(scratch.check().0.is_clean());
}

#[test]
fn a_patch_that_no_longer_applies_fails_regen_naming_it() {
    let scratch = Scratch::fixture();
    let spec = scratch.read(SPEC);
    let mut value: serde_json::Value = serde_json::from_str(&spec).expect("JSON");
    value["components"]["schemas"]["ApiResponse"]["properties"]["code"]
        .as_object_mut()
        .expect("code")
        .remove("enum");
    scratch.write(
        SPEC,
        &apikley_codegen::normalize_json(&value.to_string()).expect("JSON"),
    );
    let mut out = Vec::new();
    let error = run(scratch.dir.path(), &Options::default(), &mut out).expect_err("stale patch");
    assert!(
        error.to_string().contains("01-open-response-code.json"),
        "{error}"
    );
}

/// The README's list of models, between its markers.
fn listed(readme: &str) -> &str {
    let start = readme
        .find(xtask::catalogue::BEGIN)
        .expect("the list's first marker");
    let end = readme.find(xtask::catalogue::END).expect("its last marker");
    &readme[start..end]
}

#[test]
fn the_readme_lists_every_registered_model_and_the_check_catches_drift() {
    let scratch = Scratch::workspace();
    let readme = scratch.read("README.md");
    let list = listed(&readme);
    // The runtime's registry, read by the SDK itself: every id once, and only those.
    let ids: Vec<&str> = list
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|word| !word.starts_with("cargo"))
        .collect();
    let mut registered: Vec<&str> = apikley_models::all().iter().map(|m| m.id()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    registered.sort_unstable();
    assert_eq!(sorted, registered, "{list}");
    for spec in apikley_models::all() {
        let row = list
            .lines()
            .find(|line| line.contains(&format!("`{}`", spec.id())))
            .expect("a row");
        let family = spec.family().expect("titled");
        assert!(
            row.starts_with(&format!("| {family} | {} |", spec.kind().as_str())),
            "{row}"
        );
    }
    // The reconstructed specs are marked, and only they.
    for (spec, marked) in [
        ("wan/2-6-text-to-video", true),
        ("nano-banana-pro", true),
        ("bytedance/seedance-1.5-pro", false),
    ] {
        assert_eq!(
            list.contains(&format!("`{spec}` †")),
            marked,
            "{spec}: {list}"
        );
    }

    // A row lost by hand: the check fails with it in the diff, regen puts it back.
    let row = list
        .lines()
        .find(|line| line.starts_with("| Wan |"))
        .expect("the Wan row");
    scratch.write("README.md", &readme.replace(&format!("{row}\n"), ""));
    let (outcome, report) = scratch.check();
    assert_eq!(stale(&outcome), ["README.md"], "{report}");
    assert!(diff_line(&report, '+', row), "{report}");
    scratch.regen(Options::default());
    assert_eq!(scratch.read("README.md"), readme);

    // A README without the markers: regen refuses, saying what to add.
    scratch.write("README.md", &readme.replace(xtask::catalogue::END, ""));
    let error = run(
        scratch.path("").as_path(),
        &Options::default(),
        &mut Vec::new(),
    )
    .expect_err("refused");
    assert!(
        error.to_string().contains("has no list of models"),
        "{error}"
    );
}
