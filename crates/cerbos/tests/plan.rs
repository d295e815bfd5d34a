//! PlanResources: known answers (cases after Cerbos's query-planner test data) and a property test that
//! evaluates generated plans on concrete resources and compares with CheckResources.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use lictor_cerbos::api::{
    CheckResourcesRequest, Effect, FilterKind, Operand, PlanResourcesRequest, PlanResourcesResponse,
};
use lictor_cerbos::{compile, CheckOptions, EngineConfig, PolicyFile, PolicyStore};
use proptest::prelude::*;
use serde_json::{json, Value};

fn store(files: &[(String, String)]) -> PolicyStore {
    let files: Vec<PolicyFile> = files
        .iter()
        .map(|(p, t)| PolicyFile {
            path: p.clone(),
            text: t.clone(),
        })
        .collect();
    compile(&files).unwrap_or_else(|e| panic!("{e}"))
}

fn config() -> EngineConfig {
    let mut config = EngineConfig::default();
    config
        .globals
        .insert("environment".to_owned(), json!("test"));
    config
}

fn options() -> CheckOptions<'static> {
    CheckOptions {
        now: chrono::DateTime::parse_from_rfc3339("2024-01-16T10:18:27.395716+13:00").unwrap(),
        aux_data: None,
        relations: None,
        deadline: None,
    }
}

fn plan(store: &PolicyStore, request: Value) -> PlanResourcesResponse {
    let request: PlanResourcesRequest = serde_json::from_value(request).unwrap();
    store.plan_resources(&config(), &request, options())
}

/// The filter as JSON: `{"kind": ..., "condition": ...}`.
fn filter(response: &PlanResourcesResponse) -> Value {
    serde_json::to_value(response.filter.as_ref().unwrap()).unwrap()
}

// ---------------------------------------------------------------------------------------------------
// Known answers: the policies and expectations follow cases of Cerbos's query_planner suite
// (basics, scoped basics, derived roles); the files are written for these tests.

const BASICS: &str = r#"
apiVersion: api.cerbos.dev/v1
resourcePolicy:
  version: default
  resource: x
  rules:
    - actions: [write]
      effect: EFFECT_ALLOW
      roles: [USER]
      condition:
        match:
          expr: P.attr.userQid == R.id
    - actions: [reference_globals]
      effect: EFFECT_ALLOW
      roles: [USER]
      condition:
        match:
          expr: R.attr.environment == G.environment
    - actions: [now-once]
      effect: EFFECT_ALLOW
      roles: [USER]
      condition:
        match:
          expr: now() == timestamp("2024-01-16T10:18:27.395716+13:00") && now() == now()
    - actions: [lecture]
      effect: EFFECT_DENY
      roles: [USER]
      condition:
        match:
          expr: R.attr.degree != "master's"
"#;

fn basics_request(actions: &[&str]) -> Value {
    json!({"requestId": "t", "includeMeta": true, "actions": actions,
           "principal": {"id": "user123", "roles": ["USER"], "attr": {"userQid": "z0"}},
           "resource": {"kind": "x", "policyVersion": "default"}})
}

fn basics() -> PolicyStore {
    store(&[("x.yaml".into(), BASICS.into())])
}

#[test]
fn a_condition_on_the_resource_id_becomes_a_filter() {
    let response = plan(&basics(), basics_request(&["write"]));
    assert_eq!(
        filter(&response),
        json!({"kind": "KIND_CONDITIONAL", "condition": {"expression": {"operator": "eq", "operands": [
            {"value": "z0"}, {"variable": "request.resource.id"}]}}})
    );
    assert_eq!(
        response.meta.as_ref().unwrap().filter_debug,
        r#"(eq "z0" request.resource.id)"#
    );
}

#[test]
fn globals_are_known_values() {
    let response = plan(&basics(), basics_request(&["reference_globals"]));
    assert_eq!(
        response.meta.unwrap().filter_debug,
        r#"(eq request.resource.attr.environment "test")"#
    );
}

#[test]
fn a_condition_without_the_resource_folds_to_always_allowed() {
    let response = plan(&basics(), basics_request(&["now-once"]));
    assert_eq!(filter(&response), json!({"kind": "KIND_ALWAYS_ALLOWED"}));
    assert_eq!(response.meta.unwrap().filter_debug, "(true)");
}

