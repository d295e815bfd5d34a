#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashMap;

use super::*;
use crate::api;
use chrono::{DateTime, FixedOffset};
use serde_json::json;

fn principal() -> api::Principal {
    serde_json::from_value(json!({
        "id": "john",
        "roles": ["employee"],
        "attr": {"department": "marketing", "level": 3, "teams": ["a", "b"]}
    }))
    .unwrap()
}

fn resource(attr: serde_json::Value) -> api::Resource {
    serde_json::from_value(json!({"kind": "doc", "id": "", "attr": attr})).unwrap()
}

fn now() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z").unwrap()
}

fn plan_with(
    source: &str,
    known_attr: serde_json::Value,
    variables: &HashMap<String, Expr>,
) -> Result<Residual, EvalError> {
    let principal = principal();
    let resource: api::PlanResource =
        serde_json::from_value(json!({"kind": "doc", "attr": known_attr})).unwrap();
    let request = RequestValues::for_plan(&principal, &resource, None, now(), None);
    let globals = Globals::from_json(&serde_json::Map::from_iter([(
        "environment".to_owned(),
        json!("test"),
    )]));
    let bindings = Bindings::new(&request).with_globals(&globals);
    let plan = PlanBindings::new(bindings).with_variable_exprs(variables);
    Expr::compile(source).unwrap().plan(&plan)
}

fn plan(source: &str) -> Residual {
    plan_with(source, json!({}), &HashMap::new()).unwrap_or_else(|e| panic!("{source}: {e}"))
}

fn condition(source: &str) -> serde_json::Value {
    match plan(source) {
        Residual::Condition(operand) => serde_json::to_value(operand).unwrap(),
        other => panic!("{source}: expected a condition, got {other:?}"),
    }
}

