//! Shared helpers: a mock cluster with invex's topics, producing canonical events to known
//! partitions, running a processor until it has consumed a given number of records, reading
//! outputs back with read_committed, and computing the expected outputs with the test driver.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use invex_detect::testkit::TestDriver;
use invex_detect::{Engine, Policy};
use invex_model::{ActionCommand, CanonicalEvent, ExceptionRecord};
use invex_runtime::ReaderContext;
use invex_runtime::{
    Codec, Output, Processor, ProcessorHandle, RuntimeConfig, RuntimeError, SchemaSource, Topics,
    base_client_config,
};
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, DefaultProducerContext, Producer};
use rdkafka::{Offset, TopicPartitionList};

pub(crate) const APP: &str = "invex-test";

/// A cluster holding every topic of the detect processor: librdkafka's in-process mock, or a
/// real broker (with a schema registry) started by `tests/broker/stack`.
pub(crate) struct Cluster {
    /// Holds the mock cluster for the cluster's lifetime (none on a real broker); fault tests
    /// reach it through `mock_cluster`.
    pub(crate) _mock: Option<MockCluster<'static, DefaultProducerContext>>,
    pub(crate) bootstrap: String,
    pub(crate) topics: Topics,
    pub(crate) partitions: i32,
    /// Application id: consumer group, transactional ids and changelog names.
    pub(crate) app: String,
    pub(crate) schema: SchemaSource,
    pub(crate) codec: Codec,
}

impl Cluster {
    pub(crate) fn stores() -> Vec<&'static str> {
        Engine::store_names().iter().map(|s| s.as_str()).collect()
    }

    /// A processor configuration for this cluster (stable instance id: static membership and a
    /// stable transactional id).
    pub(crate) fn config(&self, state_dir: &std::path::Path) -> RuntimeConfig {
        let mut cfg = local_config(&self.bootstrap, &self.app, state_dir);
        cfg.topic_prefix = self.topics.prefix().to_owned();
        cfg.schema = self.schema.clone();
        cfg
    }

    pub(crate) fn client(&self) -> ClientConfig {
        base_client_config(&RuntimeConfig::for_local(&self.bootstrap, APP, ".".into()))
    }

    /// Partition the test puts a key on (FNV-1a mod partitions): known to the driver side.
    pub(crate) fn partition_of(&self, event: &CanonicalEvent) -> i32 {
        let key = event.partition_key().to_string();
        let mut h: u32 = 0x811c_9dc5;
        for b in key.bytes() {
            h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
        (h % self.partitions as u32) as i32
    }

    /// Produces `events` (Avro, Confluent framing) to their canonical topics, each to the
    /// partition [`Cluster::partition_of`] gives it.
    pub(crate) fn produce(&self, events: &[CanonicalEvent]) {
        self.produce_to(events, |event| Some(self.partition_of(event)));
    }

    /// Produces `events` to their canonical topics, each to the partition `partition` gives it
    /// (`None`: librdkafka's default partitioner chooses by key).
    pub(crate) fn produce_to(
        &self,
        events: &[CanonicalEvent],
        partition: impl Fn(&CanonicalEvent) -> Option<i32>,
    ) {
        let producer: BaseProducer =
            self.client().set("enable.idempotence", "true").create().expect("producer");
        let mut buf = Vec::new();
        for event in events {
            self.codec.encode_event(event, &mut buf).unwrap();
            let key = event.partition_key().to_string();
            let mut record =
                BaseRecord::to(self.topics.input(event.topic())).key(key.as_bytes()).payload(&buf);
            if let Some(p) = partition(event) {
                record = record.partition(p);
            }
            producer.send(record).map_err(|(e, _)| e).expect("send");
            producer.poll(Duration::ZERO);
        }
        producer.flush(Duration::from_secs(30)).expect("flush");
    }

    /// Produces raw bytes to a canonical topic (bad input).
    pub(crate) fn produce_raw(&self, topic: &str, partition: i32, key: &[u8], value: &[u8]) {
        let producer: BaseProducer = self.client().create().expect("producer");
        producer
            .send(BaseRecord::to(topic).key(key).payload(value).partition(partition))
            .map_err(|(e, _)| e)
            .expect("send");
        producer.flush(Duration::from_secs(30)).expect("flush");
    }

    /// Every record of `output`, read with read_committed from the beginning to the end.
    pub(crate) fn read_output(&self, output: Output) -> Vec<Record> {
        let name = self.topics.output(output);
        let inputs = self.topics.inputs().iter().map(|(_, topic)| topic.as_str());
        self.assert_mock_kept(inputs.chain([name.as_str()]));
        self.read_topic(&name)
    }

    /// On the mock cluster, fails when one of `topics` lost its oldest records. librdkafka's
    /// mock keeps at most 5 MiB or 100,000 message sets per partition and silently deletes the
    /// oldest beyond that (`rdkafka_mock.c`), so an input too large for it makes the processor
    /// and the driver disagree for a reason that is not invex's. Only inputs and the output
    /// compared are checked: a changelog losing its head loses records its keys' later records
    /// replace, and the restore tests assert their own outcome. A real broker is not checked:
    /// its retention is the deployment's setting.
    fn assert_mock_kept<'a>(&self, topics: impl Iterator<Item = &'a str>) {
        if self._mock.is_none() {
            return;
        }
        let client: BaseConsumer = self.client().create().expect("metadata client");
        let timeout = Duration::from_secs(10);
        for topic in topics {
            let metadata = client.fetch_metadata(Some(topic), timeout).expect("metadata");
            for partition in metadata.topics()[0].partitions().iter().map(|p| p.id()) {
                let (low, _) =
                    client.fetch_watermarks(topic, partition, timeout).expect("watermarks");
                assert_eq!(
                    low, 0,
                    "the mock cluster deleted the first {low} records of {topic} [{partition}]: \
                     the test's input is larger than the mock keeps (5 MiB or 100,000 message \
                     sets a partition)"
                );
            }
        }
    }

    /// Every record of topic `name`, read with read_committed from the beginning to the end.
    pub(crate) fn read_topic(&self, name: &str) -> Vec<Record> {
        let consumer: BaseConsumer<ReaderContext> = self
            .client()
            .set("group.id", "invex-test-reader")
            .set("isolation.level", "read_committed")
            .set("enable.partition.eof", "true")
            .create_with_context(ReaderContext)
            .expect("reader");
        let metadata = consumer.fetch_metadata(Some(name), Duration::from_secs(10)).unwrap();
        let partitions = metadata.topics()[0].partitions().len() as i32;
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions {
            tpl.add_partition_offset(name, p, Offset::Beginning).unwrap();
        }
        consumer.assign(&tpl).unwrap();
        let mut eof = 0;
        let mut records = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while eof < partitions && Instant::now() < deadline {
            match consumer.poll(Duration::from_millis(100)) {
                Some(Ok(m)) => records.push(Record::of(&m)),
                Some(Err(KafkaError::PartitionEOF(_))) => eof += 1,
                Some(Err(e)) => panic!("reading {name}: {e}"),
                None => {}
            }
        }
        assert_eq!(eof, partitions, "did not reach the end of {name}");
        records
    }

    /// The offset after the last record of every input partition once `events` are produced
    /// to empty topics.
    pub(crate) fn ends(&self, events: &[CanonicalEvent]) -> BTreeMap<(String, i32), i64> {
        let mut ends = BTreeMap::new();
        for event in events {
            let topic = self.topics.input(event.topic()).to_owned();
            *ends.entry((topic, self.partition_of(event))).or_insert(0) += 1;
        }
        ends
    }

    pub(crate) fn exceptions(&self) -> Vec<ExceptionRecord> {
        self.read_output(Output::Exceptions)
            .iter()
            .map(|r| self.codec.decode_output(Output::Exceptions, &r.value).unwrap())
            .collect()
    }

    pub(crate) fn actions(&self) -> Vec<ActionCommand> {
        self.read_output(Output::Actions)
            .iter()
            .map(|r| self.codec.decode_output(Output::Actions, &r.value).unwrap())
            .collect()
    }
}

