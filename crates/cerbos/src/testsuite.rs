//! Cerbos policy test suites (`*_test.yaml`): named principals, resources and auxiliary data (in the
//! suite, or shared by the suites of a directory in its `testdata/` fixtures), groups of them, and the
//! expected effect of each (principal, resource, action). An action absent from `expected` must be denied.

use std::collections::{BTreeMap, BTreeSet};

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
    principal_groups: BTreeMap<String, PrincipalGroup>,
    #[serde(default)]
    resources: BTreeMap<String, Resource>,
    #[serde(default)]
    resource_groups: BTreeMap<String, ResourceGroup>,
    #[serde(default)]
    aux_data: BTreeMap<String, Json>,
    #[serde(default)]
    options: Option<SuiteOptions>,
    tests: Vec<Test>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PrincipalGroup {
    principals: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResourceGroup {
    resources: Vec<String>,
}

/// The fixtures a `testdata/` directory shares with the suites beside it: `principals.yaml`,
/// `resources.yaml` and `auxdata.yaml` (or `.yml`, `.json`; `auxData` and `aux_data` also name the last).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Fixtures {
    #[serde(default)]
    principals: BTreeMap<String, Principal>,
    #[serde(default)]
    principal_groups: BTreeMap<String, PrincipalGroup>,
    #[serde(default)]
    resources: BTreeMap<String, Resource>,
    #[serde(default)]
    resource_groups: BTreeMap<String, ResourceGroup>,
    #[serde(default)]
    aux_data: BTreeMap<String, Json>,
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
    #[serde(default)]
    principals: Vec<String>,
    #[serde(default)]
    principal_groups: Vec<String>,
    #[serde(default)]
    resources: Vec<String>,
    #[serde(default)]
    resource_groups: Vec<String>,
    actions: Vec<String>,
    #[serde(default)]
    aux_data: Option<String>,
}

/// Expected effects and outputs of one principal, or several, on one resource, or several.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Expectation {
    #[serde(default)]
    principal: String,
    #[serde(default)]
    principals: Vec<String>,
    #[serde(default)]
    principal_groups: Vec<String>,
    #[serde(default)]
    resource: String,
    #[serde(default)]
    resources: Vec<String>,
    #[serde(default)]
    resource_groups: Vec<String>,
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
    let fixtures = load_fixtures(files, &mut report);
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
        let directory = file.path.rsplit_once('/').map_or("", |(dir, _)| dir);
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
            let run = SuiteRun {
                suite: &suite,
                fixtures: fixtures.get(directory),
                file: &file.path,
            };
            if let Err(message) = run.run(&store, config, &mut report) {
                report.errors.push(file_error(
                    &file.path,
                    document.pos.line,
                    document.pos.column,
                    message,
                ));
            }
        }
    }
    report
}

/// The fixtures of every `testdata/` directory, by the directory that holds it (`""` for the root).
fn load_fixtures(files: &[PolicyFile], report: &mut TestReport) -> BTreeMap<String, Fixtures> {
    let mut all: BTreeMap<String, Fixtures> = BTreeMap::new();
    for file in files {
        let (directory, name) = match file.path.rsplit_once('/') {
            Some((parent, name)) => match parent.rsplit_once('/') {
                Some((directory, "testdata")) => (directory, name),
                None if parent == "testdata" => ("", name),
                _ => continue,
            },
            None => continue,
        };
        let stem = [".yaml", ".yml", ".json"]
            .iter()
            .find_map(|ext| name.strip_suffix(ext))
            .unwrap_or_default();
        if !["principals", "resources", "auxdata", "auxData", "aux_data"].contains(&stem) {
            continue;
        }
        let read = parse_documents(&file.text)
            .map_err(|e| file_error(&file.path, e.pos.line, e.pos.column, e.message))
            .and_then(|documents| {
                let Some(document) = documents.into_iter().next() else {
                    return Ok(Fixtures::default());
                };
                serde_json::from_value::<Fixtures>(document.to_json()).map_err(|e| {
                    file_error(
                        &file.path,
                        document.pos.line,
                        document.pos.column,
                        format!("invalid test fixtures: {e}"),
                    )
                })
            });
        match read {
            Ok(read) => {
                let fixtures = all.entry(directory.to_owned()).or_default();
                fixtures.principals.extend(read.principals);
                fixtures.principal_groups.extend(read.principal_groups);
                fixtures.resources.extend(read.resources);
                fixtures.resource_groups.extend(read.resource_groups);
                fixtures.aux_data.extend(read.aux_data);
            }
            Err(error) => report.errors.push(error),
        }
    }
    all
}

