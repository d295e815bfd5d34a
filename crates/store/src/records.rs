//! [`RecordStore`]: objects, relations, the manifest and the revision in one redb file. Every commit is
//! durable (fsync'd) before it returns.
//!
//! Layout (all keys are strings whose parts are joined by NUL, which ids may therefore not contain; NUL
//! sorts first, so key order is the order of the tuples):
//! - `objects`: `type\0id` → created (u64 LE) · updated (u64 LE) · display name length (u32 LE) ·
//!   display name · properties as JSON. Times are unix microseconds.
//! - `relations`: `object_type\0object_id\0relation\0subject_type\0subject_id\0subject_relation` →
//!   `[created, updated]`.
//! - `meta`: `revision` (u64 LE), `manifest` (source text), `manifest_file` (its file name).

use crate::backend::{Backend, Change, LoadSink, RecordWrites, WriteBody};
use crate::error::StoreError;
use lictor_model::{ObjectRecord, RelationRecord};
use redb::{
    Database, DatabaseError, Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata,
    Table, TableDefinition,
};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

const OBJECTS: TableDefinition<&str, &[u8]> = TableDefinition::new("objects");
const RELATIONS: TableDefinition<&str, [u64; 2]> = TableDefinition::new("relations");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

const REVISION_KEY: &str = "revision";
const MANIFEST_KEY: &str = "manifest";
const MANIFEST_FILE_KEY: &str = "manifest_file";
const MANIFEST_UPDATED_KEY: &str = "manifest_updated_at";

const DATABASE_FILE: &str = "lictor.redb";
/// The page cache. The directory keeps its own index in memory, so the store needs little.
const CACHE_BYTES: usize = 64 << 20;

/// An object as stored, with its timestamps (unix microseconds).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredObject {
    /// The object; its etag is its content etag.
    pub record: ObjectRecord,
    /// When it was first written.
    pub created_at: u64,
    /// When it last changed.
    pub updated_at: u64,
}

/// Timestamps of a stored relation (unix microseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelationMeta {
    /// When it was first written.
    pub created_at: u64,
    /// When it was last written.
    pub updated_at: u64,
}

/// The durable records of one data directory: one redb file, one writer at a time.
pub struct RecordStore {
    db: Database,
    /// The database file, named in errors.
    path: String,
}

