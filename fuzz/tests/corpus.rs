//! Replays every committed corpus input (`fuzz/corpus/<target>/`) through its target on the stable
//! toolchain, so that an input once found by fuzzing stays checked by the test command, and the
//! targets keep compiling against the crates they drive. Finding new inputs is cargo fuzz's job.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    entries.sort();
    assert!(!entries.is_empty(), "{} holds no input", dir.display());
    let mut failed = Vec::new();
    for path in &entries {
        let input = std::fs::read(path).unwrap();
        if catch_unwind(AssertUnwindSafe(|| run(&input))).is_err() {
            failed.push(path.display().to_string());
        }
    }
    assert!(failed.is_empty(), "{target} failed on {failed:#?}");
}

#[test]
fn manifest_corpus() {
    replay("manifest", lictor_fuzz::targets::manifest::run);
}

#[test]
fn import_corpus() {
    replay("import", lictor_fuzz::targets::import_records::run);
}

#[test]
fn rest_body_corpus() {
    replay("rest_body", lictor_fuzz::targets::rest_body::run);
}

#[test]
fn rego_input_corpus() {
    replay("rego_input", lictor_fuzz::targets::rego_input::run);
}

#[test]
fn jwt_corpus() {
    replay("jwt", lictor_fuzz::targets::jwt::run);
}

#[test]
fn cerbos_policy_corpus() {
    replay("cerbos_policy", lictor_fuzz::targets::cerbos_policy::run);
}

#[test]
fn cerbos_check_corpus() {
    replay("cerbos_check", lictor_fuzz::targets::cerbos_check::run);
}

/// The replay must be able to fail: an input a target refuses is reported with its file.
#[test]
fn a_failing_input_is_reported() {
    let outcome = catch_unwind(|| replay("jwt", |_| panic!("planted failure")));
    let message = outcome.unwrap_err();
    let message = message.downcast_ref::<String>().unwrap();
    assert!(message.contains("jwt failed on"), "{message}");
}
