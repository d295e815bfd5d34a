//! Cerbos's own configuration (the YAML `cerbos server --config` reads), as Lictor understands it:
//! the keys that matter for serving Cerbos's API, `--set key=value` overrides on dotted paths, a
//! warning for each key Lictor does not act on, and a start-up error for a storage driver it does not
//! have.

use serde_yaml_ng::{Mapping, Value};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Why a Cerbos configuration was refused; each names the file and the key at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CerbosConfigError {
    /// The file could not be read.
    #[error("{file}: {message}")]
    Read {
        /// The file.
        file: String,
        /// The cause.
        message: String,
    },
    /// The file is not YAML, or not a mapping.
    #[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Syntax {
        /// The file.
        file: String,
        /// The line, when known.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// A `--set` argument that is not `key=value`.
    #[error("--set {argument:?}: {message}")]
    Override {
        /// The argument as given.
        argument: String,
        /// What is wrong.
        message: String,
    },
    /// A key whose value does not make sense.
    #[error("{file}: {key}: {message}")]
    Value {
        /// The file (or `--set`).
        file: String,
        /// The dotted key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// A storage driver Lictor does not offer.
    #[error("{file}: storage.driver {driver:?} is not supported by Lictor (only \"disk\" is)")]
    UnsupportedDriver {
        /// The file.
        file: String,
        /// The driver named.
        driver: String,
    },
}

/// Default of `server.requestLimits.maxActionsPerResource` and `maxResourcesPerRequest`.
pub const DEFAULT_REQUEST_LIMIT: usize = 50;

/// Highest value Cerbos accepts for either request limit.
const REQUEST_LIMIT_CEILING: usize = 500;

/// Settings for serving Cerbos's API.
#[derive(Debug, Clone, PartialEq)]
pub struct CerbosSettings {
    /// Where REST (and gRPC, told apart by content type) is served; `None` leaves it off.
    pub http_listen: Option<SocketAddr>,
    /// Where gRPC is served; `None` leaves it off.
    pub grpc_listen: Option<SocketAddr>,
    /// Most actions one resource entry may ask about.
    pub max_actions_per_resource: usize,
    /// Most resources one request may hold.
    pub max_resources_per_request: usize,
    /// The policy directory (relative paths are relative to the working directory).
    pub policy_dir: PathBuf,
    /// Reload the policies when their files change.
    pub watch_for_changes: bool,
    /// Policy version of requests that name none.
    pub default_policy_version: String,
    /// Search parent scopes when a request's scope has no policy.
    pub lenient_scope_search: bool,
    /// Values policies read as `globals`.
    pub globals: serde_json::Map<String, serde_json::Value>,
    /// What a schema violation does.
    pub schema_enforcement: SchemaEnforcement,
    /// Keys that verify JWTs sent in `auxData`.
    pub jwt_key_sets: Vec<JwtKeySet>,
    /// Accept JWTs in `auxData` without verifying them (Cerbos's `auxData.jwt.disableVerification`).
    pub jwt_disable_verification: bool,
    /// Log every decision to Lictor's decision log.
    pub audit_enabled: bool,
    /// Wall-clock time the conditions of one request may take; past it the request answers
    /// DEADLINE_EXCEEDED. Not a Cerbos key: Lictor's `limits.evaluation_timeout_ms`.
    pub evaluation_timeout: std::time::Duration,
    /// Keys present in the configuration that Lictor does not act on, for start-up warnings.
    pub ignored_keys: Vec<String>,
}

/// `schema.enforcement`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaEnforcement {
    /// Schemas are not checked.
    None,
    /// Violations are reported and the decision stands.
    Warn,
    /// Violations are reported and every action is denied.
    Reject,
}

/// One `auxData.jwt.keySets` entry with a local key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtKeySet {
    /// The id requests name in `auxData.jwt.keySetId`.
    pub id: String,
    /// Where the keys are.
    pub source: KeySource,
}

/// Where a key set's keys are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A JWKS or PEM file.
    File(PathBuf),
    /// A base64-encoded JWKS or PEM document.
    Data(String),
}

