//! `lictor load json`: users, identities and groups kept in step with an identity provider's export,
//! run after run, without touching what the application wrote.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const MANIFEST: &str = "model:
  version: 3
types:
  identity: {}
  user:
    relations:
      identifier: identity
  group:
    relations:
      member: user
  doc:
    relations:
      owner: user
";

fn lictor(data: &Path, args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_lictor"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn ok(data: &Path, args: &[&str]) -> String {
    let (success, text) = lictor(data, args);
    assert!(success, "lictor {args:?}: {text}");
    text
}

/// An export as an identity provider's loader writes it: users with an identity each, and groups.
fn export(users: &[(&str, &str)], groups: &[(&str, &[&str])]) -> Value {
    let mut objects = Vec::new();
    let mut relations = Vec::new();
    for (id, name) in users {
        objects.push(json!({"type": "user", "id": id, "display_name": name,
            "properties": {"email": format!("{id}@example.com")}}));
        objects.push(json!({"type": "identity", "id": format!("{id}@example.com")}));
        relations.push(
            json!({"object_type": "user", "object_id": id, "relation": "identifier",
            "subject_type": "identity", "subject_id": format!("{id}@example.com")}),
        );
    }
    for (group, members) in groups {
        objects.push(json!({"type": "group", "id": group}));
        for member in *members {
            relations.push(
                json!({"object_type": "group", "object_id": group, "relation": "member",
                "subject_type": "user", "subject_id": member}),
            );
        }
    }
    json!({"objects": objects, "relations": relations})
}

fn exported(data: &Path) -> Vec<String> {
    ok(data, &["export"])
        .lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line).unwrap();
            let record = value
                .get("object")
                .or(value.get("relation"))
                .unwrap_or(&value);
            match record.get("relation") {
                Some(relation) => format!(
                    "{}:{}#{}@{}:{}",
                    record["object_type"].as_str().unwrap(),
                    record["object_id"].as_str().unwrap(),
                    relation.as_str().unwrap(),
                    record["subject_type"].as_str().unwrap(),
                    record["subject_id"].as_str().unwrap()
                ),
                None => format!(
                    "{}:{} {}",
                    record["type"].as_str().unwrap(),
                    record["id"].as_str().unwrap(),
                    record["display_name"].as_str().unwrap_or("")
                ),
            }
        })
        .collect()
}

