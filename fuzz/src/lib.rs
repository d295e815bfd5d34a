//! What the fuzz targets share: an in-process server (the real API router over a temporary data
//! directory holding the demo directory and policies), and HS256 token signing; and the targets
//! themselves (`targets`), which the libFuzzer binaries and the stable corpus replay both run.

pub mod targets;

use axum::body::{Body, Bytes};
use axum::http::{Request, StatusCode};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use http_body_util::BodyExt as _;
use lictor_server::access::Access;
use lictor_server::config::{
    Config, DecisionLogs, Issuer, Jwt, Policies, Scope, StaticKey, TenantConfig,
};
use lictor_server::server::Service;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// The issuer every fuzzed token is checked against.
pub const ISSUER: &str = "https://issuer.example";
/// The HS256 secret of [`ISSUER`].
pub const SECRET: &str = "fuzzing-secret-of-the-example-issuer";
/// The tenant with no manifest: every directory write to it is refused, so writes have no effect.
pub const SINK_TENANT: &str = "sink";

/// The demo manifest and data, as `lictor demo` loads them.
const DEMO_MANIFEST: &str = include_str!("../../examples/demo/manifest.yaml");
const DEMO_DATA: [&str; 4] = [
    include_str!("../../examples/demo/citadel_objects.json"),
    include_str!("../../examples/demo/citadel_relations.json"),
    include_str!("../../examples/demo/todo_objects.json"),
    include_str!("../../examples/demo/todo_relations.json"),
];

/// The JWT configuration of the fixture: one HS256 issuer.
pub fn jwt_config() -> Jwt {
    Jwt {
        issuers: vec![Issuer {
            issuer: ISSUER.to_string(),
            audiences: Vec::new(),
            jwks_file: None,
            jwks_url: None,
            jwks_refresh_seconds: None,
            keys: vec![StaticKey {
                algorithm: "HS256".to_string(),
                secret: Some(SECRET.to_string()),
                public_key_file: None,
                kid: None,
            }],
        }],
        leeway_seconds: 0,
    }
}

/// A compact JWS of `header` and `claims` (raw bytes, encoded as given) signed with HS256 and `secret`.
pub fn sign_hs256(header: &[u8], claims: &[u8], secret: &[u8]) -> String {
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let signature = hs256_signature(&signing_input, secret);
    format!("{signing_input}.{signature}")
}

/// The base64url HS256 signature of a JWS signing input (`header.payload`).
pub fn hs256_signature(signing_input: &str, secret: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(signing_input.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// The server state and its API router, built once per fuzzing process.
pub struct Fixture {
    /// Runs the handlers.
    pub runtime: tokio::runtime::Runtime,
    /// Shared state and the API router with its access layer, as the server serves them.
    pub service: Service,
    _data_dir: tempfile::TempDir,
}

/// The fixture, created on first use.
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(Fixture::new)
}

impl Fixture {
    fn new() -> Fixture {
        let data_dir = tempfile::tempdir().expect("temporary data directory");
        let policies = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/demo/policies");
        let config = Config {
            data_dir: data_dir.path().to_path_buf(),
            policies: Policies {
                dir: Some(policies),
                bundle: None,
                reload_seconds: Some(0),
                ..Policies::default()
            },
            jwt: jwt_config(),
            tenants: vec![TenantConfig {
                id: SINK_TENANT.to_string(),
                policies: None,
                authzen: None,
                scim: None,
            }],
            decision_logs: DecisionLogs {
                enabled: true,
                recent: 64,
                mask: vec!["resource.ssn".to_string()],
                ..DecisionLogs::default()
            },
            ..Config::default()
        };
        let config_path = PathBuf::from("fuzz.yaml");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let service = runtime
            .block_on(lictor_server::server::open(
                config,
                config_path,
                lictor_server::api::routes,
            ))
            .expect("in-process server");
        let store = &service.state.tenants.default_tenant().store;
        store
            .set_manifest("manifest.yaml", DEMO_MANIFEST)
            .expect("demo manifest");
        for data in DEMO_DATA {
            store.import(data.as_bytes(), |_| {}).expect("demo data");
        }
        Fixture {
            runtime,
            service,
            _data_dir: data_dir,
        }
    }

    /// Serves one request and returns its status and body.
    pub fn call(&self, request: Request<Body>) -> (StatusCode, Bytes) {
        self.runtime.block_on(async {
            let response = self.service.call(request).await;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .expect("an in-memory body")
                .to_bytes();
            (status, body)
        })
    }

    /// Full access to the default tenant (the one with the demo data).
    pub fn access(&self) -> Access {
        Access {
            tenant: self.service.state.tenants.default_tenant(),
            scopes: vec![Scope::Admin],
            request_id: Arc::from("fuzz"),
        }
    }
}
