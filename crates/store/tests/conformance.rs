//! Topaz's own data sets and directory-check assertions, loaded through the store exactly as `lictor
//! import` loads them, must all pass unchanged.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use lictor_directory::CheckRequest;
use lictor_store::Store;
use support::Kind;

mod support;
use std::io::BufReader;
use std::path::{Path, PathBuf};

/// Topaz's conformance data beside the repository (`../shared/conformance/topaz`). When it is absent the
/// suite is skipped (`None`), saying so, except under CI (`CI=true`), where it is required.
fn conformance_root() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/topaz");
    if root.is_dir() {
        return Some(root);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "conformance data missing at {} (required under CI)",
        root.display()
    );
    eprintln!(
        "skipping the conformance suite every_topaz_data_set_loads_and_passes_its_assertions: no data at {}",
        root.display()
    );
    None
}

fn import(store: &Store, file: &Path) {
    let reader = BufReader::new(std::fs::File::open(file).unwrap());
    store
        .import(reader, |_| {})
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
}

fn files_ending(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    files.sort();
    files
}

/// Loads a data set the way Topaz's tests do: its manifest, the citadel users, then its own data.
fn load(kind: Kind, root: &Path, folder: &Path) -> (support::Backing, Store) {
    let (dir, store) = support::open(kind);
    let manifest = folder.join("manifest.yaml");
    store
        .set_manifest(
            &manifest.display().to_string(),
            &std::fs::read_to_string(&manifest).unwrap(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let citadel = root.join("citadel");
    let mut sources = vec![folder.to_path_buf()];
    if folder.file_name() != citadel.file_name() {
        sources.insert(0, citadel);
    }
    for source in sources {
        for file in files_ending(&source, "_objects.json") {
            import(&store, &file);
        }
        for file in files_ending(&source, "_relations.json") {
            import(&store, &file);
        }
    }
    (dir, store)
}

on_both_backends!(every_topaz_data_set_loads_and_passes_its_assertions);

fn every_topaz_data_set_loads_and_passes_its_assertions(kind: Kind) {
    let Some(root) = conformance_root() else {
        return;
    };
    let mut folders: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    folders.sort();
    let mut passed = 0;
    let mut failures = Vec::new();
    for folder in &folders {
        let (_dir, store) = load(kind, &root, folder);
        let snapshot = store.snapshot();
        assert!(snapshot.relation_count() > 0, "{}", folder.display());
        let mut assertion_files = files_ending(&folder.join("test"), "_assertions.json");
        assertion_files.extend(files_ending(folder, "assertions.json"));
        for file in assertion_files {
            let doc: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
            for (i, assertion) in doc["assertions"].as_array().unwrap().iter().enumerate() {
                let c = &assertion["check"];
                let field = |name: &str| c[name].as_str().unwrap_or("").to_string();
                let (ot, oi, rel, st, si) = (
                    field("object_type"),
                    field("object_id"),
                    field("relation"),
                    field("subject_type"),
                    field("subject_id"),
                );
                let expected = assertion["expected"].as_bool().unwrap();
                let got = snapshot.check(&CheckRequest {
                    object_type: &ot,
                    object_id: &oi,
                    relation: &rel,
                    subject_type: &st,
                    subject_id: &si,
                    subject_relation: "",
                });
                match got {
                    Ok(allowed) if allowed == expected => passed += 1,
                    other => failures.push(format!(
                        "{} #{i}: {st}:{si} {rel} {ot}:{oi}: expected {expected}, got {other:?}",
                        file.display()
                    )),
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(passed, 206, "Topaz directory assertions passed");
    println!("{passed} Topaz directory assertions passed");
}