#[test]
fn a_source_is_kept_in_step_and_application_records_are_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let manifest = dir.path().join("manifest.yaml");
    std::fs::write(&manifest, MANIFEST).unwrap();
    ok(&data, &["model", "set", manifest.to_str().unwrap()]);
    let file = dir.path().join("export.json");
    let write_export = |value: &Value| std::fs::write(&file, value.to_string()).unwrap();
    let load = |extra: &[&str]| {
        let mut args = vec!["load", "json", file.to_str().unwrap(), "--source", "okta"];
        args.extend_from_slice(extra);
        ok(&data, &args)
    };

    // First load: two users in one group.
    write_export(&export(
        &[("rick", "Rick"), ("morty", "Morty")],
        &[("admins", &["rick", "morty"])],
    ));
    let report = load(&[]);
    assert!(
        report
            .contains("objects: 5 created, 0 updated, 0 removed; relations: 4 created, 0 removed"),
        "{report}"
    );
    // The application writes beside it, naming synced users.
    ok(&data, &["object", "set", "doc:plans"]);
    ok(
        &data,
        &["relation", "set", "doc:plans", "owner", "user:morty"],
    );
    ok(
        &data,
        &["relation", "set", "doc:plans", "owner", "user:rick"],
    );

    // The source changes: morty leaves, rick is renamed and leaves the group, beth arrives.
    write_export(&export(
        &[("rick", "Rick Sanchez"), ("beth", "Beth")],
        &[("admins", &["beth"])],
    ));
    let before = exported(&data);
    let dry = load(&["--dry-run"]);
    assert!(dry.contains("+ object user:beth"), "{dry}");
    assert!(dry.contains("~ object user:rick"), "{dry}");
    assert!(dry.contains("- object user:morty"), "{dry}");
    assert!(dry.contains("- object identity:morty@example.com"), "{dry}");
    assert!(
        dry.contains("- relation group:admins#member@user:rick"),
        "{dry}"
    );
    assert!(
        !dry.contains("doc:plans"),
        "application records are not the source's: {dry}"
    );
    assert!(dry.contains("would change objects: 2 created, 1 updated, 2 removed; relations: 2 created, 3 removed"), "{dry}");
    assert_eq!(exported(&data), before, "a dry run changes nothing");

    let report = load(&[]);
    assert!(
        report
            .contains("objects: 2 created, 1 updated, 2 removed; relations: 2 created, 3 removed"),
        "{report}"
    );
    let now = exported(&data);
    for present in [
        "user:rick Rick Sanchez",
        "user:beth Beth",
        "group:admins#member@user:beth",
        "doc:plans#owner@user:rick",
        "doc:plans#owner@user:morty",
        "doc:plans ",
    ] {
        assert!(
            now.iter().any(|line| line.starts_with(present)),
            "{present} in {now:#?}"
        );
    }
    for gone in [
        "user:morty",
        "identity:morty@example.com",
        "user:morty#identifier@identity:morty@example.com",
        "group:admins#member@user:rick",
        "group:admins#member@user:morty",
    ] {
        assert!(
            !now.iter().any(|line| line.starts_with(gone)),
            "{gone} in {now:#?}"
        );
    }

    // Unchanged: nothing to do, no new revision.
    let report = load(&[]);
    assert!(
        report
            .contains("objects: 0 created, 0 updated, 0 removed; relations: 0 created, 0 removed"),
        "{report}"
    );
    assert!(!report.contains("revision"), "{report}");

    // A record the manifest refuses fails the whole run, changing nothing.
    let mut bad = export(
        &[("rick", "Rick Sanchez"), ("beth", "Beth")],
        &[("admins", &["beth"])],
    );
    bad["relations"].as_array_mut().unwrap().push(
        json!({"object_type": "group", "object_id": "admins", "relation": "owner",
            "subject_type": "user", "subject_id": "beth"}),
    );
    bad["objects"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user", "id": "summer"}));
    write_export(&bad);
    let before = exported(&data);
    let (success, text) = lictor(
        &data,
        &["load", "json", file.to_str().unwrap(), "--source", "okta"],
    );
    assert!(!success, "{text}");
    assert!(text.contains("owner"), "{text}");
    assert_eq!(exported(&data), before);
    // The source still owns what it owned: the next good run removes nothing it should not.
    write_export(&export(
        &[("rick", "Rick Sanchez"), ("beth", "Beth")],
        &[("admins", &["beth"])],
    ));
    let report = load(&[]);
    assert!(
        report.contains("0 created, 0 updated, 0 removed"),
        "{report}"
    );
}

#[test]
fn a_scheduled_source_is_synced_by_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("okta.json");
    std::fs::write(
        &file,
        export(&[("rick", "Rick")], &[("admins", &["rick"])]).to_string(),
    )
    .unwrap();
    let manifest = dir.path().join("manifest.yaml");
    std::fs::write(&manifest, MANIFEST).unwrap();
    let server = common::Server::start_prepared(
        &format!(
            "sync:\n  - source: okta\n    json: {}\n    every_seconds: 1\n",
            file.display()
        ),
        false,
        |data| {
            ok(data, &["model", "set", manifest.to_str().unwrap()]);
        },
    );
    let client = reqwest::blocking::Client::new();
    let member = |user: &str| -> bool {
        let answer: Value = client
            .post(server.rest("/api/v3/directory/check"))
            .json(
                &json!({"object_type": "group", "object_id": "admins", "relation": "member",
                "subject_type": "user", "subject_id": user}),
            )
            .send()
            .unwrap()
            .json()
            .unwrap();
        answer["check"] == json!(true)
    };
    let eventually = |what: &str, condition: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !condition() {
            assert!(Instant::now() < deadline, "never: {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    eventually("the first run at start", &|| member("rick"));
    std::fs::write(
        &file,
        export(&[("beth", "Beth")], &[("admins", &["beth"])]).to_string(),
    )
    .unwrap();
    eventually("the next scheduled run", &|| {
        member("beth") && !member("rick")
    });
}
