//! `lictor run` end to end: the real binary on ephemeral 127.0.0.1 ports, real HTTP clients.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

mod common;

use common::Server;

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

fn post(url: &str, body: Value) -> (u16, Value) {
    send(client().post(url).json(&body))
}

fn send(request: reqwest::blocking::RequestBuilder) -> (u16, Value) {
    let response = request.send().unwrap();
    let status = response.status().as_u16();
    let text = response.text().unwrap();
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

fn check_body(subject: &str, relation: &str, object_type: &str, object_id: &str) -> Value {
    json!({
        "object_type": object_type, "object_id": object_id, "relation": relation,
        "subject_type": "user", "subject_id": subject,
    })
}

#[test]
fn demo_checks_over_rest_plaintext_and_tls_on_one_port() {
    let server = Server::start("", true);
    let rick = check_body("rick@the-citadel.com", "member", "group", "admin");
    let (status, body) = post(&server.rest("/api/v3/directory/check"), rick.clone());
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["check"], true);
    let morty = check_body("morty@the-citadel.com", "member", "group", "admin");
    let (_, body) = post(&server.rest("/api/v3/directory/check"), morty);
    assert_eq!(body["check"], false);

    // The same port speaks TLS, with a certificate the generated CA signs for 127.0.0.1.
    let ca = std::fs::read(server.ca.as_ref().expect("a CA is announced")).unwrap();
    let tls = reqwest::blocking::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .build()
        .unwrap();
    let url = format!(
        "https://{}/api/v3/directory/check",
        server.ports["directory-rest"]
    );
    let (status, body) = send(tls.post(&url).json(&rick));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["check"], true);

    // Every API port serves the whole API.
    let (_, body) = post(
        &server.url("authorizer-rest", "/api/v3/directory/check"),
        rick,
    );
    assert_eq!(body["check"], true);
}

#[test]
fn bad_requests_name_the_field_and_change_nothing() {
    let server = Server::start("", true);
    let (status, body) = post(
        &server.rest("/api/v3/directory/check"),
        json!({"object_type": 7}),
    );
    assert_eq!(status, 400);
    assert_eq!(body["code"], 3);
    assert!(
        body["message"].as_str().unwrap().contains("object_type"),
        "{body}"
    );

    let (status, body) = post(
        &server.rest("/api/v3/directory/check"),
        json!({"object_type": "group", "object_id": "admin", "relation": "member", "subject_type": "user"}),
    );
    assert_eq!(status, 400);
    assert!(
        body["message"].as_str().unwrap().contains("subject_id"),
        "{body}"
    );

    let (status, body) = post(
        &server.rest("/api/v3/directory/check"),
        json!({"object_type": "planet", "object_id": "x", "relation": "member", "subject_type": "user", "subject_id": "a"}),
    );
    assert_eq!(status, 400);
    assert!(
        body["message"].as_str().unwrap().contains("planet"),
        "{body}"
    );

    // A body is one JSON value: anything after it but whitespace is refused.
    let (status, body) = send(
        client()
            .post(server.rest("/api/v3/directory/check"))
            .header("content-type", "application/json")
            .body(r#"{"object_type": "group"} {"object_id": "admin"}"#),
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], 3, "{body}");
    assert_eq!(
        body["message"], "request body: trailing characters at line 1 column 26",
        "{body}"
    );

    // A relation the manifest does not allow is refused, and nothing is written.
    let before = send(client().get(server.rest("/api/v3/directory/relations?object_type=group")));
    let (status, body) = post(
        &server.rest("/api/v3/directory/relation"),
        json!({"relation": {"object_type": "group", "object_id": "admin", "relation": "owner",
                             "subject_type": "user", "subject_id": "rick@the-citadel.com"}}),
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("owner"),
        "{body}"
    );
    let after = send(client().get(server.rest("/api/v3/directory/relations?object_type=group")));
    assert_eq!(before, after);

    // An oversize body is refused.
    let huge = "x".repeat(5 << 20);
    let (status, _) = send(
        client()
            .post(server.rest("/api/v3/directory/check"))
            .header("content-type", "application/json")
            .body(huge.clone()),
    );
    assert_eq!(status, 400);
    // Also for the raw manifest body, with the same JSON error and the manifest unchanged.
    let manifest_before = send(client().get(server.rest("/api/v3/directory/manifest")));
    let (status, body) = send(
        client()
            .post(server.rest("/api/v3/directory/manifest"))
            .body(huge),
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], 3, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("manifest body"),
        "{body}"
    );
    assert_eq!(
        manifest_before,
        send(client().get(server.rest("/api/v3/directory/manifest")))
    );
}

