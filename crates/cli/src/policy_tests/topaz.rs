//! Topaz's test files (`*_assertions.json`, `*_decisions.json`, `*_evaluations.json`) run against
//! Lictor's own API in process, as `topaz test exec` runs them against a Topaz: each assertion's
//! request body goes to the REST path of its kind, and the answer is compared with `expected`.

use super::report::{Case, Outcome, Suite};
use anyhow::{bail, Context, Result};
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use lictor_server::config::{Config, Policies};
use lictor_server::server::Service;
use serde_json::Value;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// Largest answer read from the API.
const MAX_ANSWER_BYTES: usize = 64 * 1024 * 1024;

/// Where assertions are sent: a Lictor in process, or a running one.
pub enum Target<'f> {
    /// The fixture's API router, in process.
    InProcess(&'f Fixture),
    /// A running Lictor's REST port.
    Remote(&'f Remote),
}

impl Target<'_> {
    fn post(&self, path: &str, body: &Value) -> Result<(StatusCode, Value)> {
        match self {
            Target::InProcess(fixture) => fixture.post(path, body),
            Target::Remote(remote) => remote.post(path, body),
        }
    }
}

/// A running Lictor (or any server of the same REST paths), as `topaz test exec` targets one.
pub struct Remote {
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
    address: String,
    api_key: Option<String>,
    tenant: Option<String>,
}

impl Remote {
    /// A client of `address` (`http://127.0.0.1:8383`), sending the API key and tenant when given.
    pub fn new(address: &str, api_key: Option<String>, tenant: Option<String>) -> Result<Remote> {
        Ok(Remote {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?,
            client: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()?,
            address: address.trim_end_matches('/').to_string(),
            api_key,
            tenant,
        })
    }

    fn post(&self, path: &str, body: &Value) -> Result<(StatusCode, Value)> {
        let mut request = self
            .client
            .post(format!("{}{path}", self.address))
            .header(header::CONTENT_TYPE.as_str(), "application/json")
            .body(body.to_string());
        if let Some(key) = &self.api_key {
            request = request.header(header::AUTHORIZATION.as_str(), format!("basic {key}"));
        }
        if let Some(tenant) = &self.tenant {
            request = request.header("aserto-tenant-id", tenant);
        }
        self.runtime.block_on(async {
            let response = request
                .send()
                .await
                .with_context(|| format!("POST {}{path}", self.address))?;
            let status = StatusCode::from_u16(response.status().as_u16())?;
            let bytes = response.bytes().await?;
            Ok((status, answer_of(&bytes)))
        })
    }
}

/// An answer's JSON, or its text when it is not JSON.
fn answer_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

/// What a fixture holds: a manifest, objects and relations, policies.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FixtureSpec {
    /// The directory model.
    pub manifest: Option<PathBuf>,
    /// Objects and relations files (JSON Lines or Topaz JSON), imported in this order.
    pub data: Vec<PathBuf>,
    /// A policy directory or OPA bundle.
    pub policies: Option<PathBuf>,
}

/// A Lictor serving in process over a temporary data directory: the API router as every port
/// serves it, with no port bound.
pub struct Fixture {
    runtime: tokio::runtime::Runtime,
    service: Service,
    _data_dir: tempfile::TempDir,
}

