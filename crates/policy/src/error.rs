//! Errors of policy loading and evaluation; each names the file, path or decision at fault.

/// Why a policy set could not be loaded or a decision could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// A file or directory could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A policy module does not parse or compile; the location is where the problem was found.
    #[error("{file}:{line}:{column}: {message}")]
    Compile {
        /// The module's file name.
        file: String,
        /// 1-based line.
        line: u32,
        /// 1-based column.
        column: u32,
        /// What is wrong.
        message: String,
    },
    /// A policy module, data file or bundle is unusable, with no finer location.
    #[error("{file}: {message}")]
    Load {
        /// The file at fault.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// The policy set has no package at this path.
    #[error("no policy package `{path}`")]
    UnknownPolicy {
        /// The dotted path asked for.
        path: String,
    },
    /// A path or decision name is not a valid Rego reference.
    #[error("invalid policy path `{path}`: {reason}")]
    InvalidPath {
        /// The path or `path.decision` at fault.
        path: String,
        /// Why.
        reason: String,
    },
    /// A decision evaluated to something other than a boolean.
    #[error("decision `{decision}` of `{path}` is {found}, not a boolean")]
    NonBoolean {
        /// The package path.
        path: String,
        /// The decision (rule) name.
        decision: String,
        /// What it evaluated to (JSON kind and value, shortened).
        found: String,
    },
    /// Evaluating a rule or query failed (a built-in error, a conflict, a type error, ...).
    #[error("evaluating `{target}`: {message}")]
    Eval {
        /// The rule (`path.decision`) or query evaluated.
        target: String,
        /// What went wrong, with `file:line:column` when known.
        message: String,
    },
    /// Evaluating ran into a bound (time, or the size of what it would build).
    #[error("evaluating `{target}`: {message}")]
    Limit {
        /// The rule (`path.decision`) or query evaluated.
        target: String,
        /// Which bound.
        kind: crate::limits::LimitKind,
        /// Which bound, and its value.
        message: String,
    },
    /// An identity cannot be resolved to one user.
    #[error("identity `{identity}`: {message}")]
    Identity {
        /// The identity.
        identity: String,
        /// Why.
        message: String,
    },
    /// An ad-hoc query does not parse.
    #[error("invalid query: {message}")]
    Query {
        /// What is wrong, with `line:column` when known.
        message: String,
    },
}

/// Where a regorus error says it happened, and what it says.
pub(crate) struct Located {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
}

/// Splits regorus's rendered diagnostic (`--> file:line:col`, a source excerpt, `error: message`)
/// into its location and message; `None` when the error carries no location.
pub(crate) fn locate(error: &anyhow::Error) -> Option<Located> {
    let text = error.to_string();
    let location = text
        .lines()
        .find_map(|line| line.trim_start().strip_prefix("--> "))?;
    let mut parts = location.rsplitn(3, ':');
    let column = parts.next()?.trim().parse().ok()?;
    let line = parts.next()?.trim().parse().ok()?;
    let file = parts.next()?.to_string();
    let message = text
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix("error: "))
        .map_or_else(|| flatten(&text), str::to_string);
    Some(Located {
        file,
        line,
        column,
        message,
    })
}

/// A one-line rendering of a regorus error: `file:line:col: message` when it has a location.
pub(crate) fn one_line(error: &anyhow::Error) -> String {
    match locate(error) {
        Some(at) => format!("{}:{}:{}: {}", at.file, at.line, at.column, at.message),
        None => flatten(&error.to_string()),
    }
}

fn flatten(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