#[test]
fn objects_and_relations_round_trip_with_etags() {
    let server = Server::start("", true);
    let object = json!({"object": {"type": "user", "id": "squanchy@x.com", "display_name": "Squanchy",
                                   "properties": {"email": "squanchy@x.com"}}});
    let (status, body) = post(&server.rest("/api/v3/directory/object"), object);
    assert_eq!(status, 200, "{body}");
    let etag = body["result"]["etag"].as_str().unwrap().to_string();
    assert!(!etag.is_empty());

    let (status, body) =
        send(client().get(server.rest("/api/v3/directory/object/user/squanchy@x.com")));
    assert_eq!(status, 200);
    assert_eq!(body["result"]["display_name"], "Squanchy");
    assert_eq!(body["result"]["properties"]["email"], "squanchy@x.com");

    // A stale etag is refused; the stored object is unchanged.
    let stale = json!({"object": {"type": "user", "id": "squanchy@x.com", "display_name": "Other",
                                  "etag": "stale"}});
    let (status, body) = post(&server.rest("/api/v3/directory/object"), stale);
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], 9);
    let (_, body) = send(client().get(server.rest("/api/v3/directory/object/user/squanchy@x.com")));
    assert_eq!(body["result"]["display_name"], "Squanchy");

    // The current etag is accepted.
    let fresh = json!({"object": {"type": "user", "id": "squanchy@x.com", "display_name": "Squanchy II",
                                  "etag": etag}});
    let (status, _) = post(&server.rest("/api/v3/directory/object"), fresh);
    assert_eq!(status, 200);

    let relation = json!({"relation": {"object_type": "group", "object_id": "admin", "relation": "member",
                                       "subject_type": "user", "subject_id": "squanchy@x.com"}});
    let (status, _) = post(&server.rest("/api/v3/directory/relation"), relation);
    assert_eq!(status, 200);
    let (_, body) = post(
        &server.rest("/api/v3/directory/check"),
        check_body("squanchy@x.com", "member", "group", "admin"),
    );
    assert_eq!(body["check"], true);

    let (status, body) = send(client().get(server.rest(
        "/api/v3/directory/relations?subject_type=user&subject_id=squanchy@x.com&with_objects=true",
    )));
    assert_eq!(status, 200);
    assert_eq!(body["results"].as_array().unwrap().len(), 1);
    assert_eq!(body["objects"]["group:admin"]["id"], "admin");

    // Topaz's DeleteRelation: every field in the query string.
    let (status, body) = send(client().delete(server.rest(
        "/api/v3/directory/relation?object_type=group&object_id=admin&relation=member&subject_type=user&subject_id=squanchy@x.com",
    )));
    assert_eq!(status, 200, "{body}");
    let (_, body) = post(
        &server.rest("/api/v3/directory/check"),
        check_body("squanchy@x.com", "member", "group", "admin"),
    );
    assert_eq!(body["check"], false);

    let (status, _) =
        send(client().delete(server.rest("/api/v3/directory/object/user/squanchy@x.com")));
    assert_eq!(status, 200);
    let (status, body) =
        send(client().get(server.rest("/api/v3/directory/object/user/squanchy@x.com")));
    assert_eq!(status, 404);
    assert_eq!(body["code"], 5);
}

