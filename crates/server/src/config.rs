//! The server's configuration: `lictor.yaml`, with a default for every field so that no file is needed.

use crate::ServerError;
use serde::Deserialize;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// Everything `lictor run` can be told.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// This process's name in decision records; default `HOST:PORT` (the authorizer gRPC port).
    pub instance: Option<String>,
    /// Directory of the embedded store, certificates and tenants.
    pub data_dir: PathBuf,
    /// Where the default tenant's directory is kept instead of `data_dir`: a
    /// `postgres://USER@HOST:PORT/DB` URL, shared by every replica that names it.
    pub store: Option<String>,
    /// Addresses and ports.
    pub listen: Listen,
    /// TLS on the listeners.
    pub tls: Tls,
    /// Where the default tenant's policies come from.
    pub policies: Policies,
    /// JWT issuers trusted for `IDENTITY_TYPE_JWT`.
    pub jwt: Jwt,
    /// Tenants besides the default one.
    pub tenants: Vec<TenantConfig>,
    /// API keys; with none, requests need no key (loopback only unless allowed).
    pub api_keys: Vec<ApiKey>,
    /// The audit trail of decisions.
    pub decision_logs: DecisionLogs,
    /// Bounds on policy evaluation.
    pub limits: Limits,
    /// The server's own log.
    pub log: Log,
    /// OpenTelemetry traces.
    pub traces: Traces,
    /// Cerbos's API, with the settings of a Cerbos configuration file (`server`, `storage`,
    /// `engine`, `schema`, `auxData`, `audit`); absent: not served on Cerbos's ports.
    #[serde(deserialize_with = "crate::cerbos::config::deserialize_section")]
    pub cerbos: Option<crate::cerbos::CerbosSettings>,
    /// How the default tenant's AuthZEN requests are decided.
    pub authzen: crate::authzen::config::AuthzenSettings,
    /// Follow a central Lictor: the default tenant's directory is a local copy of the center's,
    /// kept current over gRPC, and refuses writes of its own.
    pub follow: Option<Follow>,
    /// Identity-provider exports loaded into the default tenant on a schedule.
    pub sync: Vec<SyncSource>,
    /// The web console.
    pub console: Console,
    /// How SCIM users and groups map onto the default tenant's directory; when given, checked
    /// against its manifest at start.
    pub scim: Option<ScimMapping>,
}

/// How SCIM resources map onto a directory: Topaz's identity-provider layout by default.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScimMapping {
    /// The object type of users.
    pub user_type: String,
    /// The object type of groups.
    pub group_type: String,
    /// The object type of identities (userName, e-mails, externalId).
    pub identity_type: String,
    /// The relation linking a user and its identities (on the user type, or on the identity type).
    pub identifier_relation: String,
    /// The relation of a group to its member users and nested groups (`group#member`).
    pub member_relation: String,
}

impl Default for ScimMapping {
    fn default() -> Self {
        ScimMapping {
            user_type: "user".into(),
            group_type: "group".into(),
            identity_type: "identity".into(),
            identifier_relation: "identifier".into(),
            member_relation: "member".into(),
        }
    }
}

/// The web console: served at `/ui/` on its own port, beside the whole REST API.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Console {
    /// Serve it; on by default, as Topaz's console is.
    pub enabled: bool,
    /// Its port (Topaz's console port), on `listen.address`.
    pub port: u16,
    /// Serve the console's files from this directory instead of the copy built into the binary,
    /// for working on the console.
    pub assets_dir: Option<PathBuf>,
}

impl Default for Console {
    fn default() -> Self {
        Console {
            enabled: true,
            port: 8080,
            assets_dir: None,
        }
    }
}

/// One identity source loaded on a schedule, as `lictor load json` or `lictor load ldap` loads it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncSource {
    /// The source's name (what it owns is kept under DATA_DIR/sync/NAME.json).
    pub source: String,
    /// An export: JSON Lines or Topaz JSON, read again on every run.
    pub json: Option<PathBuf>,
    /// An LDAP directory, searched again on every run.
    pub ldap: Option<LdapSettings>,
    /// Seconds between runs (the first is at start).
    #[serde(default = "default_sync_seconds")]
    pub every_seconds: u64,
}

