//! The processing core: tasks, the open batch, and commit/abort.
//!
//! Invariants:
//! - Under exactly-once, every output, dead letter and changelog record of a batch and the
//!   batch's input offsets commit in ONE Kafka transaction; only after `commit_transaction`
//!   succeeds is each task's overlay applied to RocksDB (with the changelog checkpoint). A
//!   failed or aborted batch leaves neither Kafka nor local state changed, and the consumer is
//!   rewound to the group's committed offsets.
//! - Under at-least-once, outputs and changelog records are flushed, then offsets committed,
//!   then local state: a crash repeats work, never loses it.
//! - A task processes nothing before its restore completed.
//!
//! The core is shared with the rebalance callback (it runs inside `poll`, on the same thread)
//! so that revoked tasks commit and close before their partitions go to another instance.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use invex_detect::{DetectError, Engine, Outputs, Policy};
use invex_model::{CanonicalEvent, CanonicalTopic, ErrorClass};
use invex_state::{SharedResources, StoreConfig};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::producer::Producer;
use rdkafka::{Offset, TopicPartitionList};

use crate::ordering::Buffered;
use crate::rebalance::GroupContext;
use crate::task::InputQueue;

use crate::config::{Guarantee, LateRecords, RuntimeConfig};
use crate::error::RuntimeError;
use crate::fencing::FencingBudget;
use crate::metrics::Metrics;
use crate::restore::Restorer;
use crate::restoring::{Opener, Restoring};
use crate::sink::{DeadLetter, ProducerFactory, Sink};
use crate::store::TaskStorePort;
use crate::task::{Task, key_matches};

/// The group consumer.
pub(crate) type GroupConsumer = BaseConsumer<GroupContext>;

/// Records a topic partition may buffer before it is paused (resumed below half of it).
const MAX_BUFFERED: usize = 2_000;
/// Records read from one partition queue per fill round.
const FILL_ROUND: usize = 500;
use crate::topics::Topics;

const TXN_TIMEOUT: Duration = Duration::from_secs(30);
const PROCESSOR: &str = "detect";

/// Source of wall-clock time (UTC ms); injected so tests can pin it.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
    })
}

struct Batch {
    started: Instant,
    records: usize,
}

/// Tasks, the open batch and the writer of one instance.
pub(crate) struct Core {
    cfg: Arc<RuntimeConfig>,
    topics: Topics,
    policy: Arc<Policy>,
    sink: Sink,
    restorer: Restorer,
    shared: SharedResources,
    store_cfg: StoreConfig,
    store_names: Vec<&'static str>,
    changelogs: Vec<(&'static str, String)>,
    tasks: BTreeMap<i32, Task>,
    restoring: Restoring,
    /// Whether the group has given this instance an assignment yet (possibly empty).
    assignment_seen: bool,
    batch: Option<Batch>,
    outputs: Outputs,
    pub(crate) fatal: Option<RuntimeError>,
    metrics: Metrics,
    clock: Clock,
    new_producer: ProducerFactory,
    fencing: FencingBudget,
}

/// Everything `Core::new` needs.
pub(crate) struct CoreParts {
    pub(crate) cfg: Arc<RuntimeConfig>,
    pub(crate) topics: Topics,
    pub(crate) policy: Arc<Policy>,
    pub(crate) sink: Sink,
    pub(crate) restorer: Restorer,
    pub(crate) shared: SharedResources,
    pub(crate) metrics: Metrics,
    pub(crate) clock: Clock,
    pub(crate) new_producer: ProducerFactory,
}

impl Core {
    pub(crate) fn new(parts: CoreParts) -> Self {
        let store_cfg = StoreConfig::new(&parts.cfg.state_dir, &parts.cfg.application_id);
        let store_names: Vec<&'static str> =
            Engine::store_names().iter().map(|s| s.as_str()).collect();
        let changelogs = store_names.iter().map(|s| (*s, parts.topics.changelog(s))).collect();
        Self {
            cfg: parts.cfg,
            topics: parts.topics,
            policy: parts.policy,
            sink: parts.sink,
            restorer: parts.restorer,
            shared: parts.shared,
            store_cfg,
            store_names,
            changelogs,
            tasks: BTreeMap::new(),
            restoring: Restoring::default(),
            assignment_seen: false,
            batch: None,
            outputs: Outputs::default(),
            fatal: None,
            metrics: parts.metrics,
            clock: parts.clock,
            new_producer: parts.new_producer,
            fencing: FencingBudget::default(),
        }
    }

    fn exactly_once(&self) -> bool {
        self.cfg.guarantee == Guarantee::ExactlyOnce
    }

