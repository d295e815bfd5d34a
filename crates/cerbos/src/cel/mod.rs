//! CEL binding used by the engine: compile once, evaluate with the request's bindings.
//!
//! This binding offers the CEL standard library of the `cel` crate and Cerbos's variables (`request`, `P`,
//! `R`, `V`, `C`, `G`, `runtime`); Cerbos's extension functions are provided by the full CEL layer that
//! replaces this module.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value as Json};

use crate::api::{Principal, Resource};

pub use ::cel::Value;

/// A compile error inside one expression, with a 1-based position within the expression's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct CelError {
    /// What is wrong.
    pub message: String,
    /// 1-based line within the expression.
    pub line: usize,
    /// 1-based column within the expression.
    pub column: usize,
}

/// An evaluation failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EvalError(pub String);

/// A compiled CEL expression.
#[derive(Clone)]
pub struct Expr {
    program: Arc<::cel::Program>,
    variables: Vec<String>,
}

impl std::fmt::Debug for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Expr")
            .field("variables", &self.variables)
            .finish()
    }
}

/// Names after `V.` or `variables.` in an expression's text.
fn variable_names(source: &str) -> Vec<String> {
    let mut names = Vec::new();
    let bytes = source.as_bytes();
    for prefix in ["V.", "variables."] {
        let mut start = 0;
        while let Some(found) = source.get(start..).and_then(|rest| rest.find(prefix)) {
            let at = start + found;
            let preceded_by_ident = at > 0
                && bytes
                    .get(at - 1)
                    .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'.');
            let name_start = at + prefix.len();
            let name: String = source
                .get(name_start..)
                .unwrap_or_default()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !preceded_by_ident && !name.is_empty() && !names.contains(&name) {
                names.push(name);
            }
            start = name_start;
        }
    }
    names
}

impl Expr {
    /// Compiles an expression.
    pub fn compile(source: &str) -> Result<Expr, CelError> {
        match ::cel::Program::compile(source) {
            Ok(program) => Ok(Expr {
                program: Arc::new(program),
                variables: variable_names(source),
            }),
            Err(errors) => {
                let message = errors.to_string();
                Err(CelError {
                    message,
                    line: 1,
                    column: 1,
                })
            }
        }
    }

    /// Evaluates the expression.
    pub fn eval(&self, bindings: &Bindings<'_>) -> Result<Value, EvalError> {
        let mut context = ::cel::Context::default();
        let request = request_value(bindings);
        context.add_variable_from_value("request", request.clone());
        if let Value::Map(map) = &request {
            if let Some(principal) = map.map.get(&::cel::objects::Key::from("principal")) {
                context.add_variable_from_value("P", principal.clone());
            }
            if let Some(resource) = map.map.get(&::cel::objects::Key::from("resource")) {
                context.add_variable_from_value("R", resource.clone());
            }
        }
        let variables = Value::from(bindings.variables.values.clone());
        context.add_variable_from_value("V", variables.clone());
        context.add_variable_from_value("variables", variables);
        context.add_variable_from_value("C", bindings.constants.value.clone());
        context.add_variable_from_value("constants", bindings.constants.value.clone());
        let globals = json_to_value(&Json::Object(bindings.globals.clone()));
        context.add_variable_from_value("G", globals.clone());
        context.add_variable_from_value("globals", globals);
        let roles: Vec<Value> = bindings
            .effective_derived_roles
            .iter()
            .map(|r| Value::from(r.as_str()))
            .collect();
        let mut runtime = HashMap::new();
        runtime.insert("effectiveDerivedRoles".to_owned(), Value::from(roles));
        context.add_variable_from_value("runtime", Value::from(runtime));
        self.program
            .execute(&context)
            .map_err(|e| EvalError(e.to_string()))
    }

    /// Evaluates the expression to a boolean; any other result is an error.
    pub fn eval_bool(&self, bindings: &Bindings<'_>) -> Result<bool, EvalError> {
        match self.eval(bindings)? {
            Value::Bool(b) => Ok(b),
            other => Err(EvalError(format!(
                "expected a bool, got {:?}",
                other.type_of()
            ))),
        }
    }

    /// Names of the variables (`V.x`, `variables.x`) the expression reads.
    pub fn referenced_variables(&self) -> Vec<String> {
        self.variables.clone()
    }
}

/// Converts JSON to a CEL value; JSON numbers are doubles as in Cerbos.
pub fn json_to_value(json: &Json) -> Value {
    match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        Json::String(s) => Value::from(s.as_str()),
        Json::Array(items) => Value::from(items.iter().map(json_to_value).collect::<Vec<_>>()),
        Json::Object(map) => Value::from(
            map.iter()
                .map(|(k, v)| (k.clone(), json_to_value(v)))
                .collect::<HashMap<String, Value>>(),
        ),
    }
}

