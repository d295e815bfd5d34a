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
    assert!(config.console.enabled && defaults.console.enabled);
    assert_eq!(config.console.port, 8080);
    assert_eq!(config.console.assets_dir, None);
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

#[test]
fn authzen_mappings_parse_route_and_name_the_field_at_fault() {
    use lictor_server::authzen::config::Decider;
    let text = "authzen:
  mappings:
    - resource_types: [todo]
      actions: [can_read_todos]
      rego: {package: authzen.todo}
    - resource_types: [record]
      cerbos: {roles_property: role}
    - actions: [member]
      directory: {}
    - rego: {package: catch.all, package_per_action: true, decision: permitted}
tenants:
  - id: acme
    authzen:
      mappings:
        - cerbos: {kind: document}
";
    let config = Config::parse(text, Path::new("c.yaml")).unwrap();
    let default = config.authzen_for("");
    assert!(
        matches!(default.decider("todo", "can_read_todos"), Decider::Rego(r) if r.package_for("can_read_todos") == "authzen.todo")
    );
    assert!(matches!(
        default.decider("record", "view"),
        Decider::Cerbos(c) if c.roles_property() == "role"
    ));
    // The first mapping that covers the request decides: `member` on todo is the directory's.
    assert!(matches!(
        default.decider("todo", "member"),
        Decider::Directory
    ));
    assert!(matches!(
        default.decider("group", "write"),
        Decider::Rego(r) if r.package_for("write") == "catch.all.write" && r.decision() == "permitted"
    ));
    assert!(matches!(
        config.authzen_for("acme").decider("todo", "can_read_todos"),
        Decider::Cerbos(c) if c.kind.as_deref() == Some("document")
    ));
    // Action search lists the actions the mappings name; the catch-all Rego mapping covers the
    // rest, so the directory's relations are not candidates.
    assert_eq!(
        default.listed_actions("todo"),
        (
            vec!["can_read_todos".to_string(), "member".to_string()],
            false
        )
    );
    assert!(matches!(
        Config::default().authzen_for("x").decider("a", "b"),
        Decider::Directory
    ));

    for (text, field) in [
        (
            "authzen:\n  mappings:\n    - resource_types: [a]\n",
            "authzen.mappings[0] must have exactly one of directory, rego or cerbos (it has 0)",
        ),
        (
            "authzen:\n  mappings:\n    - directory: {}\n    - rego: {package: a}\n      cerbos: {}\n",
            "authzen.mappings[1] must have exactly one",
        ),
        (
            "authzen:\n  mappings:\n    - rego: {package: \"a..b\"}\n",
            "authzen.mappings[0].rego.package \"a..b\"",
        ),
        (
            "authzen:\n  mappings:\n    - actions: [\"\"]\n      directory: {}\n",
            "authzen.mappings[0].actions[0] is empty",
        ),
        (
            "authzen:\n  mappings:\n    - cerbos: {default_roles: []}\n",
            "authzen.mappings[0].cerbos.default_roles",
        ),
        (
            "tenants:\n  - id: t\n    authzen:\n      mappings:\n        - rego: {package: p, package_per_action: true}\n          actions: [\"a b\"]\n",
            "tenants[0].authzen.mappings[0].actions",
        ),
    ] {
        let error = Config::parse(text, Path::new("c.yaml"))
            .unwrap_err()
            .to_string();
        assert!(error.contains(field), "{text}: {error}");
    }
    let error = Config::parse(
        "authzen:\n  mappings:\n    - rego: {pakage: a}\n",
        Path::new("c.yaml"),
    )
    .unwrap_err()
    .to_string();
    assert!(error.starts_with("c.yaml:3"), "{error}");
    assert!(error.contains("pakage"), "{error}");
}
