//! Cerbos's API served by real `lictor run` processes: `--cerbos-config` alone (Cerbos's ports only)
//! and a `cerbos:` section beside Topaz's API. REST and gRPC (clients generated from the Cerbos
//! protos) must answer the same.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use lictor_proto::cerbos::engine::v1 as engine;
use lictor_proto::cerbos::request::v1 as request;
use lictor_proto::cerbos::svc::v1::cerbos_service_client::CerbosServiceClient;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tonic::transport::Channel;

const POLICY: &str = r#"apiVersion: api.cerbos.dev/v1
resourcePolicy:
  version: default
  resource: album
  rules:
    - actions: ["view"]
      effect: EFFECT_ALLOW
      roles: ["user"]
"#;

/// A `lictor run --cerbos-config` child, killed on drop; its standard error is collected.
struct CerbosServer {
    child: Child,
    ports: HashMap<String, String>,
    stderr: Arc<Mutex<Vec<String>>>,
    dir: tempfile::TempDir,
}

impl CerbosServer {
    fn policies(&self) -> PathBuf {
        self.dir.path().join("policies")
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.ports["cerbos-http"])
    }

    fn stderr_contains(&self, text: &str) -> bool {
        self.stderr.lock().unwrap().iter().any(|l| l.contains(text))
    }
}

impl Drop for CerbosServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes `config` (with `policies/` holding `POLICY`) into a temporary directory and runs
/// `lictor run --cerbos-config` there with `sets`; `Err` holds the standard error of a process that
/// exited before it was ready.
fn start(config: &str, sets: &[&str]) -> Result<CerbosServer, String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("policies")).unwrap();
    std::fs::write(dir.path().join("policies/album.yaml"), POLICY).unwrap();
    std::fs::write(dir.path().join("conf.yaml"), config).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_lictor"));
    command
        .current_dir(dir.path())
        .args(["run", "--cerbos-config", "conf.yaml"])
        .args(sets.iter().map(|s| format!("--set={s}")))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let stderr = Arc::new(Mutex::new(Vec::new()));
    let lines = stderr.clone();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            lines.lock().unwrap().push(line);
        }
    });
    let mut ports = HashMap::new();
    let mut ready = false;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        match line.split_whitespace().collect::<Vec<_>>().as_slice() {
            ["listening", name, address] => {
                ports.insert(name.to_string(), address.to_string());
            }
            ["ready"] => {
                ready = true;
                break;
            }
            _ => {}
        }
    }
    if !ready {
        let _ = child.wait();
        // Let the reader thread take the last lines.
        std::thread::sleep(Duration::from_millis(100));
        return Err(stderr.lock().unwrap().join("\n"));
    }
    Ok(CerbosServer {
        child,
        ports,
        stderr,
        dir,
    })
}

const CONFIG: &str = "server:
  httpListenAddr: 127.0.0.1:0
  grpcListenAddr: 127.0.0.1:0
storage:
  driver: disk
  disk:
    directory: policies
";

fn check_body(actions: &[&str]) -> Value {
    json!({
        "requestId": "req-1",
        "includeMeta": true,
        "principal": {"id": "alice", "roles": ["user"], "attr": {"level": 3}},
        "resources": [
            {"actions": actions, "resource": {"kind": "album", "id": "a1", "attr": {"owner": "alice"}}},
            {"actions": actions, "resource": {"kind": "photo", "id": "p1"}}
        ]
    })
}

fn check_request(actions: &[&str]) -> request::CheckResourcesRequest {
    let resource = |kind: &str, id: &str| engine::Resource {
        kind: kind.into(),
        id: id.into(),
        ..Default::default()
    };
    request::CheckResourcesRequest {
        request_id: "req-1".into(),
        include_meta: true,
        principal: Some(engine::Principal {
            id: "alice".into(),
            roles: vec!["user".into()],
            ..Default::default()
        }),
        resources: vec![
            request::check_resources_request::ResourceEntry {
                actions: actions.iter().map(|a| (*a).to_string()).collect(),
                resource: Some(resource("album", "a1")),
            },
            request::check_resources_request::ResourceEntry {
                actions: actions.iter().map(|a| (*a).to_string()).collect(),
                resource: Some(resource("photo", "p1")),
            },
        ],
        ..Default::default()
    }
}

fn post(url: &str, body: &Value) -> (u16, Value) {
    let response = reqwest::blocking::Client::new()
        .post(url)
        .json(body)
        .send()
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().unwrap())
}

