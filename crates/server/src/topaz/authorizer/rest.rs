//! The authorizer v2 REST gateway: Topaz's paths and JSON for Is, DecisionTree, Query, Compile,
//! ListPolicies, GetPolicy and Info.
//!
//! As in Topaz's protojson, a body field is read under its proto name (`identity_context`) or its JSON
//! name (`identityContext`), never both; answers use proto names.

use crate::access::Access;
use crate::api_error::ApiError;
use crate::rest::{JsonBody, PathParams};
use crate::server::AppState;
use crate::service::authorizer::{self as service, DecisionRequest, IdentityContext, IdentityType};
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use lictor_policy::PathSeparator;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// The routes, to be merged into the API router.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v2/authz/is", post(is))
        .route("/api/v2/authz/decisiontree", post(decision_tree))
        .route("/api/v2/authz/query", post(query))
        .route("/api/v2/authz/compile", post(compile))
        .route("/api/v2/policies", get(list_policies))
        .route("/api/v2/policies/{*id}", get(get_policy))
        .route("/api/v2/info", get(info))
}

#[derive(Debug, Default, Deserialize)]
struct IdentityBody {
    #[serde(default, rename = "type")]
    kind: Value,
    #[serde(default)]
    identity: String,
}

#[derive(Debug, Default, Deserialize)]
struct PolicyContextBody {
    #[serde(default)]
    path: String,
    #[serde(default)]
    decisions: Vec<String>,
}

/// The legacy policy instance: ignored, but read so that a value of the wrong type is refused as
/// Topaz refuses it.
#[derive(Debug, Default, Deserialize)]
struct PolicyInstanceBody {
    #[serde(default, rename = "name")]
    _name: String,
    #[serde(default, rename = "instance_label")]
    _instance_label: String,
}

/// DecisionTree's `path_separator`, and Query's and Compile's options, which are ignored but read
/// so that a value of the wrong type is refused.
#[derive(Debug, Default, Deserialize)]
struct OptionsBody {
    #[serde(default, alias = "pathSeparator")]
    path_separator: Option<Value>,
    #[serde(default)]
    trace: Option<Value>,
    #[serde(default, rename = "metrics")]
    _metrics: bool,
    #[serde(default, rename = "instrument")]
    _instrument: bool,
    #[serde(default, rename = "trace_summary", alias = "traceSummary")]
    _trace_summary: bool,
}

/// The fields Is, DecisionTree, Query and Compile share; `policy_instance` and `disable_inlining`
/// are accepted and ignored, as Topaz ignores them.
#[derive(Debug, Default, Deserialize)]
struct DecisionBody {
    #[serde(default, alias = "identityContext")]
    identity_context: Option<IdentityBody>,
    #[serde(default, alias = "policyContext")]
    policy_context: Option<PolicyContextBody>,
    /// A JSON object; null is as absent.
    #[serde(default, alias = "resourceContext")]
    resource_context: Option<Map<String, Value>>,
    #[serde(default)]
    options: Option<OptionsBody>,
    #[serde(default)]
    query: Option<String>,
    #[serde(default)]
    input: Option<String>,
    #[serde(default)]
    unknowns: Vec<String>,
    #[serde(default, rename = "policy_instance")]
    _policy_instance: Option<PolicyInstanceBody>,
    #[serde(default, rename = "disable_inlining")]
    _disable_inlining: Vec<String>,
}

impl DecisionBody {
    /// The `input` field (a JSON document in a string), when given.
    fn explicit_input(&self) -> Result<Option<Value>, ApiError> {
        match self.input.as_deref().filter(|i| !i.trim().is_empty()) {
            Some(text) => serde_json::from_str(text)
                .map(Some)
                .map_err(|e| ApiError::invalid(format!("input is not JSON: {e}"))),
            None => Ok(None),
        }
    }

    fn request(&self) -> Result<DecisionRequest, ApiError> {
        let identity = match &self.identity_context {
            Some(identity) => IdentityContext {
                kind: IdentityType::parse(&identity.kind)?,
                identity: identity.identity.clone(),
            },
            None => IdentityContext::default(),
        };
        let policy = self.policy_context.as_ref();
        Ok(DecisionRequest {
            identity,
            path: policy.map(|p| p.path.clone()).unwrap_or_default(),
            decisions: policy.map(|p| p.decisions.clone()).unwrap_or_default(),
            resource: self
                .resource_context
                .clone()
                .map_or(Value::Null, Value::Object),
        })
    }
}

async fn is(
    State(state): State<Arc<AppState>>,
    Extension(access): Extension<Access>,
    JsonBody(body): JsonBody<DecisionBody>,
) -> Result<Json<Value>, ApiError> {
    let request = body.request()?;
    let decisions = service::is(&state, &access, &request).await?;
    Ok(Json(json!({
        "decisions": decisions
            .into_iter()
            .map(|(decision, is)| json!({"decision": decision, "is": is}))
            .collect::<Vec<_>>(),
    })))
}

