//! The time bound of one request's conditions. The CEL interpreter offers no hook to stop a running
//! expression, so the bound is checked where evaluation comes back to this crate: every read of a
//! name (`P`, `R`, `request`, `V`, `C`, `G`, `runtime`, `now()`, `lictor.check`). Once the deadline
//! has passed, every such read fails, so a loop over request data ends after at most one more pass
//! of its body, and the caller learns from [`Deadline::passed`] that the answer is not a decision.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A wall-clock limit shared by every expression of one request.
#[derive(Debug)]
pub struct Deadline {
    at: Instant,
    passed: AtomicBool,
}

impl Deadline {
    /// A deadline `limit` from now.
    pub fn after(limit: Duration) -> Deadline {
        let now = Instant::now();
        Deadline {
            at: now.checked_add(limit).unwrap_or(now),
            passed: AtomicBool::new(false),
        }
    }

    /// Whether the deadline has passed, reading the clock; remembered once true.
    pub(super) fn expired(&self) -> bool {
        if self.passed.load(Ordering::Relaxed) {
            return true;
        }
        let expired = Instant::now() >= self.at;
        if expired {
            self.passed.store(true, Ordering::Relaxed);
        }
        expired
    }

    /// Whether an evaluation found the deadline passed: the answer it gave is then not a decision.
    pub fn passed(&self) -> bool {
        self.passed.load(Ordering::Relaxed)
    }
}
