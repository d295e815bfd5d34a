//! The `lictor` binary end to end, in child processes on a temporary data directory.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const MANIFEST: &str = r#"model:
  version: 3
types:
  user: {}
  group:
    relations:
      member: user | group#member
  folder:
    relations:
      owner: user
    permissions:
      can_read: owner
  document:
    relations:
      parent: folder
      viewer: user | group#member
    permissions:
      can_read: viewer | parent->can_read
"#;

const DATA: &str = r#"{"object":{"type":"user","id":"beth","display_name":"Beth","properties":{"email":"beth@x"}}}
{"object":{"type":"user","id":"rick","display_name":"Rick","properties":{}}}
{"relation":{"object_type":"group","object_id":"eng","relation":"member","subject_type":"user","subject_id":"beth","subject_relation":""}}
{"relation":{"object_type":"document","object_id":"readme","relation":"viewer","subject_type":"group","subject_id":"eng","subject_relation":"member"}}
{"relation":{"object_type":"folder","object_id":"home","relation":"owner","subject_type":"user","subject_id":"rick","subject_relation":""}}
{"relation":{"object_type":"document","object_id":"notes","relation":"parent","subject_type":"folder","subject_id":"home","subject_relation":""}}
"#;

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let fixture = Fixture {
            dir: tempfile::tempdir().unwrap(),
        };
        let manifest = fixture.write("manifest.yaml", MANIFEST);
        fixture.ok(&["model", "set", manifest.to_str().unwrap()]);
        let data = fixture.write("data.jsonl", DATA);
        fixture.ok(&["import", data.to_str().unwrap()]);
        fixture
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn write(&self, name: &str, content: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    fn run(&self, args: &[&str]) -> Output {
        run_in(&self.data_dir(), args)
    }

    fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    fn fails(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert_eq!(output.status.code(), Some(2), "{args:?} should fail");
        String::from_utf8(output.stderr).unwrap()
    }
}

fn run_in(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lictor"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn check_prints_and_exits_with_the_decision() {
    let f = Fixture::new();
    let allowed = f.run(&["check", "user:beth", "can_read", "document:readme"]);
    assert_eq!(allowed.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&allowed.stdout), "allowed\n");
    let denied = f.run(&["check", "user:rick", "can_read", "document:readme"]);
    assert_eq!(denied.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&denied.stdout), "denied\n");
    let arrow = f.run(&["check", "user:rick", "can_read", "document:notes"]);
    assert_eq!(arrow.status.code(), Some(0));
    let set = f.run(&["check", "group:eng#member", "can_read", "document:readme"]);
    assert_eq!(set.status.code(), Some(0));
    let error = f.fails(&["check", "user:beth", "can_fly", "document:readme"]);
    assert!(
        error.contains("type `document` has no relation or permission `can_fly`"),
        "{error}"
    );
    let error = f.fails(&["check", "beth", "can_read", "document:readme"]);
    assert!(
        error.contains("`beth` is not of the form type:id"),
        "{error}"
    );
}

#[test]
fn check_explain_shows_the_path() {
    let f = Fixture::new();
    let out = f.ok(&[
        "check",
        "user:beth",
        "can_read",
        "document:readme",
        "--explain",
    ]);
    assert!(out.starts_with("allowed\n"), "{out}");
    assert!(out.contains("✓ group:eng#member (relation)"), "{out}");
    assert!(out.contains("✓ tuple with subject user:beth"), "{out}");
    let json = f.ok(&[
        "check",
        "user:beth",
        "can_read",
        "document:readme",
        "--explain",
        "--json",
    ]);
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["allowed"], true);
    assert_eq!(value["trace"]["node"], "document:readme#can_read");
}

