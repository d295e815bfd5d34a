//! Edge replicas (`lictor run --follow`): a local copy of a central Lictor's directory, kept current
//! over the center's Replication stream, answering while the center is down, catching up after
//! either restarts, and refusing writes of its own.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{free_port, Running};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A configuration on fixed ports (a restarted center must come back where its edges look).
fn config(dir: &Path, name: &str, extra: &str) -> PathBuf {
    let ports: Vec<u16> = (0..6).map(|_| free_port()).collect();
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(
        &path,
        format!(
            "data_dir: {}\nlisten:\n  authorizer_grpc: {}\n  authorizer_rest: {}\n  directory_grpc: {}\n  directory_rest: {}\n  health: {}\n  metrics: {}\nconsole:\n  port: 0\ntls:\n  enabled: false\n{extra}",
            dir.join(name).display(),
            ports[0], ports[1], ports[2], ports[3], ports[4], ports[5]
        ),
    )
    .unwrap();
    path
}

fn member(user: &str) -> Value {
    json!({"object_type": "group", "object_id": "admin", "relation": "member",
        "subject_type": "user", "subject_id": user})
}

/// Whether the check says yes (an error, such as a type the copy does not know yet, is a no).
fn check(client: &reqwest::blocking::Client, server: &Running, user: &str) -> bool {
    let answer: Value = client
        .post(server.url("directory-rest", "/api/v3/directory/check"))
        .json(&member(user))
        .send()
        .unwrap()
        .json()
        .unwrap();
    answer["check"] == json!(true)
}

fn write(
    client: &reqwest::blocking::Client,
    server: &Running,
    user: &str,
) -> reqwest::blocking::Response {
    client
        .post(server.url("directory-rest", "/api/v3/directory/relation"))
        .json(&json!({ "relation": member(user) }))
        .send()
        .unwrap()
}

fn health(client: &reqwest::blocking::Client, server: &Running) -> Value {
    client
        .get(server.url("health", "/healthz"))
        .send()
        .unwrap()
        .json()
        .unwrap()
}

/// Waits until `condition` holds, for up to 20 s.
fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !condition() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The export of a stopped instance's data, without what each store stamps on its own (etags, times).
fn export(data: &Path) -> Vec<Value> {
    let output = Command::new(env!("CARGO_BIN_EXE_lictor"))
        .arg("--data-dir")
        .arg(data)
        .arg("export")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    fn strip(value: &mut Value) {
        if let Some(object) = value.as_object_mut() {
            for key in ["etag", "created_at", "updated_at"] {
                object.remove(key);
            }
            for inner in object.values_mut() {
                strip(inner);
            }
        }
    }
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let mut value: Value = serde_json::from_str(line).unwrap();
            strip(&mut value);
            value
        })
        .collect()
}

