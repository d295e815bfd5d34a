//! The Cerbos conformance corpus beside the repository, and the engine settings its suites' flags name.
#![allow(dead_code, clippy::unwrap_used, clippy::panic)]

use lictor_cerbos::{EngineConfig, SchemaEnforcement};
use serde_json::{json, Value};
use std::path::PathBuf;

/// The corpus folder; None (skipped) when absent, except under CI.
pub fn corpus_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/cerbos");
    if dir.join("suites.json").exists() {
        return Some(dir);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("conformance corpus missing at {}", dir.display());
    }
    println!("skipped: conformance corpus not found at {}", dir.display());
    None
}

/// The engine settings a cases file's server flags (suites.json) imply.
pub fn config_for(flags: &[Value]) -> EngineConfig {
    let mut config = EngineConfig::default();
    config.globals.insert("environment".into(), json!("test"));
    for flag in flags {
        match flag.as_str().unwrap() {
            "--set=engine.lenientScopeSearch=true" => config.lenient_scope_search = true,
            "--set=schema.enforcement=warn" => config.schema_enforcement = SchemaEnforcement::Warn,
            "--set=schema.enforcement=reject" => {
                config.schema_enforcement = SchemaEnforcement::Reject
            }
            // Request limits are enforced by the server, not the engine.
            f if f.starts_with("--set=server.requestLimits.") => {}
            other => panic!("unknown flag {other}"),
        }
    }
    config
}
