//! Errors of the store; each names the input, record or file at fault.

use lictor_directory::DirectoryError;
use lictor_model::ManifestError;

/// Why a store operation failed. A failed write changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading or writing a file failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The embedded database failed.
    #[error("database {path}: {source}")]
    Database {
        /// The database file.
        path: String,
        /// The redb error (open, transaction, table, storage or commit).
        source: redb::Error,
    },
    /// Another process holds the data directory.
    #[error("data directory {0} is in use by another lictor process")]
    InUse(String),
    /// Ids may not contain NUL, which the key encoding reserves.
    #[error("{field} `{value}` contains a NUL character, which names and ids may not contain")]
    Nul {
        /// The field.
        field: &'static str,
        /// The value, with NUL shown as \0.
        value: String,
    },
    /// Properties nest deeper than any transport can carry.
    #[error("object {object}: properties nest {depth} levels deep; at most {limit} are accepted")]
    TooDeep {
        /// The object, `type:id`.
        object: String,
        /// How deep they nest.
        depth: usize,
        /// The limit.
        limit: usize,
    },
    /// An import line is not a record.
    #[error("line {line}: {message}")]
    Parse {
        /// 1-based line.
        line: usize,
        /// What is wrong, naming the field.
        message: String,
    },
    /// The manifest does not parse or validate.
    #[error("{0}")]
    Manifest(#[from] ManifestError),
    /// The new manifest would leave stored data invalid.
    #[error("{}", strands_message(.file, *.total, .violations))]
    ManifestStrandsData {
        /// The manifest file.
        file: String,
        /// How many records would break.
        total: usize,
        /// The first of them, described.
        violations: Vec<String>,
    },
    /// A write was refused by the manifest.
    #[error("{record}: {source}")]
    Rejected {
        /// The record written.
        record: String,
        /// Why.
        source: DirectoryError,
    },
    /// An imported record was refused by the manifest.
    #[error("line {line}: {source}")]
    ImportRejected {
        /// 1-based line of the record.
        line: usize,
        /// Why.
        source: DirectoryError,
    },
    /// A stored record no longer loads (the data directory was changed outside lictor).
    #[error("stored {record} does not fit the stored manifest: {source}")]
    Stored {
        /// The record.
        record: String,
        /// Why.
        source: DirectoryError,
    },
    /// Optimistic concurrency: the etag given is not the stored one.
    #[error("etag mismatch for {record}: expected `{expected}`, stored `{actual}`")]
    EtagMismatch {
        /// The record.
        record: String,
        /// The etag the writer expected.
        expected: String,
        /// The stored etag.
        actual: String,
    },
    /// An import staged more than its limit allows; nothing of it was applied.
    #[error("the import is larger than the {limit} bytes one import may stage; split it into several imports")]
    ImportTooLarge {
        /// The limit, in staged bytes.
        limit: usize,
    },
    /// A change of an import was refused, and with it the whole import.
    #[error("line {line}: {source}")]
    ImportLineRefused {
        /// 1-based line of the change.
        line: u64,
        /// Why.
        source: Box<StoreError>,
    },
    /// The store location (a PostgreSQL URL) does not parse.
    #[error("store {location}: {message}")]
    Location {
        /// The location as given.
        location: String,
        /// What is wrong with it.
        message: String,
    },
    /// PostgreSQL refused a statement.
    #[error("{database}: {context}: {source}")]
    Postgres {
        /// The database, without a password.
        database: String,
        /// What was being done.
        context: String,
        /// The driver's error, with the server's message.
        source: tokio_postgres::Error,
    },
    /// PostgreSQL cannot be reached (down, restarting, or too slow); the write did not happen.
    #[error("{database} is unavailable: {message}")]
    Unavailable {
        /// The database, without a password.
        database: String,
        /// What failed.
        message: String,
    },
    /// The database's schema is newer than this build of Lictor knows.
    #[error("{database} has Lictor schema version {found}, newer than version {known} that this build knows; run a newer lictor")]
    SchemaTooNew {
        /// The database, without a password.
        database: String,
        /// Its schema version.
        found: i64,
        /// The newest this build knows.
        known: i64,
    },
    /// A create-only write found the record already stored.
    #[error("{record} already exists")]
    Exists {
        /// The record.
        record: String,
    },
    /// Every write of a group commit was refused on its own; nothing was committed.
    #[error("nothing to commit: every write of the group was refused")]
    NothingToCommit,
    /// The transaction a write was grouped into failed; the write was not committed.
    #[error("the write was not committed: {message}")]
    GroupFailed {
        /// Why the transaction failed.
        message: String,
    },
    /// A stored value could not be decoded.
    #[error("corrupt stored value for {key}: {message}")]
    Corrupt {
        /// The key.
        key: String,
        /// What is wrong.
        message: String,
    },
}

impl StoreError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        StoreError::Io {
            context: context.into(),
            source,
        }
    }
}

fn strands_message(file: &str, total: usize, violations: &[String]) -> String {
    let mut message = format!(
        "manifest {file} refused: {total} stored record(s) would no longer fit it (change or delete them first):"
    );
    for violation in violations {
        message.push_str("\n  ");
        message.push_str(violation);
    }
    if total > violations.len() {
        message.push_str(&format!("\n  … and {} more", total - violations.len()));
    }
    message
}
