//! The processing core: tasks, the open batch, and commit/abort, for any [`TaskLogic`].
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

use invex_state::{SharedResources, StoreConfig};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::Producer;
use rdkafka::{Offset, TopicPartitionList};

use crate::config::{Guarantee, RuntimeConfig};
use crate::delivery::flush_producer;
use crate::error::RuntimeError;
use crate::fencing::FencingBudget;
use crate::logic::{OutputBuffer, Rejected, Step, TaskLogic, Verdict};
use crate::metrics::Metrics;
use crate::ordering::Buffered;
use crate::rebalance::{Assignments, GroupContext};
use crate::restore::Restorer;
use crate::restoring::{Opener, Restoring};
use crate::sink::{DeadLetter, ProducerFactory, Sink};
use crate::task::{InputQueue, Task};

mod recovery;

/// The group consumer.
pub(crate) type GroupConsumer = BaseConsumer<GroupContext>;

/// Records a topic partition may buffer before it is paused (resumed below half of it).
const MAX_BUFFERED: usize = 2_000;
/// Records read from one partition queue per fill round.
const FILL_ROUND: usize = 500;

const TXN_TIMEOUT: Duration = Duration::from_secs(30);

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
pub(crate) struct Core<L: TaskLogic> {
    cfg: Arc<RuntimeConfig>,
    logic: L,
    sink: Sink,
    restorer: Restorer,
    shared: SharedResources,
    store_cfg: StoreConfig,
    store_names: Vec<&'static str>,
    changelogs: Vec<(&'static str, String)>,
    tasks: BTreeMap<i32, Task<L>>,
    restoring: Restoring,
    /// Whether the group has given this instance an assignment yet (possibly empty).
    assignment_seen: bool,
    batch: Option<Batch>,
    outputs: L::Outputs,
    pub(crate) fatal: Option<RuntimeError>,
    metrics: Metrics,
    clock: Clock,
    new_producer: ProducerFactory,
    fencing: FencingBudget,
    /// A rewind that failed and is retried before anything else happens (see `recovery`).
    rewind_due: Option<recovery::DueRewind>,
}

/// Everything `Core::new` needs.
pub(crate) struct CoreParts<L> {
    pub(crate) cfg: Arc<RuntimeConfig>,
    pub(crate) topics: crate::topics::Topics,
    pub(crate) logic: L,
    pub(crate) sink: Sink,
    pub(crate) restorer: Restorer,
    pub(crate) shared: SharedResources,
    pub(crate) metrics: Metrics,
    pub(crate) clock: Clock,
    pub(crate) new_producer: ProducerFactory,
}

impl<L: TaskLogic> Core<L> {
    pub(crate) fn new(parts: CoreParts<L>) -> Self {
        let store_cfg = StoreConfig::new(&parts.cfg.state_dir, &parts.cfg.application_id);
        let store_names: Vec<&'static str> = parts.logic.stores().to_vec();
        let changelogs = store_names.iter().map(|s| (*s, parts.topics.changelog(s))).collect();
        Self {
            cfg: parts.cfg,
            logic: parts.logic,
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
            outputs: L::Outputs::default(),
            fatal: None,
            metrics: parts.metrics,
            clock: parts.clock,
            new_producer: parts.new_producer,
            fencing: FencingBudget::default(),
            rewind_due: None,
        }
    }

    fn exactly_once(&self) -> bool {
        self.cfg.guarantee == Guarantee::ExactlyOnce
    }

