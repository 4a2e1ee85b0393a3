//! The real-broker side of [`Cluster`]: topics under a prefix of the test's own, schemas in
//! the registry, and the group's committed offsets (how a test knows a run is complete: the
//! broker stores transactional offset commits, unlike librdkafka's mock cluster).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use invex_model::CanonicalEvent;
use invex_runtime::ReaderContext;
use invex_runtime::admin::{create_missing, detect_topics};
use invex_runtime::{Codec, RuntimeConfig, SchemaSource, Topics, base_client_config, resolver_for};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

use crate::support::{APP, Cluster};

impl Cluster {
    /// Topics under `prefix` on a real broker, schemas in the registry at `registry_url`
    /// (registered under the prefixed subjects) and an application id of its own: every test
    /// has its own topics, subjects and consumer group.
    pub(crate) fn broker(
        bootstrap: &str,
        registry_url: &str,
        prefix: &str,
        partitions: i32,
    ) -> Self {
        let app = format!("{prefix}{APP}");
        let topics = Topics::new(prefix, &app);
        let base = base_client_config(&RuntimeConfig::for_local(bootstrap, APP, ".".into()));
        create_missing(&base, &detect_topics(&topics, &Self::stores(), partitions, 2))
            .expect("creating the topics");
        let schema = SchemaSource::Registry {
            url: registry_url.to_owned(),
            timeout: Duration::from_secs(10),
        };
        let codec = Codec::new(resolver_for(&schema).expect("registry"), &topics)
            .expect("registering the schemas");
        let bootstrap = bootstrap.to_owned();
        Self { _mock: None, bootstrap, topics, partitions, app, schema, codec }
    }

    /// Produces `events` in one transaction: a read_committed consumer sees all of them at once,
    /// as it sees the output of an exactly-once upstream (the normalize processor). Records
    /// of several topics then become readable together, so a task orders them by event time
    /// exactly as the test driver does, even while it is running.
    pub(crate) fn produce_atomically(&self, events: &[CanonicalEvent]) {
        let producer: BaseProducer = self
            .client()
            .set("transactional.id", format!("{}-test-producer", self.app))
            .create()
            .expect("transactional producer");
        producer.init_transactions(Duration::from_secs(30)).expect("init transactions");
        producer.begin_transaction().expect("begin");
        let mut buf = Vec::new();
        for event in events {
            self.codec.encode_event(event, &mut buf).expect("encode");
            let key = event.partition_key().to_string();
            let record = BaseRecord::to(self.topics.input(event.topic()))
                .key(key.as_bytes())
                .payload(&buf)
                .partition(self.partition_of(event));
            producer.send(record).map_err(|(e, _)| e).expect("send");
            producer.poll(Duration::ZERO);
        }
        producer.commit_transaction(Duration::from_secs(30)).expect("commit");
    }

    /// The offset after the last data record of every input partition, read with
    /// read_committed to the end: unlike counting records, this is right when transaction
    /// markers take offsets too (and whether or not a broker writes them).
    pub(crate) fn ends_by_reading(&self) -> BTreeMap<(String, i32), i64> {
        let consumer: BaseConsumer<ReaderContext> = self
            .client()
            .set("group.id", format!("{}-ends", self.app))
            .set("isolation.level", "read_committed")
            .set("enable.partition.eof", "true")
            .create_with_context(ReaderContext)
            .expect("end reader");
        let mut tpl = TopicPartitionList::new();
        for (_, topic) in self.topics.inputs() {
            for partition in 0..self.partitions {
                tpl.add_partition_offset(topic, partition, Offset::Beginning).expect("assign");
            }
        }
        consumer.assign(&tpl).expect("assign");
        let mut ends = BTreeMap::new();
        let mut eof = 0;
        let deadline = Instant::now() + Duration::from_secs(60);
        while eof < tpl.count() {
            assert!(Instant::now() < deadline, "inputs not read to the end");
            match consumer.poll(Duration::from_millis(100)) {
                Some(Ok(m)) => {
                    ends.insert((m.topic().to_owned(), m.partition()), m.offset() + 1);
                }
                Some(Err(KafkaError::PartitionEOF(_))) => eof += 1,
                Some(Err(e)) => panic!("reading the inputs: {e}"),
                None => {}
            }
        }
        ends
    }

    /// The group's committed offsets of `ends`' partitions (-1 where none is committed).
    pub(crate) fn committed(
        &self,
        ends: &BTreeMap<(String, i32), i64>,
    ) -> BTreeMap<(String, i32), i64> {
        let consumer: BaseConsumer =
            self.client().set("group.id", &self.app).create().expect("offset reader");
        let mut tpl = TopicPartitionList::new();
        for (topic, partition) in ends.keys() {
            tpl.add_partition(topic, *partition);
        }
        let committed = consumer.committed_offsets(tpl, Duration::from_secs(10));
        let committed = committed.expect("reading committed offsets");
        ends.keys()
            .map(|(topic, partition)| {
                let offset = committed
                    .find_partition(topic, *partition)
                    .and_then(|e| e.offset().to_raw())
                    .unwrap_or(-1);
                ((topic.clone(), *partition), offset)
            })
            .collect()
    }

    /// True once the group has committed every record of `ends`.
    pub(crate) fn all_committed(&self, ends: &BTreeMap<(String, i32), i64>) -> bool {
        self.committed(ends).iter().all(|(tp, offset)| *offset >= ends[tp])
    }
}
