//! `POST /api/v3/lictor/cerbos/explain`: a CheckResources request body answered with the explanation
//! of every decision (see `lictor_cerbos::explain`), served beside Cerbos's REST API.

use super::rest::decode;
use super::service::CerbosApi;
use crate::api_error::ApiError;
use crate::rest::proto_answer;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use lictor_proto::cerbos::request::v1::CheckResourcesRequest;
use std::sync::Arc;

/// The endpoint's path.
pub const PATH: &str = "/api/v3/lictor/cerbos/explain";

/// Decodes the CheckResources body and answers its explanation.
pub async fn explain_resources(
    State(api): State<Arc<CerbosApi>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: CheckResourcesRequest = decode(&body)?;
    proto_answer(&api.explain_resources(&request)?)
}
