//! Cerbos-compatible policy engine: the Cerbos REST API types, the policy model read from YAML or JSON,
//! its compiler (errors named by file, line and column), the CheckResources evaluator and the PlanResources
//! query planner.
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
mod planner;
mod policy;
mod schema;
mod source;
pub mod testsuite;

pub use compile::{compile, is_policy_file, PolicyStore};
pub use disk::{read_store, PolicyFile};
pub use engine::{CheckOptions, EngineConfig, SchemaEnforcement};
pub use error::{CompileError, CompileErrors};
pub use explain::ExplainResponse;
pub use planner::filter_debug;
pub use source::Position;
pub use testsuite::{run_test_suites, TestReport};
