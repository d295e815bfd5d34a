//! Every refusal of the REST gateway is the `{"code", "message", "details"}` body naming the input at
//! fault: malformed paths and query strings, unknown paths and methods, oversize bodies. The real
//! binary on ephemeral 127.0.0.1 ports, a real HTTP client.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use serde_json::{json, Value};
use std::time::Duration;

mod common;

use common::Server;

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Status, headers and the body, which must be the JSON error shape.
fn error_of(
    request: reqwest::blocking::RequestBuilder,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let response = request.send().unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().unwrap();
    let body: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("status {status}: body {text:?} is not JSON: {e}"));
    assert_eq!(
        headers["content-type"].to_str().unwrap(),
        "application/json",
        "{body}"
    );
    assert!(body["code"].is_i64(), "{body}");
    assert!(body["message"].is_string(), "{body}");
    assert_eq!(body["details"], json!([]), "{body}");
    (status, headers, body)
}

/// Asserts an `INVALID_ARGUMENT` (400, code 3) whose message contains every one of `names`.
fn assert_invalid(server: &Server, path: &str, names: &[&str]) {
    let (status, _, body) = error_of(client().get(server.rest(path)));
    assert_eq!(status, 400, "{path}: {body}");
    assert_eq!(body["code"], 3, "{path}: {body}");
    let message = body["message"].as_str().unwrap();
    for name in names {
        assert!(message.contains(name), "{path}: {message:?} names {name}");
    }
}

#[test]
fn malformed_paths_and_query_strings_are_invalid_argument_naming_the_parameter() {
    let server = Server::start("", true);
    // Invalid UTF-8 once percent-decoded, in a path parameter and in a query parameter.
    assert_invalid(
        &server,
        "/api/v3/directory/object/user/%FF%FE",
        &["object_id", "UTF-8"],
    );
    assert_invalid(&server, "/api/v2/policies/%C3%28", &["id", "UTF-8"]);
    assert_invalid(
        &server,
        "/api/v3/directory/objects?object_type=%FF",
        &["object_type", "UTF-8"],
    );
    assert_invalid(
        &server,
        "/api/v3/directory/relations?subject_id=rick%E2%82",
        &["subject_id", "UTF-8"],
    );
    // A parameter given twice, where the proto field is not repeated.
    assert_invalid(
        &server,
        "/api/v3/directory/objects?object_type=user&object_type=group",
        &["object_type", "more than once"],
    );
    assert_invalid(
        &server,
        "/api/v3/directory/relations?with_objects=true&with_objects=false",
        &["with_objects", "more than once"],
    );
    // Page sizes outside Topaz's 1..100, and one that is not a number.
    assert_invalid(
        &server,
        "/api/v3/directory/objects?page.size=-1",
        &["page.size", "-1"],
    );
    assert_invalid(
        &server,
        "/api/v3/directory/relations?page.size=101",
        &["page.size", "101"],
    );
    assert_invalid(
        &server,
        "/api/v3/directory/object/group/admin?page.size=-5",
        &["page.size"],
    );
    assert_invalid(
        &server,
        "/api/v3/directory/objects?page.size=ten",
        &["page.size", "ten"],
    );
    // A value of the wrong type.
    assert_invalid(&server, "/api/v3/lictor/decisions?limit=many", &["limit"]);
    assert_invalid(
        &server,
        "/api/v3/directory/object/group/admin?with_relations=maybe",
        &["with_relations"],
    );

    // The bounds themselves are served: 100 at most, and 0 or no size asks for Topaz's 100.
    let count = |query: &str| {
        let response = client()
            .get(server.rest(&format!("/api/v3/directory/objects?{query}")))
            .send()
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "{query}");
        let body: Value = response.json().unwrap();
        body["results"].as_array().unwrap().len()
    };
    let all = count("");
    assert!(all > 1 && all <= 100, "the demo has {all} objects");
    assert_eq!(count("page.size=100"), all);
    assert_eq!(count("page.size=0"), all);
    assert_eq!(count("page.size=1"), 1);
    // Go's boolean spellings, as grpc-gateway reads them.
    let response = client()
        .get(server.rest("/api/v3/directory/object/group/admin?with_relations=1"))
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().unwrap();
    assert!(!body["relations"].as_array().unwrap().is_empty(), "{body}");
}

#[test]
fn unknown_paths_and_methods_answer_the_json_error() {
    let server = Server::start("", true);
    let (status, _, body) = error_of(client().get(server.rest("/api/v3/directory/nothing")));
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["code"], 5, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("GET /api/v3/directory/nothing"),
        "{body}"
    );

    // A path served for other methods: 405 with Allow, and code UNIMPLEMENTED as grpc-gateway sends.
    let (status, headers, body) = error_of(
        client()
            .put(server.rest("/api/v3/directory/check"))
            .body("{}"),
    );
    assert_eq!(status, 405, "{body}");
    assert_eq!(body["code"], 12, "{body}");
    assert_eq!(headers["allow"].to_str().unwrap(), "POST");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("PUT is not allowed on /api/v3/directory/check"),
        "{body}"
    );
    let (status, headers, body) =
        error_of(client().delete(server.rest("/api/v3/directory/objects")));
    assert_eq!(status, 405, "{body}");
    assert_eq!(body["code"], 12, "{body}");
    assert_eq!(headers["allow"].to_str().unwrap(), "GET,HEAD");

    // gRPC callers on the same port still get gRPC's answer, not the REST body.
    let grpc = reqwest::blocking::Client::builder()
        .http2_prior_knowledge()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    for path in [
        "/aserto.directory.reader.v3.Reader/NoSuchMethod",
        "/api/v3/directory/nothing",
    ] {
        let response = grpc
            .post(server.rest(path))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(vec![0u8, 0, 0, 0, 0])
            .send()
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "{path}");
        assert_eq!(response.headers()["grpc-status"], "12", "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "application/grpc",
            "{path}"
        );
    }
}

#[test]
fn an_oversize_body_is_resource_exhausted_with_413() {
    // The configuration's listen section is open at the end: this line continues it.
    let server = Server::start("  max_body_bytes: 65536\n", true);
    let huge = "x".repeat(70_000);
    let (status, _, body) = error_of(
        client()
            .post(server.rest("/api/v3/directory/check"))
            .header("content-type", "application/json")
            .body(huge.clone()),
    );
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["code"], 8, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("request body") && message.contains("listen.max_body_bytes"),
        "{message}"
    );
    // The raw manifest body too, and the manifest is unchanged.
    let before = client()
        .get(server.rest("/api/v3/directory/manifest"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let (status, _, body) = error_of(
        client()
            .post(server.rest("/api/v3/directory/manifest"))
            .body(huge),
    );
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["code"], 8, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("manifest body"),
        "{body}"
    );
    let after = client()
        .get(server.rest("/api/v3/directory/manifest"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(before, after);
}
