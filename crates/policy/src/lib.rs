//! Rego policy evaluation for Lictor: a compiled, immutable [`PolicySet`] answers Topaz's authorizer
//! calls (`Is`, `DecisionTree`, `Query`) with Topaz's directory built-ins (`ds.check`, `ds.object`,
//! `ds.relations`, ...) bound to the directory snapshot of each evaluation.
//!
//! Policies are compiled once at load (a broken set is rejected with `file:line:column`); each thread
//! keeps a prepared copy of the compiled engine, so an evaluation neither parses nor compiles.

mod builtins;
mod error;
mod limits;
mod load;
mod partial;
mod rego_test;
mod set;

pub use builtins::{builtin_names, resolve_user, BuiltinCall};
pub use error::PolicyError;
pub use limits::{CollectionLimit, EvalLimits, LimitKind};
pub use rego_test::{RegoTest, RegoTestResult};
pub use set::{
    DecisionTree, EvalContext, IsExplanation, PathSeparator, PolicyModule, PolicySet, Provenance,
    RuleOutcome,
};
