//! Group commit for single-record writes. A write that arrives while another commits waits in a queue;
//! the next writer to take the lock commits every queued write in one durable transaction (one sync to
//! disk), and each is acknowledged only once that transaction is durable. Each queued write is checked
//! before it changes anything, so a refused one (a stale etag, a type the manifest lacks) leaves the
//! others of its group to commit.
//!
//! Writers wait for their outcome in one of two ways: a thread blocks on the queue's condition
//! variable ([`crate::Store`]'s synchronous writes), a task awaits its ticket's notification
//! ([`crate::Store::submit_async`]), so a server's writers in flight hold no thread each.

use crate::backend::RecordWrites;
use crate::error::StoreError;
use crate::records::{check_object_key, check_relation_key};
use lictor_directory::Directory;
use lictor_model::{ObjectRecord, RelationRecord};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// One single-record write, committed together with the others queued at the same time.
#[derive(Debug, Clone)]
pub enum SingleWrite {
    /// Create or replace an object; a non-empty etag must match the stored one.
    SetObject(ObjectRecord),
    /// Create an object that must not be stored yet.
    CreateObject(ObjectRecord),
    /// Delete an object, and with `with_relations` every relation it takes part in.
    DeleteObject {
        /// The object's type.
        object_type: String,
        /// The object's id.
        object_id: String,
        /// Whether the relations the object takes part in go too.
        with_relations: bool,
    },
    /// Add a relation; a given etag must match the stored relation's.
    SetRelation {
        /// The relation.
        relation: RelationRecord,
        /// The etag the stored relation must have (none or empty: any).
        etag: Option<String>,
    },
    /// Remove a relation.
    DeleteRelation(RelationRecord),
}

/// What a single-record write did.
#[derive(Debug)]
pub enum Written {
    /// The object as stored.
    Object(ObjectRecord),
    /// Whether the deleted record existed.
    Existed(bool),
    /// The relation was added.
    Done,
}

/// Where a queued write's outcome is left for its writer.
pub(crate) type Outcome = Result<(Written, u64), StoreError>;

/// A queued write's slot for its outcome, and the signal its task waits on.
#[derive(Debug, Default)]
pub(crate) struct Ticket {
    outcome: Mutex<Option<Outcome>>,
    /// Woken when the outcome is left, or when the writer lock is free for a queued write to lead.
    ready: tokio::sync::Notify,
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

    /// Leaves the outcome for the writer and wakes its task.
    pub(crate) fn fill(&self, outcome: Outcome) {
        *self
            .outcome
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(outcome);
        self.ready.notify_one();
    }

    /// Waits until the outcome is left, the ticket is nudged to lead, or `timeout` passes. A wake-up
    /// that came before the wait is kept (`notify_one` stores it), so none is lost.
    pub(crate) async fn changed(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.ready.notified()).await;
    }
}

/// The writes waiting for the next commit, and the signal that some were committed.
#[derive(Debug, Default)]
pub(crate) struct Queue {
    pending: Mutex<Vec<(SingleWrite, Arc<Ticket>)>>,
    committed: Condvar,
}

impl Queue {
    /// Queues a write; its outcome arrives in the returned ticket.
    pub(crate) fn push(&self, op: SingleWrite) -> Arc<Ticket> {
        let ticket = Arc::new(Ticket::default());
        self.lock().push((op, Arc::clone(&ticket)));
        ticket
    }

    /// Takes a write out of the queue if no commit has taken it yet: its writer went away before the
    /// write was acknowledged, and no later writer should commit it in its place.
    pub(crate) fn withdraw(&self, ticket: &Arc<Ticket>) {
        self.lock()
            .retain(|(_, queued)| !Arc::ptr_eq(queued, ticket));
    }

    /// Waits until `ticket` has its outcome, a commit happened, or `timeout` passed.
    pub(crate) fn wait(&self, ticket: &Ticket, timeout: Duration) {
        let pending = self.lock();
        // Checked under the queue's lock, which `notify` takes: no outcome slips in unseen.
        if ticket.is_done() {
            return;
        }
        let _ = self.committed.wait_timeout(pending, timeout);
    }

    /// Wakes the threads waiting for outcomes: a group was committed.
    pub(crate) fn notify(&self) {
        let _pending = self.lock();
        self.committed.notify_all();
    }

    /// The writer lock was released: wakes every waiting writer, thread or task, so that one of the
    /// queued ones leads the next commit.
    pub(crate) fn hand_over(&self) {
        let pending = self.lock();
        self.committed.notify_all();
        for (_, ticket) in pending.iter() {
            ticket.ready.notify_one();
        }
    }

    /// Takes every queued write.
    pub(crate) fn drain(&self) -> Vec<(SingleWrite, Arc<Ticket>)> {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(SingleWrite, Arc<Ticket>)>> {
        self.pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Applies one write to `next` and `batch`. The inner error refuses this write alone, before it has
/// changed anything; the outer one fails the whole transaction.
pub(crate) fn apply(
    next: &mut Directory,
    batch: &mut dyn RecordWrites,
    op: &SingleWrite,
) -> Result<Result<Written, StoreError>, StoreError> {
    match op {
        SingleWrite::CreateObject(object) => {
            if next.get_object(&object.object_type, &object.id).is_some() {
                return Ok(Err(StoreError::Exists {
                    record: format!("object {}:{}", object.object_type, object.id),
                }));
            }
            apply(next, batch, &SingleWrite::SetObject(object.clone()))
        }
        SingleWrite::SetObject(object) => {
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
            Ok(Ok(Written::Object(stored)))
        }
        SingleWrite::DeleteObject {
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
            Ok(Ok(Written::Existed(
                next.delete_object(object_type, object_id),
            )))
        }
        SingleWrite::SetRelation { relation, etag } => {
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
            Ok(Ok(Written::Done))
        }
        SingleWrite::DeleteRelation(relation) => {
            if let Err(error) = check_relation_key(relation) {
                return Ok(Err(error));
            }
            batch.delete_relation(relation)?;
            Ok(Ok(Written::Existed(next.delete_relation(relation))))
        }
    }
}
