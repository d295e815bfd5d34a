//! The rhythm of the server's periodic tasks (policy reloads, image polls, identity syncs): a tick
//! every period, missed ticks delayed rather than bunched, and an end as soon as shutdown is asked.

use std::time::Duration;
use tokio::sync::watch;
use tokio::time::{Interval, MissedTickBehavior};

/// Ticks every period until shutdown.
pub struct Ticks {
    interval: Interval,
    shutdown: watch::Receiver<bool>,
}

impl Ticks {
    /// Ticks every `every` (the first at once) until `shutdown` turns true.
    pub fn new(every: Duration, shutdown: watch::Receiver<bool>) -> Ticks {
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Ticks { interval, shutdown }
    }

    /// Waits for the next tick; `false` once shutdown is asked.
    pub async fn next(&mut self) -> bool {
        tokio::select! {
            _ = self.interval.tick() => {}
            _ = self.shutdown.changed() => return false,
        }
        !*self.shutdown.borrow()
    }
}
