//! [`RecordStore`]: objects, relations, the manifest and the revision in one redb file. Every commit is
//! durable (fsync'd) before it returns.

use crate::error::StoreError;
use lictor_model::{ObjectRecord, RelationRecord};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// `type\0id` → `[created, updated]` micros followed by `{display_name, properties}` JSON.
const OBJECTS: TableDefinition<&str, &[u8]> = TableDefinition::new("objects");
/// `object_type\0object_id\0relation\0subject_type\0subject_id\0subject_relation` → `[created, updated]`.
const RELATIONS: TableDefinition<&str, [u64; 2]> = TableDefinition::new("relations");
/// `revision`, `manifest`, `manifest_file`.
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

const DATABASE_FILE: &str = "lictor.redb";
/// The page cache; the directory keeps its own index in memory, so the store needs little.
const CACHE_BYTES: usize = 64 << 20;

/// An object as stored, with its timestamps (unix microseconds).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredObject {
    /// The object, with its etag.
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

/// The durable records of one data directory.
pub struct RecordStore {
    db: Database,
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

fn db_error(error: impl Into<redb::Error>) -> StoreError {
    StoreError::Database(error.into())
}

fn check_nul(field: &'static str, value: &str) -> Result<(), StoreError> {
    if value.contains('\0') {
        return Err(StoreError::Nul {
            field,
            value: value.replace('\0', "\\0"),
        });
    }
    Ok(())
}

fn object_key(object_type: &str, id: &str) -> Result<String, StoreError> {
    check_nul("type", object_type)?;
    check_nul("id", id)?;
    Ok(format!("{object_type}\0{id}"))
}

fn relation_key(relation: &RelationRecord) -> Result<String, StoreError> {
    let fields = [
        ("object_type", &relation.object_type),
        ("object_id", &relation.object_id),
        ("relation", &relation.relation),
        ("subject_type", &relation.subject_type),
        ("subject_id", &relation.subject_id),
        ("subject_relation", &relation.subject_relation),
    ];
    for (field, value) in fields {
        check_nul(field, value)?;
    }
    Ok(fields.map(|(_, value)| value.as_str()).join("\0"))
}

fn decode_relation(key: &str) -> Result<RelationRecord, StoreError> {
    let parts: Vec<&str> = key.split('\0').collect();
    match parts.as_slice() {
        [object_type, object_id, relation, subject_type, subject_id, subject_relation] => {
            Ok(RelationRecord {
                object_type: object_type.to_string(),
                object_id: object_id.to_string(),
                relation: relation.to_string(),
                subject_type: subject_type.to_string(),
                subject_id: subject_id.to_string(),
                subject_relation: subject_relation.to_string(),
            })
        }
        _ => Err(StoreError::Corrupt {
            key: key.replace('\0', "|"),
            message: "a relation key has six parts".to_string(),
        }),
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ObjectBody {
    display_name: String,
    properties: serde_json::Value,
}

fn encode_object(object: &ObjectRecord, created_at: u64, updated_at: u64) -> Result<Vec<u8>, StoreError> {
    let mut bytes = Vec::with_capacity(64);
    bytes.extend_from_slice(&created_at.to_le_bytes());
    bytes.extend_from_slice(&updated_at.to_le_bytes());
    let body = ObjectBody {
        display_name: object.display_name.clone(),
        properties: match &object.properties {
            serde_json::Value::Null => serde_json::Value::Object(serde_json::Map::new()),
            other => other.clone(),
        },
    };
    serde_json::to_writer(&mut bytes, &body).map_err(|e| StoreError::Corrupt {
        key: format!("{}:{}", object.object_type, object.id),
        message: e.to_string(),
    })?;
    Ok(bytes)
}

fn decode_object(key: &str, bytes: &[u8]) -> Result<StoredObject, StoreError> {
    let corrupt = |message: String| StoreError::Corrupt {
        key: key.replace('\0', ":"),
        message,
    };
    let (object_type, id) = key
        .split_once('\0')
        .ok_or_else(|| corrupt("an object key has two parts".to_string()))?;
    let stamp = |range: std::ops::Range<usize>| -> Result<u64, StoreError> {
        let slice = bytes
            .get(range)
            .and_then(|s| <[u8; 8]>::try_from(s).ok())
            .ok_or_else(|| corrupt("value too short".to_string()))?;
        Ok(u64::from_le_bytes(slice))
    };
    let created_at = stamp(0..8)?;
    let updated_at = stamp(8..16)?;
    let body: ObjectBody = serde_json::from_slice(bytes.get(16..).unwrap_or_default())
        .map_err(|e| corrupt(e.to_string()))?;
    let mut record = ObjectRecord {
        object_type: object_type.to_string(),
        id: id.to_string(),
        display_name: body.display_name,
        properties: body.properties,
        etag: String::new(),
    };
    record.etag = record.content_etag();
    Ok(StoredObject {
        record,
        created_at,
        updated_at,
    })
}

impl RecordStore {
    /// Opens or creates the store in `dir`.
    pub fn open(dir: &Path) -> Result<RecordStore, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::io(format!("creating data directory {}", dir.display()), e))?;
        let path = dir.join(DATABASE_FILE);
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(&path)
            .map_err(|error| match error {
                redb::DatabaseError::DatabaseAlreadyOpen => {
                    StoreError::InUse(dir.display().to_string())
                }
                redb::DatabaseError::Storage(redb::StorageError::Io(io)) => {
                    StoreError::io(format!("opening {}", path.display()), io)
                }
                other => db_error(other),
            })?;
        let txn = db.begin_write().map_err(db_error)?;
        {
            txn.open_table(OBJECTS).map_err(db_error)?;
            txn.open_table(RELATIONS).map_err(db_error)?;
            txn.open_table(META).map_err(db_error)?;
        }
        txn.commit().map_err(db_error)?;
        Ok(RecordStore { db })
    }

    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read().map_err(db_error)?;
        let table = txn.open_table(META).map_err(db_error)?;
        let value = table.get(key).map_err(db_error)?;
        Ok(value.map(|v| v.value().to_vec()))
    }

