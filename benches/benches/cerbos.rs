//! In-process CheckResources of Lictor's Cerbos engine (divan), on the policy file that the side-by-side
//! benchmark serves to both Lictor and the Cerbos PDP (`bench/peers/policies/cerbos/document.yaml`).
//!
//! `cargo bench -p lictor-benches --bench cerbos`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use lictor_cerbos::api::CheckResourcesRequest;
use lictor_cerbos::{compile, CheckOptions, EngineConfig, PolicyFile, PolicyStore};
use std::sync::LazyLock;

static STORE: LazyLock<PolicyStore> = LazyLock::new(|| {
    let files = [PolicyFile {
        path: "document.yaml".to_owned(),
        text: include_str!("../../bench/peers/policies/cerbos/document.yaml").to_owned(),
    }];
    compile(&files).expect("the benchmark policy compiles")
});

fn main() {
    divan::main();
}

fn request(body: serde_json::Value) -> CheckResourcesRequest {
    serde_json::from_value(body).expect("a CheckResources body")
}

/// One resource, two actions, decided by one CEL condition (the owner rule): the p50 ≤ 5 µs case.
#[divan::bench]
fn one_resource_two_actions_one_condition(bencher: divan::Bencher) {
    let store = &*STORE;
    let config = EngineConfig::default();
    let body = request(serde_json::json!({
        "requestId": "bench",
        "principal": {"id": "alice", "roles": ["user"]},
        "resources": [{
            "resource": {"kind": "document", "id": "d1", "attr": {"owner": "alice", "status": "draft"}},
            "actions": ["read", "update"]
        }]
    }));
    let options = CheckOptions::now();
    bencher.bench(|| store.check_resources(&config, divan::black_box(&body), options));
}

/// One resource, two actions, decided by roles alone (no condition runs).
#[divan::bench]
fn one_resource_two_actions_roles_only(bencher: divan::Bencher) {
    let store = &*STORE;
    let config = EngineConfig::default();
    let body = request(serde_json::json!({
        "requestId": "bench",
        "principal": {"id": "bob", "roles": ["editor"]},
        "resources": [{
            "resource": {"kind": "document", "id": "d1", "attr": {"owner": "alice", "status": "draft"}},
            "actions": ["read", "update"]
        }]
    }));
    let options = CheckOptions::now();
    bencher.bench(|| store.check_resources(&config, divan::black_box(&body), options));
}

/// Fifty resources with three actions each, as workload (c) of the side-by-side benchmark sends them.
#[divan::bench]
fn fifty_resources_three_actions(bencher: divan::Bencher) {
    let store = &*STORE;
    let config = EngineConfig::default();
    let resources: Vec<serde_json::Value> = (0..50)
        .map(|i| {
            serde_json::json!({
                "resource": {"kind": "document", "id": format!("d{i}"),
                             "attr": {"owner": if i % 3 == 0 { "alice" } else { "carol" },
                                      "status": if i % 2 == 0 { "draft" } else { "published" }}},
                "actions": ["read", "update", "delete"]
            })
        })
        .collect();
    let body = request(serde_json::json!({
        "requestId": "bench",
        "principal": {"id": "alice", "roles": ["viewer"]},
        "resources": resources
    }));
    let options = CheckOptions::now();
    bencher.bench(|| store.check_resources(&config, divan::black_box(&body), options));
}