#[test]
fn objects_page_through_every_user_once() {
    let server = Server::start("", true);
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let (status, body) = send(client().get(server.rest(&format!(
            "/api/v3/directory/objects?object_type=user&page.size=2&page.token={token}"
        ))));
        assert_eq!(status, 200, "{body}");
        for object in body["results"].as_array().unwrap() {
            seen.push(object["id"].as_str().unwrap().to_string());
        }
        token = body["page"]["next_token"].as_str().unwrap().to_string();
        if token.is_empty() {
            break;
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(seen, sorted, "pages are sorted and never repeat");
    assert_eq!(seen.len(), 5, "{seen:?}");
}

#[test]
fn api_keys_confine_each_key_to_its_tenant_and_scopes() {
    let config = "tenants:
  - id: acme
  - id: globex
api_keys:
  - key: acme-writer-key-0123456789
    tenant: acme
    scopes: [read, write, admin]
  - key: globex-reader-key-0123456789
    tenant: globex
    scopes: [read]
";
    let server = Server::start(config, false);
    let manifest =
        "model:\n  version: 3\ntypes:\n  user: {}\n  group:\n    relations:\n      member: user\n";
    let acme = |r: reqwest::blocking::RequestBuilder| {
        r.header("authorization", "basic acme-writer-key-0123456789")
            .header("aserto-tenant-id", "acme")
    };
    let globex = |r: reqwest::blocking::RequestBuilder| {
        r.header("authorization", "Bearer globex-reader-key-0123456789")
    };
    let (status, body) =
        send(acme(client().post(server.rest("/api/v3/directory/manifest"))).body(manifest));
    assert_eq!(status, 200, "{body}");
    let relation = json!({"relation": {"object_type": "group", "object_id": "staff", "relation": "member",
                                       "subject_type": "user", "subject_id": "ann"}});
    let (status, body) =
        send(acme(client().post(server.rest("/api/v3/directory/relation"))).json(&relation));
    assert_eq!(status, 200, "{body}");
    let check = check_body("ann", "member", "group", "staff");
    let (status, body) =
        send(acme(client().post(server.rest("/api/v3/directory/check"))).json(&check));
    assert_eq!(status, 200);
    assert_eq!(body["check"], true);

    // No key, an unknown key: unauthenticated.
    let (status, body) = post(&server.rest("/api/v3/directory/check"), check.clone());
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["code"], 16);
    let (status, _) = send(
        client()
            .post(server.rest("/api/v3/directory/check"))
            .header("authorization", "basic not-a-key-at-all-000000")
            .json(&check),
    );
    assert_eq!(status, 401);

    // Globex's key cannot read or write Acme's directory, even naming Acme's tenant.
    let (status, _) = send(
        globex(client().post(server.rest("/api/v3/directory/check")))
            .header("aserto-tenant-id", "acme")
            .json(&check),
    );
    assert_eq!(status, 403);
    let (status, _) = send(
        globex(client().post(server.rest("/api/v3/directory/relation")))
            .header("aserto-tenant-id", "acme")
            .json(&relation),
    );
    assert_eq!(status, 403);
    // In its own tenant it reads an empty directory (no model), and may not write.
    let (status, body) = send(globex(
        client().get(server.rest("/api/v3/directory/objects")),
    ));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"], json!([]));
    let (status, body) =
        send(globex(client().post(server.rest("/api/v3/directory/relation"))).json(&relation));
    assert_eq!(status, 403, "{body}");
    let (status, _) = send(acme(
        client().get(server.rest("/api/v3/directory/manifest")),
    ));
    assert_eq!(status, 200);
}

