//! Cerbos's REST API: `POST /api/check/resources`, `POST /api/plan/resources`,
//! `GET /api/server_info` and `GET /_cerbos/health`, with Lictor's `POST /api/v3/lictor/cerbos/explain`. Bodies are Cerbos's protojson, decoded into and
//! encoded from the protobuf messages the gRPC service uses too.

use super::service::CerbosApi;
use crate::api_error::ApiError;
use axum::body::Bytes;
use axum::extract::State;
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
) -> Result<Json<Value>, ApiError> {
    let request = decode(&body)?;
    encode(&api.check_resources(&request).await?)
}

async fn plan_resources(
    State(api): State<Arc<CerbosApi>>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let request = decode(&body)?;
    encode(&api.plan_resources(&request)?)
}

async fn server_info(State(api): State<Arc<CerbosApi>>) -> Result<Json<Value>, ApiError> {
    encode(&api.server_info())
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

/// A protobuf message as protojson, whole numbers written without a fraction as protojson does.
pub(super) fn encode<T: serde::Serialize>(message: &T) -> Result<Json<Value>, ApiError> {
    let mut value = serde_json::to_value(message)
        .map_err(|e| ApiError::new(crate::api_error::Code::Internal, e.to_string()))?;
    whole_numbers(&mut value);
    Ok(Json(value))
}

/// Largest integer a double holds exactly.
const EXACT_INTEGER: f64 = 9_007_199_254_740_992.0;

fn whole_numbers(value: &mut Value) {
    match value {
        Value::Number(number) => {
            if let Some(float) = number
                .as_f64()
                .filter(|f| number.is_f64() && f.fract() == 0.0 && f.abs() <= EXACT_INTEGER)
            {
                // In range and whole: the conversion is exact.
                #[allow(clippy::cast_possible_truncation)]
                let whole = float as i64;
                *number = serde_json::Number::from(whole);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers),
        Value::Object(map) => map.values_mut().for_each(whole_numbers),
        _ => {}
    }
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

    #[test]
    fn whole_doubles_are_written_as_integers() {
        let mut value = serde_json::json!({"a": [5.0, 2.5, -3.0], "b": 1e300});
        whole_numbers(&mut value);
        assert_eq!(value.to_string(), r#"{"a":[5,2.5,-3],"b":1e+300}"#);
    }
}
