//! The limit: a plain rdkafka consume-and-produce loop, no state and no decoding.
//!
//! It subscribes to every canonical topic under the prefix in one group, copies each record
//! (key and value) to `<prefix>passthrough.out` on the same partition, and commits every
//! commit interval: at-least-once flushes the producer then commits the offsets; transactional
//! sends the offsets to the open transaction and commits it, reading with read_committed, as
//! invex's exactly-once loop does. It runs as a child of the harness (`invex bench
//! passthrough`, hidden) until it is killed: the harness measures its CPU from outside.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use clap::Args;
use invex_runtime::Topics;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

use super::error::BenchError;
use super::input::{client, send};

/// Arguments of the hidden `invex bench passthrough` child.
#[derive(Debug, Args)]
pub(crate) struct PassthroughArgs {
    /// Bootstrap servers.
    #[arg(long)]
    bootstrap: String,
    /// Topic prefix of the input.
    #[arg(long)]
    prefix: String,
    /// Consumer group (and transactional id stem).
    #[arg(long)]
    group: String,
    /// Transactional (exactly-once) instead of at-least-once.
    #[arg(long)]
    transactional: bool,
    /// Commit interval in milliseconds.
    #[arg(long)]
    commit_ms: u64,
}

/// Name of the passthrough's output topic under `prefix`.
pub(crate) fn output_topic(prefix: &str) -> String {
    format!("{prefix}passthrough.out")
}

/// The child's main loop; returns only on a Kafka error.
pub(crate) fn run(args: PassthroughArgs) -> Result<(), BenchError> {
    let kafka = |what: &'static str| {
        move |e: KafkaError| BenchError::run("passthrough", format!("{what}: {e}"))
    };
    let mut consumer_config = client(&args.bootstrap);
    consumer_config
        .set("group.id", &args.group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000")
        .set(
            "isolation.level",
            if args.transactional { "read_committed" } else { "read_uncommitted" },
        );
    let consumer: BaseConsumer = consumer_config.create().map_err(kafka("consumer"))?;
    let mut producer_config = client(&args.bootstrap);
    producer_config.set("linger.ms", "5");
    if args.transactional {
        producer_config.set("transactional.id", format!("{}-txn", args.group));
    } else {
        producer_config.set("enable.idempotence", "true");
    }
    let producer: BaseProducer = producer_config.create().map_err(kafka("producer"))?;
    if args.transactional {
        producer.init_transactions(Duration::from_secs(30)).map_err(kafka("init"))?;
        producer.begin_transaction().map_err(kafka("begin"))?;
    }
    let topics = Topics::new(&args.prefix, "bench");
    let names: Vec<&str> = topics.inputs().iter().map(|(_, n)| n.as_str()).collect();
    consumer.subscribe(&names).map_err(kafka("subscribe"))?;
    let out = output_topic(&args.prefix);
    let interval = Duration::from_millis(args.commit_ms.max(1));
    let mut positions: BTreeMap<(String, i32), i64> = BTreeMap::new();
    let mut last_commit = Instant::now();
    loop {
        match consumer.poll(Duration::from_millis(50)) {
            Some(Ok(m)) => {
                let record = BaseRecord::<[u8], [u8]>::to(&out)
                    .key(m.key().unwrap_or_default())
                    .payload(m.payload().unwrap_or_default())
                    .partition(m.partition());
                send(&producer, record)?;
                positions.insert((m.topic().to_owned(), m.partition()), m.offset() + 1);
            }
            Some(Err(e)) => tracing::warn!(error = %e, "consumer error"),
            None => {}
        }
        if last_commit.elapsed() >= interval && !positions.is_empty() {
            commit(&consumer, &producer, &std::mem::take(&mut positions), args.transactional)?;
            last_commit = Instant::now();
        }
    }
}

fn commit(
    consumer: &BaseConsumer,
    producer: &BaseProducer,
    positions: &BTreeMap<(String, i32), i64>,
    transactional: bool,
) -> Result<(), BenchError> {
    let kafka = |what: &'static str| {
        move |e: KafkaError| BenchError::run("passthrough", format!("{what}: {e}"))
    };
    let mut tpl = TopicPartitionList::new();
    for ((topic, partition), offset) in positions {
        tpl.add_partition_offset(topic, *partition, Offset::Offset(*offset))
            .map_err(kafka("offsets"))?;
    }
    let timeout = Duration::from_secs(30);
    if transactional {
        let group = consumer.group_metadata().ok_or_else(|| {
            BenchError::run("passthrough", "no group metadata (not a group member yet)")
        })?;
        producer.send_offsets_to_transaction(&tpl, &group, timeout).map_err(kafka("offsets"))?;
        producer.commit_transaction(timeout).map_err(kafka("commit"))?;
        producer.begin_transaction().map_err(kafka("begin"))
    } else {
        // The same flush as invex's at-least-once commit, so neither pays rdkafka's 100 ms slices.
        invex_runtime::flush_producer(producer, timeout).map_err(kafka("flush"))?;
        consumer.commit(&tpl, CommitMode::Sync).map_err(kafka("commit"))
    }
}
