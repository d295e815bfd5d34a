//! [`Store`]: the durable directory. Every write is validated against the current manifest, committed
//! to the backend (the embedded database, fsync'd, or PostgreSQL) and only then published as the next
//! immutable [`Directory`]. Where other processes share the backend, a follower thread replays their
//! changes in revision order.
//! Readers take the published snapshot without locks and never wait for a writer.

use crate::backend::{Backend, Change, LoadSink, RecordWrites};
use crate::error::StoreError;
use crate::group::{Outcome, Queue, SingleWrite, Ticket, Written};
use crate::journal::Journal;
use crate::jsonl::{read_import, write_object_line, write_relation_line, ImportRecord};
use crate::postgres::PostgresRecords;
use crate::records::{check_object_key, check_relation_key, RecordStore};
use crate::staging::{ImportChange, ImportStage};
use arc_swap::ArcSwap;
use lictor_directory::{Directory, Schema};
use lictor_model::{parse_manifest, ObjectRecord, RelationRecord};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

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

/// Where a store keeps its records: a data directory (the embedded redb file) or a PostgreSQL database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// The embedded store in this directory.
    Directory(PathBuf),
    /// A PostgreSQL database, `postgres://USER@HOST:PORT/DB`.
    Postgres(String),
}

impl StoreLocation {
    /// A `postgres://` or `postgresql://` URL names a database; anything else a data directory.
    pub fn parse(text: &str) -> StoreLocation {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            StoreLocation::Postgres(text.to_string())
        } else {
            StoreLocation::Directory(PathBuf::from(text))
        }
    }
}

/// How many groups one leader commits before it hands the lock over and returns to its caller.
const LEAD_ROUNDS: usize = 8;

/// How long a queued writer waits before looking at the lock again, should no wake-up come.
const LEADER_WAIT: Duration = Duration::from_millis(5);

/// How long a follower sleeps between catch-ups when no notification wakes it.
const FOLLOW_INTERVAL: Duration = Duration::from_secs(1);

/// The durable directory: its records (in a [`Backend`]) and the latest published snapshot.
pub struct Store {
    records: Arc<dyn Backend>,
    current: Arc<ArcSwap<Directory>>,
    /// One writer (or follower catch-up) at a time; readers never take it.
    writer: Arc<Mutex<()>>,
    /// The newest revision the backend was known to have, for the lag.
    head: Arc<AtomicU64>,
    /// Tells the follower thread to stop.
    stop: Arc<AtomicBool>,
    /// Recent revisions' changes, for edge replicas that follow this store.
    journal: Arc<Journal>,
    /// Single-record writes waiting to be committed together.
    queue: Queue,
}

