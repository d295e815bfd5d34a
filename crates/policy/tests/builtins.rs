//! Each `ds.*` built-in: found, not found, and bad arguments.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::demo_directory;
use lictor_policy::{EvalContext, PolicyError, PolicySet};
use serde_json::{json, Value};
use std::sync::Arc;

fn policies() -> PolicySet {
    PolicySet::from_modules(vec![(
        "probe.rego".to_string(),
        "package probe\n\nanswer := ds.check(input.args)\n".to_string(),
    )])
    .unwrap()
}

/// Evaluates one expression with the demo directory; its value, or `None` when undefined.
fn eval(expression: &str) -> Result<Option<Value>, PolicyError> {
    let ctx = EvalContext::new(Arc::new(demo_directory()), json!({}));
    let answer = policies().query(&ctx, &format!("x := {expression}"))?;
    Ok(answer
        .as_array()
        .unwrap()
        .first()
        .map(|result| result["bindings"]["x"].clone()))
}

fn value(expression: &str) -> Value {
    eval(expression)
        .unwrap_or_else(|e| panic!("{expression}: {e}"))
        .unwrap_or_else(|| panic!("{expression}: undefined"))
}

fn error(expression: &str) -> String {
    match eval(expression) {
        Err(error) => error.to_string(),
        Ok(value) => panic!("{expression}: expected an error, got {value:?}"),
    }
}

#[test]
fn check_answers_from_the_directory() {
    let check = |object: &str, relation: &str, subject: &str| {
        let (ot, oi) = object.split_once(':').unwrap();
        let (st, si) = subject.split_once(':').unwrap();
        value(&format!(
            r#"ds.check({{"object_type": "{ot}", "object_id": "{oi}", "relation": "{relation}", "subject_type": "{st}", "subject_id": "{si}"}})"#
        ))
    };
    assert_eq!(
        check("group:admin", "member", "user:rick@the-citadel.com"),
        json!(true)
    );
    assert_eq!(
        check("group:viewer", "member", "user:rick@the-citadel.com"),
        json!(true)
    );
    assert_eq!(
        check("group:admin", "member", "user:jerry@the-smiths.com"),
        json!(false)
    );
    // Unknown objects are simply not related.
    assert_eq!(
        check("group:nope", "member", "user:rick@the-citadel.com"),
        json!(false)
    );
    assert_eq!(check("group:admin", "member", "user:nobody"), json!(false));
    // Permissions through identities.
    assert_eq!(
        check(
            "resource:todo-rick",
            "can_delete",
            "identity:rick@the-citadel.com"
        ),
        json!(true)
    );
    // The v2-era names.
    assert_eq!(
        value(
            r#"ds.check_relation({"object_type": "group", "object_id": "admin", "relation": "member", "subject_type": "user", "subject_id": "rick@the-citadel.com"})"#
        ),
        json!(true)
    );
    assert_eq!(
        value(
            r#"ds.check_permission({"object_type": "resource", "object_id": "todo-rick", "permission": "can_write", "subject_type": "user", "subject_id": "rick@the-citadel.com"})"#
        ),
        json!(true)
    );
    // An empty request answers with its usage.
    assert!(value("ds.check({})")
        .as_str()
        .unwrap()
        .starts_with("ds.check("));
}