#[test]
fn a_conditional_deny_without_any_allow_is_always_denied() {
    let response = plan(&basics(), basics_request(&["lecture"]));
    assert_eq!(filter(&response), json!({"kind": "KIND_ALWAYS_DENIED"}));
}

#[test]
fn several_actions_are_joined_sorted_by_text_and_always_allowed_ones_drop_out() {
    let response = plan(
        &basics(),
        basics_request(&["reference_globals", "write", "now-once"]),
    );
    assert_eq!(
        response.meta.as_ref().unwrap().filter_debug,
        r#"(and (eq "z0" request.resource.id) (eq request.resource.attr.environment "test"))"#
    );
    assert_eq!(response.actions, ["reference_globals", "write", "now-once"]);
    let denied = plan(&basics(), basics_request(&["write", "lecture"]));
    assert_eq!(filter(&denied), json!({"kind": "KIND_ALWAYS_DENIED"}));
}

#[test]
fn no_policy_for_the_kind_is_no_match() {
    let mut request = basics_request(&["write"]);
    request["resource"]["kind"] = json!("unknown");
    let response = plan(&basics(), request);
    assert_eq!(filter(&response), json!({"kind": "KIND_ALWAYS_DENIED"}));
    assert_eq!(response.meta.unwrap().filter_debug, "NO_MATCH");
}

#[test]
fn the_legacy_action_field_answers_with_action_and_matched_scope() {
    let request = json!({"requestId": "t", "includeMeta": true, "action": "write",
           "principal": {"id": "user123", "roles": ["USER"], "attr": {"userQid": "z0"}},
           "resource": {"kind": "x"}});
    let response = plan(&basics(), request);
    assert_eq!(response.action, "write");
    assert!(response.actions.is_empty());
    let written = serde_json::to_value(&response).unwrap();
    assert_eq!(written["resourceKind"], json!("x"));
    assert_eq!(written["filter"]["kind"], json!("KIND_CONDITIONAL"));
}

const LEAVE: &str = r#"
apiVersion: api.cerbos.dev/v1
resourcePolicy:
  version: default
  resource: leave_request
  importDerivedRoles: [roles]
  rules:
    - actions: [view]
      effect: EFFECT_ALLOW
      derivedRoles: [owner]
    - actions: [view]
      effect: EFFECT_ALLOW
      roles: [manager]
      condition:
        match:
          expr: R.attr.department == P.attr.department
    - actions: [view]
      effect: EFFECT_DENY
      roles: ["*"]
      condition:
        match:
          expr: R.attr.status == "deleted"
"#;

const ROLES: &str = r#"
apiVersion: api.cerbos.dev/v1
derivedRoles:
  name: roles
  definitions:
    - name: owner
      parentRoles: [employee]
      condition:
        match:
          expr: R.attr.owner == P.id
"#;

fn leave() -> PolicyStore {
    store(&[
        ("leave.yaml".into(), LEAVE.into()),
        ("roles.yaml".into(), ROLES.into()),
    ])
}

#[test]
fn a_derived_role_condition_on_the_resource_is_part_of_the_filter() {
    let request = json!({"actions": ["view"], "includeMeta": true,
        "principal": {"id": "maggie", "roles": ["employee"], "attr": {"department": "hr"}},
        "resource": {"kind": "leave_request"}});
    let response = plan(&leave(), request);
    assert_eq!(
        response.meta.unwrap().filter_debug,
        r#"(and (not (eq request.resource.attr.status "deleted")) (eq request.resource.attr.owner "maggie"))"#
    );
}

#[test]
fn a_deny_shared_by_all_roles_is_factored_out_of_their_allows() {
    let request = json!({"actions": ["view"], "includeMeta": true,
        "principal": {"id": "maggie", "roles": ["employee", "manager"], "attr": {"department": "hr"}},
        "resource": {"kind": "leave_request"}});
    let response = plan(&leave(), request);
    assert_eq!(
        response.meta.unwrap().filter_debug,
        r#"(and (not (eq request.resource.attr.status "deleted")) (or (eq request.resource.attr.owner "maggie") (eq request.resource.attr.department "hr")))"#
    );
}

