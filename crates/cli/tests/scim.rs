//! The SCIM 2.0 endpoint: what an identity provider's provisioning does lands in the directory as
//! Topaz lays out IdP data, and deleting removes only what SCIM made.
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

const SCIM_KEY: &str = "scim-token-0123456789abcdef";
const ADMIN_KEY: &str = "admin-key-0123456789abcdef";
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

struct Scim {
    server: Server,
    client: reqwest::blocking::Client,
}

impl Scim {
    fn start() -> Scim {
        let server = Server::start(
            &format!(
                "api_keys:\n  - key: {SCIM_KEY}\n    scopes: [scim]\n  - key: {ADMIN_KEY}\n    scopes: [read, write, admin]\n\
                 jwt:\n  issuers:\n    - issuer: https://idp.example/\n      keys:\n        - algorithm: HS256\n          secret: scim-test-secret\n"
            ),
            true,
        );
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        Scim { server, client }
    }

    fn url(&self, path: &str) -> String {
        self.server.rest(&format!("/scim/v2{path}"))
    }

    fn send(
        &self,
        request: reqwest::blocking::RequestBuilder,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let response = request.send().unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::Null),
            headers,
        )
    }

    fn scim(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .client
            .request(method, self.url(path))
            .header("authorization", format!("Bearer {SCIM_KEY}"));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/scim+json")
                .body(body.to_string());
        }
        let (status, body, _) = self.send(request);
        (status, body)
    }

    fn api(&self, path: &str) -> Value {
        let (status, body, _) = self.send(
            self.client
                .get(self.server.rest(path))
                .header("authorization", format!("basic {ADMIN_KEY}")),
        );
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

    fn relations(&self, query: &str) -> Vec<String> {
        let body = self.api(&format!("/api/v3/directory/relations?{query}"));
        let mut out: Vec<String> = body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let subject_relation = r["subject_relation"].as_str().unwrap_or("");
                format!(
                    "{}:{}#{}@{}:{}{}",
                    r["object_type"].as_str().unwrap(),
                    r["object_id"].as_str().unwrap(),
                    r["relation"].as_str().unwrap(),
                    r["subject_type"].as_str().unwrap(),
                    r["subject_id"].as_str().unwrap(),
                    if subject_relation.is_empty() {
                        String::new()
                    } else {
                        format!("#{subject_relation}")
                    }
                )
            })
            .collect();
        out.sort();
        out
    }
}

fn jwt(subject: &str) -> String {
    let claims = json!({
        "iss": "https://idp.example/",
        "sub": subject,
        "exp": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 600,
    });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"scim-test-secret"),
    )
    .unwrap()
}

