//! Restoring a task's stores from their changelog topics, a slice at a time.
//!
//! A task restores from its local checkpoint (the changelog offset its RocksDB is known to
//! include) to the end of the changelog before it processes a record. All stores of a task
//! restore together: their changelog partitions are assigned at once and each is done when the
//! consumer reports partition EOF. With `read_committed` the end is the last stable offset, so
//! records of aborted or still-open transactions are never restored. ListOffsets is not used
//! (some Kafka-protocol brokers answer it wrongly after multi-record batches). The restore
//! consumer does not long-poll (`fetch.wait.max.ms` is short): it only reads what exists.
//! An empty state directory restores everything; a warm one only the tail.
//!
//! Restoring is incremental ([`Restorer::advance`] works for at most a time budget and
//! returns) so the processing loop keeps serving the tasks that are ready, and the group's
//! rebalance callbacks, while a newly assigned task catches up: a long restore never blocks
//! ready tasks (the Kafka Streams failure where one restoring task stalls the whole thread).

use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::base_consumer::PartitionQueue;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use invex_state::{RestoreRecord, TaskStore};

use crate::error::RuntimeError;
use crate::reader::ReaderContext;

/// Records applied to RocksDB in one write batch.
const BATCH: usize = 10_000;

/// A consumer used only to read changelogs (no group, read_committed, EOF events).
pub(crate) struct Restorer {
    consumer: Arc<BaseConsumer<ReaderContext>>,
}

/// The changelog partitions of the task being restored.
pub(crate) struct Sources(Vec<Source>);

/// One changelog partition being read.
struct Source {
    store: &'static str,
    queue: PartitionQueue<ReaderContext>,
    records: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    last_offset: i64,
    done: bool,
}

/// What one [`Restorer::advance`] achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Advance {
    /// Records applied to the task's database.
    pub(crate) restored: u64,
    /// Whether any changelog made progress (records or end reached).
    pub(crate) progressed: bool,
    /// Every changelog has reached its end: the task may process.
    pub(crate) done: bool,
}

impl Restorer {
    pub(crate) fn new(base: &ClientConfig) -> Result<Self, RuntimeError> {
        let consumer: BaseConsumer<ReaderContext> = base
            .clone()
            .set("isolation.level", "read_committed")
            .set("enable.partition.eof", "true")
            .set("enable.auto.commit", "false")
            .set("fetch.wait.max.ms", "10")
            .set("group.id", "invex-restore-unused")
            .create_with_context(ReaderContext)
            .map_err(|e| RuntimeError::kafka("creating the restore consumer", e))?;
        Ok(Self { consumer: Arc::new(consumer) })
    }

    /// Assigns every `(store, changelog topic)` of the task on `partition`, each from the
    /// task's checkpoint. Only one task restores at a time: call [`Restorer::end`] first.
    pub(crate) fn begin(
        &self,
        task: &TaskStore,
        stores: &[(&'static str, String)],
        partition: i32,
    ) -> Result<Sources, RuntimeError> {
        let mut tpl = TopicPartitionList::new();
        let mut sources = Vec::with_capacity(stores.len());
        for (store, topic) in stores {
            let start = match task.checkpoint(store)? {
                Some(offset) => Offset::Offset(offset + 1),
                None => Offset::Beginning,
            };
            tpl.add_partition_offset(topic, partition, start)
                .map_err(|e| RuntimeError::kafka(format!("restoring {topic}/{partition}"), e))?;
            let queue = self.consumer.split_partition_queue(topic, partition).ok_or_else(|| {
                RuntimeError::Setup(format!("cannot split the queue of {topic}/{partition}"))
            })?;
            sources.push(Source {
                store,
                queue,
                records: Vec::new(),
                last_offset: -1,
                done: false,
            });
        }
        self.consumer.assign(&tpl).map_err(|e| {
            RuntimeError::kafka(format!("assigning changelogs of task {partition}"), e)
        })?;
        Ok(Sources(sources))
    }

    /// Reads and applies changelog records for about `budget`.
    pub(crate) fn advance(
        &self,
        task: &mut TaskStore,
        sources: &mut Sources,
        partition: i32,
        budget: Duration,
    ) -> Result<Advance, RuntimeError> {
        let started = Instant::now();
        let mut step = Advance { restored: 0, progressed: false, done: false };
        loop {
            let _ = self.consumer.poll(Duration::ZERO);
            let mut progressed = false;
            for source in sources.0.iter_mut().filter(|s| !s.done) {
                progressed |= source.read(partition)?;
                if source.records.len() >= BATCH || source.done {
                    step.restored += apply(task, source)?;
                }
            }
            step.progressed |= progressed;
            step.done = sources.0.iter().all(|s| s.done);
            if step.done || started.elapsed() >= budget {
                return Ok(step);
            }
            if !progressed {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }

    /// Releases the changelogs of the task that was restoring (done, revoked or failed).
    pub(crate) fn end(&self, sources: Sources) {
        drop(sources);
        let _ = self.consumer.unassign();
    }
}

impl Source {
    /// Moves what the queue holds into `records`; true if it read anything or reached the end.
    fn read(&mut self, partition: i32) -> Result<bool, RuntimeError> {
        let mut progressed = false;
        for _ in 0..BATCH {
            match self.queue.poll(Duration::ZERO) {
                Some(Ok(m)) => {
                    self.records.push((
                        m.key().unwrap_or_default().to_vec(),
                        m.payload().map(<[u8]>::to_vec),
                    ));
                    self.last_offset = m.offset();
                    progressed = true;
                }
                Some(Err(KafkaError::PartitionEOF(_))) => {
                    self.done = true;
                    return Ok(true);
                }
                Some(Err(e)) => {
                    return Err(RuntimeError::kafka(
                        format!("reading the {} changelog of task {partition}", self.store),
                        e,
                    ));
                }
                None => break,
            }
        }
        Ok(progressed)
    }
}

fn apply(task: &mut TaskStore, source: &mut Source) -> Result<u64, RuntimeError> {
    if source.records.is_empty() {
        return Ok(0);
    }
    let records: Vec<RestoreRecord<'_>> =
        source.records.iter().map(|(k, v)| RestoreRecord { key: k, value: v.as_deref() }).collect();
    task.restore_batch(source.store, &records, source.last_offset)?;
    let n = records.len() as u64;
    source.records.clear();
    Ok(n)
}
