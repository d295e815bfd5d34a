//! Compile (partial evaluation): residual queries in OPA's AST JSON, checked against full
//! evaluation: for every concrete resource, the residual queries hold exactly when the policy allows.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use lictor_directory::Directory;
use lictor_policy::{EvalContext, PolicyError, PolicySet};
use serde_json::{json, Value};
use std::sync::Arc;

const DOCS: &str = r#"package docs
import rego.v1

default allowed := false

admins := {"beth"}

allowed if input.user.id in admins

allowed if input.resource.owner == input.user.id

allowed if {
    input.resource.public == true
    not input.resource.archived
}

allowed if {
    some team in input.user.teams
    input.resource.team == team
    input.resource.level <= input.user.clearance
}

tagged if input.resource.tags[_] == "shared"

shared_with_me if {
    tagged
    input.resource.status != "draft"
}
"#;

const HELPERS: &str = r#"package helpers
import rego.v1

deny_all := false

prefix := "/reports/"

in_reports if startswith(input.resource.path, prefix)
"#;

fn policies() -> PolicySet {
    PolicySet::from_modules(vec![
        ("docs.rego".into(), DOCS.into()),
        ("helpers.rego".into(), HELPERS.into()),
    ])
    .unwrap()
}

fn ctx(input: Value) -> EvalContext {
    EvalContext::new(Arc::new(Directory::new()), input)
}

fn compile(query: &str, user: Value) -> Result<Value, PolicyError> {
    policies().compile(
        &ctx(json!({ "user": user })),
        query,
        &["input.resource".to_string()],
    )
}

fn rick() -> Value {
    json!({"id": "rick", "teams": ["science", "ops"], "clearance": 3})
}

/// A term of a residual query, with `input.resource` bound to `resource`.
fn term(t: &Value, resource: &Value) -> Option<Value> {
    match t["type"].as_str().unwrap() {
        "ref" => {
            let steps = t["value"].as_array().unwrap();
            assert_eq!(steps[0], json!({"type": "var", "value": "input"}));
            assert_eq!(steps[1], json!({"type": "string", "value": "resource"}));
            let mut v = resource.clone();
            for step in &steps[2..] {
                v = v.get(step["value"].as_str().unwrap())?.clone();
            }
            Some(v)
        }
        "null" => Some(Value::Null),
        _ => Some(t["value"].clone()),
    }
}

