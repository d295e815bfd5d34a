//! Rego unit tests as `opa test` finds them: every rule named `test_*` is a test that passes when
//! it is `true`; a rule named `todo_test_*` is a test to skip.

use crate::error::PolicyError;
use crate::set::{EvalContext, PolicySet};
use std::collections::BTreeSet;

/// One unit test of a policy set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegoTest {
    /// The test's package below `data` (`rebac.tests`).
    pub package: String,
    /// The rule's name (`test_owner_can_edit`).
    pub name: String,
    /// The module file that defines it first.
    pub file: String,
    /// The line of its first definition.
    pub line: u64,
    /// A `todo_test_` rule: listed, not run.
    pub skipped: bool,
}

/// What running a [`RegoTest`] showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegoTestResult {
    /// The rule is `true`.
    Passed,
    /// The rule is undefined or not `true`; says which.
    Failed(String),
    /// The evaluation failed (a built-in error, a limit); says why.
    Error(String),
    /// A `todo_test_` rule.
    Skipped,
}

impl PolicySet {
    /// Every unit test of the set, ordered by file and line. A rule defined more than once is one
    /// test (its definitions are alternatives of one rule, evaluated together).
    pub fn rego_tests(&self) -> Result<Vec<RegoTest>, PolicyError> {
        let program = self.program().map_err(|message| PolicyError::Load {
            file: "policy set".to_string(),
            message: message.to_string(),
        })?;
        let mut seen = BTreeSet::new();
        let mut tests = Vec::new();
        for head in program.rule_heads() {
            let Some(name) = head.name else { continue };
            let skipped = name.starts_with("todo_test_");
            if head.function || !(skipped || name.starts_with("test_")) {
                continue;
            }
            let package = head.package.join(".");
            if seen.insert((package.clone(), name.to_string())) {
                tests.push(RegoTest {
                    package,
                    name: name.to_string(),
                    file: head.file.to_string(),
                    line: head.line,
                    skipped,
                });
            }
        }
        tests.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
        Ok(tests)
    }

    /// Runs one unit test with the context's directory behind `ds.*` and its input; answers what it
    /// showed and the lines it printed (`print(...)`).
    pub fn run_rego_test(
        &self,
        ctx: &EvalContext,
        test: &RegoTest,
    ) -> (RegoTestResult, Vec<String>) {
        if test.skipped {
            return (RegoTestResult::Skipped, Vec::new());
        }
        // Brackets read any segment, an identifier or not.
        let query = std::iter::once("data".to_string())
            .chain(
                test.package
                    .split('.')
                    .chain(std::iter::once(test.name.as_str()))
                    .map(|segment| format!("[{}]", serde_json::Value::from(segment))),
            )
            .collect::<String>();
        let (value, prints) = self.value_with_prints(ctx, &query);
        let result = match value {
            Err(error) => RegoTestResult::Error(error.to_string()),
            Ok(None) => RegoTestResult::Failed("undefined".to_string()),
            Ok(Some(serde_json::Value::Bool(true))) => RegoTestResult::Passed,
            Ok(Some(other)) => RegoTestResult::Failed(format!("{other} instead of true")),
        };
        (result, prints)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use lictor_directory::Directory;
    use std::sync::Arc;

    fn set(source: &str) -> PolicySet {
        PolicySet::from_modules(vec![("a/policy_test.rego".to_string(), source.to_string())])
            .unwrap()
    }

    fn results(set: &PolicySet) -> Vec<(String, RegoTestResult)> {
        let ctx = EvalContext::new(Arc::new(Directory::new()), serde_json::json!({}));
        set.rego_tests()
            .unwrap()
            .iter()
            .map(|t| (t.name.clone(), set.run_rego_test(&ctx, t).0))
            .collect()
    }

    #[test]
    fn finds_passes_fails_and_skips_tests_as_opa_test_does() {
        let set = set(r#"package app.rules
import rego.v1

allow if input.user == "rick"
double(x) := x * 2

test_allows_rick if allow with input as {"user": "rick"}
test_denies_morty if not allow with input as {"user": "morty"}
test_fails if allow with input as {"user": "morty"}
test_not_true := 3
todo_test_later if false
test_function(x) if x
test_error if double("a") == 1
helper_test_not_a_test if false
"#);
        let tests = set.rego_tests().unwrap();
        assert!(tests
            .iter()
            .all(|t| t.package == "app.rules" && t.file == "a/policy_test.rego"));
        assert_eq!(tests[0].line, 7);
        let results = results(&set);
        let names: Vec<&str> = results.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "test_allows_rick",
                "test_denies_morty",
                "test_fails",
                "test_not_true",
                "todo_test_later",
                "test_error"
            ]
        );
        assert_eq!(results[0].1, RegoTestResult::Passed);
        assert_eq!(results[1].1, RegoTestResult::Passed);
        assert_eq!(results[2].1, RegoTestResult::Failed("undefined".into()));
        assert_eq!(
            results[3].1,
            RegoTestResult::Failed("3 instead of true".into())
        );
        assert_eq!(results[4].1, RegoTestResult::Skipped);
        assert!(
            matches!(&results[5].1, RegoTestResult::Error(m) if m.contains("test_error")),
            "{:?}",
            results[5].1
        );
    }

    #[test]
    fn what_a_test_prints_is_kept() {
        let set =
            set("package p\nimport rego.v1\ntest_x if {\n  print(\"seen\", 1 + 1)\n  false\n}\n");
        let ctx = EvalContext::new(Arc::new(Directory::new()), serde_json::json!({}));
        let tests = set.rego_tests().unwrap();
        let (result, prints) = set.run_rego_test(&ctx, &tests[0]);
        assert_eq!(result, RegoTestResult::Failed("undefined".into()));
        assert!(
            prints.iter().any(|line| line.contains("seen 2")),
            "{prints:?}"
        );
    }

    #[test]
    fn a_package_that_is_not_an_identifier_is_still_reached() {
        let set = set("package app[\"v-1\"]\nimport rego.v1\ntest_ok if true\n");
        assert_eq!(
            results(&set),
            [("test_ok".to_string(), RegoTestResult::Passed)]
        );
    }
}
