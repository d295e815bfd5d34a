//! [`Backend`]: the durable side of a [`crate::Store`], one trait for the embedded redb file and for
//! PostgreSQL. The store keeps the in-memory directory; a backend keeps the records, the revision
//! counter and, where several processes share it, the change log they follow.

use crate::error::StoreError;
use crate::records::{RelationMeta, StoredObject};
use lictor_model::{ObjectRecord, RelationRecord};
use serde::{Deserialize, Serialize};

/// One change of a write, as a follower replays it. A write's changes, in order, are its revision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Change {
    /// An object was created or replaced.
    SetObject {
        /// The object as written.
        object: ObjectRecord,
    },
    /// An object was deleted (its relations, if they went with it, are changes of their own).
    DeleteObject {
        /// Its type.
        object_type: String,
        /// Its id.
        object_id: String,
    },
    /// A relation was stored.
    SetRelation {
        /// The relation.
        relation: RelationRecord,
    },
    /// A relation was deleted.
    DeleteRelation {
        /// The relation.
        relation: RelationRecord,
    },
    /// The manifest was replaced.
    SetManifest {
        /// The file it came from.
        file: String,
        /// Its source.
        source: String,
    },
    /// The manifest was removed.
    DeleteManifest,
}

/// The writes of one transaction. Each call either records its change or refuses it (a NUL in a key,
/// properties nested too deep) without recording anything.
pub trait RecordWrites {
    /// Creates or replaces an object, keeping its creation time.
    fn put_object(&mut self, object: &ObjectRecord) -> Result<(), StoreError>;
    /// Deletes an object, if stored.
    fn delete_object(&mut self, object_type: &str, id: &str) -> Result<(), StoreError>;
    /// Stores a relation, keeping its creation time.
    fn put_relation(&mut self, relation: &RelationRecord) -> Result<(), StoreError>;
    /// Deletes a relation, if stored.
    fn delete_relation(&mut self, relation: &RelationRecord) -> Result<(), StoreError>;
    /// Stores the manifest source and the name of its file.
    fn set_manifest(&mut self, file: &str, source: &str) -> Result<(), StoreError>;
    /// Removes the manifest.
    fn delete_manifest(&mut self) -> Result<(), StoreError>;
}

/// The body of one write: given the changes other processes committed since the caller's revision
/// (to apply first) and the transaction's writes, it records its own changes or fails.
pub type WriteBody<'a> =
    dyn FnMut(&[(u64, Change)], &mut dyn RecordWrites) -> Result<(), StoreError> + 'a;

/// What a directory is loaded from at start: the manifest first, then objects, then relations.
pub struct LoadSink<'a> {
    /// Receives `(file, source)` of the stored manifest, if any.
    pub manifest: &'a mut dyn FnMut(&str, &str) -> Result<(), StoreError>,
    /// Receives every object.
    pub object: &'a mut dyn FnMut(ObjectRecord) -> Result<(), StoreError>,
    /// Receives every relation.
    pub relation: &'a mut dyn FnMut(RelationRecord) -> Result<(), StoreError>,
}

/// Durable records of a directory.
pub trait Backend: Send + Sync {
    /// Streams the manifest, objects and relations of one consistent snapshot into `sink`; returns its
    /// revision.
    fn load(&self, sink: LoadSink<'_>) -> Result<u64, StoreError>;
    /// The latest committed revision (0 before any write).
    fn revision(&self) -> Result<u64, StoreError>;
    /// When the manifest was last set (unix microseconds), if known.
    fn manifest_updated_at(&self) -> Result<Option<u64>, StoreError>;
    /// Calls `each` for every object, in `(type, id)` order.
    fn for_each_object(&self, each: &mut dyn FnMut(ObjectRecord)) -> Result<(), StoreError>;
    /// Calls `each` for every relation, in key order.
    fn for_each_relation(&self, each: &mut dyn FnMut(RelationRecord)) -> Result<(), StoreError>;
    /// An object with its timestamps, if stored.
    fn get_object(&self, object_type: &str, id: &str) -> Result<Option<StoredObject>, StoreError>;
    /// A relation's timestamps, if stored.
    fn get_relation(&self, relation: &RelationRecord) -> Result<Option<RelationMeta>, StoreError>;
    /// How many objects are stored.
    fn object_count(&self) -> Result<u64, StoreError>;
    /// How many relations are stored.
    fn relation_count(&self) -> Result<u64, StoreError>;
    /// Runs `body` in one transaction that takes the next revision; commits it durably and returns the
    /// revision, or, if `body` or the commit fails, changes nothing. `applied` is the caller's
    /// revision: `body` first hears of the changes committed after it by others.
    fn write(&self, applied: u64, body: &mut WriteBody<'_>) -> Result<u64, StoreError>;
    /// The changes committed after revision `applied`, in order, for a follower to replay, and the
    /// revision they lead to (a write may have no changes); none where only this process writes.
    fn changes_since(&self, applied: u64) -> Result<(Vec<(u64, Change)>, u64), StoreError>;
    /// Whether other processes write to the same records, so that a follower must replay their changes.
    fn shared(&self) -> bool;
    /// Blocks until another process may have written, or `timeout` passes. Where only this process
    /// writes, just returns `false`.
    fn wait_for_changes(&self, timeout: std::time::Duration) -> bool;
}
