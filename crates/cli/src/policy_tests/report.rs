//! Test results of `lictor test`: suites of cases, printed for people and written as JUnit XML for CI.

use std::fmt::Write as _;
use std::io::Write;
use std::time::Duration;

/// What one test showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// As expected.
    Passed,
    /// Not as expected; says what was seen.
    Failed(String),
    /// Could not be decided (a refused request, an evaluation error); says why.
    Error(String),
    /// Listed, not run.
    Skipped,
}

/// One test.
#[derive(Debug, Clone)]
pub struct Case {
    /// What it tests, readable on one line.
    pub name: String,
    /// The file and line that define it, when known.
    pub location: String,
    /// What it showed.
    pub outcome: Outcome,
    /// How long it ran.
    pub time: Duration,
}

/// The tests of one file or policy set.
#[derive(Debug, Clone)]
pub struct Suite {
    /// `topaz <file>`, `rego <policies>`, `cerbos <store>`.
    pub name: String,
    /// Its tests, in the order they ran.
    pub cases: Vec<Case>,
}

/// Counts by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Tests that passed.
    pub passed: usize,
    /// Tests that failed.
    pub failed: usize,
    /// Tests that could not be decided.
    pub errors: usize,
    /// Tests skipped.
    pub skipped: usize,
}

impl Totals {
    /// Counts the outcomes of `cases`.
    pub fn of<'c>(cases: impl IntoIterator<Item = &'c Case>) -> Totals {
        let mut totals = Totals::default();
        for case in cases {
            match case.outcome {
                Outcome::Passed => totals.passed += 1,
                Outcome::Failed(_) => totals.failed += 1,
                Outcome::Error(_) => totals.errors += 1,
                Outcome::Skipped => totals.skipped += 1,
            }
        }
        totals
    }

    /// Every test counted.
    pub fn total(&self) -> usize {
        self.passed + self.failed + self.errors + self.skipped
    }

    /// No test failed or erred.
    pub fn success(&self) -> bool {
        self.failed == 0 && self.errors == 0
    }
}

/// Prints one line per suite, then every failed or erred test (every test with `verbose`).
pub fn print(suites: &[Suite], verbose: bool, out: &mut impl Write) -> std::io::Result<()> {
    for suite in suites {
        let totals = Totals::of(&suite.cases);
        let verdict = if totals.success() { "PASS" } else { "FAIL" };
        writeln!(
            out,
            "{verdict}  {}  ({} passed, {} failed, {} errors, {} skipped)",
            suite.name, totals.passed, totals.failed, totals.errors, totals.skipped
        )?;
        for case in &suite.cases {
            let (label, detail) = match &case.outcome {
                Outcome::Passed if verbose => ("ok", None),
                Outcome::Skipped if verbose => ("skipped", None),
                Outcome::Failed(detail) => ("FAILED", Some(detail)),
                Outcome::Error(detail) => ("ERROR", Some(detail)),
                _ => continue,
            };
            writeln!(out, "    {label:<7} {}  [{}]", case.name, case.location)?;
            if let Some(detail) = detail {
                writeln!(out, "            {detail}")?;
            }
        }
    }
    Ok(())
}

/// The suites as JUnit XML (the schema Jenkins, GitLab and GitHub's test reporters read).
pub fn junit(suites: &[Suite]) -> String {
    let all = Totals::of(suites.iter().flat_map(|s| &s.cases));
    let seconds = |cases: &[Case]| cases.iter().map(|c| c.time.as_secs_f64()).sum::<f64>();
    let total_time: f64 = suites.iter().map(|s| seconds(&s.cases)).sum();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites name=\"lictor test\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{total_time:.6}\">",
        all.total(),
        all.failed,
        all.errors,
        all.skipped
    );
    for suite in suites {
        let totals = Totals::of(&suite.cases);
        let _ = writeln!(
            xml,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.6}\">",
            escape(&suite.name),
            totals.total(),
            totals.failed,
            totals.errors,
            totals.skipped,
            seconds(&suite.cases)
        );
        for case in &suite.cases {
            let _ = write!(
                xml,
                "    <testcase classname=\"{}\" name=\"{}\" file=\"{}\" time=\"{:.6}\"",
                escape(&suite.name),
                escape(&case.name),
                escape(&case.location),
                case.time.as_secs_f64()
            );
            let _ = match &case.outcome {
                Outcome::Passed => writeln!(xml, "/>"),
                Outcome::Skipped => writeln!(xml, ">\n      <skipped/>\n    </testcase>"),
                Outcome::Failed(detail) => writeln!(
                    xml,
                    ">\n      <failure message=\"{0}\">{0}</failure>\n    </testcase>",
                    escape(detail)
                ),
                Outcome::Error(detail) => writeln!(
                    xml,
                    ">\n      <error message=\"{0}\">{0}</error>\n    </testcase>",
                    escape(detail)
                ),
            };
        }
        let _ = writeln!(xml, "  </testsuite>");
    }
    xml.push_str("</testsuites>\n");
    xml
}

/// Text safe inside an XML attribute or element: markup escaped, and the control characters
/// XML 1.0 cannot hold replaced.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            '\n' => escaped.push_str("&#10;"),
            '\t' | '\r' => escaped.push(' '),
            c if c < ' ' || c == '\u{fffe}' || c == '\u{ffff}' => escaped.push('\u{fffd}'),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn case(name: &str, outcome: Outcome) -> Case {
        Case {
            name: name.to_string(),
            location: "t.json#0".to_string(),
            outcome,
            time: Duration::from_millis(2),
        }
    }

    #[test]
    fn junit_counts_every_outcome_and_escapes_what_xml_cannot_hold() {
        let suites = [Suite {
            name: "topaz a&b.json".to_string(),
            cases: vec![
                case("ok", Outcome::Passed),
                case("<no>", Outcome::Failed("got \"false\"\u{1}".to_string())),
                case("err", Outcome::Error("503".to_string())),
                case("later", Outcome::Skipped),
            ],
        }];
        let xml = junit(&suites);
        assert!(xml.contains(
            "<testsuites name=\"lictor test\" tests=\"4\" failures=\"1\" errors=\"1\" skipped=\"1\" time=\"0.008000\">"
        ), "{xml}");
        assert!(xml.contains("<testsuite name=\"topaz a&amp;b.json\" tests=\"4\""));
        assert!(xml.contains("name=\"&lt;no&gt;\""));
        assert!(xml.contains("<failure message=\"got &quot;false&quot;\u{fffd}\">"));
        assert!(xml.contains("<error message=\"503\">503</error>"));
        assert!(xml.contains("<skipped/>"));
        assert_eq!(xml.matches("<testcase ").count(), 4);
    }

    #[test]
    fn printing_lists_failures_always_and_passes_only_when_verbose() {
        let suites = [Suite {
            name: "rego p".to_string(),
            cases: vec![
                case("test_a", Outcome::Passed),
                case("test_b", Outcome::Failed("undefined".into())),
            ],
        }];
        let mut quiet = Vec::new();
        print(&suites, false, &mut quiet).unwrap();
        let quiet = String::from_utf8(quiet).unwrap();
        assert!(quiet.starts_with("FAIL  rego p  (1 passed, 1 failed, 0 errors, 0 skipped)"));
        assert!(quiet.contains("FAILED  test_b") && quiet.contains("undefined"));
        assert!(!quiet.contains("test_a"));
        let mut verbose = Vec::new();
        print(&suites, true, &mut verbose).unwrap();
        assert!(String::from_utf8(verbose)
            .unwrap()
            .contains("ok      test_a"));
    }
}
