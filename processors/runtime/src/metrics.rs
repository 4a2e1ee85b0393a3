//! Prometheus metrics of one processor instance.
//!
//! Names follow Kafka Streams where one exists (process, process-latency, commit-latency,
//! dropped-records, restore) so existing dashboards translate, with the `invex_` prefix and
//! Prometheus units. Labels are low-cardinality by construction: output, error class, result;
//! never a SKU, never a partition.

use crate::progress::CommittedOffsets;
use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// Every metric the runtime updates.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// Input records processed (Kafka Streams `process-total`).
    pub records_in: IntCounter,
    /// Input records that were duplicates (same event id) and changed nothing.
    pub duplicates: IntCounter,
    /// Time to process one record (`process-latency`).
    pub process_latency: Histogram,
    /// Time to commit one transaction or offset batch (`commit-latency`).
    pub commit_latency: Histogram,
    /// Records dead-lettered, by error class (`dropped-records` in Kafka Streams terms).
    pub dlq: IntCounterVec,
    /// Records produced, by output.
    pub outputs: IntCounterVec,
    /// Transactions by result (`commit`, `abort`).
    pub transactions: IntCounterVec,
    /// Producers rebuilt after fencing.
    pub producer_rebuilds: IntCounter,
    /// Changelog records restored (`restore-total`; the rate is its derivative).
    pub restored: IntCounter,
    /// Input offsets committed by this instance.
    pub committed: CommittedOffsets,
    /// Tasks running.
    pub tasks_running: IntGauge,
    /// Tasks restoring.
    pub tasks_restoring: IntGauge,
}

fn counter(registry: &Registry, name: &str, help: &str) -> prometheus::Result<IntCounter> {
    let c = IntCounter::new(name, help)?;
    registry.register(Box::new(c.clone()))?;
    Ok(c)
}

fn counter_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    label: &str,
) -> prometheus::Result<IntCounterVec> {
    let c = IntCounterVec::new(Opts::new(name, help), &[label])?;
    registry.register(Box::new(c.clone()))?;
    Ok(c)
}

fn gauge(registry: &Registry, name: &str, help: &str) -> prometheus::Result<IntGauge> {
    let g = IntGauge::new(name, help)?;
    registry.register(Box::new(g.clone()))?;
    Ok(g)
}

fn histogram(registry: &Registry, name: &str, help: &str) -> prometheus::Result<Histogram> {
    let buckets = prometheus::exponential_buckets(0.000_01, 4.0, 12)?;
    let h = Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets))?;
    registry.register(Box::new(h.clone()))?;
    Ok(h)
}

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> prometheus::Result<Self> {
        let r = Registry::new();
        Ok(Self {
            records_in: counter(&r, "invex_process_total", "Input records processed")?,
            duplicates: counter(&r, "invex_duplicate_records_total", "Duplicate input records")?,
            process_latency: histogram(
                &r,
                "invex_process_latency_seconds",
                "Per-record processing time",
            )?,
            commit_latency: histogram(&r, "invex_commit_latency_seconds", "Per-commit time")?,
            dlq: counter_vec(&r, "invex_dlq_records_total", "Dead-lettered records", "class")?,
            outputs: counter_vec(&r, "invex_output_records_total", "Records produced", "output")?,
            transactions: counter_vec(&r, "invex_transactions_total", "Transactions", "result")?,
            restored: counter(&r, "invex_restore_total", "Changelog records restored")?,
            producer_rebuilds: counter(
                &r,
                "invex_producer_rebuilds_total",
                "Producers rebuilt after fencing",
            )?,
            committed: CommittedOffsets::default(),
            tasks_running: gauge(&r, "invex_tasks_running", "Tasks processing")?,
            tasks_restoring: gauge(&r, "invex_tasks_restoring", "Tasks restoring state")?,
            registry: r,
        })
    }

    /// Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let families = self.registry.gather();
        if TextEncoder::new().encode(&families, &mut out).is_err() {
            return String::new();
        }
        String::from_utf8(out).unwrap_or_default()
    }
}