/// Reads a Cerbos configuration file and applies `--set` overrides (`server.httpListenAddr=:3592`).
pub fn load(path: &Path, overrides: &[String]) -> Result<CerbosSettings, CerbosConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| CerbosConfigError::Read {
        file: file.clone(),
        message: e.to_string(),
    })?;
    let mut tree = parse_tree(&text, &file)?;
    apply_overrides(&mut tree, overrides)?;
    settings_from(&tree, &file)
}

/// Reads the `cerbos:` section of Lictor's configuration file as a Cerbos configuration.
pub fn deserialize_section<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<CerbosSettings>, D::Error> {
    let tree = <Value as serde::Deserialize>::deserialize(deserializer)?;
    if tree.is_null() {
        return Ok(None);
    }
    settings_from(&tree, "cerbos section")
        .map(Some)
        .map_err(serde::de::Error::custom)
}

/// Parses YAML text into a tree; empty text is an empty mapping.
pub fn parse_tree(text: &str, file: &str) -> Result<Value, CerbosConfigError> {
    let tree: Value = serde_yaml_ng::from_str(text).map_err(|e| CerbosConfigError::Syntax {
        file: file.to_string(),
        line: e.location().map(|l| l.line()),
        message: e.to_string(),
    })?;
    match tree {
        Value::Null => Ok(Value::Mapping(Mapping::new())),
        Value::Mapping(_) => Ok(tree),
        other => Err(CerbosConfigError::Syntax {
            file: file.to_string(),
            line: None,
            message: format!("the configuration must be a mapping, not {}", kind(&other)),
        }),
    }
}

/// Sets each `key.path=value` in `tree`, creating mappings on the way; the value is read as a YAML
/// scalar (`true`, `5`, `text`), as `cerbos server --set` does.
pub fn apply_overrides(tree: &mut Value, overrides: &[String]) -> Result<(), CerbosConfigError> {
    for argument in overrides {
        let fail = |message: &str| CerbosConfigError::Override {
            argument: argument.clone(),
            message: message.to_string(),
        };
        let (key, raw) = argument
            .split_once('=')
            .ok_or_else(|| fail("expected key=value"))?;
        if key.is_empty() || key.split('.').any(str::is_empty) {
            return Err(fail(
                "the key must be a dotted path such as server.httpListenAddr",
            ));
        }
        let value = serde_yaml_ng::from_str::<Value>(raw)
            .ok()
            .filter(|v| !matches!(v, Value::Mapping(_) | Value::Sequence(_) | Value::Null))
            .unwrap_or_else(|| Value::String(raw.to_string()));
        let mut node = &mut *tree;
        let parts: Vec<&str> = key.split('.').collect();
        for (i, part) in parts.iter().enumerate() {
            let Value::Mapping(map) = node else {
                return Err(fail(&format!(
                    "{} is not a mapping in the configuration",
                    parts.get(..i).unwrap_or_default().join(".")
                )));
            };
            let name = Value::String((*part).to_string());
            if i + 1 == parts.len() {
                map.insert(name, value.clone());
                break;
            }
            node = map
                .entry(name)
                .or_insert_with(|| Value::Mapping(Mapping::new()));
        }
    }
    Ok(())
}

/// Cerbos's defaults over a disk store in `directory`, served on Cerbos's default ports.
pub fn settings_for_directory(directory: PathBuf) -> CerbosSettings {
    CerbosSettings {
        http_listen: Some(SocketAddr::from(([127, 0, 0, 1], 3592))),
        grpc_listen: Some(SocketAddr::from(([127, 0, 0, 1], 3593))),
        max_actions_per_resource: DEFAULT_REQUEST_LIMIT,
        max_resources_per_request: DEFAULT_REQUEST_LIMIT,
        policy_dir: directory,
        watch_for_changes: false,
        default_policy_version: "default".to_string(),
        lenient_scope_search: false,
        globals: serde_json::Map::new(),
        schema_enforcement: SchemaEnforcement::None,
        jwt_key_sets: Vec::new(),
        jwt_disable_verification: false,
        audit_enabled: false,
        evaluation_timeout: lictor_policy::EvalLimits::default().timeout,
        ignored_keys: Vec::new(),
    }
}

