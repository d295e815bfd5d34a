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

use common::{camel_case_keys, Server};

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
    assert_eq!((status, &body["code"]), (400, &json!(3)), "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("subject_id"),
        "{body}"
    );

    let (status, body) = post(
        &server.rest("/api/v3/directory/check"),
        json!({"object_type": "planet", "object_id": "x", "relation": "member", "subject_type": "user", "subject_id": "a"}),
    );
    assert_eq!((status, &body["code"]), (400, &json!(3)), "{body}");
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
    assert_eq!((status, &body["code"]), (400, &json!(3)), "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("owner"),
        "{body}"
    );
    let after = send(client().get(server.rest("/api/v3/directory/relations?object_type=group")));
    assert_eq!(before, after);

    // An oversize body is refused as RESOURCE_EXHAUSTED, with HTTP's 413.
    let huge = "x".repeat(5 << 20);
    let (status, body) = send(
        client()
            .post(server.rest("/api/v3/directory/check"))
            .header("content-type", "application/json")
            .body(huge.clone()),
    );
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["code"], 8, "{body}");
    // Also for the raw manifest body, with the same JSON error and the manifest unchanged.
    let manifest_before = send(client().get(server.rest("/api/v3/directory/manifest")));
    let (status, body) = send(
        client()
            .post(server.rest("/api/v3/directory/manifest"))
            .body(huge),
    );
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["code"], 8, "{body}");
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
    let (status, body) = post(&server.rest("/api/v3/directory/object"), fresh);
    assert_eq!(status, 200, "{body}");
    let etag = body["result"]["etag"].as_str().unwrap().to_string();

    // An edit of the properties alone makes a new etag, and the one before it stale.
    let edit = |properties: Value, etag: &str| {
        post(
            &server.rest("/api/v3/directory/object"),
            json!({"object": {"type": "user", "id": "squanchy@x.com", "display_name": "Squanchy II",
                              "properties": properties, "etag": etag}}),
        )
    };
    let (status, body) = edit(json!({"email": "squanchy@y.com"}), &etag);
    assert_eq!(status, 200, "{body}");
    let edited = body["result"]["etag"].as_str().unwrap().to_string();
    assert_ne!(edited, etag, "the properties changed, the etag must too");
    let (status, body) = edit(json!({"email": "squanchy@z.com"}), &etag);
    assert_eq!((status, &body["code"]), (400, &json!(9)), "{body}");
    let (_, body) = send(client().get(server.rest("/api/v3/directory/object/user/squanchy@x.com")));
    assert_eq!(
        body["result"]["properties"],
        json!({"email": "squanchy@y.com"})
    );
    assert_eq!(body["result"]["etag"], edited.as_str());
    // Writing the same content again keeps the etag.
    let (status, body) = edit(json!({"email": "squanchy@y.com"}), &edited);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["etag"], edited.as_str());

    let relation = json!({"relation": {"object_type": "group", "object_id": "admin", "relation": "member",
                                       "subject_type": "user", "subject_id": "squanchy@x.com"}});
    let (status, body) = post(&server.rest("/api/v3/directory/relation"), relation.clone());
    assert_eq!(status, 200, "{body}");
    // A relation's etag: the one read is the one written, a stale one is refused, and writing it again
    // with its etag is accepted and keeps it.
    let relation_etag = body["result"]["etag"].as_str().unwrap().to_string();
    assert!(!relation_etag.is_empty());
    let (status, body) = send(client().get(server.rest(
        "/api/v3/directory/relation?object_type=group&object_id=admin&relation=member&subject_type=user&subject_id=squanchy@x.com",
    )));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["etag"], relation_etag.as_str(), "{body}");
    let with_etag = |etag: &str| {
        let mut body = relation.clone();
        body["relation"]["etag"] = json!(etag);
        post(&server.rest("/api/v3/directory/relation"), body)
    };
    let (status, body) = with_etag("stale");
    assert_eq!((status, &body["code"]), (400, &json!(9)), "{body}");
    let (status, body) = with_etag(&relation_etag);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["etag"], relation_etag.as_str());
    // Another relation has another etag: the etag names the relation, not just its kind.
    let other = json!({"relation": {"object_type": "group", "object_id": "admin", "relation": "member",
                                    "subject_type": "user", "subject_id": "squanchy@y.com"}});
    let (status, body) = post(&server.rest("/api/v3/directory/relation"), other);
    assert_eq!(status, 200, "{body}");
    assert_ne!(body["result"]["etag"], relation_etag.as_str());
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
    // The five citadel users and the six people of the AuthZEN search scenario.
    assert_eq!(seen.len(), 11, "{seen:?}");
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
    let (status, body) = send(
        client()
            .post(server.rest("/api/v3/directory/check"))
            .header("authorization", "basic not-a-key-at-all-000000")
            .json(&check),
    );
    assert_eq!((status, &body["code"]), (401, &json!(16)), "{body}");

    // Globex's key cannot read or write Acme's directory, even naming Acme's tenant.
    let (status, body) = send(
        globex(client().post(server.rest("/api/v3/directory/check")))
            .header("aserto-tenant-id", "acme")
            .json(&check),
    );
    assert_eq!((status, &body["code"]), (403, &json!(7)), "{body}");
    let (status, body) = send(
        globex(client().post(server.rest("/api/v3/directory/relation")))
            .header("aserto-tenant-id", "acme")
            .json(&relation),
    );
    assert_eq!((status, &body["code"]), (403, &json!(7)), "{body}");
    // In its own tenant it reads an empty directory (no model), and may not write.
    let (status, body) = send(globex(
        client().get(server.rest("/api/v3/directory/objects")),
    ));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"], json!([]));
    let (status, body) =
        send(globex(client().post(server.rest("/api/v3/directory/relation"))).json(&relation));
    assert_eq!((status, &body["code"]), (403, &json!(7)), "{body}");
    // Nor import: an import is a write, whichever path it takes.
    let (status, body) = send(
        globex(client().post(server.rest("/api/v3/lictor/import")))
            .body(r#"{"object_type":"user","object_id":"eve"}"#),
    );
    assert_eq!((status, &body["code"]), (403, &json!(7)), "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("write scope"),
        "{body}"
    );
    let (status, body) = send(globex(
        client().get(server.rest("/api/v3/directory/objects")),
    ));
    assert_eq!(body["results"], json!([]), "{status} {body}");
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

/// Runs the offline CLI on a data directory and answers its standard output; fails the test on a
/// non-zero exit.
fn lictor(data: &Path, args: &[&str]) -> String {
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
    String::from_utf8(output.stdout).unwrap()
}

/// Topaz's conformance data beside the repository (`../shared/conformance/topaz`). When it is absent
/// `suite` is skipped (`None`), saying so, except under CI (`CI=true`), where it is required.
fn conformance_root(suite: &str) -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/topaz");
    if !root.is_dir() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "conformance data missing at {} (required under CI)",
            root.display()
        );
        eprintln!(
            "skipping the conformance suite {suite}: no data at {}",
            root.display()
        );
        return None;
    }
    Some(root)
}

