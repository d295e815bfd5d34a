//! The console port: the console's files with their security headers, the whole API beside them,
//! and the API the console needs (explained Is, manifest checks, tenants).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::Server;
use serde_json::{json, Value};
use std::time::Duration;

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn send(request: reqwest::blocking::RequestBuilder) -> (u16, Value) {
    let response = request.send().unwrap();
    let status = response.status().as_u16();
    let text = response.text().unwrap();
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

fn console(server: &Server, path: &str) -> String {
    server.url("console", path)
}

fn is_body(identity: &str, path: &str) -> Value {
    json!({
        "identity_context": {"type": "IDENTITY_TYPE_SUB", "identity": identity},
        "policy_context": {"path": path, "decisions": ["allowed"]},
        "resource_context": {"object_id": "morty@the-citadel.com"},
    })
}

#[test]
fn the_console_is_served_with_a_strict_policy_beside_the_api() {
    let server = Server::start("", true);
    let response = client().get(console(&server, "/ui/")).send().unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    let policy = headers["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("script-src 'self'"), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert!(!policy.contains("unsafe"), "{policy}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let page = response.text().unwrap();
    assert!(page.contains("<html lang="), "{page}");

    // Every script the page loads is served, as JavaScript.
    let scripts: Vec<&str> = page
        .split("src=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    assert!(!scripts.is_empty(), "the page loads a script: {page}");
    for script in scripts {
        let url = console(&server, &format!("/ui/{}", script.trim_start_matches("./")));
        let response = client().get(&url).send().unwrap();
        assert_eq!(response.status(), 200, "{url}");
        assert_eq!(
            response.headers()["content-type"],
            "text/javascript; charset=utf-8"
        );
    }

    // An unchanged file is not sent again.
    let etag = headers["etag"].clone();
    let again = client()
        .get(console(&server, "/ui/"))
        .header("if-none-match", etag)
        .send()
        .unwrap();
    assert_eq!(again.status(), 304);

    // Nothing outside the console's files, however the path is spelled.
    for path in [
        "/ui/../Cargo.toml",
        "/ui/%2e%2e/Cargo.toml",
        "/ui/.hidden",
        "/ui/nope.js",
    ] {
        let response = client().get(console(&server, path)).send().unwrap();
        assert_eq!(response.status(), 404, "{path}");
    }
    let root = client().get(console(&server, "/")).send().unwrap();
    assert_eq!(root.status(), 308);
    assert_eq!(root.headers()["location"], "/ui/");

    // The console's port answers the API on the same origin.
    let (status, body) = send(
        client()
            .post(console(&server, "/api/v3/directory/check"))
            .json(&json!({
                "object_type": "group", "object_id": "admin", "relation": "member",
                "subject_type": "user", "subject_id": "rick@the-citadel.com",
            })),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["check"], true);

    // And speaks TLS with the generated certificate, as the API ports do.
    let ca = std::fs::read(server.ca.as_ref().unwrap()).unwrap();
    let tls = reqwest::blocking::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .build()
        .unwrap();
    let url = format!("https://{}/ui/", server.ports["console"]);
    assert_eq!(tls.get(&url).send().unwrap().status(), 200);
}

#[test]
fn with_api_keys_the_page_loads_but_the_api_wants_a_key() {
    let key = "console-test-key-0123456789";
    let server = Server::start(
        &format!("api_keys:\n  - key: {key}\n    scopes: [read, write, admin]\n"),
        true,
    );
    let response = client().get(console(&server, "/ui/")).send().unwrap();
    assert_eq!(response.status(), 200);
    let (status, body) = send(client().get(console(&server, "/api/v3/lictor/tenants")));
    assert_eq!(status, 401, "{body}");
    let (status, body) = send(
        client()
            .get(console(&server, "/api/v3/lictor/tenants"))
            .header("authorization", format!("basic {key}")),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["tenants"], json!([{"id": "", "name": "default"}]));
}

#[test]
fn tenants_lists_every_tenant_without_keys() {
    let server = Server::start("tenants:\n  - id: zeta\n  - id: acme\n", true);
    let (status, body) = send(client().get(console(&server, "/api/v3/lictor/tenants")));
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"tenants": [
            {"id": "", "name": "default"},
            {"id": "acme", "name": "acme"},
            {"id": "zeta", "name": "zeta"},
        ], "current": ""})
    );
}

