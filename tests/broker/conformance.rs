//! What the broker under test does with aborted transactions.
//!
//! Exactly-once output rests on the broker hiding the records of aborted transactions from
//! read_committed readers. Apache Kafka, Confluent, Redpanda and MSK do. tansu 0.6.0, the
//! Kafka-protocol broker this suite can install here, does not (probed: a record produced in a
//! transaction that was then aborted is returned to a read_committed consumer), and neither does
//! librdkafka's mock cluster (its Fetch reply sets the last stable offset to the high watermark
//! and lists no aborted transactions). The suite probes once and asserts "nothing twice" only
//! where the broker can honour it.

use std::time::{Duration, Instant};

use invex_runtime::ReaderContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use crate::Stack;

/// Commits a record, aborts one, commits another; true if a read_committed reader then sees
/// exactly the two committed ones.
pub(crate) fn hides_aborted_records(stack: &Stack) -> Result<bool, String> {
    let topic = format!("{}probe", Stack::prefix("conformance"));
    let client = |extra: &[(&str, &str)]| {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &stack.bootstrap);
        for (k, v) in extra {
            config.set(*k, *v);
        }
        config
    };
    let producer: BaseProducer = client(&[("transactional.id", &topic)])
        .create()
        .map_err(|e| format!("probe producer: {e}"))?;
    let timeout = Duration::from_secs(30);
    producer.init_transactions(timeout).map_err(|e| e.to_string())?;
    for (value, commit) in [("committed-1", true), ("aborted", false), ("committed-2", true)] {
        producer.begin_transaction().map_err(|e| e.to_string())?;
        producer
            .send(BaseRecord::<(), str>::to(&topic).payload(value).partition(0))
            .map_err(|(e, _)| e.to_string())?;
        producer.flush(timeout).map_err(|e| e.to_string())?;
        let ended = if commit {
            producer.commit_transaction(timeout)
        } else {
            producer.abort_transaction(timeout)
        };
        ended.map_err(|e| e.to_string())?;
    }
    let consumer: BaseConsumer<ReaderContext> = client(&[
        ("group.id", &topic),
        ("isolation.level", "read_committed"),
        ("enable.partition.eof", "true"),
    ])
    .create_with_context(ReaderContext)
    .map_err(|e| format!("probe consumer: {e}"))?;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&topic, 0, Offset::Beginning).map_err(|e| e.to_string())?;
    consumer.assign(&tpl).map_err(|e| e.to_string())?;
    let mut seen = Vec::new();
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                seen.push(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned())
            }
            Some(Err(KafkaError::PartitionEOF(_))) => break,
            Some(Err(e)) => return Err(format!("probe read: {e}")),
            None => {}
        }
    }
    Ok(seen == ["committed-1", "committed-2"])
}
