//! The kpi processor's logic: exception versions and audit records to hourly KPI records.
//!
//! Inputs are detect's `exceptions` (compacted, the versions of each exception) and `audit`
//! (every decision) topics, both keyed by exception id and read as one task per partition
//! number; a record keyed otherwise is refused (`VALIDATION`), since its exception's other
//! versions would sit in another task. Each task runs the pure [`KpiAggregator`] of
//! `invex_detect::kpi` over its own three stores, ordered by event time (`updated_at`, `at`):
//! every record is applied, then the windows its stream time closes are emitted to the `kpi`
//! topic (Avro, key [`KpiRecord::key`]) in the transaction that carries the changelog of the
//! stores and the input offsets, so each window is published exactly once however the
//! instance stops. Undecodable records go to the DLQ (`DESERIALIZATION`); a tombstone on the
//! compacted exceptions topic changes nothing (KPI history is not deleted with a key).
//!
//! Stream time is the highest event time the task has processed, kept in the `kpi.task` store
//! (with the task's partition, which names its records) so a restarted or restored task
//! closes windows exactly when the old one would have. A window closes once stream time is
//! `kpi.grace_ms` past its end; the grace must cover the event-time skew between the detect
//! tasks whose outputs meet in one kpi task (seconds in steady state, more while detect
//! catches up). Quiet hours: a task that processes nothing lets its stream time run on with
//! the wall clock, from the last record it processed (never past the wall clock, and never
//! persisted), so the last windows of a partition that went quiet are emitted about `grace`
//! after their end in real time. Because only idle time counts, a task catching up on a
//! backlog (or a replay of old traffic) closes windows by event time alone; the price is that
//! upstream records delayed by more than the grace (detect down for longer) count as late.
//!
//! Every wall-clock tick refreshes the task's live gauges ([`KpiAggregator::live`]: one entry
//! per group plus one seek per group with open exceptions, cheap enough for every tick); the
//! instance publishes their sum over its tasks (`crate::kpi_metrics`).

use invex_detect::{
    DetectError, KPI_BACKLOG, KPI_EXCEPTION, KPI_WINDOW, KpiAggregator, KpiDisposition, KpiOutcome,
};
use invex_model::{AuditRecord, ErrorClass, ExceptionRecord, KpiRecord};
use invex_state::TaskStore;
use prometheus::IntCounter;
use rdkafka::message::{BorrowedMessage, Message};
use serde::de::DeserializeOwned;

use super::{OutputBuffer, Rejected, Step, TaskLogic, Verdict, retrying_transient, undecodable};
use crate::admin::{TopicSpec, kpi_topics};
use crate::codec::{Codec, CodecError};
use crate::config::RuntimeConfig;
use crate::error::RuntimeError;
use crate::kpi_metrics::KpiMetrics;
use crate::metrics::Metrics;
use crate::sink::Sink;
use crate::store::TaskStorePort;
use crate::topics::{Output, Topics};

/// The runtime's own store of a kpi task: its partition and stream time.
const TASK: &str = "kpi.task";
const PARTITION_KEY: &[u8] = b"partition";
const STREAM_TIME_KEY: &[u8] = b"stream_time";

/// The stores of the kpi processor: the aggregator's three and `kpi.task`.
pub const KPI_STORES: [&str; 4] =
    [KPI_EXCEPTION.as_str(), KPI_BACKLOG.as_str(), KPI_WINDOW.as_str(), TASK];

/// Input indexes (the exceptions topic drives the group assignment).
const EXCEPTIONS: usize = 0;
const AUDIT: usize = 1;

/// One decoded input record and the partition it was read from.
pub(crate) struct Upstream {
    partition: i32,
    record: UpstreamRecord,
}

enum UpstreamRecord {
    Exception(Box<ExceptionRecord>),
    Audit(Box<AuditRecord>),
    /// A null value on the compacted exceptions topic.
    Tombstone,
}

