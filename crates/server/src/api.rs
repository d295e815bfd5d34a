//! The API router served on every API port: REST gateways and gRPC services side by side.

use crate::access::Access;
use crate::api_error::ApiError;
use crate::decision_log::DecisionQuery;
use crate::grpc::GrpcRoutes;
use crate::rest::{JsonBody, QueryParams};
use crate::server::AppState;
use crate::ServerError;
use axum::extract::State;
use axum::routing::get;
use axum::{Extension, Json, Router};
use lictor_store::StoreError;
use serde_json::{json, Value};
use std::sync::Arc;

/// Every API route, bound to the shared state.
pub fn routes(state: Arc<AppState>) -> Result<Router, ServerError> {
    let grpc = GrpcRoutes::new(&state).map_err(|e| ServerError::Grpc(e.message))?;
    let mut router = Router::new();
    // Cerbos's REST paths, when its API is on, beside Topaz's (none of them collide).
    if let Some(cerbos) = &state.cerbos {
        let cerbos_rest = crate::cerbos::rest::routes(cerbos.clone());
        for path in crate::cerbos::rest::PATHS {
            router = router.route_service(path, cerbos_rest.clone());
        }
    }
    let router = router
        .merge(crate::topaz::directory::rest::routes())
        .merge(crate::topaz::directory::import::routes())
        .merge(crate::authzen::rest::routes())
        .merge(crate::topaz::authorizer::rest::routes())
        .merge(crate::scim::routes())
        .route("/api/v3/lictor/decisions", get(decisions))
        .route(
            "/api/v3/lictor/decisions/stream",
            get(crate::decision_service::stream),
        )
        .route("/api/v3/lictor/policies", get(loaded_policies))
        .route("/api/v3/lictor/tenants", get(tenants))
        .route(
            "/api/v3/lictor/manifest/validate",
            axum::routing::post(validate_manifest),
        )
        .route("/api/v3/lictor/openapi.json", get(openapi))
        .route("/openapi.json", get(openapi))
        // After every route: the 405 fallback applies to the routes registered before it.
        .fallback(crate::rest::unknown_path)
        .method_not_allowed_fallback(crate::rest::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::rest::measure,
        ))
        .layer(axum::middleware::from_fn_with_state(
            (state.clone(), grpc),
            crate::grpc::dispatch,
        ))
        .with_state(state);
    Ok(router)
}

/// Recent decisions of the caller's tenant, filtered.
async fn decisions(
    State(state): State<Arc<AppState>>,
    Extension(access): Extension<Access>,
    QueryParams(mut query): QueryParams<DecisionQuery>,
) -> Result<Json<Value>, ApiError> {
    // A caller sees its own tenant's decisions only.
    query.tenant = Some(access.tenant.id.clone());
    let records = state
        .decision_log
        .query(&query)
        .await
        .map_err(|error| match error {
            crate::decision_table::QueryError::Invalid(message) => ApiError::invalid(message),
            crate::decision_table::QueryError::Unavailable(message) => {
                ApiError::new(crate::api_error::Code::Unavailable, message)
            }
        })?;
    Ok(Json(json!({ "results": records })))
}

/// The tenants the caller may act on: every tenant without API keys, else its key's own.
async fn tenants(
    State(state): State<Arc<AppState>>,
    Extension(access): Extension<Access>,
) -> Json<Value> {
    let ids: Vec<&str> = if state.config.api_keys.is_empty() {
        // The default tenant first, the others by name.
        let mut others: Vec<&str> = state.tenants.all().skip(1).map(|t| t.id.as_str()).collect();
        others.sort_unstable();
        std::iter::once("").chain(others).collect()
    } else {
        vec![access.tenant.id.as_str()]
    };
    let tenants: Vec<Value> = ids
        .into_iter()
        .map(|id| json!({ "id": id, "name": if id.is_empty() { "default" } else { id } }))
        .collect();
    Json(json!({ "tenants": tenants, "current": access.tenant.id }))
}

/// A manifest to check.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestBody {
    manifest: String,
}

/// Checks a manifest without saving it: its errors by line and column, or the stored data it
/// would strand (what saving it would refuse).
async fn validate_manifest(
    Extension(access): Extension<Access>,
    JsonBody(body): JsonBody<ManifestBody>,
) -> Result<Json<Value>, ApiError> {
    let checked = access
        .tenant
        .store
        .check_manifest("manifest.yaml", &body.manifest);
    Ok(Json(match checked {
        Ok(()) => json!({ "valid": true }),
        Err(StoreError::Manifest(error)) => json!({
            "valid": false,
            "errors": error.diagnostics.iter().map(|d| json!({
                "line": d.span.line,
                "column": d.span.column,
                "message": d.message,
            })).collect::<Vec<_>>(),
        }),
        Err(StoreError::ManifestStrandsData {
            total, violations, ..
        }) => json!({
            "valid": false,
            "errors": [],
            "breaks": { "total": total, "violations": violations },
        }),
        Err(other) => return Err(crate::service::directory::store_error(other)),
    }))
}

/// What policies the caller's tenant serves: their revision, and the bundle and image they came from.
async fn loaded_policies(Extension(access): Extension<Access>) -> Json<Value> {
    let Some(policies) = access.tenant.policies.load_full() else {
        return Json(json!({ "loaded": false }));
    };
    let provenance = policies.provenance();
    let mut answer = serde_json::Map::new();
    answer.insert("loaded".into(), json!(true));
    answer.insert("revision".into(), json!(policies.revision()));
    answer.insert("modules".into(), json!(policies.modules().len()));
    answer.insert(
        "packages".into(),
        json!(policies.packages().collect::<Vec<_>>()),
    );
    if let Some(revision) = &provenance.bundle_revision {
        answer.insert("bundle_revision".into(), json!(revision));
    }
    if let Some(image) = &provenance.image {
        answer.insert("image".into(), json!(image));
    }
    Json(Value::Object(answer))
}

/// The OpenAPI document of every REST path.
async fn openapi() -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        include_str!("openapi.json"),
    )
}
