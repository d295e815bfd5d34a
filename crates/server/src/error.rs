//! Errors of starting and configuring the server.

use std::path::PathBuf;

/// Why the server could not start or a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A configuration file that does not parse or does not make sense.
    #[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Config {
        /// The file.
        path: PathBuf,
        /// Its line, when known.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// A file that could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A certificate or key that could not be made or loaded.
    #[error("TLS: {0}")]
    Tls(String),
    /// A port that could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: std::net::SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// A policy image could not be pulled or served, and no earlier one is stored.
    #[error("policy image: {0}")]
    PolicyImage(String),
    /// A policy that does not load or compile.
    #[error("policy: {0}")]
    Policy(lictor_policy::PolicyError),
    /// The gRPC services could not be built.
    #[error("gRPC: {0}")]
    Grpc(String),
    /// Cerbos's API could not start (policies or key sets that do not load).
    #[error("cerbos: {0}")]
    Cerbos(String),
    /// The store refused to open.
    #[error(transparent)]
    Store(#[from] lictor_store::StoreError),
}

/// An error with its causes, one after the other: the top alone often does not say why (refused,
/// certificate, reset).
pub(crate) fn with_causes(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}