#[test]
fn check_rejects_bad_arguments() {
    let text = error(
        r#"ds.check({"object_type": "group", "object_id": "admin", "relation": "member", "subject_type": "user"})"#,
    );
    assert!(
        text.contains("ds.check") && text.contains("`subject_id` is required"),
        "{text}"
    );
    let text = error(
        r#"ds.check({"object_type": "planet", "object_id": "earth", "relation": "member", "subject_type": "user", "subject_id": "x"})"#,
    );
    assert!(
        text.contains("ds.check") && text.contains("unknown object type `planet`"),
        "{text}"
    );
    let text = error(
        r#"ds.check({"object_type": "group", "object_id": "admin", "relation": "owner", "subject_type": "user", "subject_id": "x"})"#,
    );
    assert!(
        text.contains("ds.check") && text.contains("`owner`"),
        "{text}"
    );
    let text = error(
        r#"ds.check({"object_type": "group", "object_id": 7, "relation": "member", "subject_type": "user", "subject_id": "x"})"#,
    );
    assert!(
        text.contains("`object_id` must be a string, not a number"),
        "{text}"
    );
    let text = error(r#"ds.check("group:admin")"#);
    assert!(
        text.contains("ds.check: argument must be an object, not a string"),
        "{text}"
    );
    // The error points into the query.
    assert!(text.starts_with("invalid query: 1:14: "), "{text}");
}

#[test]
fn lenient_mode_makes_failed_builtins_undefined() {
    let mut policies = PolicySet::from_modules(vec![(
        "p.rego".to_string(),
        "package p\n\ndefault allowed := false\n\nallowed if ds.check(input.args)\n".to_string(),
    )])
    .unwrap();
    let args = json!({"args": {"object_type": "planet", "object_id": "earth", "relation": "member", "subject_type": "user", "subject_id": "x"}});
    let ctx = EvalContext::new(Arc::new(demo_directory()), args);
    let decisions = vec!["allowed".to_string()];
    let error = policies.is(&ctx, "p", &decisions).unwrap_err();
    assert!(error.to_string().contains("p.rego:5:"), "{error}");
    policies.set_lenient_builtin_errors(true);
    assert_eq!(
        policies.is(&ctx, "p", &decisions).unwrap(),
        vec![("allowed".to_string(), false)]
    );
}

#[test]
fn checks_runs_many_with_defaults() {
    let answer = value(
        r#"ds.checks({
            "default": {"object_type": "group", "relation": "member", "subject_type": "user", "subject_id": "summer@the-smiths.com"},
            "checks": [
                {"object_id": "editor"},
                {"object_id": "admin"},
                {"object_id": "viewer"},
                {"object_type": "planet", "object_id": "earth"}
            ]
        })"#,
    );
    assert_eq!(answer[0], json!({"check": true, "trace": []}));
    assert_eq!(answer[1], json!({"check": false, "trace": []}));
    assert_eq!(answer[2], json!({"check": true, "trace": []}));
    assert_eq!(answer[3]["check"], json!(false));
    assert!(answer[3]["context"]["reason"]
        .as_str()
        .unwrap()
        .contains("planet"));
    assert!(value("ds.checks({})")
        .as_str()
        .unwrap()
        .starts_with("ds.checks("));
    let text = error(r#"ds.checks({"checks": "all"})"#);
    assert!(
        text.contains("ds.checks: field `checks` must be an array"),
        "{text}"
    );
}

