//! `lictor test`: the demo's own policy tests and every Topaz conformance file pass; wrong
//! expectations, failing Rego tests, broken policies and unreadable files fail it with exit 1,
//! named in the output and in the JUnit XML.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `lictor test` from the repository root; answers the exit code, stdout and the JUnit XML.
fn lictor_test(args: &[&str]) -> (i32, String, String) {
    let junit = tempfile::NamedTempFile::new().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_lictor"))
        .current_dir(repository())
        .arg("test")
        .args(args)
        .arg("--junit")
        .arg(junit.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let xml = std::fs::read_to_string(junit.path()).unwrap();
    (output.status.code().unwrap(), stdout, xml)
}

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `<testsuites tests=".." failures=".." errors=".." skipped="..">` as numbers.
fn totals(xml: &str) -> [usize; 4] {
    let head = xml
        .lines()
        .find(|line| line.starts_with("<testsuites "))
        .unwrap();
    ["tests", "failures", "errors", "skipped"].map(|name| {
        let from = head.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
        head[from..].split('"').next().unwrap().parse().unwrap()
    })
}

#[test]
fn the_demo_policy_tests_pass() {
    let (code, out, xml) = lictor_test(&["examples/demo"]);
    assert_eq!(code, 0, "{out}");
    // 8 Rego unit tests, 13 Topaz assertions, 6 Cerbos (principal, resource) pairs.
    assert_eq!(totals(&xml), [27, 0, 0, 0], "{out}");
    for suite in [
        "PASS  rego examples/demo  (8 passed",
        "PASS  topaz examples/demo/test/demo_assertions.json  (6 passed",
        "PASS  topaz examples/demo/test/demo_decisions.json  (4 passed",
        "PASS  topaz examples/demo/test/demo_evaluations.json  (3 passed",
        "PASS  cerbos examples/demo/cerbos  (6 passed",
    ] {
        assert!(out.contains(suite), "{suite}\n{out}");
    }
    assert!(
        out.contains("27 passed, 0 failed, 0 errors, 0 skipped"),
        "{out}"
    );
    assert!(xml.contains(
        "name=\"data.rebac.test.test_nested_group_members_are_members\" file=\"examples/demo/test/rebac_test.rego:"
    ), "{xml}");
}

#[test]
fn every_topaz_conformance_file_passes() {
    let root = repository().join("../shared/conformance/topaz");
    if !root.is_dir() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "conformance data missing at {} (required under CI)",
            root.display()
        );
        eprintln!("skipping: no conformance data at {}", root.display());
        return;
    }
    let (code, out, xml) = lictor_test(&[
        "../shared/conformance/topaz",
        "--policies",
        "examples/demo/policies",
        "--data",
        "../shared/conformance/topaz/citadel",
    ]);
    assert_eq!(code, 0, "{out}");
    // 206 directory checks, 206 decisions and 206 AuthZEN evaluations in 12 files.
    assert_eq!(totals(&xml), [618, 0, 0, 0], "{out}");
    assert_eq!(out.matches("PASS  topaz ").count(), 12, "{out}");
}