/// Wraps a redb error, naming the database file.
fn in_db<E: Into<redb::Error>>(path: &str) -> impl FnOnce(E) -> StoreError + '_ {
    move |error| StoreError::Database {
        path: path.to_string(),
        source: error.into(),
    }
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// Joins `fields` into `key` with NUL separators, refusing a field that contains NUL.
fn encode_key(key: &mut String, fields: &[(&'static str, &str)]) -> Result<(), StoreError> {
    key.clear();
    for (index, (field, value)) in fields.iter().enumerate() {
        if value.as_bytes().contains(&0) {
            return Err(StoreError::Nul {
                field,
                value: value.replace('\0', "\\0"),
            });
        }
        if index > 0 {
            key.push('\0');
        }
        key.push_str(value);
    }
    Ok(())
}

fn object_key(key: &mut String, object_type: &str, id: &str) -> Result<(), StoreError> {
    encode_key(key, &[("type", object_type), ("id", id)])
}

fn relation_key(key: &mut String, relation: &RelationRecord) -> Result<(), StoreError> {
    encode_key(
        key,
        &[
            ("object_type", &relation.object_type),
            ("object_id", &relation.object_id),
            ("relation", &relation.relation),
            ("subject_type", &relation.subject_type),
            ("subject_id", &relation.subject_id),
            ("subject_relation", &relation.subject_relation),
        ],
    )
}

/// Refuses an object identifier that the key encoding cannot hold (a NUL), naming the field.
pub(crate) fn check_object_key(object_type: &str, id: &str) -> Result<(), StoreError> {
    object_key(&mut String::new(), object_type, id)
}

/// Refuses a relation that the key encoding cannot hold (a NUL), naming the field.
pub(crate) fn check_relation_key(relation: &RelationRecord) -> Result<(), StoreError> {
    relation_key(&mut String::new(), relation)
}

fn corrupt(key: &str, message: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        key: key.replace('\0', "|"),
        message: message.into(),
    }
}

fn decode_relation(key: &str) -> Result<RelationRecord, StoreError> {
    let mut parts = key.split('\0').map(str::to_string);
    let mut next = || {
        parts
            .next()
            .ok_or_else(|| corrupt(key, "a relation key has six parts"))
    };
    let relation = RelationRecord {
        object_type: next()?,
        object_id: next()?,
        relation: next()?,
        subject_type: next()?,
        subject_id: next()?,
        subject_relation: next()?,
    };
    if parts.next().is_some() {
        return Err(corrupt(key, "a relation key has six parts"));
    }
    Ok(relation)
}

fn relation_meta([created_at, updated_at]: [u64; 2]) -> RelationMeta {
    RelationMeta {
        created_at,
        updated_at,
    }
}

/// `null` properties are stored as `{}`, so that every stored object has an object of properties.
fn normalized_properties(properties: &serde_json::Value) -> Option<serde_json::Value> {
    properties
        .is_null()
        .then(|| serde_json::Value::Object(serde_json::Map::new()))
}

fn encode_object(
    value: &mut Vec<u8>,
    key: &str,
    object: &ObjectRecord,
    created_at: u64,
    updated_at: u64,
) -> Result<(), StoreError> {
    let name_len = u32::try_from(object.display_name.len())
        .map_err(|_| corrupt(key, "display_name is longer than 4 GiB"))?;
    value.clear();
    value.extend_from_slice(&created_at.to_le_bytes());
    value.extend_from_slice(&updated_at.to_le_bytes());
    value.extend_from_slice(&name_len.to_le_bytes());
    value.extend_from_slice(object.display_name.as_bytes());
    let properties = normalized_properties(&object.properties);
    serde_json::to_writer(
        &mut *value,
        properties.as_ref().unwrap_or(&object.properties),
    )
    .map_err(|e| corrupt(key, format!("properties do not serialize: {e}")))
}

/// Splits `N` bytes off the front of `bytes`.
fn take<const N: usize>(bytes: &mut &[u8], key: &str) -> Result<[u8; N], StoreError> {
    let (head, rest) = bytes
        .split_first_chunk::<N>()
        .ok_or_else(|| corrupt(key, "object value is truncated"))?;
    *bytes = rest;
    Ok(*head)
}

fn created_at_of(key: &str, mut bytes: &[u8]) -> Result<u64, StoreError> {
    Ok(u64::from_le_bytes(take::<8>(&mut bytes, key)?))
}

fn decode_object(key: &str, mut bytes: &[u8]) -> Result<StoredObject, StoreError> {
    let (object_type, id) = key
        .split_once('\0')
        .ok_or_else(|| corrupt(key, "an object key has two parts"))?;
    let created_at = u64::from_le_bytes(take::<8>(&mut bytes, key)?);
    let updated_at = u64::from_le_bytes(take::<8>(&mut bytes, key)?);
    let name_len = usize::try_from(u32::from_le_bytes(take::<4>(&mut bytes, key)?))
        .map_err(|_| corrupt(key, "display_name length does not fit in memory"))?;
    let (name, properties) = bytes
        .split_at_checked(name_len)
        .ok_or_else(|| corrupt(key, "display_name is truncated"))?;
    let display_name = std::str::from_utf8(name)
        .map_err(|e| corrupt(key, format!("display_name is not UTF-8: {e}")))?
        .to_string();
    let properties = serde_json::from_slice(properties)
        .map_err(|e| corrupt(key, format!("properties are not JSON: {e}")))?;
    let mut record = ObjectRecord {
        object_type: object_type.to_string(),
        id: id.to_string(),
        display_name,
        properties,
        etag: String::new(),
    };
    record.etag = record.content_etag();
    Ok(StoredObject {
        record,
        created_at,
        updated_at,
    })
}

fn decode_revision(bytes: &[u8]) -> Result<u64, StoreError> {
    decode_u64(REVISION_KEY, bytes)
}

fn decode_u64(key: &str, bytes: &[u8]) -> Result<u64, StoreError> {
    <[u8; 8]>::try_from(bytes)
        .map(u64::from_le_bytes)
        .map_err(|_| corrupt(key, "the value is not 8 bytes"))
}

fn decode_text(key: &str, bytes: &[u8]) -> Result<String, StoreError> {
    String::from_utf8(bytes.to_vec()).map_err(|e| corrupt(key, format!("not UTF-8: {e}")))
}

impl RecordStore {
    /// Opens `dir/lictor.redb`, creating the directory and the file if missing and repairing the file
    /// after a crash. Fails with [`StoreError::InUse`] if another process has it open.
    pub fn open(dir: &Path) -> Result<RecordStore, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::io(format!("creating data directory {}", dir.display()), e))?;
        let file = dir.join(DATABASE_FILE);
        let path = file.display().to_string();
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(&file)
            .map_err(|error| match error {
                DatabaseError::DatabaseAlreadyOpen | DatabaseError::LockProtocolMismatch => {
                    StoreError::InUse(dir.display().to_string())
                }
                other => in_db(&path)(other),
            })?;
        // Create the tables up front, so that reads never meet a missing table.
        let txn = db.begin_write().map_err(in_db(&path))?;
        txn.open_table(OBJECTS).map_err(in_db(&path))?;
        txn.open_table(RELATIONS).map_err(in_db(&path))?;
        txn.open_table(META).map_err(in_db(&path))?;
        txn.commit().map_err(in_db(&path))?;
        Ok(RecordStore { db, path })
    }

    fn read(&self) -> Result<redb::ReadTransaction, StoreError> {
        self.db.begin_read().map_err(in_db(&self.path))
    }

    /// The latest committed revision (0 before any write).
    pub fn revision(&self) -> Result<u64, StoreError> {
        let txn = self.read()?;
        let meta = txn.open_table(META).map_err(in_db(&self.path))?;
        let value = meta.get(REVISION_KEY).map_err(in_db(&self.path))?;
        value.map_or(Ok(0), |v| decode_revision(v.value()))
    }

    /// The stored manifest as `(file name, source)`, if one was set.
    pub fn manifest(&self) -> Result<Option<(String, String)>, StoreError> {
        let txn = self.read()?;
        let meta = txn.open_table(META).map_err(in_db(&self.path))?;
        let Some(source) = meta.get(MANIFEST_KEY).map_err(in_db(&self.path))? else {
            return Ok(None);
        };
        let source = decode_text(MANIFEST_KEY, source.value())?;
        let file = match meta.get(MANIFEST_FILE_KEY).map_err(in_db(&self.path))? {
            Some(file) => decode_text(MANIFEST_FILE_KEY, file.value())?,
            None => String::new(),
        };
        Ok(Some((file, source)))
    }

    /// When the manifest was last set (unix microseconds); `None` if it never was, or was set by a
    /// version that did not record it.
    pub fn manifest_updated_at(&self) -> Result<Option<u64>, StoreError> {
        let txn = self.read()?;
        let meta = txn.open_table(META).map_err(in_db(&self.path))?;
        let value = meta.get(MANIFEST_UPDATED_KEY).map_err(in_db(&self.path))?;
        value
            .map(|v| decode_u64(MANIFEST_UPDATED_KEY, v.value()))
            .transpose()
    }

    /// Calls `each` for every object (its etag set to its content etag), in `(type, id)` order,
    /// streaming from one consistent snapshot.
    pub fn for_each_object(&self, mut each: impl FnMut(ObjectRecord)) -> Result<(), StoreError> {
        let txn = self.read()?;
        let table = txn.open_table(OBJECTS).map_err(in_db(&self.path))?;
        for entry in table.iter().map_err(in_db(&self.path))? {
            let (key, value) = entry.map_err(in_db(&self.path))?;
            each(decode_object(key.value(), value.value())?.record);
        }
        Ok(())
    }

    /// Calls `each` for every relation, in key order, streaming from one consistent snapshot.
    pub fn for_each_relation(
        &self,
        mut each: impl FnMut(RelationRecord),
    ) -> Result<(), StoreError> {
        let txn = self.read()?;
        let table = txn.open_table(RELATIONS).map_err(in_db(&self.path))?;
        for entry in table.iter().map_err(in_db(&self.path))? {
            let (key, _) = entry.map_err(in_db(&self.path))?;
            each(decode_relation(key.value())?);
        }
        Ok(())
    }

    /// An object with its timestamps, if it is stored.
    pub fn get_object(
        &self,
        object_type: &str,
        id: &str,
    ) -> Result<Option<StoredObject>, StoreError> {
        let mut key = String::new();
        object_key(&mut key, object_type, id)?;
        let txn = self.read()?;
        let table = txn.open_table(OBJECTS).map_err(in_db(&self.path))?;
        let value = table.get(key.as_str()).map_err(in_db(&self.path))?;
        value.map(|v| decode_object(&key, v.value())).transpose()
    }

    /// A relation's timestamps, if it is stored.
    pub fn get_relation(
        &self,
        relation: &RelationRecord,
    ) -> Result<Option<RelationMeta>, StoreError> {
        let mut key = String::new();
        relation_key(&mut key, relation)?;
        let txn = self.read()?;
        let table = txn.open_table(RELATIONS).map_err(in_db(&self.path))?;
        let value = table.get(key.as_str()).map_err(in_db(&self.path))?;
        Ok(value.map(|v| relation_meta(v.value())))
    }

    /// How many objects are stored.
    pub fn object_count(&self) -> Result<u64, StoreError> {
        let txn = self.read()?;
        let table = txn.open_table(OBJECTS).map_err(in_db(&self.path))?;
        table.len().map_err(in_db(&self.path))
    }

    /// How many relations are stored.
    pub fn relation_count(&self) -> Result<u64, StoreError> {
        let txn = self.read()?;
        let table = txn.open_table(RELATIONS).map_err(in_db(&self.path))?;
        table.len().map_err(in_db(&self.path))
    }

    /// Runs `change` in one write transaction. If it succeeds, the revision advances by exactly one and
    /// the transaction is committed durably (fsync'd) before this returns `(its value, the new
    /// revision)`. If it fails, the transaction is aborted: nothing of it is written.
    pub fn write<T>(
        &self,
        change: impl FnOnce(&mut WriteBatch<'_>) -> Result<T, StoreError>,
    ) -> Result<(T, u64), StoreError> {
        let mut txn = self.db.begin_write().map_err(in_db(&self.path))?;
        txn.set_durability(Durability::Immediate)
            .map_err(in_db(&self.path))?;
        let outcome = WriteBatch::open(&txn, &self.path).and_then(|mut batch| {
            let value = change(&mut batch)?;
            let revision = batch.advance_revision()?;
            Ok((value, revision))
        });
        match outcome {
            Ok(done) => {
                txn.commit().map_err(in_db(&self.path))?;
                Ok(done)
            }
            Err(error) => {
                // The change's error is the one to report; an abort that fails has not committed either.
                let _ = txn.abort();
                Err(error)
            }
        }
    }
}

