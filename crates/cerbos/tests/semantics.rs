//! Cerbos 0.51 behaviours that are easy to miss (see the conformance corpus's SEMANTICS.md), checked on
//! small in-memory policy sets.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use lictor_cerbos::api::{CheckResourcesRequest, CheckResult, Effect};
use lictor_cerbos::{compile, CheckOptions, EngineConfig, PolicyFile, PolicyStore};
use serde_json::{json, Value};

fn store(files: &[(&str, &str)]) -> PolicyStore {
    let files: Vec<PolicyFile> = files
        .iter()
        .map(|(p, t)| PolicyFile {
            path: (*p).into(),
            text: (*t).into(),
        })
        .collect();
    compile(&files).unwrap_or_else(|e| panic!("{e}"))
}

fn check(store: &PolicyStore, request: Value) -> CheckResult {
    let request: CheckResourcesRequest = serde_json::from_value(request).unwrap();
    let response = store.check_resources(&EngineConfig::default(), &request, CheckOptions::now());
    response.results.into_iter().next().unwrap()
}

fn request(roles: &[&str], principal_attr: Value, kind: &str, actions: &[&str]) -> Value {
    json!({"requestId": "t", "includeMeta": true,
           "principal": {"id": "alice", "roles": roles, "attr": principal_attr},
           "resources": [{"actions": actions, "resource": {"kind": kind, "id": "r1", "attr": {"owner": "alice"}}}]})
}

const DOC: &str = "apiVersion: api.cerbos.dev/v1
resourcePolicy:
  version: default
  resource: doc
  rules:
    - actions: [add]
      effect: EFFECT_ALLOW
      roles: [user]
      condition:
        match:
          expr: P.attr.level + 1 == 2
    - actions: [compare]
      effect: EFFECT_ALLOW
      roles: [user]
      condition:
        match:
          expr: P.attr.level < 2 && P.attr.level == 1
    - actions: [none_of_error]
      effect: EFFECT_ALLOW
      roles: [user]
      condition:
        match:
          none:
            of:
              - expr: P.attr.missing.deeper == 1
    - actions: [not_error]
      effect: EFFECT_ALLOW
      roles: [user]
      condition:
        match:
          expr: '!(P.attr.missing.deeper == 1)'
    - actions: ['*']
      effect: EFFECT_DENY
      roles: [blocked]
    - actions: [view]
      effect: EFFECT_ALLOW
      roles: ['*']
";

#[test]
fn json_numbers_are_doubles() {
    let s = store(&[("doc.yaml", DOC)]);
    let r = check(
        &s,
        request(&["user"], json!({"level": 1}), "doc", &["add", "compare"]),
    );
    assert_eq!(
        r.actions["add"],
        Effect::Deny,
        "int + double is an error, so the condition is false"
    );
    assert_eq!(
        r.actions["compare"],
        Effect::Allow,
        "comparisons work across int and double"
    );
}

#[test]
fn an_error_is_false_only_at_its_own_leaf() {
    let s = store(&[("doc.yaml", DOC)]);
    let r = check(
        &s,
        request(&["user"], json!({}), "doc", &["none_of_error", "not_error"]),
    );
    assert_eq!(r.actions["none_of_error"], Effect::Allow);
    assert_eq!(r.actions["not_error"], Effect::Deny);
}

#[test]
fn deny_of_a_role_wins_over_allow_of_the_same_role_and_no_match_denies() {
    let s = store(&[("doc.yaml", DOC)]);
    let r = check(
        &s,
        request(&["blocked"], json!({}), "doc", &["view", "edit"]),
    );
    assert_eq!(r.actions["view"], Effect::Deny);
    assert_eq!(
        r.meta.as_ref().unwrap().actions["view"].matched_policy,
        "resource.doc.vdefault"
    );
    let r = check(&s, request(&["user"], json!({}), "other", &["view"]));
    assert_eq!(r.actions["view"], Effect::Deny);
    assert_eq!(
        r.meta.as_ref().unwrap().actions["view"].matched_policy,
        "NO_MATCH"
    );
}

