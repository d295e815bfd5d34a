//! Errors of building, storing, pushing and pulling images; each names the image, file or registry
//! at fault.

use std::path::PathBuf;

/// Why an image operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// An image reference does not parse.
    #[error("image reference `{reference}`: {message}")]
    Reference {
        /// The reference as given.
        reference: String,
        /// What is wrong.
        message: String,
    },
    /// A file or folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A policy folder or bundle cannot make an image.
    #[error("{path}: {message}")]
    Bundle {
        /// The folder or file at fault.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The local image store holds no such image.
    #[error("no image {reference} in the local store (pull or build it first)")]
    NotFound {
        /// The reference asked for.
        reference: String,
    },
    /// Content does not have the digest it was named by.
    #[error("{what}: content has digest {actual}, expected {expected}")]
    DigestMismatch {
        /// The blob or manifest.
        what: String,
        /// The digest it should have.
        expected: String,
        /// The digest it has.
        actual: String,
    },
    /// An image's manifest or config is not a policy image Lictor can read.
    #[error("{reference}: {message}")]
    Format {
        /// The image.
        reference: String,
        /// What is wrong.
        message: String,
    },
    /// The registry could not be reached.
    #[error("registry {registry}: {message}")]
    Unreachable {
        /// The registry host.
        registry: String,
        /// The transport error.
        message: String,
    },
    /// The registry refused the credentials, or none were given where some are needed.
    #[error("registry {registry}: {message}")]
    Unauthorized {
        /// The registry host.
        registry: String,
        /// What the registry said.
        message: String,
    },
    /// The registry answered an error.
    #[error("registry {registry}: {operation} answered {status}: {message}")]
    Registry {
        /// The registry host.
        registry: String,
        /// What was asked (`GET manifest team/policy:1`).
        operation: String,
        /// The HTTP status.
        status: u16,
        /// The registry's error, as it gave it.
        message: String,
    },
}

impl ImageError {
    /// An I/O error on `path`.
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> ImageError {
        let path = path.into();
        move |source| ImageError::Io { path, source }
    }
}
