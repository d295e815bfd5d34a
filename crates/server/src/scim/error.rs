//! SCIM's error responses (RFC 7644 section 3.12): a status, a `scimType` where one applies, and a
//! detail naming the input at fault.

use crate::api_error::ApiError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The media type of every SCIM body.
pub const MEDIA_TYPE: &str = "application/scim+json";

/// A SCIM error.
#[derive(Debug, Clone)]
pub struct ScimError {
    /// The HTTP status.
    pub status: StatusCode,
    /// SCIM's error keyword (`invalidFilter`, `uniqueness`, ...), when one applies.
    pub scim_type: Option<&'static str>,
    /// What is wrong, naming the attribute, filter or id.
    pub detail: String,
}

impl ScimError {
    /// A 400 with a SCIM error keyword.
    pub fn bad(scim_type: &'static str, detail: impl Into<String>) -> ScimError {
        ScimError {
            status: StatusCode::BAD_REQUEST,
            scim_type: Some(scim_type),
            detail: detail.into(),
        }
    }

    /// A 404 for a resource that is not there.
    pub fn not_found(detail: impl Into<String>) -> ScimError {
        ScimError {
            status: StatusCode::NOT_FOUND,
            scim_type: None,
            detail: detail.into(),
        }
    }

    /// A 409: a unique attribute is taken.
    pub fn uniqueness(detail: impl Into<String>) -> ScimError {
        ScimError {
            status: StatusCode::CONFLICT,
            scim_type: Some("uniqueness"),
            detail: detail.into(),
        }
    }

    /// A 412: the resource changed since the version the client named.
    pub fn stale(detail: impl Into<String>) -> ScimError {
        ScimError {
            status: StatusCode::PRECONDITION_FAILED,
            scim_type: None,
            detail: detail.into(),
        }
    }
}

impl From<ApiError> for ScimError {
    fn from(error: ApiError) -> ScimError {
        ScimError {
            status: error
                .http_status
                .unwrap_or_else(|| error.code.http_status()),
            scim_type: None,
            detail: error.message,
        }
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let (Some(kind), Some(fields)) = (self.scim_type, body.as_object_mut()) {
            fields.insert("scimType".into(), kind.into());
        }
        let mut response = (self.status, body.to_string()).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
        response
    }
}
