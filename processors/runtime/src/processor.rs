//! A processor's main loop: one thread, one group consumer, one producer, for any logic
//! (detect, normalize or kpi, see `crate::logic`).
//!
//! The loop polls one record at a time, processes it into the open batch, fires wall-clock
//! timers once per tick, and commits the batch every commit interval (100 ms by default under
//! exactly-once) or when it reaches its record limit. Rebalance callbacks run inside `poll` on
//! this same thread (see [`crate::rebalance`]). Restores run on this thread before a task's
//! first record. Shutdown (the flag in [`ProcessorHandle`]) commits the open batch, flushes
//! every store and leaves the group.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use invex_detect::Policy;
use invex_state::SharedResources;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, Producer};
use rdkafka::types::RDKafkaErrorCode;

use crate::admin::verify;
use crate::codec::Codec;
use crate::config::{Guarantee, RuntimeConfig};
use crate::core::{Clock, Core, CoreParts, GroupConsumer, system_clock};
use crate::delivery::DeliveryTracker;
use crate::error::RuntimeError;
use crate::kind::ProcessorKind;
use crate::logic::TaskLogic;
use crate::logic::detect::DetectLogic;
use crate::logic::kpi::KpiLogic;
use crate::logic::normalize::NormalizeLogic;
use crate::metrics::Metrics;
use crate::normalize::Normalizer;
use crate::rebalance::{Assignments, GroupContext};
use crate::restore::Restorer;
use crate::schema::resolver_for;
use crate::sink::{ProducerFactory, Sink};
use crate::topics::Topics;

/// How often RocksDB properties are read into the state gauges (each read is a handful of
/// property lookups per column family: cheap, but not per batch).
const STATE_METRICS_EVERY: Duration = Duration::from_secs(10);

/// Restore time per loop round while other tasks process, and while none does.
const RESTORE_SLICE: Duration = Duration::from_millis(20);
const RESTORE_SLICE_IDLE: Duration = Duration::from_millis(250);

/// What other threads may see of a running processor.
#[derive(Clone)]
pub struct ProcessorHandle {
    shutdown: Arc<AtomicBool>,
    ready: Arc<AtomicBool>,
    /// The processor's metrics.
    pub metrics: Metrics,
}

impl ProcessorHandle {
    /// Asks the loop to commit, close and return.
    pub fn shutdown(&self) {
        self.shutdown.store(true, Ordering::SeqCst);
    }

    /// True when every assigned task has restored and processes.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }
}

/// What a processor runs.
enum Logic {
    Detect(Arc<Policy>),
    Normalize(Arc<Normalizer>),
    Kpi,
}

/// A configured processor, not yet connected.
pub struct Processor {
    cfg: Arc<RuntimeConfig>,
    logic: Logic,
    clock: Clock,
    handle: ProcessorHandle,
}

/// librdkafka settings every client of an instance shares.
pub fn base_client_config(cfg: &RuntimeConfig) -> ClientConfig {
    let mut base = ClientConfig::new();
    base.set("bootstrap.servers", &cfg.bootstrap_servers);
    for (k, v) in &cfg.kafka_properties {
        base.set(k, v);
    }
    base
}

/// Transactional id of an instance: stable across restarts on the same state directory, so
/// a restarted instance fences its predecessor and aborts its open transaction at once.
fn transactional_id(cfg: &RuntimeConfig) -> String {
    let dir = std::fs::canonicalize(&cfg.state_dir).unwrap_or_else(|_| cfg.state_dir.clone());
    let instance = cfg.instance_id.clone().unwrap_or_else(|| short_hash(&dir));
    format!("{}-{}", cfg.application_id, instance)
}

fn short_hash(path: &Path) -> String {
    blake3::hash(path.as_os_str().as_encoded_bytes()).to_hex()[..16].to_owned()
}

impl Processor {
    /// A detect processor for `cfg` running `policy`.
    pub fn new(cfg: RuntimeConfig, policy: Policy) -> Result<Self, RuntimeError> {
        Self::with_logic(cfg, Logic::Detect(Arc::new(policy)))
    }

    /// A normalize processor for `cfg` mapping with `normalizer`'s sources (see
    /// [`crate::NormalizeConfig::load_sources`]).
    pub fn normalize(cfg: RuntimeConfig, normalizer: Normalizer) -> Result<Self, RuntimeError> {
        Self::with_logic(cfg, Logic::Normalize(Arc::new(normalizer)))
    }

    /// A kpi processor for `cfg` (its `[kpi]` section): detect's exceptions and audit records
    /// to hourly KPI records on the `kpi` topic and the `invex_kpi_*` metrics.
    pub fn kpi(cfg: RuntimeConfig) -> Result<Self, RuntimeError> {
        Self::with_logic(cfg, Logic::Kpi)
    }

