//! The authorizer v2 REST gateway: Topaz's paths and JSON for Is, DecisionTree, Query, Compile,
//! ListPolicies, GetPolicy and Info.
//!
//! Bodies are the proto request messages read as Topaz's protojson reads them: a field under its
//! proto name (`identity_context`) or its JSON name (`identityContext`), never both; answers are the
//! proto responses under proto names.

use crate::access::Access;
use crate::api_error::ApiError;
use crate::rest::{proto_answer, proto_message, JsonBody, PathParams};
use crate::server::AppState;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use lictor_proto::authorizer::v2 as authorizer;
use serde_json::{json, Value};
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
        .route("/api/v3/lictor/explain/is", post(explain_is))
}

/// A decision request's body as its proto message. An identity context without a type, or with a
/// `null` one, is anonymous over REST (as the OpenAPI document says), where protojson would read
/// `IDENTITY_TYPE_UNKNOWN`, which is refused.
fn decision_message<T: serde::de::DeserializeOwned>(mut body: Value) -> Result<T, ApiError> {
    if let Value::Object(fields) = &mut body {
        for name in ["identity_context", "identityContext"] {
            if let Some(Value::Object(identity)) = fields.get_mut(name) {
                if matches!(identity.get("type"), None | Some(Value::Null)) {
                    identity.insert("type".into(), json!("IDENTITY_TYPE_NONE"));
                }
            }
        }
    }
    proto_message(body)
}

async fn is(
    State(state): State<Arc<AppState>>,
    Extension(access): Extension<Access>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let request: authorizer::IsRequest = decision_message(body)?;
    proto_answer(&super::is(&state, &access, request).await?)
}

async fn explain_is(
    State(state): State<Arc<AppState>>,
    Extension(access): Extension<Access>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let request: authorizer::IsRequest = decision_message(body)?;
    Ok(Json(super::explain_is(&state, &access, request).await?))
}

async fn decision_tree(
    State(state): State<Arc<AppState>>,
    Extension(access): Extension<Access>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let request: authorizer::DecisionTreeRequest = decision_message(body)?;
    proto_answer(&super::decision_tree(&state, &access, request).await?)
}

async fn query(
    State(state): State<Arc<AppState>>,
    Extension(access): Extension<Access>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let request: authorizer::QueryRequest = decision_message(body)?;
    proto_answer(&super::query(&state, &access, request).await?)
}

async fn compile(
    State(state): State<Arc<AppState>>,
    Extension(access): Extension<Access>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let request: authorizer::CompileRequest = decision_message(body)?;
    proto_answer(&super::compile(&state, &access, request).await?)
}

async fn list_policies(Extension(access): Extension<Access>) -> Result<Response, ApiError> {
    proto_answer(&super::list_policies(&access)?)
}

async fn get_policy(
    Extension(access): Extension<Access>,
    PathParams(id): PathParams<String>,
) -> Result<Response, ApiError> {
    let request = authorizer::GetPolicyRequest {
        id,
        ..Default::default()
    };
    proto_answer(&super::get_policy(&access, &request)?)
}

async fn info() -> Result<Response, ApiError> {
    proto_answer(&super::info())
}