/// Reads the settings from a configuration tree; `file` names it in errors.
pub fn settings_from(tree: &Value, file: &str) -> Result<CerbosSettings, CerbosConfigError> {
    let mut reader = Reader {
        file,
        ignored: Vec::new(),
    };
    let root = reader.mapping(tree, "")?;

    let mut settings = settings_for_directory(PathBuf::new());
    let mut http = ":3592".to_string();
    let mut grpc = ":3593".to_string();
    let mut driver = None;

    for (key, value) in root {
        match key.as_str() {
            "server" => {
                for (key, value) in reader.mapping(value, "server")? {
                    match key.as_str() {
                        "httpListenAddr" => http = reader.string(value, "server.httpListenAddr")?,
                        "grpcListenAddr" => grpc = reader.string(value, "server.grpcListenAddr")?,
                        "requestLimits" => {
                            for (key, value) in reader.mapping(value, "server.requestLimits")? {
                                let path = format!("server.requestLimits.{key}");
                                match key.as_str() {
                                    "maxActionsPerResource" => {
                                        settings.max_actions_per_resource =
                                            reader.limit(value, &path)?;
                                    }
                                    "maxResourcesPerRequest" => {
                                        settings.max_resources_per_request =
                                            reader.limit(value, &path)?;
                                    }
                                    _ => reader.ignore(&path),
                                }
                            }
                        }
                        // Off is what Lictor does anyway.
                        "apiExplorerEnabled" if value == &Value::Bool(false) => {}
                        _ => reader.ignore(&format!("server.{key}")),
                    }
                }
            }
            "storage" => {
                for (key, value) in reader.mapping(value, "storage")? {
                    match key.as_str() {
                        "driver" => driver = Some(reader.string(value, "storage.driver")?),
                        "disk" => {
                            for (key, value) in reader.mapping(value, "storage.disk")? {
                                let path = format!("storage.disk.{key}");
                                match key.as_str() {
                                    "directory" => {
                                        settings.policy_dir =
                                            PathBuf::from(reader.string(value, &path)?);
                                    }
                                    "watchForChanges" => {
                                        settings.watch_for_changes =
                                            reader.boolean(value, &path)?;
                                    }
                                    _ => reader.ignore(&path),
                                }
                            }
                        }
                        // Settings of other drivers are ignored with the driver refused below.
                        other => reader.ignore(&format!("storage.{other}")),
                    }
                }
            }
            "engine" => {
                for (key, value) in reader.mapping(value, "engine")? {
                    let path = format!("engine.{key}");
                    match key.as_str() {
                        "defaultPolicyVersion" => {
                            settings.default_policy_version = reader.string(value, &path)?;
                        }
                        "lenientScopeSearch" => {
                            settings.lenient_scope_search = reader.boolean(value, &path)?;
                        }
                        "globals" => settings.globals = reader.json_object(value, &path)?,
                        _ => reader.ignore(&path),
                    }
                }
            }
            "schema" => {
                for (key, value) in reader.mapping(value, "schema")? {
                    let path = format!("schema.{key}");
                    match key.as_str() {
                        "enforcement" => {
                            settings.schema_enforcement =
                                match reader.string(value, &path)?.as_str() {
                                    "none" => SchemaEnforcement::None,
                                    "warn" => SchemaEnforcement::Warn,
                                    "reject" => SchemaEnforcement::Reject,
                                    other => {
                                        return Err(reader.invalid(
                                            &path,
                                            format!(
                                            "{other:?} is none of \"none\", \"warn\", \"reject\""
                                        ),
                                        ))
                                    }
                                };
                        }
                        _ => reader.ignore(&path),
                    }
                }
            }
            "auxData" => {
                for (key, value) in reader.mapping(value, "auxData")? {
                    if key != "jwt" {
                        reader.ignore(&format!("auxData.{key}"));
                        continue;
                    }
                    for (key, value) in reader.mapping(value, "auxData.jwt")? {
                        let path = format!("auxData.jwt.{key}");
                        match key.as_str() {
                            "keySets" => settings.jwt_key_sets = reader.key_sets(value)?,
                            "disableVerification" => {
                                settings.jwt_disable_verification = reader.boolean(value, &path)?;
                            }
                            _ => reader.ignore(&path),
                        }
                    }
                }
            }
            "audit" => {
                for (key, value) in reader.mapping(value, "audit")? {
                    let path = format!("audit.{key}");
                    match key.as_str() {
                        "enabled" => settings.audit_enabled = reader.boolean(value, &path)?,
                        // Decisions go to Lictor's decision log whatever backend is named.
                        "backend" => {}
                        _ => reader.ignore(&path),
                    }
                }
            }
            // Lictor sends no telemetry: turning it off is what it does anyway.
            "telemetry" => {
                for (key, value) in reader.mapping(value, "telemetry")? {
                    if !(key == "disabled" && value == &Value::Bool(true)) {
                        reader.ignore(&format!("telemetry.{key}"));
                    }
                }
            }
            other => reader.ignore(other),
        }
    }

    match driver.as_deref() {
        Some("disk") => {}
        Some(other) => {
            return Err(CerbosConfigError::UnsupportedDriver {
                file: file.to_string(),
                driver: other.to_string(),
            })
        }
        None => {
            return Err(reader.invalid(
                "storage.driver",
                "is required; Lictor offers \"disk\" (with storage.disk.directory)".to_string(),
            ))
        }
    }
    if settings.policy_dir.as_os_str().is_empty() {
        return Err(reader.invalid(
            "storage.disk.directory",
            "is required with storage.driver \"disk\"".to_string(),
        ));
    }
    settings.http_listen =
        listen_address(&http).map_err(|m| reader.invalid("server.httpListenAddr", m))?;
    settings.grpc_listen =
        listen_address(&grpc).map_err(|m| reader.invalid("server.grpcListenAddr", m))?;
    if !settings
        .default_policy_version
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_')
    {
        return Err(reader.invalid(
            "engine.defaultPolicyVersion",
            "may hold letters, digits and '_' only".to_string(),
        ));
    }
    settings.ignored_keys = reader.ignored;
    Ok(settings)
}