/// The tables of one write transaction, given to the closure of [`RecordStore::write`]. Reads through
/// it see the transaction's own writes.
pub struct WriteBatch<'txn> {
    objects: Table<'txn, &'static str, &'static [u8]>,
    relations: Table<'txn, &'static str, [u64; 2]>,
    meta: Table<'txn, &'static str, &'static [u8]>,
    path: &'txn str,
    /// The time of this write: every record it touches gets the same timestamp.
    now: u64,
    /// Reused key and value buffers, so that a bulk write does not allocate per record.
    key: String,
    value: Vec<u8>,
}

impl<'txn> WriteBatch<'txn> {
    fn open(txn: &'txn redb::WriteTransaction, path: &'txn str) -> Result<Self, StoreError> {
        Ok(WriteBatch {
            objects: txn.open_table(OBJECTS).map_err(in_db(path))?,
            relations: txn.open_table(RELATIONS).map_err(in_db(path))?,
            meta: txn.open_table(META).map_err(in_db(path))?,
            path,
            now: now_micros(),
            key: String::with_capacity(128),
            value: Vec::with_capacity(256),
        })
    }

    fn advance_revision(&mut self) -> Result<u64, StoreError> {
        let previous = match self.meta.get(REVISION_KEY).map_err(in_db(self.path))? {
            Some(value) => decode_revision(value.value())?,
            None => 0,
        };
        let revision = previous + 1;
        self.meta
            .insert(REVISION_KEY, revision.to_le_bytes().as_slice())
            .map_err(in_db(self.path))?;
        Ok(revision)
    }
}

