//! Explanations give the decisions CheckResources gives, and name the rules, derived roles and condition
//! values that produced them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::{config_for, corpus_dir};
use lictor_cerbos::api::CheckResourcesRequest;
use lictor_cerbos::explain::{LeafResult, PolicyKind, Step};
use lictor_cerbos::{compile, read_store, CheckOptions, EngineConfig, PolicyFile};
use serde_json::{json, Value};

#[test]
fn explained_effects_equal_checked_effects_over_the_corpus() {
    let Some(dir) = corpus_dir() else { return };
    let store =
        compile(&read_store(&dir.join("policies")).unwrap()).unwrap_or_else(|e| panic!("{e}"));
    let suites: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("suites.json")).unwrap()).unwrap();
    let mut compared = 0;
    let mut case_count = 0;
    for (file, flags) in suites.as_object().unwrap() {
        if file.starts_with('_') {
            continue;
        }
        let config = config_for(flags.as_array().unwrap());
        let cases = std::fs::read_to_string(dir.join(file)).unwrap();
        for line in cases.lines().filter(|l| !l.trim().is_empty()) {
            let case: Value = serde_json::from_str(line).unwrap();
            let name = case["name"].as_str().unwrap();
            let mut request: CheckResourcesRequest =
                serde_json::from_value(case["request"].clone())
                    .unwrap_or_else(|e| panic!("{file} {name}: {e}"));
            request.include_meta = true;
            case_count += 1;
            let options = CheckOptions::now();
            let checked = store.check_resources(&config, &request, options);
            let explained = store.explain_resources(&config, &request, options);
            assert_eq!(
                explained.results.len(),
                checked.results.len(),
                "{file} {name}"
            );
            for (check, explain) in checked.results.iter().zip(&explained.results) {
                assert_eq!(explain.resource, check.resource, "{file} {name}");
                let meta = check.meta.as_ref().unwrap();
                for (action, effect) in &check.actions {
                    let explanation = &explain.actions[action];
                    assert_eq!(explanation.effect, *effect, "{file} {name} {action}");
                    let matched = &meta.actions[action];
                    assert_eq!(
                        explanation.matched_policy, matched.matched_policy,
                        "{file} {name}"
                    );
                    assert_eq!(
                        explanation.matched_scope, matched.matched_scope,
                        "{file} {name}"
                    );
                    compared += 1;
                }
                assert_eq!(explain.actions.len(), check.actions.len(), "{file} {name}");
                assert_eq!(
                    explain.validation_errors, check.validation_errors,
                    "{file} {name}"
                );
                let activated: std::collections::BTreeSet<_> = explain
                    .derived_roles
                    .iter()
                    .filter(|r| r.activated)
                    .map(|r| r.name.clone())
                    .collect();
                let effective: std::collections::BTreeSet<_> =
                    meta.effective_derived_roles.iter().cloned().collect();
                assert_eq!(activated, effective, "{file} {name}");
            }
        }
    }
    println!("{case_count} cases, {compared} action decisions compared");
    assert!(
        case_count >= 70 && compared >= 250,
        "only {case_count} cases, {compared} decisions compared"
    );
}

const DERIVED_ROLES: &str = "apiVersion: api.cerbos.dev/v1
derivedRoles:
  name: document_roles
  definitions:
    - name: owner
      parentRoles: [user]
      condition:
        match:
          expr: R.attr.owner == P.id
";

