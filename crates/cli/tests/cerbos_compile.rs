//! `lictor cerbos compile`: a store that compiles and passes its suites exits 0; a broken store or a failing
//! test exits 1 and names the file, line and column at fault.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn compile(dir: &Path, extra: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_lictor"))
        .args(["cerbos", "compile"])
        .arg(dir)
        .args(extra)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code().unwrap(), text)
}

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

const POLICY: &str = "apiVersion: api.cerbos.dev/v1
resourcePolicy:
  version: default
  resource: album
  rules:
    - actions: [view]
      effect: EFFECT_ALLOW
      roles: [user]
      condition:
        match:
          expr: R.attr.owner == P.id
";

const SUITE: &str = "name: AlbumSuite
principals:
  alice: {id: alice, roles: [user]}
resources:
  mine: {kind: album, id: a1, attr: {owner: alice}}
  theirs: {kind: album, id: a2, attr: {owner: bob}}
tests:
  - name: owner views
    input: {principals: [alice], resources: [mine, theirs], actions: [view]}
    expected:
      - {principal: alice, resource: mine, actions: {view: EFFECT_ALLOW}}
";

#[test]
fn a_good_store_passes_its_suites_and_a_wrong_expectation_fails() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "album.yaml", POLICY);
    write(dir.path(), "tests/album_test.yaml", SUITE);
    let (code, text) = compile(dir.path(), &[]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("owner views"), "{text}");
    assert!(text.contains("2 passed, 0 failed"), "{text}");

    // Expecting ALLOW where the condition is false is a failing test, named in the table.
    write(
        dir.path(),
        "tests/album_test.yaml",
        &SUITE.replace("resource: mine, actions", "resource: theirs, actions"),
    );
    let (code, text) = compile(dir.path(), &[]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("FAILED"), "{text}");
}

#[test]
fn a_broken_store_names_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "album.yaml",
        &POLICY.replace("R.attr.owner == P.id", "R.attr.owner == (P.id"),
    );
    let (code, text) = compile(dir.path(), &["--skip-tests"]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("album.yaml:11:"), "{text}");
}

#[test]
fn cerbos_own_test_store_passes() {
    let corpus = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/conformance/cerbos/policies");
    if !corpus.is_dir() {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "Cerbos corpus missing under CI"
        );
        eprintln!("Cerbos corpus not found at {}: skipped", corpus.display());
        return;
    }
    let (code, text) = compile(&corpus, &[]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains(" 0 failed"), "{text}");
}
