//! `lictor cerbos compile DIR`: validates a Cerbos disk store and runs its test suites, as `cerbos compile` does.

use anyhow::{Context, Result};
use lictor_cerbos::testsuite::TestOutcome;
use lictor_cerbos::{read_store, run_test_suites, EngineConfig};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

/// Compiles the store under `dir`, then (unless `skip_tests`) runs its `*_test.yaml` suites and prints one row
/// per test. Exit code 0 when everything compiles and passes, 1 otherwise (every error printed first).
pub fn run(dir: &Path, skip_tests: bool, out: &mut impl Write) -> Result<ExitCode> {
    let files =
        read_store(dir).with_context(|| format!("reading the policy store {}", dir.display()))?;
    if skip_tests {
        return Ok(match lictor_cerbos::compile(&files) {
            Ok(store) => {
                writeln!(out, "{} policies compiled", store.policy_count())?;
                ExitCode::SUCCESS
            }
            Err(errors) => {
                for error in &errors.0 {
                    writeln!(out, "{}", located(dir, error))?;
                }
                ExitCode::from(1)
            }
        });
    }
    let report = run_test_suites(&files, &EngineConfig::default());
    for error in &report.errors {
        writeln!(out, "{}", located(dir, error))?;
    }
    if report.errors.is_empty() {
        print_table(&report.outcomes, out)?;
        let skipped = report.outcomes.iter().filter(|o| o.skipped).count();
        writeln!(
            out,
            "{} passed, {} failed, {} skipped",
            report.passed(),
            report.failed(),
            skipped
        )?;
    }
    Ok(if report.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// An error with its file path joined to the store directory, so editors can jump to it.
pub(crate) fn located(dir: &Path, error: &lictor_cerbos::CompileError) -> String {
    let path = dir.join(&error.file);
    if error.line == 0 {
        format!("{}: {}", path.display(), error.message)
    } else {
        format!(
            "{}:{}:{}: {}",
            path.display(),
            error.line,
            error.column,
            error.message
        )
    }
}

fn print_table(outcomes: &[TestOutcome], out: &mut impl Write) -> Result<()> {
    let headers = ["FILE", "SUITE", "TEST", "PRINCIPAL", "RESOURCE", "RESULT"];
    let rows: Vec<[String; 6]> = outcomes
        .iter()
        .map(|o| {
            let result = if o.skipped {
                "SKIPPED".to_owned()
            } else if o.failures.is_empty() {
                "OK".to_owned()
            } else {
                "FAILED".to_owned()
            };
            [
                o.file.clone(),
                o.suite.clone(),
                o.test.clone(),
                o.principal.clone(),
                o.resource.clone(),
                result,
            ]
        })
        .collect();
    let mut lines = crate::table::lines(headers, &rows).into_iter();
    if let Some(header) = lines.next() {
        writeln!(out, "{header}")?;
    }
    for (line, outcome) in lines.zip(outcomes) {
        writeln!(out, "{line}")?;
        for failure in &outcome.failures {
            writeln!(out, "    {failure}")?;
        }
    }
    Ok(())
}
