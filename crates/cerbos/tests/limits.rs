//! The time bound of a request's conditions: a condition whose work grows with the caller's data
//! stops once the deadline has passed, and the caller learns that it did.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::time::Duration;

use lictor_cerbos::api::{CheckResourcesRequest, Effect, PlanResourcesRequest};
use lictor_cerbos::cel::Deadline;
use lictor_cerbos::{compile, CheckOptions, EngineConfig, PolicyFile, PolicyStore};
use serde_json::{json, Value};

/// `view` needs every item to occur once: quadratic in the number of items.
const POLICY: &str = "apiVersion: api.cerbos.dev/v1
resourcePolicy:
  version: default
  resource: album
  variables:
    local:
      unique: R.attr.items.all(x, R.attr.items.filter(y, y == x).size() == 1)
  rules:
    - actions: [view]
      effect: EFFECT_ALLOW
      roles: [user]
      condition:
        match:
          expr: V.unique
    - actions: [edit]
      effect: EFFECT_ALLOW
      roles: [user]
      condition:
        match:
          expr: R.attr.items.all(x, R.attr.items.exists_one(y, y == x))
";

fn store() -> PolicyStore {
    compile(&[PolicyFile {
        path: "album.yaml".into(),
        text: POLICY.into(),
    }])
    .unwrap_or_else(|e| panic!("{e}"))
}

fn request(items: usize) -> CheckResourcesRequest {
    let items: Vec<Value> = (0..items).map(|i| json!(i)).collect();
    serde_json::from_value(json!({
        "principal": {"id": "alice", "roles": ["user"]},
        "resources": [{"actions": ["view", "edit"],
                       "resource": {"kind": "album", "id": "a1", "attr": {"items": items}}}]
    }))
    .unwrap()
}

fn options(deadline: &Deadline) -> CheckOptions<'_> {
    CheckOptions {
        deadline: Some(deadline),
        ..CheckOptions::now()
    }
}

#[test]
fn conditions_within_the_deadline_decide() {
    let deadline = Deadline::after(Duration::from_secs(3600));
    let response =
        store().check_resources(&EngineConfig::default(), &request(50), options(&deadline));
    let actions = &response.results[0].actions;
    assert_eq!(actions["view"], Effect::Allow);
    assert_eq!(actions["edit"], Effect::Allow);
    assert!(!deadline.passed());
}

#[test]
fn a_condition_quadratic_in_the_callers_data_stops_at_the_deadline() {
    // 200,000 items: 4 * 10^10 comparisons per condition, hours of work without the bound.
    let deadline = Deadline::after(Duration::from_millis(50));
    let response = store().check_resources(
        &EngineConfig::default(),
        &request(200_000),
        options(&deadline),
    );
    assert!(
        deadline.passed(),
        "the evaluation did not notice its deadline"
    );
    // The cut conditions are errors, so they do not hold; the caller refuses the answer anyway.
    let actions = &response.results[0].actions;
    assert_eq!(actions["view"], Effect::Deny);
    assert_eq!(actions["edit"], Effect::Deny);
}

#[test]
fn a_plan_stops_at_the_deadline_too() {
    let items: Vec<Value> = (0..200_000).map(|i| json!(i)).collect();
    let request: PlanResourcesRequest = serde_json::from_value(json!({
        "actions": ["view", "edit"],
        "principal": {"id": "alice", "roles": ["user"]},
        "resource": {"kind": "album", "attr": {"items": items}}
    }))
    .unwrap();
    let deadline = Deadline::after(Duration::from_millis(50));
    let response = store().plan_resources(&EngineConfig::default(), &request, options(&deadline));
    assert!(deadline.passed(), "the plan did not notice its deadline");
    assert!(response.filter.is_some());
}