    /// The latest committed revision (0 before any write).
    pub fn revision(&self) -> Result<u64, StoreError> {
        Ok(self
            .meta("revision")?
            .and_then(|bytes| <[u8; 8]>::try_from(bytes.as_slice()).ok())
            .map_or(0, u64::from_le_bytes))
    }

    /// The stored manifest as `(file name, source)`.
    pub fn manifest(&self) -> Result<Option<(String, String)>, StoreError> {
        let Some(source) = self.meta("manifest")? else {
            return Ok(None);
        };
        let file = self.meta("manifest_file")?.unwrap_or_default();
        Ok(Some((
            String::from_utf8_lossy(&file).into_owned(),
            String::from_utf8_lossy(&source).into_owned(),
        )))
    }

    /// Calls `each` for every object, in key order.
    pub fn for_each_object(&self, mut each: impl FnMut(ObjectRecord)) -> Result<(), StoreError> {
        let txn = self.db.begin_read().map_err(db_error)?;
        let table = txn.open_table(OBJECTS).map_err(db_error)?;
        for entry in table.iter().map_err(db_error)? {
            let (key, value) = entry.map_err(db_error)?;
            each(decode_object(key.value(), value.value())?.record);
        }
        Ok(())
    }

    /// Calls `each` for every relation, in key order.
    pub fn for_each_relation(&self, mut each: impl FnMut(RelationRecord)) -> Result<(), StoreError> {
        let txn = self.db.begin_read().map_err(db_error)?;
        let table = txn.open_table(RELATIONS).map_err(db_error)?;
        for entry in table.iter().map_err(db_error)? {
            let (key, _) = entry.map_err(db_error)?;
            each(decode_relation(key.value())?);
        }
        Ok(())
    }

    /// An object with its timestamps.
    pub fn get_object(&self, object_type: &str, id: &str) -> Result<Option<StoredObject>, StoreError> {
        let key = object_key(object_type, id)?;
        let txn = self.db.begin_read().map_err(db_error)?;
        let table = txn.open_table(OBJECTS).map_err(db_error)?;
        let value = table.get(key.as_str()).map_err(db_error)?;
        value.map(|v| decode_object(&key, v.value())).transpose()
    }

    /// A relation's timestamps, if it is stored.
    pub fn get_relation(&self, relation: &RelationRecord) -> Result<Option<RelationMeta>, StoreError> {
        let key = relation_key(relation)?;
        let txn = self.db.begin_read().map_err(db_error)?;
        let table = txn.open_table(RELATIONS).map_err(db_error)?;
        let value = table.get(key.as_str()).map_err(db_error)?;
        Ok(value.map(|v| {
            let [created_at, updated_at] = v.value();
            RelationMeta {
                created_at,
                updated_at,
            }
        }))
    }

