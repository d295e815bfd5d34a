//! `POST /api/v3/lictor/cerbos/explain` on a real `lictor run --cerbos-config` process: the same effects
//! as CheckResources, with the derived role, rule and condition values that decided them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const DERIVED_ROLES: &str = "apiVersion: api.cerbos.dev/v1
derivedRoles:
  name: album_roles
  definitions:
    - name: owner
      parentRoles: [user]
      condition:
        match:
          expr: R.attr.owner == P.id
";

const POLICY: &str = "apiVersion: api.cerbos.dev/v1
resourcePolicy:
  version: default
  resource: album
  importDerivedRoles: [album_roles]
  rules:
    - name: owner-shares-public
      actions: [share]
      effect: EFFECT_ALLOW
      derivedRoles: [owner]
      condition:
        match:
          expr: R.attr.public == true
";

const CONFIG: &str = "server:
  httpListenAddr: 127.0.0.1:0
  grpcListenAddr: 127.0.0.1:0
storage:
  driver: disk
  disk:
    directory: policies
";

/// A `lictor run --cerbos-config` child, killed on drop.
struct Server {
    child: Child,
    http: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("policies")).unwrap();
    std::fs::write(dir.path().join("policies/roles.yaml"), DERIVED_ROLES).unwrap();
    std::fs::write(dir.path().join("policies/album.yaml"), POLICY).unwrap();
    std::fs::write(dir.path().join("conf.yaml"), CONFIG).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_lictor"))
        .current_dir(dir.path())
        .args(["run", "--cerbos-config", "conf.yaml"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut ports = HashMap::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        match line.split_whitespace().collect::<Vec<_>>().as_slice() {
            ["listening", name, address] => {
                ports.insert(name.to_string(), address.to_string());
            }
            ["ready"] => break,
            _ => {}
        }
    }
    let http = ports
        .remove("cerbos-http")
        .unwrap_or_else(|| panic!("no cerbos-http port in {ports:?}"));
    Server {
        child,
        http,
        _dir: dir,
    }
}

fn post(server: &Server, path: &str, body: &Value) -> (u16, Value) {
    let response = reqwest::blocking::Client::new()
        .post(format!("http://{}{path}", server.http))
        .json(body)
        .send()
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().unwrap())
}

#[test]
fn explain_answers_the_checked_effects_with_their_reasons() {
    let server = start();
    let body = json!({
        "requestId": "req-7",
        "principal": {"id": "alice", "roles": ["user"]},
        "resources": [
            {"actions": ["share", "delete"], "resource": {"kind": "album", "id": "a1", "attr": {"owner": "alice", "public": true}}},
            {"actions": ["share"], "resource": {"kind": "album", "id": "a2", "attr": {"owner": "alice", "public": false}}}
        ]
    });
    let (status, checked) = post(&server, "/api/check/resources", &body);
    assert_eq!(status, 200, "{checked}");
    let (status, explained) = post(&server, "/api/v3/lictor/cerbos/explain", &body);
    assert_eq!(status, 200, "{explained}");
    assert_eq!(explained["requestId"], "req-7");
    for (i, result) in checked["results"].as_array().unwrap().iter().enumerate() {
        for (action, effect) in result["actions"].as_object().unwrap() {
            assert_eq!(
                explained["results"][i]["actions"][action]["effect"], *effect,
                "resource {i} action {action}: {explained}"
            );
        }
    }
    assert_eq!(
        explained["results"][0]["actions"]["share"]["effect"],
        "EFFECT_ALLOW"
    );
    assert_eq!(
        explained["results"][1]["actions"]["share"]["effect"],
        "EFFECT_DENY"
    );

    let owner = &explained["results"][0]["derivedRoles"][0];
    assert_eq!(owner["name"], "owner");
    assert_eq!(owner["activated"], true);
    assert_eq!(
        owner["condition"]["leaves"][0]["values"],
        json!([{"path": "R.attr.owner", "value": "alice"}, {"path": "P.id", "value": "alice"}])
    );

    let steps = explained["results"][1]["actions"]["share"]["steps"]
        .as_array()
        .unwrap();
    let rule = steps.iter().find(|s| s["step"] == "rule").unwrap();
    assert_eq!(rule["rule"], "owner-shares-public");
    assert_eq!(rule["policy"], "resource.album.vdefault");
    assert_eq!(rule["derivedRole"], "owner");
    assert_eq!(rule["applied"], false);
    let leaf = &rule["condition"]["leaves"][0];
    assert_eq!(leaf["expr"], "R.attr.public == true");
    assert_eq!(leaf["result"], false);
    assert_eq!(
        leaf["values"],
        json!([{"path": "R.attr.public", "value": false}])
    );

    let (status, refused) = post(
        &server,
        "/api/v3/lictor/cerbos/explain",
        &json!({"principal": 5}),
    );
    assert_eq!(status, 400, "{refused}");
    assert!(refused.to_string().contains("principal"), "{refused}");
}