const RESOURCE_POLICY: &str = "apiVersion: api.cerbos.dev/v1
resourcePolicy:
  version: default
  resource: document
  importDerivedRoles: [document_roles]
  rules:
    - name: owner-edits-drafts
      actions: [edit]
      effect: EFFECT_ALLOW
      derivedRoles: [owner]
      condition:
        match:
          all:
            of:
              - expr: R.attr.status == \"draft\"
              - expr: R.attr[\"pages\"] < 10
    - name: users-view
      actions: [view]
      effect: EFFECT_ALLOW
      roles: [user]
";

fn document_request(owner: &str, status: &str) -> CheckResourcesRequest {
    serde_json::from_value(json!({
        "requestId": "explain-1",
        "principal": {"id": "alice", "roles": ["user"]},
        "resources": [{
            "resource": {"kind": "document", "id": "d1", "attr": {"owner": owner, "status": status, "pages": 3}},
            "actions": ["edit", "view", "delete"]
        }]
    }))
    .unwrap()
}

fn rule_steps(steps: &[Step]) -> Vec<&lictor_cerbos::explain::RuleStep> {
    steps
        .iter()
        .filter_map(|s| match s {
            Step::Rule(r) => Some(r),
            Step::Scope(_) => None,
        })
        .collect()
}

#[test]
fn explanation_names_derived_role_rule_and_condition_values() {
    let store = compile(&[
        PolicyFile {
            path: "derived_roles.yaml".into(),
            text: DERIVED_ROLES.into(),
        },
        PolicyFile {
            path: "document.yaml".into(),
            text: RESOURCE_POLICY.into(),
        },
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    let config = EngineConfig::default();
    let explained = store.explain_resources(
        &config,
        &document_request("alice", "draft"),
        CheckOptions::now(),
    );
    assert_eq!(explained.request_id, "explain-1");
    let result = &explained.results[0];

    let owner = result
        .derived_roles
        .iter()
        .find(|r| r.name == "owner")
        .unwrap();
    assert!(owner.activated);
    assert_eq!(owner.parent_roles, ["user"]);
    let leaf = &owner.condition.as_ref().unwrap().leaves[0];
    assert_eq!(leaf.expr, "R.attr.owner == P.id");
    assert_eq!(leaf.result, LeafResult::Bool(true));
    let values: Vec<(String, Value)> = leaf
        .values
        .iter()
        .map(|v| (v.path.clone(), v.value.clone().unwrap()))
        .collect();
    assert_eq!(
        values,
        [
            ("R.attr.owner".to_owned(), json!("alice")),
            ("P.id".to_owned(), json!("alice"))
        ]
    );

    let edit = &result.actions["edit"];
    assert_eq!(edit.effect, lictor_cerbos::api::Effect::Allow);
    assert!(
        matches!(&edit.steps[0], Step::Scope(s) if s.policy_kind == PolicyKind::Resource && s.role == "user")
    );
    let rules = rule_steps(&edit.steps);
    assert_eq!(rules.len(), 1);
    let rule = rules[0];
    assert_eq!(rule.rule, "owner-edits-drafts");
    assert_eq!(rule.policy, "resource.document.vdefault");
    assert_eq!(rule.derived_role.as_deref(), Some("owner"));
    assert!(rule.applied);
    let condition = rule.condition.as_ref().unwrap();
    assert!(condition.holds);
    assert_eq!(condition.leaves.len(), 2);
    assert_eq!(condition.leaves[0].values[0].path, "R.attr.status");
    assert_eq!(condition.leaves[0].values[0].value, Some(json!("draft")));
    assert_eq!(condition.leaves[1].expr, "R.attr[\"pages\"] < 10");
    assert_eq!(condition.leaves[1].values[0].path, "R.attr[\"pages\"]");
    assert_eq!(condition.leaves[1].values[0].value, Some(json!(3.0)));

    let delete = &result.actions["delete"];
    assert_eq!(delete.effect, lictor_cerbos::api::Effect::Deny);
    assert!(rule_steps(&delete.steps).is_empty());

    let json = serde_json::to_value(&explained).unwrap();
    assert_eq!(
        json["results"][0]["actions"]["edit"]["effect"],
        "EFFECT_ALLOW"
    );
    assert_eq!(
        json["results"][0]["actions"]["edit"]["steps"][1]["derivedRole"],
        "owner"
    );
}

#[test]
fn failed_condition_is_shown_with_the_value_that_failed_it() {
    let store = compile(&[
        PolicyFile {
            path: "derived_roles.yaml".into(),
            text: DERIVED_ROLES.into(),
        },
        PolicyFile {
            path: "document.yaml".into(),
            text: RESOURCE_POLICY.into(),
        },
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    let config = EngineConfig::default();
    let explained = store.explain_resources(
        &config,
        &document_request("alice", "published"),
        CheckOptions::now(),
    );
    let edit = &explained.results[0].actions["edit"];
    assert_eq!(edit.effect, lictor_cerbos::api::Effect::Deny);
    let rule = rule_steps(&edit.steps)[0];
    assert!(!rule.applied);
    let condition = rule.condition.as_ref().unwrap();
    assert!(!condition.holds);
    // `all` stops at the first false expression.
    assert_eq!(condition.leaves.len(), 1);
    assert_eq!(condition.leaves[0].result, LeafResult::Bool(false));
    assert_eq!(
        condition.leaves[0].values[0].value,
        Some(json!("published"))
    );

    let explained = store.explain_resources(
        &config,
        &document_request("bob", "draft"),
        CheckOptions::now(),
    );
    let result = &explained.results[0];
    assert!(!result
        .derived_roles
        .iter()
        .any(|r| r.name == "owner" && r.activated));
    let rule = rule_steps(&result.actions["edit"].steps)[0];
    assert!(!rule.applied);
    assert!(!rule.derived_role_condition.as_ref().unwrap().holds);
}