impl Fixture {
    /// Opens a fresh data directory, loads the policies, sets the manifest and imports the data.
    pub fn open(spec: &FixtureSpec) -> Result<Fixture> {
        let data_dir = tempfile::tempdir().context("creating a temporary data directory")?;
        let policies = match &spec.policies {
            Some(path) if path.is_file() => Policies {
                bundle: Some(path.clone()),
                ..Policies::default()
            },
            Some(path) => Policies {
                dir: Some(path.clone()),
                ..Policies::default()
            },
            None => Policies::default(),
        };
        let config = Config {
            data_dir: data_dir.path().to_path_buf(),
            policies: Policies {
                reload_seconds: Some(0),
                ..policies
            },
            ..Config::default()
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let service = runtime
            .block_on(lictor_server::server::open(
                config,
                PathBuf::from("lictor test"),
                lictor_server::api::routes,
            ))
            .context("loading the policies")?;
        let store = &service.state.tenants.default_tenant().store;
        if let Some(manifest) = &spec.manifest {
            let source = std::fs::read_to_string(manifest)
                .with_context(|| format!("reading {}", manifest.display()))?;
            store
                .set_manifest(&manifest.display().to_string(), &source)
                .with_context(|| format!("setting the manifest {}", manifest.display()))?;
        }
        for file in &spec.data {
            let reader =
                std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
            store
                .import(BufReader::new(reader), |_| {})
                .with_context(|| format!("importing {}", file.display()))?;
        }
        Ok(Fixture {
            runtime,
            service,
            _data_dir: data_dir,
        })
    }

    /// The directory as reads see it now.
    pub fn directory(&self) -> Arc<lictor_directory::Directory> {
        self.service.state.tenants.default_tenant().store.snapshot()
    }

    /// The loaded policies, if any.
    pub fn policies(&self) -> Option<Arc<lictor_policy::PolicySet>> {
        self.service
            .state
            .tenants
            .default_tenant()
            .policies
            .load_full()
    }

    /// POSTs a JSON body to a REST path; answers the status and the JSON answer.
    fn post(&self, path: &str, body: &Value) -> Result<(StatusCode, Value)> {
        let request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))?;
        self.runtime.block_on(async {
            let response = self.service.call(request).await;
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), MAX_ANSWER_BYTES).await?;
            let answer = serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
            Ok((status, answer))
        })
    }

    /// Stops the fixture's background tasks.
    pub fn close(self) {
        let Fixture {
            runtime, service, ..
        } = self;
        runtime.block_on(service.stop());
    }
}

/// The kinds of assertion a Topaz test file holds: the key naming the request, its REST path, and
/// where the answer's verdict is.
const KINDS: [(&str, &str, Verdict); 5] = [
    ("check", "/api/v3/directory/check", Verdict::Check),
    (
        "check_relation",
        "/api/v3/directory/check/relation",
        Verdict::Check,
    ),
    (
        "check_permission",
        "/api/v3/directory/check/permission",
        Verdict::Check,
    ),
    ("check_decision", "/api/v2/authz/is", Verdict::Decisions),
    ("evaluation", "/access/v1/evaluation", Verdict::Decision),
];

#[derive(Clone, Copy)]
enum Verdict {
    /// `{"check": bool}`.
    Check,
    /// `{"decisions": [{"decision", "is"}]}`: every decision must be as expected.
    Decisions,
    /// AuthZEN's `{"decision": bool}`.
    Decision,
}

/// Whether a file name is one of Topaz's test files.
pub fn is_test_file(name: &str) -> bool {
    ["assertions.json", "decisions.json", "evaluations.json"]
        .iter()
        .any(|suffix| name == *suffix || name.ends_with(&format!("_{suffix}")))
}

/// Runs every assertion of one file against the fixture. A file that is not a Topaz test file
/// (unreadable, not JSON, no `assertions` list) is an error naming it.
pub fn run_file(target: &Target<'_>, file: &Path, label: &str) -> Result<Suite> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let document: Value = serde_json::from_str(&text)
        .with_context(|| format!("{}: not valid JSON", file.display()))?;
    let Some(assertions) = document.get("assertions").and_then(Value::as_array) else {
        bail!(
            "{}: no `assertions` list (a Topaz test file holds {{\"assertions\": [...]}})",
            file.display()
        );
    };
    let cases = assertions
        .iter()
        .enumerate()
        .map(|(index, assertion)| {
            let started = Instant::now();
            let (name, outcome) = run_assertion(target, assertion);
            Case {
                name: format!("#{index} {name}"),
                location: format!("{label}#{index}"),
                outcome,
                time: started.elapsed(),
            }
        })
        .collect();
    Ok(Suite {
        name: format!("topaz {label}"),
        cases,
    })
}