/// Converts a CEL value to JSON for outputs.
pub fn value_to_json(value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::UInt(u) => Json::from(*u),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::String(s) => Json::String(s.to_string()),
        Value::List(items) => Json::Array(items.iter().map(value_to_json).collect()),
        Value::Map(map) => Json::Object(
            map.map
                .iter()
                .map(|(k, v)| (key_text(k), value_to_json(v)))
                .collect(),
        ),
        Value::Timestamp(t) => Json::String(t.to_rfc3339()),
        Value::Duration(d) => Json::String(format!("{}s", d.num_seconds())),
        other => Json::String(format!("{other:?}")),
    }
}

fn key_text(key: &::cel::objects::Key) -> String {
    match key {
        ::cel::objects::Key::String(s) => s.to_string(),
        ::cel::objects::Key::Int(i) => i.to_string(),
        ::cel::objects::Key::Uint(u) => u.to_string(),
        ::cel::objects::Key::Bool(b) => b.to_string(),
    }
}

fn request_value(bindings: &Bindings<'_>) -> Value {
    let principal = bindings.principal;
    let resource = bindings.resource;
    let mut p = HashMap::new();
    p.insert("id".to_owned(), Value::from(principal.id.as_str()));
    p.insert(
        "roles".to_owned(),
        Value::from(
            principal
                .roles
                .iter()
                .map(|r| Value::from(r.as_str()))
                .collect::<Vec<_>>(),
        ),
    );
    p.insert(
        "attr".to_owned(),
        json_to_value(&Json::Object(principal.attr.clone())),
    );
    p.insert(
        "policyVersion".to_owned(),
        Value::from(principal.policy_version.as_str()),
    );
    p.insert("scope".to_owned(), Value::from(principal.scope.as_str()));
    let mut r = HashMap::new();
    r.insert("kind".to_owned(), Value::from(resource.kind.as_str()));
    r.insert("id".to_owned(), Value::from(resource.id.as_str()));
    r.insert(
        "attr".to_owned(),
        json_to_value(&Json::Object(resource.attr.clone())),
    );
    r.insert(
        "policyVersion".to_owned(),
        Value::from(resource.policy_version.as_str()),
    );
    r.insert("scope".to_owned(), Value::from(resource.scope.as_str()));
    let mut request = HashMap::new();
    request.insert("principal".to_owned(), Value::from(p));
    request.insert("resource".to_owned(), Value::from(r));
    let aux = bindings
        .aux_data
        .map_or_else(|| json_to_value(&Json::Object(Map::new())), json_to_value);
    request.insert("aux_data".to_owned(), aux.clone());
    request.insert("auxData".to_owned(), aux);
    Value::from(request)
}

/// A policy's constants, built once at compile time.
#[derive(Debug, Clone)]
pub struct Constants {
    value: Value,
}

impl Constants {
    /// Builds constants from their JSON values.
    pub fn from_json(values: &Map<String, Json>) -> Constants {
        Constants {
            value: json_to_value(&Json::Object(values.clone())),
        }
    }
}

impl Default for Constants {
    fn default() -> Self {
        Constants::from_json(&Map::new())
    }
}

/// Evaluated variables of one policy for one request.
#[derive(Debug, Clone, Default)]
pub struct Variables {
    values: HashMap<String, Value>,
}

impl Variables {
    /// No variables.
    pub fn new() -> Variables {
        Variables::default()
    }

    /// Adds an evaluated variable.
    pub fn insert(&mut self, name: &str, value: Value) {
        self.values.insert(name.to_owned(), value);
    }
}

/// Checks a relation in Lictor's directory.
pub trait RelationCheck: Sync {
    /// Whether `subject` has `relation` to `object` ("type:id" strings).
    fn check(&self, subject: &str, relation: &str, object: &str) -> bool;
}

/// What an expression can read.
pub struct Bindings<'a> {
    /// The principal.
    pub principal: &'a Principal,
    /// The resource.
    pub resource: &'a Resource,
    /// Auxiliary data (`request.aux_data`), e.g. verified JWT claims.
    pub aux_data: Option<&'a Json>,
    /// `G` / `globals`.
    pub globals: &'a Map<String, Json>,
    /// `C` / `constants`.
    pub constants: &'a Constants,
    /// `V` / `variables`.
    pub variables: &'a Variables,
    /// `runtime.effectiveDerivedRoles`.
    pub effective_derived_roles: &'a [String],
    /// The request's time.
    pub now: chrono::DateTime<chrono::FixedOffset>,
    /// Lictor's directory, when bound.
    pub relations: Option<&'a dyn RelationCheck>,
}