    /// Runs `change` in one write transaction and commits it durably, advancing the revision by one.
    /// If `change` fails, nothing is written.
    pub fn write<T>(
        &self,
        change: impl FnOnce(&mut WriteBatch<'_>) -> Result<T, StoreError>,
    ) -> Result<(T, u64), StoreError> {
        let txn = self.db.begin_write().map_err(db_error)?;
        let revision = {
            let mut batch = WriteBatch {
                objects: txn.open_table(OBJECTS).map_err(db_error)?,
                relations: txn.open_table(RELATIONS).map_err(db_error)?,
                meta: txn.open_table(META).map_err(db_error)?,
                now: now_micros(),
            };
            let value = match change(&mut batch) {
                Ok(value) => value,
                Err(error) => {
                    drop(batch);
                    txn.abort().map_err(db_error)?;
                    return Err(error);
                }
            };
            let previous = batch
                .meta
                .get("revision")
                .map_err(db_error)?
                .and_then(|v| <[u8; 8]>::try_from(v.value()).ok())
                .map_or(0, u64::from_le_bytes);
            let revision = previous + 1;
            batch
                .meta
                .insert("revision", revision.to_le_bytes().as_slice())
                .map_err(db_error)?;
            (value, revision)
        };
        txn.commit().map_err(db_error)?;
        Ok(revision)
    }
}

/// The tables of one write transaction.
pub struct WriteBatch<'txn> {
    objects: redb::Table<'txn, &'static str, &'static [u8]>,
    relations: redb::Table<'txn, &'static str, [u64; 2]>,
    meta: redb::Table<'txn, &'static str, &'static [u8]>,
    now: u64,
}

impl WriteBatch<'_> {
    /// An object as stored so far in this transaction.
    pub fn get_object(&self, object_type: &str, id: &str) -> Result<Option<StoredObject>, StoreError> {
        let key = object_key(object_type, id)?;
        let value = self.objects.get(key.as_str()).map_err(db_error)?;
        value.map(|v| decode_object(&key, v.value())).transpose()
    }

    /// Creates or replaces an object, keeping its creation time.
    pub fn put_object(&mut self, object: &ObjectRecord) -> Result<StoredObject, StoreError> {
        let created_at = self
            .get_object(&object.object_type, &object.id)?
            .map_or(self.now, |stored| stored.created_at);
        let key = object_key(&object.object_type, &object.id)?;
        let bytes = encode_object(object, created_at, self.now)?;
        self.objects
            .insert(key.as_str(), bytes.as_slice())
            .map_err(db_error)?;
        decode_object(&key, &bytes)
    }

    /// Deletes an object; returns whether it was stored.
    pub fn delete_object(&mut self, object_type: &str, id: &str) -> Result<bool, StoreError> {
        let key = object_key(object_type, id)?;
        Ok(self.objects.remove(key.as_str()).map_err(db_error)?.is_some())
    }

    /// Stores a relation; returns whether it is new.
    pub fn put_relation(&mut self, relation: &RelationRecord) -> Result<bool, StoreError> {
        let key = relation_key(relation)?;
        let created_at = self
            .relations
            .get(key.as_str())
            .map_err(db_error)?
            .map(|v| v.value()[0]);
        self.relations
            .insert(key.as_str(), [created_at.unwrap_or(self.now), self.now])
            .map_err(db_error)?;
        Ok(created_at.is_none())
    }

    /// Deletes a relation; returns whether it was stored.
    pub fn delete_relation(&mut self, relation: &RelationRecord) -> Result<bool, StoreError> {
        let key = relation_key(relation)?;
        Ok(self.relations.remove(key.as_str()).map_err(db_error)?.is_some())
    }

    /// Stores the manifest source and its file name.
    pub fn set_manifest(&mut self, file: &str, source: &str) -> Result<(), StoreError> {
        self.meta
            .insert("manifest", source.as_bytes())
            .map_err(db_error)?;
        self.meta
            .insert("manifest_file", file.as_bytes())
            .map_err(db_error)?;
        Ok(())
    }
}