/// A processor configuration for tests: static member `instance-0` (stable transactional id),
/// a short session timeout, embedded schemas, no prefix.
pub(crate) fn local_config(
    bootstrap: &str,
    app: &str,
    state_dir: &std::path::Path,
) -> RuntimeConfig {
    let mut cfg = RuntimeConfig::for_local(bootstrap, app, state_dir.to_path_buf());
    cfg.instance_id = Some("instance-0".into());
    cfg.kafka_properties.insert("session.timeout.ms".into(), "6000".into());
    cfg
}

/// One output record as read back.
pub(crate) struct Record {
    #[allow(
        dead_code,
        reason = "read by the integration tests; the broker suite shares this module"
    )]
    pub(crate) partition: i32,
    pub(crate) key: Option<Vec<u8>>,
    pub(crate) value: Vec<u8>,
    pub(crate) headers: BTreeMap<String, Vec<u8>>,
}

impl Record {
    fn of(m: &BorrowedMessage<'_>) -> Self {
        let headers = m
            .headers()
            .map(|h| {
                h.iter().map(|h| (h.key.to_owned(), h.value.unwrap_or_default().to_vec())).collect()
            })
            .unwrap_or_default();
        Self {
            partition: m.partition(),
            key: m.key().map(<[u8]>::to_vec),
            value: m.payload().unwrap_or_default().to_vec(),
            headers,
        }
    }

    /// A header as text (empty when absent).
    pub(crate) fn header(&self, name: &str) -> String {
        self.headers.get(name).map(|v| String::from_utf8_lossy(v).into_owned()).unwrap_or_default()
    }
}

/// A processor running on its own thread.
pub(crate) struct Running {
    pub(crate) handle: ProcessorHandle,
    pub(crate) thread: JoinHandle<Result<(), RuntimeError>>,
}