fn get(url: &str) -> (u16, Value) {
    let response = reqwest::blocking::get(url).unwrap();
    let status = response.status().as_u16();
    (status, response.json().unwrap())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn client(address: &str) -> CerbosServiceClient<Channel> {
    let channel = Channel::from_shared(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    CerbosServiceClient::new(channel)
}

/// The effects of a REST answer, per resource.
fn rest_effects(answer: &Value) -> Vec<Value> {
    answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["actions"].clone())
        .collect()
}

/// The effects of a gRPC answer in REST's form.
fn grpc_effects(answer: &lictor_proto::cerbos::response::v1::CheckResourcesResponse) -> Vec<Value> {
    let value = serde_json::to_value(answer).unwrap();
    rest_effects(&value)
}

#[test]
fn rest_and_grpc_answer_the_same_on_both_ports() {
    let server = start(CONFIG, &[]).unwrap();
    let (status, rest) = post(
        &server.url("/api/check/resources"),
        &check_body(&["view", "delete"]),
    );
    assert_eq!(status, 200, "{rest}");
    assert_eq!(rest["requestId"], "req-1");
    assert_eq!(rest["cerbosCallId"].as_str().unwrap().len(), 26, "{rest}");
    assert_eq!(rest["results"][0]["resource"]["id"], "a1");
    assert_eq!(rest["results"][1]["resource"]["kind"], "photo");
    assert!(
        rest["results"][0]["meta"]["actions"]["view"].is_object(),
        "{rest}"
    );
    for action in ["view", "delete"] {
        let effect = rest["results"][1]["actions"][action].as_str().unwrap();
        assert_eq!(effect, "EFFECT_DENY", "no policy for photos: {rest}");
    }

    runtime().block_on(async {
        // gRPC on the gRPC port, and on the HTTP port as Cerbos serves it too.
        for port in ["cerbos-grpc", "cerbos-http"] {
            let mut client = client(&server.ports[port]).await;
            let answer = client
                .check_resources(check_request(&["view", "delete"]))
                .await
                .unwrap()
                .into_inner();
            assert_eq!(answer.request_id, "req-1");
            assert_eq!(answer.cerbos_call_id.len(), 26);
            assert_ne!(
                answer.cerbos_call_id,
                rest["cerbosCallId"].as_str().unwrap()
            );
            assert_eq!(grpc_effects(&answer), rest_effects(&rest), "{port}");
        }
    });
}

#[test]
fn health_and_server_info_answer() {
    let server = start(CONFIG, &[]).unwrap();
    assert_eq!(
        get(&server.url("/_cerbos/health")),
        (200, json!({"status": "SERVING"}))
    );
    let (status, info) = get(&server.url("/api/server_info"));
    assert_eq!(status, 200);
    assert_eq!(info["version"], env!("CARGO_PKG_VERSION"));

    runtime().block_on(async {
        let mut client = client(&server.ports["cerbos-grpc"]).await;
        let info = client
            .server_info(request::ServerInfoRequest {})
            .await
            .unwrap()
            .into_inner();
        assert_eq!(info.version, env!("CARGO_PKG_VERSION"));

        let channel = Channel::from_shared(format!("http://{}", server.ports["cerbos-grpc"]))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
        let serving = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: "cerbos.svc.v1.CerbosService".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            serving.status,
            tonic_health::pb::health_check_response::ServingStatus::Serving as i32
        );
    });
}

#[test]
fn limits_and_invalid_requests_are_refused_on_both_transports() {
    let server = start(
        CONFIG,
        &[
            "server.requestLimits.maxActionsPerResource=2",
            "server.requestLimits.maxResourcesPerRequest=1",
        ],
    )
    .unwrap();
    let url = server.url("/api/check/resources");

    let mut one_resource = check_body(&["view", "edit", "delete"]);
    one_resource["resources"]
        .as_array_mut()
        .unwrap()
        .truncate(1);
    let (status, body) = post(&url, &one_resource);
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"code": 3, "message": "number of actions (3) exceeds configured limit (2)", "details": []})
    );
    let (status, body) = post(&url, &check_body(&["view"]));
    assert_eq!(status, 400);
    assert_eq!(
        body["message"],
        "number of resources in batch (2) exceeds configured limit (1)"
    );

    let mut no_principal = one_resource.clone();
    no_principal.as_object_mut().unwrap().remove("principal");
    let (status, body) = post(&url, &no_principal);
    assert_eq!(status, 400);
    assert_eq!(body["code"], 3);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("principal: value is required"),
        "{body}"
    );

    let (status, body) = post(
        &url,
        &json!({"principal": {"id": "a", "roles": ["r"]}, "unknownField": 1}),
    );
    assert_eq!(status, 400);
    assert!(
        body["message"].as_str().unwrap().contains("unknownField"),
        "{body}"
    );

    runtime().block_on(async {
        let mut client = client(&server.ports["cerbos-grpc"]).await;
        let mut too_many = check_request(&["view", "edit", "delete"]);
        too_many.resources.truncate(1);
        let error = client.check_resources(too_many).await.unwrap_err();
        assert_eq!(error.code(), tonic::Code::InvalidArgument);
        assert_eq!(
            error.message(),
            "number of actions (3) exceeds configured limit (2)"
        );
        let mut no_actions = check_request(&[]);
        no_actions.resources.truncate(1);
        let error = client.check_resources(no_actions).await.unwrap_err();
        assert_eq!(error.code(), tonic::Code::InvalidArgument);
        assert!(
            error.message().contains("resources[0].actions"),
            "{}",
            error.message()
        );
    });
}