/// KPI records to publish.
#[derive(Default)]
pub(crate) struct KpiRecords(Vec<KpiRecord>);

impl OutputBuffer for KpiRecords {
    fn clear(&mut self) {
        self.0.clear();
    }
}

/// A task's view of `kpi.task`, and the wall-clock origin of its idle time.
pub(crate) struct KpiTask {
    loaded: bool,
    partition: Option<i32>,
    stream_time: Option<i64>,
    /// Wall clock of the last record processed (or of the first tick): idle time runs from here.
    active_at: Option<i64>,
    metrics: KpiMetrics,
}

impl KpiTask {
    fn load(&mut self, store: &TaskStore) -> Result<(), RuntimeError> {
        if !self.loaded {
            let partition = store.get(TASK, PARTITION_KEY)?.as_deref().and_then(decode_i32);
            self.partition = self.partition.or(partition);
            self.stream_time = store.get(TASK, STREAM_TIME_KEY)?.as_deref().and_then(decode_i64);
            self.loaded = true;
        }
        Ok(())
    }

    /// Records that the task is partition `partition` (the first record tells).
    fn adopt(&mut self, store: &mut TaskStore, partition: i32) -> Result<(), RuntimeError> {
        match self.partition {
            Some(p) if p == partition => Ok(()),
            Some(p) => Err(RuntimeError::Setup(format!(
                "the kpi task of partition {p} received a record of partition {partition}"
            ))),
            None => {
                store.put(TASK, PARTITION_KEY, &partition.to_be_bytes())?;
                self.partition = Some(partition);
                Ok(())
            }
        }
    }

    /// Moves stream time to `time` if that is later; returns the stream time.
    fn observe(&mut self, store: &mut TaskStore, time: i64) -> Result<i64, RuntimeError> {
        match self.stream_time {
            Some(current) if current >= time => Ok(current),
            _ => {
                store.put(TASK, STREAM_TIME_KEY, &time.to_be_bytes())?;
                self.stream_time = Some(time);
                Ok(time)
            }
        }
    }

    /// Stream time run on by the idle time since the last record, capped by the wall clock;
    /// `None` when that is not past the stream time.
    fn quiet_time(&mut self, wall_clock: i64) -> Option<i64> {
        let stream_time = self.stream_time?;
        let active_at = *self.active_at.get_or_insert(wall_clock);
        let idle = wall_clock.saturating_sub(active_at).max(0);
        Some(stream_time.saturating_add(idle).min(wall_clock)).filter(|t| *t > stream_time)
    }
}

impl Drop for KpiTask {
    /// A task that goes away (revoked, closed, or its batch discarded) takes its
    /// contribution to the instance's gauges with it.
    fn drop(&mut self) {
        if let Some(partition) = self.partition {
            self.metrics.forget(partition);
        }
    }
}

/// The kpi processor: its topics and grace period.
pub(crate) struct KpiLogic {
    stores: Vec<&'static str>,
    /// `exceptions` and `audit`, prefixed.
    inputs: Vec<String>,
    kpi: String,
    grace_ms: i64,
    metrics: KpiMetrics,
    /// `invex_output_records_total{output="kpi"}`.
    written: IntCounter,
    buf: Vec<u8>,
}

impl KpiLogic {
    pub(crate) fn new(cfg: &RuntimeConfig, topics: &Topics, metrics: &Metrics) -> Self {
        Self {
            stores: KPI_STORES.to_vec(),
            inputs: vec![topics.output(Output::Exceptions), topics.output(Output::Audit)],
            kpi: topics.output(Output::Kpi),
            grace_ms: i64::try_from(cfg.kpi.grace.as_millis()).unwrap_or(i64::MAX),
            metrics: metrics.kpi.clone(),
            written: metrics.outputs.with_label_values(&[Output::Kpi.name()]),
            buf: Vec::with_capacity(1024),
        }
    }