    fn with_logic(cfg: RuntimeConfig, logic: Logic) -> Result<Self, RuntimeError> {
        let metrics = Metrics::new().map_err(|e| RuntimeError::Setup(format!("metrics: {e}")))?;
        Ok(Self {
            cfg: Arc::new(cfg),
            logic,
            clock: system_clock(),
            handle: ProcessorHandle {
                shutdown: Arc::new(AtomicBool::new(false)),
                ready: Arc::new(AtomicBool::new(false)),
                metrics,
            },
        })
    }

    /// Replaces the wall clock (tests pin it).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// A handle for other threads.
    pub fn handle(&self) -> ProcessorHandle {
        self.handle.clone()
    }

    /// Which processor this is.
    pub fn kind(&self) -> ProcessorKind {
        match self.logic {
            Logic::Detect(_) => ProcessorKind::Detect,
            Logic::Normalize(_) => ProcessorKind::Normalize,
            Logic::Kpi => ProcessorKind::Kpi,
        }
    }

    /// Runs until shutdown is requested or a fatal error occurs.
    pub fn run(self) -> Result<(), RuntimeError> {
        let topics = Topics::new(&self.cfg.topic_prefix, &self.cfg.application_id);
        let metrics = &self.handle.metrics;
        match &self.logic {
            Logic::Detect(policy) => {
                let logic =
                    DetectLogic::new(Arc::clone(policy), &self.cfg, &topics, metrics.clone());
                self.run_logic(topics, logic)
            }
            Logic::Normalize(normalizer) => {
                let logic =
                    NormalizeLogic::new(Arc::clone(normalizer), &self.cfg, &topics, metrics);
                self.run_logic(topics, logic)
            }
            Logic::Kpi => {
                let logic = KpiLogic::new(&self.cfg, &topics, metrics);
                self.run_logic(topics, logic)
            }
        }
    }

    fn run_logic<L: TaskLogic>(&self, topics: Topics, logic: L) -> Result<(), RuntimeError> {
        let cfg = Arc::clone(&self.cfg);
        let base = base_client_config(&cfg);
        let partitions = verify(&base, &logic.topic_specs(&topics))?;
        tracing::info!(
            partitions,
            processor = L::PROCESSOR,
            application = %cfg.application_id,
            "topics verified"
        );
        let new_producer: ProducerFactory = {
            let (cfg, base) = (Arc::clone(&cfg), base.clone());
            Box::new(move || create_producer(&cfg, &base))
        };
        let producer = new_producer()?;
        let resolver = resolver_for(&cfg.schema).map_err(|e| RuntimeError::Setup(e.to_string()))?;
        let codec = Codec::new(resolver, &topics)?;
        let metrics = self.handle.metrics.clone();
        let sink = Sink::new(producer, codec, &topics, logic.stores(), metrics.clone());
        let inputs = logic.inputs().to_vec();
        let core = Core::new(CoreParts {
            cfg: Arc::clone(&cfg),
            topics,
            logic,
            sink,
            restorer: Restorer::new(&base)?,
            shared: SharedResources::new(cfg.memory_budget_bytes)?,
            metrics,
            clock: Arc::clone(&self.clock),
            new_producer,
        });
        let core = Arc::new(Mutex::new(core));
        let driver = inputs
            .first()
            .cloned()
            .ok_or_else(|| RuntimeError::Setup("the processor has no input topic".into()))?;
        let assignments: Arc<Mutex<dyn Assignments>> = core.clone();
        let context = GroupContext {
            core: assignments,
            driver,
            inputs,
            consumer: OnceLock::new(),
            metrics: self.handle.metrics.clone(),
            read_committed: cfg.guarantee == Guarantee::ExactlyOnce,
        };
        let consumer = self.consumer(&base, context)?;
        let result = self.poll_loop(&consumer, &core);
        let closed = lock(&core).and_then(|mut c| c.close(&consumer));
        consumer.unsubscribe();
        result.and(closed)
    }