/// What one (principal, resource) of a test expects: the effect of each action (deny when not
/// named) and, per action, the outputs by source.
#[derive(Debug, Default, Clone)]
struct Expected {
    actions: BTreeMap<String, Effect>,
    outputs: BTreeMap<String, BTreeMap<String, Json>>,
}

/// One suite with the fixtures beside it; the suite's own definitions come first, as in Cerbos.
struct SuiteRun<'a> {
    suite: &'a Suite,
    fixtures: Option<&'a Fixtures>,
    file: &'a str,
}

impl SuiteRun<'_> {
    fn principal(&self, name: &str) -> Option<&Principal> {
        self.suite
            .principals
            .get(name)
            .or_else(|| self.fixtures?.principals.get(name))
    }

    fn resource(&self, name: &str) -> Option<&Resource> {
        self.suite
            .resources
            .get(name)
            .or_else(|| self.fixtures?.resources.get(name))
    }

    fn aux_data(&self, name: &str) -> Result<&Json, String> {
        self.suite
            .aux_data
            .get(name)
            .or_else(|| self.fixtures?.aux_data.get(name))
            .ok_or_else(|| format!("auxData `{name}` not found"))
    }

    fn principal_group(&self, name: &str) -> Result<&[String], String> {
        self.suite
            .principal_groups
            .get(name)
            .or_else(|| self.fixtures?.principal_groups.get(name))
            .map(|g| g.principals.as_slice())
            .ok_or_else(|| format!("principal group `{name}` not found"))
    }

    fn resource_group(&self, name: &str) -> Result<&[String], String> {
        self.suite
            .resource_groups
            .get(name)
            .or_else(|| self.fixtures?.resource_groups.get(name))
            .map(|g| g.resources.as_slice())
            .ok_or_else(|| format!("resource group `{name}` not found"))
    }

    /// Every (principal, resource) of a test with what it expects; an expectation for a pair the
    /// input does not have, or two that contradict each other, make the test invalid.
    fn matrix(&self, test: &Test) -> Result<Vec<(String, String, Expected)>, String> {
        let in_input: BTreeSet<&str> = test.input.actions.iter().map(String::as_str).collect();
        let mut expectations: BTreeMap<(String, String), Expected> = BTreeMap::new();
        for expectation in &test.expected {
            let extra: Vec<&str> = expectation
                .actions
                .keys()
                .chain(expectation.outputs.iter().map(|o| &o.action))
                .map(String::as_str)
                .filter(|a| !in_input.contains(a))
                .collect();
            if !extra.is_empty() {
                return Err(format!(
                    "expectations for actions that are not in the input: {}",
                    extra.join(", ")
                ));
            }
            let principals = collect(
                &expectation.principal,
                &expectation.principals,
                &expectation.principal_groups,
                |g| self.principal_group(g),
            )?;
            let resources = collect(
                &expectation.resource,
                &expectation.resources,
                &expectation.resource_groups,
                |g| self.resource_group(g),
            )?;
            for principal in &principals {
                for resource in &resources {
                    let expected = expectations
                        .entry((principal.clone(), resource.clone()))
                        .or_default();
                    merge(expected, expectation).map_err(|what| {
                        format!("inconsistent expectations for principal `{principal}` on resource `{resource}`: {what}")
                    })?;
                }
            }
        }
        let principals = collect(
            "",
            &test.input.principals,
            &test.input.principal_groups,
            |g| self.principal_group(g),
        )?;
        let resources = collect(
            "",
            &test.input.resources,
            &test.input.resource_groups,
            |g| self.resource_group(g),
        )?;
        let mut matrix = Vec::new();
        for principal in &principals {
            for resource in &resources {
                let expected = expectations
                    .remove(&(principal.clone(), resource.clone()))
                    .unwrap_or_default();
                matrix.push((principal.clone(), resource.clone(), expected));
            }
        }
        if let Some(((principal, resource), _)) = expectations.into_iter().next() {
            return Err(format!(
                "an expectation for principal `{principal}` and resource `{resource}`, which are not both in the input"
            ));
        }
        Ok(matrix)
    }

    fn run(
        &self,
        store: &crate::PolicyStore,
        base: &EngineConfig,
        report: &mut TestReport,
    ) -> Result<(), String> {
        let suite = self.suite;
        for test in &suite.tests {
            let options: Vec<&SuiteOptions> =
                suite.options.iter().chain(test.options.iter()).collect();
            let (config, now) = effective_config(base, &options);
            let now = now
                .and_then(|n| chrono::DateTime::parse_from_rfc3339(&n).ok())
                .unwrap_or_else(|| chrono::Utc::now().fixed_offset());
            let in_test = |message: String| format!("test `{}`: {message}", test.name);
            let aux_data = match &test.input.aux_data {
                Some(name) => Some(self.aux_data(name).map_err(in_test)?),
                None => None,
            };
            for (principal_name, resource_name, expected) in self.matrix(test).map_err(in_test)? {
                let mut outcome = TestOutcome {
                    file: self.file.to_owned(),
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
                    self.principal(&principal_name),
                    self.resource(&resource_name),
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
                };
                let response = store.check_resources(&config, &request, options);
                let result = response.results.into_iter().next().unwrap_or_default();
                for action in &test.input.actions {
                    let want = expected
                        .actions
                        .get(action)
                        .copied()
                        .unwrap_or(Effect::Deny);
                    let have = result.actions.get(action).copied().unwrap_or(Effect::Deny);
                    if want != have {
                        outcome.failures.push(format!(
                            "action `{action}`: expected {want:?}, got {have:?}"
                        ));
                    }
                }
                for (action, outputs) in &expected.outputs {
                    for (src, val) in outputs {
                        let found = result.outputs.iter().any(|o| {
                            o.action == *action && o.src == *src && o.val.as_ref() == Some(val)
                        });
                        if !found {
                            outcome
                                .failures
                                .push(format!("action `{action}`: missing output {src} = {val}"));
                        }
                    }
                }
                report.outcomes.push(outcome);
            }
        }
        Ok(())
    }
}