/// A listen address as Cerbos writes it: `host:port`, `:port` (loopback here: Lictor serves on
/// 127.0.0.1 unless told otherwise), or empty for none. Unix sockets are not offered.
fn listen_address(text: &str) -> Result<Option<SocketAddr>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    if text.starts_with("unix:") {
        return Err(format!("{text:?}: unix sockets are not supported"));
    }
    let full = match text.strip_prefix(':') {
        Some(port) => format!("127.0.0.1:{port}"),
        None => text.replace("localhost:", "127.0.0.1:"),
    };
    full.parse()
        .map(Some)
        .map_err(|_| format!("{text:?} is not host:port (an IP address and a port)"))
}

/// The YAML value's kind, for messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// Typed reads of configuration values, naming the key at fault, and the list of ignored keys.
struct Reader<'f> {
    file: &'f str,
    ignored: Vec<String>,
}

impl Reader<'_> {
    fn invalid(&self, key: &str, message: String) -> CerbosConfigError {
        CerbosConfigError::Value {
            file: self.file.to_string(),
            key: key.to_string(),
            message,
        }
    }

    fn ignore(&mut self, key: &str) {
        self.ignored.push(key.to_string());
    }

    /// The entries of a mapping, keys as strings (a null section is empty).
    fn mapping<'v>(
        &self,
        value: &'v Value,
        key: &str,
    ) -> Result<Vec<(String, &'v Value)>, CerbosConfigError> {
        match value {
            Value::Null => Ok(Vec::new()),
            Value::Mapping(map) => map
                .iter()
                .map(|(k, v)| match k {
                    Value::String(name) => Ok((name.clone(), v)),
                    other => {
                        Err(self.invalid(key, format!("keys must be strings, not {}", kind(other))))
                    }
                })
                .collect(),
            other => Err(self.invalid(key, format!("must be a mapping, not {}", kind(other)))),
        }
    }

    fn string(&self, value: &Value, key: &str) -> Result<String, CerbosConfigError> {
        match value {
            Value::String(text) => Ok(text.clone()),
            Value::Number(number) => Ok(number.to_string()),
            Value::Bool(flag) => Ok(flag.to_string()),
            other => Err(self.invalid(key, format!("must be a string, not {}", kind(other)))),
        }
    }

    fn boolean(&self, value: &Value, key: &str) -> Result<bool, CerbosConfigError> {
        match value {
            Value::Bool(flag) => Ok(*flag),
            Value::String(text) if text == "true" => Ok(true),
            Value::String(text) if text == "false" => Ok(false),
            other => Err(self.invalid(key, format!("must be true or false, not {}", kind(other)))),
        }
    }

    fn limit(&self, value: &Value, key: &str) -> Result<usize, CerbosConfigError> {
        let number = match value {
            Value::Number(n) => n.as_u64(),
            Value::String(text) => text.parse().ok(),
            _ => None,
        };
        match number.and_then(|n| usize::try_from(n).ok()) {
            Some(n) if (1..=REQUEST_LIMIT_CEILING).contains(&n) => Ok(n),
            _ => Err(self.invalid(
                key,
                format!("must be a whole number from 1 to {REQUEST_LIMIT_CEILING}"),
            )),
        }
    }

    fn json_object(
        &self,
        value: &Value,
        key: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>, CerbosConfigError> {
        match serde_json::to_value(value) {
            Ok(serde_json::Value::Object(map)) => Ok(map),
            Ok(serde_json::Value::Null) => Ok(serde_json::Map::new()),
            Ok(other) => Err(self.invalid(
                key,
                format!("must be a mapping, not {}", lictor_model::json_kind(&other)),
            )),
            Err(e) => Err(self.invalid(key, e.to_string())),
        }
    }

    fn key_sets(&mut self, value: &Value) -> Result<Vec<JwtKeySet>, CerbosConfigError> {
        let Value::Sequence(entries) = value else {
            return Err(self.invalid(
                "auxData.jwt.keySets",
                format!("must be a list, not {}", kind(value)),
            ));
        };
        let mut sets = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            let at = format!("auxData.jwt.keySets[{i}]");
            let mut id = None;
            let mut source = None;
            for (key, value) in self.mapping(entry, &at)? {
                match key.as_str() {
                    "id" => id = Some(self.string(value, &format!("{at}.id"))?),
                    "local" => {
                        for (key, value) in self.mapping(value, &format!("{at}.local"))? {
                            let path = format!("{at}.local.{key}");
                            match key.as_str() {
                                "file" => {
                                    source = Some(KeySource::File(PathBuf::from(
                                        self.string(value, &path)?,
                                    )));
                                }
                                "data" => {
                                    source = Some(KeySource::Data(self.string(value, &path)?))
                                }
                                _ => self.ignore(&path),
                            }
                        }
                    }
                    "remote" => {
                        return Err(self.invalid(
                            &format!("{at}.remote"),
                            "remote key sets are not supported; use local.file or local.data"
                                .to_string(),
                        ))
                    }
                    _ => self.ignore(&format!("{at}.{key}")),
                }
            }
            let id =
                id.ok_or_else(|| self.invalid(&format!("{at}.id"), "is required".to_string()))?;
            let source = source.ok_or_else(|| {
                self.invalid(
                    &format!("{at}.local"),
                    "is required, with file or data".to_string(),
                )
            })?;
            sets.push(JwtKeySet { id, source });
        }
        Ok(sets)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    fn settings(text: &str, overrides: &[&str]) -> Result<CerbosSettings, CerbosConfigError> {
        let mut tree = parse_tree(text, "conf.yaml")?;
        let overrides: Vec<String> = overrides.iter().map(|s| (*s).to_string()).collect();
        apply_overrides(&mut tree, &overrides)?;
        settings_from(&tree, "conf.yaml")
    }

    const DISK: &str = "storage:\n  driver: disk\n  disk:\n    directory: policies\n";

    #[test]
    fn defaults_follow_cerbos() {
        let s = settings(DISK, &[]).unwrap();
        assert_eq!(s.http_listen, Some("127.0.0.1:3592".parse().unwrap()));
        assert_eq!(s.grpc_listen, Some("127.0.0.1:3593".parse().unwrap()));
        assert_eq!(s.max_actions_per_resource, 50);
        assert_eq!(s.max_resources_per_request, 50);
        assert_eq!(s.default_policy_version, "default");
        assert_eq!(s.schema_enforcement, SchemaEnforcement::None);
        assert_eq!(s.policy_dir, PathBuf::from("policies"));
        assert!(s.ignored_keys.is_empty());
    }

    #[test]
    fn overrides_set_dotted_paths_with_yaml_scalars() {
        let s = settings(
            DISK,
            &[
                "server.requestLimits.maxActionsPerResource=5",
                "engine.lenientScopeSearch=true",
                "schema.enforcement=reject",
                "server.httpListenAddr=127.0.0.1:0",
                "engine.globals.environment=test",
            ],
        )
        .unwrap();
        assert_eq!(s.max_actions_per_resource, 5);
        assert!(s.lenient_scope_search);
        assert_eq!(s.schema_enforcement, SchemaEnforcement::Reject);
        assert_eq!(s.http_listen, Some("127.0.0.1:0".parse().unwrap()));
        assert_eq!(s.globals["environment"], "test");
    }

    #[test]
    fn unsupported_driver_is_named() {
        let error = settings("storage:\n  driver: git\n  git:\n    url: x\n", &[]).unwrap_err();
        assert!(
            matches!(&error, CerbosConfigError::UnsupportedDriver { driver, .. } if driver == "git")
        );
        assert!(error.to_string().contains("\"git\""), "{error}");
    }

    #[test]
    fn unknown_keys_are_listed_not_refused() {
        let s = settings(
            &format!(
                "{DISK}server:\n  adminAPI:\n    enabled: true\n  cors: {{}}\ntracing: {{}}\n"
            ),
            &[],
        )
        .unwrap();
        assert_eq!(
            s.ignored_keys,
            ["server.adminAPI", "server.cors", "tracing"]
        );
    }

    #[test]
    fn bad_values_name_their_key() {
        let error = settings(DISK, &["server.requestLimits.maxResourcesPerRequest=0"]).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("server.requestLimits.maxResourcesPerRequest"),
            "{error}"
        );
        let error = settings(DISK, &["schema.enforcement=strict"]).unwrap_err();
        assert!(error.to_string().contains("schema.enforcement"), "{error}");
        let error = settings(DISK, &["server.grpcListenAddr=nowhere"]).unwrap_err();
        assert!(
            error.to_string().contains("server.grpcListenAddr"),
            "{error}"
        );
        let error = settings(DISK, &["novalue"]).unwrap_err();
        assert!(error.to_string().contains("key=value"), "{error}");
    }

    #[test]
    fn the_disk_directory_is_required() {
        let error = settings("storage:\n  driver: disk\n", &[]).unwrap_err();
        assert!(
            error.to_string().contains("storage.disk.directory"),
            "{error}"
        );
    }

    #[test]
    fn key_sets_read_local_keys_and_refuse_remote_ones() {
        let s = settings(
            &format!("{DISK}auxData:\n  jwt:\n    keySets:\n      - id: default\n        local:\n          file: keys.jwks\n"),
            &[],
        )
        .unwrap();
        assert_eq!(
            s.jwt_key_sets,
            [JwtKeySet {
                id: "default".into(),
                source: KeySource::File("keys.jwks".into())
            }]
        );
        let error = settings(
            &format!("{DISK}auxData:\n  jwt:\n    keySets:\n      - id: a\n        remote:\n          url: https://x\n"),
            &[],
        )
        .unwrap_err();
        assert!(error.to_string().contains("keySets[0].remote"), "{error}");
    }
}
