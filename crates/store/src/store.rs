//! [`Store`]: the durable directory. Every write is validated against the current manifest, committed
//! to the embedded database (fsync'd) and only then published as the next immutable [`Directory`].
//! Readers take the published snapshot without locks and never wait for a writer.

use crate::error::StoreError;
use crate::jsonl::{read_import, write_object_line, write_relation_line, ImportRecord};
use crate::records::{check_object_key, check_relation_key, RecordStore, WriteBatch};
use crate::staging::{ImportChange, ImportStage};
use arc_swap::ArcSwap;
use lictor_directory::{Directory, Schema};
use lictor_model::{parse_manifest, ObjectRecord, RelationRecord};
use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

/// How many stranded records a refused manifest change lists.
const VIOLATIONS_LISTED: usize = 20;

/// Counts of one import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportSummary {
    /// Objects written.
    pub objects: u64,
    /// Relations written.
    pub relations: u64,
    /// The revision the import produced.
    pub revision: u64,
}

/// What an applied import change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeApplied {
    /// It set an object or a relation.
    Set,
    /// It deleted one (or found nothing to delete).
    Deleted,
}

/// Counts of one export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportSummary {
    /// Objects written.
    pub objects: u64,
    /// Relations written.
    pub relations: u64,
}

/// The durable directory of one data directory.
pub struct Store {
    records: RecordStore,
    current: ArcSwap<Directory>,
    /// One writer at a time; readers never take it.
    writer: Mutex<()>,
}

