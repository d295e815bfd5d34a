//! Cerbos's REST API: `POST /api/check/resources`, `POST /api/plan/resources`,
//! `GET /api/server_info` and `GET /_cerbos/health`, with Lictor's `POST /api/v3/lictor/cerbos/explain`. Bodies are Cerbos's protojson, decoded into and
//! encoded from the protobuf messages the gRPC service uses too.

use super::service::CerbosApi;
use crate::api_error::ApiError;
use crate::rest::proto_answer;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::sync::Arc;

/// Cerbos's REST routes over `api`.
pub fn routes(api: Arc<CerbosApi>) -> Router {
    Router::new()
        .route("/api/check/resources", post(check_resources))
        .route("/api/plan/resources", post(plan_resources))
        .route("/api/server_info", get(server_info))
        .route("/_cerbos/health", get(health))
        .route(
            super::explain::PATH,
            post(super::explain::explain_resources),
        )
        .with_state(api)
}

/// The REST paths of [`routes`], for mounting them on another router.
pub const PATHS: [&str; 5] = [
    "/api/check/resources",
    "/api/plan/resources",
    "/api/server_info",
    "/_cerbos/health",
    super::explain::PATH,
];

async fn check_resources(
    State(api): State<Arc<CerbosApi>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request = decode(&body)?;
    proto_answer(&api.check_resources(&request).await?)
}

async fn plan_resources(
    State(api): State<Arc<CerbosApi>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request = decode(&body)?;
    proto_answer(&api.plan_resources(&request)?)
}

async fn server_info(State(api): State<Arc<CerbosApi>>) -> Result<Response, ApiError> {
    proto_answer(&api.server_info())
}

async fn health() -> Json<Value> {
    Json(serde_json::json!({ "status": "SERVING" }))
}

/// A protobuf message from its protojson body; a malformed one names the field at fault.
pub(super) fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            ApiError::invalid(format!("request body: {inner}"))
        } else {
            ApiError::invalid(format!("request body field {path}: {inner}"))
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;
    use lictor_proto::cerbos::request::v1::CheckResourcesRequest;

    #[test]
    fn bodies_are_protojson_with_camel_case_and_proto_names() {
        let request: CheckResourcesRequest = decode(
            br#"{"requestId":"r1","includeMeta":true,"principal":{"id":"a","roles":["user"],"attr":{"n":5}},
                "resources":[{"actions":["view"],"resource":{"kind":"album","id":"x","policy_version":"default"}}]}"#,
        )
        .unwrap();
        assert_eq!(request.request_id, "r1");
        assert!(request.include_meta);
        assert_eq!(
            request.resources[0]
                .resource
                .as_ref()
                .unwrap()
                .policy_version,
            "default"
        );
    }

    #[test]
    fn unknown_and_mistyped_fields_are_named() {
        let error = decode::<CheckResourcesRequest>(br#"{"principal":{"idd":"a"}}"#).unwrap_err();
        assert!(error.message.contains("principal"), "{}", error.message);
        let error = decode::<CheckResourcesRequest>(br#"{"includeMeta":"yes"}"#).unwrap_err();
        assert!(error.message.contains("includeMeta"), "{}", error.message);
    }
}