    fn publish(&mut self, sink: &Sink, records: &[KpiRecord]) -> Result<(), RuntimeError> {
        for record in records {
            sink.codec().encode_output(Output::Kpi, record, &mut self.buf)?;
            let key = record.key();
            sink.send(&self.kpi, None, Some(key.as_bytes()), Some(&self.buf), None, 0)?;
            self.written.inc();
        }
        Ok(())
    }
}

impl TaskLogic for KpiLogic {
    type Input = Upstream;
    type Task = KpiTask;
    type Outputs = KpiRecords;

    const PROCESSOR: &'static str = "kpi";
    const WALL_CLOCK_TIMERS: bool = true;

    fn stores(&self) -> &[&'static str] {
        &self.stores
    }

    fn inputs(&self) -> &[String] {
        &self.inputs
    }

    fn topic_specs(&self, topics: &Topics) -> Vec<TopicSpec> {
        kpi_topics(topics, 1)
    }

    fn new_task(&self) -> KpiTask {
        KpiTask {
            loaded: false,
            partition: None,
            stream_time: None,
            active_at: None,
            metrics: self.metrics.clone(),
        }
    }

    fn decode(
        &self,
        codec: &Codec,
        input: usize,
        msg: &BorrowedMessage<'_>,
    ) -> Result<(i64, Upstream), Rejected> {
        let partition = msg.partition();
        let (time, record) = match input {
            EXCEPTIONS if msg.payload().is_none() => {
                (msg.timestamp().to_millis().unwrap_or(0), UpstreamRecord::Tombstone)
            }
            EXCEPTIONS => {
                let record: ExceptionRecord = decode_value(codec, Output::Exceptions, msg)?;
                keyed_by(msg, &record.exception_id.0)?;
                (record.updated_at, UpstreamRecord::Exception(Box::new(record)))
            }
            AUDIT => {
                let record: AuditRecord = decode_value(codec, Output::Audit, msg)?;
                keyed_by(msg, &record.exception_id.0)?;
                (record.at, UpstreamRecord::Audit(Box::new(record)))
            }
            _ => {
                let message = format!("no input {input}");
                return Err(Rejected::of(msg, ErrorClass::Processing, message, None));
            }
        };
        Ok((time, Upstream { partition, record }))
    }

    fn stream_time(&self, task: &KpiTask) -> Option<i64> {
        task.stream_time
    }

    fn process(
        &mut self,
        task: &mut KpiTask,
        store: &mut TaskStore,
        input: Upstream,
        step: Step<'_>,
        out: &mut KpiRecords,
    ) -> Result<Verdict, RuntimeError> {
        task.load(store)?;
        task.adopt(store, input.partition)?;
        task.active_at = Some(step.wall_clock);
        let mut aggregator = KpiAggregator::new(input.partition, self.grace_ms);
        let (outcome, time) = match &input.record {
            UpstreamRecord::Exception(record) => {
                let outcome = aggregator.on_exception(&mut TaskStorePort(store), record);
                (outcome.map_err(failure)?, record.updated_at)
            }
            UpstreamRecord::Audit(record) => {
                let outcome = aggregator.on_audit(&mut TaskStorePort(store), record);
                (outcome.map_err(failure)?, record.at)
            }
            UpstreamRecord::Tombstone => return Ok(Verdict::Processed),
        };
        self.metrics.observe(&outcome);
        let stream_time = task.observe(store, time)?;
        let closed = aggregator.advance(&mut TaskStorePort(store), stream_time);
        out.0.extend(closed.map_err(failure)?);
        Ok(verdict(&outcome))
    }

