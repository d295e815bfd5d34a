//! The configuration file: the documented example parses, mistakes are named with file and line.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use lictor_server::config::{Config, Scope, WhenFull};
use std::path::Path;

#[test]
fn the_documented_example_parses_to_the_defaults() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../lictor.example.yaml");
    let config = Config::load(&path).unwrap();
    let defaults = Config::default();
    assert_eq!(config.listen.authorizer_grpc, 8282);
    assert_eq!(config.listen.directory_rest, 9393);
    assert_eq!(config.listen.health, defaults.listen.health);
    assert_eq!(config.listen.metrics, 9696);
    assert!(config.listen.address.is_loopback());
    assert!(config.tls.enabled && config.tls.plaintext);
    assert_eq!(config.decision_logs.when_full, WhenFull::Drop);
    assert_eq!(
        config.decision_logs.queue_capacity,
        defaults.decision_logs.queue_capacity
    );
    assert_eq!(
        config.limits.evaluation_timeout_ms,
        defaults.limits.evaluation_timeout_ms
    );
    assert_eq!(
        config.limits.max_collection_elements,
        defaults.limits.max_collection_elements
    );
    assert_eq!(config.log.level, defaults.log.level);
    assert_eq!(config.log.format, defaults.log.format);
}

#[test]
fn limits_and_log_settings_are_checked() {
    let zero = "limits:\n  evaluation_timeout_ms: 0\n";
    let error = Config::parse(zero, Path::new("c.yaml"))
        .unwrap_err()
        .to_string();
    assert!(error.contains("limits.evaluation_timeout_ms"), "{error}");
    let format = "log:\n  format: xml\n";
    let error = Config::parse(format, Path::new("c.yaml"))
        .unwrap_err()
        .to_string();
    assert!(error.starts_with("c.yaml:2"), "{error}");
    assert!(error.contains("xml"), "{error}");
}

#[test]
fn an_unknown_field_is_named_with_its_line() {
    let text = "listen:\n  address: 127.0.0.1\n  authorizer_grcp: 1\n";
    let error = Config::parse(text, Path::new("lictor.yaml"))
        .unwrap_err()
        .to_string();
    assert!(error.starts_with("lictor.yaml:3"), "{error}");
    assert!(error.contains("authorizer_grcp"), "{error}");
}

#[test]
fn keys_tenants_and_issuers_are_checked() {
    let short = "api_keys:\n  - key: short\n    scopes: [read]\n";
    let error = Config::parse(short, Path::new("c.yaml"))
        .unwrap_err()
        .to_string();
    assert!(error.contains("api_keys[0].key"), "{error}");

    let stranger =
        "api_keys:\n  - key: 0123456789abcdef0\n    tenant: nobody\n    scopes: [read]\n";
    let error = Config::parse(stranger, Path::new("c.yaml"))
        .unwrap_err()
        .to_string();
    assert!(error.contains("\"nobody\" is not in tenants"), "{error}");

    let bad_scope = "api_keys:\n  - key: 0123456789abcdef0\n    scopes: [root]\n";
    let error = Config::parse(bad_scope, Path::new("c.yaml"))
        .unwrap_err()
        .to_string();
    assert!(error.contains("root"), "{error}");

    let keyless = "jwt:\n  issuers:\n    - issuer: https://id.example\n";
    let error = Config::parse(keyless, Path::new("c.yaml"))
        .unwrap_err()
        .to_string();
    assert!(error.contains("jwt.issuers[0]"), "{error}");

    let tenant = "tenants:\n  - id: ../escape\n";
    let error = Config::parse(tenant, Path::new("c.yaml"))
        .unwrap_err()
        .to_string();
    assert!(error.contains("tenants[0].id"), "{error}");

    let ok = "tenants:\n  - id: acme\napi_keys:\n  - key: 0123456789abcdef0\n    tenant: acme\n    scopes: [read, write]\n";
    let config = Config::parse(ok, Path::new("c.yaml")).unwrap();
    assert_eq!(config.api_keys[0].scopes, vec![Scope::Read, Scope::Write]);
}

#[test]
fn open_public_serving_needs_keys_or_an_explicit_override() {
    let public = "listen:\n  address: 0.0.0.0\n";
    assert!(Config::parse(public, Path::new("c.yaml")).is_err());
    let allowed = "listen:\n  address: 0.0.0.0\n  allow_unauthenticated_remote: true\n";
    assert!(Config::parse(allowed, Path::new("c.yaml")).is_ok());
}
