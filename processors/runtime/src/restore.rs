//! Restoring a task's stores from their changelog topics.
//!
//! A task restores from its local checkpoint (the changelog offset its RocksDB is known to
//! include) to the end of the changelog before it processes a record. All stores of a task
//! restore together: their changelog partitions are assigned at once and each is done when the
//! consumer reports partition EOF. With `read_committed` the end is the last stable offset, so
//! records of aborted or still-open transactions are never restored. ListOffsets is not used
//! (some Kafka-protocol brokers answer it wrongly after multi-record batches). The restore
//! consumer does not long-poll (`fetch.wait.max.ms` is short): it only reads what exists.
//! An empty state directory restores everything; a warm one only the tail.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::base_consumer::PartitionQueue;
use rdkafka::consumer::{BaseConsumer, Consumer, DefaultConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use invex_state::{RestoreRecord, TaskStore};

use crate::error::RuntimeError;

const BATCH: usize = 10_000;
const STALL: Duration = Duration::from_secs(60);

/// A consumer used only to read changelogs (no group, read_committed, EOF events).
pub(crate) struct Restorer {
    consumer: Arc<BaseConsumer>,
}

/// One changelog partition being read.
struct Source<'a> {
    store: &'a str,
    queue: PartitionQueue<DefaultConsumerContext>,
    records: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    last_offset: i64,
    done: bool,
}

impl Restorer {
    pub(crate) fn new(base: &ClientConfig) -> Result<Self, RuntimeError> {
        let consumer: BaseConsumer = base
            .clone()
            .set("isolation.level", "read_committed")
            .set("enable.partition.eof", "true")
            .set("enable.auto.commit", "false")
            .set("fetch.wait.max.ms", "10")
            .set("group.id", "invex-restore-unused")
            .create()
            .map_err(|e| RuntimeError::kafka("creating the restore consumer", e))?;
        Ok(Self { consumer: Arc::new(consumer) })
    }

    /// Restores every `(store, changelog topic)` of `task` from partition `partition`; returns
    /// the number of records applied.
    pub(crate) fn restore(
        &self,
        task: &mut TaskStore,
        stores: &[(&str, String)],
        partition: i32,
    ) -> Result<u64, RuntimeError> {
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
        let result = self.drain(task, &mut sources, partition);
        drop(sources);
        let _ = self.consumer.unassign();
        result
    }

    fn drain(
        &self,
        task: &mut TaskStore,
        sources: &mut [Source<'_>],
        partition: i32,
    ) -> Result<u64, RuntimeError> {
        let mut restored = 0u64;
        let mut last_progress = Instant::now();
        while sources.iter().any(|s| !s.done) {
            let _ = self.consumer.poll(Duration::ZERO);
            let mut progressed = false;
            for source in sources.iter_mut().filter(|s| !s.done) {
                for _ in 0..BATCH {
                    match source.queue.poll(Duration::ZERO) {
                        Some(Ok(m)) => {
                            source.records.push((
                                m.key().unwrap_or_default().to_vec(),
                                m.payload().map(<[u8]>::to_vec),
                            ));
                            source.last_offset = m.offset();
                            progressed = true;
                        }
                        Some(Err(KafkaError::PartitionEOF(_))) => {
                            source.done = true;
                            progressed = true;
                            break;
                        }
                        Some(Err(e)) => {
                            return Err(RuntimeError::kafka(
                                format!("reading changelogs of task {partition}"),
                                e,
                            ));
                        }
                        None => break,
                    }
                }
                if source.records.len() >= BATCH || source.done {
                    restored += apply(task, source)?;
                }
            }
            if progressed {
                last_progress = Instant::now();
            } else if last_progress.elapsed() > STALL {
                return Err(RuntimeError::Setup(format!(
                    "restore of task {partition} made no progress for {}s",
                    STALL.as_secs()
                )));
            } else {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        Ok(restored)
    }
}

fn apply(task: &mut TaskStore, source: &mut Source<'_>) -> Result<u64, RuntimeError> {
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
