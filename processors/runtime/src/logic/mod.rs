//! What differs between processors: the [`TaskLogic`] a processing core runs.
//!
//! The core (`crate::core`) owns everything a processor has in common: the consumer group and
//! its tasks, the partition group that orders a task's records by event time, restore, the
//! open batch and its transaction, commit, abort, rewind and the DLQ. A logic says what its
//! tasks store, which topics they read, how a fetched record becomes the logic's input (or a
//! dead letter), what one input does to the task's state and outputs, and how those outputs
//! are written. Three logics exist: [`detect::DetectLogic`] (the detectors),
//! [`normalize::NormalizeLogic`] (vendor payloads to canonical events) and
//! [`kpi::KpiLogic`] (detect's outputs to hourly KPI records).
//!
//! The core is generic over the logic, not a trait object: every call on the hot path is
//! static, and inputs and outputs live in the logic's own types without boxing.

pub(crate) mod detect;
pub(crate) mod kpi;
pub(crate) mod normalize;
mod seen;

use std::fmt::Display;
use std::time::Duration;

use invex_model::ErrorClass;
use invex_state::TaskStore;
use rdkafka::message::{BorrowedMessage, Message};

use crate::admin::TopicSpec;
use crate::codec::{Codec, CodecError};
use crate::error::RuntimeError;
use crate::sink::Sink;
use crate::topics::Topics;

pub use normalize::NORMALIZE_STORES;

/// A record that goes to the DLQ instead of being processed: what it was and why.
#[derive(Debug)]
pub(crate) struct Rejected {
    /// Record timestamp (or the event time of a decoded event).
    pub(crate) timestamp: Option<i64>,
    /// Original key.
    pub(crate) key: Option<Vec<u8>>,
    /// Original value (or its re-encoding, when the read buffer is gone).
    pub(crate) value: Option<Vec<u8>>,
    /// Error class.
    pub(crate) class: ErrorClass,
    /// Reason.
    pub(crate) message: String,
    /// Schema id of the value's frame, if any.
    pub(crate) schema_id: Option<u32>,
}

impl Rejected {
    /// The fetched record `msg` as it was read, with the reason it is refused.
    pub(crate) fn of(
        msg: &BorrowedMessage<'_>,
        class: ErrorClass,
        message: String,
        schema_id: Option<u32>,
    ) -> Self {
        Self {
            timestamp: msg.timestamp().to_millis(),
            key: msg.key().map(<[u8]>::to_vec),
            value: msg.payload().map(<[u8]>::to_vec),
            class,
            message,
            schema_id,
        }
    }
}

/// Runs `attempt` until it succeeds or fails for good. A failure `transient` says the schema
/// registry may recover from is waited out (a second between tries): an unreachable registry
/// must stall the partition, never dead-letter a record that would decode once it is back.
pub(crate) fn retrying_transient<T, E: Display>(
    transient: impl Fn(&E) -> bool,
    mut attempt: impl FnMut() -> Result<T, E>,
) -> Result<T, E> {
    loop {
        match attempt() {
            Err(e) if transient(&e) => {
                tracing::warn!(error = %e, "schema registry unavailable, retrying in 1s");
                std::thread::sleep(Duration::from_secs(1));
            }
            other => return other,
        }
    }
}

/// The fetched record `msg`, refused because its value does not decode.
pub(crate) fn undecodable(msg: &BorrowedMessage<'_>, error: &CodecError) -> Rejected {
    Rejected::of(msg, ErrorClass::Deserialization, error.to_string(), error.schema_id())
}

/// What processing one input did.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Processed; its outputs (possibly none) are in the logic's outputs buffer.
    Processed,
    /// A duplicate: nothing changed and nothing is produced.
    Duplicate,
    /// Refused: it goes to the DLQ and the outputs buffer is discarded.
    Rejected(Rejected),
}

/// Per-record facts the core hands to [`TaskLogic::process`].
pub(crate) struct Step<'a> {
    /// The driver's wall clock (UTC ms).
    pub(crate) wall_clock: i64,
    /// How far (ms) the record's event time is behind its task's stream time; zero or
    /// negative when it is not behind.
    pub(crate) lateness: i64,
    /// The deployment's codec (to re-encode a decoded record for the DLQ).
    pub(crate) codec: &'a Codec,
}

/// The outputs a logic collects between two writes to the sink.
pub(crate) trait OutputBuffer: Default + Send {
    /// Forgets every collected output, keeping the allocations.
    fn clear(&mut self);
}

impl OutputBuffer for invex_detect::Outputs {
    fn clear(&mut self) {
        invex_detect::Outputs::clear(self);
    }
}

/// What a processor does with the records of its tasks.
pub(crate) trait TaskLogic: Send + 'static {
    /// A decoded input record.
    type Input: Send;
    /// A task's in-memory state besides its store (caches of what the store holds: a new
    /// one on a restored store continues exactly where the old one stopped).
    type Task: Send;
    /// Outputs collected for the sink.
    type Outputs: OutputBuffer;

    /// Name on dead letters and in logs (`detect`, `normalize`).
    const PROCESSOR: &'static str;
    /// Whether [`TaskLogic::tick`] has anything to do (wall-clock timers): when false the
    /// core opens no transaction for the tick.
    const WALL_CLOCK_TIMERS: bool = false;

    /// The stores of a task (column families, each with a changelog topic).
    fn stores(&self) -> &[&'static str];

    /// Input topic names; a record's input is its index here. The first one drives the
    /// group assignment (see `crate::rebalance`); all are co-partitioned.
    fn inputs(&self) -> &[String];

    /// Every topic the processor needs, for the startup check.
    fn topic_specs(&self, topics: &Topics) -> Vec<TopicSpec>;

    /// Fresh task state (at start, and after a batch was discarded).
    fn new_task(&self) -> Self::Task;

    /// Decodes a fetched record of input `input`: its ordering time (event time) and the
    /// input, or why it goes to the DLQ.
    fn decode(
        &self,
        codec: &Codec,
        input: usize,
        msg: &BorrowedMessage<'_>,
    ) -> Result<(i64, Self::Input), Rejected>;

    /// The task's stream time (highest event time processed), for lateness.
    fn stream_time(&self, task: &Self::Task) -> Option<i64>;

    /// Processes one input inside the open batch, collecting outputs in `out`.
    fn process(
        &mut self,
        task: &mut Self::Task,
        store: &mut TaskStore,
        input: Self::Input,
        step: Step<'_>,
        out: &mut Self::Outputs,
    ) -> Result<Verdict, RuntimeError>;

    /// Fires the task's wall-clock timers due at `wall_clock` (none by default).
    fn tick(
        &mut self,
        _task: &mut Self::Task,
        _store: &mut TaskStore,
        _wall_clock: i64,
        _out: &mut Self::Outputs,
    ) -> Result<(), RuntimeError> {
        Ok(())
    }

    /// Produces and drains every output of `out` (also when it fails).
    fn emit(&mut self, sink: &Sink, out: &mut Self::Outputs) -> Result<(), RuntimeError>;
}
