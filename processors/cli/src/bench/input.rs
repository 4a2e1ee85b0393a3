//! The benchmark input: the simulator's seeded events, encoded as invex reads them (Avro in the
//! Confluent frame, embedded schema ids), preloaded into the canonical topics of a fresh topic
//! prefix, and the group-offset check that tells when a consumer has finished it.
//!
//! Records go to explicit partitions (FNV-1a of the key modulo the partition count), so every
//! topic of one key agrees on the partition (co-partitioning, which invex and the peer both
//! need) and the end offset of every partition is known by counting: the preload producer is
//! idempotent and not transactional, so offsets are dense. ListOffsets is never asked (tansu
//! answers it wrongly after multi-record batches).

use std::collections::BTreeMap;
use std::time::Duration;

use invex_model::CanonicalEvent;
use invex_runtime::admin::{create_missing, detect_topics};
use invex_runtime::{Codec, SchemaSource, Topics, resolver_for};
use invex_sim::{SimConfig, Simulator};
use rdkafka::ClientConfig;
use rdkafka::TopicPartitionList;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

use super::error::BenchError;

/// Topic partition -> offset after its last record.
pub(crate) type Ends = BTreeMap<(String, i32), i64>;

/// Size of a simulated run.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub(crate) struct SimSize {
    /// Simulator seed.
    pub(crate) seed: u64,
    /// Sites.
    pub(crate) sites: u16,
    /// SKUs per site.
    pub(crate) skus: u32,
    /// Simulated hours.
    pub(crate) hours: u32,
}

/// The simulator's events for `size`, in event-time order.
pub(crate) fn sim_events(size: SimSize) -> Result<Vec<CanonicalEvent>, BenchError> {
    let config = SimConfig {
        seed: size.seed,
        sites: size.sites,
        skus_per_site: size.skus,
        duration_ms: i64::from(size.hours) * 3_600_000,
        ..SimConfig::default()
    };
    let simulator = Simulator::new(config).map_err(|e| BenchError::Setup(e.to_string()))?;
    Ok(simulator.collect())
}

/// Partition of a key: FNV-1a modulo `partitions`.
pub(crate) fn partition_of(key: &str, partitions: i32) -> i32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in key.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    (h % partitions.max(1) as u32) as i32
}

/// librdkafka settings of the harness's own clients.
pub(crate) fn client(bootstrap: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap);
    c
}

/// An encoder for the canonical topics under `prefix`, its schemas registered (under the
/// prefixed subjects) in the registry at `registry`, as `invex run` reads them.
pub(crate) fn codec(prefix: &str, registry: &str) -> Result<Codec, BenchError> {
    let source =
        SchemaSource::Registry { url: registry.to_owned(), timeout: Duration::from_secs(10) };
    let resolver = resolver_for(&source).map_err(|e| BenchError::Setup(e.to_string()))?;
    Codec::new(resolver, &Topics::new(prefix, "bench"))
        .map_err(|e| BenchError::Setup(e.to_string()))
}

/// Creates the canonical input and output topics under `prefix`, plus `extra` topics with the
/// same partition count.
pub(crate) fn create_topics(
    bootstrap: &str,
    prefix: &str,
    partitions: i32,
    extra: &[String],
) -> Result<(), BenchError> {
    let topics = Topics::new(prefix, "bench");
    // Canonical inputs and outputs only: the repartition topics belong to an application and
    // come with `create_app_topics`.
    let mut specs: Vec<_> = detect_topics(&topics, &[], partitions, partitions)
        .into_iter()
        .filter(|spec| !spec.co_partitioned || topics.canonical(&spec.name).is_some())
        .collect();
    for name in extra {
        let mut spec = specs[0].clone();
        spec.name.clone_from(name);
        specs.push(spec);
    }
    create_missing(&client(bootstrap), &specs).map_err(|e| BenchError::Setup(e.to_string()))?;
    Ok(())
}

/// Creates the changelog and repartition topics of invex application `app` under `prefix`.
pub(crate) fn create_app_topics(
    bootstrap: &str,
    prefix: &str,
    app: &str,
    partitions: i32,
) -> Result<(), BenchError> {
    let stores: Vec<&str> =
        invex_detect::Engine::store_names().iter().map(|s| s.as_str()).collect();
    let specs = detect_topics(&Topics::new(prefix, app), &stores, partitions, partitions);
    create_missing(&client(bootstrap), &specs).map_err(|e| BenchError::Setup(e.to_string()))?;
    Ok(())
}