/// Whether one residual expression holds for `resource`.
fn holds(expr: &Value, resource: &Value) -> bool {
    let terms = &expr["terms"];
    let result = if terms.is_object() {
        !matches!(term(terms, resource), None | Some(Value::Bool(false)))
    } else {
        let op: Vec<&str> = terms[0]["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["value"].as_str().unwrap())
            .collect();
        let args: Vec<Option<Value>> = terms.as_array().unwrap()[1..]
            .iter()
            .map(|t| term(t, resource))
            .collect();
        match (
            op.join(".").as_str(),
            args[0].as_ref(),
            args.get(1).and_then(Option::as_ref),
        ) {
            (_, None, _) => false,
            ("equal" | "eq", Some(a), Some(b)) => a == b,
            ("neq", Some(a), Some(b)) => a != b,
            ("lte", Some(a), Some(b)) => a.as_f64().unwrap() <= b.as_f64().unwrap(),
            ("startswith", Some(a), Some(b)) => {
                a.as_str().unwrap().starts_with(b.as_str().unwrap())
            }
            (other, _, _) => panic!("operator {other} not expected"),
        }
    };
    result != expr["negated"].as_bool().unwrap_or(false)
}

fn residual_allows(result: &Value, resource: &Value) -> bool {
    result["queries"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|query| query.as_array().unwrap().iter().all(|e| holds(e, resource)))
}

fn resources() -> Vec<Value> {
    let mut all = Vec::new();
    for owner in ["rick", "morty"] {
        for public in [json!(true), json!(false), Value::Null] {
            for archived in [json!(true), Value::Null] {
                for team in ["science", "art"] {
                    for level in [1, 5] {
                        let mut r = json!({"owner": owner, "team": team, "level": level});
                        if !public.is_null() {
                            r["public"] = public.clone();
                        }
                        if !archived.is_null() {
                            r["archived"] = archived.clone();
                        }
                        all.push(r);
                    }
                }
            }
        }
    }
    all
}

#[test]
fn residual_queries_agree_with_full_evaluation_for_every_resource() {
    let set = policies();
    let result = compile("data.docs.allowed == true", rick()).unwrap();
    let queries = result["queries"].as_array().unwrap();
    // owner, public-and-not-archived, and one per team of rick's.
    assert_eq!(queries.len(), 4, "{result:#}");
    for resource in resources() {
        let full = set
            .query(
                &ctx(json!({"user": rick(), "resource": resource})),
                "data.docs.allowed",
            )
            .unwrap()[0]["expressions"][0]["value"]
            .clone();
        assert_eq!(
            residual_allows(&result, &resource),
            full == json!(true),
            "resource {resource} residual {result:#}"
        );
    }
}

#[test]
fn the_residual_is_opa_ast_json() {
    let result = compile("data.docs.allowed", json!({"id": "morty", "teams": []})).unwrap();
    let queries = result["queries"].as_array().unwrap();
    assert_eq!(
        queries[0],
        json!([{
            "index": 0,
            "terms": [
                {"type": "ref", "value": [{"type": "var", "value": "equal"}]},
                {"type": "ref", "value": [
                    {"type": "var", "value": "input"},
                    {"type": "string", "value": "resource"},
                    {"type": "string", "value": "owner"}
                ]},
                {"type": "string", "value": "morty"}
            ]
        }])
    );
    assert_eq!(
        queries[1][1],
        json!({
            "index": 1,
            "negated": true,
            "terms": {"type": "ref", "value": [
                {"type": "var", "value": "input"},
                {"type": "string", "value": "resource"},
                {"type": "string", "value": "archived"}
            ]}
        })
    );
}

#[test]
fn known_parts_decide_without_residuals() {
    // An administrator may read everything: one empty query.
    let admin = compile("data.docs.allowed", json!({"id": "beth"})).unwrap();
    assert_eq!(admin, json!({"queries": [[]]}));
    // A rule that reads no unknown is evaluated whole: never true here.
    assert_eq!(compile("data.helpers.deny_all", rick()).unwrap(), json!({}));
    // Known calls are evaluated by the engine, unknown ones stay as conditions.
    let reports = compile("data.helpers.in_reports", rick()).unwrap();
    assert_eq!(
        reports["queries"][0][0]["terms"][0]["value"][0]["value"],
        "startswith"
    );
    assert_eq!(reports["queries"][0][0]["terms"][2]["value"], "/reports/");
}

#[test]
fn iteration_over_an_unknown_keeps_its_variable_and_rules_nest() {
    let result = compile("data.docs.shared_with_me", rick()).unwrap();
    let query = &result["queries"][0];
    assert_eq!(query.as_array().unwrap().len(), 2, "{result:#}");
    let tags = &query[0]["terms"][1]["value"];
    assert_eq!(tags[2], json!({"type": "string", "value": "tags"}));
    assert_eq!(tags[3], json!({"type": "var", "value": "_"}));
    assert_eq!(query[1]["terms"][0]["value"][0]["value"], "neq");
}

#[test]
fn unsupported_constructs_and_bad_input_are_named() {
    let set = PolicySet::from_modules(vec![(
        "fn.rego".into(),
        "package f\nimport rego.v1\nallowed if count(input.resource.tags) > 2\n".into(),
    )])
    .unwrap();
    let error = set
        .compile(
            &ctx(json!({})),
            "data.f.allowed",
            &["input.resource".to_string()],
        )
        .unwrap_err()
        .to_string();
    assert!(error.contains("fn.rego:3:"), "{error}");
    assert!(error.contains("count(input.resource.tags)"), "{error}");

    let error = compile("data.docs.allowed ==", rick())
        .unwrap_err()
        .to_string();
    assert!(!error.is_empty());
    let error = policies()
        .compile(
            &ctx(json!({})),
            "data.docs.allowed",
            &["data.x".to_string()],
        )
        .unwrap_err()
        .to_string();
    assert!(error.contains("data.x"), "{error}");
    let error = compile("  ", rick()).unwrap_err().to_string();
    assert!(error.contains("query"), "{error}");
}

#[test]
fn brackets_nested_too_deep_are_refused_before_parsing() {
    // Each level doubles the Rego parser's time: 16 levels take tens of seconds.
    let deep = format!("x := {}1{}", "[".repeat(16), "]".repeat(16));
    let started = std::time::Instant::now();
    let expected = "invalid query: 1:14: brackets nest deeper than 8 levels";
    let error = compile(&deep, rick()).unwrap_err();
    assert_eq!(error.to_string(), expected);
    let error = policies().query(&ctx(json!({})), &deep).unwrap_err();
    assert_eq!(error.to_string(), expected);
    assert!(started.elapsed() < std::time::Duration::from_secs(1));

    // Eight levels, and brackets in strings and comments, are fine.
    let eight = format!("x := {}1{}", "[".repeat(8), "]".repeat(8));
    let answer = policies().query(&ctx(json!({})), &eight).unwrap();
    assert_eq!(answer[0]["bindings"]["x"], json!([[[[[[[[1]]]]]]]]));
    let quoted = "x := \"[[[[[[[[[[\" # [[[[[[[[[[\ny := `[[[[[[[[[[`";
    let answer = policies().query(&ctx(json!({})), quoted).unwrap();
    assert_eq!(answer[0]["bindings"]["y"], json!("[[[[[[[[[["));
}