#[test]
fn known_resource_attributes_are_substituted() {
    let request = json!({"actions": ["view"], "includeMeta": true,
        "principal": {"id": "maggie", "roles": ["manager"], "attr": {"department": "hr"}},
        "resource": {"kind": "leave_request", "attr": {"status": "active"}}});
    let response = plan(&leave(), request);
    assert_eq!(
        response.meta.unwrap().filter_debug,
        r#"(eq request.resource.attr.department "hr")"#
    );
    let request = json!({"actions": ["view"],
        "principal": {"id": "maggie", "roles": ["manager"], "attr": {"department": "hr"}},
        "resource": {"kind": "leave_request", "attr": {"status": "deleted"}}});
    assert_eq!(
        filter(&plan(&leave(), request)),
        json!({"kind": "KIND_ALWAYS_DENIED"})
    );
}

const SCOPED_ROOT: &str = r#"
apiVersion: api.cerbos.dev/v1
resourcePolicy:
  version: default
  resource: report
  rules:
    - actions: [view]
      effect: EFFECT_ALLOW
      roles: [user]
      condition:
        match:
          expr: R.attr.public == true
"#;

const SCOPED_ACME: &str = r#"
apiVersion: api.cerbos.dev/v1
resourcePolicy:
  version: default
  resource: report
  scope: acme
  rules:
    - actions: [view]
      effect: EFFECT_DENY
      roles: [user]
      condition:
        match:
          expr: R.attr.secret == true
"#;

#[test]
fn scopes_are_walked_nearest_first_and_report_the_matched_scope() {
    let files = [
        ("root.yaml".to_owned(), SCOPED_ROOT.to_owned()),
        ("acme.yaml".to_owned(), SCOPED_ACME.to_owned()),
    ];
    let request = json!({"action": "view", "includeMeta": true,
        "principal": {"id": "u", "roles": ["user"]},
        "resource": {"kind": "report", "scope": "acme"}});
    let response = plan(&store(&files), request);
    let meta = response.meta.unwrap();
    assert_eq!(
        meta.filter_debug,
        "(and (not (eq request.resource.attr.secret true)) (eq request.resource.attr.public true))"
    );
    // The last scope walked that had rules and overrides its parent: the root.
    assert_eq!(meta.matched_scope, "");
}

const X_ROOT: &str = r#"
apiVersion: api.cerbos.dev/v1
resourcePolicy:
  version: default
  resource: x
  rules:
    - actions: [edit]
      effect: EFFECT_ALLOW
      roles: [USER]
      condition:
        match:
          expr: P.attr.userQid == request.resource.id
"#;

const X_ACME: &str = r#"
apiVersion: api.cerbos.dev/v1
resourcePolicy:
  version: default
  resource: x
  scope: acme
  rules:
    - actions: [edit]
      effect: EFFECT_ALLOW
      roles: [USER]
      condition:
        match:
          expr: R.attr.status == "APPROVED"
"#;

const X_ACME_HR: &str = r#"
apiVersion: api.cerbos.dev/v1
resourcePolicy:
  version: default
  resource: x
  scope: acme.hr
  rules:
    - actions: [update_profile]
      effect: EFFECT_ALLOW
      roles: [USER]
"#;

const X_ACME_HR_UK: &str = r#"
apiVersion: api.cerbos.dev/v1
resourcePolicy:
  version: default
  resource: x
  scope: acme.hr.uk
  scopePermissions: SCOPE_PERMISSIONS_REQUIRE_PARENTAL_CONSENT_FOR_ALLOWS
  rules:
    - actions: [edit]
      effect: EFFECT_ALLOW
      roles: [USER]
      condition:
        match:
          expr: R.attr.status == "PENDING_STATUS"
    - actions: [debug]
      effect: EFFECT_DENY
      roles: [USER]
"#;

fn scoped_x() -> PolicyStore {
    store(&[
        ("x.yaml".into(), X_ROOT.into()),
        ("x_acme.yaml".into(), X_ACME.into()),
        ("x_acme_hr.yaml".into(), X_ACME_HR.into()),
        ("x_acme_hr_uk.yaml".into(), X_ACME_HR_UK.into()),
    ])
}

fn scoped_request(action: &str, scope: &str) -> Value {
    json!({"action": action, "includeMeta": true,
           "principal": {"id": "user123", "roles": ["USER"], "attr": {"userQid": "z0"}},
           "resource": {"kind": "x", "scope": scope}})
}

