//! The recent changes of a store, by revision, in memory: what an edge replica following this store
//! streams after its snapshot. Bounded: past [`MAX_CHANGES`] the oldest revisions are forgotten, and
//! a follower that asks from before what is kept starts again from a snapshot. Nothing is kept until
//! the first follower subscribes: a store nobody follows neither copies its writes nor holds them.

use crate::backend::Change;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::watch;

/// Changes kept at most (a write of more is kept as a gap: its followers take a snapshot).
pub const MAX_CHANGES: usize = 100_000;

/// The changes of one revision.
pub type Revision = (u64, Arc<[Change]>);

/// Recent revisions and their changes.
pub struct Journal {
    state: Mutex<State>,
    published: watch::Sender<u64>,
    /// Whether a follower has ever subscribed; until then every revision is a gap.
    followed: AtomicBool,
}

struct State {
    revisions: VecDeque<Revision>,
    /// Every revision after this one is kept (the journal starts empty at the store's revision).
    kept_after: u64,
    changes: usize,
}

impl Journal {
    /// An empty journal of a store at `revision`.
    pub fn new(revision: u64) -> Journal {
        Journal {
            state: Mutex::new(State {
                revisions: VecDeque::new(),
                kept_after: revision,
                changes: 0,
            }),
            published: watch::channel(revision).0,
            followed: AtomicBool::new(false),
        }
    }

    /// Whether revisions' changes are worth recording: a follower has subscribed.
    pub fn keeps(&self) -> bool {
        self.followed.load(Ordering::Relaxed)
    }

    /// Records a committed revision (revisions arrive in order) and wakes the followers.
    pub fn record(&self, revision: u64, changes: Vec<Change>) {
        if changes.len() > MAX_CHANGES {
            // Too large to keep: what came before it cannot be followed past it either.
            return self.gap(revision);
        }
        {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            state.changes += changes.len();
            state.revisions.push_back((revision, changes.into()));
            while state.changes > MAX_CHANGES {
                let Some((oldest, dropped)) = state.revisions.pop_front() else {
                    break;
                };
                state.changes -= dropped.len();
                state.kept_after = oldest;
            }
        }
        self.published.send_replace(revision);
    }

    /// Records a revision whose changes were too many to keep: followers from before it start over
    /// from a snapshot.
    pub fn gap(&self, revision: u64) {
        {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            state.revisions.clear();
            state.changes = 0;
            state.kept_after = revision;
        }
        self.published.send_replace(revision);
    }

    /// The revisions after `after`, in order; `None` when some of them are no longer kept.
    pub fn since(&self, after: u64) -> Option<Vec<Revision>> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if after < state.kept_after {
            return None;
        }
        Some(
            state
                .revisions
                .iter()
                .filter(|(revision, _)| *revision > after)
                .cloned()
                .collect(),
        )
    }

    /// Follows the latest recorded revision; from now on, revisions' changes are kept.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.followed.store(true, Ordering::Relaxed);
        self.published.subscribe()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn deletes(n: usize) -> Vec<Change> {
        (0..n)
            .map(|i| Change::DeleteObject {
                object_type: "user".into(),
                object_id: i.to_string(),
            })
            .collect()
    }

    #[test]
    fn nothing_is_kept_before_a_follower_subscribes() {
        let journal = Journal::new(10);
        assert!(!journal.keeps());
        journal.gap(11);
        assert!(journal.since(10).is_none(), "revision 11 was not kept");
        let _follower = journal.subscribe();
        assert!(journal.keeps());
        journal.record(12, deletes(1));
        assert_eq!(journal.since(11).unwrap().len(), 1);
    }

    #[test]
    fn followers_get_what_came_after_their_revision_or_are_told_to_start_over() {
        let journal = Journal::new(10);
        let mut published = journal.subscribe();
        journal.record(11, deletes(2));
        journal.record(12, Vec::new());
        assert!(published.has_changed().unwrap());
        assert_eq!(*published.borrow_and_update(), 12);
        let since: Vec<u64> = journal.since(10).unwrap().iter().map(|r| r.0).collect();
        assert_eq!(since, [11, 12]);
        assert_eq!(journal.since(11).unwrap().len(), 1);
        assert!(journal.since(12).unwrap().is_empty());
        assert!(journal.since(9).is_none(), "from before the journal began");

        // Past the bound the oldest revisions go.
        journal.record(13, deletes(MAX_CHANGES - 1));
        assert!(journal.since(10).is_none());
        assert_eq!(journal.since(11).unwrap().len(), 2);
        // A write larger than the bound is a gap.
        journal.record(14, deletes(MAX_CHANGES + 1));
        assert!(journal.since(13).is_none());
        assert!(journal.since(14).unwrap().is_empty());
    }
}
