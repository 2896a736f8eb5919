//! Scratch copies of what `regen` and `new-model` read and write, shared by their tests.

use std::path::Path;

/// Copies a folder and everything in it (nothing when it does not exist).
pub fn copy_tree(from: &Path, to: &Path) {
    if !from.exists() {
        return;
    }
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("dir reads") {
        let path = entry.expect("entry").path();
        let target = to.join(path.file_name().expect("name"));
        if path.is_dir() {
            copy_tree(&path, &target);
        } else {
            std::fs::copy(&path, &target).expect("copy");
        }
    }
}

/// Copies the real workspace's specs, README, crate manifests and their spec copies (the hand-written
/// crates and those under `crates/models/`) into `to`.
pub fn copy_specs_and_manifests(to: &Path) {
    let source = xtask::workspace_root();
    copy_tree(&source.join("openapi"), &to.join("openapi"));
    for file in ["Cargo.toml", "README.md"] {
        std::fs::copy(source.join(file), to.join(file)).expect("copy");
    }
    for folder in ["crates", apikley_codegen::MODELS_DIR] {
        for entry in std::fs::read_dir(source.join(folder)).expect("crates/") {
            let krate = entry.expect("entry").path();
            if !krate.join("Cargo.toml").is_file() {
                continue;
            }
            let target = to.join(folder).join(krate.file_name().expect("name"));
            std::fs::create_dir_all(&target).expect("mkdir");
            std::fs::copy(krate.join("Cargo.toml"), target.join("Cargo.toml")).expect("copy");
            copy_tree(&krate.join("openapi"), &target.join("openapi"));
        }
    }
}