#[test]
fn an_allow_in_a_child_scope_is_an_alternative_to_the_parents() {
    let response = plan(&scoped_x(), scoped_request("edit", "acme"));
    assert_eq!(
        response.meta.unwrap().filter_debug,
        r#"(or (eq request.resource.attr.status "APPROVED") (eq "z0" request.resource.id))"#
    );
}

#[test]
fn parental_consent_makes_a_conditional_allow_a_precondition_of_the_parents() {
    let response = plan(&scoped_x(), scoped_request("edit", "acme.hr.uk"));
    assert_eq!(
        response.meta.unwrap().filter_debug,
        r#"(and (eq request.resource.attr.status "PENDING_STATUS") (or (eq request.resource.attr.status "APPROVED") (eq "z0" request.resource.id)))"#
    );
    let denied = plan(&scoped_x(), scoped_request("debug", "acme.hr.uk"));
    assert_eq!(filter(&denied), json!({"kind": "KIND_ALWAYS_DENIED"}));
}

#[test]
fn an_unconditional_allow_in_the_nearest_scope_is_always_allowed() {
    let response = plan(&scoped_x(), scoped_request("update_profile", "acme.hr"));
    assert_eq!(filter(&response), json!({"kind": "KIND_ALWAYS_ALLOWED"}));
    assert_eq!(response.meta.unwrap().matched_scope, "acme.hr");
}

const SCHEMA_POLICY: &str = r#"
apiVersion: api.cerbos.dev/v1
resourcePolicy:
  version: default
  resource: invoice
  schemas:
    resourceSchema:
      ref: cerbos:///invoice.json
  rules:
    - actions: [view]
      effect: EFFECT_ALLOW
      roles: [user]
      condition:
        match:
          expr: R.attr.amount < 100
"#;

const INVOICE_SCHEMA: &str = r#"{"type": "object", "required": ["owner", "amount"],
  "properties": {"owner": {"type": "string"}, "amount": {"type": "number"}}}"#;

#[test]
fn schemas_check_the_known_attributes_and_reject_denies() {
    let store = store(&[
        ("invoice.yaml".into(), SCHEMA_POLICY.into()),
        ("_schemas/invoice.json".into(), INVOICE_SCHEMA.into()),
    ]);
    let mut config = config();
    config.schema_enforcement = lictor_cerbos::SchemaEnforcement::Reject;
    let request = |attr: Value| -> PlanResourcesRequest {
        serde_json::from_value(json!({"actions": ["view"], "includeMeta": true,
            "principal": {"id": "u", "roles": ["user"]},
            "resource": {"kind": "invoice", "attr": attr}}))
        .unwrap()
    };
    // Missing attributes are unknown, not invalid.
    let partial = store.plan_resources(&config, &request(json!({})), options());
    assert!(partial.validation_errors.is_empty());
    assert_eq!(
        partial.meta.unwrap().filter_debug,
        "(lt request.resource.attr.amount 100)"
    );
    let invalid = store.plan_resources(&config, &request(json!({"owner": 7})), options());
    assert_eq!(invalid.validation_errors.len(), 1);
    assert_eq!(invalid.validation_errors[0].path, "/owner");
    assert_eq!(filter(&invalid), json!({"kind": "KIND_ALWAYS_DENIED"}));
    config.schema_enforcement = lictor_cerbos::SchemaEnforcement::Warn;
    let warned = store.plan_resources(&config, &request(json!({"owner": 7})), options());
    assert_eq!(warned.validation_errors.len(), 1);
    assert_eq!(filter(&warned)["kind"], json!("KIND_CONDITIONAL"));
}

// ---------------------------------------------------------------------------------------------------
// Property: for generated policies and requests, the plan allows a concrete resource exactly when
// CheckResources allows every planned action on it.

/// Conditions over attributes every generated resource has, so that no evaluation fails.
const ATOMS: [&str; 8] = [
    "R.attr.owner == P.id",
    r#"R.attr.status == "draft""#,
    "R.attr.level > 2",
    r#"P.attr.dept == "eng""#,
    "R.attr.public",
    r#""x" in R.attr.tags"#,
    "V.is_owner",
    r#"R.attr.status in ["draft", "review"] && R.attr.level <= 4"#,
];