#[test]
fn decisions_are_logged_queried_and_counted() {
    let config = "decision_logs:\n  file: DIR/decisions.jsonl\n";
    let dir = tempfile::tempdir().unwrap();
    let config = config.replace("DIR", &dir.path().display().to_string());
    let server = Server::start(&config, true);
    for subject in ["rick@the-citadel.com", "morty@the-citadel.com"] {
        let (status, _) = post(
            &server.rest("/api/v3/directory/check"),
            check_body(subject, "member", "group", "admin"),
        );
        assert_eq!(status, 200);
    }
    // The writer is asynchronous: wait for the records.
    let mut denied = Value::Null;
    for _ in 0..50 {
        let (_, body) = send(client().get(server.rest("/api/v3/lictor/decisions?outcome=false")));
        if body["results"].as_array().is_some_and(|r| !r.is_empty()) {
            denied = body;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let results = denied["results"]
        .as_array()
        .expect("denied decisions listed");
    assert_eq!(results.len(), 1, "{denied}");
    assert_eq!(results[0]["user"], "user:morty@the-citadel.com");
    assert_eq!(results[0]["path"], "group#member");
    assert!(results[0]["latency_us"].is_u64());

    let log = std::fs::read_to_string(dir.path().join("decisions.jsonl")).unwrap();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{log}");
    assert_eq!(lines[0]["decisions"][0]["is"], true);

    let metrics = client()
        .get(server.url("metrics", "/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains(r#"lictor_decisions_total{kind="check",outcome="denied"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains("lictor_decision_log_written 2"),
        "{metrics}"
    );
    let (status, body) = send(client().get(server.url("health", "/healthz")));
    assert_eq!(status, 200);
    assert_eq!(body["status"], "SERVING");
}

#[test]
fn sigterm_stops_the_server_cleanly() {
    let mut server = Server::start("", false);
    let pid = server.child.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    let exit = server.child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    assert!(Path::new(&server.dir).join("data").exists());
}

#[test]
fn refuses_to_serve_open_on_a_public_address() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("lictor.yaml");
    std::fs::write(&config, "listen:\n  address: 0.0.0.0\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_lictor"))
        .args(["run", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not loopback"), "{stderr}");
    assert!(stderr.contains("lictor.yaml"), "{stderr}");
}

/// Runs the offline CLI on a data directory; fails the test on a non-zero exit.
fn lictor(data: &Path, args: &[&str]) {
    let output = Command::new(env!("CARGO_BIN_EXE_lictor"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "lictor {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Topaz's sample folders, each with its assertion files (in the folder or its `test/`).
fn conformance_folders() -> Vec<(PathBuf, Vec<PathBuf>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/topaz");
    let mut folders = Vec::new();
    for entry in std::fs::read_dir(&root).expect("../shared/conformance/topaz is present") {
        let folder = entry.unwrap().path();
        let mut files = Vec::new();
        for dir in [folder.clone(), folder.join("test")] {
            if let Ok(entries) = std::fs::read_dir(&dir) {
                for file in entries {
                    let file = file.unwrap().path();
                    let name = file.file_name().unwrap().to_string_lossy().to_string();
                    if name.ends_with("assertions.json")
                        || name.ends_with("evaluations.json")
                        || name.ends_with("decisions.json")
                    {
                        files.push(file);
                    }
                }
            }
        }
        if !files.is_empty() {
            files.sort();
            folders.push((folder, files));
        }
    }
    folders.sort();
    folders
}

/// Loads a sample folder the way Topaz's tests do: its manifest, the citadel users and identities,
/// then its own objects and relations.
fn load_folder(folder: &Path, data: &Path) {
    lictor(
        data,
        &[
            "model",
            "set",
            folder.join("manifest.yaml").to_str().unwrap(),
        ],
    );
    let citadel = folder.parent().unwrap().join("citadel");
    let mut files: Vec<PathBuf> = [citadel.as_path(), folder]
        .iter()
        .flat_map(|dir| std::fs::read_dir(dir).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.ends_with("_objects.json") || name.ends_with("_relations.json")
        })
        .collect();
    files.sort();
    files.dedup();
    // Objects first, then relations.
    files.sort_by_key(|p| p.to_string_lossy().ends_with("_relations.json"));
    for file in files {
        lictor(data, &["import", file.to_str().unwrap()]);
    }
}

#[test]
fn topaz_assertions_decisions_and_authzen_evaluations_pass_over_rest() {
    let folders = conformance_folders();
    assert!(folders.len() >= 4, "{folders:?}");
    let policies = format!("policies:\n  dir: {}\n", demo_policies().display());
    let mut counted = 0;
    let mut decisions = 0;
    for (folder, files) in folders {
        let server = Server::start_prepared(&policies, false, |data| load_folder(&folder, data));
        for file in files {
            let name = file.file_name().unwrap().to_string_lossy().to_string();
            let text = std::fs::read_to_string(&file).unwrap();
            let assertions: Value = serde_json::from_str(&text).unwrap();
            let assertions = assertions["assertions"].as_array().unwrap();
            if name.ends_with("assertions.json") {
                for (i, a) in assertions.iter().enumerate() {
                    let (status, body) =
                        post(&server.rest("/api/v3/directory/check"), a["check"].clone());
                    assert_eq!(status, 200, "{name}[{i}]: {body}");
                    assert_eq!(body["check"], a["expected"], "{name}[{i}]: {}", a["check"]);
                    counted += 1;
                }
            } else if name.ends_with("decisions.json") {
                let url = server.url("authorizer-rest", "/api/v2/authz/is");
                for (i, a) in assertions.iter().enumerate() {
                    let (status, body) = post(&url, a["check_decision"].clone());
                    assert_eq!(status, 200, "{name}[{i}]: {body}");
                    assert_eq!(
                        body["decisions"][0]["is"], a["expected"],
                        "{name}[{i}]: {}",
                        a["check_decision"]
                    );
                    assert_eq!(body["decisions"][0]["decision"], "allowed");
                    decisions += 1;
                }
            } else if name.ends_with("evaluations.json") {
                let url = server.url("authorizer-rest", "/access/v1/evaluation");
                let mut batch = Vec::new();
                for (i, a) in assertions.iter().enumerate() {
                    let (status, body) = post(&url, a["evaluation"].clone());
                    assert_eq!(status, 200, "{name}[{i}]: {body}");
                    assert_eq!(
                        body["decision"], a["expected"],
                        "{name}[{i}]: {}",
                        a["evaluation"]
                    );
                    batch.push(a["evaluation"].clone());
                    counted += 1;
                }
                // The same evaluations in one batch answer the same, in order.
                let (status, body) = post(
                    &server.url("authorizer-rest", "/access/v1/evaluations"),
                    json!({ "evaluations": batch }),
                );
                assert_eq!(status, 200, "{body}");
                let answers = body["evaluations"].as_array().unwrap();
                assert_eq!(answers.len(), assertions.len());
                for (a, answer) in assertions.iter().zip(answers) {
                    assert_eq!(
                        answer["decision"], a["expected"],
                        "{name} batch: {}",
                        a["evaluation"]
                    );
                }
            }
        }
    }
    assert!(counted > 400, "only {counted} cases ran");
    assert!(decisions > 100, "only {decisions} decisions ran");
}

/// The demo's policies in the repository.
fn demo_policies() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/demo/policies")
}

#[test]
fn authzen_batch_semantics_and_defaults() {
    let server = Server::start("", true);
    let url = server.url("authorizer-rest", "/access/v1/evaluations");
    let body = json!({
        "subject": {"type": "user", "id": "morty@the-citadel.com"},
        "action": {"name": "member"},
        "evaluations": [
            {"resource": {"type": "group", "id": "editor"}},
            {"resource": {"type": "group", "id": "admin"}},
            {"resource": {"type": "group", "id": "viewer"}}
        ]
    });
    let (status, all) = post(&url, body.clone());
    assert_eq!(status, 200, "{all}");
    let decisions: Vec<bool> = all["evaluations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["decision"].as_bool().unwrap())
        .collect();
    assert_eq!(decisions.len(), 3);
    let first_deny = decisions
        .iter()
        .position(|d| !d)
        .expect("morty is not an admin");
    let mut with_semantic = body;
    with_semantic["options"] = json!({"evaluations_semantic": "deny_on_first_deny"});
    let (_, stopped) = post(&url, with_semantic);
    assert_eq!(
        stopped["evaluations"].as_array().unwrap().len(),
        first_deny + 1
    );

    let (status, body) = post(
        &server.url("authorizer-rest", "/access/v1/evaluation"),
        json!({"subject": {"type": "user"}, "action": {"name": "member"}, "resource": {"type": "group", "id": "admin"}}),
    );
    assert_eq!(status, 400);
    assert!(
        body["message"].as_str().unwrap().contains("subject.id"),
        "{body}"
    );

    let (status, body) = post(
        &server.url("authorizer-rest", "/access/v1/search/resource"),
        json!({"subject": {"type": "user", "id": "rick@the-citadel.com"}, "action": {"name": "member"}, "resource": {"type": "group"}}),
    );
    assert_eq!(status, 200, "{body}");
    let ids: Vec<&str> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"admin"), "{body}");
}

#[test]
fn topaz_rest_extras_manifest_etag_deprecated_checks_and_openapi() {
    let server = Server::start("", true);
    // The manifest carries an etag; asking again with it answers 304, and HEAD gives headers only.
    let response = client()
        .get(server.rest("/api/v3/directory/manifest"))
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let etag = response.headers()["etag"].to_str().unwrap().to_string();
    assert!(response.text().unwrap().contains("resource-creator"));
    let response = client()
        .get(server.rest("/api/v3/directory/manifest"))
        .header("if-none-match", &etag)
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 304);
    let response = client()
        .head(server.rest("/api/v3/directory/manifest"))
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["etag"].to_str().unwrap(), etag);

    // The deprecated check paths still answer.
    let (status, body) = post(
        &server.rest("/api/v3/directory/check/permission"),
        json!({"object_type": "group", "object_id": "admin", "permission": "member",
               "subject_type": "user", "subject_id": "rick@the-citadel.com"}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["check"], true);
    let (_, body) = post(
        &server.rest("/api/v3/directory/check/relation"),
        check_body("beth@the-smiths.com", "member", "group", "admin"),
    );
    assert_eq!(body["check"], false);

    // GetObjectMany over the gateway's default route.
    let (status, body) = post(
        &server.rest("/aserto.directory.reader.v3.Reader/GetObjectMany"),
        json!({"param": [{"object_type": "group", "object_id": "admin"},
                         {"object_type": "user", "object_id": "rick@the-citadel.com"}]}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"].as_array().unwrap().len(), 2);

    // The OpenAPI document names every Topaz path.
    let (status, body) = send(client().get(server.rest("/openapi.json")));
    assert_eq!(status, 200);
    assert_eq!(body["openapi"], "3.0.3");
    for path in [
        "/api/v2/authz/is",
        "/api/v3/directory/check",
        "/access/v1/evaluation",
    ] {
        assert!(body["paths"].get(path).is_some(), "{path} is documented");
    }
}

#[test]
fn demo_todo_policies_answer_is_and_decision_tree_over_rest() {
    let server = Server::start("", true);
    let (status, body) = post(
        &server.rest("/api/v3/directory/relation"),
        json!({"relation": {"object_type": "resource", "object_id": "todo-1", "relation": "owner",
                            "subject_type": "user", "subject_id": "morty@the-citadel.com"}}),
    );
    assert_eq!(status, 200, "{body}");
    let is = |who: &str, path: &str, id: &str| {
        let (status, body) = post(
            &server.url("authorizer-rest", "/api/v2/authz/is"),
            json!({
                "identity_context": {"type": "IDENTITY_TYPE_SUB", "identity": who},
                "policy_context": {"path": path, "decisions": ["allowed"]},
                "resource_context": {"object_id": id},
            }),
        );
        assert_eq!(status, 200, "{body}");
        body["decisions"][0]["is"].as_bool().unwrap()
    };
    let (rick, morty, beth) = (
        "rick@the-citadel.com",
        "morty@the-citadel.com",
        "beth@the-smiths.com",
    );
    assert!(is(beth, "todoApp.GET.todos", ""));
    assert!(is(rick, "todoApp.POST.todos", ""));
    assert!(!is(beth, "todoApp.POST.todos", ""));
    assert!(is(morty, "todoApp.PUT.todos.__id", "todo-1"));
    assert!(!is(beth, "todoApp.PUT.todos.__id", "todo-1"));
    assert!(is(morty, "todoApp.DELETE.todos.__id", "todo-1"));
    assert!(!is(rick, "todoApp.DELETE.todos.__id", "todo-1"));

    // An identity of no user is refused with a stable reason, and the request id comes back.
    let response = client()
        .post(server.url("authorizer-rest", "/api/v2/authz/is"))
        .header("x-request-id", "req-42")
        .json(&json!({
            "identity_context": {"type": "IDENTITY_TYPE_SUB", "identity": "nobody@nowhere"},
            "policy_context": {"path": "todoApp.GET.todos", "decisions": ["allowed"]},
        }))
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
    assert_eq!(response.headers()["x-request-id"], "req-42");
    let body: Value = response.json().unwrap();
    assert_eq!(body["details"][0]["reason"], "IDENTITY_NOT_FOUND", "{body}");

    // Anonymous callers may not even list.
    let (status, body) = post(
        &server.url("authorizer-rest", "/api/v2/authz/is"),
        json!({
            "identity_context": {"type": "IDENTITY_TYPE_NONE"},
            "policy_context": {"path": "todoApp.GET.todos", "decisions": ["allowed"]},
        }),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["decisions"][0]["is"], false);

    let (status, body) = post(
        &server.url("authorizer-rest", "/api/v2/authz/decisiontree"),
        json!({
            "identity_context": {"type": "IDENTITY_TYPE_SUB", "identity": rick},
            "policy_context": {"path": "todoApp", "decisions": ["allowed", "visible", "enabled"]},
            "options": {"path_separator": "PATH_SEPARATOR_SLASH"},
        }),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["path_root"], "todoApp");
    let tree = &body["path"];
    assert_eq!(tree["todoApp/POST/todos"]["allowed"], true, "{body}");
    assert_eq!(tree["todoApp/GET/todos"]["enabled"], true, "{body}");
    assert_eq!(tree["todoApp/PUT/todos/__id"]["allowed"], false, "{body}");
}

#[test]
fn changed_policies_reload_and_a_broken_one_keeps_the_previous() {
    let policies = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(demo_policies()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, policies.path().join(path.file_name().unwrap())).unwrap();
    }
    let config = format!(
        "policies:\n  dir: {}\n  reload_seconds: 1\n",
        policies.path().display()
    );
    let server = Server::start(&config, true);
    let list = |who: &str| {
        let (status, body) = post(
            &server.url("authorizer-rest", "/api/v2/authz/is"),
            json!({
                "identity_context": {"type": "IDENTITY_TYPE_SUB", "identity": who},
                "policy_context": {"path": "todoApp.GET.todos", "decisions": ["allowed"]},
            }),
        );
        assert_eq!(status, 200, "{body}");
        body["decisions"][0]["is"].as_bool().unwrap()
    };
    let wait_for = |want: bool| {
        for _ in 0..100 {
            if list("beth@the-smiths.com") == want {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the policy never answered {want}");
    };
    assert!(list("beth@the-smiths.com"));

    // Only the admin may list now.
    let file = policies.path().join("todoApp.GET.todos.rego");
    std::fs::write(
        &file,
        "package todoApp.GET.todos\n\nimport data.todoApp.common.user_can\n\ndefault allowed := false\n\nallowed if user_can(\"member\", \"group\", \"admin\")\n",
    )
    .unwrap();
    wait_for(false);
    assert!(list("rick@the-citadel.com"));

    // A broken file is refused; the previous policies keep answering.
    std::fs::write(&file, "package todoApp.GET.todos\n\nallowed if {\n").unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    assert!(!list("beth@the-smiths.com"));
    assert!(list("rick@the-citadel.com"));

    // Fixed again: picked up.
    std::fs::write(
        &file,
        "package todoApp.GET.todos\n\ndefault allowed := true\n",
    )
    .unwrap();
    wait_for(true);
}

#[test]
fn compile_answers_residual_filters_over_rest() {
    let policies = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(demo_policies()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, policies.path().join(path.file_name().unwrap())).unwrap();
    }
    std::fs::write(
        policies.path().join("todoApp.filters.rego"),
        "package todoApp.filters\nimport rego.v1\n\ndefault list := false\n\n\
         list if input.resource.owner_id == input.user.id\n\n\
         list if {\n  input.resource.shared == true\n  input.resource.status != \"draft\"\n}\n",
    )
    .unwrap();
    let config = format!("policies:\n  dir: {}\n", policies.path().display());
    let server = Server::start(&config, true);
    let compile = |body: Value| {
        post(
            &server.url("authorizer-rest", "/api/v2/authz/compile"),
            body,
        )
    };
    let (status, body) = compile(json!({
        "query": "data.todoApp.filters.list",
        "unknowns": ["input.resource"],
        "identity_context": {"type": "IDENTITY_TYPE_SUB", "identity": "rick@the-citadel.com"},
    }));
    assert_eq!(status, 200, "{body}");
    let queries = body["result"]["queries"].as_array().unwrap();
    assert_eq!(queries.len(), 2, "{body}");
    let owner = &queries[0][0]["terms"];
    assert_eq!(owner[0]["value"][0]["value"], "equal", "{body}");
    assert_eq!(owner[1]["value"][2]["value"], "owner_id", "{body}");
    assert!(
        owner[2]["value"].as_str().unwrap().contains("rick"),
        "{body}"
    );
    assert_eq!(
        queries[1][1]["terms"][0]["value"][0]["value"], "neq",
        "{body}"
    );

    // Known input decides it: an explicit input with no unknown answers a plain true.
    let (status, body) = compile(json!({
        "query": "data.todoApp.GET.todos.allowed",
        "unknowns": ["input.resource"],
        "identity_context": {"type": "IDENTITY_TYPE_SUB", "identity": "rick@the-citadel.com"},
    }));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"], json!({"queries": [[]]}));

    // What partial evaluation cannot express is refused, naming the file and line.
    let (status, body) = compile(json!({
        "query": "data.todoApp.DELETE.todos.__id.allowed",
        "unknowns": ["input.resource"],
        "identity_context": {"type": "IDENTITY_TYPE_SUB", "identity": "rick@the-citadel.com"},
    }));
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("todoApp.DELETE.todos.__id.rego:"),
        "{body}"
    );
    let (status, body) = compile(json!({"query": "", "unknowns": ["input.resource"]}));
    assert_eq!(status, 400, "{body}");
}