    fn tick(
        &mut self,
        task: &mut KpiTask,
        store: &mut TaskStore,
        wall_clock: i64,
        out: &mut KpiRecords,
    ) -> Result<(), RuntimeError> {
        task.load(store)?;
        // A task that never processed a record has no state: nothing to close or report.
        let Some(partition) = task.partition else { return Ok(()) };
        let mut aggregator = KpiAggregator::new(partition, self.grace_ms);
        let mut port = TaskStorePort(store);
        if let Some(quiet_time) = task.quiet_time(wall_clock) {
            out.0.extend(aggregator.advance(&mut port, quiet_time).map_err(failure)?);
        }
        let live = aggregator.live(&port, wall_clock).map_err(failure)?;
        self.metrics.set_live(partition, live);
        Ok(())
    }

    fn emit(&mut self, sink: &Sink, out: &mut KpiRecords) -> Result<(), RuntimeError> {
        let records = std::mem::take(&mut out.0);
        let result = self.publish(sink, &records);
        // Keep the allocation for the next batch.
        out.0 = records;
        out.0.clear();
        result
    }
}

fn verdict(outcome: &KpiOutcome) -> Verdict {
    match outcome.disposition {
        KpiDisposition::Duplicate => Verdict::Duplicate,
        _ => Verdict::Processed,
    }
}

/// Decodes the value of `msg` as an `output` record; retries while the registry is
/// unreachable, refuses what cannot be decoded.
fn decode_value<T: DeserializeOwned>(
    codec: &Codec,
    output: Output,
    msg: &BorrowedMessage<'_>,
) -> Result<T, Rejected> {
    retrying_transient(CodecError::is_transient, || codec.decode_consumed(output, msg.payload()))
        .map_err(|e| undecodable(msg, &e))
}

/// Refuses a record whose key is not `exception_id`.
fn keyed_by(msg: &BorrowedMessage<'_>, exception_id: &str) -> Result<(), Rejected> {
    let key = msg.key().unwrap_or_default();
    if key == exception_id.as_bytes() {
        return Ok(());
    }
    let message = format!(
        "record key {:?} is not the exception id {exception_id:?} of its value; detect keys exceptions and audit records by it",
        String::from_utf8_lossy(key)
    );
    Err(Rejected::of(msg, ErrorClass::Validation, message, None))
}

/// The aggregator reports no poison (its inputs come from detect, decoded and keyed): every
/// error is a store or state failure, which stops the instance.
fn failure(e: DetectError) -> RuntimeError {
    RuntimeError::Detect(format!("kpi aggregator: {e}"))
}

fn decode_i32(bytes: &[u8]) -> Option<i32> {
    <[u8; 4]>::try_from(bytes).ok().map(i32::from_be_bytes)
}

fn decode_i64(bytes: &[u8]) -> Option<i64> {
    <[u8; 8]>::try_from(bytes).ok().map(i64::from_be_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::Registry;

    fn task() -> KpiTask {
        KpiTask {
            loaded: true,
            partition: Some(0),
            stream_time: Some(1_000),
            active_at: None,
            metrics: KpiMetrics::new(&Registry::new()).unwrap(),
        }
    }

    #[test]
    fn stream_time_runs_on_with_idle_wall_clock_time_only() {
        let mut t = task();
        // First tick: idle time starts now.
        assert_eq!(t.quiet_time(50_000), None);
        assert_eq!(t.quiet_time(60_000), Some(11_000), "10 s idle");
        // A record resets the origin.
        t.active_at = Some(70_000);
        assert_eq!(t.quiet_time(70_000), None);
        assert_eq!(t.quiet_time(71_500), Some(2_500));
    }

    #[test]
    fn stream_time_never_runs_past_the_wall_clock() {
        let mut t = task();
        t.stream_time = Some(100_000);
        t.active_at = Some(0);
        assert_eq!(t.quiet_time(150_000), Some(150_000), "capped at the wall clock");
        t.stream_time = Some(200_000);
        assert_eq!(t.quiet_time(150_000), None, "event times ahead of the clock");
        t.stream_time = None;
        assert_eq!(t.quiet_time(150_000), None, "nothing processed yet");
    }
}
