//! The time grid and the queue of planned activities.
//!
//! Times are placed on a grid relative to `start_time` so that no two kinds of event can share
//! a millisecond: movements (receipts, putaways, picks) happen on whole seconds, ERP snapshots
//! at `+250 ms`, counts and their freeze times at `+500 ms`. The detector's comparisons
//! ("movements after the snapshot", "movements after the freeze", "within the window before
//! the count") therefore never hinge on whether a bound is inclusive. Activities at the same
//! time run in rank order, then in the order they were planned, so the run is deterministic.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::truth::FaultKind;

/// Offset of ERP snapshots within their second.
pub(crate) const SNAPSHOT_OFFSET_MS: i64 = 250;
/// Offset of counts and freeze times within their second.
pub(crate) const COUNT_OFFSET_MS: i64 = 500;

/// A putaway decided at receipt time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PutawayPlan {
    /// Receipt number; the task and the licence plate carry it.
    pub(crate) receipt: u32,
    pub(crate) from: usize,
    /// Storage slot the task is confirmed to (what the WMS and ERP book).
    pub(crate) to: usize,
    /// Storage slot the stock really goes to (differs for a misplaced putaway).
    pub(crate) stored_at: usize,
    /// Storage slot the WMS suggested (differs from `to` for a wrong-bin putaway).
    pub(crate) suggested: usize,
    pub(crate) qty: i64,
    pub(crate) fault: Option<FaultKind>,
}

/// A delivery announced by an ASN, decided at the announcement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReceiptPlan {
    /// ASN and receipt number.
    pub(crate) number: u32,
    pub(crate) item: usize,
    pub(crate) site: usize,
    /// Quantity announced.
    pub(crate) expected: i64,
    /// The receipt fault decided at the announcement, if any.
    pub(crate) fault: Option<FaultKind>,
    /// Lot and expiry on the delivery's label (lot faults only).
    pub(crate) lot: Option<crate::record::LotTag>,
    /// The putaway of what is accepted and when it happens (none for a refused delivery).
    pub(crate) putaway: Option<(i64, PutawayPlan)>,
}

/// Something the simulation does at a planned time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Activity {
    Arrival { site: usize },
    Receipt(ReceiptPlan),
    Pick { site: usize },
    Reconfirm { number: u32, slot: usize, requested: i64, picked: i64 },
    Putaway(PutawayPlan),
    Ack { message: u32, slot: usize, qty: i64 },
    Theft { site: usize },
    Snapshot { number: u32 },
    Count { slot: usize },
}

impl Activity {
    fn rank(&self) -> u8 {
        match self {
            Self::Snapshot { .. } => 1,
            Self::Count { .. } => 2,
            _ => 0,
        }
    }
}

#[derive(Debug)]
struct Planned {
    key: (i64, u8, u64),
    activity: Activity,
}

impl PartialEq for Planned {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for Planned {}

impl PartialOrd for Planned {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Planned {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.cmp(&other.key)
    }
}

/// Min-queue of activities by (time, rank, planning order).
#[derive(Debug, Default)]
pub(crate) struct Queue {
    heap: BinaryHeap<Reverse<Planned>>,
    planned: u64,
}

impl Queue {
    pub(crate) fn push(&mut self, time: i64, activity: Activity) {
        self.planned += 1;
        self.heap.push(Reverse(Planned { key: (time, activity.rank(), self.planned), activity }));
    }

    pub(crate) fn pop(&mut self) -> Option<(i64, Activity)> {
        self.heap.pop().map(|Reverse(p)| (p.key.0, p.activity))
    }
}

/// Whole-second times of a Poisson process with `per_hour` events in `(start, end)`.
pub(crate) fn poisson_times(rng: &mut ChaCha8Rng, start: i64, end: i64, per_hour: f64) -> Vec<i64> {
    let per_second = per_hour / 3600.0;
    let mut times = Vec::new();
    if per_second <= 0.0 {
        return times;
    }
    let mut elapsed = 0.0_f64;
    loop {
        elapsed += -(1.0 - rng.random::<f64>()).ln() / per_second;
        let at = start.saturating_add(elapsed.ceil() as i64 * 1000);
        if at >= end {
            return times;
        }
        times.push(at);
    }
}

/// The count-grid time at or just after `time` (saturating at the ends of the time range,
/// since `time` may come from an outside action).
pub(crate) fn count_time(start: i64, time: i64) -> i64 {
    let offset = time.saturating_sub(start).saturating_sub(COUNT_OFFSET_MS).saturating_add(999);
    let second = offset.div_euclid(1000);
    start.saturating_add(second.saturating_mul(1000)).saturating_add(COUNT_OFFSET_MS)
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn queue_orders_by_time_then_rank_then_plan_order() {
        let mut q = Queue::default();
        q.push(2_000, Activity::Count { slot: 1 });
        q.push(2_000, Activity::Pick { site: 0 });
        q.push(1_000, Activity::Snapshot { number: 1 });
        q.push(2_000, Activity::Arrival { site: 0 });
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(
            order,
            vec![
                (1_000, Activity::Snapshot { number: 1 }),
                (2_000, Activity::Pick { site: 0 }),
                (2_000, Activity::Arrival { site: 0 }),
                (2_000, Activity::Count { slot: 1 }),
            ]
        );
    }

    #[test]
    fn poisson_times_are_whole_seconds_inside_the_interval() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let times = poisson_times(&mut rng, 10_000, 10_000 + 3_600_000, 600.0);
        assert!((450..750).contains(&times.len()), "{}", times.len());
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
        assert!(times.iter().all(|t| (t - 10_000) % 1000 == 0 && *t > 10_000));
        assert!(poisson_times(&mut rng, 0, 1_000_000, 0.0).is_empty());
    }

    #[test]
    fn count_time_lands_on_the_half_second_at_or_after() {
        assert_eq!(count_time(0, 0), 500);
        assert_eq!(count_time(0, 500), 500);
        assert_eq!(count_time(0, 501), 1_500);
        assert_eq!(count_time(7, 1_000), 1_507);
        assert!(count_time(7, i64::MAX) > 0 && count_time(7, i64::MIN) < 0);
    }
}