impl WriteBatch<'_> {
    /// An object as stored so far in this transaction.
    pub fn get_object(
        &self,
        object_type: &str,
        id: &str,
    ) -> Result<Option<StoredObject>, StoreError> {
        let mut key = String::new();
        object_key(&mut key, object_type, id)?;
        let value = self.objects.get(key.as_str()).map_err(in_db(self.path))?;
        value.map(|v| decode_object(&key, v.value())).transpose()
    }

    /// Creates or replaces an object: keeps its creation time, sets its update time to now, and
    /// returns it as stored (null properties become `{}`, the etag is the content etag; an etag given
    /// in `object` is ignored).
    pub fn put_object(&mut self, object: &ObjectRecord) -> Result<StoredObject, StoreError> {
        object_key(&mut self.key, &object.object_type, &object.id)?;
        let depth = lictor_model::json_depth(&object.properties);
        if depth > lictor_model::MAX_JSON_DEPTH {
            return Err(StoreError::TooDeep {
                object: format!("{}:{}", object.object_type, object.id),
                depth,
                limit: lictor_model::MAX_JSON_DEPTH,
            });
        }
        let created_at = match self
            .objects
            .get(self.key.as_str())
            .map_err(in_db(self.path))?
        {
            Some(stored) => created_at_of(&self.key, stored.value())?,
            None => self.now,
        };
        let updated_at = self.now.max(created_at);
        encode_object(&mut self.value, &self.key, object, created_at, updated_at)?;
        self.objects
            .insert(self.key.as_str(), self.value.as_slice())
            .map_err(in_db(self.path))?;
        let mut record = ObjectRecord {
            properties: normalized_properties(&object.properties)
                .unwrap_or_else(|| object.properties.clone()),
            etag: String::new(),
            ..object.clone()
        };
        record.etag = record.content_etag();
        Ok(StoredObject {
            record,
            created_at,
            updated_at,
        })
    }

    /// Deletes an object; returns whether it was stored.
    pub fn delete_object(&mut self, object_type: &str, id: &str) -> Result<bool, StoreError> {
        object_key(&mut self.key, object_type, id)?;
        let removed = self
            .objects
            .remove(self.key.as_str())
            .map_err(in_db(self.path))?;
        Ok(removed.is_some())
    }

    /// A relation's timestamps as stored so far in this transaction.
    pub fn get_relation(
        &self,
        relation: &RelationRecord,
    ) -> Result<Option<RelationMeta>, StoreError> {
        let mut key = String::new();
        relation_key(&mut key, relation)?;
        let value = self.relations.get(key.as_str()).map_err(in_db(self.path))?;
        Ok(value.map(|v| relation_meta(v.value())))
    }

    /// Stores a relation, keeping its creation time if it was stored; returns whether it is new.
    pub fn put_relation(&mut self, relation: &RelationRecord) -> Result<bool, StoreError> {
        relation_key(&mut self.key, relation)?;
        // One B-tree operation for a new relation (the common case in a bulk import); an existing one
        // is written again with its creation time.
        let previous = self
            .relations
            .insert(self.key.as_str(), [self.now, self.now])
            .map_err(in_db(self.path))?
            .map(|old| old.value());
        if let Some([created_at, _]) = previous {
            self.relations
                .insert(self.key.as_str(), [created_at, self.now.max(created_at)])
                .map_err(in_db(self.path))?;
        }
        Ok(previous.is_none())
    }

    /// Deletes a relation; returns whether it was stored.
    pub fn delete_relation(&mut self, relation: &RelationRecord) -> Result<bool, StoreError> {
        relation_key(&mut self.key, relation)?;
        let removed = self
            .relations
            .remove(self.key.as_str())
            .map_err(in_db(self.path))?;
        Ok(removed.is_some())
    }

    /// Stores the manifest source and the name of the file it came from.
    pub fn set_manifest(&mut self, file: &str, source: &str) -> Result<(), StoreError> {
        self.meta
            .insert(MANIFEST_KEY, source.as_bytes())
            .map_err(in_db(self.path))?;
        self.meta
            .insert(MANIFEST_FILE_KEY, file.as_bytes())
            .map_err(in_db(self.path))?;
        self.meta
            .insert(MANIFEST_UPDATED_KEY, self.now.to_le_bytes().as_slice())
            .map_err(in_db(self.path))?;
        Ok(())
    }

    /// Removes the manifest; returns whether one was stored.
    pub fn delete_manifest(&mut self) -> Result<bool, StoreError> {
        let removed = self
            .meta
            .remove(MANIFEST_KEY)
            .map_err(in_db(self.path))?
            .is_some();
        self.meta
            .remove(MANIFEST_FILE_KEY)
            .map_err(in_db(self.path))?;
        self.meta
            .remove(MANIFEST_UPDATED_KEY)
            .map_err(in_db(self.path))?;
        Ok(removed)
    }
}

