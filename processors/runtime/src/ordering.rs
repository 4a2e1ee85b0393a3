//! Which record a task processes next: the one with the smallest event time among the heads
//! of its partitions (one per input topic), as Kafka Streams' partition group does.
//!
//! Events of one item arrive on several topics (picks, counts, book snapshots); each topic
//! partition is ordered, but the consumer delivers them interleaved as its fetches complete.
//! Processing strictly in fetch order would let a count be evaluated before the earlier picks
//! on another topic were seen. So a task buffers records per topic and releases the earliest
//! head, but only when every topic of the task either has a buffered record or is caught up
//! (the consumer reported end of partition). When a topic is empty and not known to be caught
//! up, the task waits at most `max_idle` (like `max.task.idle.ms`) and then proceeds: a
//! partition that has nothing to say cannot stall its task forever.
//!
//! Limit: "caught up" is what the consumer last learned. Once a topic has reported its end, it
//! stays caught up until its next record is buffered, so a record produced to it but not yet
//! fetched can be overtaken by later records of the task's other topics. The broker's high
//! watermark would not close this window: librdkafka learns it from the same fetch response
//! that brings the records. Kafka Streams' fetched-lag check (KIP-695) has the same window.
//! Where topics are written together (normalize's outputs read by detect), cross-topic order is
//! exact only for records fetched together; the detectors' grace periods absorb the rest.
//!
//! Ties (same event time) go to the input that comes first in the logic's input list (for
//! detect, [`invex_model::CanonicalTopic::ALL`] order), then to offset order, so the order is
//! deterministic for a given input.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::logic::Rejected;

/// A record read from one input partition, decoded or refused.
// Inputs are the common case and dead letters rare: boxing the input would cost an allocation
// per record to save buffer space only while dead letters are queued.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Buffered<I> {
    /// A decoded input.
    Record {
        /// Offset it was read at.
        offset: i64,
        /// Ordering (event) time.
        time: i64,
        /// The input.
        input: I,
    },
    /// A record that goes to the DLQ when it reaches the head.
    Dead {
        /// Offset it was read at.
        offset: i64,
        /// What it was and why it is refused.
        rejected: Rejected,
    },
}

impl<I> Buffered<I> {
    /// Ordering time: dead letters go first so they never hold back their partition.
    fn time(&self) -> i64 {
        match self {
            Self::Record { time, .. } => *time,
            Self::Dead { .. } => i64::MIN,
        }
    }

    /// Offset the record was read at.
    pub(crate) fn offset(&self) -> i64 {
        match self {
            Self::Record { offset, .. } | Self::Dead { offset, .. } => *offset,
        }
    }
}

struct Queue<I> {
    records: VecDeque<Buffered<I>>,
    caught_up: bool,
}

/// The buffered records of one task, per input (by input index).
pub(crate) struct PartitionGroup<I> {
    queues: Vec<Queue<I>>,
    waiting_since: Option<Instant>,
}

impl<I> PartitionGroup<I> {
    /// An empty group over `inputs` inputs.
    pub(crate) fn new(inputs: usize) -> Self {
        Self {
            queues: (0..inputs)
                .map(|_| Queue { records: VecDeque::new(), caught_up: false })
                .collect(),
            waiting_since: None,
        }
    }

    /// Buffers a record of `input`.
    pub(crate) fn push(&mut self, input: usize, record: Buffered<I>) {
        if let Some(queue) = self.queues.get_mut(input) {
            queue.caught_up = false;
            queue.records.push_back(record);
        }
    }

    /// The consumer reached the end of `input`'s partition.
    pub(crate) fn caught_up(&mut self, input: usize) {
        if let Some(queue) = self.queues.get_mut(input) {
            queue.caught_up = true;
        }
    }

    /// Records buffered for `input`.
    pub(crate) fn buffered(&self, input: usize) -> usize {
        self.queues.get(input).map_or(0, |q| q.records.len())
    }