fn default_sync_seconds() -> u64 {
    300
}

/// An LDAP directory to read users and groups from (OpenLDAP or Active Directory).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LdapSettings {
    /// `ldap://HOST:PORT`, or `ldaps://HOST:PORT` for TLS from the first byte.
    pub url: String,
    /// Upgrade an `ldap://` connection with StartTLS before binding.
    pub starttls: bool,
    /// A PEM CA certificate to trust for the directory's TLS certificate (default: the system's).
    pub ca_cert: Option<PathBuf>,
    /// The DN to bind as; anonymous when none.
    pub bind_dn: Option<String>,
    /// The bind password (prefer `password_env`).
    pub password: Option<String>,
    /// The environment variable holding the bind password.
    pub password_env: Option<String>,
    /// Where users and groups are searched (the whole subtree).
    pub base_dn: String,
    /// Which entries are users [default: inetOrgPerson or user].
    pub user_filter: Option<String>,
    /// Which entries are groups [default: groupOfNames, groupOfUniqueNames or group].
    pub group_filter: Option<String>,
    /// The attribute that is a user's id [default: uid; Active Directory: sAMAccountName].
    pub user_id: Option<String>,
}

impl LdapSettings {
    /// The bind password, from the setting or its environment variable.
    pub fn bind_password(&self) -> Result<Option<String>, String> {
        match (&self.password, &self.password_env) {
            (Some(password), _) => Ok(Some(password.clone())),
            (None, Some(variable)) => std::env::var(variable)
                .map(Some)
                .map_err(|_| format!("ldap.password_env: {variable} is not set")),
            (None, None) => Ok(None),
        }
    }
}

/// The central Lictor an edge replica follows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Follow {
    /// One of the center's API ports (`http://central:9292`, or `https://` with TLS).
    pub url: String,
    /// The API key sent to the center, when it requires one (the read scope suffices).
    pub api_key: Option<String>,
    /// The center's tenant to follow (`aserto-tenant-id`); its default tenant when none.
    pub tenant: Option<String>,
    /// A PEM CA certificate to trust for the center's TLS (its generated `certs/ca.crt`).
    pub ca_cert: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            instance: None,
            data_dir: PathBuf::from("lictor-data"),
            store: None,
            listen: Listen::default(),
            tls: Tls::default(),
            policies: Policies::default(),
            jwt: Jwt::default(),
            tenants: Vec::new(),
            api_keys: Vec::new(),
            decision_logs: DecisionLogs::default(),
            limits: Limits::default(),
            log: Log::default(),
            traces: Traces::default(),
            cerbos: None,
            authzen: crate::authzen::config::AuthzenSettings::default(),
            follow: None,
            sync: Vec::new(),
            console: Console::default(),
            scim: None,
        }
    }
}

/// Listening addresses; the ports default to Topaz's.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Listen {
    /// The address every port binds to.
    pub address: IpAddr,
    /// Authorizer gRPC port.
    pub authorizer_grpc: u16,
    /// Authorizer REST gateway port.
    pub authorizer_rest: u16,
    /// Directory gRPC port.
    pub directory_grpc: u16,
    /// Directory REST gateway port.
    pub directory_rest: u16,
    /// Health port (`/healthz` and gRPC health).
    pub health: u16,
    /// Prometheus metrics port (`/metrics`).
    pub metrics: u16,
    /// Serve without API keys on a non-loopback address; off unless said explicitly.
    pub allow_unauthenticated_remote: bool,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
}

impl Default for Listen {
    fn default() -> Self {
        Listen {
            address: IpAddr::from([127, 0, 0, 1]),
            authorizer_grpc: 8282,
            authorizer_rest: 8383,
            directory_grpc: 9292,
            directory_rest: 9393,
            health: 9494,
            metrics: 9696,
            allow_unauthenticated_remote: false,
            max_body_bytes: 4 << 20,
        }
    }
}

