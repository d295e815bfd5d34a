//! Time of one CheckResources evaluation: one resource, two actions, one CEL condition.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use lictor_cerbos::api::CheckResourcesRequest;
use lictor_cerbos::{compile, CheckOptions, EngineConfig, PolicyFile, PolicyStore};
use serde_json::json;

const POLICY: &str = "apiVersion: api.cerbos.dev/v1
resourcePolicy:
  version: default
  resource: leave_request
  rules:
    - actions: [approve]
      effect: EFFECT_ALLOW
      roles: [manager]
      condition:
        match:
          expr: R.attr.department == P.attr.department
    - actions: [view]
      effect: EFFECT_ALLOW
      roles: ['*']
";

fn main() {
    divan::main();
}

fn setup() -> (PolicyStore, CheckResourcesRequest) {
    let store = compile(&[PolicyFile {
        path: "leave.yaml".into(),
        text: POLICY.into(),
    }])
    .unwrap();
    let request = serde_json::from_value(json!({
        "requestId": "bench",
        "principal": {"id": "alice", "roles": ["manager"], "attr": {"department": "sales"}},
        "resources": [{"actions": ["approve", "view"],
                       "resource": {"kind": "leave_request", "id": "r1", "attr": {"department": "sales", "owner": "bob"}}}]
    }))
    .unwrap();
    (store, request)
}

#[divan::bench]
fn one_resource_two_actions_one_condition(bencher: divan::Bencher) {
    let (store, request) = setup();
    let config = EngineConfig::default();
    let options = CheckOptions::now();
    bencher.bench_local(|| store.check_resources(&config, divan::black_box(&request), options));
}