#[test]
fn check_denies_a_permission_excluded_through_itself() {
    let f = Fixture {
        dir: tempfile::tempdir().unwrap(),
    };
    let manifest = f.write(
        "manifest.yaml",
        r#"model:
  version: 3
types:
  user: {}
  document:
    relations:
      viewer_direct: user
      restricted: user | document#viewer
    permissions:
      viewer: viewer_direct - restricted
"#,
    );
    f.ok(&["model", "set", manifest.to_str().unwrap()]);
    let data = f.write(
        "data.jsonl",
        r#"{"relation":{"object_type":"document","object_id":"1","relation":"viewer_direct","subject_type":"user","subject_id":"anne","subject_relation":""}}
{"relation":{"object_type":"document","object_id":"1","relation":"restricted","subject_type":"document","subject_id":"1","subject_relation":"viewer"}}
"#,
    );
    f.ok(&["import", data.to_str().unwrap()]);
    let denied = f.run(&["check", "user:anne", "viewer", "document:1"]);
    assert_eq!(denied.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&denied.stdout), "denied\n");
    let explained = f.run(&["check", "user:anne", "viewer", "document:1", "--explain"]);
    assert_eq!(explained.status.code(), Some(1));
    let out = String::from_utf8(explained.stdout).unwrap();
    assert!(
        out.starts_with("denied\n? document:1#viewer (permission)\n"),
        "{out}"
    );
    assert!(
        out.contains(
            "? denied: document:1#restricted depends on document:1#viewer, which is being decided"
        ),
        "{out}"
    );
}

#[test]
fn lookups_list_objects_and_subjects() {
    let f = Fixture::new();
    assert_eq!(
        f.ok(&["lookup-objects", "user:beth", "can_read", "document"]),
        "document:readme\n"
    );
    assert_eq!(
        f.ok(&["lookup-objects", "user:rick", "can_read", "document"]),
        "document:notes\n"
    );
    assert_eq!(
        f.ok(&["lookup-subjects", "document:readme", "can_read", "user"]),
        "user:beth\n"
    );
    assert_eq!(
        f.ok(&[
            "lookup-subjects",
            "document:readme",
            "can_read",
            "group#member"
        ]),
        "group:eng#member\n"
    );
}

