//! Cerbos policy test suites (`*_test.yaml`): named principals, resources and auxiliary data, and the
//! expected effect of each (principal, resource, action). An action absent from `expected` must be denied.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value as Json};

use crate::api::{CheckResourcesRequest, Effect, Principal, Resource, ResourceEntry};
use crate::compile::compile;
use crate::disk::PolicyFile;
use crate::engine::{CheckOptions, EngineConfig};
use crate::error::CompileError;
use crate::source::parse_documents;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Suite {
    name: String,
    #[serde(default)]
    skip: bool,
    #[serde(default)]
    principals: BTreeMap<String, Principal>,
    #[serde(default)]
    resources: BTreeMap<String, Resource>,
    #[serde(default)]
    aux_data: BTreeMap<String, Json>,
    #[serde(default)]
    options: Option<SuiteOptions>,
    tests: Vec<Test>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SuiteOptions {
    now: Option<String>,
    lenient_scope_search: Option<bool>,
    globals: Option<Map<String, Json>>,
    default_policy_version: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Test {
    name: String,
    #[serde(default)]
    skip: bool,
    input: TestInput,
    #[serde(default)]
    expected: Vec<Expectation>,
    #[serde(default)]
    options: Option<SuiteOptions>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TestInput {
    principals: Vec<String>,
    resources: Vec<String>,
    actions: Vec<String>,
    #[serde(default)]
    aux_data: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Expectation {
    principal: String,
    resource: String,
    actions: BTreeMap<String, Effect>,
    #[serde(default)]
    outputs: Vec<OutputExpectation>,
}

/// Outputs one action must produce (`{action, expected: [{src, val}]}`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OutputExpectation {
    action: String,
    expected: Vec<ExpectedOutput>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedOutput {
    src: String,
    val: Json,
}

/// The outcome of one (test, principal, resource).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestOutcome {
    /// Suite file.
    pub file: String,
    /// Suite name.
    pub suite: String,
    /// Test name.
    pub test: String,
    /// Principal fixture name.
    pub principal: String,
    /// Resource fixture name.
    pub resource: String,
    /// Why the test failed: one line per wrong action; empty when it passed.
    pub failures: Vec<String>,
    /// Whether the test was skipped.
    pub skipped: bool,
}

/// Results of every test suite of a store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TestReport {
    /// Problems that prevented policies or suites from loading.
    pub errors: Vec<CompileError>,
    /// One entry per (test, principal, resource).
    pub outcomes: Vec<TestOutcome>,
}

impl TestReport {
    /// Number of passed checks.
    pub fn passed(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| !o.skipped && o.failures.is_empty())
            .count()
    }

    /// Number of failed checks.
    pub fn failed(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| !o.failures.is_empty())
            .count()
    }

    /// Whether everything loaded and every test passed.
    pub fn success(&self) -> bool {
        self.errors.is_empty() && self.failed() == 0
    }
}

fn is_test_suite(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    if parts
        .iter()
        .any(|p| p.starts_with('.') || *p == "testdata" || *p == "_schemas")
    {
        return false;
    }
    let name = parts.last().copied().unwrap_or_default();
    ["_test.yaml", "_test.yml", "_test.json"]
        .iter()
        .any(|s| name.ends_with(s))
}

fn file_error(file: &str, line: usize, column: usize, message: String) -> CompileError {
    CompileError {
        file: file.to_owned(),
        line,
        column,
        message,
    }
}

fn effective_config(
    base: &EngineConfig,
    options: &[&SuiteOptions],
) -> (EngineConfig, Option<String>) {
    let mut config = base.clone();
    let mut now = None;
    for o in options {
        if let Some(l) = o.lenient_scope_search {
            config.lenient_scope_search = l;
        }
        if let Some(g) = &o.globals {
            config.globals = g.clone();
        }
        if let Some(v) = &o.default_policy_version {
            config.default_policy_version = v.clone();
        }
        if let Some(n) = &o.now {
            now = Some(n.clone());
        }
    }
    (config, now)
}

/// Compiles the store in `files` and runs its test suites under `config`.
pub fn run_test_suites(files: &[PolicyFile], config: &EngineConfig) -> TestReport {
    let mut report = TestReport::default();
    let store = match compile(files) {
        Ok(store) => store,
        Err(errors) => {
            report.errors = errors.0;
            return report;
        }
    };
    for file in files.iter().filter(|f| is_test_suite(&f.path)) {
        let documents = match parse_documents(&file.text) {
            Ok(d) => d,
            Err(e) => {
                report
                    .errors
                    .push(file_error(&file.path, e.pos.line, e.pos.column, e.message));
                continue;
            }
        };
        for document in documents {
            let suite: Suite = match serde_json::from_value(document.to_json()) {
                Ok(s) => s,
                Err(e) => {
                    let message = format!("invalid test suite: {e}");
                    report.errors.push(file_error(
                        &file.path,
                        document.pos.line,
                        document.pos.column,
                        message,
                    ));
                    continue;
                }
            };
            run_suite(&store, config, &file.path, &suite, &mut report);
        }
    }
    report
}