/// TLS settings. Every API port accepts TLS and, when `plaintext` is on, plaintext too: the first byte
/// of a connection tells which (a TLS handshake starts with 0x16).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Tls {
    /// Offer TLS at all.
    pub enabled: bool,
    /// Also accept plaintext on the same ports.
    pub plaintext: bool,
    /// Certificate (PEM); generated into `<data_dir>/certs` when absent.
    pub cert_file: Option<PathBuf>,
    /// Private key (PEM) of `cert_file`.
    pub key_file: Option<PathBuf>,
}

impl Default for Tls {
    fn default() -> Self {
        Tls {
            enabled: true,
            plaintext: true,
            cert_file: None,
            key_file: None,
        }
    }
}

/// A policy source.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policies {
    /// A directory of `.rego` files.
    pub dir: Option<PathBuf>,
    /// An OPA bundle (`.tar.gz`).
    pub bundle: Option<PathBuf>,
    /// Seconds between checks for changed policy files; 0 turns reloading off.
    pub reload_seconds: Option<u64>,
    /// An OCI policy image to follow (`registry[:port]/repository[:tag]`, or `@sha256:…` to pin
    /// one): pulled at start, then polled for a new digest. The last good image is kept under the
    /// data directory and serves when the registry cannot be reached.
    pub image: Option<String>,
    /// Seconds between looks for a new digest of `image` (default 30; 0: never look again).
    pub poll_seconds: Option<u64>,
    /// How to reach the image's registry.
    pub registry: RegistrySettings,
}

impl Policies {
    /// What is wrong with the section, if anything; `at` names it (`policies`, `tenants[0].policies`).
    fn validate(&self, at: &str) -> Result<(), String> {
        let sources = [
            self.dir.is_some(),
            self.bundle.is_some(),
            self.image.is_some(),
        ];
        if sources.iter().filter(|given| **given).count() > 1 {
            return Err(format!("{at}: give one of dir, bundle and image"));
        }
        if let Some(image) = &self.image {
            lictor_image::Reference::parse(image).map_err(|e| format!("{at}.image: {e}"))?;
        }
        if self.registry.password.is_some() && self.registry.password_env.is_some() {
            return Err(format!(
                "{at}.registry: give password or password_env, not both"
            ));
        }
        Ok(())
    }
}

/// How to reach a policy image's registry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistrySettings {
    /// Speak plain HTTP instead of HTTPS.
    pub plain_http: bool,
    /// A PEM CA certificate to trust for the registry's TLS.
    pub ca_cert: Option<PathBuf>,
    /// The user name, when the registry asks for credentials.
    pub username: Option<String>,
    /// The password (prefer `password_env`).
    pub password: Option<String>,
    /// The environment variable holding the password.
    pub password_env: Option<String>,
}

/// Trusted token issuers.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Jwt {
    /// The issuers; a token whose `iss` is none of them is rejected.
    pub issuers: Vec<Issuer>,
    /// Clock skew allowed on `exp` and `nbf`, in seconds.
    pub leeway_seconds: u64,
}

/// One trusted issuer and where its keys are.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Issuer {
    /// The `iss` claim it signs with.
    pub issuer: String,
    /// Audiences accepted in `aud`; when set, a token without `aud` is refused; empty: not checked.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// A JWKS document on disk.
    #[serde(default)]
    pub jwks_file: Option<PathBuf>,
    /// A JWKS document served over HTTP(S), fetched at start and refreshed periodically and when a
    /// token names a key id it does not hold (key rotation).
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// Seconds between refreshes of `jwks_url` (default 300).
    #[serde(default)]
    pub jwks_refresh_seconds: Option<u64>,
    /// Static keys.
    #[serde(default)]
    pub keys: Vec<StaticKey>,
}