impl Store {
    /// Opens (or creates) the store in `dir` and loads its latest revision into memory.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let records = RecordStore::open(dir)?;
        let mut directory = Directory::new();
        if let Some((file, source)) = records.manifest()? {
            let manifest = parse_manifest(&source, &file)?;
            let schema = Schema::compile(manifest, source, directory.schema().symbols());
            directory.replace_schema(Arc::new(schema));
        }
        let mut failure = None;
        records.for_each_object(|object| {
            if failure.is_none() {
                if let Err(error) = directory.set_object(&object) {
                    failure = Some(StoreError::Stored {
                        record: format!("object {}:{}", object.object_type, object.id),
                        source: error,
                    });
                }
            }
        })?;
        records.for_each_relation(|relation| {
            if failure.is_none() {
                if let Err(error) = directory.set_relation(&relation) {
                    failure = Some(StoreError::Stored {
                        record: format!("relation {relation}"),
                        source: error,
                    });
                }
            }
        })?;
        if let Some(error) = failure {
            return Err(error);
        }
        directory.shrink_to_fit();
        directory.set_revision(records.revision()?);
        Ok(Store {
            records,
            current: ArcSwap::from_pointee(directory),
            writer: Mutex::new(()),
        })
    }

    /// The latest published revision, to read from without locks.
    pub fn snapshot(&self) -> Arc<Directory> {
        self.current.load_full()
    }

    /// The latest revision number.
    pub fn revision(&self) -> u64 {
        self.current.load().revision()
    }

    /// The manifest source, if one was set.
    pub fn manifest_source(&self) -> Option<String> {
        let snapshot = self.current.load();
        let source = snapshot.schema().source();
        (!source.is_empty()).then(|| source.to_string())
    }

    /// The durable records, for metadata that the in-memory index does not keep (timestamps).
    pub fn records(&self) -> &RecordStore {
        &self.records
    }

    fn lock(&self) -> MutexGuard<'_, ()> {
        // A writer that panicked left nothing half-published: the snapshot is only swapped after commit.
        self.writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs one write: `change` edits a copy of the latest directory and the batch; on success both are
    /// committed and the copy is published. On any error nothing changes.
    fn write<T>(
        &self,
        change: impl FnOnce(&mut Directory, &mut WriteBatch<'_>) -> Result<T, StoreError>,
    ) -> Result<(T, u64), StoreError> {
        let _guard = self.lock();
        let mut next = (*self.current.load_full()).clone();
        let (value, revision) = self.records.write(|batch| change(&mut next, batch))?;
        next.set_revision(revision);
        self.current.store(Arc::new(next));
        Ok((value, revision))
    }

    /// Replaces the manifest. Refused, listing what would break, if stored objects or relations would
    /// no longer fit it. Returns the new revision.
    pub fn set_manifest(&self, file: &str, source: &str) -> Result<u64, StoreError> {
        let manifest = parse_manifest(source, file)?;
        let (_, revision) = self.write(|next, batch| {
            let schema = Schema::compile(manifest, source.to_string(), next.schema().symbols());
            let (violations, total) = next.violations_under(&schema, VIOLATIONS_LISTED);
            if total > 0 {
                return Err(StoreError::ManifestStrandsData {
                    file: file.to_string(),
                    total,
                    violations,
                });
            }
            next.replace_schema(Arc::new(schema));
            batch.set_manifest(file, source)?;
            Ok(())
        })?;
        Ok(revision)
    }

    /// Removes the manifest. Refused, listing what would break, while objects or relations remain
    /// (without a manifest no type is declared). Returns the new revision.
    pub fn delete_manifest(&self) -> Result<u64, StoreError> {
        let (_, revision) = self.write(|next, batch| {
            let schema =
                Schema::compile(Default::default(), String::new(), next.schema().symbols());
            let (violations, total) = next.violations_under(&schema, VIOLATIONS_LISTED);
            if total > 0 {
                return Err(StoreError::ManifestStrandsData {
                    file: "(no manifest)".to_string(),
                    total,
                    violations,
                });
            }
            next.replace_schema(Arc::new(schema));
            batch.delete_manifest()?;
            Ok(())
        })?;
        Ok(revision)
    }

    /// Creates or replaces an object. A non-empty `etag` must match the stored one.
    pub fn set_object(&self, object: &ObjectRecord) -> Result<(ObjectRecord, u64), StoreError> {
        self.write(|next, batch| {
            check_etag(
                &object.etag,
                next.get_object(&object.object_type, &object.id)
                    .map(|stored| stored.etag),
                || format!("object {}:{}", object.object_type, object.id),
            )?;
            next.set_object(object)
                .map_err(|source| StoreError::Rejected {
                    record: format!("object {}:{}", object.object_type, object.id),
                    source,
                })?;
            batch.put_object(object)?;
            next.get_object(&object.object_type, &object.id)
                .ok_or_else(|| StoreError::Corrupt {
                    key: format!("{}:{}", object.object_type, object.id),
                    message: "object missing right after its write".to_string(),
                })
        })
    }

    /// Deletes an object, and with `with_relations` every relation it takes part in.
    /// Returns whether it existed.
    pub fn delete_object(
        &self,
        object_type: &str,
        object_id: &str,
        with_relations: bool,
    ) -> Result<(bool, u64), StoreError> {
        self.write(|next, batch| {
            if with_relations {
                for relation in next.relations_of(object_type, object_id) {
                    next.delete_relation(&relation);
                    batch.delete_relation(&relation)?;
                }
            }
            let existed = next.delete_object(object_type, object_id);
            batch.delete_object(object_type, object_id)?;
            Ok(existed)
        })
    }

    /// Adds a relation. A given `etag` must match the stored relation's. Returns the new revision.
    pub fn set_relation(
        &self,
        relation: &RelationRecord,
        etag: Option<&str>,
    ) -> Result<u64, StoreError> {
        let (_, revision) = self.write(|next, batch| {
            if let Some(etag) = etag.filter(|e| !e.is_empty()) {
                let stored = next.has_relation(relation).then(|| relation.etag());
                check_etag(etag, stored, || format!("relation {relation}"))?;
            }
            next.set_relation(relation)
                .map_err(|source| StoreError::Rejected {
                    record: format!("relation {relation}"),
                    source,
                })?;
            batch.put_relation(relation)?;
            Ok(())
        })?;
        Ok(revision)
    }

    /// Removes a relation; returns whether it existed.
    pub fn delete_relation(&self, relation: &RelationRecord) -> Result<(bool, u64), StoreError> {
        self.write(|next, batch| {
            let existed = next.delete_relation(relation);
            batch.delete_relation(relation)?;
            Ok(existed)
        })
    }

    /// Imports JSON Lines or Topaz JSON, all or nothing: a bad record aborts the whole import, naming its
    /// line, and nothing of it is applied. `progress` receives the running count of records.
    pub fn import(
        &self,
        reader: impl BufRead,
        mut progress: impl FnMut(u64),
    ) -> Result<ImportSummary, StoreError> {
        let ((objects, relations), revision) = self.write(|next, batch| {
            let (mut objects, mut relations) = (0u64, 0u64);
            read_import(reader, |item| {
                match &item.record {
                    ImportRecord::Object(object) => {
                        next.set_object(object)
                            .map_err(|source| StoreError::ImportRejected {
                                line: item.line,
                                source,
                            })?;
                        batch.put_object(object)?;
                        objects += 1;
                    }
                    ImportRecord::Relation(relation) => {
                        next.set_relation(relation).map_err(|source| {
                            StoreError::ImportRejected {
                                line: item.line,
                                source,
                            }
                        })?;
                        batch.put_relation(relation)?;
                        relations += 1;
                    }
                }
                progress(objects + relations);
                Ok(())
            })?;
            Ok((objects, relations))
        })?;
        Ok(ImportSummary {
            objects,
            relations,
            revision,
        })
    }

    /// Refuses `change` if the current manifest or the key encoding would refuse it, as applying it
    /// would. Imports ask this of each change as it arrives, to report or refuse it at once; the
    /// manifest may still change before the import is applied, so applying checks again.
    pub fn check_import_change(&self, change: &ImportChange) -> Result<(), StoreError> {
        let directory = self.current.load();
        match change {
            ImportChange::SetObject(object) => {
                directory
                    .validate_object(object)
                    .map_err(|source| StoreError::Rejected {
                        record: format!("object {}:{}", object.object_type, object.id),
                        source,
                    })?;
                check_object_key(&object.object_type, &object.id)
            }
            ImportChange::DeleteObject {
                object_type,
                object_id,
                ..
            } => check_object_key(object_type, object_id),
            ImportChange::SetRelation(relation) => {
                directory
                    .validate_relation(relation)
                    .map_err(|source| StoreError::Rejected {
                        record: format!("relation {relation}"),
                        source,
                    })?;
                check_relation_key(relation)
            }
            ImportChange::DeleteRelation(relation) => check_relation_key(relation),
        }
    }

    /// Applies the staged changes of one import in one write, published as one revision. `outcome`
    /// hears of every change in staged order, with what it did or why the manifest or the key
    /// encoding refused it (a refused change is left out); an error from `outcome` abandons the whole
    /// import, as does any failure of the database. Returns the new revision.
    pub fn apply_import(
        &self,
        stage: &ImportStage,
        mut outcome: impl FnMut(
            u64,
            ImportChange,
            Result<ChangeApplied, StoreError>,
        ) -> Result<(), StoreError>,
    ) -> Result<u64, StoreError> {
        let ((), revision) = self.write(|next, batch| {
            for staged in stage.changes() {
                let (origin, change) = staged?;
                let result = apply_change(next, batch, &change)?;
                outcome(origin, change, result)?;
            }
            Ok(())
        })?;
        Ok(revision)
    }

    /// Writes every object, then every relation, as JSON Lines in key order (stable across runs).
    pub fn export(&self, out: &mut impl Write) -> Result<ExportSummary, StoreError> {
        let mut summary = ExportSummary {
            objects: 0,
            relations: 0,
        };
        let mut failure = None;
        self.records.for_each_object(|object| {
            if failure.is_none() {
                match write_object_line(out, &object) {
                    Ok(()) => summary.objects += 1,
                    Err(error) => failure = Some(error),
                }
            }
        })?;
        self.records.for_each_relation(|relation| {
            if failure.is_none() {
                match write_relation_line(out, &relation) {
                    Ok(()) => summary.relations += 1,
                    Err(error) => failure = Some(error),
                }
            }
        })?;
        match failure {
            Some(error) => Err(StoreError::io("writing the export", error)),
            None => Ok(summary),
        }
    }
}