fn wait_for(server: &CerbosServer, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !server.stderr_contains(text) {
        assert!(
            Instant::now() < deadline,
            "no {text:?} in the server's log: {:?}",
            server.stderr.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The effect of `action` on the album in a REST answer.
fn album_effect(answer: &Value, action: &str) -> String {
    answer["results"][0]["actions"][action]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn a_broken_policy_change_keeps_the_previous_policies_serving() {
    let server = start(CONFIG, &["storage.disk.watchForChanges=true"]).unwrap();
    let url = server.url("/api/check/resources");
    let (status, before) = post(&url, &check_body(&["view", "edit"]));
    assert_eq!(status, 200, "{before}");
    assert_eq!(album_effect(&before, "view"), "EFFECT_ALLOW");
    assert_eq!(album_effect(&before, "edit"), "EFFECT_DENY");

    write_policy(
        &server.policies(),
        "broken.yaml",
        "apiVersion: api.cerbos.dev/v1\nresourcePolicy: [unclosed\n",
    );
    wait_for(&server, "Cerbos policy change refused");
    let (status, during) = post(&url, &check_body(&["view", "edit"]));
    assert_eq!(status, 200, "{during}");
    assert_eq!(rest_effects(&during), rest_effects(&before));

    // Repaired and changed, the new policies are taken up: now editing is allowed, viewing not.
    std::fs::remove_file(server.policies().join("broken.yaml")).unwrap();
    write_policy(
        &server.policies(),
        "album.yaml",
        &POLICY.replace("[\"view\"]", "[\"edit\"]"),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, after) = post(&url, &check_body(&["view", "edit"]));
        if album_effect(&after, "edit") == "EFFECT_ALLOW" {
            assert_eq!(album_effect(&after, "view"), "EFFECT_DENY");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the change was not taken up: {after}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    wait_for(&server, "Cerbos policies reloaded");
}

fn write_policy(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

#[test]
fn an_unsupported_storage_driver_is_a_clear_start_up_error() {
    let error = start(
        "storage:\n  driver: git\n  git:\n    url: https://example.com/policies.git\n",
        &[],
    )
    .err()
    .expect("the server refuses to start");
    assert!(
        error.contains("storage.driver \"git\" is not supported"),
        "{error}"
    );
    let error = start(CONFIG, &["server.requestLimits.maxActionsPerResource=many"])
        .err()
        .expect("the server refuses to start");
    assert!(
        error.contains("server.requestLimits.maxActionsPerResource"),
        "{error}"
    );
}

#[test]
fn unsupported_keys_are_named_in_warnings() {
    let server = start(
        "server:\n  httpListenAddr: 127.0.0.1:0\n  grpcListenAddr: 127.0.0.1:0\n  adminAPI:\n    enabled: true\nstorage:\n  driver: disk\n  disk:\n    directory: policies\ntracing:\n  sampleProbability: 0.5\n",
        &[],
    )
    .unwrap();
    wait_for(&server, "adminAPI");
    wait_for(&server, "tracing");
}

#[test]
fn a_cerbos_section_serves_beside_topaz_and_logs_decisions() {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("cerbos-policies");
    std::fs::create_dir(&policies).unwrap();
    write_policy(&policies, "album.yaml", POLICY);
    let section = format!(
        "cerbos:\n  server:\n    httpListenAddr: 127.0.0.1:0\n    grpcListenAddr: \"\"\n  storage:\n    driver: disk\n    disk:\n      directory: {}\n  audit:\n    enabled: true\n",
        policies.display()
    );
    let server = common::Server::start(&section, false);
    // Cerbos's own port and Lictor's authorizer port answer alike.
    let (status, own) = post(
        &server.url("cerbos-http", "/api/check/resources"),
        &check_body(&["view"]),
    );
    assert_eq!(status, 200, "{own}");
    let (status, mounted) = post(
        &server.url("authorizer-rest", "/api/check/resources"),
        &check_body(&["view"]),
    );
    assert_eq!(status, 200, "{mounted}");
    assert_eq!(rest_effects(&own), rest_effects(&mounted));
    runtime().block_on(async {
        let mut client = client(&server.ports["authorizer-grpc"]).await;
        let answer = client
            .check_resources(check_request(&["view"]))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(grpc_effects(&answer), rest_effects(&own));
    });

    // Every resource of every call is one record of the decision log.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, records) =
            get(&server.url("authorizer-rest", "/api/v3/lictor/decisions?path=album"));
        let records = records["results"].as_array().unwrap().clone();
        if records.len() >= 3 {
            let record = &records[0];
            assert_eq!(record["kind"], "cerbos.check");
            assert_eq!(record["identity"]["value"], "alice");
            assert_eq!(record["resource"]["id"], "a1");
            assert_eq!(record["decisions"][0]["decision"], "view");
            assert!(
                record["resource"]["actions"]["view"]["effect"].is_string(),
                "{record}"
            );
            assert!(!record["policy_revision"].as_str().unwrap().is_empty());
            break;
        }
        assert!(
            Instant::now() < deadline,
            "decisions not logged: {records:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_demo_serves_its_cerbos_policies_on_the_authorizer_ports() {
    let server = common::Server::start("", true);
    let url = server.url("authorizer-rest", "/api/check/resources");
    let body = |roles: &[&str], owner: &str| {
        json!({
            "principal": {"id": "rick@the-citadel.com", "roles": roles},
            "resources": [{"actions": ["read", "update"],
                           "resource": {"kind": "todo", "id": "t1", "attr": {"ownerID": owner}}}]
        })
    };
    let effects = |answer: &Value| (album_effect(answer, "read"), album_effect(answer, "update"));
    let (status, own) = post(&url, &body(&["editor"], "rick@the-citadel.com"));
    assert_eq!(status, 200, "{own}");
    assert_eq!(
        effects(&own),
        ("EFFECT_ALLOW".into(), "EFFECT_ALLOW".into())
    );
    let (_, other) = post(&url, &body(&["editor"], "morty@the-citadel.com"));
    assert_eq!(
        effects(&other),
        ("EFFECT_ALLOW".into(), "EFFECT_DENY".into())
    );
    let (_, admin) = post(&url, &body(&["admin"], "morty@the-citadel.com"));
    assert_eq!(
        effects(&admin),
        ("EFFECT_ALLOW".into(), "EFFECT_ALLOW".into())
    );
    let (_, nobody) = post(&url, &body(&["guest"], "rick@the-citadel.com"));
    assert_eq!(
        effects(&nobody),
        ("EFFECT_DENY".into(), "EFFECT_DENY".into())
    );
}

#[test]
fn plan_resources_answers_the_same_on_both_transports() {
    let server = start(CONFIG, &[]).unwrap();
    let body = |action: &str| {
        json!({"requestId": "plan-1", "action": action, "includeMeta": true,
               "principal": {"id": "alice", "roles": ["user"]},
               "resource": {"kind": "album"}})
    };
    let (status, view) = post(&server.url("/api/plan/resources"), &body("view"));
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["requestId"], "plan-1");
    assert_eq!(view["action"], "view");
    assert_eq!(view["filter"]["kind"], "KIND_ALWAYS_ALLOWED", "{view}");
    assert_eq!(view["cerbosCallId"].as_str().unwrap().len(), 26);
    let (_, delete) = post(&server.url("/api/plan/resources"), &body("delete"));
    assert_eq!(delete["filter"]["kind"], "KIND_ALWAYS_DENIED", "{delete}");
    let (status, both) = post(
        &server.url("/api/plan/resources"),
        &json!({"action": "view", "actions": ["view"], "principal": {"id": "a", "roles": ["user"]},
                "resource": {"kind": "album"}}),
    );
    assert_eq!(status, 400, "{both}");

    runtime().block_on(async {
        let mut client = client(&server.ports["cerbos-grpc"]).await;
        #[allow(deprecated)]
        let answer = client
            .plan_resources(request::PlanResourcesRequest {
                request_id: "plan-1".into(),
                action: "view".into(),
                principal: Some(engine::Principal {
                    id: "alice".into(),
                    roles: vec!["user".into()],
                    ..Default::default()
                }),
                resource: Some(engine::plan_resources_input::Resource {
                    kind: "album".into(),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            serde_json::to_value(&answer).unwrap()["filter"],
            view["filter"]
        );
    });
}

const FOLDER_MANIFEST: &str = "model:\n  version: 3\ntypes:\n  user: {}\n  group:\n    relations:\n      member: user | group#member\n  folder:\n    relations:\n      viewer: user | group#member\n    permissions:\n      can_view: viewer\n";

const FOLDER_POLICY: &str = r#"apiVersion: api.cerbos.dev/v1
resourcePolicy:
  version: default
  resource: folder
  rules:
    - actions: ["view"]
      effect: EFFECT_ALLOW
      roles: ["*"]
      condition:
        match:
          expr: lictor.check("user:" + P.id, "can_view", "folder:" + R.id)
"#;

#[test]
fn lictor_check_in_conditions_reads_the_directory_through_nested_groups() {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("cerbos-policies");
    std::fs::create_dir(&policies).unwrap();
    write_policy(&policies, "folder.yaml", FOLDER_POLICY);
    let section = format!(
        "cerbos:\n  server:\n    httpListenAddr: 127.0.0.1:0\n    grpcListenAddr: 127.0.0.1:0\n  storage:\n    driver: disk\n    disk:\n      directory: {}\n",
        policies.display()
    );
    let server = common::Server::start(&section, false);
    let http = reqwest::blocking::Client::new();
    let status = http
        .post(server.url("authorizer-rest", "/api/v3/directory/manifest"))
        .header("content-type", "application/yaml")
        .body(FOLDER_MANIFEST)
        .send()
        .unwrap()
        .status();
    assert!(status.is_success(), "manifest refused: {status}");
    let relate = |object: (&str, &str), relation: &str, subject: (&str, &str, &str)| {
        let (status, body) = post(
            &server.url("authorizer-rest", "/api/v3/directory/relation"),
            &json!({"relation": {"object_type": object.0, "object_id": object.1, "relation": relation,
                                 "subject_type": subject.0, "subject_id": subject.1,
                                 "subject_relation": subject.2}}),
        );
        assert_eq!(status, 200, "{body}");
    };
    // alice is in eng, eng's members are in staff, staff's members view f1: three hops.
    relate(("group", "eng"), "member", ("user", "alice", ""));
    relate(("group", "staff"), "member", ("group", "eng", "member"));
    relate(("folder", "f1"), "viewer", ("group", "staff", "member"));

    let body = |principal: &str| {
        json!({"principal": {"id": principal, "roles": ["user"]},
               "resources": [{"actions": ["view"], "resource": {"kind": "folder", "id": "f1"}},
                             {"actions": ["view"], "resource": {"kind": "folder", "id": "f2"}}]})
    };
    let effects = |answer: &Value| -> Vec<String> {
        answer["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|result| result["actions"]["view"].as_str().unwrap().to_owned())
            .collect()
    };
    let check = |principal: &str| {
        let (status, answer) = post(
            &server.url("cerbos-http", "/api/check/resources"),
            &body(principal),
        );
        assert_eq!(status, 200, "{answer}");
        effects(&answer)
    };
    assert_eq!(check("alice"), ["EFFECT_ALLOW", "EFFECT_DENY"]);
    assert_eq!(check("bob"), ["EFFECT_DENY", "EFFECT_DENY"]);

    // A write is seen by the next request, over gRPC too.
    relate(("group", "eng"), "member", ("user", "bob", ""));
    assert_eq!(check("bob"), ["EFFECT_ALLOW", "EFFECT_DENY"]);
    runtime().block_on(async {
        let mut client = client(&server.ports["cerbos-grpc"]).await;
        let mut request = check_request(&["view"]);
        request.principal.as_mut().unwrap().id = "bob".into();
        request.resources.truncate(1);
        let resource = request.resources[0].resource.as_mut().unwrap();
        resource.kind = "folder".into();
        resource.id = "f1".into();
        resource.policy_version = String::new();
        let answer = client.check_resources(request).await.unwrap().into_inner();
        assert_eq!(grpc_effects(&answer), [json!({"view": "EFFECT_ALLOW"})]);
    });
}