impl RecordWrites for WriteBatch<'_> {
    fn put_object(&mut self, object: &ObjectRecord) -> Result<(), StoreError> {
        WriteBatch::put_object(self, object).map(|_| ())
    }

    fn delete_object(&mut self, object_type: &str, id: &str) -> Result<(), StoreError> {
        WriteBatch::delete_object(self, object_type, id).map(|_| ())
    }

    fn put_relation(&mut self, relation: &RelationRecord) -> Result<(), StoreError> {
        WriteBatch::put_relation(self, relation).map(|_| ())
    }

    fn delete_relation(&mut self, relation: &RelationRecord) -> Result<(), StoreError> {
        WriteBatch::delete_relation(self, relation).map(|_| ())
    }

    fn set_manifest(&mut self, file: &str, source: &str) -> Result<(), StoreError> {
        WriteBatch::set_manifest(self, file, source)
    }

    fn delete_manifest(&mut self) -> Result<(), StoreError> {
        WriteBatch::delete_manifest(self).map(|_| ())
    }
}

/// The embedded file has one writer, this process: there is nothing to follow.
impl Backend for RecordStore {
    fn load(&self, sink: LoadSink<'_>) -> Result<u64, StoreError> {
        if let Some((file, source)) = self.manifest()? {
            (sink.manifest)(&file, &source)?;
        }
        let mut failure = None;
        self.for_each_object(|object| {
            if failure.is_none() {
                failure = (sink.object)(object).err();
            }
        })?;
        self.for_each_relation(|relation| {
            if failure.is_none() {
                failure = (sink.relation)(relation).err();
            }
        })?;
        match failure {
            Some(error) => Err(error),
            None => RecordStore::revision(self),
        }
    }

    fn revision(&self) -> Result<u64, StoreError> {
        RecordStore::revision(self)
    }

    fn manifest_updated_at(&self) -> Result<Option<u64>, StoreError> {
        RecordStore::manifest_updated_at(self)
    }

    fn for_each_object(&self, each: &mut dyn FnMut(ObjectRecord)) -> Result<(), StoreError> {
        RecordStore::for_each_object(self, each)
    }

    fn for_each_relation(&self, each: &mut dyn FnMut(RelationRecord)) -> Result<(), StoreError> {
        RecordStore::for_each_relation(self, each)
    }

    fn get_object(&self, object_type: &str, id: &str) -> Result<Option<StoredObject>, StoreError> {
        RecordStore::get_object(self, object_type, id)
    }

    fn get_relation(&self, relation: &RelationRecord) -> Result<Option<RelationMeta>, StoreError> {
        RecordStore::get_relation(self, relation)
    }

    fn object_count(&self) -> Result<u64, StoreError> {
        RecordStore::object_count(self)
    }

    fn relation_count(&self) -> Result<u64, StoreError> {
        RecordStore::relation_count(self)
    }

    fn write(&self, _applied: u64, body: &mut WriteBody<'_>) -> Result<u64, StoreError> {
        RecordStore::write(self, |batch| body(&[], batch)).map(|((), revision)| revision)
    }

    fn changes_since(&self, applied: u64) -> Result<(Vec<(u64, Change)>, u64), StoreError> {
        Ok((Vec::new(), applied))
    }

    fn shared(&self) -> bool {
        false
    }

