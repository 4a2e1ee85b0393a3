//! Getting back to a clean position after a batch failed: abort, rebuild the producer,
//! rewind to the committed offsets.
//!
//! A broker outage must cost an instance time, never its life: the SRE who restarts a broker
//! expects the processors to carry on by themselves, as Kafka Streams does within
//! `task.timeout.ms`. So each step degrades instead of stopping:
//! - an abort that librdkafka reports as retriable is retried; one that still fails is
//!   completed by rebuilding the producer, since a new producer with the same transactional
//!   id aborts whatever the old one left open when it initialises;
//! - a rewind that cannot read the committed offsets (group coordinator unreachable) stays
//!   due: the instance reads and processes nothing until it succeeds, retrying every
//!   [`REWIND_RETRY`], and stops only after [`STALL_LIMIT`] of failures.
//!
//! Invariant: while a rewind is due, no task reads, processes, ticks or commits, so nothing
//! is produced from a position other than the committed one.

use std::time::{Duration, Instant};

use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use rdkafka::producer::Producer;
use rdkafka::{Offset, TopicPartitionList};

use super::{Core, GroupConsumer, TXN_TIMEOUT, input_name, is_fenced, throttle};
use crate::error::RuntimeError;
use crate::logic::{OutputBuffer, TaskLogic};

/// How long the instance may fail to rewind before it stops (Kafka Streams' default
/// `task.timeout.ms`).
const STALL_LIMIT: Duration = Duration::from_secs(300);
/// Pause between two attempts at a due rewind.
const REWIND_RETRY: Duration = Duration::from_secs(1);
/// Attempts at aborting a transaction while librdkafka calls the failure retriable.
const ABORT_ATTEMPTS: usize = 3;

/// A rewind that failed and must succeed before the tasks go on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DueRewind {
    since: Instant,
    next_attempt: Instant,
}

impl<L: TaskLogic> Core<L> {
    /// Aborts the open batch: Kafka transaction, overlays and engine caches; rewinds the
    /// consumer to the group's committed offsets.
    pub(crate) fn abort(&mut self, consumer: &GroupConsumer) -> Result<(), RuntimeError> {
        self.batch = None;
        self.outputs.clear();
        if self.exactly_once() {
            self.abort_transaction()?;
        }
        let _ = self.sink.producer.context().take();
        for task in self.tasks.values_mut() {
            task.discard_batch(&self.logic);
        }
        self.metrics.transactions.with_label_values(&["abort"]).inc();
        self.rewind(consumer)
    }

    /// Aborts the producer's transaction, retrying what librdkafka calls retriable; if it
    /// still fails, a new producer takes over the transactional id and thereby aborts it.
    fn abort_transaction(&mut self) -> Result<(), RuntimeError> {
        let mut attempts = 0;
        let error = loop {
            match self.sink.producer.abort_transaction(TXN_TIMEOUT) {
                Ok(()) => return Ok(()),
                Err(e) if is_fenced(&e) => {
                    return Err(RuntimeError::Fenced("aborting the transaction".into()));
                }
                Err(KafkaError::Transaction(e))
                    if e.is_retriable() && attempts + 1 < ABORT_ATTEMPTS =>
                {
                    attempts += 1;
                }
                Err(e) => break e,
            }
        };
        tracing::warn!(%error, "the transaction could not be aborted: rebuilding the producer, which aborts it");
        self.rebuild_producer()
    }

    /// After the producer was fenced: the open transaction is lost (the broker aborts it), so
    /// its state changes are discarded, a new producer replaces the fenced one, and every task
    /// rewinds to its committed offsets. Stops when fencing repeats (see `fencing`).
    pub(crate) fn recover_from_fencing(
        &mut self,
        consumer: &GroupConsumer,
        context: String,
    ) -> Result<(), RuntimeError> {
        if !self.fencing.admit(Instant::now()) {
            return Err(RuntimeError::Fenced(context));
        }
        tracing::warn!(%context, "producer fenced: discarding the open transaction, rebuilding the producer");
        self.batch = None;
        self.outputs.clear();
        for task in self.tasks.values_mut() {
            task.discard_batch(&self.logic);
        }
        self.rebuild_producer()?;
        self.rewind(consumer)
    }

    fn rebuild_producer(&mut self) -> Result<(), RuntimeError> {
        self.sink.producer = (self.new_producer)()?;
        self.metrics.producer_rebuilds.inc();
        Ok(())
    }

    /// Moves every task back to its committed offsets, now or, if that fails, at a later
    /// round (see [`Core::settle`]).
    fn rewind(&mut self, consumer: &GroupConsumer) -> Result<(), RuntimeError> {
        let now = Instant::now();
        self.rewind_due = Some(DueRewind { since: now, next_attempt: now });
        self.settle(consumer).map(|_| ())
    }

    /// Completes a due rewind. True when none is due any more and the tasks may go on;
    /// an error once rewinding has failed for [`STALL_LIMIT`].
    pub(crate) fn settle(&mut self, consumer: &GroupConsumer) -> Result<bool, RuntimeError> {
        let Some(due) = self.rewind_due else { return Ok(true) };
        if Instant::now() < due.next_attempt {
            return Ok(false);
        }
        match self.seek_committed(consumer) {
            Ok(()) => {
                self.rewind_due = None;
                Ok(true)
            }
            Err(error) if due.since.elapsed() < STALL_LIMIT => {
                tracing::warn!(%error, "rewinding to the committed offsets failed; processing waits and retries");
                self.rewind_due =
                    Some(DueRewind { next_attempt: Instant::now() + REWIND_RETRY, ..due });
                Ok(false)
            }
            Err(error) => Err(error),
        }
    }

    fn seek_committed(&mut self, consumer: &GroupConsumer) -> Result<(), RuntimeError> {
        let mut tpl = TopicPartitionList::new();
        for partition in self.tasks.keys() {
            for name in self.logic.inputs() {
                tpl.add_partition(name, *partition);
            }
        }
        if tpl.count() == 0 {
            return Ok(());
        }
        let committed = consumer
            .committed_offsets(tpl, TXN_TIMEOUT)
            .map_err(|e| RuntimeError::kafka("reading committed offsets to rewind", e))?;
        for elem in committed.elements() {
            let offset = match elem.offset() {
                Offset::Offset(o) => Offset::Offset(o),
                _ => Offset::Beginning,
            };
            consumer.seek(elem.topic(), elem.partition(), offset, TXN_TIMEOUT).map_err(|e| {
                RuntimeError::kafka(format!("rewinding {}/{}", elem.topic(), elem.partition()), e)
            })?;
        }
        for task in self.tasks.values_mut() {
            for input in &mut task.queues {
                let name = input_name(&self.logic, input.input);
                throttle(consumer, name, task.partition, 0, &mut input.paused)?;
            }
        }
        Ok(())
    }
}