    /// The group has assigned partitions to this instance (possibly none: more instances than
    /// partitions); readiness waits for this.
    pub(crate) fn assignment_received(&mut self) {
        self.assignment_seen = true;
    }

    /// A partition number newly assigned, with its input queues: it restores before it
    /// processes.
    pub(crate) fn assigned(&mut self, partition: i32, queues: Vec<InputQueue>) {
        if !self.tasks.contains_key(&partition) {
            self.restoring.assigned(partition, queues);
        }
        self.metrics.tasks_restoring.set(self.restoring.len() as i64);
    }

    /// Restores for about `budget`, then starts the task that finished, if one did.
    pub(crate) fn restore_step(&mut self, budget: Duration) -> Result<(), RuntimeError> {
        let opener = Opener {
            store_cfg: &self.store_cfg,
            shared: &self.shared,
            changelogs: &self.changelogs,
        };
        if let Some(done) = self.restoring.step(&self.restorer, &opener, &self.metrics, budget)? {
            let task = Task::new(done.partition, done.store, Arc::clone(&self.policy), done.queues);
            self.tasks.insert(done.partition, task);
        }
        self.metrics.tasks_restoring.set(self.restoring.len() as i64);
        self.metrics.tasks_running.set(self.tasks.len() as i64);
        Ok(())
    }

    /// True when some task runs (restores then get short slices so it keeps processing).
    pub(crate) fn has_running_tasks(&self) -> bool {
        !self.tasks.is_empty()
    }

    /// Publishes the RocksDB properties of every task database as gauges.
    pub(crate) fn publish_state_metrics(&self) {
        let properties: Vec<_> = self
            .tasks
            .values()
            .filter_map(|task| match task.store.properties() {
                Ok(p) => Some(p),
                Err(error) => {
                    tracing::warn!(partition = task.partition, %error, "reading RocksDB properties");
                    None
                }
            })
            .collect();
        self.metrics.state.set(&properties);
    }

    /// True once the group has assigned this instance its partitions and every one of them
    /// has restored (before the first assignment nothing is known to be ready).
    pub(crate) fn ready(&self) -> bool {
        self.assignment_seen && self.restoring.is_empty()
    }

    fn begin(&mut self) -> Result<(), RuntimeError> {
        if self.batch.is_none() {
            if self.exactly_once() {
                self.sink
                    .producer
                    .begin_transaction()
                    .map_err(|e| transaction_error("beginning a transaction", e))?;
            }
            self.batch = Some(Batch { started: Instant::now(), records: 0 });
        }
        Ok(())
    }

    /// Whether the open batch should commit now.
    pub(crate) fn batch_due(&self) -> bool {
        self.batch.as_ref().is_some_and(|b| {
            b.records >= self.cfg.max_batch_records
                || b.started.elapsed() >= self.cfg.commit_interval
        })
    }

    /// Reads what the consumer has fetched into the tasks' buffers, decoding as it goes;
    /// pauses partitions whose buffer is full and resumes them once it drained.
    pub(crate) fn fill(&mut self, consumer: &GroupConsumer) -> Result<usize, RuntimeError> {
        let mut read = 0;
        for task in self.tasks.values_mut() {
            for input in &mut task.queues {
                for _ in 0..FILL_ROUND {
                    match input.queue.poll(Duration::ZERO) {
                        Some(Ok(msg)) => {
                            let record = decode(&self.sink, input.topic, &msg);
                            task.group.push(input.topic, record);
                            read += 1;
                        }
                        Some(Err(KafkaError::PartitionEOF(_))) => {
                            task.group.caught_up(input.topic);
                            break;
                        }
                        Some(Err(e)) => {
                            tracing::warn!(error = %e, topic = ?input.topic, "partition error (librdkafka retries)");
                            break;
                        }
                        None => break,
                    }
                }
                let name = self.topics.input(input.topic);
                throttle(
                    consumer,
                    name,
                    task.partition,
                    task.group.buffered(input.topic),
                    &mut input.paused,
                )?;
            }
        }
        Ok(read)
    }

    /// Processes every record the tasks may process now, in event-time order per task, up to
    /// the batch's record limit.
    pub(crate) fn process_ready(&mut self) -> Result<usize, RuntimeError> {
        let now = Instant::now();
        let partitions: Vec<i32> = self.tasks.keys().copied().collect();
        let mut processed = 0;
        for partition in partitions {
            while processed < self.cfg.max_batch_records {
                let Some(task) = self.tasks.get_mut(&partition) else { break };
                let Some((topic, record)) = task.group.next(now, self.cfg.max_task_idle) else {
                    break;
                };
                self.process(partition, topic, record)?;
                processed += 1;
            }
        }
        Ok(processed)
    }

