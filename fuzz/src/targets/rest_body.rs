//! The REST request bodies: the first byte picks a POST route, the rest is its body, served by the
//! real API router in-process over the demo directory and policies. Every answer must be JSON; an
//! error must be `{"code", "message", "details"}` with a message; text that is not one JSON value must
//! be refused as `INVALID_ARGUMENT` naming the request body. Directory writes go to a tenant without a
//! manifest, which refuses them all, so that inputs do not change what later inputs see.

use crate::{fixture, SINK_TENANT};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;

/// Every POST route whose body is JSON, and whether it writes to the directory.
const ROUTES: [(&str, bool); 18] = [
    ("/api/v3/directory/check", false),
    ("/api/v3/directory/checks", false),
    ("/api/v3/directory/check/permission", false),
    ("/api/v3/directory/check/relation", false),
    ("/aserto.directory.reader.v3.Reader/GetObjectMany", false),
    ("/api/v3/lictor/explain", false),
    ("/api/v3/lictor/lookup/objects", false),
    ("/api/v3/lictor/lookup/subjects", false),
    ("/access/v1/evaluation", false),
    ("/access/v1/evaluations", false),
    ("/access/v1/search/subject", false),
    ("/access/v1/search/resource", false),
    ("/api/v2/authz/is", false),
    ("/api/v2/authz/decisiontree", false),
    ("/api/v2/authz/query", false),
    ("/api/v2/authz/compile", false),
    ("/api/v3/directory/object", true),
    ("/api/v3/directory/relation", true),
];

/// Runs the target on one input.
pub fn run(data: &[u8]) {
    let Some((selector, body)) = data.split_first() else {
        return;
    };
    let (path, writes) = ROUTES[usize::from(*selector) % ROUTES.len()];
    let mut request = Request::post(path).header("content-type", "application/json");
    if writes {
        request = request.header("aserto-tenant-id", SINK_TENANT);
    }
    let request = request
        .body(Body::from(body.to_vec()))
        .expect("a valid request");
    let (status, answer) = fixture().call(request);
    let answer: Value = serde_json::from_slice(&answer)
        .unwrap_or_else(|e| panic!("{path} answered {status} with a body that is not JSON: {e}"));
    if writes {
        assert!(
            !status.is_success(),
            "{path} wrote to the tenant without a manifest: {answer}"
        );
    }
    if !status.is_success() {
        let code = answer["code"]
            .as_i64()
            .unwrap_or_else(|| panic!("{path}: no code in {answer}"));
        let message = answer["message"].as_str().unwrap_or_default();
        assert!(
            !message.is_empty(),
            "{path}: an error without a message: {answer}"
        );
        assert!(
            answer["details"].is_array(),
            "{path}: no details in {answer}"
        );
        assert!(code != 13 || status == StatusCode::INTERNAL_SERVER_ERROR);
    }
    // UTF-8 text that is not one JSON value (whitespace aside) must be refused.
    let blank = body.iter().all(u8::is_ascii_whitespace);
    let text = std::str::from_utf8(body);
    if !blank && text.is_ok_and(|text| serde_json::from_str::<Value>(text).is_err()) {
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {answer}");
        assert_eq!(answer["code"], 3, "{path}: {answer}");
        let message = answer["message"].as_str().unwrap_or_default();
        assert!(message.starts_with("request body"), "{path}: {answer}");
    }
}