fn run_suite(
    store: &crate::PolicyStore,
    base: &EngineConfig,
    file: &str,
    suite: &Suite,
    report: &mut TestReport,
) {
    for test in &suite.tests {
        let options: Vec<&SuiteOptions> = suite.options.iter().chain(test.options.iter()).collect();
        let (config, now) = effective_config(base, &options);
        let now = now
            .and_then(|n| chrono::DateTime::parse_from_rfc3339(&n).ok())
            .unwrap_or_else(|| chrono::Utc::now().fixed_offset());
        let aux_data = test
            .input
            .aux_data
            .as_ref()
            .and_then(|name| suite.aux_data.get(name));
        for principal_name in &test.input.principals {
            for resource_name in &test.input.resources {
                let mut outcome = TestOutcome {
                    file: file.to_owned(),
                    suite: suite.name.clone(),
                    test: test.name.clone(),
                    principal: principal_name.clone(),
                    resource: resource_name.clone(),
                    failures: Vec::new(),
                    skipped: suite.skip || test.skip,
                };
                if outcome.skipped {
                    report.outcomes.push(outcome);
                    continue;
                }
                let (Some(principal), Some(resource)) = (
                    suite.principals.get(principal_name),
                    suite.resources.get(resource_name),
                ) else {
                    outcome.failures.push(format!(
                        "unknown principal `{principal_name}` or resource `{resource_name}`"
                    ));
                    report.outcomes.push(outcome);
                    continue;
                };
                let request = CheckResourcesRequest {
                    principal: principal.clone(),
                    resources: vec![ResourceEntry {
                        actions: test.input.actions.clone(),
                        resource: resource.clone(),
                    }],
                    ..Default::default()
                };
                let options = CheckOptions {
                    now,
                    aux_data,
                    relations: None,
                    deadline: None,
                };
                let response = store.check_resources(&config, &request, options);
                let expected = test
                    .expected
                    .iter()
                    .find(|e| e.principal == *principal_name && e.resource == *resource_name);
                let result = response.results.into_iter().next().unwrap_or_default();
                for action in &test.input.actions {
                    let want = expected
                        .and_then(|e| e.actions.get(action))
                        .copied()
                        .unwrap_or(Effect::Deny);
                    let have = result.actions.get(action).copied().unwrap_or(Effect::Deny);
                    if want != have {
                        outcome.failures.push(format!(
                            "action `{action}`: expected {want:?}, got {have:?}"
                        ));
                    }
                }
                for wanted in expected.map(|e| e.outputs.as_slice()).unwrap_or_default() {
                    for output in &wanted.expected {
                        let found = result.outputs.iter().any(|o| {
                            o.action == wanted.action
                                && o.src == output.src
                                && o.val.as_ref() == Some(&output.val)
                        });
                        if !found {
                            outcome.failures.push(format!(
                                "action `{}`: missing output {} = {}",
                                wanted.action, output.src, output.val
                            ));
                        }
                    }
                }
                report.outcomes.push(outcome);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    const POLICY: &str = "apiVersion: api.cerbos.dev/v1
resourcePolicy:
  version: default
  resource: doc
  rules:
    - name: read
      actions: [view]
      effect: EFFECT_ALLOW
      roles: [user]
      output:
        when:
          ruleActivated: P.id
";

    const SUITE: &str = "name: doc tests
principals:
  alice: {id: alice, roles: [user]}
resources:
  d1: {id: d1, kind: doc}
tests:
  - name: alice views
    input: {principals: [alice], resources: [d1], actions: [view, edit]}
    expected:
      - principal: alice
        resource: d1
        actions: {view: EFFECT_ALLOW}
        outputs:
          - action: view
            expected: [{src: 'resource.doc.vdefault#read', val: alice}]
  - name: wrong expectation
    input: {principals: [alice], resources: [d1], actions: [edit]}
    expected:
      - principal: alice
        resource: d1
        actions: {edit: EFFECT_ALLOW}
";

    #[test]
    fn absent_actions_must_be_denied_and_outputs_are_compared() {
        let files = [
            PolicyFile {
                path: "doc.yaml".into(),
                text: POLICY.into(),
            },
            PolicyFile {
                path: "doc_test.yaml".into(),
                text: SUITE.into(),
            },
        ];
        let report = run_test_suites(&files, &EngineConfig::default());
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        assert_eq!((report.passed(), report.failed()), (1, 1));
        let failed = report
            .outcomes
            .iter()
            .find(|o| !o.failures.is_empty())
            .unwrap();
        assert_eq!(failed.test, "wrong expectation");
        assert!(
            failed.failures[0].contains("expected Allow, got Deny"),
            "{:?}",
            failed.failures
        );
        assert!(!report.success());
    }
}