    /// Drops every buffered record (after a rewind).
    pub(crate) fn clear(&mut self) {
        for q in &mut self.queues {
            q.records.clear();
            q.caught_up = false;
        }
        self.waiting_since = None;
    }

    /// The next record to process and its input, if the task may process one now.
    pub(crate) fn next(
        &mut self,
        now: Instant,
        max_idle: Duration,
    ) -> Option<(usize, Buffered<I>)> {
        let mut best: Option<(usize, i64)> = None;
        let mut undecided = false;
        for (i, q) in self.queues.iter().enumerate() {
            match q.records.front() {
                Some(r) if best.is_none_or(|(_, t)| r.time() < t) => best = Some((i, r.time())),
                Some(_) => {}
                None if !q.caught_up => undecided = true,
                None => {}
            }
        }
        let (i, _) = best?;
        if undecided {
            let since = *self.waiting_since.get_or_insert(now);
            if now.duration_since(since) < max_idle {
                return None;
            }
        }
        self.waiting_since = None;
        let record = self.queues[i].records.pop_front()?;
        Some((i, record))
    }
}

#[cfg(test)]
mod tests {
    use invex_model::ErrorClass;

    use super::*;

    /// Inputs of the tests, named like the canonical topics they stand for.
    const SCAN: usize = 0;
    const RECEIPT: usize = 1;
    const PICK: usize = 2;
    const COUNT: usize = 3;
    const INPUTS: usize = 4;

    fn record(offset: i64, time: i64) -> Buffered<()> {
        Buffered::Record { offset, time, input: () }
    }

    fn all_caught_up(group: &mut PartitionGroup<()>) {
        for input in 0..INPUTS {
            group.caught_up(input);
        }
    }

    fn times(group: &mut PartitionGroup<()>, now: Instant) -> Vec<(usize, i64)> {
        std::iter::from_fn(|| group.next(now, Duration::ZERO)).map(|(t, r)| (t, r.time())).collect()
    }

    #[test]
    fn releases_the_earliest_head_across_inputs() {
        let mut g = PartitionGroup::new(INPUTS);
        all_caught_up(&mut g);
        g.push(COUNT, record(0, 30));
        g.push(PICK, record(0, 10));
        g.push(PICK, record(1, 40));
        g.push(RECEIPT, record(0, 30));
        let order = times(&mut g, Instant::now());
        assert_eq!(order, vec![(PICK, 10), (RECEIPT, 30), (COUNT, 30), (PICK, 40)]);
    }

    #[test]
    fn waits_for_an_input_that_is_not_caught_up_but_only_up_to_max_idle() {
        let mut g = PartitionGroup::new(INPUTS);
        all_caught_up(&mut g);
        g.push(COUNT, record(0, 30));
        g.push(PICK, record(0, 10));
        assert!(g.next(Instant::now(), Duration::ZERO).is_some());
        // Pick is now empty and, having just received data, not known to be caught up.
        let t0 = Instant::now();
        assert!(g.next(t0, Duration::from_millis(100)).is_none());
        assert!(g.next(t0 + Duration::from_millis(50), Duration::from_millis(100)).is_none());
        let (input, _) =
            g.next(t0 + Duration::from_millis(100), Duration::from_millis(100)).unwrap();
        assert_eq!(input, COUNT);
    }

    #[test]
    fn dead_letters_never_wait_and_clear_forgets_everything() {
        let mut g = PartitionGroup::new(INPUTS);
        all_caught_up(&mut g);
        g.push(PICK, record(0, 5));
        let rejected = Rejected {
            timestamp: None,
            key: None,
            value: Some(vec![1]),
            class: ErrorClass::Deserialization,
            message: "bad".into(),
            schema_id: None,
        };
        g.push(SCAN, Buffered::Dead { offset: 7, rejected });
        let (input, first) = g.next(Instant::now(), Duration::ZERO).unwrap();
        assert_eq!((input, first.offset()), (SCAN, 7));
        g.clear();
        assert_eq!(g.buffered(PICK), 0);
        assert!(g.next(Instant::now(), Duration::ZERO).is_none());
    }
}
