//! The Lictor directory engine: objects and relations indexed in both directions, and the queries on
//! them (check with explain traces, lookups) under a compiled Topaz v3 manifest.
//!
//! Pure and synchronous: no I/O, no locks. A [`Directory`] is one immutable revision; writers clone it
//! (copy-on-write, cheap) and publish the changed clone.

mod check;
mod error;
mod explain;
mod index;
mod lookup;
mod schema;
mod shard;
mod snapshot;

pub use error::DirectoryError;
pub use explain::{Step, Trace};
pub use index::{ObjectId, RelationIndex};
pub use lookup::{LookupObjectsRequest, LookupPage, LookupSubjects, LookupSubjectsRequest, Page};
pub use schema::{NameId, Schema, Symbols, TypeId, NO_NAME};
pub use snapshot::{CheckRequest, Directory, Explanation, DEFAULT_DEPTH_LIMIT};
