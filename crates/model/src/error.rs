//! Manifest errors: every problem found, each at its line and column.

use std::fmt;

use crate::ast::Span;

/// One problem in a manifest and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Position of the offending key, value or token.
    pub span: Span,
    /// What is wrong; names the culprit in backticks.
    pub message: String,
}

impl Diagnostic {
    /// A diagnostic at `span`.
    pub fn new(span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            span,
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}",
            self.span.line, self.span.column, self.message
        )
    }
}

/// A manifest that failed to parse or validate; displays one `FILE:LINE:COLUMN: message` line per problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(.file, .diagnostics))]
pub struct ManifestError {
    /// Name of the manifest file, as given to the parser.
    pub file: String,
    /// The problems, in source order; never empty.
    pub diagnostics: Vec<Diagnostic>,
}

impl ManifestError {
    /// An error for `file` with the given problems.
    pub fn new(file: impl Into<String>, diagnostics: Vec<Diagnostic>) -> Self {
        ManifestError {
            file: file.into(),
            diagnostics,
        }
    }
}

fn render(file: &str, diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(|diagnostic| format!("{file}:{diagnostic}"))
        .collect::<Vec<_>>()
        .join("\n")
}