    fn wait_for_changes(&self, _timeout: std::time::Duration) -> bool {
        false
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    fn object(
        object_type: &str,
        id: &str,
        name: &str,
        properties: serde_json::Value,
    ) -> ObjectRecord {
        ObjectRecord {
            object_type: object_type.to_string(),
            id: id.to_string(),
            display_name: name.to_string(),
            properties,
            etag: String::new(),
        }
    }

    fn relation(
        object: &str,
        relation: &str,
        subject: &str,
        subject_relation: &str,
    ) -> RelationRecord {
        let (object_type, object_id) = object.split_once(':').unwrap();
        let (subject_type, subject_id) = subject.split_once(':').unwrap();
        RelationRecord {
            object_type: object_type.to_string(),
            object_id: object_id.to_string(),
            relation: relation.to_string(),
            subject_type: subject_type.to_string(),
            subject_id: subject_id.to_string(),
            subject_relation: subject_relation.to_string(),
        }
    }

    fn objects(store: &RecordStore) -> Vec<ObjectRecord> {
        let mut all = Vec::new();
        store.for_each_object(|o| all.push(o)).unwrap();
        all
    }

    fn relations(store: &RecordStore) -> Vec<RelationRecord> {
        let mut all = Vec::new();
        store.for_each_relation(|r| all.push(r)).unwrap();
        all
    }

    /// Distinct writes get distinct microsecond timestamps.
    fn tick() {
        std::thread::sleep(Duration::from_millis(2));
    }

    #[test]
    fn an_empty_store_has_nothing_at_revision_zero() {
        let dir = tempfile::tempdir().unwrap();
        let store = RecordStore::open(&dir.path().join("new/nested")).unwrap();
        assert_eq!(store.revision().unwrap(), 0);
        assert_eq!(store.manifest().unwrap(), None);
        assert_eq!(store.object_count().unwrap(), 0);
        assert_eq!(store.relation_count().unwrap(), 0);
        assert!(objects(&store).is_empty());
        assert!(relations(&store).is_empty());
        assert!(dir.path().join("new/nested/lictor.redb").is_file());
    }

    #[test]
    fn records_round_trip_in_key_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = RecordStore::open(dir.path()).unwrap();
        let beth = object(
            "user",
            "beth",
            "Beth",
            json!({"email": "beth@x", "n": [1, 2.5]}),
        );
        let eng = object("group", "eng:core/é", "", serde_json::Value::Null);
        let member = relation("group:eng:core/é", "member", "user:beth", "");
        let nested = relation("group:all", "member", "group:eng:core/é", "member");
        let ((), revision) = store
            .write(|batch| {
                batch.put_object(&beth)?;
                batch.put_object(&eng)?;
                assert!(batch.put_relation(&member)?);
                assert!(batch.put_relation(&nested)?);
                batch.set_manifest("manifest.yaml", "model:\n  version: 3\n")?;
                Ok(())
            })
            .unwrap();
        assert_eq!(revision, 1);

        let stored = objects(&store);
        let eng_stored = ObjectRecord {
            properties: json!({}),
            ..eng.clone()
        };
        // Each comes back as written, with the etag it was given when stored.
        let beth_etag = stored[1].etag.clone();
        let with_etag = |o: &ObjectRecord, etag: &str| ObjectRecord {
            etag: etag.to_string(),
            ..o.clone()
        };
        assert_eq!(
            stored,
            vec![
                with_etag(&eng_stored, &stored[0].etag),
                with_etag(&beth, &beth_etag)
            ]
        );
        assert!(!beth_etag.is_empty() && !stored[0].etag.is_empty());
        assert_ne!(stored[0].etag, beth_etag);
        assert_eq!(relations(&store), vec![nested.clone(), member.clone()]);
        assert_eq!(store.object_count().unwrap(), 2);
        assert_eq!(store.relation_count().unwrap(), 2);
        assert_eq!(
            store.manifest().unwrap(),
            Some((
                "manifest.yaml".to_string(),
                "model:\n  version: 3\n".to_string()
            ))
        );
        let got = store.get_object("user", "beth").unwrap().unwrap();
        assert_eq!(got.record, with_etag(&beth, &beth_etag));
        assert!(got.created_at > 0);
        assert_eq!(got.created_at, got.updated_at);
        assert_eq!(store.get_object("user", "nobody").unwrap(), None);
        assert_eq!(store.get_object("group", "eng").unwrap(), None);
        let meta = store.get_relation(&member).unwrap().unwrap();
        assert_eq!(meta.created_at, got.created_at, "one write, one timestamp");
        assert_eq!(
            store
                .get_relation(&relation("group:eng", "member", "user:beth", ""))
                .unwrap(),
            None
        );
    }