#[test]
fn an_explained_is_shows_identity_rules_and_directory_traces() {
    let server = Server::start("", true);
    let url = console(&server, "/api/v3/lictor/explain/is");
    let (status, body) = send(
        client()
            .post(&url)
            .json(&is_body("rick@the-citadel.com", "todoApp.POST.todos")),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["decisions"],
        json!([{"decision": "allowed", "is": true}])
    );
    assert_eq!(body["identity"]["user"]["id"], "rick@the-citadel.com");
    assert!(body["identity"]["resolved_by"]
        .as_str()
        .unwrap()
        .contains("identity"));
    let allowed = body["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|rule| rule["rule"] == "allowed")
        .unwrap();
    assert_eq!(allowed["value"], true);
    let calls = body["calls"].as_array().unwrap();
    assert!(!calls.is_empty(), "{body}");
    let check = calls.iter().find(|c| c["builtin"] == "ds.check").unwrap();
    assert_eq!(check["argument"]["subject_id"], "rick@the-citadel.com");
    assert_eq!(check["result"], true);
    assert_eq!(check["explanation"]["allowed"], true, "{check}");
    let text = check["explanation"]["text"].as_str().unwrap();
    assert!(text.contains("user:rick@the-citadel.com"), "{text}");
    assert!(body["directory_revision"].as_u64().unwrap() > 0);

    // The same request through Topaz's Is answers the same.
    let (_, topaz) = send(
        client()
            .post(console(&server, "/api/v2/authz/is"))
            .json(&is_body("rick@the-citadel.com", "todoApp.POST.todos")),
    );
    assert_eq!(topaz["decisions"], body["decisions"]);

    // Bad requests are named.
    let mut missing = is_body("rick@the-citadel.com", "todoApp.GET.todos");
    missing["policy_context"]["decisions"] = json!([]);
    let (status, body) = send(client().post(&url).json(&missing));
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("decisions"));
    let (status, body) = send(
        client()
            .post(&url)
            .json(&is_body("rick@the-citadel.com", "no.such")),
    );
    assert_eq!(status, 404, "{body}");
    let (status, body) = send(
        client()
            .post(&url)
            .json(&is_body("nobody@nowhere", "todoApp.GET.todos")),
    );
    assert_eq!(status, 404, "{body}");
    assert!(body["message"].as_str().unwrap().contains("nobody@nowhere"));
}

#[test]
fn a_manifest_is_checked_without_being_saved() {
    let server = Server::start("", true);
    let url = console(&server, "/api/v3/lictor/manifest/validate");
    let (_, before) = send(client().get(console(&server, "/api/v3/directory/manifest")));
    let current = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/demo/manifest.yaml"
    ))
    .unwrap();

    let (status, body) = send(client().post(&url).json(&json!({"manifest": current})));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"valid": true}));

    // Errors carry line and column.
    let broken =
        "model:\n  version: 3\n\ntypes:\n  user:\n    relations:\n      manager: nosuchtype\n";
    let (status, body) = send(client().post(&url).json(&json!({"manifest": broken})));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["valid"], false);
    let error = &body["errors"][0];
    assert_eq!(error["line"], 7, "{body}");
    assert!(error["column"].as_u64().unwrap() > 0);
    assert!(
        error["message"].as_str().unwrap().contains("nosuchtype"),
        "{body}"
    );

    // A manifest that drops stored types lists what it would strand, and saves nothing.
    let small = "model:\n  version: 3\n\ntypes:\n  user: {}\n";
    let (status, body) = send(client().post(&url).json(&json!({"manifest": small})));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["valid"], false);
    assert!(body["breaks"]["total"].as_u64().unwrap() > 0, "{body}");
    assert!(!body["breaks"]["violations"].as_array().unwrap().is_empty());
    let (_, after) = send(client().get(console(&server, "/api/v3/directory/manifest")));
    assert_eq!(before, after, "checking changed nothing");

    let (status, body) = send(client().post(&url).json(&json!({"manifest": 3})));
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("manifest"),
        "{body}"
    );
}