/// Topaz's sample folders, each with its assertion files (in the folder or its `test/`), for `suite`.
fn conformance_folders(suite: &str) -> Option<Vec<(PathBuf, Vec<PathBuf>)>> {
    let root = conformance_root(suite)?;
    let mut folders = Vec::new();
    for entry in std::fs::read_dir(&root).unwrap() {
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
    Some(folders)
}

/// How a test spells the field names of Topaz's protojson files and bodies.
#[derive(Clone, Copy, PartialEq)]
enum Spelling {
    /// As Topaz's files have them: proto names (`object_type`).
    Proto,
    /// protojson's JSON names (`objectType`), which Topaz reads alike.
    Camel,
}

impl Spelling {
    fn apply(self, value: &Value) -> Value {
        match self {
            Spelling::Proto => value.clone(),
            Spelling::Camel => camel_case_keys(value),
        }
    }
}

/// Loads a sample folder the way Topaz's tests do: its manifest, the citadel users and identities,
/// then its own objects and relations, each data file spelled as asked.
fn load_folder(folder: &Path, data: &Path, spelling: Spelling) {
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
    let respelled = tempfile::tempdir().unwrap();
    for file in files {
        let file = match spelling {
            Spelling::Proto => file,
            Spelling::Camel => {
                let text = std::fs::read_to_string(&file).unwrap();
                let camel = camel_case_keys(&serde_json::from_str(&text).unwrap());
                let copy = respelled.path().join(file.file_name().unwrap());
                std::fs::write(&copy, serde_json::to_string_pretty(&camel).unwrap()).unwrap();
                copy
            }
        };
        lictor(data, &["import", file.to_str().unwrap()]);
    }
}

#[test]
fn every_topaz_data_file_imports_the_same_in_camel_case() {
    let Some(root) = conformance_root("every_topaz_data_file_imports_the_same_in_camel_case")
    else {
        return;
    };
    let mut folders: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    folders.sort();
    assert_eq!(folders.len(), 7, "{folders:?}");
    for folder in folders {
        let dir = tempfile::tempdir().unwrap();
        let [proto, camel] =
            [(Spelling::Proto, "proto"), (Spelling::Camel, "camel")].map(|(spelling, name)| {
                let data = dir.path().join(name);
                load_folder(&folder, &data, spelling);
                lictor(&data, &["export"])
            });
        assert!(proto.lines().count() > 10, "{}: {proto}", folder.display());
        assert!(proto == camel, "{}: the exports differ", folder.display());
    }
}

#[test]
fn topaz_assertions_decisions_and_authzen_evaluations_pass_over_rest() {
    let Some((checks, decisions)) = topaz_conformance_over_rest(
        "topaz_assertions_decisions_and_authzen_evaluations_pass_over_rest",
        Spelling::Proto,
    ) else {
        return;
    };
    assert_eq!((checks, decisions), (412, 206));
}

#[test]
fn topaz_data_assertions_and_decisions_pass_in_camel_case_over_rest() {
    let Some((checks, decisions)) = topaz_conformance_over_rest(
        "topaz_data_assertions_and_decisions_pass_in_camel_case_over_rest",
        Spelling::Camel,
    ) else {
        return;
    };
    assert_eq!((checks, decisions), (206, 206));
}

/// Loads every sample folder in `spelling`, and runs its assertions (directory Check) and decisions
/// (Is) spelled so, and its AuthZEN evaluations (not protojson: spelled as given only). Answers how
/// many checks and evaluations, and how many decisions ran; nothing when the suites are absent.
fn topaz_conformance_over_rest(suite: &str, spelling: Spelling) -> Option<(usize, usize)> {
    let folders = conformance_folders(suite)?;
    assert_eq!(folders.len(), 4, "{folders:?}");
    let policies = format!("policies:\n  dir: {}\n", demo_policies().display());
    let mut counted = 0;
    let mut decisions = 0;
    for (folder, files) in folders {
        let server = Server::start_prepared(&policies, false, |data| {
            load_folder(&folder, data, spelling)
        });
        for file in files {
            let name = file.file_name().unwrap().to_string_lossy().to_string();
            let text = std::fs::read_to_string(&file).unwrap();
            let assertions: Value = serde_json::from_str(&text).unwrap();
            let assertions = assertions["assertions"].as_array().unwrap();
            if name.ends_with("assertions.json") {
                for (i, a) in assertions.iter().enumerate() {
                    let check = spelling.apply(&a["check"]);
                    let (status, body) = post(&server.rest("/api/v3/directory/check"), check);
                    assert_eq!(status, 200, "{name}[{i}]: {body}");
                    assert_eq!(body["check"], a["expected"], "{name}[{i}]: {}", a["check"]);
                    counted += 1;
                }
            } else if name.ends_with("decisions.json") {
                let url = server.url("authorizer-rest", "/api/v2/authz/is");
                for (i, a) in assertions.iter().enumerate() {
                    let (status, body) = post(&url, spelling.apply(&a["check_decision"]));
                    assert_eq!(status, 200, "{name}[{i}]: {body}");
                    assert_eq!(
                        body["decisions"][0]["is"], a["expected"],
                        "{name}[{i}]: {}",
                        a["check_decision"]
                    );
                    assert_eq!(body["decisions"][0]["decision"], "allowed");
                    decisions += 1;
                }
            } else if name.ends_with("evaluations.json") && spelling == Spelling::Proto {
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
    Some((counted, decisions))
}

/// A directory in the shape of Topaz's api-auth template whose data files spell every field in
/// lowerCamelCase.
fn camel_case_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/camel-case")
}

#[test]
fn camel_case_data_imports_and_camel_case_bodies_write_and_check_over_rest() {
    let fixture = camel_case_fixture();
    let policies = format!("policies:\n  dir: {}\n", demo_policies().display());
    let server = Server::start_prepared(&policies, false, |data| {
        lictor(
            data,
            &[
                "model",
                "set",
                fixture.join("manifest.yaml").to_str().unwrap(),
            ],
        );
        for file in ["api_objects.json", "api_relations.json"] {
            lictor(data, &["import", fixture.join(file).to_str().unwrap()]);
        }
    });
    let invoke = |user: &str, endpoint: &str| {
        json!({
            "objectType": "endpoint", "objectId": endpoint, "relation": "can_invoke",
            "subjectType": "user", "subjectId": user,
        })
    };
    let get = "pets:GET:/pets/{petId}";
    let create = "pets:POST:/pets";
    let expected = [
        ("alice", get, true),
        ("alice", create, false),
        ("bob", get, true),
        ("bob", create, true),
        ("carol", get, false),
        ("carol", create, false),
    ];
    for (user, endpoint, allowed) in expected {
        let (status, body) = post(
            &server.rest("/api/v3/directory/check"),
            invoke(user, endpoint),
        );
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["check"], allowed, "{user} {endpoint}");
    }

    // An imported object answers in proto field names, its free-form properties as written.
    let (status, body) =
        send(client().get(server.rest("/api/v3/directory/object/endpoint/pets:POST:%2Fpets")));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["display_name"], "POST /pets");
    assert_eq!(body["result"]["properties"]["serviceID"], "pets");
    assert_eq!(
        body["result"]["properties"]["canonicalName"],
        "pets:POST:/pets"
    );
    assert!(body["result"].get("displayName").is_none(), "{body}");

    // Checks: the default and the items in camelCase.
    let (status, body) = post(
        &server.rest("/api/v3/directory/checks"),
        json!({
            "default": {"objectType": "endpoint", "relation": "can_invoke", "subjectType": "user"},
            "checks": [
                {"objectId": create, "subjectId": "bob"},
                {"objectId": create, "subjectId": "alice"},
            ],
        }),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["checks"][0]["check"], true, "{body}");
    assert_eq!(body["checks"][1]["check"], false, "{body}");

    // Writes in camelCase: an object with its display name, a relation to a subject set.
    let (status, body) = post(
        &server.rest("/api/v3/directory/object"),
        json!({"object": {"type": "user", "id": "dave", "displayName": "Dave Dunn", "properties": {"employeeID": "e-4"}}}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["display_name"], "Dave Dunn");
    assert_eq!(body["result"]["properties"], json!({"employeeID": "e-4"}));
    let (status, body) = post(
        &server.rest("/api/v3/directory/relation"),
        json!({"relation": {"objectType": "group", "objectId": "pets-writers", "relation": "member",
                            "subjectType": "user", "subjectId": "dave"}}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["object_id"], "pets-writers");
    assert_eq!(body["result"]["subject_id"], "dave");
    assert_eq!(body["result"]["subject_relation"], "");
    let (_, body) = post(
        &server.rest("/api/v3/directory/check/relation"),
        json!({"objectType": "group", "objectId": "pets-readers", "relation": "member",
               "subjectType": "user", "subjectId": "dave"}),
    );
    assert_eq!(body["check"], true, "{body}");
    let (_, body) = post(
        &server.rest("/api/v3/directory/check/permission"),
        json!({"objectType": "endpoint", "objectId": create, "permission": "can_invoke",
               "subjectType": "user", "subjectId": "dave"}),
    );
    assert_eq!(body["check"], true, "{body}");

    // Query parameters take the JSON names too, as Topaz's gateway does.
    let (status, body) = send(client().get(server.rest(
        "/api/v3/directory/relations?objectType=group&objectId=pets-writers&subjectType=user&withObjects=true",
    )));
    assert_eq!(status, 200, "{body}");
    let members: Vec<&str> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["subject_id"].as_str().unwrap())
        .collect();
    assert_eq!(members, ["bob", "dave"]);
    assert_eq!(
        body["objects"]["user:dave"]["display_name"], "Dave Dunn",
        "{body}"
    );
    let (status, body) = send(client().delete(server.rest(
        "/api/v3/directory/relation?objectType=group&objectId=pets-writers&relation=member&subjectType=user&subjectId=dave",
    )));
    assert_eq!(status, 200, "{body}");
    let (_, body) = post(
        &server.rest("/api/v3/directory/check"),
        invoke("dave", create),
    );
    assert_eq!(body["check"], false, "{body}");

    // The authorizer reads its contexts and options in camelCase; the resource context is free-form
    // JSON and keeps the keys the policy reads.
    let is = |user: &str, endpoint: &str| {
        json!({
            "identityContext": {"type": "IDENTITY_TYPE_MANUAL", "identity": user},
            "policyContext": {"path": "rebac.check", "decisions": ["allowed"]},
            "resourceContext": {"object_type": "endpoint", "object_id": endpoint, "relation": "can_invoke"},
            "policyInstance": {"name": "api-auth", "instanceLabel": "api-auth"},
        })
    };
    let url = server.url("authorizer-rest", "/api/v2/authz/is");
    for (user, endpoint, allowed) in expected {
        let (status, body) = post(&url, is(user, endpoint));
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["decisions"],
            json!([{"decision": "allowed", "is": allowed}]),
            "{user} {endpoint}"
        );
    }
    let mut tree = is("bob", create);
    tree["policyContext"]["path"] = json!("rebac");
    tree["options"] = json!({"pathSeparator": "PATH_SEPARATOR_SLASH"});
    let (status, body) = post(
        &server.url("authorizer-rest", "/api/v2/authz/decisiontree"),
        tree,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["path"], json!({"rebac/check": {"allowed": true}}));
}

#[test]
fn a_field_in_both_spellings_is_refused_and_errors_name_the_spelling_used() {
    let server = Server::start("", true);
    let check = server.rest("/api/v3/directory/check");
    let cases = [
        (
            json!({"object_type": "group", "objectType": "group", "object_id": "admin"}),
            "request body: duplicate field `object_type`",
        ),
        (
            json!({"objectType": 7}),
            "request body field objectType: invalid type: integer `7`, expected a string",
        ),
        (
            json!({"objectKind": "group"}),
            "request body field objectKind: unknown field `objectKind`, expected one of `objectType`, `object_type`, `objectId`, `object_id`, `relation`, `subjectType`, `subject_type`, `subjectId`, `subject_id`, `subjectRelation`, `subject_relation`, `trace`",
        ),
    ];
    for (body, message) in cases {
        let (status, answer) = post(&check, body.clone());
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["code"], 3, "{answer}");
        assert_eq!(answer["message"], message, "{body}");
    }
    let (status, answer) = post(
        &server.rest("/api/v3/directory/relation"),
        json!({"relation": {"objectType": "group", "objectId": "admin", "relation": "member",
                            "subjectType": "user", "subjectId": "rick@the-citadel.com",
                            "subject_id": "morty@the-citadel.com"}}),
    );
    assert_eq!(status, 400, "{answer}");
    assert_eq!(
        answer["message"],
        "request body field relation: duplicate field `subject_id`"
    );
    let (status, answer) = post(
        &server.url("authorizer-rest", "/api/v2/authz/is"),
        json!({"identityContext": {"type": "IDENTITY_TYPE_NONE"}, "resourceContext": "group:admin"}),
    );
    assert_eq!(status, 400, "{answer}");
    assert_eq!(
        answer["message"],
        "request body field resourceContext: invalid type: string \"group:admin\", expected google.protobuf.Struct"
    );
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

/// The value of `lictor_policy_reloads_total` for the default tenant and `outcome`.
fn policy_reloads(server: &Server, outcome: &str) -> u64 {
    let metrics = client()
        .get(server.url("metrics", "/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let series = format!(r#"lictor_policy_reloads_total{{tenant="",outcome="{outcome}"}} "#);
    let line = metrics
        .lines()
        .find(|l| l.starts_with(&series))
        .unwrap_or_else(|| panic!("no {series}in\n{metrics}"));
    line[series.len()..].parse().unwrap()
}

/// Waits (up to 30 s) until the reload counter of `outcome` exceeds `before`; returns the new value.
fn wait_for_reload(server: &Server, outcome: &str, before: u64) -> u64 {
    for _ in 0..300 {
        let now = policy_reloads(server, outcome);
        if now > before {
            return now;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no policy reload {outcome} within 30 s (still {before})");
}

#[test]
fn changed_policies_reload_and_a_broken_one_keeps_the_previous() {
    let policies = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(demo_policies()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, policies.path().join(path.file_name().unwrap())).unwrap();
    }
    // Files are replaced whole (written beside the policy directory, then renamed into it), so that a
    // reload never reads one half written.
    let staging = tempfile::tempdir_in(policies.path().parent().unwrap()).unwrap();
    let file = policies.path().join("todoApp.GET.todos.rego");
    let replace = |content: &str| {
        let staged = staging.path().join("todoApp.GET.todos.rego");
        std::fs::write(&staged, content).unwrap();
        std::fs::rename(&staged, &file).unwrap();
    };
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
    assert_eq!(policy_reloads(&server, "loaded"), 0);
    assert_eq!(policy_reloads(&server, "refused"), 0);
    assert!(list("beth@the-smiths.com"));

    // Only the admin may list now.
    replace("package todoApp.GET.todos\n\nimport data.todoApp.common.user_can\n\ndefault allowed := false\n\nallowed if user_can(\"member\", \"group\", \"admin\")\n");
    let loaded = wait_for_reload(&server, "loaded", 0);
    assert!(!list("beth@the-smiths.com"));
    assert!(list("rick@the-citadel.com"));

    // A broken file is refused; the previous policies keep answering.
    let refused = policy_reloads(&server, "refused");
    replace("package todoApp.GET.todos\n\nallowed if {\n");
    wait_for_reload(&server, "refused", refused);
    assert_eq!(policy_reloads(&server, "loaded"), loaded, "nothing loaded");
    assert!(!list("beth@the-smiths.com"));
    assert!(list("rick@the-citadel.com"));

    // Fixed again: picked up.
    replace("package todoApp.GET.todos\n\ndefault allowed := true\n");
    wait_for_reload(&server, "loaded", loaded);
    assert!(list("beth@the-smiths.com"));
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
    assert_eq!((status, &body["code"]), (400, &json!(3)), "{body}");
    assert_eq!(body["message"], "query is required", "{body}");
}