    #[test]
    fn an_object_keeps_its_creation_time_and_gets_a_new_etag_when_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        let store = RecordStore::open(dir.path()).unwrap();
        let mut beth = object("user", "beth", "Beth", json!({"a": 1}));
        beth.etag = "ignored".to_string();
        let (first, _) = store.write(|batch| batch.put_object(&beth)).unwrap();
        assert!(!first.record.etag.is_empty());
        assert_ne!(first.record.etag, "ignored");
        assert_eq!(first, store.get_object("user", "beth").unwrap().unwrap());
        tick();
        let changed = object("user", "beth", "Beth S.", json!({"a": 2}));
        let (second, _) = store.write(|batch| batch.put_object(&changed)).unwrap();
        assert_eq!(second.created_at, first.created_at);
        assert!(second.updated_at > first.updated_at);
        assert_ne!(second.record.etag, first.record.etag);
        assert_eq!(second, store.get_object("user", "beth").unwrap().unwrap());
        tick();
        let (same, _) = store.write(|batch| batch.put_object(&changed)).unwrap();
        assert_eq!(
            same.record.etag, second.record.etag,
            "same content, same etag"
        );
    }

    /// The etag of each version of `user:beth` written in turn.
    fn etags_of(versions: &[(&str, serde_json::Value)]) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        let store = RecordStore::open(dir.path()).unwrap();
        versions
            .iter()
            .map(|(display_name, properties)| {
                let record = object("user", "beth", display_name, properties.clone());
                let (stored, _) = store.write(|batch| batch.put_object(&record)).unwrap();
                assert_eq!(
                    store
                        .get_object("user", "beth")
                        .unwrap()
                        .unwrap()
                        .record
                        .etag,
                    stored.record.etag,
                    "the etag read is the etag written"
                );
                stored.record.etag
            })
            .collect()
    }

    #[test]
    fn the_etag_follows_the_properties_as_well_as_the_display_name() {
        let etags = etags_of(&[
            ("Beth", json!({"email": "beth@x", "n": 1})),
            ("Beth", json!({"email": "beth@x", "n": 2})),
            ("Beth", json!({"email": "beth@x", "n": 2, "extra": null})),
            ("Beth", json!({})),
            ("Beth S.", json!({})),
            ("Beth", json!({"email": "beth@x", "n": 1})),
        ]);
        let distinct: std::collections::BTreeSet<&String> = etags[..5].iter().collect();
        assert_eq!(distinct.len(), 5, "every edit changes the etag: {etags:?}");
        assert_eq!(
            etags[5], etags[0],
            "the first content again, the first etag"
        );
    }

    #[test]
    fn equal_content_has_equal_etags_in_any_store() {
        // The same object in two stores, its properties written in another key order.
        let first = etags_of(&[("Beth", json!({"a": 1, "b": {"c": [1, 2], "d": "x"}}))]);
        let second = etags_of(&[(
            "Beth",
            serde_json::from_str(r#"{"b": {"d": "x", "c": [1, 2]}, "a": 1}"#).unwrap(),
        )]);
        assert_eq!(first, second);
        // Null properties are stored as `{}`: the same content.
        assert_eq!(
            etags_of(&[("Beth", serde_json::Value::Null)]),
            etags_of(&[("Beth", json!({}))])
        );
    }

    #[test]
    fn a_relation_keeps_its_creation_time_and_reports_whether_it_is_new() {
        let dir = tempfile::tempdir().unwrap();
        let store = RecordStore::open(dir.path()).unwrap();
        let member = relation("group:eng", "member", "user:beth", "");
        let (new, _) = store.write(|batch| batch.put_relation(&member)).unwrap();
        assert!(new);
        let first = store.get_relation(&member).unwrap().unwrap();
        tick();
        let (new, _) = store.write(|batch| batch.put_relation(&member)).unwrap();
        assert!(!new);
        let second = store.get_relation(&member).unwrap().unwrap();
        assert_eq!(second.created_at, first.created_at);
        assert!(second.updated_at > first.updated_at);
        assert_eq!(store.relation_count().unwrap(), 1);
    }

    #[test]
    fn a_batch_reads_its_own_writes_and_deletes_report_what_existed() {
        let dir = tempfile::tempdir().unwrap();
        let store = RecordStore::open(dir.path()).unwrap();
        let beth = object("user", "beth", "Beth", json!({}));
        let member = relation("group:eng", "member", "user:beth", "");
        store
            .write(|batch| {
                assert_eq!(batch.get_object("user", "beth")?, None);
                let put = batch.put_object(&beth)?;
                assert_eq!(batch.get_object("user", "beth")?, Some(put));
                assert_eq!(batch.get_relation(&member)?, None);
                batch.put_relation(&member)?;
                assert!(batch.get_relation(&member)?.is_some());
                batch.set_manifest("m.yaml", "source")?;
                Ok(())
            })
            .unwrap();
        let (deleted, revision) = store
            .write(|batch| {
                Ok([
                    batch.delete_object("user", "beth")?,
                    batch.delete_object("user", "beth")?,
                    batch.delete_relation(&member)?,
                    batch.delete_relation(&member)?,
                    batch.delete_manifest()?,
                    batch.delete_manifest()?,
                ])
            })
            .unwrap();
        assert_eq!(deleted, [true, false, true, false, true, false]);
        assert_eq!(revision, 2);
        assert_eq!(store.object_count().unwrap(), 0);
        assert_eq!(store.relation_count().unwrap(), 0);
        assert_eq!(store.manifest().unwrap(), None);
    }

    #[test]
    fn the_revision_advances_by_one_per_committed_write_and_not_on_an_aborted_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = RecordStore::open(dir.path()).unwrap();
        for expected in 1..=3 {
            let (value, revision) = store.write(|_| Ok(expected * 10)).unwrap();
            assert_eq!((value, revision), (expected * 10, expected));
            assert_eq!(store.revision().unwrap(), expected);
        }
        let failed = store
            .write(|_| -> Result<(), StoreError> { Err(StoreError::InUse("test".to_string())) });
        assert!(matches!(failed, Err(StoreError::InUse(_))));
        assert_eq!(store.revision().unwrap(), 3);
        assert_eq!(store.write(|_| Ok(())).unwrap().1, 4);
    }

    #[test]
    fn an_aborted_write_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = RecordStore::open(dir.path()).unwrap();
        let kept = object("user", "kept", "", json!({}));
        store.write(|batch| batch.put_object(&kept)).unwrap();
        let before = store.get_object("user", "kept").unwrap();
        let failed = store.write(|batch| {
            batch.put_object(&object("user", "beth", "", json!({})))?;
            batch.put_object(&object("user", "kept", "changed", json!({"x": 1})))?;
            batch.put_relation(&relation("group:eng", "member", "user:beth", ""))?;
            batch.set_manifest("m.yaml", "source")?;
            batch.put_relation(&relation("group:eng", "member", "user:bad\0id", ""))?;
            Ok(())
        });
        assert!(matches!(
            failed,
            Err(StoreError::Nul {
                field: "subject_id",
                ..
            })
        ));
        assert_eq!(store.revision().unwrap(), 1);
        assert_eq!(store.get_object("user", "kept").unwrap(), before);
        assert_eq!(store.get_object("user", "beth").unwrap(), None);
        assert_eq!(store.relation_count().unwrap(), 0);
        assert_eq!(store.object_count().unwrap(), 1);
        assert_eq!(store.manifest().unwrap(), None);
    }

    #[test]
    fn data_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let beth = object("user", "beth", "Beth", json!({"email": "beth@x"}));
        let member = relation("group:eng", "member", "user:beth", "");
        let written = {
            let store = RecordStore::open(dir.path()).unwrap();
            store
                .write(|batch| {
                    batch.put_relation(&member)?;
                    batch.set_manifest("m.yaml", "source")?;
                    batch.put_object(&beth)
                })
                .unwrap()
                .0
        };
        let store = RecordStore::open(dir.path()).unwrap();
        assert_eq!(store.revision().unwrap(), 1);
        assert_eq!(store.get_object("user", "beth").unwrap(), Some(written));
        assert_eq!(relations(&store), vec![member]);
        assert_eq!(
            store.manifest().unwrap(),
            Some(("m.yaml".to_string(), "source".to_string()))
        );
        assert_eq!(store.write(|_| Ok(())).unwrap().1, 2);
    }

    #[test]
    fn a_second_open_of_the_same_directory_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let first = RecordStore::open(dir.path()).unwrap();
        let second = RecordStore::open(dir.path());
        let Err(error) = second else {
            panic!("a second open succeeded");
        };
        assert!(matches!(error, StoreError::InUse(_)), "{error:?}");
        assert_eq!(
            error.to_string(),
            format!(
                "data directory {} is in use by another lictor process",
                dir.path().display()
            )
        );
        drop(first);
        RecordStore::open(dir.path()).unwrap();
    }

    #[test]
    fn nul_is_refused_in_every_key_field_naming_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let store = RecordStore::open(dir.path()).unwrap();
        let error = store
            .write(|batch| batch.put_object(&object("user", "a\0b", "", json!({}))))
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "id `a\\0b` contains a NUL character, which names and ids may not contain"
        );
        assert!(matches!(
            store.get_object("us\0er", "a"),
            Err(StoreError::Nul { field: "type", .. })
        ));
        let fields = [
            "object_type",
            "object_id",
            "relation",
            "subject_type",
            "subject_id",
            "subject_relation",
        ];
        for (index, expected) in fields.into_iter().enumerate() {
            let mut parts = ["group", "eng", "member", "user", "beth", "member"].map(String::from);
            parts[index].push('\0');
            let [object_type, object_id, relation, subject_type, subject_id, subject_relation] =
                parts;
            let bad = RelationRecord {
                object_type,
                object_id,
                relation,
                subject_type,
                subject_id,
                subject_relation,
            };
            let error = store.write(|batch| batch.put_relation(&bad)).unwrap_err();
            assert!(
                matches!(error, StoreError::Nul { field, .. } if field == expected),
                "{error:?}"
            );
            assert!(store.get_relation(&bad).is_err());
        }
        assert_eq!(store.revision().unwrap(), 0);
    }

    #[test]
    fn values_stay_small() {
        let dir = tempfile::tempdir().unwrap();
        let store = RecordStore::open(dir.path()).unwrap();
        let beth = object("user", "beth", "Beth", json!({"k": "v"}));
        store.write(|batch| batch.put_object(&beth)).unwrap();
        let txn = store.read().unwrap();
        let table = txn.open_table(OBJECTS).unwrap();
        let value = table.get("user\0beth").unwrap().unwrap();
        // 16 bytes of timestamps, 4 of name length, the name, then the properties' JSON.
        assert_eq!(
            value.value().len(),
            16 + 4 + "Beth".len() + r#"{"k":"v"}"#.len()
        );
    }
}
