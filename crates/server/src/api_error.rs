//! The one error type of the service layer, shaped for each transport: a gRPC status, or the REST
//! gateway's `{"code", "message", "details"}` body with the matching HTTP status.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// gRPC status codes, the vocabulary Topaz's errors use on both transports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum Code {
    /// The request was cancelled.
    Cancelled = 1,
    /// An unexpected failure.
    Unknown = 2,
    /// A field is missing or malformed.
    InvalidArgument = 3,
    /// The deadline passed.
    DeadlineExceeded = 4,
    /// The named thing does not exist.
    NotFound = 5,
    /// It exists already.
    AlreadyExists = 6,
    /// The caller may not do this.
    PermissionDenied = 7,
    /// A limit was reached.
    ResourceExhausted = 8,
    /// The state does not allow it (etag mismatch, manifest in use).
    FailedPrecondition = 9,
    /// Aborted (conflict).
    Aborted = 10,
    /// Not offered.
    Unimplemented = 12,
    /// A server fault.
    Internal = 13,
    /// Not ready.
    Unavailable = 14,
    /// No or a bad credential.
    Unauthenticated = 16,
}

impl Code {
    /// The HTTP status the REST gateway answers with (as grpc-gateway maps them).
    pub fn http_status(self) -> StatusCode {
        match self {
            Code::Cancelled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
            Code::Unknown | Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Code::InvalidArgument | Code::FailedPrecondition => StatusCode::BAD_REQUEST,
            Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
            Code::NotFound => StatusCode::NOT_FOUND,
            Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
            Code::PermissionDenied => StatusCode::FORBIDDEN,
            Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
            Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
            Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        }
    }

    /// The code's name in metrics.
    pub fn name(self) -> &'static str {
        match self {
            Code::Cancelled => "cancelled",
            Code::Unknown => "unknown",
            Code::InvalidArgument => "invalid_argument",
            Code::DeadlineExceeded => "deadline_exceeded",
            Code::NotFound => "not_found",
            Code::AlreadyExists => "already_exists",
            Code::PermissionDenied => "permission_denied",
            Code::ResourceExhausted => "resource_exhausted",
            Code::FailedPrecondition => "failed_precondition",
            Code::Aborted => "aborted",
            Code::Unimplemented => "unimplemented",
            Code::Internal => "internal",
            Code::Unavailable => "unavailable",
            Code::Unauthenticated => "unauthenticated",
        }
    }
}

/// The metrics name of any gRPC status code: `ok`, a [`Code`]'s name, or the name of a code
/// Lictor does not answer itself but a handler below it might.
pub fn grpc_code_name(code: i32) -> &'static str {
    const CODES: [Code; 14] = [
        Code::Cancelled,
        Code::Unknown,
        Code::InvalidArgument,
        Code::DeadlineExceeded,
        Code::NotFound,
        Code::AlreadyExists,
        Code::PermissionDenied,
        Code::ResourceExhausted,
        Code::FailedPrecondition,
        Code::Aborted,
        Code::Unimplemented,
        Code::Internal,
        Code::Unavailable,
        Code::Unauthenticated,
    ];
    match code {
        0 => "ok",
        11 => "out_of_range",
        15 => "data_loss",
        _ => CODES
            .iter()
            .find(|c| **c as i32 == code)
            .map_or("unknown", |c| c.name()),
    }
}

/// A failed request: a code and a message naming the field or input at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// The status code.
    pub code: Code,
    /// What went wrong, for the caller.
    pub message: String,
    /// A stable, machine-readable reason (`IDENTITY_NOT_FOUND`, `INVALID_JWT`), sent as a
    /// `google.rpc.ErrorInfo` detail so that clients need not parse messages.
    pub reason: Option<&'static str>,
    /// The HTTP status when the gateway answers with another than the code's (405, 413), as
    /// HTTP clients expect for routing and size refusals.
    pub http_status: Option<StatusCode>,
}

impl ApiError {
    /// An error with a code and message.
    pub fn new(code: Code, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            reason: None,
            http_status: None,
        }
    }

    /// The same error with a machine-readable reason.
    pub fn with_reason(self, reason: &'static str) -> ApiError {
        ApiError {
            reason: Some(reason),
            ..self
        }
    }

    /// The same error answered over REST with `status` instead of the code's usual one.
    pub fn with_http_status(self, status: StatusCode) -> ApiError {
        ApiError {
            http_status: Some(status),
            ..self
        }
    }

    /// A missing or malformed field.
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(Code::InvalidArgument, message)
    }

    /// Something named does not exist.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(Code::NotFound, message)
    }

    /// A gRPC trailers-only response carrying this error, for callers that spoke gRPC.
    pub fn grpc_response(&self) -> Response {
        let mut response = Response::new(axum::body::Body::empty());
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        headers.insert("grpc-status", HeaderValue::from(self.code as i32));
        if let Ok(message) = HeaderValue::from_str(&percent_encode(&self.message)) {
            headers.insert("grpc-message", message);
        }
        response
    }
}

/// gRPC's percent-encoding of `grpc-message`: everything outside printable ASCII, and `%`.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if (0x20..0x7f).contains(&byte) && byte != b'%' {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let details: Vec<serde_json::Value> = self
            .reason
            .map(|reason| {
                serde_json::json!({
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": reason,
                    "domain": "lictor",
                })
            })
            .into_iter()
            .collect();
        let body = serde_json::json!({
            "code": self.code as i32,
            "message": self.message,
            "details": details,
        });
        let status = self.http_status.unwrap_or_else(|| self.code.http_status());
        (status, axum::Json(body)).into_response()
    }
}
