//! Group membership: how tasks are assigned, and what happens when they move.
//!
//! The consumer group subscribes to ONE driver topic (the processor's first input topic); the
//! group's assignor (cooperative-sticky by default) distributes its partitions. Each assigned
//! driver partition `p` is a task, and this context extends the assignment to partition `p` of
//! every other input topic. That is how co-partitioning is guaranteed without a custom assignor:
//! librdkafka's built-in assignors place partitions of different topics independently, so
//! subscribing to all topics could split one task across two instances. Offsets of every
//! topic are still committed through the group (the coordinator does not check ownership).
//!
//! Newly assigned input partitions are paused until their task has restored (as Kafka Streams
//! does), so a long restore never fills librdkafka's fetch queues outside the memory budget.
//!
//! Revocation commits the open batch and closes the revoked tasks before the partitions are
//! released; a lost assignment (session timeout) aborts instead, since the group already gave
//! the partitions away.

use std::sync::{Arc, Mutex, OnceLock, Weak};

use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::KafkaResult;
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::TopicPartitionList;
use rdkafka::types::RDKafkaRespErr;

use crate::core::GroupConsumer;
use crate::error::RuntimeError;
use crate::lag;
use crate::metrics::Metrics;
use crate::task::InputQueue;

/// What the rebalance callbacks do to the processing core (whatever its logic).
pub(crate) trait Assignments: Send {
    /// The group has assigned partitions to this instance (possibly none: more instances
    /// than partitions); readiness waits for this.
    fn assignment_received(&mut self);
    /// A partition number newly assigned, with its input queues: it restores before it
    /// processes.
    fn assigned(&mut self, partition: i32, queues: Vec<InputQueue>);
    /// Partitions revoked: commit (or abort when the assignment was lost), then close their
    /// tasks.
    fn revoke(
        &mut self,
        consumer: &GroupConsumer,
        partitions: &[i32],
        lost: bool,
    ) -> Result<(), RuntimeError>;
    /// A callback failed: the processing loop stops with `error` at its next round.
    fn fail(&mut self, error: RuntimeError);
}

/// Consumer context of the group consumer.
pub(crate) struct GroupContext {
    pub(crate) core: Arc<Mutex<dyn Assignments>>,
    pub(crate) driver: String,
    /// Input topic names, by input index.
    pub(crate) inputs: Vec<String>,
    /// The consumer itself, to split per-partition queues; set right after it is created.
    pub(crate) consumer: OnceLock<Weak<BaseConsumer<GroupContext>>>,
    /// Where statistics land (consumer lag).
    pub(crate) metrics: Metrics,
    /// Whether the consumer reads committed records only (lag is measured to the LSO).
    pub(crate) read_committed: bool,
}

impl GroupContext {
    fn expand(&self, partitions: &[i32]) -> TopicPartitionList {
        let mut tpl = TopicPartitionList::new();
        for p in partitions {
            for topic in &self.inputs {
                tpl.add_partition(topic, *p);
            }
        }
        tpl
    }

    fn driver_partitions(&self, tpl: &TopicPartitionList) -> Vec<i32> {
        tpl.elements_for_topic(&self.driver).iter().map(|e| e.partition()).collect()
    }

    fn fail(&self, error: RuntimeError) {
        tracing::error!(%error, "rebalance failed");
        if let Ok(mut core) = self.core.lock() {
            core.fail(error);
        }
    }

    /// Splits one queue per input partition of a task off the consumer's main queue, before
    /// the partitions are assigned so no record of theirs lands on the main queue.
    fn split(&self, partition: i32) -> Result<Vec<InputQueue>, RuntimeError> {
        let consumer = self
            .consumer
            .get()
            .and_then(Weak::upgrade)
            .ok_or_else(|| RuntimeError::Setup("consumer gone during a rebalance".into()))?;
        self.inputs
            .iter()
            .enumerate()
            .map(|(input, name)| {
                let queue = consumer.split_partition_queue(name, partition).ok_or_else(|| {
                    RuntimeError::Setup(format!("cannot split the queue of {name}/{partition}"))
                })?;
                // Paused until the task has restored (see `on_assign`): the first fill round of
                // the running task resumes it.
                Ok(InputQueue { input, queue, paused: true })
            })
            .collect()
    }

    fn on_assign(&self, consumer: &BaseConsumer<Self>, partitions: &[i32]) -> KafkaResult<()> {
        let mut queues = Vec::with_capacity(partitions.len());
        for p in partitions {
            match self.split(*p) {
                Ok(q) => queues.push((*p, q)),
                Err(e) => self.fail(e),
            }
        }
        let tpl = self.expand(partitions);
        match consumer.rebalance_protocol() {
            RebalanceProtocol::Cooperative => consumer.incremental_assign(&tpl)?,
            _ => consumer.assign(&tpl)?,
        }
        // A restoring task's input is not fetched: records would only pile up in librdkafka's
        // queues (memory outside the budget) while the changelog is read.
        consumer.pause(&tpl)?;
        if let Ok(mut core) = self.core.lock() {
            core.assignment_received();
            for (p, q) in queues {
                core.assigned(p, q);
            }
        }
        tracing::info!(?partitions, "tasks assigned");
        Ok(())
    }

    fn on_revoke(&self, consumer: &BaseConsumer<Self>, partitions: &[i32]) -> KafkaResult<()> {
        let lost = consumer.assignment_lost();
        let result = match self.core.lock() {
            Ok(mut core) => core.revoke(consumer, partitions, lost),
            Err(_) => Err(RuntimeError::Setup("core lock poisoned".into())),
        };
        if let Err(e) = result {
            self.fail(e);
        }
        let tpl = self.expand(partitions);
        match consumer.rebalance_protocol() {
            RebalanceProtocol::Cooperative => consumer.incremental_unassign(&tpl)?,
            _ => consumer.unassign()?,
        }
        tracing::info!(?partitions, lost, "tasks revoked");
        Ok(())
    }
}

impl ClientContext for GroupContext {
    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        // End-of-partition events drive the ordering of a task's records; they are not errors.
        if !is_end_of_partition(&error) {
            tracing::error!(%error, reason, "librdkafka error");
        }
    }

    fn stats(&self, statistics: Statistics) {
        lag::publish(&self.metrics, &statistics, self.read_committed);
    }
}

/// End-of-partition events, per partition or forwarded to the main queue as a global error:
/// routine, never worth an error line.
pub(crate) fn is_end_of_partition(error: &rdkafka::error::KafkaError) -> bool {
    use rdkafka::error::KafkaError;
    use rdkafka::types::RDKafkaErrorCode;
    matches!(
        error,
        KafkaError::PartitionEOF(_) | KafkaError::Global(RDKafkaErrorCode::PartitionEOF)
    )
}

impl ConsumerContext for GroupContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let partitions = self.driver_partitions(tpl);
        let result = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                self.on_assign(consumer, &partitions)
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                self.on_revoke(consumer, &partitions)
            }
            other => {
                tracing::error!(error = ?other, "rebalance error; releasing the assignment");
                self.on_revoke(consumer, &partitions)
            }
        };
        if let Err(e) = result {
            self.fail(RuntimeError::kafka("applying a rebalance", e));
        }
    }
}