#[test]
fn identity_resolves_to_its_user() {
    assert_eq!(
        value(r#"ds.identity({"id": "rick@the-citadel.com"})"#),
        json!("rick@the-citadel.com")
    );
    assert_eq!(
        value(
            r#"ds.identity({"id": "CiRmZDE2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs"})"#
        ),
        json!("morty@the-citadel.com")
    );
    // Not found: an empty object, as Topaz answers.
    assert_eq!(
        value(r#"ds.identity({"id": "nobody@example.com"})"#),
        json!({})
    );
    assert!(value(r#"ds.identity({})"#)
        .as_str()
        .unwrap()
        .starts_with("ds.identity("));
    let text = error(r#"ds.identity({"id": 1})"#);
    assert!(
        text.contains("ds.identity: field `id` must be a string"),
        "{text}"
    );
}

#[test]
fn user_returns_the_user_object() {
    let user = value(r#"ds.user({"id": "beth@the-smiths.com"})"#);
    assert_eq!(user["type"], json!("user"));
    assert_eq!(user["id"], json!("beth@the-smiths.com"));
    assert_eq!(user["display_name"], json!("Beth Smith"));
    assert_eq!(user["properties"]["email"], json!("beth@the-smiths.com"));
    assert!(!user["etag"].as_str().unwrap().is_empty());
    assert_eq!(value(r#"ds.user({"id": "nobody"})"#), json!({}));
    let text = error(r#"ds.user(["beth"])"#);
    assert!(
        text.contains("ds.user: argument must be an object, not an array"),
        "{text}"
    );
}

#[test]
fn object_returns_the_object_and_optionally_its_relations() {
    let group = value(r#"ds.object({"object_type": "group", "object_id": "editor"})"#);
    assert_eq!(group["type"], json!("group"));
    assert_eq!(group["display_name"], json!("editor-group"));
    assert_eq!(group["relations"], json!([]));
    let group = value(
        r#"ds.object({"object_type": "group", "object_id": "editor", "with_relations": true})"#,
    );
    let relations = group["relations"].as_array().unwrap();
    // Subject of: viewer#member@group:editor#member, resource:todo-morty#writer@group:editor#member.
    // Object of: its three members.
    assert_eq!(relations.len(), 5, "{relations:?}");
    assert_eq!(relations[0]["subject_id"], json!("editor"));
    assert!(relations
        .iter()
        .any(|r| r["object_id"] == json!("editor") && r["subject_id"] == json!("admin")));
    assert_eq!(
        value(r#"ds.object({"object_type": "group", "object_id": "nope"})"#),
        json!({})
    );
    let text = error(r#"ds.object({"object_type": "group"})"#);
    assert!(
        text.contains("ds.object: field `object_id` is required"),
        "{text}"
    );
    let text = error(r#"ds.object({"object_type": "planet", "object_id": "x"})"#);
    assert!(
        text.contains("ds.object: unknown object type `planet`"),
        "{text}"
    );
    let text =
        error(r#"ds.object({"object_type": "group", "object_id": "x", "with_relations": "yes"})"#);
    assert!(
        text.contains("`with_relations` must be a boolean"),
        "{text}"
    );
}

#[test]
fn relation_finds_exactly_one_tuple() {
    let found = value(
        r#"ds.relation({"object_type": "user", "relation": "identifier", "subject_type": "identity", "subject_id": "jerry@the-smiths.com", "with_objects": true})"#,
    );
    assert_eq!(
        found["result"],
        json!({
            "object_type": "user", "object_id": "jerry@the-smiths.com", "relation": "identifier",
            "subject_type": "identity", "subject_id": "jerry@the-smiths.com", "subject_relation": "",
            "etag": found["result"]["etag"].clone(),
        })
    );
    assert_eq!(
        found["objects"]["user:jerry@the-smiths.com"]["display_name"],
        json!("Jerry Smith")
    );
    assert!(found["objects"]["identity:jerry@the-smiths.com"].is_object());
    let plain = value(
        r#"ds.relation({"object_type": "group", "object_id": "admin", "relation": "member", "subject_type": "user", "subject_id": "rick@the-citadel.com"})"#,
    );
    assert_eq!(plain["objects"], json!({}));
    assert_eq!(
        value(
            r#"ds.relation({"object_type": "group", "object_id": "admin", "relation": "member", "subject_type": "user", "subject_id": "jerry@the-smiths.com"})"#
        ),
        json!({})
    );
    let text = error(
        r#"ds.relation({"object_type": "group", "object_id": "editor", "relation": "member"})"#,
    );
    assert!(text.contains("ds.relation: 3 relations match"), "{text}");
    let text = error(r#"ds.relation({"object_id": "editor"})"#);
    assert!(
        text.contains("ds.relation: field `object_type` is required"),
        "{text}"
    );
}

#[test]
fn relations_lists_matching_tuples() {
    let found = value(
        r#"ds.relations({"object_type": "group", "object_id": "editor", "relation": "member"})"#,
    );
    let results = found["results"].as_array().unwrap();
    let subjects: Vec<&str> = results
        .iter()
        .map(|r| r["subject_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        subjects,
        ["admin", "morty@the-citadel.com", "summer@the-smiths.com"]
    );
    assert_eq!(results[0]["subject_relation"], json!("member"));
    assert_eq!(found["objects"], json!({}));

    // Subject-side filter; only direct user members with with_empty_subject_relation.
    let found = value(
        r#"ds.relations({"object_type": "group", "subject_type": "user", "subject_id": "rick@the-citadel.com", "with_objects": true})"#,
    );
    let objects: Vec<&str> = found["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["object_id"].as_str().unwrap())
        .collect();
    assert_eq!(objects, ["admin", "evil_genius"]);
    assert_eq!(
        found["objects"]["group:admin"]["display_name"],
        json!("admin-group")
    );
    let found = value(
        r#"ds.relations({"object_type": "group", "relation": "member", "with_empty_subject_relation": true})"#,
    );
    assert!(found["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["subject_relation"] == json!("")));
    assert_eq!(found["results"].as_array().unwrap().len(), 6);

    // Nothing matches: an empty object, as Topaz answers.
    assert_eq!(
        value(r#"ds.relations({"object_type": "group", "object_id": "nope"})"#),
        json!({})
    );
    let text = error(r#"ds.relations({"subject_type": "planet"})"#);
    assert!(
        text.contains("ds.relations: unknown object type `planet`"),
        "{text}"
    );
}

#[test]
fn graph_finds_objects_or_subjects() {
    let objects = value(
        r#"ds.graph({"object_type": "group", "relation": "member", "subject_type": "user", "subject_id": "summer@the-smiths.com"})"#,
    );
    assert_eq!(
        objects,
        json!({"results": [
            {"object_type": "group", "object_id": "editor"},
            {"object_type": "group", "object_id": "viewer"},
        ]})
    );
    let subjects = value(
        r#"ds.graph({"object_type": "resource", "object_id": "todo-morty", "relation": "can_write", "subject_type": "user"})"#,
    );
    let ids: Vec<&str> = subjects["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["object_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "morty@the-citadel.com",
            "rick@the-citadel.com",
            "summer@the-smiths.com"
        ]
    );
    assert_eq!(
        value(
            r#"ds.graph({"object_type": "group", "relation": "member", "subject_type": "user", "subject_id": "nobody"})"#
        ),
        json!({"results": []})
    );
    let text = error(
        r#"ds.graph({"object_type": "group", "object_id": "admin", "relation": "member", "subject_type": "user", "subject_id": "x"})"#,
    );
    assert!(text.contains("ds.graph: exactly one of"), "{text}");
    let text = error(
        r#"ds.graph({"object_type": "group", "object_id": "admin", "subject_type": "user"})"#,
    );
    assert!(
        text.contains("ds.graph: field `relation` is required"),
        "{text}"
    );
}

#[test]
fn every_builtin_is_registered() {
    let names: Vec<&str> = lictor_policy::builtin_names().collect();
    for name in [
        "ds.check",
        "ds.checks",
        "ds.graph",
        "ds.identity",
        "ds.object",
        "ds.relation",
        "ds.relations",
        "ds.user",
    ] {
        assert!(names.contains(&name), "{name}");
    }
}

#[test]
fn explained_is_lists_rules_and_directory_calls() {
    let policies = PolicySet::from_modules(vec![(
        "explained.rego".to_string(),
        r#"package explained

default allowed := false

allowed if {
	ds.check({"object_type": "group", "object_id": "admin", "relation": "member", "subject_type": "user", "subject_id": input.user.id})
	ds.check({"object_type": "group", "object_id": "admin", "relation": "member", "subject_type": "user", "subject_id": input.user.id})
}

visible if input.user.id == "nobody"

enabled := ds.check({"object_type": 1})

limit(x) := x
"#
        .to_string(),
    )])
    .unwrap();
    let explain = |user: &str| {
        let ctx = EvalContext::new(Arc::new(demo_directory()), json!({"user": {"id": user}}));
        policies
            .explain_is(&ctx, "explained", &["allowed".to_string()])
            .unwrap()
    };
    let rick = explain("rick@the-citadel.com");
    assert_eq!(rick.decisions, vec![("allowed".to_string(), true)]);
    let rules: Vec<(&str, Option<Value>)> = rick
        .rules
        .iter()
        .map(|r| (r.rule.as_str(), r.value.clone()))
        .collect();
    // Functions are not rules with a value; an undefined rule is listed without one.
    assert_eq!(
        rules,
        vec![
            ("allowed", Some(json!(true))),
            ("visible", None),
            ("enabled", None)
        ]
    );
    // The same call twice is one call; a failing built-in says why.
    assert_eq!(rick.calls.len(), 2, "{:?}", rick.calls);
    assert_eq!(rick.calls[0].builtin, "ds.check");
    assert_eq!(rick.calls[0].result, json!(true));
    assert_eq!(rick.calls[0].argument["subject_id"], "rick@the-citadel.com");
    assert_eq!(rick.calls[1].builtin, "ds.check");
    let failure = rick.calls[1].error.as_deref().unwrap();
    assert!(failure.contains("object_type"), "{failure}");
    assert!(rick.rules[2]
        .error
        .as_deref()
        .unwrap()
        .contains("object_type"));

    let beth = explain("beth@the-smiths.com");
    assert_eq!(beth.decisions, vec![("allowed".to_string(), false)]);
    assert_eq!(beth.rules[0].value, Some(json!(false)));
    assert_eq!(beth.calls[0].result, json!(false));
    // An unexplained evaluation afterwards records nothing and answers the same.
    let ctx = EvalContext::new(
        Arc::new(demo_directory()),
        json!({"user": {"id": "rick@the-citadel.com"}}),
    );
    assert_eq!(
        policies
            .is(&ctx, "explained", &["allowed".to_string()])
            .unwrap(),
        vec![("allowed".to_string(), true)]
    );
}
