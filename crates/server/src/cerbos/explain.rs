//! `POST /api/v3/lictor/cerbos/explain`: a CheckResources request body answered with the explanation
//! of every decision (see `lictor_cerbos::explain`), served beside Cerbos's REST API.

use super::rest::{decode, encode};
use super::service::CerbosApi;
use crate::api_error::ApiError;
use axum::body::Bytes;
use axum::extract::State;
use axum::Json;
use lictor_proto::cerbos::request::v1::CheckResourcesRequest;
use serde_json::Value;
use std::sync::Arc;

/// The endpoint's path.
pub const PATH: &str = "/api/v3/lictor/cerbos/explain";

/// Decodes the CheckResources body and answers its explanation.
pub async fn explain_resources(
    State(api): State<Arc<CerbosApi>>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let request: CheckResourcesRequest = decode(&body)?;
    encode(&api.explain_resources(&request)?)
}