fn run_assertion(target: &Target<'_>, assertion: &Value) -> (String, Outcome) {
    let Some((kind, path, verdict, request)) = KINDS
        .iter()
        .find_map(|(kind, path, verdict)| Some((kind, path, verdict, assertion.get(kind)?)))
    else {
        let kinds: Vec<&str> = KINDS.iter().map(|(kind, ..)| *kind).collect();
        return (
            "unknown".to_string(),
            Outcome::Error(format!(
                "the assertion holds none of {}: {assertion}",
                kinds.join(", ")
            )),
        );
    };
    let name = describe(kind, request);
    let Some(expected) = assertion.get("expected").and_then(Value::as_bool) else {
        return (
            name,
            Outcome::Error("`expected` is missing or not true/false".to_string()),
        );
    };
    let name = format!("{name} is {expected}");
    let (status, answer) = match target.post(path, request) {
        Ok(answered) => answered,
        Err(error) => return (name, Outcome::Error(format!("{error:#}"))),
    };
    if status != StatusCode::OK {
        let message = answer.get("message").unwrap_or(&answer);
        return (
            name,
            Outcome::Error(format!("{path} answered {status}: {message}")),
        );
    }
    let seen: Vec<Option<bool>> = match verdict {
        Verdict::Check => vec![answer.get("check").and_then(Value::as_bool)],
        Verdict::Decision => vec![answer.get("decision").and_then(Value::as_bool)],
        Verdict::Decisions => answer
            .get("decisions")
            .and_then(Value::as_array)
            .map(|decisions| {
                decisions
                    .iter()
                    .map(|d| d.get("is").and_then(Value::as_bool))
                    .collect()
            })
            .unwrap_or_default(),
    };
    let outcome = if seen.is_empty() || seen.contains(&None) {
        Outcome::Error(format!("{path} answered no verdict: {answer}"))
    } else if seen.iter().all(|is| *is == Some(expected)) {
        Outcome::Passed
    } else {
        Outcome::Failed(format!("expected {expected}, {path} answered {answer}"))
    };
    (name, outcome)
}

/// One line naming what an assertion asks, in Zanzibar's `object#relation@subject` notation for
/// directory checks.
fn describe(kind: &str, request: &Value) -> String {
    // Topaz's JSON takes either spelling of a field.
    let field = |value: &Value, snake: &str, camel: &str| -> String {
        value
            .get(snake)
            .or_else(|| value.get(camel))
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
            .unwrap_or_default()
    };
    match kind {
        "check_decision" => {
            let policy = request
                .get("policy_context")
                .or_else(|| request.get("policyContext"))
                .unwrap_or(&Value::Null);
            let identity = request
                .get("identity_context")
                .or_else(|| request.get("identityContext"))
                .unwrap_or(&Value::Null);
            let resource = request
                .get("resource_context")
                .or_else(|| request.get("resourceContext"))
                .unwrap_or(&Value::Null);
            format!(
                "{} {} for {} on {resource}",
                field(policy, "path", "path"),
                policy.get("decisions").unwrap_or(&Value::Null),
                field(identity, "identity", "identity"),
            )
        }
        "evaluation" => {
            let part = |key: &str, field_name: &str| {
                let value = request.get(key).unwrap_or(&Value::Null);
                field(value, field_name, field_name)
            };
            format!(
                "{}:{} {} {}:{}",
                part("subject", "type"),
                part("subject", "id"),
                part("action", "name"),
                part("resource", "type"),
                part("resource", "id"),
            )
        }
        _ => {
            let relation = match kind {
                "check_permission" => field(request, "permission", "permission"),
                _ => field(request, "relation", "relation"),
            };
            let subject_relation = field(request, "subject_relation", "subjectRelation");
            format!(
                "{}:{}#{relation}@{}:{}{}",
                field(request, "object_type", "objectType"),
                field(request, "object_id", "objectId"),
                field(request, "subject_type", "subjectType"),
                field(request, "subject_id", "subjectId"),
                if subject_relation.is_empty() {
                    String::new()
                } else {
                    format!("#{subject_relation}")
                }
            )
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn test_files_are_told_by_name() {
        for name in [
            "assertions.json",
            "gdrive_assertions.json",
            "decisions.json",
            "x_evaluations.json",
        ] {
            assert!(is_test_file(name), "{name}");
        }
        for name in [
            "gdrive_objects.json",
            "myassertions.json",
            "assertions.yaml",
        ] {
            assert!(!is_test_file(name), "{name}");
        }
    }

    #[test]
    fn assertions_are_described_in_either_spelling() {
        let snake = json!({"object_type": "folder", "object_id": "root", "relation": "owner",
            "subject_type": "group", "subject_id": "eng", "subject_relation": "member"});
        let camel = json!({"objectType": "folder", "objectId": "root", "relation": "owner",
            "subjectType": "group", "subjectId": "eng", "subjectRelation": "member"});
        assert_eq!(
            describe("check", &snake),
            "folder:root#owner@group:eng#member"
        );
        assert_eq!(describe("check", &camel), describe("check", &snake));
        let evaluation = json!({"subject": {"type": "user", "id": "rick"},
            "action": {"name": "can_read"}, "resource": {"type": "doc", "id": "d1"}});
        assert_eq!(
            describe("evaluation", &evaluation),
            "user:rick can_read doc:d1"
        );
    }
}