#[test]
fn provisioning_lands_in_the_directory_and_deleting_keeps_what_the_application_wrote() {
    use reqwest::Method;
    let scim = Scim::start();

    // The SCIM key reaches SCIM only; other keys and no key get SCIM's error bodies.
    let (status, body, _) = scim.send(scim.client.get(scim.url("/Users")));
    assert_eq!(status, 401);
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    let (status, _, _) = scim.send(
        scim.client
            .get(
                scim.server
                    .rest("/api/v3/directory/objects?object_type=user"),
            )
            .header("authorization", format!("basic {SCIM_KEY}")),
    );
    assert_eq!(status, 403);

    let (status, barbara) = scim.scim(
        Method::POST,
        "/Users",
        Some(json!({
            "schemas": [USER, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            "userName": "bjensen@example.com",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "babs@jensen.org", "type": "home"}],
            "externalId": "okta-00u1",
            "active": true,
            "password": "never stored",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Tour"},
        })),
    );
    assert_eq!(status, 201, "{barbara}");
    let id = barbara["id"].as_str().unwrap().to_string();
    assert!(barbara.get("password").is_none());
    let (status, conflict) = scim.scim(
        Method::POST,
        "/Users",
        Some(json!({"schemas": [USER], "userName": "BJENSEN@example.com"})),
    );
    assert_eq!(status, 409, "{conflict}");
    assert_eq!(conflict["scimType"], "uniqueness");
    let (status, kim) = scim.scim(
        Method::POST,
        "/Users",
        Some(json!({"schemas": [USER], "userName": "kim@example.com"})),
    );
    assert_eq!(status, 201, "{kim}");
    let kim_id = kim["id"].as_str().unwrap().to_string();

    // The user object holds the SCIM attributes; identities are linked by `identifier`.
    let user = scim.api(&format!("/api/v3/directory/object/user/{id}"));
    assert_eq!(
        user["result"]["properties"]["userName"],
        "bjensen@example.com"
    );
    assert_eq!(user["result"]["properties"]["name"]["givenName"], "Barbara");
    assert!(user["result"]["properties"].get("password").is_none());
    assert_eq!(
        scim.relations(&format!(
            "object_type=user&object_id={id}&relation=identifier"
        )),
        vec![
            format!("user:{id}#identifier@identity:babs@jensen.org"),
            format!("user:{id}#identifier@identity:bjensen@example.com"),
            format!("user:{id}#identifier@identity:okta-00u1"),
        ]
    );

    // A group with a member; Barbara's `groups` shows it.
    let (status, group) = scim.scim(
        Method::POST,
        "/Groups",
        Some(json!({"schemas": [GROUP], "displayName": "Tour Guides", "members": [{"value": id}]})),
    );
    assert_eq!(status, 201, "{group}");
    let group_id = group["id"].as_str().unwrap().to_string();
    let (_, read) = scim.scim(Method::GET, &format!("/Users/{id}"), None);
    assert_eq!(read["groups"][0]["value"], group_id.as_str());
    let (status, patched) = scim.scim(
        Method::PATCH,
        &format!("/Groups/{group_id}"),
        Some(json!({"schemas": [PATCH], "Operations": [
            {"op": "add", "path": "members", "value": [{"value": kim_id}]},
            {"op": "remove", "path": format!("members[value eq \"{id}\"]")},
        ]})),
    );
    assert_eq!(status, 200, "{patched}");
    assert_eq!(
        scim.relations(&format!(
            "object_type=group&object_id={group_id}&relation=member"
        )),
        vec![format!("group:{group_id}#member@user:{kim_id}")]
    );

    // The application's own relation to the SCIM user.
    let (status, body, _) = scim.send(
        scim.client
            .post(scim.server.rest("/api/v3/directory/relation"))
            .header("authorization", format!("basic {ADMIN_KEY}"))
            .json(&json!({"relation": {"object_type": "group", "object_id": "admin", "relation": "member", "subject_type": "user", "subject_id": id}})),
    );
    assert_eq!(status, 200, "{body}");

    // Entra ID's PATCH: capitalized op, boolean as a string; the user is kept, marked inactive.
    let (status, inactive) = scim.scim(
        Method::PATCH,
        &format!("/Users/{id}"),
        Some(json!({"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]})),
    );
    assert_eq!(status, 200, "{inactive}");
    assert_eq!(inactive["active"], false);
    assert_eq!(
        scim.api(&format!("/api/v3/directory/object/user/{id}"))["result"]["properties"]["active"],
        false
    );

    // A stale version is refused and changes nothing.
    let (status, stale, _) = scim.send(
        scim.client
            .put(scim.url(&format!("/Users/{id}")))
            .header("authorization", format!("Bearer {SCIM_KEY}"))
            .header("if-match", barbara["meta"]["version"].as_str().unwrap())
            .json(&json!({"schemas": [USER], "userName": "other@example.com"})),
    );
    assert_eq!(status, 412, "{stale}");

    // Filters, paging and projection.
    let (_, page) = scim.scim(
        Method::GET,
        "/Users?filter=userName%20sw%20%22BJ%22%20and%20active%20eq%20false&attributes=userName",
        None,
    );
    assert_eq!(page["totalResults"], 1, "{page}");
    assert_eq!(page["Resources"][0]["userName"], "bjensen@example.com");
    assert!(page["Resources"][0].get("name").is_none());
    let (_, first) = scim.scim(
        Method::GET,
        "/Users?sortBy=userName&startIndex=2&count=1",
        None,
    );
    assert_eq!(first["totalResults"], 2);
    assert_eq!(first["Resources"][0]["userName"], "kim@example.com");
    let (status, bad) = scim.scim(Method::GET, "/Users?filter=userName%20xx%20%22a%22", None);
    assert_eq!(status, 400);
    assert_eq!(bad["scimType"], "invalidFilter");

    // Barbara signs in with a JWT whose subject is her userName: an Is for her answers.
    let (status, decision, _) = scim.send(
        scim.client
            .post(scim.server.rest("/api/v2/authz/is"))
            .header("authorization", format!("basic {ADMIN_KEY}"))
            .json(&json!({
                "identity_context": {"type": "IDENTITY_TYPE_JWT", "identity": jwt("bjensen@example.com")},
                "policy_context": {"path": "todoApp.GET.todos", "decisions": ["allowed"]},
                "resource_context": {},
            })),
    );
    assert_eq!(status, 200, "{decision}");
    assert_eq!(decision["decisions"][0]["decision"], "allowed");

    // Deleting removes the user, its identities and SCIM memberships, not the application's relation.
    let (status, _) = scim.scim(Method::DELETE, &format!("/Users/{id}"), None);
    assert_eq!(status, 204);
    let (status, gone) = scim.scim(Method::GET, &format!("/Users/{id}"), None);
    assert_eq!(status, 404, "{gone}");
    assert!(scim
        .relations(&format!(
            "object_type=user&object_id={id}&relation=identifier"
        ))
        .is_empty());
    assert_eq!(
        scim.relations(&format!("subject_type=user&subject_id={id}")),
        vec![format!("group:admin#member@user:{id}")]
    );
    let (status, _) = scim.scim(Method::DELETE, &format!("/Groups/{group_id}"), None);
    assert_eq!(status, 204);
    assert!(scim
        .relations(&format!(
            "subject_type=user&subject_id={kim_id}&relation=member"
        ))
        .is_empty());
}

/// A manifest with other names for the identity provider's types and relations.
const CUSTOM_MANIFEST: &str = "model:\n  version: 3\n\ntypes:\n  login: {}\n  person:\n    relations:\n      alias: login\n  team:\n    relations:\n      includes: person | team#includes\n";

const CUSTOM_MAPPING: &str = "scim:\n  user_type: person\n  group_type: team\n  identity_type: login\n  identifier_relation: alias\n  member_relation: includes\n";

#[test]
fn a_configured_mapping_names_the_types_and_relations_scim_writes() {
    use reqwest::Method;
    let prepare = |data: &std::path::Path| {
        let manifest = data.parent().unwrap().join("custom.yaml");
        std::fs::write(&manifest, CUSTOM_MANIFEST).unwrap();
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_lictor"))
            .arg("--data-dir")
            .arg(data)
            .args(["model", "set", manifest.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let server = Server::start_prepared(
        &format!("{CUSTOM_MAPPING}api_keys:\n  - key: {SCIM_KEY}\n    scopes: [scim]\n  - key: {ADMIN_KEY}\n    scopes: [read, write, admin]\n"),
        false,
        prepare,
    );
    let scim = Scim {
        server,
        client: reqwest::blocking::Client::new(),
    };
    let (status, user) = scim.scim(
        Method::POST,
        "/Users",
        Some(json!({"schemas": [USER], "userName": "ada@example.com"})),
    );
    assert_eq!(status, 201, "{user}");
    let id = user["id"].as_str().unwrap();
    let person = scim.api(&format!("/api/v3/directory/object/person/{id}"));
    assert_eq!(
        person["result"]["properties"]["userName"],
        "ada@example.com"
    );
    assert_eq!(
        scim.relations(&format!("object_type=person&object_id={id}&relation=alias")),
        vec![format!("person:{id}#alias@login:ada@example.com")]
    );
    let (status, team) = scim.scim(
        Method::POST,
        "/Groups",
        Some(json!({"schemas": [GROUP], "displayName": "Engines", "members": [{"value": id}]})),
    );
    assert_eq!(status, 201, "{team}");
    let team_id = team["id"].as_str().unwrap();
    assert_eq!(
        scim.relations(&format!(
            "object_type=team&object_id={team_id}&relation=includes"
        )),
        vec![format!("team:{team_id}#includes@person:{id}")]
    );
    let (_, listed) = scim.scim(Method::GET, "/Users", None);
    assert_eq!(listed["totalResults"], 1);
}

#[test]
fn a_configured_mapping_the_manifest_cannot_hold_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let demo = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/demo/manifest.yaml"
    );
    let set = std::process::Command::new(env!("CARGO_BIN_EXE_lictor"))
        .arg("--data-dir")
        .arg(&data)
        .args(["model", "set", demo])
        .output()
        .unwrap();
    assert!(
        set.status.success(),
        "{}",
        String::from_utf8_lossy(&set.stderr)
    );
    let config = dir.path().join("lictor.yaml");
    std::fs::write(
        &config,
        format!(
            "data_dir: {}\n{}{CUSTOM_MAPPING}",
            data.display(),
            common::PORTS
        ),
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_lictor"))
        .args(["run", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("scim: the manifest declares no type `person`"),
        "{stderr}"
    );
    assert!(stderr.contains("lictor.yaml"), "{stderr}");
}