/// A key given in the configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticKey {
    /// `HS256`, `RS256` or `ES256`.
    pub algorithm: String,
    /// Shared secret for HS256.
    #[serde(default)]
    pub secret: Option<String>,
    /// Public key (PEM file) for RS256 and ES256.
    #[serde(default)]
    pub public_key_file: Option<PathBuf>,
    /// Key id the token's header must name, if any.
    #[serde(default)]
    pub kid: Option<String>,
}

/// A tenant: its own directory and policies, selected by the `aserto-tenant-id` header.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// The tenant id.
    pub id: String,
    /// Its policies; none means the default tenant's.
    #[serde(default)]
    pub policies: Option<Policies>,
    /// How its AuthZEN requests are decided; none means as the default tenant's.
    #[serde(default)]
    pub authzen: Option<crate::authzen::config::AuthzenSettings>,
    /// How SCIM resources map onto its directory; none means as the default tenant's.
    #[serde(default)]
    pub scim: Option<ScimMapping>,
}

/// An API key and what it may do.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKey {
    /// The secret as clients send it.
    pub key: String,
    /// The tenant it belongs to; empty is the default tenant.
    #[serde(default)]
    pub tenant: String,
    /// `read`, `write`, `admin`.
    pub scopes: Vec<Scope>,
}

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Checks, decisions and reads.
    Read,
    /// Directory writes.
    Write,
    /// Manifest and everything else.
    Admin,
    /// The SCIM endpoint (`/scim/v2/`), and nothing else: what an identity provider is given.
    Scim,
}

/// Default of `limits.max_import_bytes`: 512 MiB, about ten million relations.
pub const DEFAULT_MAX_IMPORT_BYTES: usize = 512 << 20;

/// Bounds on every policy evaluation (Is, DecisionTree, Query, Compile), on one import, and on
/// clients that hold connections without making progress.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Wall-clock time one evaluation may take, in milliseconds; past it the request answers
    /// DEADLINE_EXCEEDED.
    pub evaluation_timeout_ms: u64,
    /// Most elements a built-in (`numbers.range`) may create; past it RESOURCE_EXHAUSTED.
    pub max_collection_elements: usize,
    /// Ad-hoc Query and Compile evaluations running at once; 0 means one per core. A request that
    /// finds no room within the evaluation timeout answers RESOURCE_EXHAUSTED.
    pub max_concurrent_queries: usize,
    /// Staged bytes one import (a gRPC Import stream or `POST /api/v3/lictor/import`) may hold
    /// before it is applied, about 50 bytes a relation; past it RESOURCE_EXHAUSTED, and nothing of
    /// the import is applied.
    pub max_import_bytes: usize,
    /// Time a new connection has to finish its TLS handshake and, on HTTP/1, to send a request's
    /// headers; slower clients are disconnected.
    pub handshake_timeout_ms: u64,
    /// Longest pause within a request body or gRPC request stream; past it the request fails and
    /// nothing it sent is applied.
    pub body_idle_timeout_ms: u64,
    /// HTTP/2 (gRPC) streams one connection may have open at once.
    pub max_concurrent_streams: u32,
    /// How long a request naming a revision (`x-lictor-min-revision`) waits for this replica to
    /// apply it, in milliseconds; past it UNAVAILABLE.
    pub min_revision_wait_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        let evaluation = lictor_policy::EvalLimits::default();
        let connections = crate::listener::ConnectionLimits::default();
        Limits {
            evaluation_timeout_ms: millis(evaluation.timeout),
            max_collection_elements: evaluation.max_collection,
            max_concurrent_queries: 0,
            max_import_bytes: DEFAULT_MAX_IMPORT_BYTES,
            handshake_timeout_ms: millis(connections.handshake_timeout),
            body_idle_timeout_ms: millis(connections.body_idle_timeout),
            max_concurrent_streams: connections.max_concurrent_streams,
            min_revision_wait_ms: 1000,
        }
    }
}