#[derive(Debug, Clone)]
enum Cond {
    Atom(usize),
    All(Vec<usize>),
    Any(Vec<usize>),
    None(Vec<usize>),
}

fn cond_json(cond: &Cond) -> Value {
    let exprs = |atoms: &[usize]| -> Vec<Value> {
        atoms.iter().map(|a| json!({"expr": ATOMS[*a]})).collect()
    };
    match cond {
        Cond::Atom(a) => json!({"match": {"expr": ATOMS[*a]}}),
        Cond::All(a) => json!({"match": {"all": {"of": exprs(a)}}}),
        Cond::Any(a) => json!({"match": {"any": {"of": exprs(a)}}}),
        Cond::None(a) => json!({"match": {"none": {"of": exprs(a)}}}),
    }
}

fn cond_strategy() -> impl Strategy<Value = Cond> {
    let atoms = prop::collection::vec(0..ATOMS.len(), 1..3);
    prop_oneof![
        3 => (0..ATOMS.len()).prop_map(Cond::Atom),
        1 => atoms.clone().prop_map(Cond::All),
        1 => atoms.clone().prop_map(Cond::Any),
        1 => atoms.prop_map(Cond::None),
    ]
}

const ACTIONS: [&str; 3] = ["view", "edit", "delete"];
const ROLE_NAMES: [&str; 3] = ["user", "admin", "*"];

#[derive(Debug, Clone)]
struct Rule {
    actions: Vec<usize>,
    allow: bool,
    /// Indexes into ROLE_NAMES; `None` means the derived role `owner`.
    role: Option<usize>,
    condition: Option<Cond>,
}

fn rule_strategy() -> impl Strategy<Value = Rule> {
    (
        prop::collection::btree_set(0..ACTIONS.len(), 1..3),
        prop::bool::weighted(0.7),
        prop::option::weighted(0.8, 0..ROLE_NAMES.len()),
        prop::option::weighted(0.7, cond_strategy()),
    )
        .prop_map(|(actions, allow, role, condition)| Rule {
            actions: actions.into_iter().collect(),
            allow,
            role,
            condition,
        })
}

fn rule_json(rule: &Rule) -> Value {
    let mut value = json!({
        "actions": rule.actions.iter().map(|a| ACTIONS[*a]).collect::<Vec<_>>(),
        "effect": if rule.allow { "EFFECT_ALLOW" } else { "EFFECT_DENY" },
    });
    match rule.role {
        Some(r) => value["roles"] = json!([ROLE_NAMES[r]]),
        None => value["derivedRoles"] = json!(["owner"]),
    }
    if let Some(c) = &rule.condition {
        value["condition"] = cond_json(c);
    }
    value
}

#[derive(Debug, Clone)]
struct Case {
    root_rules: Vec<Rule>,
    /// Rules of the scope `a`, with whether it requires parental consent.
    scoped: Option<(Vec<Rule>, bool)>,
    /// Rules of the principal policy of `alice`.
    principal_rules: Option<Vec<Rule>>,
    /// Whether a role policy for `auditor` (parent role `user`) exists, and its condition.
    role_policy: Option<Option<Cond>>,
    principal: (bool, Vec<usize>, bool),
    resource_scope: usize,
    known_status: Option<bool>,
    lenient: bool,
    actions: Vec<usize>,
    resources: Vec<Value>,
}

fn resource_attrs() -> impl Strategy<Value = Value> {
    (
        prop::bool::ANY,
        prop::bool::ANY,
        0..6i64,
        prop::bool::ANY,
        prop::collection::vec(prop::sample::select(vec!["x", "y"]), 0..3),
        prop::bool::ANY,
    )
        .prop_map(|(alice, draft, level, public, tags, review)| {
            let status = match (draft, review) {
                (true, _) => "draft",
                (false, true) => "review",
                (false, false) => "published",
            };
            json!({"owner": if alice { "alice" } else { "bob" }, "status": status,
                   "level": level, "public": public, "tags": tags})
        })
}