#[test]
fn principal_policy_resource_globs_match_the_rewritten_kind() {
    let policy = "apiVersion: api.cerbos.dev/v1
principalPolicy:
  principal: alice
  version: default
  rules:
    - resource: 'album:*'
      actions: [{action: colon, effect: EFFECT_ALLOW}]
    - resource: 'alb*'
      actions: [{action: prefix, effect: EFFECT_ALLOW}]
";
    let s = store(&[("p.yaml", policy)]);
    let r = check(
        &s,
        request(&["user"], json!({}), "album:photo", &["colon", "prefix"]),
    );
    assert_eq!(r.actions["colon"], Effect::Deny);
    assert_eq!(r.actions["prefix"], Effect::Allow);
    assert_eq!(
        r.meta.unwrap().actions["prefix"].matched_policy,
        "principal.alice.vdefault"
    );
}

#[test]
fn outputs_are_a_multiset_per_role() {
    let policy = "apiVersion: api.cerbos.dev/v1
resourcePolicy:
  version: default
  resource: doc
  rules:
    - name: owner-only
      actions: [edit]
      effect: EFFECT_ALLOW
      roles: ['*']
      condition:
        match:
          expr: R.attr.owner == 'somebody else'
      output:
        when:
          ruleActivated: '\"yes\"'
          conditionNotMet: '\"no:\" + P.id'
";
    let s = store(&[("doc.yaml", policy)]);
    let r = check(
        &s,
        request(&["user", "editor"], json!({}), "doc", &["edit"]),
    );
    assert_eq!(r.actions["edit"], Effect::Deny);
    let outputs: Vec<Value> = r
        .outputs
        .iter()
        .map(|o| serde_json::to_value(o).unwrap())
        .collect();
    let one =
        json!({"src": "resource.doc.vdefault#owner-only", "val": "no:alice", "action": "edit"});
    assert_eq!(outputs, [one.clone(), one]);
}

#[test]
fn a_role_policy_deny_ends_the_scope_before_a_parent_role_rule_emits_output() {
    let role = "apiVersion: api.cerbos.dev/v1
rolePolicy:
  role: custom
  scope: acme
  parentRoles: [admin]
  rules:
    - resource: doc
      allowActions: [edit]
      condition:
        match:
          expr: R.attr.owner == 'nobody'
";
    let resource = "apiVersion: api.cerbos.dev/v1
resourcePolicy:
  version: default
  resource: doc
  scope: acme
  rules:
    - name: admins-edit
      actions: [edit]
      effect: EFFECT_ALLOW
      roles: [admin]
      output:
        when:
          ruleActivated: '\"admin edit\"'
";
    let root = "apiVersion: api.cerbos.dev/v1
resourcePolicy:
  version: default
  resource: doc
  rules:
    - actions: [view]
      effect: EFFECT_ALLOW
      roles: ['*']
";
    let s = store(&[
        ("custom.yaml", role),
        ("acme.yaml", resource),
        ("root.yaml", root),
    ]);
    let mut req = request(&["custom"], json!({}), "doc", &["edit"]);
    req["resources"][0]["resource"]["scope"] = json!("acme");
    let r = check(&s, req.clone());
    assert_eq!(
        r.actions["edit"],
        Effect::Deny,
        "the role policy's condition fails"
    );
    assert!(
        r.outputs.is_empty(),
        "the implied DENY comes first, so the admin rule never runs: {:?}",
        r.outputs
    );
    // An admin proper reaches the rule and its output.
    req["principal"]["roles"] = json!(["admin"]);
    let r = check(&s, req);
    assert_eq!(r.actions["edit"], Effect::Allow);
    assert_eq!(r.outputs.len(), 1);
}

#[test]
fn parental_consent_turns_a_conditional_allow_into_a_deny_unless() {
    let root = "apiVersion: api.cerbos.dev/v1
resourcePolicy:
  version: default
  resource: doc
  rules:
    - actions: [edit, view]
      effect: EFFECT_ALLOW
      roles: [user]
";
    let scoped = "apiVersion: api.cerbos.dev/v1
resourcePolicy:
  version: default
  resource: doc
  scope: acme
  scopePermissions: SCOPE_PERMISSIONS_REQUIRE_PARENTAL_CONSENT_FOR_ALLOWS
  rules:
    - name: owner
      actions: [edit, view]
      effect: EFFECT_ALLOW
      roles: [user]
      condition:
        match:
          expr: R.attr.owner == P.id
      output:
        when:
          ruleActivated: '\"activated\"'
";
    let s = store(&[("root.yaml", root), ("acme.yaml", scoped)]);
    let mut req = request(&["user"], json!({}), "doc", &["edit"]);
    req["resources"][0]["resource"]["scope"] = json!("acme");
    let r = check(&s, req.clone());
    assert_eq!(
        r.actions["edit"],
        Effect::Allow,
        "the condition holds, so the parent decides"
    );
    assert_eq!(r.meta.as_ref().unwrap().actions["edit"].matched_scope, "");
    assert!(r.outputs.is_empty(), "the inverted rule did not activate");
    req["resources"][0]["resource"]["attr"]["owner"] = json!("bob");
    let r = check(&s, req);
    assert_eq!(r.actions["edit"], Effect::Deny);
    assert_eq!(
        r.meta.as_ref().unwrap().actions["edit"].matched_scope,
        "acme"
    );
    assert_eq!(
        r.outputs.len(),
        1,
        "ruleActivated fires when the condition is false"
    );
}