    /// Restores for about `budget`, then starts the task that finished, if one did.
    pub(crate) fn restore_step(&mut self, budget: Duration) -> Result<(), RuntimeError> {
        let opener = Opener {
            store_cfg: &self.store_cfg,
            shared: &self.shared,
            changelogs: &self.changelogs,
        };
        if let Some(done) = self.restoring.step(&self.restorer, &opener, &self.metrics, budget)? {
            let task = Task::new(done.partition, done.store, &self.logic, done.queues);
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
        let (logic, codec) = (&self.logic, self.sink.codec());
        for task in self.tasks.values_mut() {
            for input in &mut task.queues {
                let name = input_name(logic, input.input);
                for _ in 0..FILL_ROUND {
                    match input.queue.poll(Duration::ZERO) {
                        Some(Ok(msg)) => {
                            let offset = msg.offset();
                            let record = match logic.decode(codec, input.input, &msg) {
                                Ok((time, decoded)) => {
                                    Buffered::Record { offset, time, input: decoded }
                                }
                                Err(rejected) => Buffered::Dead { offset, rejected },
                            };
                            task.group.push(input.input, record);
                            read += 1;
                        }
                        Some(Err(KafkaError::PartitionEOF(_))) => {
                            task.group.caught_up(input.input);
                            break;
                        }
                        Some(Err(e)) => {
                            tracing::warn!(error = %e, topic = %name, "partition error (librdkafka retries)");
                            break;
                        }
                        None => break,
                    }
                }
                throttle(
                    consumer,
                    name,
                    task.partition,
                    task.group.buffered(input.input),
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
                let Some((input, record)) = task.group.next(now, self.cfg.max_task_idle) else {
                    break;
                };
                self.process(partition, input, record)?;
                processed += 1;
            }
        }
        Ok(processed)
    }

    /// Processes one buffered record inside the open batch.
    fn process(
        &mut self,
        partition: i32,
        input: usize,
        record: Buffered<L::Input>,
    ) -> Result<(), RuntimeError> {
        self.begin()?;
        let started = Instant::now();
        let offset = record.offset();
        let now = (self.clock)();
        let task = self
            .tasks
            .get_mut(&partition)
            .ok_or_else(|| RuntimeError::Setup("task vanished".into()))?;
        let name = input_name(&self.logic, input);
        task.positions.insert(input, offset + 1);
        task.last_source.clear();
        let _ = write!(task.last_source, "{name}@{offset}");
        let verdict = match record {
            Buffered::Record { time, input: decoded, .. } => {
                let stream_time = self.logic.stream_time(&task.state);
                let lateness = stream_time.map_or(0, |st| st - time);
                self.metrics.record_lateness.observe(lateness.max(0) as f64 / 1_000.0);
                let step = Step { wall_clock: now, lateness, codec: self.sink.codec() };
                self.logic.process(
                    &mut task.state,
                    &mut task.store,
                    decoded,
                    step,
                    &mut self.outputs,
                )?
            }
            Buffered::Dead { rejected, .. } => Verdict::Rejected(rejected),
        };
        if let Some(b) = self.batch.as_mut() {
            b.records += 1;
        }
        self.metrics.records_in.inc();
        let result = match verdict {
            Verdict::Processed => self.logic.emit(&self.sink, &mut self.outputs),
            Verdict::Duplicate => {
                self.metrics.duplicates.inc();
                self.logic.emit(&self.sink, &mut self.outputs)
            }
            Verdict::Rejected(rejected) => {
                self.outputs.clear();
                let name = input_name(&self.logic, input);
                let at = Source { topic: name, partition, offset };
                dead_letter(&mut self.sink, L::PROCESSOR, at, rejected, now)
            }
        };
        self.metrics.process_latency.observe(started.elapsed().as_secs_f64());
        result
    }

    /// Fires wall-clock timers of every running task.
    pub(crate) fn tick(&mut self) -> Result<(), RuntimeError> {
        if self.tasks.is_empty() || !L::WALL_CLOCK_TIMERS {
            return Ok(());
        }
        self.begin()?;
        let now = (self.clock)();
        for task in self.tasks.values_mut() {
            self.logic.tick(&mut task.state, &mut task.store, now, &mut self.outputs)?;
        }
        self.logic.emit(&self.sink, &mut self.outputs)
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
        flush_producer(&self.sink.producer, TXN_TIMEOUT)
            .map_err(|e| Failure::Abort(format!("flush: {e}")))?;
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
            for (input, next) in &task.positions {
                let name = input_name(&self.logic, *input);
                tpl.add_partition_offset(name, task.partition, Offset::Offset(*next))
                    .map_err(|e| RuntimeError::kafka("building offsets", e))?;
            }
        }
        Ok(tpl)
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

impl<L: TaskLogic> Assignments for Core<L> {
    fn assignment_received(&mut self) {
        self.assignment_seen = true;
    }

    fn assigned(&mut self, partition: i32, queues: Vec<InputQueue>) {
        if !self.tasks.contains_key(&partition) {
            self.restoring.assigned(partition, queues);
        }
        self.metrics.tasks_restoring.set(self.restoring.len() as i64);
    }

    fn revoke(
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

    fn fail(&mut self, error: RuntimeError) {
        self.fatal.get_or_insert(error);
    }
}

/// Name of input `input` of `logic` (empty for an index it does not have).
fn input_name<L: TaskLogic>(logic: &L, input: usize) -> &str {
    logic.inputs().get(input).map_or("", String::as_str)
}

/// Where an input record was read.
struct Source<'a> {
    topic: &'a str,
    partition: i32,
    offset: i64,
}

fn dead_letter(
    sink: &mut Sink,
    processor: &str,
    at: Source<'_>,
    rejected: Rejected,
    now: i64,
) -> Result<(), RuntimeError> {
    let Rejected { timestamp, key, value, class, message, schema_id } = rejected;
    let Source { topic, partition, offset } = at;
    tracing::warn!(topic, partition, offset, ?class, error = %message, "record dead-lettered");
    let dead = DeadLetter {
        topic,
        partition,
        offset,
        timestamp,
        key: key.as_deref(),
        value: value.as_deref(),
        class,
        message,
        schema_id,
    };
    sink.dead_letter(dead, processor, now)
}

enum Failure {
    Abort(String),
    Stop(RuntimeError),
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
        // A fatal error ends the producer, not the instance: the abort that follows fails and
        // rebuilds the producer (see `recovery`).
        KafkaError::Transaction(t)
            if t.txn_requires_abort() || t.is_retriable() || t.is_fatal() =>
        {
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