/// Applies one import change to the next directory and the batch, both or neither: everything that
/// can refuse it (the manifest, a NUL in a key) is asked before either changes. The outer error is a
/// database failure, which abandons the import; the inner one is the change's refusal.
fn apply_change(
    next: &mut Directory,
    batch: &mut WriteBatch<'_>,
    change: &ImportChange,
) -> Result<Result<ChangeApplied, StoreError>, StoreError> {
    let refused = |error: StoreError| match error {
        StoreError::Nul { .. } => Ok(Err(error)),
        fatal => Err(fatal),
    };
    match change {
        ImportChange::SetObject(object) => {
            let rejected = |source| StoreError::Rejected {
                record: format!("object {}:{}", object.object_type, object.id),
                source,
            };
            if let Err(source) = next.validate_object(object) {
                return Ok(Err(rejected(source)));
            }
            if let Err(error) = batch.put_object(object) {
                return refused(error);
            }
            next.set_object(object).map_err(rejected)?;
            Ok(Ok(ChangeApplied::Set))
        }
        ImportChange::DeleteObject {
            object_type,
            object_id,
            with_relations,
        } => {
            if let Err(error) = batch.delete_object(object_type, object_id) {
                return refused(error);
            }
            if *with_relations {
                for relation in next.relations_of(object_type, object_id) {
                    batch.delete_relation(&relation)?;
                    next.delete_relation(&relation);
                }
            }
            next.delete_object(object_type, object_id);
            Ok(Ok(ChangeApplied::Deleted))
        }
        ImportChange::SetRelation(relation) => {
            let rejected = |source| StoreError::Rejected {
                record: format!("relation {relation}"),
                source,
            };
            if let Err(source) = next.validate_relation(relation) {
                return Ok(Err(rejected(source)));
            }
            if let Err(error) = batch.put_relation(relation) {
                return refused(error);
            }
            next.set_relation(relation).map_err(rejected)?;
            Ok(Ok(ChangeApplied::Set))
        }
        ImportChange::DeleteRelation(relation) => {
            if let Err(error) = batch.delete_relation(relation) {
                return refused(error);
            }
            next.delete_relation(relation);
            Ok(Ok(ChangeApplied::Deleted))
        }
    }
}

fn check_etag(
    wanted: &str,
    stored: Option<String>,
    what: impl FnOnce() -> String,
) -> Result<(), StoreError> {
    if wanted.is_empty() || stored.as_deref() == Some(wanted) {
        return Ok(());
    }
    Err(StoreError::EtagMismatch {
        record: what(),
        expected: wanted.to_string(),
        actual: stored.unwrap_or_else(|| "(none: not stored)".to_string()),
    })
}