fn case_strategy() -> impl Strategy<Value = Case> {
    let rules = || prop::collection::vec(rule_strategy(), 0..4);
    (
        rules(),
        prop::option::of((rules(), prop::bool::ANY)),
        prop::option::weighted(0.3, rules()),
        prop::option::weighted(0.3, prop::option::of(cond_strategy())),
        (
            prop::bool::ANY,
            prop::collection::btree_set(0..3usize, 1..3),
            prop::bool::ANY,
        ),
        0..3usize,
        (
            prop::option::weighted(0.3, prop::bool::ANY),
            prop::bool::ANY,
        ),
        prop::collection::btree_set(0..ACTIONS.len(), 1..3),
        prop::collection::vec(resource_attrs(), 6),
    )
        .prop_map(
            |(
                root_rules,
                scoped,
                principal_rules,
                role_policy,
                principal,
                scope,
                (known, lenient),
                actions,
                resources,
            )| {
                Case {
                    root_rules,
                    scoped,
                    principal_rules,
                    role_policy,
                    principal: (principal.0, principal.1.into_iter().collect(), principal.2),
                    resource_scope: scope,
                    known_status: known,
                    lenient,
                    actions: actions.into_iter().collect(),
                    resources,
                }
            },
        )
}

fn resource_policy(scope: &str, rules: &[Rule], consent: bool) -> String {
    let mut body = json!({
        "version": "default", "resource": "doc", "importDerivedRoles": ["roles"],
        "variables": {"local": {"is_owner": "R.attr.owner == P.id"}},
        "rules": rules.iter().map(rule_json).collect::<Vec<_>>(),
    });
    if !scope.is_empty() {
        body["scope"] = json!(scope);
        body["scopePermissions"] = json!(if consent {
            "SCOPE_PERMISSIONS_REQUIRE_PARENTAL_CONSENT_FOR_ALLOWS"
        } else {
            "SCOPE_PERMISSIONS_OVERRIDE_PARENT"
        });
    }
    json!({"apiVersion": "api.cerbos.dev/v1", "resourcePolicy": body}).to_string()
}

fn files(case: &Case) -> Vec<(String, String)> {
    let mut files = vec![
        (
            "roles.yaml".to_owned(),
            json!({"apiVersion": "api.cerbos.dev/v1", "derivedRoles": {"name": "roles", "definitions": [
                {"name": "owner", "parentRoles": ["user"],
                 "condition": {"match": {"expr": "R.attr.owner == P.id"}}}]}})
            .to_string(),
        ),
        (
            "root.yaml".to_owned(),
            resource_policy("", &case.root_rules, false),
        ),
    ];
    if let Some((rules, consent)) = &case.scoped {
        files.push(("a.yaml".to_owned(), resource_policy("a", rules, *consent)));
    }
    if let Some(rules) = &case.principal_rules {
        let rules: Vec<Value> = rules
            .iter()
            .flat_map(|r| {
                r.actions.iter().map(move |a| {
                    let mut action = json!({"action": ACTIONS[*a],
                        "effect": if r.allow { "EFFECT_ALLOW" } else { "EFFECT_DENY" }});
                    if let Some(c) = &r.condition {
                        action["condition"] = cond_json(c);
                    }
                    action
                })
            })
            .collect();
        let body = json!({"version": "default", "principal": "alice",
            "variables": {"local": {"is_owner": "R.attr.owner == P.id"}},
            "rules": [{"resource": "doc", "actions": rules}]});
        files.push((
            "alice.yaml".to_owned(),
            json!({"apiVersion": "api.cerbos.dev/v1", "principalPolicy": body}).to_string(),
        ));
    }
    if let Some(condition) = &case.role_policy {
        // Role policy conditions cannot read variables.
        let mut rule = json!({"resource": "doc", "allowActions": ["view", "edit"]});
        if let Some(c) = condition {
            let text = cond_json(c)
                .to_string()
                .replace("V.is_owner", "R.attr.owner == P.id");
            rule["condition"] = serde_json::from_str(&text).unwrap();
        }
        files.push((
            "auditor.yaml".to_owned(),
            json!({"apiVersion": "api.cerbos.dev/v1", "rolePolicy": {
                "role": "auditor", "parentRoles": ["user"], "rules": [rule]}})
            .to_string(),
        ));
    }
    files
}