#[test]
fn objects_are_searched_by_id_or_display_name_and_paged() {
    let server = Server::start("", true);
    let search = |query: &str| {
        let (status, body) =
            send(client().get(console(&server, &format!("/api/v3/lictor/objects?{query}"))));
        assert_eq!(status, 200, "{query}: {body}");
        body
    };
    let ids = |body: &Value| -> Vec<String> {
        body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                format!(
                    "{}:{}",
                    o["type"].as_str().unwrap(),
                    o["id"].as_str().unwrap()
                )
            })
            .collect()
    };
    // By display name, without regard to case: "Rick Sanchez".
    assert_eq!(
        ids(&search("object_type=user&q=SANCHEZ")),
        vec!["user:rick@the-citadel.com"]
    );
    // By id, across types when none is named.
    let across = ids(&search("q=rick@the-citadel"));
    assert!(
        across.contains(&"user:rick@the-citadel.com".to_string()),
        "{across:?}"
    );
    assert!(
        across.iter().any(|id| id.starts_with("identity:")),
        "{across:?}"
    );
    // Paged as getObjects: the second page follows the first without overlap.
    let first = search("object_type=user&q=the-&page.size=2");
    let token = first["page"]["next_token"].as_str().unwrap().to_string();
    assert!(!token.is_empty(), "{first}");
    let second = search(&format!(
        "object_type=user&q=the-&page.size=2&page.token={token}"
    ));
    let (a, b) = (ids(&first), ids(&second));
    assert_eq!(a.len(), 2);
    assert!(
        !b.is_empty() && b.iter().all(|id| !a.contains(id)),
        "{a:?} {b:?}"
    );
    assert!(ids(&search("object_type=user&q=nobody-has-this")).is_empty());
}

#[test]
fn a_manifest_write_with_if_match_is_refused_once_the_manifest_changed() {
    let server = Server::start("", true);
    let url = console(&server, "/api/v3/directory/manifest");
    let read = || {
        let response = client().get(&url).send().unwrap();
        let etag = response.headers()["etag"].to_str().unwrap().to_string();
        (etag, response.text().unwrap())
    };
    let (etag, source) = read();
    let edited = format!("{source}\n# first edit\n");
    let (status, body) = send(
        client()
            .post(&url)
            .header("if-match", &etag)
            .body(edited.clone()),
    );
    assert_eq!(status, 200, "{body}");
    // The etag read before that edit is now stale: refused, naming both, and nothing changes.
    let (status, body) = send(
        client()
            .post(&url)
            .header("if-match", &etag)
            .body(format!("{source}\n# lost edit\n")),
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], 9, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("etag mismatch") && message.contains(&etag.replace('"', "")),
        "{message}"
    );
    let (current, stored) = read();
    assert_eq!(stored, edited);
    // The current etag, or `*`, or no condition at all, writes.
    let (status, body) = send(
        client()
            .post(&url)
            .header("if-match", &current)
            .body(source.clone()),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = send(
        client()
            .post(&url)
            .header("if-match", "*")
            .body(source.clone()),
    );
    assert_eq!(status, 200, "{body}");
}

#[test]
fn an_object_write_with_if_none_match_star_creates_only() {
    let server = Server::start("", true);
    let url = console(&server, "/api/v3/directory/object");
    let object = |name: &str| json!({"object": {"type": "group", "id": "create-only", "display_name": name}});
    let (status, body) = send(
        client()
            .post(&url)
            .header("if-none-match", "*")
            .json(&object("first")),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = send(
        client()
            .post(&url)
            .header("if-none-match", "*")
            .json(&object("second")),
    );
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["code"], 6, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("group:create-only"),
        "{body}"
    );
    let (_, stored) = send(client().get(console(
        &server,
        "/api/v3/directory/object/group/create-only",
    )));
    assert_eq!(stored["result"]["display_name"], "first");
    // Without the condition the write replaces, as Topaz's does.
    let (status, body) = send(client().post(&url).json(&object("third")));
    assert_eq!(status, 200, "{body}");
}