impl Store {
    /// Opens (or creates) the embedded store in `dir` and loads its latest revision into memory.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        Store::with_backend(Arc::new(RecordStore::open(dir)?))
    }

    /// Opens the store at `location`.
    pub fn open_at(location: &StoreLocation) -> Result<Store, StoreError> {
        match location {
            StoreLocation::Directory(dir) => Store::open(dir),
            StoreLocation::Postgres(url) => {
                Store::with_backend(Arc::new(PostgresRecords::open(url)?))
            }
        }
    }

    /// Loads the directory from `records`; where other processes share them, follows their changes
    /// from then on, on a thread of its own.
    pub fn with_backend(records: Arc<dyn Backend>) -> Result<Store, StoreError> {
        let mut directory = Directory::new();
        let revision = {
            let directory = &mut directory;
            let cell = std::cell::RefCell::new(directory);
            records.load(LoadSink {
                manifest: &mut |file, source| {
                    let mut directory = cell.borrow_mut();
                    let manifest = parse_manifest(source, file)?;
                    let schema =
                        Schema::compile(manifest, source.to_string(), directory.schema().symbols());
                    directory.replace_schema(Arc::new(schema));
                    Ok(())
                },
                object: &mut |object| {
                    cell.borrow_mut()
                        .set_object(&object)
                        .map_err(|source| StoreError::Stored {
                            record: format!("object {}:{}", object.object_type, object.id),
                            source,
                        })
                        .map(|_| ())
                },
                relation: &mut |relation| {
                    cell.borrow_mut()
                        .set_relation(&relation)
                        .map_err(|source| StoreError::Stored {
                            record: format!("relation {relation}"),
                            source,
                        })
                        .map(|_| ())
                },
            })?
        };
        directory.shrink_to_fit();
        directory.set_revision(revision);
        let store = Store {
            records,
            current: Arc::new(ArcSwap::from_pointee(directory)),
            writer: Arc::new(Mutex::new(())),
            head: Arc::new(AtomicU64::new(revision)),
            stop: Arc::new(AtomicBool::new(false)),
            journal: Arc::new(Journal::new(revision)),
            queue: Queue::default(),
        };
        if store.records.shared() {
            let follower = Follower {
                records: store.records.clone(),
                current: store.current.clone(),
                writer: store.writer.clone(),
                head: store.head.clone(),
                journal: store.journal.clone(),
            };
            let stop = store.stop.clone();
            std::thread::Builder::new()
                .name("lictor-follow".to_string())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        follower.records.wait_for_changes(FOLLOW_INTERVAL);
                        // A failure (the database is down) is retried on the next round.
                        let _ = follower.catch_up();
                    }
                })
                .map_err(|e| StoreError::io("starting the change-log follower", e))?;
        }
        Ok(store)
    }

    /// Applies every change other processes committed since the published revision, now, rather than
    /// waiting for the follower to wake. Returns the revision then published.
    pub fn catch_up(&self) -> Result<u64, StoreError> {
        Follower {
            records: self.records.clone(),
            current: self.current.clone(),
            writer: self.writer.clone(),
            head: self.head.clone(),
            journal: self.journal.clone(),
        }
        .catch_up()
    }

    /// Recent revisions' changes, which an edge replica follows.
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// How many revisions the backend was last seen to be ahead of the published one.
    pub fn lag(&self) -> u64 {
        self.head
            .load(Ordering::Relaxed)
            .saturating_sub(self.revision())
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
    pub fn records(&self) -> &dyn Backend {
        self.records.as_ref()
    }

    /// Runs one write: `change` edits a copy of the latest directory (first brought up to date with
    /// what other processes wrote) and the batch; on success both are committed and the copy is
    /// published. On any error nothing changes.
    fn write<T>(
        &self,
        change: impl FnOnce(&mut Directory, &mut dyn RecordWrites) -> Result<T, StoreError>,
    ) -> Result<(T, u64), StoreError> {
        let guard = lock(&self.writer);
        let base = self.current.load_full();
        let mut change = Some(change);
        let mut done = None;
        // Changes are copied for the journal only when someone follows this store.
        let keeps = self.journal.keeps();
        let mut recorded = None;
        let mut replayed = Vec::new();
        let revision = self.records.write(base.revision(), &mut |pending, batch| {
            let mut next = (*base).clone();
            replay(&mut next, pending)?;
            let change = change.take().ok_or_else(|| StoreError::Corrupt {
                key: "write".to_string(),
                message: "a write's body ran twice".to_string(),
            })?;
            let mut recorder = Recorder {
                inner: batch,
                changes: keeps.then(Vec::new),
            };
            let value = change(&mut next, &mut recorder)?;
            recorded = recorder.changes;
            if keeps {
                replayed = pending.to_vec();
            }
            done = Some((value, next));
            Ok(())
        })?;
        let (value, next) = done.ok_or_else(|| StoreError::Corrupt {
            key: format!("revision {revision}"),
            message: "committed without running the write".to_string(),
        })?;
        self.publish(next, revision, replayed, recorded);
        drop(guard);
        // Single-record writes queued behind this one may lead now.
        self.queue.hand_over();
        Ok((value, revision))
    }

    /// Replaces everything (manifest, objects, relations) with a snapshot of another store, in one
    /// write: what an edge replica does when it starts following, or falls too far behind. Returns
    /// the new revision.
    pub fn replace_all(
        &self,
        manifest: Option<(&str, &str)>,
        objects: &[ObjectRecord],
        relations: &[RelationRecord],
    ) -> Result<u64, StoreError> {
        let ((), revision) = self.write(|next, batch| {
            for relation in next.relations().collect::<Vec<_>>() {
                batch.delete_relation(&relation)?;
            }
            for object in next.objects().collect::<Vec<_>>() {
                batch.delete_object(&object.object_type, &object.id)?;
            }
            let mut fresh = Directory::new();
            match manifest {
                Some((file, source)) => {
                    let parsed = parse_manifest(source, file)?;
                    let schema =
                        Schema::compile(parsed, source.to_string(), fresh.schema().symbols());
                    fresh.replace_schema(Arc::new(schema));
                    batch.set_manifest(file, source)?;
                }
                None => batch.delete_manifest()?,
            }
            for object in objects {
                fresh
                    .set_object(object)
                    .map_err(|source| StoreError::Stored {
                        record: format!("object {}:{}", object.object_type, object.id),
                        source,
                    })?;
                batch.put_object(object)?;
            }
            for relation in relations {
                fresh
                    .set_relation(relation)
                    .map_err(|source| StoreError::Stored {
                        record: format!("relation {relation}"),
                        source,
                    })?;
                batch.put_relation(relation)?;
            }
            *next = fresh;
            Ok(())
        })?;
        Ok(revision)
    }

    /// Applies, in one write, changes another store committed (an edge replica's copy of one of its
    /// revisions). Returns the new revision.
    pub fn apply_changes(&self, changes: &[Change]) -> Result<u64, StoreError> {
        let ((), revision) = self.write(|next, batch| {
            for change in changes {
                match change {
                    Change::SetObject { object } => batch.put_object(object)?,
                    Change::DeleteObject {
                        object_type,
                        object_id,
                    } => batch.delete_object(object_type, object_id)?,
                    Change::SetRelation { relation } => batch.put_relation(relation)?,
                    Change::DeleteRelation { relation } => batch.delete_relation(relation)?,
                    Change::SetManifest { file, source } => batch.set_manifest(file, source)?,
                    Change::DeleteManifest => batch.delete_manifest()?,
                }
            }
            replay(
                next,
                &changes.iter().map(|c| (0, c.clone())).collect::<Vec<_>>(),
            )
        })?;
        Ok(revision)
    }

    /// Replaces the manifest. Refused, listing what would break, if stored objects or relations would
    /// no longer fit it. Returns the new revision.
    pub fn set_manifest(&self, file: &str, source: &str) -> Result<u64, StoreError> {
        self.set_manifest_if(file, source, |_| Ok(()))
    }

    /// [`Store::set_manifest`], after `expected` accepted the current source (or refused it, with the
    /// error it returns), checked under the write lock so no other write comes between.
    pub fn set_manifest_if(
        &self,
        file: &str,
        source: &str,
        expected: impl FnOnce(&str) -> Result<(), StoreError>,
    ) -> Result<u64, StoreError> {
        let manifest = parse_manifest(source, file)?;
        let (_, revision) = self.write(|next, batch| {
            expected(next.schema().source())?;
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

    /// Checks a manifest as [`Store::set_manifest`] would, changing nothing: its own errors, or the
    /// stored data it would strand, against the current revision.
    pub fn check_manifest(&self, file: &str, source: &str) -> Result<(), StoreError> {
        let manifest = parse_manifest(source, file)?;
        let current = self.snapshot();
        let schema = Schema::compile(manifest, source.to_string(), current.schema().symbols());
        let (violations, total) = current.violations_under(&schema, VIOLATIONS_LISTED);
        if total > 0 {
            return Err(StoreError::ManifestStrandsData {
                file: file.to_string(),
                total,
                violations,
            });
        }
        Ok(())
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
        match self.submit(SingleWrite::SetObject(object.clone()))? {
            (Written::Object(stored), revision) => Ok((stored, revision)),
            (_, revision) => Err(unexpected(revision)),
        }
    }

    /// Creates an object that is not stored yet; one that is, is refused ([`StoreError::Exists`]).
    pub fn create_object(&self, object: &ObjectRecord) -> Result<(ObjectRecord, u64), StoreError> {
        match self.submit(SingleWrite::CreateObject(object.clone()))? {
            (Written::Object(stored), revision) => Ok((stored, revision)),
            (_, revision) => Err(unexpected(revision)),
        }
    }

    /// Deletes an object, and with `with_relations` every relation it takes part in.
    /// Returns whether it existed.
    pub fn delete_object(
        &self,
        object_type: &str,
        object_id: &str,
        with_relations: bool,
    ) -> Result<(bool, u64), StoreError> {
        existed(self.submit(SingleWrite::DeleteObject {
            object_type: object_type.to_string(),
            object_id: object_id.to_string(),
            with_relations,
        })?)
    }

    /// Adds a relation. A given `etag` must match the stored relation's. Returns the new revision.
    pub fn set_relation(
        &self,
        relation: &RelationRecord,
        etag: Option<&str>,
    ) -> Result<u64, StoreError> {
        let (_, revision) = self.submit(SingleWrite::SetRelation {
            relation: relation.clone(),
            etag: etag.map(str::to_string),
        })?;
        Ok(revision)
    }

    /// Removes a relation; returns whether it existed.
    pub fn delete_relation(&self, relation: &RelationRecord) -> Result<(bool, u64), StoreError> {
        existed(self.submit(SingleWrite::DeleteRelation(relation.clone()))?)
    }

    /// Runs a single-record write with whatever others are queued. The writer that finds the lock
    /// free leads: it commits everything queued, then what queued meanwhile, for a few rounds; the
    /// others wait for their outcome without taking the lock, so the leader's next commit holds every
    /// write that arrived during its last one.
    fn submit(&self, op: SingleWrite) -> Outcome {
        let ticket = self.queue.push(op);
        loop {
            if let Some(outcome) = ticket.take() {
                return outcome;
            }
            match self.try_writer() {
                Some(guard) => self.lead(guard),
                // A leader (or an import) holds the lock; its end wakes us.
                None => self.queue.wait(&ticket, LEADER_WAIT),
            }
        }
    }

    /// Runs a single-record write, committed with the others queued at the same time, from a task:
    /// while others commit it waits without holding a thread; when it leads, the commit runs in
    /// place of the task's runtime worker (`block_in_place`), whose other tasks move on. Returns
    /// once the write is durable. A task dropped before its write was taken for a commit withdraws it.
    /// Runs on a Tokio runtime with its timer enabled.
    pub async fn submit_async(&self, write: SingleWrite) -> Result<(Written, u64), StoreError> {
        let mut queued = Queued {
            queue: &self.queue,
            ticket: self.queue.push(write),
            settled: false,
        };
        loop {
            if let Some(outcome) = queued.ticket.take() {
                queued.settled = true;
                return outcome;
            }
            // Looked at before `block_in_place`, which hands the worker's other tasks to another
            // thread: that is paid only by a writer that will lead, and taken again inside, since
            // another writer may lead in between.
            if self.try_writer().is_some() {
                run_blocking(|| {
                    if let Some(guard) = self.try_writer() {
                        self.lead(guard);
                    }
                });
                continue;
            }
            queued.ticket.changed(LEADER_WAIT).await;
        }
    }

    /// The writer lock, if no one holds it.
    fn try_writer(&self) -> Option<MutexGuard<'_, ()>> {
        match self.writer.try_lock() {
            Ok(guard) => Some(guard),
            Err(std::sync::TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    /// Commits what is queued, then what queued meanwhile, for up to [`LEAD_ROUNDS`] groups, and
    /// hands the lock over.
    fn lead(&self, guard: MutexGuard<'_, ()>) {
        for _ in 0..LEAD_ROUNDS {
            let group = self.queue.drain();
            if group.is_empty() {
                break;
            }
            self.commit_group(group);
            self.queue.notify();
        }
        drop(guard);
        // Writes queued during the last round need a leader: whoever wakes first takes the lock.
        self.queue.hand_over();
    }

    /// Publishes a committed revision: the new snapshot for readers, the backend head, and the
    /// journal (other processes' replayed changes first, then this revision's, or a gap when they
    /// were not kept). Called with the writer lock held.
    fn publish(
        &self,
        mut next: Directory,
        revision: u64,
        replayed: Vec<(u64, Change)>,
        recorded: Option<Vec<Change>>,
    ) {
        next.set_revision(revision);
        self.current.store(Arc::new(next));
        self.head.fetch_max(revision, Ordering::Relaxed);
        for (at, changes) in by_revision(replayed) {
            self.journal.record(at, changes);
        }
        match recorded {
            Some(changes) => self.journal.record(revision, changes),
            None => self.journal.gap(revision),
        }
    }

    /// Commits queued writes in one transaction and leaves each its outcome. Called with the writer
    /// lock held.
    fn commit_group(&self, group: Vec<(SingleWrite, Arc<Ticket>)>) {
        if group.is_empty() {
            return;
        }
        let base = self.current.load_full();
        let keeps = self.journal.keeps();
        let mut recorded = None;
        let mut replayed = Vec::new();
        let mut outcomes: Vec<Result<Written, StoreError>> = Vec::with_capacity(group.len());
        let mut published = None;
        let committed = self.records.write(base.revision(), &mut |pending, batch| {
            let mut next = (*base).clone();
            replay(&mut next, pending)?;
            let mut recorder = Recorder {
                inner: batch,
                changes: keeps.then(Vec::new),
            };
            outcomes.clear();
            for (op, _) in &group {
                outcomes.push(crate::group::apply(&mut next, &mut recorder, op)?);
            }
            if outcomes.iter().all(Result::is_err) {
                return Err(StoreError::NothingToCommit);
            }
            recorded = recorder.changes;
            if keeps {
                replayed = pending.to_vec();
            }
            published = Some(next);
            Ok(())
        });
        let revision = match (committed, published) {
            (Ok(revision), Some(next)) => {
                self.publish(next, revision, replayed, recorded);
                Ok(revision)
            }
            (Ok(revision), None) => Err(unexpected(revision)),
            (Err(StoreError::NothingToCommit), _) => Ok(0),
            (Err(error), _) => Err(error),
        };
        match revision {
            Ok(revision) => {
                let mut outcomes = outcomes.into_iter();
                for (_, ticket) in &group {
                    let outcome = outcomes.next().unwrap_or(Err(unexpected(revision)));
                    ticket.fill(outcome.map(|applied| (applied, revision)));
                }
            }
            Err(error) => {
                // The transaction failed: no write of the group was committed.
                let message = error.to_string();
                let mut first = Some(error);
                for (_, ticket) in &group {
                    let error = first.take().unwrap_or_else(|| StoreError::GroupFailed {
                        message: message.clone(),
                    });
                    ticket.fill(Err(error));
                }
            }
        }
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
        self.records.for_each_object(&mut |object| {
            if failure.is_none() {
                match write_object_line(out, &object) {
                    Ok(()) => summary.objects += 1,
                    Err(error) => failure = Some(error),
                }
            }
        })?;
        self.records.for_each_relation(&mut |relation| {
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
    batch: &mut dyn RecordWrites,
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

impl Drop for Store {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A write's outcome that does not fit its kind: a defect, reported rather than panicked on.
fn unexpected(revision: u64) -> StoreError {
    StoreError::Corrupt {
        key: format!("revision {revision}"),
        message: "a write's outcome does not match its kind".to_string(),
    }
}

/// A queued write of [`Store::submit_async`]: withdrawn from the queue if its task is dropped first.
struct Queued<'a> {
    queue: &'a Queue,
    ticket: Arc<Ticket>,
    settled: bool,
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.queue.withdraw(&self.ticket);
        }
    }
}

/// Runs `blocking` (a commit waits for the disk) without stalling the other tasks of a multi-threaded
/// Tokio runtime; elsewhere (a current-thread runtime, no runtime) it just runs.
fn run_blocking<T>(blocking: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) if runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(blocking)
        }
        _ => blocking(),
    }
}

/// Whether a deleted record existed, from a delete's outcome.
fn existed((applied, revision): (Written, u64)) -> Result<(bool, u64), StoreError> {
    match applied {
        Written::Existed(existed) => Ok((existed, revision)),
        _ => Err(unexpected(revision)),
    }
}

fn lock(writer: &Mutex<()>) -> MutexGuard<'_, ()> {
    // A writer that panicked left nothing half-published: the snapshot is only swapped after commit.
    writer
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What the follower thread needs of a store.
struct Follower {
    records: Arc<dyn Backend>,
    current: Arc<ArcSwap<Directory>>,
    writer: Arc<Mutex<()>>,
    head: Arc<AtomicU64>,
    journal: Arc<Journal>,
}

impl Follower {
    fn catch_up(&self) -> Result<u64, StoreError> {
        let _guard = lock(&self.writer);
        let base = self.current.load_full();
        let (changes, head) = self.records.changes_since(base.revision())?;
        self.head.fetch_max(head, Ordering::Relaxed);
        if head <= base.revision() {
            return Ok(base.revision());
        }
        let mut next = (*base).clone();
        replay(&mut next, &changes)?;
        next.set_revision(head);
        self.current.store(Arc::new(next));
        if !self.journal.keeps() {
            self.journal.gap(head);
            return Ok(head);
        }
        let mut recorded = by_revision(changes);
        if recorded.last().is_none_or(|(at, _)| *at < head) {
            // A write with no changes still advances the revision followers wait for.
            recorded.push((head, Vec::new()));
        }
        for (at, changes) in recorded {
            self.journal.record(at, changes);
        }
        Ok(head)
    }
}

/// Changes grouped by their revision, in order.
fn by_revision(changes: Vec<(u64, Change)>) -> Vec<(u64, Vec<Change>)> {
    let mut grouped: Vec<(u64, Vec<Change>)> = Vec::new();
    for (revision, change) in changes {
        match grouped.last_mut() {
            Some((at, group)) if *at == revision => group.push(change),
            _ => grouped.push((revision, vec![change])),
        }
    }
    grouped
}

/// The writes of one transaction, passed on and recorded as the changes followers replay; past what
/// the journal keeps, or while nobody follows, not recorded (`None`: followers take a snapshot).
struct Recorder<'b> {
    inner: &'b mut dyn RecordWrites,
    changes: Option<Vec<Change>>,
}

impl Recorder<'_> {
    fn push(&mut self, change: impl FnOnce() -> Change) {
        if let Some(changes) = &mut self.changes {
            if changes.len() < crate::journal::MAX_CHANGES {
                changes.push(change());
            } else {
                self.changes = None;
            }
        }
    }
}

impl RecordWrites for Recorder<'_> {
    fn put_object(&mut self, object: &ObjectRecord) -> Result<(), StoreError> {
        self.inner.put_object(object)?;
        self.push(|| Change::SetObject {
            object: object.clone(),
        });
        Ok(())
    }

    fn delete_object(&mut self, object_type: &str, id: &str) -> Result<(), StoreError> {
        self.inner.delete_object(object_type, id)?;
        self.push(|| Change::DeleteObject {
            object_type: object_type.to_string(),
            object_id: id.to_string(),
        });
        Ok(())
    }

    fn put_relation(&mut self, relation: &RelationRecord) -> Result<(), StoreError> {
        self.inner.put_relation(relation)?;
        self.push(|| Change::SetRelation {
            relation: relation.clone(),
        });
        Ok(())
    }

    fn delete_relation(&mut self, relation: &RelationRecord) -> Result<(), StoreError> {
        self.inner.delete_relation(relation)?;
        self.push(|| Change::DeleteRelation {
            relation: relation.clone(),
        });
        Ok(())
    }

    fn set_manifest(&mut self, file: &str, source: &str) -> Result<(), StoreError> {
        self.inner.set_manifest(file, source)?;
        self.push(|| Change::SetManifest {
            file: file.to_string(),
            source: source.to_string(),
        });
        Ok(())
    }

    fn delete_manifest(&mut self) -> Result<(), StoreError> {
        self.inner.delete_manifest()?;
        self.push(|| Change::DeleteManifest);
        Ok(())
    }
}

/// Applies changes that another process committed, in order.
fn replay(next: &mut Directory, changes: &[(u64, Change)]) -> Result<(), StoreError> {
    for (revision, change) in changes {
        let stored = |record: String| {
            move |source| StoreError::Stored {
                record: format!("{record} (revision {revision})"),
                source,
            }
        };
        match change {
            Change::SetObject { object } => {
                next.set_object(object).map_err(stored(format!(
                    "object {}:{}",
                    object.object_type, object.id
                )))?;
            }
            Change::DeleteObject {
                object_type,
                object_id,
            } => {
                next.delete_object(object_type, object_id);
            }
            Change::SetRelation { relation } => {
                next.set_relation(relation)
                    .map_err(stored(format!("relation {relation}")))?;
            }
            Change::DeleteRelation { relation } => {
                next.delete_relation(relation);
            }
            Change::SetManifest { file, source } => {
                let manifest = parse_manifest(source, file)?;
                let schema = Schema::compile(manifest, source.clone(), next.schema().symbols());
                next.replace_schema(Arc::new(schema));
            }
            Change::DeleteManifest => {
                let schema =
                    Schema::compile(Default::default(), String::new(), next.schema().symbols());
                next.replace_schema(Arc::new(schema));
            }
        }
    }
    Ok(())
}

pub(crate) fn check_etag(
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