/// The names an expectation or input names: one name (an expectation's `principal`), or a list, and
/// the members of its groups, each once, in order.
fn collect<'a>(
    single: &str,
    names: &[String],
    groups: &[String],
    group: impl Fn(&str) -> Result<&'a [String], String>,
) -> Result<Vec<String>, String> {
    let mut all: Vec<String> = if single.is_empty() {
        names.to_vec()
    } else {
        vec![single.to_owned()]
    };
    let mut seen: BTreeSet<String> = all.iter().cloned().collect();
    for name in groups {
        for member in group(name)? {
            if seen.insert(member.clone()) {
                all.push(member.clone());
            }
        }
    }
    Ok(all)
}

/// Adds an expectation's effects and outputs to what a pair already expects; names what contradicts.
fn merge(expected: &mut Expected, expectation: &Expectation) -> Result<(), String> {
    for (action, effect) in &expectation.actions {
        match expected.actions.get(action) {
            Some(old) if old != effect => return Err(format!("action `{action}`")),
            _ => {
                expected.actions.insert(action.clone(), *effect);
            }
        }
    }
    for output in &expectation.outputs {
        let entries = expected.outputs.entry(output.action.clone()).or_default();
        for entry in &output.expected {
            match entries.get(&entry.src) {
                Some(old) if *old != entry.val => {
                    return Err(format!(
                        "output {} of action `{}`",
                        entry.src, output.action
                    ))
                }
                _ => {
                    entries.insert(entry.src.clone(), entry.val.clone());
                }
            }
        }
    }
    Ok(())
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

    const GROUP_SUITE: &str = "name: shared fixtures
principalGroups:
  readers: {principals: [alice, bob]}
tests:
  - name: readers view, nobody edits
    input:
      principalGroups: [readers]
      resourceGroups: [docs]
      actions: [view, edit]
      auxData: token
    expected:
      - principalGroups: [readers]
        resources: [d1, d2]
        actions: {view: EFFECT_ALLOW}
      - principal: bob
        resource: d2
        actions: {edit: EFFECT_DENY}
";

    fn files(extra: &[(&str, &str)]) -> Vec<PolicyFile> {
        let mut files = vec![PolicyFile {
            path: "policies/doc.yaml".into(),
            text: POLICY.into(),
        }];
        files.extend(extra.iter().map(|(path, text)| PolicyFile {
            path: (*path).into(),
            text: (*text).into(),
        }));
        files
    }

    #[test]
    fn fixtures_beside_a_suite_and_groups_expand_into_every_pair() {
        let files = files(&[
            ("policies/doc_test.yaml", GROUP_SUITE),
            (
                "policies/testdata/principals.yaml",
                "principals:\n  alice: {id: alice, roles: [user]}\n  bob: {id: bob, roles: [user]}\n",
            ),
            (
                "policies/testdata/resources.yaml",
                "resources:\n  d1: {id: d1, kind: doc}\n  d2: {id: d2, kind: doc}\nresourceGroups:\n  docs: {resources: [d1, d2]}\n",
            ),
            (
                "policies/testdata/auxdata.yaml",
                "auxData:\n  token: {jwt: {sub: alice}}\n",
            ),
        ]);
        let report = run_test_suites(&files, &EngineConfig::default());
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        let pairs: Vec<(&str, &str)> = report
            .outcomes
            .iter()
            .map(|o| (o.principal.as_str(), o.resource.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("alice", "d1"),
                ("alice", "d2"),
                ("bob", "d1"),
                ("bob", "d2")
            ]
        );
        assert_eq!((report.passed(), report.failed()), (4, 0));
    }

    #[test]
    fn fixtures_of_another_directory_do_not_apply() {
        let files = files(&[
            ("policies/doc_test.yaml", GROUP_SUITE),
            (
                "other/testdata/resources.yaml",
                "resourceGroups:\n  docs: {resources: [d1]}\n",
            ),
        ]);
        let report = run_test_suites(&files, &EngineConfig::default());
        assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
        let error = &report.errors[0];
        assert_eq!(
            (error.file.as_str(), error.line),
            ("policies/doc_test.yaml", 1)
        );
        assert!(
            error.message.contains("auxData `token` not found"),
            "{}",
            error.message
        );
        assert!(!report.success());
    }

    #[test]
    fn contradicting_expectations_and_pairs_outside_the_input_are_errors() {
        let contradicting = "name: s
principals:
  alice: {id: alice, roles: [user]}
resources:
  d1: {id: d1, kind: doc}
tests:
  - name: twice
    input: {principals: [alice], resources: [d1], actions: [view]}
    expected:
      - {principal: alice, resource: d1, actions: {view: EFFECT_ALLOW}}
      - {principals: [alice], resource: d1, actions: {view: EFFECT_DENY}}
";
        let outside = contradicting
            .replace("{view: EFFECT_DENY}", "{view: EFFECT_ALLOW}")
            .replace(
                "principals: [alice], resource: d1",
                "principal: bob, resource: d1",
            );
        for (suite, expected) in [
            (
                contradicting.to_owned(),
                "inconsistent expectations for principal `alice` on resource `d1`: action `view`",
            ),
            (
                outside,
                "principal `bob` and resource `d1`, which are not both in the input",
            ),
        ] {
            let files = files(&[("policies/doc_test.yaml", &suite)]);
            let report = run_test_suites(&files, &EngineConfig::default());
            assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
            assert!(
                report.errors[0].message.contains(expected),
                "{}",
                report.errors[0].message
            );
        }
    }
}