fn separator(options: Option<&OptionsBody>) -> Result<PathSeparator, ApiError> {
    match options.and_then(|o| o.path_separator.as_ref()) {
        None | Some(Value::Null) => Ok(PathSeparator::Dot),
        Some(Value::String(s)) if s == "PATH_SEPARATOR_DOT" || s == "PATH_SEPARATOR_UNKNOWN" => {
            Ok(PathSeparator::Dot)
        }
        Some(Value::String(s)) if s == "PATH_SEPARATOR_SLASH" => Ok(PathSeparator::Slash),
        Some(Value::Number(n)) if n.as_i64() == Some(2) => Ok(PathSeparator::Slash),
        Some(Value::Number(n)) if matches!(n.as_i64(), Some(0 | 1)) => Ok(PathSeparator::Dot),
        Some(other) => Err(ApiError::invalid(format!(
            "options.path_separator {other} is not PATH_SEPARATOR_DOT or PATH_SEPARATOR_SLASH"
        ))),
    }
}

/// Query's and Compile's `options.trace`, an enum given by name or number; it is ignored.
fn check_trace_level(options: Option<&OptionsBody>) -> Result<(), ApiError> {
    const LEVELS: [&str; 5] = [
        "TRACE_LEVEL_UNKNOWN",
        "TRACE_LEVEL_OFF",
        "TRACE_LEVEL_FULL",
        "TRACE_LEVEL_NOTES",
        "TRACE_LEVEL_FAILS",
    ];
    match options.and_then(|o| o.trace.as_ref()) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(name)) if LEVELS.contains(&name.as_str()) => Ok(()),
        Some(Value::Number(n)) if n.as_u64().is_some_and(|n| n < 5) => Ok(()),
        Some(other) => Err(ApiError::invalid(format!(
            "options.trace {other} is not one of {}",
            LEVELS.join(", ")
        ))),
    }
}

async fn decision_tree(
    State(state): State<Arc<AppState>>,
    Extension(access): Extension<Access>,
    JsonBody(body): JsonBody<DecisionBody>,
) -> Result<Json<Value>, ApiError> {
    let request = body.request()?;
    let separator = separator(body.options.as_ref())?;
    let tree = service::decision_tree(&state, &access, &request, separator).await?;
    Ok(Json(json!({
        "path_root": request.path,
        "path": tree,
    })))
}

async fn query(
    State(state): State<Arc<AppState>>,
    Extension(access): Extension<Access>,
    JsonBody(body): JsonBody<DecisionBody>,
) -> Result<Json<Value>, ApiError> {
    let request = body.request()?;
    let input = body.explicit_input()?;
    check_trace_level(body.options.as_ref())?;
    let result = service::query(
        &state,
        &access,
        body.query.as_deref().unwrap_or_default(),
        &request,
        input,
    )
    .await?;
    Ok(Json(json!({ "response": { "result": result } })))
}

async fn compile(
    State(state): State<Arc<AppState>>,
    Extension(access): Extension<Access>,
    JsonBody(body): JsonBody<DecisionBody>,
) -> Result<Json<Value>, ApiError> {
    let request = body.request()?;
    let input = body.explicit_input()?;
    check_trace_level(body.options.as_ref())?;
    let result = service::compile(
        &state,
        &access,
        body.query.as_deref().unwrap_or_default(),
        &body.unknowns,
        &request,
        input,
    )
    .await?;
    Ok(Json(json!({
        "result": result,
        "metrics": {},
        "trace": [],
        "trace_summary": [],
    })))
}

/// A module as Topaz lists it: the package path is the Rego reference, `data.` included.
fn module_json(module: &lictor_policy::PolicyModule) -> Value {
    json!({
        "id": module.id,
        "package_path": format!("data.{}", module.package_path),
        "raw": module.source,
    })
}

async fn list_policies(Extension(access): Extension<Access>) -> Result<Json<Value>, ApiError> {
    let policies = service::policies(&access.tenant)?;
    Ok(Json(json!({
        "result": policies.policies().iter().map(module_json).collect::<Vec<_>>(),
    })))
}

async fn get_policy(
    Extension(access): Extension<Access>,
    PathParams(id): PathParams<String>,
) -> Result<Json<Value>, ApiError> {
    let policies = service::policies(&access.tenant)?;
    let module = policies
        .policy(&id)
        .ok_or_else(|| ApiError::not_found(format!("no policy module {id:?}")))?;
    Ok(Json(json!({ "result": module_json(module) })))
}

async fn info() -> Json<Value> {
    Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "commit": "",
        "date": "",
        "os": std::env::consts::OS,
        "arch": std::env::consts::ARCH,
    }))
}