    /// Processes one buffered record inside the open batch.
    fn process(
        &mut self,
        partition: i32,
        topic: CanonicalTopic,
        record: Buffered,
    ) -> Result<(), RuntimeError> {
        self.begin()?;
        let started = Instant::now();
        let name = self.topics.input(topic);
        let offset = record.offset();
        let now = (self.clock)();
        let task = self
            .tasks
            .get_mut(&partition)
            .ok_or_else(|| RuntimeError::Setup("task vanished".into()))?;
        task.positions.insert(topic, offset + 1);
        task.last_source.clear();
        let _ = write!(task.last_source, "{name}@{offset}");
        let verdict = match record {
            Buffered::Event { event, .. } => {
                let stream_time = task.engine.stream_time();
                let lateness = stream_time.map_or(0, |st| st - event.header().event_time);
                self.metrics.record_lateness.observe(lateness.max(0) as f64 / 1_000.0);
                if self.cfg.late_records == LateRecords::DeadLetter
                    && lateness > self.cfg.grace.as_millis() as i64
                {
                    let message = format!(
                        "event time {} is {lateness} ms behind stream time {} (grace {} ms)",
                        event.header().event_time,
                        stream_time.unwrap_or_default(),
                        self.cfg.grace.as_millis()
                    );
                    Some(dead_event(&self.sink, offset, &event, ErrorClass::Late, message))
                } else {
                    let mut port = TaskStorePort(&mut task.store);
                    match task.engine.process(&event, now, &mut port, &mut self.outputs) {
                        Ok(outcome) => {
                            if outcome.duplicate {
                                self.metrics.duplicates.inc();
                            }
                            None
                        }
                        Err(e) if e.is_poison() => Some(dead_event(
                            &self.sink,
                            offset,
                            &event,
                            ErrorClass::Processing,
                            e.to_string(),
                        )),
                        Err(e) => return Err(detect_failure(e)),
                    }
                }
            }
            dead @ Buffered::Dead { .. } => Some(dead),
        };
        if let Some(b) = self.batch.as_mut() {
            b.records += 1;
        }
        self.metrics.records_in.inc();
        let result = match verdict {
            None => self.sink.emit(&mut self.outputs),
            Some(Buffered::Dead { timestamp, key, value, class, message, schema_id, .. }) => {
                self.outputs.clear();
                tracing::warn!(topic = name, partition, offset, ?class, error = %message, "record dead-lettered");
                let dead = DeadLetter {
                    topic: name,
                    partition,
                    offset,
                    timestamp,
                    key: key.as_deref(),
                    value: value.as_deref(),
                    class,
                    message,
                    schema_id,
                };
                self.sink.dead_letter(dead, PROCESSOR, now)
            }
            Some(Buffered::Event { .. }) => Ok(()),
        };
        self.metrics.process_latency.observe(started.elapsed().as_secs_f64());
        result
    }

    /// Fires wall-clock timers of every running task.
    pub(crate) fn tick(&mut self) -> Result<(), RuntimeError> {
        if self.tasks.is_empty() {
            return Ok(());
        }
        self.begin()?;
        let now = (self.clock)();
        for task in self.tasks.values_mut() {
            let mut port = TaskStorePort(&mut task.store);
            task.engine.on_wall_clock(now, &mut port, &mut self.outputs).map_err(detect_failure)?;
        }
        self.sink.emit(&mut self.outputs)
    }

    /// Commits the open batch; on an abortable failure aborts it and rewinds.
    pub(crate) fn commit(&mut self, consumer: &GroupConsumer) -> Result<(), RuntimeError> {
        if self.batch.is_none() {
            return Ok(());
        }
        let started = Instant::now();
        match self.try_commit(consumer) {
            Ok(()) => {
                self.batch = None;
                self.metrics.transactions.with_label_values(&["commit"]).inc();
                self.metrics.commit_latency.observe(started.elapsed().as_secs_f64());
                Ok(())
            }
            Err(Failure::Abort(reason)) => {
                tracing::warn!(%reason, "aborting the open transaction");
                self.abort(consumer)
            }
            Err(Failure::Stop(e)) => Err(e),
        }
    }