impl Running {
    pub(crate) fn start(cfg: RuntimeConfig) -> Self {
        log_to_test_output();
        let processor =
            Processor::new(cfg, Policy::default_policy()).unwrap().with_clock(Arc::new(|| 0));
        let handle = processor.handle();
        let thread = std::thread::spawn(move || {
            let result = processor.run();
            if let Err(error) = &result {
                eprintln!("the processor failed: {error}");
            }
            result
        });
        Self { handle, thread }
    }

    /// Waits until this instance has committed every record of `ends` (see [`Cluster::ends`]).
    pub(crate) fn wait_committed(&self, ends: &BTreeMap<(String, i32), i64>) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let committed = self.handle.metrics.committed.snapshot();
            if ends.iter().all(|(tp, end)| committed.get(tp).is_some_and(|o| o >= end)) {
                return;
            }
            assert!(Instant::now() < deadline, "committed {committed:?} of {ends:?}");
            assert!(!self.thread.is_finished(), "the processor stopped early");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the processor (commit, flush, leave the group) and returns its handle.
    pub(crate) fn stop(self) -> ProcessorHandle {
        self.handle.shutdown();
        self.thread.join().expect("processor thread").expect("processor result");
        self.handle
    }
}

/// Sends the processors' logs (warnings unless `INVEX_LOG` says otherwise) to the output of
/// the test that runs them, so a failing test shows what its processor reported.
fn log_to_test_output() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("INVEX_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _already_set =
        tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
}

/// Outputs the test driver produces for `events`, one driver per partition (as one task each).
pub(crate) fn expected(
    env: &Cluster,
    events: &[CanonicalEvent],
) -> (Vec<ExceptionRecord>, Vec<ActionCommand>) {
    let mut drivers: BTreeMap<i32, TestDriver> = BTreeMap::new();
    let mut exceptions = Vec::new();
    let mut actions = Vec::new();
    for event in events {
        let driver = drivers
            .entry(env.partition_of(event))
            .or_insert_with(|| TestDriver::new(Policy::default_policy()));
        driver.pipe(event.clone()).expect("the driver accepts every simulator event");
        exceptions.extend(driver.read_exceptions());
        actions.extend(driver.read_actions());
    }
    (exceptions, actions)
}

/// Events in the order a task processes them: per partition, by event time, ties by topic.
pub(crate) fn task_order(env: &Cluster, events: &[CanonicalEvent]) -> Vec<CanonicalEvent> {
    let rank = |t: invex_model::CanonicalTopic| {
        invex_model::CanonicalTopic::ALL.iter().position(|x| *x == t).unwrap_or(0)
    };
    let mut ordered = events.to_vec();
    ordered.sort_by_key(|e| (env.partition_of(e), e.header().event_time, rank(e.topic())));
    ordered
}

/// Asserts that `got` and `want` hold the same records (order across partitions is not
/// defined, content is), naming what is missing and what is extra, shortened.
pub(crate) fn assert_same<T: serde::Serialize>(what: &str, got: &[T], want: &[T]) {
    let (got, want) = (canonical(got), canonical(want));
    if got == want {
        return;
    }
    let missing: Vec<&String> = want.iter().filter(|w| !got.contains(w)).collect();
    let extra: Vec<&String> = got.iter().filter(|g| !want.contains(g)).collect();
    let short = |lines: &[&String]| -> String {
        lines.iter().take(3).map(|l| format!("\n    {}", &l[..l.len().min(400)])).collect()
    };
    panic!(
        "{what}: {} records, {} expected; {} missing, {} extra (or counts differ)\n  missing:{}\n  extra:{}",
        got.len(),
        want.len(),
        missing.len(),
        extra.len(),
        short(&missing),
        short(&extra)
    );
}

/// Sorted JSON lines: order across partitions is not defined, content is.
pub(crate) fn canonical<T: serde::Serialize>(records: &[T]) -> Vec<String> {
    let mut lines: Vec<String> =
        records.iter().map(|r| serde_json::to_string(r).unwrap()).collect();
    lines.sort();
    lines
}

/// A small seeded simulator run, events only (no responses to actions).
pub(crate) fn sim_events(seed: u64, skus: u32, hours: i64) -> Vec<CanonicalEvent> {
    sim_events_after(seed, skus, hours, 0)
}

/// Like [`sim_events`], starting `offset_hours` after the simulator's default start.
pub(crate) fn sim_events_after(
    seed: u64,
    skus: u32,
    hours: i64,
    offset_hours: i64,
) -> Vec<CanonicalEvent> {
    let defaults = invex_sim::SimConfig::default();
    let config = invex_sim::SimConfig {
        seed,
        sites: 1,
        skus_per_site: skus,
        duration_ms: hours * 3_600_000,
        start_time: defaults.start_time + offset_hours * 3_600_000,
        ..defaults
    };
    invex_sim::Simulator::new(config).unwrap().collect()
}
