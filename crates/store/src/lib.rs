//! Durable storage for the Lictor directory: the embedded redb store, revisions, published snapshots,
//! and import/export as JSON Lines (or Topaz's JSON files). The records live in the embedded redb file
//! or in PostgreSQL, behind one [`Backend`] trait.

mod backend;
mod error;
mod group;
mod journal;
mod jsonl;
mod postgres;
mod records;
mod staging;
mod store;
mod sync;

pub use backend::{Backend, Change, LoadSink, RecordWrites, WriteBody};
pub use error::StoreError;
pub use group::{SingleWrite, Written};
pub use journal::{Journal, Revision, MAX_CHANGES as MAX_JOURNAL_CHANGES};
pub use jsonl::{read_import, write_object_line, write_relation_line, ImportItem, ImportRecord};
pub use postgres::PostgresRecords;
pub use records::{RecordStore, RelationMeta, StoredObject, WriteBatch};
pub use staging::{ImportChange, ImportStage, StagedChanges};
pub use store::{ChangeApplied, ExportSummary, ImportSummary, Store, StoreLocation};
pub use sync::{SyncChange, SyncReport};