fn principal_json(case: &Case) -> Value {
    let (alice, roles, eng) = &case.principal;
    let mut names: Vec<&str> = roles
        .iter()
        .map(|r| ["user", "admin", "auditor"][*r])
        .collect();
    if case.role_policy.is_none() {
        names.retain(|r| *r != "auditor");
        if names.is_empty() {
            names.push("user");
        }
    }
    json!({"id": if *alice { "alice" } else { "bob" }, "roles": names,
           "attr": {"dept": if *eng { "eng" } else { "ops" }}})
}

/// Evaluates a plan's condition on a resource's attributes (the test's reading of Cerbos's operators).
fn eval(operand: &Operand, attr: &Value) -> Value {
    match operand {
        Operand::Value(v) => v.clone(),
        Operand::Variable(name) => {
            let field = name
                .strip_prefix("request.resource.attr.")
                .unwrap_or_else(|| panic!("unexpected variable {name}"));
            attr[field].clone()
        }
        Operand::Expression(e) => {
            let args: Vec<Value> = e.operands.iter().map(|o| eval(o, attr)).collect();
            let number = |v: &Value| v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"));
            let truth = |v: &Value| v.as_bool().unwrap_or_else(|| panic!("not a bool: {v}"));
            let equal = |a: &Value, b: &Value| match (a.as_f64(), b.as_f64()) {
                (Some(x), Some(y)) => x == y,
                _ => a == b,
            };
            json!(match e.operator.as_str() {
                "and" => args.iter().all(truth),
                "or" => args.iter().any(truth),
                "not" => !truth(&args[0]),
                "eq" => equal(&args[0], &args[1]),
                "ne" => !equal(&args[0], &args[1]),
                "lt" => number(&args[0]) < number(&args[1]),
                "le" => number(&args[0]) <= number(&args[1]),
                "gt" => number(&args[0]) > number(&args[1]),
                "ge" => number(&args[0]) >= number(&args[1]),
                "in" => args[1]
                    .as_array()
                    .unwrap_or_else(|| panic!("not a list: {}", args[1]))
                    .iter()
                    .any(|item| equal(&args[0], item)),
                other => panic!("operator {other} not in the test's evaluator"),
            })
        }
    }
}

fn plan_allows(response: &PlanResourcesResponse, attr: &Value) -> bool {
    let filter = response.filter.as_ref().unwrap();
    match filter.kind {
        FilterKind::AlwaysAllowed => true,
        FilterKind::AlwaysDenied => false,
        FilterKind::Conditional => eval(filter.condition.as_ref().unwrap(), attr)
            .as_bool()
            .unwrap(),
        FilterKind::Unspecified => panic!("unspecified filter kind"),
    }
}

fn check_case(case: &Case) -> Result<(), TestCaseError> {
    let store = store(&files(case));
    let scope = ["", "a", "a.b"][case.resource_scope];
    let principal = principal_json(case);
    let actions: Vec<&str> = case.actions.iter().map(|a| ACTIONS[*a]).collect();
    let mut known = serde_json::Map::new();
    if let Some(draft) = case.known_status {
        known.insert(
            "status".into(),
            json!(if draft { "draft" } else { "published" }),
        );
    }
    let mut config = config();
    config.lenient_scope_search = case.lenient;
    let plan_request: PlanResourcesRequest = serde_json::from_value(json!({
        "actions": actions, "principal": principal,
        "resource": {"kind": "doc", "scope": scope, "attr": known}}))
    .unwrap();
    let response = store.plan_resources(&config, &plan_request, options());
    for attr in &case.resources {
        let mut attr = attr.clone();
        for (name, value) in &known {
            attr[name] = value.clone();
        }
        let check_request: CheckResourcesRequest = serde_json::from_value(json!({
            "principal": principal,
            "resources": [{"actions": actions,
                           "resource": {"kind": "doc", "id": "r1", "scope": scope, "attr": attr}}]}))
        .unwrap();
        let result = store.check_resources(&config, &check_request, options());
        let allowed = result.results[0]
            .actions
            .values()
            .all(|e| *e == Effect::Allow);
        let planned = plan_allows(&response, &attr);
        prop_assert_eq!(
            planned,
            allowed,
            "plan {} disagrees with check on {} (files {:?})",
            lictor_cerbos::filter_debug(response.filter.as_ref().unwrap()),
            attr,
            files(case)
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn plans_agree_with_check_resources(case in case_strategy()) {
        check_case(&case)?;
    }
}