#[test]
fn effective_derived_roles_are_the_referenced_ones_that_apply() {
    let roles = "apiVersion: api.cerbos.dev/v1
derivedRoles:
  name: common
  definitions:
    - name: owner
      parentRoles: [user]
      condition:
        match:
          expr: R.attr.owner == P.id
    - name: unused
      parentRoles: [user]
";
    let policy = "apiVersion: api.cerbos.dev/v1
resourcePolicy:
  version: default
  resource: doc
  importDerivedRoles: [common]
  rules:
    - actions: [edit]
      effect: EFFECT_ALLOW
      derivedRoles: [owner]
";
    let s = store(&[("roles.yaml", roles), ("doc.yaml", policy)]);
    let r = check(&s, request(&["user"], json!({}), "doc", &["edit"]));
    assert_eq!(r.actions["edit"], Effect::Allow);
    assert_eq!(r.meta.unwrap().effective_derived_roles, ["owner"]);
}

/// Prints the time of one check (one resource, two actions, one CEL condition); run with --ignored
/// --nocapture in a release build to measure.
#[test]
#[ignore = "timing, not a correctness test"]
fn time_one_check() {
    let s = store(&[("doc.yaml", DOC)]);
    let req: CheckResourcesRequest = serde_json::from_value(request(
        &["user"],
        json!({"level": 1}),
        "doc",
        &["compare", "view"],
    ))
    .unwrap();
    let config = EngineConfig::default();
    let mut samples = Vec::new();
    for _ in 0..20_000 {
        let start = std::time::Instant::now();
        let response = s.check_resources(&config, &req, CheckOptions::now());
        samples.push(start.elapsed());
        assert_eq!(response.results[0].actions["compare"], Effect::Allow);
    }
    samples.sort();
    println!(
        "p50 {:?} p99 {:?}",
        samples[samples.len() / 2],
        samples[samples.len() * 99 / 100]
    );
}

#[test]
fn schemas_are_not_checked_when_every_action_is_ignored() {
    let policy = "apiVersion: api.cerbos.dev/v1
resourcePolicy:
  version: default
  resource: doc
  schemas:
    resourceSchema:
      ref: cerbos:///doc.json
      ignoreWhen:
        actions: [create, 'draft:*']
  rules:
    - actions: ['*']
      effect: EFFECT_ALLOW
      roles: [user]
";
    let schema = r#"{"type": "object", "required": ["title"]}"#;
    let s = store(&[("doc.yaml", policy), ("_schemas/doc.json", schema)]);
    let config = EngineConfig {
        schema_enforcement: lictor_cerbos::SchemaEnforcement::Reject,
        ..EngineConfig::default()
    };
    let decide = |actions: &[&str]| {
        let request: CheckResourcesRequest =
            serde_json::from_value(request(&["user"], json!({}), "doc", actions)).unwrap();
        let response = s.check_resources(&config, &request, CheckOptions::now());
        response.results.into_iter().next().unwrap()
    };
    for ignored in [&["create"][..], &["create", "draft:save"]] {
        let r = decide(ignored);
        assert!(
            r.validation_errors.is_empty(),
            "{ignored:?}: {:?}",
            r.validation_errors
        );
        assert!(
            r.actions.values().all(|e| *e == Effect::Allow),
            "{ignored:?}"
        );
    }
    // One action outside the ignored ones: the resource is validated, and rejected.
    let r = decide(&["create", "view"]);
    assert_eq!(r.validation_errors.len(), 1, "{:?}", r.validation_errors);
    assert_eq!(r.actions["view"], Effect::Deny);
    assert_eq!(r.actions["create"], Effect::Deny);
}