/// `duration` in whole milliseconds, as the settings hold it.
fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl Limits {
    /// The bounds one evaluation runs under.
    pub fn evaluation(&self) -> lictor_policy::EvalLimits {
        lictor_policy::EvalLimits {
            timeout: std::time::Duration::from_millis(self.evaluation_timeout_ms),
            max_collection: self.max_collection_elements,
        }
    }

    /// The bounds on each connection of the API ports.
    pub fn connections(&self) -> crate::listener::ConnectionLimits {
        crate::listener::ConnectionLimits {
            handshake_timeout: std::time::Duration::from_millis(self.handshake_timeout_ms),
            body_idle_timeout: std::time::Duration::from_millis(self.body_idle_timeout_ms),
            max_concurrent_streams: self.max_concurrent_streams,
        }
    }

    /// How many ad-hoc queries may run at once.
    pub fn concurrent_queries(&self) -> usize {
        match self.max_concurrent_queries {
            0 => std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
            n => n,
        }
    }
}

/// The server's own log: what is written, and how.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Log {
    /// Filter directives as `RUST_LOG` takes them (`info`, `warn,lictor::request=info`); the
    /// `RUST_LOG` environment variable, when set, replaces it.
    pub level: String,
    /// `text` (for people) or `json` (one object per line, for log pipelines).
    pub format: LogFormat,
}

impl Default for Log {
    fn default() -> Self {
        Log {
            level: "info".to_string(),
            format: LogFormat::Text,
        }
    }
}

/// OpenTelemetry traces, exported over OTLP/gRPC; off unless an endpoint is given.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Traces {
    /// The OTLP/gRPC collector (`http://127.0.0.1:4317`); empty: no traces.
    pub otlp_endpoint: String,
    /// `service.name` of the exported spans.
    pub service_name: String,
    /// Share of requests traced when the caller sent no sampled `traceparent` (0.0 to 1.0).
    pub sample_ratio: f64,
    /// Longest time a finished span waits before it is sent, in milliseconds.
    pub export_delay_ms: u64,
}

