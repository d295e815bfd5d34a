//! The Lictor data model: the Topaz v3 manifest (types, relations, permissions), its parser with
//! line-numbered errors and its validation, and the directory records (objects, relations).

mod ast;
mod error;
mod expr;
mod parse;
mod record;
mod validate;
mod yaml;

#[cfg(test)]
mod tests;

pub use ast::{Manifest, PermissionDef, PermissionExpr, RelationDef, Span, SubjectType, TypeDef};
pub use error::{Diagnostic, ManifestError};
pub use parse::parse_manifest;
pub use record::{json_depth, json_kind, ObjectRecord, RelationRecord, SubjectRef, MAX_JSON_DEPTH};
