//! [`ImportStage`]: the changes of one import, held compactly until the import's input has ended
//! cleanly, then applied by [`crate::Store::apply_import`] in one write. An input that breaks midway
//! (a cancelled stream, a bad line) drops its stage and the directory never sees any of it.
//!
//! Encoding of one change: a tag byte, the origin (line or message number) as a LEB128 varint, then
//! the change's strings, each a LEB128 length and its UTF-8 bytes (an object's properties as JSON
//! text). A relation of short ids takes about 50 bytes, so a million staged relations take about
//! 50 MB.

use crate::error::StoreError;
use lictor_model::{ObjectRecord, RelationRecord};

const SET_OBJECT: u8 = 1;
const DELETE_OBJECT: u8 = 2;
const DELETE_OBJECT_WITH_RELATIONS: u8 = 3;
const SET_RELATION: u8 = 4;
const DELETE_RELATION: u8 = 5;

/// One change an import makes.
#[derive(Debug, Clone, PartialEq)]
pub enum ImportChange {
    /// Create or replace an object.
    SetObject(ObjectRecord),
    /// Delete an object; with `with_relations`, every relation it takes part in as well.
    DeleteObject {
        /// Its type.
        object_type: String,
        /// Its id.
        object_id: String,
        /// Whether its relations go too.
        with_relations: bool,
    },
    /// Add a relation.
    SetRelation(RelationRecord),
    /// Remove a relation.
    DeleteRelation(RelationRecord),
}

/// The changes of one import, in arrival order, at most `limit` bytes of them.
#[derive(Debug)]
pub struct ImportStage {
    bytes: Vec<u8>,
    changes: u64,
    limit: usize,
}

impl ImportStage {
    /// An empty stage that refuses to grow past `limit` bytes.
    pub fn new(limit: usize) -> ImportStage {
        ImportStage {
            bytes: Vec::new(),
            changes: 0,
            limit,
        }
    }

    /// How many changes are staged.
    pub fn len(&self) -> u64 {
        self.changes
    }

    /// Whether nothing is staged.
    pub fn is_empty(&self) -> bool {
        self.changes == 0
    }

    /// Bytes the staged changes take.
    pub fn staged_bytes(&self) -> usize {
        self.bytes.len()
    }

    /// Appends `change`, which came from `origin` (its line or message number). Refused with
    /// [`StoreError::ImportTooLarge`] when the stage would outgrow its limit; the stage is then
    /// unchanged.
    pub fn push(&mut self, origin: u64, change: &ImportChange) -> Result<(), StoreError> {
        let start = self.bytes.len();
        let encoded = self.encode(origin, change);
        if encoded.is_err() || self.bytes.len() > self.limit {
            self.bytes.truncate(start);
            return Err(encoded
                .err()
                .unwrap_or(StoreError::ImportTooLarge { limit: self.limit }));
        }
        self.changes += 1;
        Ok(())
    }

    fn encode(&mut self, origin: u64, change: &ImportChange) -> Result<(), StoreError> {
        let out = &mut self.bytes;
        match change {
            ImportChange::SetObject(object) => {
                out.push(SET_OBJECT);
                put_varint(out, origin);
                put_str(out, &object.object_type);
                put_str(out, &object.id);
                put_str(out, &object.display_name);
                let properties =
                    serde_json::to_string(&object.properties).map_err(|e| StoreError::Parse {
                        line: usize::try_from(origin).unwrap_or(usize::MAX),
                        message: format!("properties do not serialize: {e}"),
                    })?;
                put_str(out, &properties);
            }
            ImportChange::DeleteObject {
                object_type,
                object_id,
                with_relations,
            } => {
                out.push(if *with_relations {
                    DELETE_OBJECT_WITH_RELATIONS
                } else {
                    DELETE_OBJECT
                });
                put_varint(out, origin);
                put_str(out, object_type);
                put_str(out, object_id);
            }
            ImportChange::SetRelation(relation) | ImportChange::DeleteRelation(relation) => {
                out.push(if matches!(change, ImportChange::SetRelation(_)) {
                    SET_RELATION
                } else {
                    DELETE_RELATION
                });
                put_varint(out, origin);
                for field in [
                    &relation.object_type,
                    &relation.object_id,
                    &relation.relation,
                    &relation.subject_type,
                    &relation.subject_id,
                    &relation.subject_relation,
                ] {
                    put_str(out, field);
                }
            }
        }
        Ok(())
    }

    /// The staged changes with their origins, in the order they were pushed.
    pub fn changes(&self) -> StagedChanges<'_> {
        StagedChanges { rest: &self.bytes }
    }
}

/// The staged changes of an [`ImportStage`], decoded one at a time.
pub struct StagedChanges<'a> {
    rest: &'a [u8],
}

impl Iterator for StagedChanges<'_> {
    type Item = Result<(u64, ImportChange), StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        let (&tag, rest) = self.rest.split_first()?;
        self.rest = rest;
        let decoded = self.decode(tag);
        if decoded.is_err() {
            // Nothing after a bad entry can be trusted.
            self.rest = &[];
        }
        Some(decoded)
    }
}