/// Produces `events` to the canonical topics under `prefix`; returns the end offsets.
pub(crate) fn preload(
    bootstrap: &str,
    registry: &str,
    prefix: &str,
    partitions: i32,
    events: &[CanonicalEvent],
) -> Result<Ends, BenchError> {
    let setup = |e: rdkafka::error::KafkaError| BenchError::Setup(format!("preload: {e}"));
    let producer: BaseProducer = client(bootstrap)
        .set("enable.idempotence", "true")
        .set("linger.ms", "20")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .map_err(setup)?;
    let codec = codec(prefix, registry)?;
    let topics = Topics::new(prefix, "bench");
    let mut ends = Ends::new();
    let mut buf = Vec::new();
    for event in events {
        codec.encode_event(event, &mut buf).map_err(|e| BenchError::Setup(e.to_string()))?;
        let key = event.partition_key().to_string();
        let topic = topics.input(event.topic());
        let partition = partition_of(&key, partitions);
        send(
            &producer,
            BaseRecord::to(topic).key(key.as_str()).payload(buf.as_slice()).partition(partition),
        )?;
        *ends.entry((topic.to_owned(), partition)).or_insert(0) += 1;
    }
    producer.flush(Duration::from_secs(120)).map_err(setup)?;
    Ok(ends)
}

/// Sends one record, waiting while the local queue is full.
pub(crate) fn send<K, P>(
    producer: &BaseProducer,
    mut record: BaseRecord<'_, K, P>,
) -> Result<(), BenchError>
where
    K: rdkafka::message::ToBytes + ?Sized,
    P: rdkafka::message::ToBytes + ?Sized,
{
    loop {
        match producer.send(record) {
            Ok(()) => {
                producer.poll(Duration::ZERO);
                return Ok(());
            }
            Err((
                rdkafka::error::KafkaError::MessageProduction(
                    rdkafka::types::RDKafkaErrorCode::QueueFull,
                ),
                r,
            )) => {
                producer.poll(Duration::from_millis(10));
                record = r;
            }
            Err((e, _)) => return Err(BenchError::Setup(format!("producing: {e}"))),
        }
    }
}

/// The partitions of `ends` whose topic is one of `topics` (canonical names) under `prefix`.
pub(crate) fn only(ends: &Ends, prefix: &str, topics: &[&str]) -> Ends {
    ends.iter()
        .filter(|((t, _), _)| topics.iter().any(|name| t.strip_prefix(prefix) == Some(*name)))
        .map(|(tp, n)| (tp.clone(), *n))
        .collect()
}

/// Reads the committed offsets of a consumer group.
pub(crate) struct GroupOffsets {
    consumer: BaseConsumer,
    tpl: TopicPartitionList,
    ends: Ends,
}

impl GroupOffsets {
    /// A reader of `group`'s offsets on the partitions of `ends`.
    pub(crate) fn new(bootstrap: &str, group: &str, ends: &Ends) -> Result<Self, BenchError> {
        let consumer: BaseConsumer = client(bootstrap)
            .set("group.id", group)
            .create()
            .map_err(|e| BenchError::Setup(format!("offset reader: {e}")))?;
        let mut tpl = TopicPartitionList::new();
        for (topic, partition) in ends.keys() {
            tpl.add_partition(topic, *partition);
        }
        Ok(Self { consumer, tpl, ends: ends.clone() })
    }

    /// Records committed so far, summed over the partitions (each capped at its end).
    pub(crate) fn committed(&self) -> i64 {
        let Ok(committed) =
            self.consumer.committed_offsets(self.tpl.clone(), Duration::from_secs(5))
        else {
            return 0;
        };
        self.ends
            .iter()
            .map(|((topic, partition), end)| {
                let offset = committed
                    .find_partition(topic, *partition)
                    .and_then(|e| e.offset().to_raw())
                    .unwrap_or(0);
                offset.clamp(0, *end)
            })
            .sum()
    }

    /// Records in `ends`.
    pub(crate) fn total(&self) -> i64 {
        self.ends.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_of_is_stable_and_in_range() {
        for key in ["acme|DC1|SKU-1", "acme|DC1|SKU-2", ""] {
            let p = partition_of(key, 4);
            assert!((0..4).contains(&p));
            assert_eq!(p, partition_of(key, 4));
            assert_eq!(partition_of(key, 1), 0);
        }
        assert_ne!(partition_of("a", 1 << 20), partition_of("b", 1 << 20));
    }

    #[test]
    fn only_keeps_named_topics_under_the_prefix() {
        let ends: Ends = [
            (("p.wh.count".to_owned(), 0), 3),
            (("p.wh.count".to_owned(), 1), 4),
            (("p.wh.scan".to_owned(), 0), 10),
            (("q.wh.count".to_owned(), 0), 100),
        ]
        .into_iter()
        .collect();
        let sum = |topics: &[&str]| only(&ends, "p.", topics).values().sum::<i64>();
        assert_eq!(sum(&["wh.count"]), 7);
        assert_eq!(sum(&["wh.count", "wh.scan"]), 17);
        assert_eq!(sum(&[]), 0);
    }
}
