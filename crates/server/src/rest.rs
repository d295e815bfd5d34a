//! REST plumbing shared by the gateways: extractors for the JSON body, path and query whose
//! refusals are [`ApiError`]s naming the input at fault, the answers to unknown paths and methods,
//! and per-request metrics.

use crate::api_error::{ApiError, Code};
use crate::message_json::MessageDeserializer;
use crate::server::AppState;
use axum::extract::path::ErrorKind;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, MatchedPath, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

/// A JSON request body, read as protojson reads a message (a message only from a JSON object); a
/// malformed one is an `INVALID_ARGUMENT` naming the field or position.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|e| body_error("request body", e.status(), &e.body_text()))?;
        let bytes = if bytes.iter().all(u8::is_ascii_whitespace) {
            axum::body::Bytes::from_static(b"{}")
        } else {
            bytes
        };
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::invalid(format!("request body: {e}")))?;
        read_body(MessageDeserializer::new(value)).map(JsonBody)
    }
}

/// A proto message from a parsed JSON request body, read as protojson reads it: a field under its
/// proto or JSON name, `null` as unset, enums by name or number; a malformed one is an
/// `INVALID_ARGUMENT` naming the field.
pub fn proto_message<T: DeserializeOwned>(body: serde_json::Value) -> Result<T, ApiError> {
    read_body(MessageDeserializer::protojson(body))
}

fn read_body<T: DeserializeOwned>(body: MessageDeserializer) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(body).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            ApiError::invalid(format!("request body: {inner}"))
        } else {
            ApiError::invalid(format!("request body field {path}: {inner}"))
        }
    })
}

/// A proto message as the JSON answer protojson writes (proto field names, every field), with
/// whole numbers as integers.
pub fn proto_answer<T: Serialize>(message: &T) -> Result<Response, ApiError> {
    let bytes = crate::proto_json::protojson_bytes(message)
        .map_err(|e| ApiError::new(Code::Internal, format!("answer: {e}")))?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        bytes,
    )
        .into_response())
}

/// The error for a body that could not be read: too large (413, `RESOURCE_EXHAUSTED`, as HTTP
/// clients expect rather than grpc-gateway's 429), or malformed.
pub fn body_error(what: &str, status: StatusCode, text: &str) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            Code::ResourceExhausted,
            format!("{what} is larger than the server accepts (listen.max_body_bytes)"),
        )
        .with_http_status(StatusCode::PAYLOAD_TOO_LARGE)
    } else {
        ApiError::invalid(format!("{what}: {text}"))
    }
}

/// Path parameters; one that is not UTF-8 once percent-decoded is an `INVALID_ARGUMENT` naming it.
pub struct PathParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for PathParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(params)| PathParams(params))
            .map_err(path_error)
    }
}

fn path_error(rejection: PathRejection) -> ApiError {
    let PathRejection::FailedToDeserializePathParams(failure) = &rejection else {
        // Only a route without the parameters its handler reads gets here: a server fault.
        return ApiError::new(Code::Internal, rejection.body_text());
    };
    match failure.kind() {
        ErrorKind::InvalidUtf8InPathParam { key } => ApiError::invalid(format!(
            "path parameter {key} is not UTF-8 once percent-decoded"
        )),
        ErrorKind::ParseErrorAtKey { key, .. } | ErrorKind::DeserializeError { key, .. } => {
            ApiError::invalid(format!("path parameter {key}: {}", failure.body_text()))
        }
        _ => ApiError::invalid(format!("path: {}", failure.body_text())),
    }
}

/// Query parameters, decoded as strictly as grpc-gateway: a name or value that is not UTF-8 once
/// percent-decoded, a parameter given twice (no query field is repeated in the protos), or a value
/// of the wrong type is an `INVALID_ARGUMENT` naming the parameter. Unknown names are ignored.
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let mut seen = HashSet::new();
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = form_decode(name).ok_or_else(|| {
                ApiError::invalid(format!(
                    "query parameter name {name:?} is not UTF-8 once percent-decoded"
                ))
            })?;
            if form_decode(value).is_none() {
                return Err(ApiError::invalid(format!(
                    "query parameter {name} is not UTF-8 once percent-decoded"
                )));
            }
            if !seen.insert(name.clone()) {
                return Err(ApiError::invalid(format!(
                    "query parameter {name} is given more than once"
                )));
            }
        }
        // Every part decodes losslessly now, so the lenient form decoder reads what was checked.
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(QueryParams)
            .map_err(|e| {
                let path = e.path().to_string();
                let inner = e.into_inner();
                if path == "." {
                    ApiError::invalid(format!("query string: {inner}"))
                } else {
                    ApiError::invalid(format!("query parameter {path}: {inner}"))
                }
            })
    }
}

/// One `application/x-www-form-urlencoded` name or value, or `None` when it is not UTF-8.
fn form_decode(text: &str) -> Option<String> {
    let spaced = text.replace('+', " ");
    String::from_utf8(percent_encoding::percent_decode_str(&spaced).collect()).ok()
}

/// The answer to a path no REST route serves.
pub async fn unknown_path(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!("no REST path {method} {}", uri.path()))
}

/// The answer to a method a REST path does not serve: 405 with `Allow` (set by the router), and
/// code `UNIMPLEMENTED` as grpc-gateway's routing errors carry.
pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        Code::Unimplemented,
        format!("method {method} is not allowed on {}", uri.path()),
    )
    .with_http_status(StatusCode::METHOD_NOT_ALLOWED)
}

/// Counts every REST request by its route and result.
pub async fn measure(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    // The router's pattern, not the path: one series per route whatever the ids in the path.
    let path = request.extensions().get::<MatchedPath>().cloned();
    let method = request.method().clone();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status();
    let code = if status.is_success() {
        "ok"
    } else {
        status.as_str()
    };
    let path = path.as_ref().map_or("unmatched", MatchedPath::as_str);
    state
        .metrics
        .rest_request(&method, path, code, started.elapsed());
    response
}
