//! REST plumbing shared by the gateways: a JSON body extractor whose errors name the field at fault,
//! and per-request metrics.

use crate::api_error::ApiError;
use crate::server::AppState;
use axum::extract::{FromRequest, MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Instant;

/// A JSON request body; a malformed one (or one followed by more than whitespace) is an
/// `INVALID_ARGUMENT` naming the field and position.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|e| ApiError::invalid(format!("request body: {e}")))?;
        let bytes = if bytes.iter().all(u8::is_ascii_whitespace) {
            axum::body::Bytes::from_static(b"{}")
        } else {
            bytes
        };
        let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
        let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if path == "." {
                ApiError::invalid(format!("request body: {inner}"))
            } else {
                ApiError::invalid(format!("request body field {path}: {inner}"))
            }
        })?;
        // Only whitespace may follow the JSON value.
        deserializer
            .end()
            .map_err(|e| ApiError::invalid(format!("request body: {e}")))?;
        Ok(JsonBody(value))
    }
}

/// Counts every REST request by its route and result.
pub async fn measure(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or_else(
        || "unmatched".to_string(),
        |p| format!("{} {}", request.method(), p.as_str()),
    );
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status();
    let code = if status.is_success() {
        "ok"
    } else {
        status.as_str()
    };
    state
        .metrics
        .request(&route, "rest", code, started.elapsed());
    response
}