#[test]
fn known_parts_fold_away() {
    assert_eq!(plan("P.attr.level > 2"), Residual::True);
    assert_eq!(plan("P.attr.level > 5"), Residual::False);
    assert_eq!(plan(r#"R.kind == "doc""#), Residual::True);
    assert_eq!(
        plan(r#"now() > timestamp("2020-01-01T00:00:00Z")"#),
        Residual::True
    );
    assert_eq!(
        plan(r#"R.attr.owner == P.id && P.attr.level > 5"#),
        Residual::False
    );
    assert_eq!(
        plan(r#"R.attr.owner == P.id || P.attr.level > 2"#),
        Residual::True
    );
}

#[test]
fn unknown_resource_fields_stay_as_variables() {
    assert_eq!(
        condition("P.id == R.id"),
        json!({"expression": {"operator": "eq", "operands": [
            {"value": "john"}, {"variable": "request.resource.id"}]}})
    );
    assert_eq!(
        condition("R.attr.environment == G.environment"),
        json!({"expression": {"operator": "eq", "operands": [
            {"variable": "request.resource.attr.environment"}, {"value": "test"}]}})
    );
    assert_eq!(
        condition(r#"request.resource.attr.owner == P.id && P.attr.level > 2"#),
        json!({"expression": {"operator": "eq", "operands": [
            {"variable": "request.resource.attr.owner"}, {"value": "john"}]}})
    );
    assert_eq!(
        condition(r#"!(R.attr.level < P.attr.level) || R.attr.team in P.attr.teams"#),
        json!({"expression": {"operator": "or", "operands": [
            {"expression": {"operator": "not", "operands": [
                {"expression": {"operator": "lt", "operands": [
                    {"variable": "request.resource.attr.level"}, {"value": 3.0}]}}]}},
            {"expression": {"operator": "in", "operands": [
                {"variable": "request.resource.attr.team"}, {"value": ["a", "b"]}]}}]}})
    );
    assert_eq!(
        condition(r#"R.attr.name.startsWith("a")"#),
        json!({"expression": {"operator": "startsWith", "operands": [
            {"variable": "request.resource.attr.name"}, {"value": "a"}]}})
    );
    assert_eq!(
        condition(r#"R.attr.tags["x"] == 1"#),
        json!({"expression": {"operator": "eq", "operands": [
            {"expression": {"operator": "index", "operands": [
                {"variable": "request.resource.attr.tags"}, {"value": "x"}]}},
            {"value": 1}]}})
    );
    assert_eq!(
        condition(r#"R.attr.a + 1 > 2 ? R.attr.b : false"#),
        json!({"expression": {"operator": "if", "operands": [
            {"expression": {"operator": "gt", "operands": [
                {"expression": {"operator": "add", "operands": [
                    {"variable": "request.resource.attr.a"}, {"value": 1}]}},
                {"value": 2}]}},
            {"variable": "request.resource.attr.b"},
            {"value": false}]}})
    );
}

#[test]
fn comprehensions_become_lambdas() {
    assert_eq!(
        condition(r#"R.attr.tags.exists(t, t == P.id)"#),
        json!({"expression": {"operator": "exists", "operands": [
            {"variable": "request.resource.attr.tags"},
            {"expression": {"operator": "lambda", "operands": [
                {"expression": {"operator": "eq", "operands": [
                    {"variable": "t"}, {"value": "john"}]}},
                {"variable": "t"}]}}]}})
    );
    assert_eq!(
        condition(r#"R.attr.members.all(m, m.level < P.attr.level)"#),
        json!({"expression": {"operator": "all", "operands": [
            {"variable": "request.resource.attr.members"},
            {"expression": {"operator": "lambda", "operands": [
                {"expression": {"operator": "lt", "operands": [
                    {"variable": "m.level"}, {"value": 3.0}]}},
                {"variable": "m"}]}}]}})
    );
    assert_eq!(
        condition(r#"size(R.attr.tags.filter(t, t.startsWith("a"))) > 0"#)["expression"]
            ["operands"][0]["expression"]["operands"][0]["expression"]["operator"],
        json!("filter")
    );
    // A comprehension over known values only is evaluated.
    assert_eq!(plan(r#"P.attr.teams.exists(t, t == "a")"#), Residual::True);
}

#[test]
fn two_variable_comprehensions_become_two_variable_lambdas() {
    assert_eq!(
        condition(r#"R.attr.deps.all(k, v, k != v)"#),
        json!({"expression": {"operator": "all", "operands": [
            {"variable": "request.resource.attr.deps"},
            {"expression": {"operator": "lambda", "operands": [
                {"expression": {"operator": "ne", "operands": [
                    {"variable": "k"}, {"variable": "v"}]}},
                {"variable": "k"}, {"variable": "v"}]}}]}})
    );
    assert_eq!(
        condition(r#"R.attr.deps.exists(k, v, v == P.id)"#)["expression"]["operator"],
        json!("exists")
    );
}

#[test]
fn comprehensions_over_known_lists_are_unrolled_at_the_top() {
    // Each element of the principal's list gives one condition on the resource.
    assert_eq!(
        condition(r#"P.attr.teams.all(x, R.attr.team != x)"#),
        json!({"expression": {"operator": "and", "operands": [
            {"expression": {"operator": "ne", "operands": [
                {"variable": "request.resource.attr.team"}, {"value": "a"}]}},
            {"expression": {"operator": "ne", "operands": [
                {"variable": "request.resource.attr.team"}, {"value": "b"}]}}]}})
    );
    assert_eq!(
        condition(r#"P.roles.exists(x, x in R.attr.roles)"#),
        json!({"expression": {"operator": "in", "operands": [
            {"value": "employee"}, {"variable": "request.resource.attr.roles"}]}})
    );
    assert_eq!(
        plan(r#"P.attr.teams.exists(x, x == "b" || R.attr.y)"#),
        Residual::True
    );
    // Inside a lambda, a comprehension over a known list stays a lambda.
    assert_eq!(
        condition(r#"R.attr.geos.all(g, P.attr.teams.exists(x, g.startsWith(x)))"#),
        json!({"expression": {"operator": "all", "operands": [
            {"variable": "request.resource.attr.geos"},
            {"expression": {"operator": "lambda", "operands": [
                {"expression": {"operator": "exists", "operands": [
                    {"value": ["a", "b"]},
                    {"expression": {"operator": "lambda", "operands": [
                        {"expression": {"operator": "startsWith", "operands": [
                            {"variable": "g"}, {"variable": "x"}]}},
                        {"variable": "x"}]}}]}},
                {"variable": "g"}]}}]}})
    );
}

#[test]
fn times_are_written_as_calls() {
    assert_eq!(
        condition(
            r#"R.attr.sessions.all(x, timestamp(x.lastAccessed).timeSince() < duration("1h"))"#
        ),
        json!({"expression": {"operator": "all", "operands": [
            {"variable": "request.resource.attr.sessions"},
            {"expression": {"operator": "lambda", "operands": [
                {"expression": {"operator": "lt", "operands": [
                    {"expression": {"operator": "timeSince", "operands": [
                        {"expression": {"operator": "timestamp", "operands": [
                            {"variable": "x.lastAccessed"}]}}]}},
                    {"expression": {"operator": "duration", "operands": [
                        {"value": "3600s"}]}}]}},
                {"variable": "x"}]}}]}})
    );
    assert_eq!(
        condition(r#"timestamp(R.attr.created) > timestamp("2020-01-01T00:00:00Z")"#),
        json!({"expression": {"operator": "gt", "operands": [
            {"expression": {"operator": "timestamp", "operands": [
                {"variable": "request.resource.attr.created"}]}},
            {"expression": {"operator": "timestamp", "operands": [
                {"value": "2020-01-01T00:00:00Z"}]}}]}})
    );
    assert_eq!(
        plan(r#"["2012-01-21T17:34:12.024Z"].all(x, timestamp(x) < now())"#),
        Residual::True
    );
}

#[test]
fn known_attributes_are_used_and_variables_inlined() {
    let mut variables = HashMap::new();
    variables.insert(
        "is_owner".to_owned(),
        Expr::compile("R.attr.owner == P.id").unwrap(),
    );
    variables.insert(
        "same_department".to_owned(),
        Expr::compile("R.attr.department == P.attr.department").unwrap(),
    );
    let residual = plan_with(
        "V.same_department && variables.is_owner",
        json!({"department": "marketing"}),
        &variables,
    )
    .unwrap();
    assert_eq!(
        residual,
        Residual::Condition(Operand::Expression(FilterExpression {
            operator: "eq".to_owned(),
            operands: vec![
                Operand::Variable("request.resource.attr.owner".to_owned()),
                Operand::Value(json!("john")),
            ],
        }))
    );
    let residual = plan_with(
        "V.same_department",
        json!({"department": "sales"}),
        &variables,
    )
    .unwrap();
    assert_eq!(residual, Residual::False);
    let mut cyclic = HashMap::new();
    cyclic.insert("a".to_owned(), Expr::compile("V.a").unwrap());
    assert!(plan_with("V.a", json!({}), &cyclic).is_err());
}

#[test]
fn membership_in_a_known_map_is_among_its_keys() {
    assert_eq!(
        condition(r#"R.attr.team in {"b": 2, "a": 1}"#),
        json!({"expression": {"operator": "in", "operands": [
            {"variable": "request.resource.attr.team"}, {"value": ["a", "b"]}]}})
    );
}

#[test]
fn directory_checks_stay_in_the_plan() {
    assert_eq!(
        condition(r#"lictor.check("user:" + P.id, "reader", "doc:" + R.id)"#),
        json!({"expression": {"operator": "lictor.check", "operands": [
            {"value": "user:john"}, {"value": "reader"},
            {"expression": {"operator": "add", "operands": [
                {"value": "doc:"}, {"variable": "request.resource.id"}]}}]}})
    );
}

#[test]
fn operands_read_back_from_cerbos_json() {
    let text = r#"{"expression":{"operator":"and","operands":[{"variable":"request.resource.attr.a"},{"value":[1,"x"]}]}}"#;
    let operand: Operand = serde_json::from_str(text).unwrap();
    assert_eq!(serde_json::to_string(&operand).unwrap(), text);
}

/// Evaluates a residual against concrete attributes: the test's reference reading of Cerbos's
/// operators.
fn eval_operand(
    operand: &Operand,
    resource: &serde_json::Value,
    locals: &HashMap<String, serde_json::Value>,
) -> Option<serde_json::Value> {
    match operand {
        Operand::Value(v) => Some(v.clone()),
        Operand::Variable(name) => {
            let mut parts = name.split('.');
            let mut value = match parts.next()? {
                "request" => {
                    assert_eq!(parts.next(), Some("resource"));
                    resource.clone()
                }
                local => locals.get(local)?.clone(),
            };
            for part in parts {
                value = value.get(part)?.clone();
            }
            Some(value)
        }
        Operand::Expression(op) => {
            let args: Vec<_> = op
                .operands
                .iter()
                .map(|o| eval_operand(o, resource, locals))
                .collect();
            let num = |v: &Option<serde_json::Value>| v.as_ref()?.as_f64();
            let boolean = |v: &Option<serde_json::Value>| v.as_ref()?.as_bool();
            Some(match op.operator.as_str() {
                "and" => json!(args.iter().all(|a| boolean(a) == Some(true))),
                "or" => json!(args.iter().any(|a| boolean(a) == Some(true))),
                "not" => json!(!boolean(&args[0])?),
                "eq" => json!(
                    args[0].as_ref()? == args[1].as_ref()?
                        || (num(&args[0]).is_some() && num(&args[0]) == num(&args[1]))
                ),
                "ne" => json!(
                    !(args[0].as_ref()? == args[1].as_ref()?
                        || (num(&args[0]).is_some() && num(&args[0]) == num(&args[1])))
                ),
                "lt" => json!(num(&args[0])? < num(&args[1])?),
                "le" => json!(num(&args[0])? <= num(&args[1])?),
                "gt" => json!(num(&args[0])? > num(&args[1])?),
                "ge" => json!(num(&args[0])? >= num(&args[1])?),
                "add" => json!(num(&args[0])? + num(&args[1])?),
                "in" => json!(args[1].as_ref()?.as_array()?.contains(args[0].as_ref()?)),
                other => panic!("operator {other} not in the reference evaluator"),
            })
        }
    }
}

/// A small deterministic generator (no seed file, same cases every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n
    }
}

fn random_condition(rng: &mut Lcg, depth: usize) -> String {
    let leaves = [
        "R.attr.a > P.attr.level",
        "R.attr.a == 2.0",
        "R.attr.b == P.id",
        "R.attr.b in [\"john\", \"jane\"]",
        "P.attr.level >= 3",
        "P.id == \"nobody\"",
        "R.attr.a + 1.0 <= 3.0",
        "R.attr.b != \"x\"",
        "R.attr.c",
        "true",
        "[\"john\", \"x\"].exists(t, R.attr.b == t)",
        "[1.0, 2.0].all(n, R.attr.a > n || P.attr.level < n)",
        "timestamp(\"2020-01-01T00:00:00Z\") < now() && R.attr.a != 3.0",
    ];
    if depth == 0 || rng.next(3) == 0 {
        return leaves[rng.next(leaves.len())].to_owned();
    }
    let left = random_condition(rng, depth - 1);
    let right = random_condition(rng, depth - 1);
    match rng.next(3) {
        0 => format!("({left} && {right})"),
        1 => format!("({left} || {right})"),
        _ => format!("!({left})"),
    }
}

#[test]
fn residuals_agree_with_full_evaluation() {
    let mut rng = Lcg(7);
    let principal = principal();
    let attribute_sets: Vec<serde_json::Value> = [1.0, 2.0, 3.0, 4.0]
        .iter()
        .flat_map(|a| {
            ["john", "jane", "x"].iter().flat_map(move |b| {
                [true, false]
                    .iter()
                    .map(move |c| json!({"a": a, "b": b, "c": c}))
            })
        })
        .collect();
    let mut compared = 0;
    let mut conditions = 0;
    for _ in 0..300 {
        let source = random_condition(&mut rng, 4);
        let expr = Expr::compile(&source).unwrap();
        let residual = plan_with(&source, json!({}), &HashMap::new())
            .unwrap_or_else(|e| panic!("{source}: {e}"));
        conditions += usize::from(matches!(residual, Residual::Condition(_)));
        for attrs in &attribute_sets {
            let resource = resource(attrs.clone());
            let request = RequestValues::new(&principal, &resource, None, now(), None);
            let full = expr.eval_bool(&Bindings::new(&request)).unwrap();
            let planned = match &residual {
                Residual::True => true,
                Residual::False => false,
                Residual::Condition(operand) => {
                    eval_operand(operand, &json!({"attr": attrs}), &HashMap::new())
                        .and_then(|v| v.as_bool())
                        .unwrap_or_else(|| panic!("{source}: residual {operand:?} failed"))
                }
            };
            assert_eq!(
                planned, full,
                "{source} with {attrs}: residual {residual:?}"
            );
            compared += 1;
        }
    }
    assert_eq!(compared, 300 * attribute_sets.len());
    // Most generated conditions read the unknown resource: the residuals are exercised.
    assert!(conditions > 150, "only {conditions} residual conditions");
}