    fn try_commit(&mut self, consumer: &GroupConsumer) -> Result<(), Failure> {
        for task in self.tasks.values_mut() {
            let records = task.store.take_changelog();
            let names = &self.store_names;
            self.sink
                .changelog(
                    task.partition,
                    |s| names.iter().position(|n| *n == s),
                    &records,
                    &task.last_source,
                )
                .map_err(Failure::Stop)?;
        }
        self.sink.producer.flush(TXN_TIMEOUT).map_err(|e| Failure::Abort(format!("flush: {e}")))?;
        let delivered = self.sink.producer.context().take();
        if let Some(e) = delivered.failure {
            return Err(Failure::Abort(format!("delivery failed: {e}")));
        }
        let offsets = self.offsets().map_err(Failure::Stop)?;
        if self.exactly_once() {
            self.commit_transaction(consumer, &offsets)?;
        } else if offsets.count() > 0 {
            consumer
                .commit(&offsets, rdkafka::consumer::CommitMode::Sync)
                .map_err(|e| Failure::Abort(format!("offset commit: {e}")))?;
        }
        self.metrics.committed.record(&offsets);
        for task in self.tasks.values_mut() {
            let checkpoints: Vec<(&str, i64)> = delivered
                .changelog
                .iter()
                .filter(|((_, p), _)| *p == task.partition)
                .map(|((store, _), offset)| (self.store_names[*store], *offset))
                .collect();
            task.store.commit(&checkpoints).map_err(|e| Failure::Stop(e.into()))?;
            task.positions.clear();
        }
        Ok(())
    }

    fn commit_transaction(
        &self,
        consumer: &GroupConsumer,
        offsets: &TopicPartitionList,
    ) -> Result<(), Failure> {
        let producer = &self.sink.producer;
        if offsets.count() > 0 {
            let metadata = consumer.group_metadata().ok_or_else(|| {
                Failure::Stop(RuntimeError::Setup("consumer has no group metadata".into()))
            })?;
            producer
                .send_offsets_to_transaction(offsets, &metadata, TXN_TIMEOUT)
                .map_err(|e| classify(e, "sending offsets to the transaction"))?;
        }
        let mut attempts = 0;
        loop {
            match producer.commit_transaction(TXN_TIMEOUT) {
                Ok(()) => return Ok(()),
                Err(KafkaError::Transaction(e)) if e.is_retriable() && attempts < 5 => {
                    attempts += 1
                }
                Err(e) => return Err(classify(e, "committing the transaction")),
            }
        }
    }

    fn offsets(&self) -> Result<TopicPartitionList, RuntimeError> {
        let mut tpl = TopicPartitionList::new();
        for task in self.tasks.values() {
            for (topic, next) in &task.positions {
                tpl.add_partition_offset(
                    self.topics.input(*topic),
                    task.partition,
                    Offset::Offset(*next),
                )
                .map_err(|e| RuntimeError::kafka("building offsets", e))?;
            }
        }
        Ok(tpl)
    }

    /// Aborts the open batch: Kafka transaction, overlays and engine caches; rewinds the
    /// consumer to the group's committed offsets.
    pub(crate) fn abort(&mut self, consumer: &GroupConsumer) -> Result<(), RuntimeError> {
        self.batch = None;
        self.outputs.clear();
        if self.exactly_once() {
            self.sink
                .producer
                .abort_transaction(TXN_TIMEOUT)
                .map_err(|e| transaction_error("aborting the transaction", e))?;
        }
        let _ = self.sink.producer.context().take();
        for task in self.tasks.values_mut() {
            task.discard_batch(Arc::clone(&self.policy));
        }
        self.metrics.transactions.with_label_values(&["abort"]).inc();
        self.rewind(consumer)
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
            task.discard_batch(Arc::clone(&self.policy));
        }
        self.sink.producer = (self.new_producer)()?;
        self.metrics.producer_rebuilds.inc();
        self.rewind(consumer)
    }

    fn rewind(&mut self, consumer: &GroupConsumer) -> Result<(), RuntimeError> {
        let mut tpl = TopicPartitionList::new();
        for partition in self.tasks.keys() {
            for (_, name) in self.topics.inputs() {
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
                let name = self.topics.input(input.topic);
                throttle(consumer, name, task.partition, 0, &mut input.paused)?;
            }
        }
        Ok(())
    }

    /// Partitions revoked: commit (or abort when the assignment was lost), then close their tasks.
    pub(crate) fn revoke(
        &mut self,
        consumer: &GroupConsumer,
        partitions: &[i32],
        lost: bool,
    ) -> Result<(), RuntimeError> {
        if lost {
            self.abort(consumer)?;
        } else {
            self.commit(consumer)?;
        }
        for p in partitions {
            self.restoring.revoked(&self.restorer, *p);
            if let Some(task) = self.tasks.remove(p) {
                task.store.flush()?;
            }
        }
        self.metrics.tasks_running.set(self.tasks.len() as i64);
        Ok(())
    }

