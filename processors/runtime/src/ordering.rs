//! Which record a task processes next: the one with the smallest event time among the heads
//! of its partitions (one per canonical topic), as Kafka Streams' partition group does.
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
//! Ties (same event time) go to the topic that comes first in [`CanonicalTopic::ALL`], then to
//! offset order, so the order is deterministic for a given input.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use invex_model::{CanonicalEvent, CanonicalTopic, ErrorClass};

/// A record read from one input partition, decoded or refused.
// Events are the common case and dead letters rare: boxing the event would cost an allocation
// per record to save buffer space only while dead letters are queued.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Buffered {
    /// A decoded canonical event.
    Event {
        /// Offset it was read at.
        offset: i64,
        /// The event.
        event: CanonicalEvent,
    },
    /// A record that goes to the DLQ when it reaches the head.
    Dead {
        /// Offset it was read at.
        offset: i64,
        /// Record timestamp.
        timestamp: Option<i64>,
        /// Original key.
        key: Option<Vec<u8>>,
        /// Original value.
        value: Option<Vec<u8>>,
        /// Error class.
        class: ErrorClass,
        /// Reason.
        message: String,
        /// Schema id of the frame, if any.
        schema_id: Option<u32>,
    },
}

impl Buffered {
    /// Ordering time: dead letters go first so they never hold back their partition.
    fn time(&self) -> i64 {
        match self {
            Self::Event { event, .. } => event.header().event_time,
            Self::Dead { .. } => i64::MIN,
        }
    }

    /// Offset the record was read at.
    pub(crate) fn offset(&self) -> i64 {
        match self {
            Self::Event { offset, .. } | Self::Dead { offset, .. } => *offset,
        }
    }
}

#[derive(Default)]
struct Queue {
    records: VecDeque<Buffered>,
    caught_up: bool,
}

/// The buffered records of one task, per canonical topic.
pub(crate) struct PartitionGroup {
    queues: Vec<Queue>,
    waiting_since: Option<Instant>,
}

fn index(topic: CanonicalTopic) -> usize {
    CanonicalTopic::ALL.iter().position(|t| *t == topic).unwrap_or(0)
}

impl Default for PartitionGroup {
    fn default() -> Self {
        Self {
            queues: CanonicalTopic::ALL.iter().map(|_| Queue::default()).collect(),
            waiting_since: None,
        }
    }
}

impl PartitionGroup {
    /// Buffers a record of `topic`.
    pub(crate) fn push(&mut self, topic: CanonicalTopic, record: Buffered) {
        let queue = &mut self.queues[index(topic)];
        queue.caught_up = false;
        queue.records.push_back(record);
    }

    /// The consumer reached the end of `topic`'s partition.
    pub(crate) fn caught_up(&mut self, topic: CanonicalTopic) {
        self.queues[index(topic)].caught_up = true;
    }

    /// Records buffered for `topic`.
    pub(crate) fn buffered(&self, topic: CanonicalTopic) -> usize {
        self.queues[index(topic)].records.len()
    }

    /// Drops every buffered record (after a rewind).
    pub(crate) fn clear(&mut self) {
        for q in &mut self.queues {
            q.records.clear();
            q.caught_up = false;
        }
        self.waiting_since = None;
    }

    /// The next record to process, if the task may process one now.
    pub(crate) fn next(
        &mut self,
        now: Instant,
        max_idle: Duration,
    ) -> Option<(CanonicalTopic, Buffered)> {
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
        Some((CanonicalTopic::ALL[i], record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use invex_model::{EpcisAction, EventHeader, SourceSystem, TaskEvent, TaskStatus, TaskType};

    fn event(time: i64) -> CanonicalEvent {
        CanonicalEvent::Task(TaskEvent {
            header: EventHeader {
                event_id: format!("e{time}"),
                event_time: time,
                event_tz_offset: "+00:00".into(),
                record_time: time,
                tenant_id: "t".into(),
                site_id: "s".into(),
                source_system: SourceSystem::Wms,
                source_seq: 0,
                operator_id: None,
                device_id: None,
                action: EpcisAction::Observe,
                biz_step: "storing".into(),
                disposition: None,
                error_declaration: None,
            },
            task_id: "k".into(),
            task_type: TaskType::Move,
            status: TaskStatus::Confirmed,
            sku: "x".into(),
            lot: None,
            quantity: 1,
            uom: "EA".into(),
            from_location_id: "a".into(),
            suggested_location_id: None,
            actual_location_id: Some("b".into()),
            override_reason: None,
            lpn: None,
        })
    }

    fn all_caught_up(group: &mut PartitionGroup) {
        for t in CanonicalTopic::ALL {
            group.caught_up(t);
        }
    }

    fn times(group: &mut PartitionGroup, now: Instant) -> Vec<(CanonicalTopic, i64)> {
        std::iter::from_fn(|| group.next(now, Duration::ZERO)).map(|(t, r)| (t, r.time())).collect()
    }

    #[test]
    fn releases_the_earliest_head_across_topics() {
        let mut g = PartitionGroup::default();
        all_caught_up(&mut g);
        g.push(CanonicalTopic::Count, Buffered::Event { offset: 0, event: event(30) });
        g.push(CanonicalTopic::Pick, Buffered::Event { offset: 0, event: event(10) });
        g.push(CanonicalTopic::Pick, Buffered::Event { offset: 1, event: event(40) });
        g.push(CanonicalTopic::Receipt, Buffered::Event { offset: 0, event: event(30) });
        let order = times(&mut g, Instant::now());
        assert_eq!(
            order,
            vec![
                (CanonicalTopic::Pick, 10),
                (CanonicalTopic::Receipt, 30),
                (CanonicalTopic::Count, 30),
                (CanonicalTopic::Pick, 40)
            ]
        );
    }

    #[test]
    fn waits_for_a_topic_that_is_not_caught_up_but_only_up_to_max_idle() {
        let mut g = PartitionGroup::default();
        all_caught_up(&mut g);
        g.push(CanonicalTopic::Count, Buffered::Event { offset: 0, event: event(30) });
        g.push(CanonicalTopic::Pick, Buffered::Event { offset: 0, event: event(10) });
        assert!(g.next(Instant::now(), Duration::ZERO).is_some());
        // Pick is now empty and, having just received data, not known to be caught up.
        let t0 = Instant::now();
        assert!(g.next(t0, Duration::from_millis(100)).is_none());
        assert!(g.next(t0 + Duration::from_millis(50), Duration::from_millis(100)).is_none());
        let (topic, _) =
            g.next(t0 + Duration::from_millis(100), Duration::from_millis(100)).unwrap();
        assert_eq!(topic, CanonicalTopic::Count);
    }

    #[test]
    fn dead_letters_never_wait_and_clear_forgets_everything() {
        let mut g = PartitionGroup::default();
        all_caught_up(&mut g);
        g.push(CanonicalTopic::Pick, Buffered::Event { offset: 0, event: event(5) });
        let dead = Buffered::Dead {
            offset: 7,
            timestamp: None,
            key: None,
            value: Some(vec![1]),
            class: ErrorClass::Deserialization,
            message: "bad".into(),
            schema_id: None,
        };
        g.push(CanonicalTopic::Scan, dead);
        let (topic, first) = g.next(Instant::now(), Duration::ZERO).unwrap();
        assert_eq!((topic, first.offset()), (CanonicalTopic::Scan, 7));
        g.clear();
        assert_eq!(g.buffered(CanonicalTopic::Pick), 0);
        assert!(g.next(Instant::now(), Duration::ZERO).is_none());
    }
}