impl Default for Traces {
    fn default() -> Self {
        Traces {
            otlp_endpoint: String::new(),
            service_name: "lictor".to_string(),
            sample_ratio: 1.0,
            export_delay_ms: 2000,
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Decision log settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DecisionLogs {
    /// Log decisions at all.
    pub enabled: bool,
    /// A JSON Lines file, rotated by size.
    pub file: Option<PathBuf>,
    /// Rotate when the file passes this many bytes.
    pub max_file_bytes: u64,
    /// Rotated files kept.
    pub max_files: usize,
    /// Also write records to standard output.
    pub stdout: bool,
    /// Records waiting to be written before the queue is full.
    pub queue_capacity: usize,
    /// What a full queue does.
    pub when_full: WhenFull,
    /// Dotted paths (`resource.ssn`) whose values are replaced by `"***"` before a record is written.
    pub mask: Vec<String>,
    /// Recent records kept in memory for the query endpoint.
    pub recent: usize,
    /// A central Lictor (`http://HOST:PORT`, one of its API ports) that every record is shipped to.
    pub ship_to: Option<String>,
    /// The API key sent to `ship_to`, when it requires one.
    pub ship_api_key: Option<String>,
    /// A PEM CA certificate to trust for an `https://` `ship_to` (the center's generated
    /// `certs/ca.crt`).
    pub ship_ca_cert: Option<PathBuf>,
    /// Bytes of records the shipping buffer holds while the center is unreachable; records made
    /// while it is full are not shipped (they stay in this instance's own log) and are counted.
    pub ship_buffer_bytes: u64,
    /// A PostgreSQL database (`postgres://USER@HOST:PORT/DB`) whose `lictor_decisions` table every
    /// record also goes to; the query API then answers from it, across every instance writing there.
    pub postgres: Option<String>,
}

impl Default for DecisionLogs {
    fn default() -> Self {
        DecisionLogs {
            enabled: true,
            file: None,
            max_file_bytes: 50 << 20,
            max_files: 5,
            stdout: false,
            queue_capacity: 65_536,
            when_full: WhenFull::Drop,
            mask: Vec::new(),
            recent: 10_000,
            ship_to: None,
            ship_api_key: None,
            ship_ca_cert: None,
            postgres: None,
            ship_buffer_bytes: 256 << 20,
        }
    }
}

/// Behaviour of a full decision-log queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WhenFull {
    /// Wait for room: no decision goes unlogged (audit-critical).
    Block,
    /// Drop the record and count it in a metric.
    Drop,
}

impl Config {
    /// The configured instance name, or this host's name and authorizer gRPC port.
    pub fn instance_name(&self) -> String {
        if let Some(name) = self.instance.as_ref().filter(|n| !n.is_empty()) {
            return name.clone();
        }
        let host = std::env::var("HOSTNAME")
            .ok()
            .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".into());
        format!("{host}:{}", self.listen.authorizer_grpc)
    }

    /// The SCIM mapping of the tenant `tenant_id` (empty: the default tenant), and whether it was
    /// configured (rather than the default layout).
    pub fn scim_for(&self, tenant_id: &str) -> (ScimMapping, bool) {
        let configured = self
            .tenants
            .iter()
            .find(|t| t.id == tenant_id)
            .and_then(|t| t.scim.as_ref())
            .or(self.scim.as_ref());
        match configured {
            Some(mapping) => (mapping.clone(), true),
            None => (ScimMapping::default(), false),
        }
    }

    /// The AuthZEN mappings of the tenant `tenant_id` (empty: the default tenant).
    pub fn authzen_for(&self, tenant_id: &str) -> &crate::authzen::config::AuthzenSettings {
        self.tenants
            .iter()
            .find(|t| t.id == tenant_id)
            .and_then(|t| t.authzen.as_ref())
            .unwrap_or(&self.authzen)
    }

    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<Config, ServerError> {
        let text = std::fs::read_to_string(path).map_err(|source| ServerError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Parses configuration text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ServerError> {
        let config: Config =
            serde_yaml_ng::from_str(text).map_err(|error| ServerError::Config {
                path: path.to_path_buf(),
                line: error.location().map(|l| l.line()),
                message: error.to_string(),
            })?;
        config.validate(path)?;
        Ok(config)
    }

    /// Checks the whole configuration (as loading it does), naming `path` in errors.
    pub fn validate(&self, path: &Path) -> Result<(), ServerError> {
        let fail = |message: String| ServerError::Config {
            path: path.to_path_buf(),
            line: None,
            message,
        };
        if !self.listen.address.is_loopback()
            && self.api_keys.is_empty()
            && !self.listen.allow_unauthenticated_remote
        {
            return Err(fail(format!(
                "listen.address {} is not loopback and no api_keys are configured; add keys or set listen.allow_unauthenticated_remote: true",
                self.listen.address
            )));
        }
        for (i, key) in self.api_keys.iter().enumerate() {
            if key.key.len() < 16 {
                return Err(fail(format!(
                    "api_keys[{i}].key is shorter than 16 characters"
                )));
            }
            if !key.tenant.is_empty() && !self.tenants.iter().any(|t| t.id == key.tenant) {
                return Err(fail(format!(
                    "api_keys[{i}].tenant {:?} is not in tenants",
                    key.tenant
                )));
            }
        }
        for (i, tenant) in self.tenants.iter().enumerate() {
            if tenant.id.is_empty()
                || !tenant
                    .id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(fail(format!(
                    "tenants[{i}].id {:?} must be letters, digits, '-' or '_'",
                    tenant.id
                )));
            }
        }
        let mut names = std::collections::HashSet::new();
        for (i, source) in self.sync.iter().enumerate() {
            let valid = !source.source.is_empty()
                && source
                    .source
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !valid {
                return Err(fail(format!(
                    "sync[{i}].source {:?} must be letters, digits, '-' or '_'",
                    source.source
                )));
            }
            if !names.insert(source.source.as_str()) {
                return Err(fail(format!(
                    "sync[{i}].source {:?} is named twice",
                    source.source
                )));
            }
            if source.every_seconds == 0 {
                return Err(fail(format!("sync[{i}].every_seconds must be at least 1")));
            }
            if source.json.is_some() == source.ldap.is_some() {
                return Err(fail(format!("sync[{i}]: give one of json and ldap")));
            }
            if let Some(ldap) = &source.ldap {
                if !ldap.url.starts_with("ldap://") {
                    return Err(fail(format!(
                        "sync[{i}].ldap.url {:?} must be ldap://HOST:PORT (LDAPS and StartTLS are not supported yet)",
                        ldap.url
                    )));
                }
            }
        }
        if self.follow.is_some() && !self.sync.is_empty() {
            return Err(fail(
                "sync: an edge replica's directory comes from its center; sync there".to_string(),
            ));
        }
        if let Some(follow) = &self.follow {
            if !(follow.url.starts_with("http://") || follow.url.starts_with("https://")) {
                return Err(fail(format!(
                    "follow.url {:?} must be http://HOST:PORT or https://HOST:PORT",
                    follow.url
                )));
            }
            if self.store.is_some() {
                return Err(fail(
                    "follow: an edge replica keeps its copy in the embedded store; remove store"
                        .to_string(),
                ));
            }
        }
        self.policies.validate("policies").map_err(fail)?;
        for (i, tenant) in self.tenants.iter().enumerate() {
            if let Some(policies) = &tenant.policies {
                policies
                    .validate(&format!("tenants[{i}].policies"))
                    .map_err(fail)?;
            }
        }
        self.authzen.validate("authzen").map_err(fail)?;
        for (i, tenant) in self.tenants.iter().enumerate() {
            if let Some(authzen) = &tenant.authzen {
                authzen
                    .validate(&format!("tenants[{i}].authzen"))
                    .map_err(fail)?;
            }
        }
        if self.limits.evaluation_timeout_ms == 0 {
            return Err(fail(
                "limits.evaluation_timeout_ms must be at least 1".to_string(),
            ));
        }
        let positive = [
            (
                "max_collection_elements",
                self.limits.max_collection_elements as u64,
            ),
            ("handshake_timeout_ms", self.limits.handshake_timeout_ms),
            ("body_idle_timeout_ms", self.limits.body_idle_timeout_ms),
            (
                "max_concurrent_streams",
                u64::from(self.limits.max_concurrent_streams),
            ),
        ];
        if let Some((field, _)) = positive.iter().find(|(_, value)| *value == 0) {
            return Err(fail(format!("limits.{field} must be at least 1")));
        }
        if !(0.0..=1.0).contains(&self.traces.sample_ratio) {
            return Err(fail(format!(
                "traces.sample_ratio {} must be between 0.0 and 1.0",
                self.traces.sample_ratio
            )));
        }
        let endpoint = &self.traces.otlp_endpoint;
        let is_url = endpoint.starts_with("http://") || endpoint.starts_with("https://");
        if !endpoint.is_empty() && !is_url {
            return Err(fail(format!(
                "traces.otlp_endpoint {:?} must be an http:// or https:// URL",
                self.traces.otlp_endpoint
            )));
        }
        for (i, issuer) in self.jwt.issuers.iter().enumerate() {
            if issuer.jwks_file.is_none() && issuer.jwks_url.is_none() && issuer.keys.is_empty() {
                return Err(fail(format!(
                    "jwt.issuers[{i}] ({}) has none of jwks_file, jwks_url or keys",
                    issuer.issuer
                )));
            }
            if let Some(url) = &issuer.jwks_url {
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    return Err(fail(format!(
                        "jwt.issuers[{i}].jwks_url {url:?} must be an http:// or https:// URL"
                    )));
                }
            }
        }
        Ok(())
    }
}
