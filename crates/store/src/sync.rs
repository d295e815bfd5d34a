//! Keeping a directory in step with an outside source (an identity provider's export of users,
//! identities and groups): each run compares the source's records with what the previous run of the
//! same source wrote, and applies the difference in one revision: records created, updated, and
//! those the source no longer has removed. Records the application wrote (the source never did) are
//! never touched, even when they name a synced user. What a source owns is kept in a state file.
//!
//! The state file is written before the changes are applied (holding what the source owned before
//! and what it is about to own) and again after (what it owns now): a crash between the two leaves a
//! state that still names every record the source may have written, so the next run can remove them.

use crate::error::StoreError;
use crate::jsonl::{read_import, ImportRecord};
use crate::staging::{ImportChange, ImportStage};
use crate::store::Store;
use lictor_model::{ObjectRecord, RelationRecord};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::BufRead;
use std::path::Path;

/// Bytes a sync may stage.
const STAGE_LIMIT: usize = 1 << 30;

/// What a source owns: the keys of the objects and relations its runs wrote.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
struct SourceState {
    objects: BTreeSet<(String, String)>,
    relations: BTreeSet<RelationRecord>,
}

/// One difference a run applies (or, in a dry run, would apply).
#[derive(Debug, Clone, PartialEq)]
pub enum SyncChange {
    /// A new object.
    CreateObject(ObjectRecord),
    /// An object whose display name or properties changed.
    UpdateObject(ObjectRecord),
    /// An object the source no longer has (its relations written by others stay).
    RemoveObject {
        /// Its type.
        object_type: String,
        /// Its id.
        object_id: String,
    },
    /// A new relation.
    CreateRelation(RelationRecord),
    /// A relation the source no longer has.
    RemoveRelation(RelationRecord),
}

impl fmt::Display for SyncChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyncChange::CreateObject(o) => write!(f, "+ object {}:{}", o.object_type, o.id),
            SyncChange::UpdateObject(o) => write!(f, "~ object {}:{}", o.object_type, o.id),
            SyncChange::RemoveObject {
                object_type,
                object_id,
            } => write!(f, "- object {object_type}:{object_id}"),
            SyncChange::CreateRelation(r) => write!(f, "+ relation {r}"),
            SyncChange::RemoveRelation(r) => write!(f, "- relation {r}"),
        }
    }
}

/// What a run did (or would do).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncReport {
    /// Every difference, in the order applied.
    pub changes: Vec<SyncChange>,
    /// Records of the source already as it has them.
    pub unchanged: u64,
    /// The revision the changes made; `None` in a dry run or when nothing changed.
    pub revision: Option<u64>,
}

impl SyncReport {
    /// How many changes of each kind: objects created, updated, removed; relations created, removed.
    pub fn counts(&self) -> [usize; 5] {
        let mut counts = [0; 5];
        for change in &self.changes {
            let slot = match change {
                SyncChange::CreateObject(_) => 0,
                SyncChange::UpdateObject(_) => 1,
                SyncChange::RemoveObject { .. } => 2,
                SyncChange::CreateRelation(_) => 3,
                SyncChange::RemoveRelation(_) => 4,
            };
            if let Some(count) = counts.get_mut(slot) {
                *count += 1;
            }
        }
        counts
    }
}

