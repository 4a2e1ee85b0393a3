//! How often a fenced producer may be rebuilt before the instance gives up.
//!
//! A producer is fenced when the broker has bumped its epoch: after a transaction timeout, a
//! coordinator failover, or because another process started with the same transactional id.
//! The first two are transient, and the cure is Kafka Streams' (close the open transaction as
//! dirty, build a new producer, rewind to the committed offsets). The third is a deployment
//! error (two pods with one instance id); rebuilding would fence the other process in turn, so
//! the two would take turns forever. Repeated fencing within a window is therefore taken for
//! the third case, and the instance stops with a message that says so.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Rebuilds allowed within [`WINDOW`].
const MAX_REBUILDS: usize = 3;
/// The window over which fencings are counted.
const WINDOW: Duration = Duration::from_secs(300);

/// Counts recent fencings.
#[derive(Debug, Default)]
pub(crate) struct FencingBudget {
    recent: VecDeque<Instant>,
}

impl FencingBudget {
    /// Records a fencing at `now`; true if the producer may be rebuilt.
    pub(crate) fn admit(&mut self, now: Instant) -> bool {
        while self.recent.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
            self.recent.pop_front();
        }
        if self.recent.len() >= MAX_REBUILDS {
            return false;
        }
        self.recent.push_back(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_few_fencings_are_rebuilt_then_repeated_ones_stop() {
        let mut budget = FencingBudget::default();
        let t0 = Instant::now();
        assert!((0..MAX_REBUILDS).all(|i| budget.admit(t0 + Duration::from_secs(i as u64))));
        assert!(!budget.admit(t0 + Duration::from_secs(10)), "a fourth fencing in the window");
    }

    #[test]
    fn fencings_older_than_the_window_are_forgotten() {
        let mut budget = FencingBudget::default();
        let t0 = Instant::now();
        for i in 0..MAX_REBUILDS {
            assert!(budget.admit(t0 + Duration::from_secs(i as u64)));
        }
        assert!(budget.admit(t0 + WINDOW + Duration::from_secs(1)));
    }
}
