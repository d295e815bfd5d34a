//! Topaz's own authorizer decisions (`*decisions.json`), run through the generic ReBAC policy of the
//! demo (`rebac.check`) with inputs built as Topaz's authorizer builds them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{demo_policies, load_data, with_manifest};
use lictor_policy::{resolve_user, EvalContext};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
        "skipping the conformance suite every_topaz_decision_passes_through_rebac_check: no data at {}",
        root.display()
    );
    None
}

fn decision_files(folder: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in [folder.to_path_buf(), folder.join("test")] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.to_string_lossy().ends_with("decisions.json") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

#[test]
fn every_topaz_decision_passes_through_rebac_check() {
    let Some(root) = conformance_root() else {
        return;
    };
    let policies = demo_policies();
    let mut folders: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    folders.sort();
    let mut passed = 0;
    let mut failures = Vec::new();
    for folder in folders {
        let files = decision_files(&folder);
        if files.is_empty() {
            continue;
        }
        let mut directory = with_manifest(&folder.join("manifest.yaml"));
        let citadel = root.join("citadel");
        let sources = if folder == citadel {
            vec![folder.clone()]
        } else {
            vec![citadel, folder.clone()]
        };
        load_data(&mut directory, &sources);
        let directory = Arc::new(directory);
        for file in files {
            let doc: Value =
                serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
            for (i, assertion) in doc["assertions"].as_array().unwrap().iter().enumerate() {
                let request = &assertion["check_decision"];
                let expected = assertion["expected"].as_bool().unwrap();
                let identity = &request["identity_context"];
                let path = request["policy_context"]["path"].as_str().unwrap();
                let decisions: Vec<String> = request["policy_context"]["decisions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d.as_str().unwrap().to_string())
                    .collect();
                let mut input = json!({
                    "identity": identity,
                    "policy": request["policy_context"],
                    "resource": request["resource_context"],
                });
                if identity["type"] == json!("IDENTITY_TYPE_SUB") {
                    let user = resolve_user(&directory, identity["identity"].as_str().unwrap())
                        .unwrap()
                        .unwrap_or_else(|| panic!("{} #{i}: identity not found", file.display()));
                    input["user"] = user;
                }
                let ctx = EvalContext::new(Arc::clone(&directory), input);
                match policies.is(&ctx, path, &decisions) {
                    Ok(answer) if answer.iter().all(|(_, is)| *is == expected) => passed += 1,
                    other => failures.push(format!(
                        "{} #{i}: {}: expected {expected}, got {other:?}",
                        file.display(),
                        request["resource_context"]
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
    assert_eq!(passed, 206, "Topaz decisions passed");
    println!("{passed} Topaz decisions passed");
}