const MANIFEST: &str = "model:\n  version: 3\ntypes:\n  user: {}\n  doc:\n    relations:\n      owner: user\n    permissions:\n      can_edit: owner\n";

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn failures_and_errors_are_named_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    write(repo, "manifest.yaml", MANIFEST);
    write(
        repo,
        "doc_objects.json",
        r#"{"objects": [{"type": "user", "id": "ann"}, {"type": "doc", "id": "d1"}]}"#,
    );
    write(
        repo,
        "doc_relations.json",
        r#"{"relations": [{"object_type": "doc", "object_id": "d1", "relation": "owner", "subject_type": "user", "subject_id": "ann"}]}"#,
    );
    write(
        repo,
        "test/doc_assertions.json",
        r#"{"assertions": [
            {"check": {"object_type": "doc", "object_id": "d1", "relation": "can_edit", "subject_type": "user", "subject_id": "ann"}, "expected": true},
            {"check": {"object_type": "doc", "object_id": "d1", "relation": "can_edit", "subject_type": "user", "subject_id": "ann"}, "expected": false},
            {"check": {"object_type": "doc", "object_id": "d1", "relation": "nope", "subject_type": "user", "subject_id": "ann"}, "expected": true},
            {"wish": {}, "expected": true}
        ]}"#,
    );
    write(repo, "test/other_decisions.json", "{\"assertions\": 3}");
    write(
        repo,
        "policies/doc_test.rego",
        "package doc.test\nimport rego.v1\n\
         test_owner_edits if ds.check({\"object_type\": \"doc\", \"object_id\": \"d1\", \"relation\": \"can_edit\", \"subject_type\": \"user\", \"subject_id\": \"ann\"})\n\
         test_stranger_edits if {\n  print(\"checking\", \"bob\")\n  ds.check({\"object_type\": \"doc\", \"object_id\": \"d1\", \"relation\": \"can_edit\", \"subject_type\": \"user\", \"subject_id\": \"bob\"})\n}\n\
         todo_test_later if false\n",
    );
    let path = repo.to_str().unwrap();
    let (code, out, xml) = lictor_test(&[path]);
    assert_eq!(code, 1, "{out}");
    // Rego: 1 passed, 1 failed, 1 skipped. Assertions: 1 passed, 1 failed, 2 errors. The
    // decisions file that holds no list: 1 error.
    assert_eq!(totals(&xml), [8, 2, 3, 1], "{out}");
    let assertions = format!("{path}/test/doc_assertions.json");
    for expected in [
        format!("FAIL  topaz {assertions}  (1 passed, 1 failed, 2 errors, 0 skipped)"),
        format!("FAILED  #1 doc:d1#can_edit@user:ann is false  [{assertions}#1]"),
        "expected false, /api/v3/directory/check answered {\"check\":true".to_string(),
        "answered 400 Bad Request".to_string(),
        "the assertion holds none of check, check_relation".to_string(),
        format!("{path}/test/other_decisions.json: no `assertions` list"),
        "FAILED  data.doc.test.test_stranger_edits".to_string(),
        "print: ".to_string(),
        "checking bob".to_string(),
        "undefined".to_string(),
        "2 passed, 2 failed, 3 errors, 1 skipped".to_string(),
    ] {
        assert!(out.contains(&expected), "{expected}\n{out}");
    }
    assert!(xml.contains("<failure message=\"expected false"), "{xml}");
    assert!(xml.contains("<skipped/>"), "{xml}");

    // A policy that does not compile fails every test of its fixture, naming the file and line.
    write(repo, "policies/broken.rego", "package broken\nallow if {\n");
    let (code, out, xml) = lictor_test(&[path]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("broken.rego:"), "{out}");
    assert_eq!(totals(&xml), [1, 0, 1, 0], "{out}");
}

#[test]
fn nothing_to_run_is_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "README.md", "no tests here");
    let (code, out, xml) = lictor_test(&[dir.path().to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no test ran under"), "{out}");
    assert_eq!(totals(&xml), [0, 0, 0, 0]);
}

#[test]
fn topaz_files_run_against_a_running_lictor_with_its_api_key() {
    let key = "policy-tests-key-0123456789";
    let server = common::Server::start(
        &format!("api_keys:\n  - key: {key}\n    scopes: [read]\n"),
        true,
    );
    let address = server.url("authorizer-rest", "");
    let files = [
        "examples/demo/test/demo_assertions.json",
        "examples/demo/test/demo_decisions.json",
        "examples/demo/test/demo_evaluations.json",
    ];
    let mut args: Vec<&str> = files.to_vec();
    args.extend(["--address", &address, "--api-key", key]);
    let (code, out, xml) = lictor_test(&args);
    assert_eq!(code, 0, "{out}");
    assert_eq!(totals(&xml), [13, 0, 0, 0], "{out}");
    // Without the key every assertion is an error naming the refusal.
    let (code, out, xml) = lictor_test(&[files[0], "--address", &address]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(totals(&xml), [6, 0, 6, 0], "{out}");
    assert!(out.contains("401 Unauthorized"), "{out}");
}