impl StagedChanges<'_> {
    fn decode(&mut self, tag: u8) -> Result<(u64, ImportChange), StoreError> {
        let origin = self.varint()?;
        let change = match tag {
            SET_OBJECT => {
                let object_type = self.string()?;
                let id = self.string()?;
                let display_name = self.string()?;
                let properties = serde_json::from_str(&self.string()?)
                    .map_err(|e| staging_corrupt(format!("properties: {e}")))?;
                ImportChange::SetObject(ObjectRecord {
                    object_type,
                    id,
                    display_name,
                    properties,
                    etag: String::new(),
                })
            }
            DELETE_OBJECT | DELETE_OBJECT_WITH_RELATIONS => ImportChange::DeleteObject {
                object_type: self.string()?,
                object_id: self.string()?,
                with_relations: tag == DELETE_OBJECT_WITH_RELATIONS,
            },
            SET_RELATION | DELETE_RELATION => {
                let relation = RelationRecord {
                    object_type: self.string()?,
                    object_id: self.string()?,
                    relation: self.string()?,
                    subject_type: self.string()?,
                    subject_id: self.string()?,
                    subject_relation: self.string()?,
                };
                if tag == SET_RELATION {
                    ImportChange::SetRelation(relation)
                } else {
                    ImportChange::DeleteRelation(relation)
                }
            }
            other => return Err(staging_corrupt(format!("unknown change tag {other}"))),
        };
        Ok((origin, change))
    }

    fn varint(&mut self) -> Result<u64, StoreError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self
                .rest
                .split_first()
                .ok_or_else(|| staging_corrupt("a number is truncated"))?;
            self.rest = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(staging_corrupt("a number is longer than 64 bits"))
    }

    fn string(&mut self) -> Result<String, StoreError> {
        let len = usize::try_from(self.varint()?)
            .map_err(|_| staging_corrupt("a length does not fit in memory"))?;
        let (text, rest) = self
            .rest
            .split_at_checked(len)
            .ok_or_else(|| staging_corrupt("a string is truncated"))?;
        self.rest = rest;
        String::from_utf8(text.to_vec()).map_err(|e| staging_corrupt(format!("not UTF-8: {e}")))
    }
}

fn staging_corrupt(message: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        key: "(staged import)".to_string(),
        message: message.into(),
    }
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    put_varint(out, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    fn relation(object_id: &str, subject_relation: &str) -> RelationRecord {
        RelationRecord {
            object_type: "group".to_string(),
            object_id: object_id.to_string(),
            relation: "member".to_string(),
            subject_type: "user".to_string(),
            subject_id: "beth".to_string(),
            subject_relation: subject_relation.to_string(),
        }
    }

    #[test]
    fn changes_come_back_as_pushed_with_their_origins() {
        let long_id = "é".repeat(200);
        let changes = vec![
            (
                1,
                ImportChange::SetObject(ObjectRecord {
                    object_type: "user".to_string(),
                    id: long_id.clone(),
                    display_name: "Beth".to_string(),
                    properties: json!({"email": "beth@x", "n": [1, 2.5]}),
                    etag: String::new(),
                }),
            ),
            (300, ImportChange::SetRelation(relation("eng", ""))),
            (
                u64::MAX,
                ImportChange::DeleteRelation(relation("all", "member")),
            ),
            (
                7,
                ImportChange::DeleteObject {
                    object_type: "user".to_string(),
                    object_id: long_id,
                    with_relations: true,
                },
            ),
            (
                8,
                ImportChange::DeleteObject {
                    object_type: "user".to_string(),
                    object_id: "kept".to_string(),
                    with_relations: false,
                },
            ),
        ];
        let mut stage = ImportStage::new(1 << 20);
        for (origin, change) in &changes {
            stage.push(*origin, change).unwrap();
        }
        assert_eq!(stage.len(), 5);
        let back: Vec<(u64, ImportChange)> = stage.changes().map(Result::unwrap).collect();
        assert_eq!(back, changes);
    }

    #[test]
    fn a_change_past_the_limit_is_refused_and_leaves_the_stage_as_it_was() {
        let change = ImportChange::SetRelation(relation("eng", ""));
        // Tag, origin, six lengths and "group" "eng" "member" "user" "beth" "".
        let size = 1 + 1 + 6 + 5 + 3 + 6 + 4 + 4;
        let mut stage = ImportStage::new(2 * size + 1);
        stage.push(1, &change).unwrap();
        stage.push(2, &change).unwrap();
        assert_eq!(stage.staged_bytes(), 2 * size);
        let error = stage.push(3, &change).unwrap_err();
        assert!(
            matches!(error, StoreError::ImportTooLarge { limit } if limit == 2 * size + 1),
            "{error:?}"
        );
        assert_eq!(stage.len(), 2);
        assert_eq!(stage.staged_bytes(), 2 * size);
        assert_eq!(stage.changes().count(), 2);
    }
}
