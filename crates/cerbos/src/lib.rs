//! Cerbos-compatible policy engine: the Cerbos REST API types, the policy model read from YAML or JSON,
//! its compiler (errors named by file, line and column) and the CheckResources evaluator.
//!
//! Everything works on in-memory files except [`disk::read_store`], which reads a store directory.

pub mod api;
pub mod cel;
mod compile;
pub mod disk;
mod engine;
mod error;
pub mod explain;
mod glob;
mod names;
mod policy;
mod schema;
mod source;
pub mod testsuite;

pub use compile::{compile, is_policy_file, PolicyStore};
pub use disk::{read_store, PolicyFile};
pub use engine::{CheckOptions, EngineConfig, SchemaEnforcement};
pub use error::{CompileError, CompileErrors};
pub use explain::ExplainResponse;
pub use source::Position;
pub use testsuite::{run_test_suites, TestReport};
