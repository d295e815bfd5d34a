//! Group commit for single-record writes. A write that arrives while another commits waits in a queue;
//! the next writer to take the lock commits every queued write in one durable transaction (one sync to
//! disk), and each is acknowledged only once that transaction is durable. Each queued write is checked
//! before it changes anything, so a refused one (a stale etag, a type the manifest lacks) leaves the
//! others of its group to commit.

use crate::backend::RecordWrites;
use crate::error::StoreError;
use crate::records::{check_object_key, check_relation_key};
use lictor_directory::Directory;
use lictor_model::{ObjectRecord, RelationRecord};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// One single-record write.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    /// Create or replace an object; a non-empty etag must match the stored one.
    SetObject(ObjectRecord),
    /// Create an object that must not be stored yet.
    CreateObject(ObjectRecord),
    /// Delete an object, and with `with_relations` every relation it takes part in.
    DeleteObject {
        object_type: String,
        object_id: String,
        with_relations: bool,
    },
    /// Add a relation; a given etag must match the stored relation's.
    SetRelation {
        relation: RelationRecord,
        etag: Option<String>,
    },
    /// Remove a relation.
    DeleteRelation(RelationRecord),
}

/// What a write did.
#[derive(Debug)]
pub(crate) enum Applied {
    /// The object as stored.
    Object(ObjectRecord),
    /// Whether the deleted record existed.
    Existed(bool),
    /// The relation was added.
    Done,
}

/// Where a queued write's outcome is left for its writer.
pub(crate) type Outcome = Result<(Applied, u64), StoreError>;

/// A queued write's slot for its outcome.
#[derive(Debug, Default)]
pub(crate) struct Ticket {
    outcome: Mutex<Option<Outcome>>,
}

impl Ticket {
    /// The outcome, once the write's group has committed (or failed).
    pub(crate) fn take(&self) -> Option<Outcome> {
        self.outcome
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
    }

    /// Whether the outcome is there.
    fn is_done(&self) -> bool {
        self.outcome
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .is_some()
    }

    /// Leaves the outcome for the writer.
    pub(crate) fn fill(&self, outcome: Outcome) {
        *self
            .outcome
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(outcome);
    }
}

/// The writes waiting for the next commit, and the signal that some were committed.
#[derive(Debug, Default)]
pub(crate) struct Queue {
    pending: Mutex<Vec<(Op, Arc<Ticket>)>>,
    committed: Condvar,
}

impl Queue {
    /// Queues a write; its outcome arrives in the returned ticket.
    pub(crate) fn push(&self, op: Op) -> Arc<Ticket> {
        let ticket = Arc::new(Ticket::default());
        self.pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push((op, Arc::clone(&ticket)));
        ticket
    }

    /// Waits until `ticket` has its outcome, a commit happened, or `timeout` passed.
    pub(crate) fn wait(&self, ticket: &Ticket, timeout: Duration) {
        let pending = self
            .pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Checked under the queue's lock, which `notify` takes: no outcome slips in unseen.
        if ticket.is_done() {
            return;
        }
        let _ = self.committed.wait_timeout(pending, timeout);
    }

    /// Wakes every waiting writer: outcomes were left, or the lock is free to lead.
    pub(crate) fn notify(&self) {
        let _pending = self
            .pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.committed.notify_all();
    }

    /// Takes every queued write.
    pub(crate) fn drain(&self) -> Vec<(Op, Arc<Ticket>)> {
        std::mem::take(
            &mut *self
                .pending
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }
}

/// Applies one write to `next` and `batch`. The inner error refuses this write alone, before it has
/// changed anything; the outer one fails the whole transaction.
pub(crate) fn apply(
    next: &mut Directory,
    batch: &mut dyn RecordWrites,
    op: &Op,
) -> Result<Result<Applied, StoreError>, StoreError> {
    match op {
        Op::CreateObject(object) => {
            if next.get_object(&object.object_type, &object.id).is_some() {
                return Ok(Err(StoreError::Exists {
                    record: format!("object {}:{}", object.object_type, object.id),
                }));
            }
            apply(next, batch, &Op::SetObject(object.clone()))
        }
        Op::SetObject(object) => {
            let record = || format!("object {}:{}", object.object_type, object.id);
            let stored = next
                .get_object(&object.object_type, &object.id)
                .map(|stored| stored.etag);
            if let Err(error) = crate::store::check_etag(&object.etag, stored, record) {
                return Ok(Err(error));
            }
            if let Err(source) = next.validate_object(object) {
                return Ok(Err(StoreError::Rejected {
                    record: record(),
                    source,
                }));
            }
            if let Err(error) = check_object_key(&object.object_type, &object.id) {
                return Ok(Err(error));
            }
            let depth = lictor_model::json_depth(&object.properties);
            if depth > lictor_model::MAX_JSON_DEPTH {
                return Ok(Err(StoreError::TooDeep {
                    object: format!("{}:{}", object.object_type, object.id),
                    depth,
                    limit: lictor_model::MAX_JSON_DEPTH,
                }));
            }
            batch.put_object(object)?;
            next.set_object(object)
                .map_err(|source| StoreError::Rejected {
                    record: record(),
                    source,
                })?;
            let stored = next
                .get_object(&object.object_type, &object.id)
                .ok_or_else(|| StoreError::Corrupt {
                    key: format!("{}:{}", object.object_type, object.id),
                    message: "object missing right after its write".to_string(),
                })?;
            Ok(Ok(Applied::Object(stored)))
        }
        Op::DeleteObject {
            object_type,
            object_id,
            with_relations,
        } => {
            if let Err(error) = check_object_key(object_type, object_id) {
                return Ok(Err(error));
            }
            if *with_relations {
                for relation in next.relations_of(object_type, object_id) {
                    batch.delete_relation(&relation)?;
                    next.delete_relation(&relation);
                }
            }
            batch.delete_object(object_type, object_id)?;
            Ok(Ok(Applied::Existed(
                next.delete_object(object_type, object_id),
            )))
        }
        Op::SetRelation { relation, etag } => {
            if let Some(etag) = etag.as_deref().filter(|e| !e.is_empty()) {
                let stored = next.has_relation(relation).then(|| relation.etag());
                if let Err(error) =
                    crate::store::check_etag(etag, stored, || format!("relation {relation}"))
                {
                    return Ok(Err(error));
                }
            }
            if let Err(source) = next.validate_relation(relation) {
                return Ok(Err(StoreError::Rejected {
                    record: format!("relation {relation}"),
                    source,
                }));
            }
            if let Err(error) = check_relation_key(relation) {
                return Ok(Err(error));
            }
            batch.put_relation(relation)?;
            next.set_relation(relation)
                .map_err(|source| StoreError::Rejected {
                    record: format!("relation {relation}"),
                    source,
                })?;
            Ok(Ok(Applied::Done))
        }
        Op::DeleteRelation(relation) => {
            if let Err(error) = check_relation_key(relation) {
                return Ok(Err(error));
            }
            batch.delete_relation(relation)?;
            Ok(Ok(Applied::Existed(next.delete_relation(relation))))
        }
    }
}