    fn consumer(
        &self,
        base: &ClientConfig,
        context: GroupContext,
    ) -> Result<Arc<GroupConsumer>, RuntimeError> {
        let mut config = base.clone();
        config
            .set("group.id", &self.cfg.application_id)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set("partition.assignment.strategy", "cooperative-sticky")
            .set("enable.partition.eof", "true")
            // End-of-partition events release a task's buffered records (see `ordering`): a
            // short long-poll makes them arrive promptly once a partition is drained.
            .set("fetch.wait.max.ms", "50")
            .set(
                "isolation.level",
                match self.cfg.guarantee {
                    Guarantee::ExactlyOnce => "read_committed",
                    Guarantee::AtLeastOnce => "read_uncommitted",
                },
            );
        if let Some(id) = &self.cfg.instance_id {
            config.set("group.instance.id", id);
        }
        if !self.cfg.statistics_interval.is_zero() {
            let ms = self.cfg.statistics_interval.as_millis().to_string();
            config.set("statistics.interval.ms", ms);
        }
        let driver = context.driver.clone();
        let consumer: Arc<GroupConsumer> = Arc::new(
            config
                .create_with_context(context)
                .map_err(|e| RuntimeError::kafka("creating the consumer", e))?,
        );
        let _ = consumer.context().consumer.set(Arc::downgrade(&consumer));
        consumer
            .subscribe(&[&driver])
            .map_err(|e| RuntimeError::kafka(format!("subscribing to {driver}"), e))?;
        Ok(consumer)
    }

    fn poll_loop<L: TaskLogic>(
        &self,
        consumer: &GroupConsumer,
        core: &Mutex<Core<L>>,
    ) -> Result<(), RuntimeError> {
        let mut last_tick = Instant::now();
        let mut last_state_metrics = Instant::now();
        let mut idle = false;
        while !self.handle.shutdown.load(Ordering::SeqCst) {
            // Serves rebalance callbacks and client events; records arrive on the tasks' own
            // partition queues, so the main queue only yields errors.
            let wait = if idle { Duration::from_millis(5) } else { Duration::ZERO };
            match consumer.poll(wait) {
                Some(Err(e)) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::Fatal) => {
                    return Err(RuntimeError::kafka("consuming", e));
                }
                Some(Err(KafkaError::PartitionEOF(_))) | None => {}
                Some(Err(e)) => tracing::warn!(error = %e, "consumer error (librdkafka retries)"),
                Some(Ok(m)) => tracing::warn!(
                    topic = m.topic(),
                    partition = m.partition(),
                    "record on the main queue ignored"
                ),
            }
            let mut core = lock(core)?;
            match self.step(consumer, &mut core, &mut last_tick) {
                Ok(busy) => idle = !busy,
                Err(RuntimeError::Fenced(context)) => {
                    core.recover_from_fencing(consumer, context)?
                }
                Err(e) => return Err(e),
            }
            if last_state_metrics.elapsed() >= STATE_METRICS_EVERY {
                last_state_metrics = Instant::now();
                core.publish_state_metrics();
            }
        }
        Ok(())
    }

    /// One round: restore, read, process, tick, commit. True if it read or processed records.
    fn step<L: TaskLogic>(
        &self,
        consumer: &GroupConsumer,
        core: &mut Core<L>,
        last_tick: &mut Instant,
    ) -> Result<bool, RuntimeError> {
        if let Some(e) = core.fatal.take() {
            return Err(e);
        }
        if !core.settle(consumer)? {
            return Ok(false);
        }
        // A restoring task gets short slices while others are ready to process, long ones
        // when nothing else could run anyway.
        let slice = if core.has_running_tasks() { RESTORE_SLICE } else { RESTORE_SLICE_IDLE };
        core.restore_step(slice)?;
        self.handle.ready.store(core.ready(), Ordering::SeqCst);
        let read = core.fill(consumer)?;
        let processed = core.process_ready()?;
        if last_tick.elapsed() >= self.cfg.wall_clock_tick {
            *last_tick = Instant::now();
            core.tick()?;
        }
        if core.batch_due() {
            core.commit(consumer)?;
        }
        Ok(read > 0 || processed > 0)
    }
}

/// The instance's producer: transactional (transactions initialised) under exactly-once,
/// idempotent under at-least-once.
fn create_producer(
    cfg: &RuntimeConfig,
    base: &ClientConfig,
) -> Result<BaseProducer<DeliveryTracker>, RuntimeError> {
    let mut config = base.clone();
    config.set("linger.ms", "5").set("compression.type", "none");
    if cfg.guarantee == Guarantee::ExactlyOnce {
        config.set("transactional.id", transactional_id(cfg));
    } else {
        config.set("enable.idempotence", "true");
    }
    let producer: BaseProducer<DeliveryTracker> = config
        .create_with_context(DeliveryTracker::default())
        .map_err(|e| RuntimeError::kafka("creating the producer", e))?;
    if cfg.guarantee == Guarantee::ExactlyOnce {
        producer
            .init_transactions(Duration::from_secs(60))
            .map_err(|e| RuntimeError::kafka("initialising transactions", e))?;
    }
    Ok(producer)
}

fn lock<L: TaskLogic>(core: &Mutex<Core<L>>) -> Result<MutexGuard<'_, Core<L>>, RuntimeError> {
    core.lock()
        .map_err(|_| RuntimeError::Setup("processor core lock poisoned by an earlier panic".into()))
}