impl Store {
    /// Brings the directory in step with a source's records (JSON Lines or Topaz JSON in `input`),
    /// given the state file of that source; with `dry_run`, only says what would change.
    pub fn sync(
        &self,
        state_file: &Path,
        input: impl BufRead,
        dry_run: bool,
    ) -> Result<SyncReport, StoreError> {
        let mut objects: BTreeMap<(String, String), ObjectRecord> = BTreeMap::new();
        let mut relations: BTreeSet<RelationRecord> = BTreeSet::new();
        read_import(input, |item| {
            match item.record {
                ImportRecord::Object(object) => {
                    objects.insert((object.object_type.clone(), object.id.clone()), object);
                }
                ImportRecord::Relation(relation) => {
                    relations.insert(relation);
                }
            }
            Ok(())
        })?;
        let before = read_state(state_file)?;
        let directory = self.snapshot();
        let mut report = SyncReport::default();
        for object in objects.values() {
            match directory.get_object(&object.object_type, &object.id) {
                None => report
                    .changes
                    .push(SyncChange::CreateObject(object.clone())),
                Some(stored)
                    if stored.display_name != object.display_name
                        || stored.properties != object.properties =>
                {
                    report
                        .changes
                        .push(SyncChange::UpdateObject(object.clone()));
                }
                Some(_) => report.unchanged += 1,
            }
        }
        for relation in &relations {
            if directory.has_relation(relation) {
                report.unchanged += 1;
            } else {
                report
                    .changes
                    .push(SyncChange::CreateRelation(relation.clone()));
            }
        }
        for relation in before.relations.difference(&relations) {
            if directory.has_relation(relation) {
                report
                    .changes
                    .push(SyncChange::RemoveRelation(relation.clone()));
            }
        }
        for (object_type, object_id) in before.objects.iter().filter(|k| !objects.contains_key(*k))
        {
            if directory.get_object(object_type, object_id).is_some() {
                report.changes.push(SyncChange::RemoveObject {
                    object_type: object_type.clone(),
                    object_id: object_id.clone(),
                });
            }
        }
        let after = SourceState {
            objects: objects.keys().cloned().collect(),
            relations,
        };
        if dry_run {
            return Ok(report);
        }
        if report.changes.is_empty() {
            write_state(state_file, &after)?;
            return Ok(report);
        }
        let pending = SourceState {
            objects: before.objects.union(&after.objects).cloned().collect(),
            relations: before.relations.union(&after.relations).cloned().collect(),
        };
        write_state(state_file, &pending)?;
        let mut stage = ImportStage::new(STAGE_LIMIT);
        for (n, change) in report.changes.iter().enumerate() {
            let staged = match change {
                SyncChange::CreateObject(object) | SyncChange::UpdateObject(object) => {
                    ImportChange::SetObject(object.clone())
                }
                SyncChange::RemoveObject {
                    object_type,
                    object_id,
                } => ImportChange::DeleteObject {
                    object_type: object_type.clone(),
                    object_id: object_id.clone(),
                    with_relations: false,
                },
                SyncChange::CreateRelation(relation) => ImportChange::SetRelation(relation.clone()),
                SyncChange::RemoveRelation(relation) => {
                    ImportChange::DeleteRelation(relation.clone())
                }
            };
            stage.push(n as u64, &staged)?;
        }
        let applied = self.apply_import(&stage, |_, _, result| result.map(drop));
        match applied {
            Ok(revision) => {
                write_state(state_file, &after)?;
                report.revision = Some(revision);
                Ok(report)
            }
            Err(error) => {
                // Nothing was applied: the source owns what it owned before.
                write_state(state_file, &before)?;
                Err(error)
            }
        }
    }
}

fn read_state(path: &Path) -> Result<SourceState, StoreError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|error| StoreError::Corrupt {
            key: path.display().to_string(),
            message: format!("not a sync state file: {error}"),
        }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(SourceState::default()),
        Err(error) => Err(StoreError::io(format!("reading {}", path.display()), error)),
    }
}

fn write_state(path: &Path, state: &SourceState) -> Result<(), StoreError> {
    let io = |error| StoreError::io(format!("writing {}", path.display()), error);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let bytes = serde_json::to_vec(state).map_err(|error| StoreError::Corrupt {
        key: path.display().to_string(),
        message: error.to_string(),
    })?;
    let temporary = path.with_extension("partial");
    std::fs::write(&temporary, bytes).map_err(io)?;
    let file = std::fs::File::open(&temporary).map_err(io)?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&temporary, path).map_err(io)
}