#[test]
fn an_edge_follows_its_center_answers_while_it_is_down_and_catches_up() {
    let dir = tempfile::tempdir().unwrap();
    let center_config = config(dir.path(), "center", "");
    let center = Running::start(&center_config, &["--demo"]).unwrap();
    let center_grpc = center.url("directory-grpc", "");
    let edge_config = config(
        dir.path(),
        "edge",
        &format!("follow:\n  url: {center_grpc}\n"),
    );
    let edge = Running::start(&edge_config, &[]).unwrap();
    let client = reqwest::blocking::Client::new();

    // The snapshot: the demo's directory, answered on the edge.
    eventually("the edge has the center's snapshot", || {
        check(&client, &edge, "rick@the-citadel.com")
    });
    let status = health(&client, &edge);
    assert_eq!(status["follow"]["connected"], true, "{status}");
    assert_eq!(status["follow"]["center"], json!(center_grpc));

    // Writes on the center reach the edge; time from acknowledgement to visible there.
    let mut delays = Vec::new();
    for n in 0..40 {
        let user = format!("user-{n}@example.com");
        let response = write(&client, &center, &user);
        assert!(
            response.status().is_success(),
            "{}",
            response.text().unwrap()
        );
        let written = Instant::now();
        eventually("a write reaches the edge", || check(&client, &edge, &user));
        delays.push(written.elapsed());
    }
    delays.sort();
    println!(
        "write on the center to visible on the edge: p50 {:?}, p99 {:?}",
        delays[delays.len() / 2],
        delays[delays.len() * 99 / 100]
    );

    // The edge refuses writes of its own, naming its center.
    let refused = write(&client, &edge, "local@example.com");
    assert_eq!(refused.status(), 400);
    let body: Value = refused.json().unwrap();
    assert_eq!(body["code"], 9, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains(&center_grpc),
        "{body}"
    );

    // The center goes down: the edge keeps answering from its copy.
    drop(center);
    assert!(check(&client, &edge, "user-7@example.com"));
    eventually("the edge sees the center gone", || {
        health(&client, &edge)["follow"]["connected"] == false
    });
    // The center comes back: the edge follows again without a restart.
    let center = Running::start(&center_config, &[]).unwrap();
    let response = write(&client, &center, "after-restart@example.com");
    assert!(response.status().is_success());
    eventually("the edge follows the restarted center", || {
        check(&client, &edge, "after-restart@example.com")
    });

    // The edge goes down; the center takes writes; the edge catches up when it returns.
    drop(edge);
    for n in 0..5 {
        assert!(
            write(&client, &center, &format!("while-down-{n}@example.com"))
                .status()
                .is_success()
        );
    }
    let edge = Running::start(&edge_config, &[]).unwrap();
    eventually("the edge catches up after its restart", || {
        check(&client, &edge, "while-down-4@example.com")
    });
    let center_revision = health(&client, &center)["directory_revision"]
        .as_u64()
        .unwrap();
    eventually("the edge reports no lag", || {
        let follow = health(&client, &edge)["follow"].clone();
        follow["applied_revision"] == json!(center_revision) && follow["lag"] == 0
    });
    drop(edge);
    drop(center);
    let (center_data, edge_data) = (dir.path().join("center"), dir.path().join("edge"));
    let exported = export(&center_data);
    assert!(exported.len() > 50, "{}", exported.len());
    assert_eq!(export(&edge_data), exported, "the copies are equal");
}

#[test]
fn an_edge_needs_a_center_url_it_can_use() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), "edge", "follow:\n  url: central:9292\n");
    let error = Running::start(&config, &[]).err().expect("refused");
    assert!(error.contains("follow.url"), "{error}");
}

#[test]
fn an_edge_follows_and_ships_its_decisions_to_a_center_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let center_config = config(dir.path(), "center", "")
        .to_str()
        .unwrap()
        .to_string();
    // The center serves TLS with the certificate it generates (its CA in center/certs/ca.crt).
    let text = std::fs::read_to_string(&center_config)
        .unwrap()
        .replace("tls:\n  enabled: false\n", "tls:\n  enabled: true\n");
    std::fs::write(&center_config, text).unwrap();
    let center = Running::start(Path::new(&center_config), &["--demo"]).unwrap();
    let grpc = center.ports["directory-grpc"].clone();
    let ca = dir.path().join("center/certs/ca.crt");
    let edge_config = config(
        dir.path(),
        "edge",
        &format!(
            "instance: edge-tls\nfollow:\n  url: https://{grpc}\n  ca_cert: {ca}\ndecision_logs:\n  ship_to: https://{grpc}\n  ship_ca_cert: {ca}\n",
            ca = ca.display()
        ),
    );
    let edge = Running::start(&edge_config, &[]).unwrap();
    let client = reqwest::blocking::Client::new();
    eventually("the edge follows over TLS", || {
        check(&client, &edge, "rick@the-citadel.com")
    });
    // The edge's decisions (its checks) reach the center over TLS.
    let center_rest = center.ports["directory-rest"].clone();
    let tls_client = reqwest::blocking::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&std::fs::read(&ca).unwrap()).unwrap())
        .build()
        .unwrap();
    eventually("the edge's decisions reach the center", || {
        let records: Value = tls_client
            .get(format!(
                "https://localhost:{}/api/v3/lictor/decisions?instance=edge-tls",
                center_rest.rsplit(':').next().unwrap()
            ))
            .send()
            .unwrap()
            .json()
            .unwrap();
        !records["results"].as_array().unwrap().is_empty()
    });

    // Without the center's CA the edge cannot follow, and says why in its health.
    drop(edge);
    let untrusting = config(
        dir.path(),
        "untrusting",
        &format!("follow:\n  url: https://{grpc}\n"),
    );
    let edge = Running::start(&untrusting, &[]).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(health(&client, &edge)["follow"]["connected"], false);
    assert!(!check(&client, &edge, "rick@the-citadel.com"));
}