    /// Commits and closes everything (shutdown).
    pub(crate) fn close(&mut self, consumer: &GroupConsumer) -> Result<(), RuntimeError> {
        self.commit(consumer)?;
        self.restoring.clear(&self.restorer);
        for (_, task) in std::mem::take(&mut self.tasks) {
            task.store.flush()?;
        }
        self.metrics.tasks_running.set(0);
        Ok(())
    }
}

enum Failure {
    Abort(String),
    Stop(RuntimeError),
}

/// A decoded event that goes to the DLQ: its value is re-encoded (the same schema, so the
/// same bytes a consumer of the input topic would decode) since the read buffer is gone.
fn dead_event(
    sink: &Sink,
    offset: i64,
    event: &CanonicalEvent,
    class: ErrorClass,
    message: String,
) -> Buffered {
    let mut value = Vec::new();
    let value = sink.codec().encode_event(event, &mut value).ok().map(|()| value);
    // Confluent framing: magic byte 0, then the schema id big-endian.
    let schema_id = value
        .as_deref()
        .and_then(|v| v.get(1..5))
        .and_then(|id| <[u8; 4]>::try_from(id).ok())
        .map(u32::from_be_bytes);
    Buffered::Dead {
        offset,
        timestamp: Some(event.header().event_time),
        key: Some(event.partition_key().to_string().into_bytes()),
        value,
        class,
        message,
        schema_id,
    }
}

/// Decodes a fetched record, or turns it into a dead letter saying why it cannot be used.
fn decode(sink: &Sink, topic: CanonicalTopic, msg: &BorrowedMessage<'_>) -> Buffered {
    let dead = |class, message, schema_id| Buffered::Dead {
        offset: msg.offset(),
        timestamp: msg.timestamp().to_millis(),
        key: msg.key().map(<[u8]>::to_vec),
        value: msg.payload().map(<[u8]>::to_vec),
        class,
        message,
        schema_id,
    };
    let event = loop {
        match sink.codec().decode(topic, msg.payload()) {
            Ok(event) => break event,
            Err(e) if e.is_transient() => {
                tracing::warn!(error = %e, "schema registry unavailable, retrying in 1s");
                std::thread::sleep(Duration::from_secs(1));
            }
            Err(e) => {
                let schema_id = e.schema_id();
                return dead(ErrorClass::Deserialization, e.to_string(), schema_id);
            }
        }
    };
    let header = event.header();
    let key = msg.key().unwrap_or_default();
    if !key_matches(key, &header.tenant_id, &header.site_id, event.sku()) {
        let message = format!(
            "record key {:?} is not tenant|site|sku of its value ({}|{}|{}); canonical topics must be keyed by it",
            String::from_utf8_lossy(key),
            header.tenant_id,
            header.site_id,
            event.sku()
        );
        return dead(ErrorClass::Validation, message, None);
    }
    Buffered::Event { offset: msg.offset(), event }
}

/// Pauses a partition whose buffer is full, resumes it once it has drained below half.
fn throttle(
    consumer: &GroupConsumer,
    topic: &str,
    partition: i32,
    buffered: usize,
    paused: &mut bool,
) -> Result<(), RuntimeError> {
    let change = if !*paused && buffered >= MAX_BUFFERED {
        Some(true)
    } else if *paused && buffered < MAX_BUFFERED / 2 {
        Some(false)
    } else {
        None
    };
    let Some(pause) = change else { return Ok(()) };
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(topic, partition);
    let result = if pause { consumer.pause(&tpl) } else { consumer.resume(&tpl) };
    result
        .map_err(|e| RuntimeError::kafka(format!("pausing or resuming {topic}/{partition}"), e))?;
    *paused = pause;
    Ok(())
}

fn detect_failure(e: DetectError) -> RuntimeError {
    RuntimeError::Detect(e.to_string())
}

fn is_fenced(e: &KafkaError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::ProducerFenced
                | RDKafkaErrorCode::InvalidProducerEpoch
                | RDKafkaErrorCode::Fenced
        )
    )
}

fn classify(e: KafkaError, context: &str) -> Failure {
    match &e {
        _ if is_fenced(&e) => Failure::Stop(RuntimeError::Fenced(context.to_owned())),
        KafkaError::Transaction(t) if t.txn_requires_abort() || t.is_retriable() => {
            Failure::Abort(format!("{context}: {e}"))
        }
        _ => Failure::Stop(RuntimeError::kafka(context, e)),
    }
}

fn transaction_error(context: &str, e: KafkaError) -> RuntimeError {
    if is_fenced(&e) {
        RuntimeError::Fenced(context.to_owned())
    } else {
        RuntimeError::kafka(context, e)
    }
}