#[test]
fn export_round_trips_exactly() {
    let f = Fixture::new();
    let exported = f.ok(&["export"]);
    assert_eq!(exported.lines().count(), 6);
    let copy = tempfile::tempdir().unwrap();
    let file = f.write("export.jsonl", &exported);
    let manifest = f.dir.path().join("manifest.yaml");
    assert!(
        run_in(copy.path(), &["model", "set", manifest.to_str().unwrap()])
            .status
            .success()
    );
    assert!(run_in(copy.path(), &["import", file.to_str().unwrap()])
        .status
        .success());
    let again = run_in(copy.path(), &["export"]);
    assert_eq!(String::from_utf8(again.stdout).unwrap(), exported);
    for line in exported.lines() {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(
            value.get("object").is_some() ^ value.get("relation").is_some(),
            "{line}"
        );
    }
    assert!(
        exported.contains(r#""properties":{"email":"beth@x"}"#),
        "{exported}"
    );
}

#[test]
fn a_bad_line_names_its_number_and_imports_nothing() {
    let f = Fixture::new();
    let before = f.ok(&["export"]);
    let bad = f.write(
        "bad.jsonl",
        concat!(
            r#"{"relation":{"object_type":"group","object_id":"ops","relation":"member","subject_type":"user","subject_id":"new","subject_relation":""}}"#,
            "\n",
            r#"{"relation":{"object_type":"group","object_id":"ops","relation":"member","subject_type":"folder","subject_id":"home","subject_relation":""}}"#,
            "\n"
        ),
    );
    let error = f.fails(&["import", bad.to_str().unwrap()]);
    assert!(error.contains("line 2"), "{error}");
    assert!(error.contains("does not admit subject `folder`"), "{error}");
    assert!(error.contains("nothing was imported"), "{error}");
    assert_eq!(
        f.ok(&["export"]),
        before,
        "a rejected import changes nothing"
    );
    let broken = f.write(
        "broken.jsonl",
        "{\"object\":{\"type\":\"user\",\"id\":\"x\"}}\n{not json\n",
    );
    let error = f.fails(&["import", broken.to_str().unwrap()]);
    assert!(error.contains("line 2"), "{error}");
    assert_eq!(f.ok(&["export"]), before);
}

#[test]
fn imports_topaz_json_files() {
    let f = Fixture::new();
    let topaz = f.write(
        "extra_relations.json",
        r#"{
  "relations": [
    {
      "object_type": "group",
      "object_id": "eng",
      "relation": "member",
      "subject_type": "user",
      "subject_id": "rick"
    }
  ]
}"#,
    );
    let out = f.ok(&["import", topaz.to_str().unwrap()]);
    assert!(out.contains("imported 0 objects and 1 relations"), "{out}");
    assert_eq!(
        f.run(&["check", "user:rick", "can_read", "document:readme"])
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn manifest_errors_name_file_line_and_column() {
    let f = Fixture::new();
    let bad = f.write(
        "bad.yaml",
        "model:\n  version: 3\ntypes:\n  user: {}\n  doc:\n    relations:\n      viewer: usr\n",
    );
    let error = f.fails(&["model", "set", bad.to_str().unwrap()]);
    assert!(error.contains("bad.yaml:7:"), "{error}");
    assert!(error.contains("`usr`"), "{error}");
    assert_eq!(f.ok(&["model", "get"]), MANIFEST);
}

#[test]
fn manifest_changes_that_strand_data_are_refused() {
    let f = Fixture::new();
    let narrower = MANIFEST.replace("viewer: user | group#member", "viewer: user");
    let file = f.write("narrower.yaml", &narrower);
    let error = f.fails(&["model", "set", file.to_str().unwrap()]);
    assert!(error.contains("1 stored record"), "{error}");
    assert!(
        error.contains("document:readme#viewer@group:eng#member"),
        "{error}"
    );
    assert_eq!(f.ok(&["model", "get"]), MANIFEST, "the old manifest stays");
    let wider = MANIFEST.replace("owner: user\n", "owner: user | group#member\n");
    let file = f.write("wider.yaml", &wider);
    f.ok(&["model", "set", file.to_str().unwrap()]);
    assert_eq!(f.ok(&["model", "get"]), wider);
}

#[test]
fn objects_and_relations_can_be_written_one_by_one() {
    let f = Fixture::new();
    let out = f.ok(&[
        "object",
        "set",
        "user:morty",
        "--display-name",
        "Morty",
        "--properties",
        r#"{"age":14}"#,
    ]);
    let etag = out.split_whitespace().nth(1).unwrap().to_string();
    let json = f.ok(&["object", "get", "user:morty"]);
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["display_name"], "Morty");
    assert_eq!(value["properties"]["age"], 14);
    assert_eq!(value["etag"], etag.as_str());
    let error = f.fails(&[
        "object",
        "set",
        "user:morty",
        "--display-name",
        "M",
        "--etag",
        "stale",
    ]);
    assert!(
        error.contains(&format!(
            "etag mismatch for object user:morty: expected `stale`, stored `{etag}`"
        )),
        "{error}"
    );
    f.ok(&[
        "object",
        "set",
        "user:morty",
        "--display-name",
        "M",
        "--etag",
        &etag,
    ]);

    f.ok(&["relation", "set", "group:eng", "member", "user:morty"]);
    assert_eq!(
        f.run(&["check", "user:morty", "can_read", "document:readme"])
            .status
            .code(),
        Some(0)
    );
    let error = f.fails(&[
        "relation",
        "set",
        "document:readme",
        "can_read",
        "user:morty",
    ]);
    assert!(error.contains("is a permission"), "{error}");
    f.ok(&["relation", "delete", "group:eng", "member", "user:morty"]);
    assert_eq!(
        f.run(&["check", "user:morty", "can_read", "document:readme"])
            .status
            .code(),
        Some(1)
    );

    f.ok(&["object", "delete", "user:beth", "--with-relations"]);
    let exported = f.ok(&["export"]);
    assert!(!exported.contains("\"beth\""), "{exported}");
}

#[test]
fn a_data_dir_in_use_is_reported() {
    let f = Fixture::new();
    let spawn_holder = || {
        Command::new(env!("CARGO_BIN_EXE_lictor"))
            .arg("--data-dir")
            .arg(f.data_dir())
            .args(["import", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    // An importer reading stdin holds the store open until its input ends.
    let mut holder = spawn_holder();
    let mut error = String::new();
    for _ in 0..100 {
        std::thread::sleep(std::time::Duration::from_millis(50));
        if holder.try_wait().unwrap().is_some() {
            // It lost the race for the lock to an earlier probe; start it again.
            holder = spawn_holder();
            continue;
        }
        let output = f.run(&["export"]);
        if output.status.code() == Some(2) {
            error = String::from_utf8(output.stderr).unwrap();
            break;
        }
    }
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert!(
        error.contains("is in use by another lictor process"),
        "{error}"
    );
}
