//! Replays the Cerbos conformance corpus (decisions taken from Cerbos 0.51's own test data) in-process and
//! compares effects and, as `cerbos-diff.py --full` does, meta, outputs and validation errors.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::{config_for, corpus_dir};
use lictor_cerbos::api::CheckResourcesRequest;
use lictor_cerbos::{compile, read_store, CheckOptions, EngineConfig, PolicyStore};
use serde_json::{json, Value};

/// Canonical form of a result's details: empty values dropped, lists ordered (cerbos-diff.py's norm_detail).
fn normalise(detail: &Value, with_meta: bool) -> Value {
    let empty = json!({});
    let meta = detail
        .get("meta")
        .filter(|m| !m.is_null())
        .unwrap_or(&empty);
    let mut actions = serde_json::Map::new();
    if with_meta {
        for (action, m) in meta
            .get("actions")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let mut kept = serde_json::Map::new();
            for key in ["matchedPolicy", "matchedScope"] {
                if let Some(v) = m
                    .get(key)
                    .filter(|v| v.as_str().is_some_and(|s| !s.is_empty()))
                {
                    kept.insert(key.into(), v.clone());
                }
            }
            actions.insert(action.clone(), Value::Object(kept));
        }
    }
    let sorted = |v: Option<&Value>| -> Vec<String> {
        let mut items: Vec<String> = v
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(canonical)
            .collect();
        items.sort();
        items
    };
    let derived = if with_meta {
        sorted(meta.get("effectiveDerivedRoles"))
    } else {
        Vec::new()
    };
    json!({"actions": actions, "effectiveDerivedRoles": derived,
           "outputs": sorted(detail.get("outputs")), "validationErrors": sorted(detail.get("validationErrors"))})
}

fn canonical(v: &Value) -> String {
    // serde_json's map is ordered, so to_string is already key-sorted.
    v.to_string()
}

struct Tally {
    passed: usize,
    failed: Vec<String>,
}

fn replay(store: &PolicyStore, config: &EngineConfig, cases: &str, tally: &mut Tally) {
    for line in cases.lines().filter(|l| !l.trim().is_empty()) {
        let case: Value = serde_json::from_str(line).unwrap();
        let name = case["name"].as_str().unwrap();
        if case.get("wantStatus").is_some() {
            continue;
        }
        let request: CheckResourcesRequest =
            serde_json::from_value(case["request"].clone()).unwrap();
        let response = store.check_resources(config, &request, CheckOptions::now());
        let body = serde_json::to_value(&response).unwrap();
        for (index, actions) in case["want"].as_object().unwrap() {
            let i: usize = index.parse().unwrap();
            let entry = &body["results"][i];
            for (action, want) in actions.as_object().unwrap() {
                let got = &entry["actions"][action];
                if got == want {
                    tally.passed += 1;
                } else {
                    tally
                        .failed
                        .push(format!("{name} [{i}] {action}: want {want} got {got}"));
                }
            }
            if let Some(want_result) = case.get("wantResult").and_then(|w| w.get(index)) {
                let with_meta = want_result.get("meta").is_some();
                let (w, g) = (
                    normalise(want_result, with_meta),
                    normalise(entry, with_meta),
                );
                if w == g {
                    tally.passed += 1;
                } else {
                    tally
                        .failed
                        .push(format!("{name} [{i}] result: want {w} got {g}"));
                }
            }
        }
    }
}

#[test]
fn cerbos_conformance_corpus() {
    let Some(dir) = corpus_dir() else { return };
    let files = read_store(&dir.join("policies")).unwrap();
    let store = compile(&files).unwrap_or_else(|e| panic!("{e}"));
    let suites: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("suites.json")).unwrap()).unwrap();
    let mut tally = Tally {
        passed: 0,
        failed: Vec::new(),
    };
    for (file, flags) in suites.as_object().unwrap() {
        if file.starts_with('_') {
            continue;
        }
        let config = config_for(flags.as_array().unwrap());
        let cases = std::fs::read_to_string(dir.join(file)).unwrap();
        replay(&store, &config, &cases, &mut tally);
    }
    for failure in &tally.failed {
        println!("MISMATCH {failure}");
    }
    println!("{} passed, {} failed", tally.passed, tally.failed.len());
    assert!(
        tally.failed.is_empty(),
        "{} conformance checks failed",
        tally.failed.len()
    );
}

#[test]
fn store_test_suites_pass() {
    let Some(dir) = corpus_dir() else { return };
    let files = read_store(&dir.join("policies")).unwrap();
    let mut config = EngineConfig::default();
    config.globals.insert("environment".into(), json!("test"));
    let report = lictor_cerbos::run_test_suites(&files, &config);
    for outcome in report.outcomes.iter().filter(|o| !o.failures.is_empty()) {
        println!(
            "FAILED {} {} {}/{}: {:?}",
            outcome.file, outcome.test, outcome.principal, outcome.resource, outcome.failures
        );
    }
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let suites: std::collections::BTreeSet<&str> =
        report.outcomes.iter().map(|o| o.file.as_str()).collect();
    println!(
        "{} suites, {} passed, {} failed",
        suites.len(),
        report.passed(),
        report.failed()
    );
    assert_eq!(
        suites.len(),
        3,
        "the corpus has three test suites: {suites:?}"
    );
    assert_eq!(report.failed(), 0);
}
