//! Compile errors, each naming the file, line and column at fault.

use crate::source::Position;

/// One problem found while loading or compiling policies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct CompileError {
    /// Path of the file, relative to the store root.
    pub file: String,
    /// 1-based line (0 when the problem concerns the whole file).
    pub line: usize,
    /// 1-based column (0 when the problem concerns the whole file).
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// Every problem found in a policy store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} policy error(s):\n{}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct CompileErrors(pub Vec<CompileError>);

/// Collects the errors of one file.
#[derive(Debug)]
pub(crate) struct Diagnostics {
    file: String,
    errors: Vec<CompileError>,
}

impl Diagnostics {
    pub(crate) fn new(file: &str) -> Diagnostics {
        Diagnostics {
            file: file.to_owned(),
            errors: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, pos: Position, message: String) {
        self.errors.push(CompileError {
            file: self.file.clone(),
            line: pos.line,
            column: pos.column,
            message,
        });
    }

    pub(crate) fn len(&self) -> usize {
        self.errors.len()
    }

    pub(crate) fn into_errors(self) -> Vec<CompileError> {
        self.errors
    }
}
