//! Prometheus metrics of one processor instance.
//!
//! Names follow Kafka Streams where one exists (process, process-latency, commit-latency,
//! dropped-records, restore) so existing dashboards translate, with the `invex_` prefix and
//! Prometheus units. Labels are low-cardinality by construction: output, error class, result,
//! source (a loaded source file), and topic and partition (bounded by the topology); never a
//! SKU. The kpi processor's metrics are in [`KpiMetrics`].

use crate::kpi_metrics::KpiMetrics;
use crate::progress::CommittedOffsets;
use invex_state::StateProperties;
use prometheus::core::Collector;
use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
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
    /// Records per second of the latest restore round (`restore-rate`).
    pub restore_rate: IntGauge,
    /// How far behind its task's stream time a record was (`record-lateness`).
    pub record_lateness: Histogram,
    /// Consumer lag per input partition, from librdkafka statistics.
    pub consumer_lag: IntGaugeVec,
    /// RocksDB numbers summed over the instance's task databases.
    pub state: StateGauges,
    /// State entries the purge deleted because their store's TTL (in stream time) ran out.
    pub expired: IntCounter,
    /// Canonical events the normalize processor published, by source and canonical topic.
    pub normalize_events: IntCounterVec,
    /// Events the normalize processor dropped as retries of a published one, by source.
    pub normalize_duplicates: IntCounterVec,
    /// KPI transitions and live gauges of the kpi processor.
    pub kpi: KpiMetrics,
}

/// RocksDB properties as gauges (see [`StateProperties`] for what each one means).
#[derive(Clone)]
pub struct StateGauges {
    /// `rocksdb.estimate-num-keys`, summed.
    pub estimated_keys: IntGauge,
    /// Memtable bytes, summed.
    pub memtable_bytes: IntGauge,
    /// Block cache bytes (the cache is shared: a process-wide number).
    pub block_cache_bytes: IntGauge,
    /// Bytes compaction still has to rewrite, summed.
    pub pending_compaction_bytes: IntGauge,
    /// SST bytes on disk, summed.
    pub sst_bytes: IntGauge,
}

impl StateGauges {
    fn new(r: &Registry) -> prometheus::Result<Self> {
        Ok(Self {
            estimated_keys: gauge(r, "invex_state_estimated_keys", "Estimated keys in state")?,
            memtable_bytes: gauge(r, "invex_state_memtable_bytes", "Memtable bytes")?,
            block_cache_bytes: gauge(
                r,
                "invex_state_block_cache_bytes",
                "Shared block cache bytes",
            )?,
            pending_compaction_bytes: gauge(
                r,
                "invex_state_pending_compaction_bytes",
                "Bytes compaction still has to rewrite",
            )?,
            sst_bytes: gauge(r, "invex_state_sst_bytes", "Live SST file bytes (state size)")?,
        })
    }

    /// Publishes the sum of every task database's properties.
    pub fn set(&self, tasks: &[StateProperties]) {
        let sum = |f: fn(&StateProperties) -> u64| {
            tasks.iter().map(f).fold(0u64, u64::saturating_add).min(i64::MAX as u64) as i64
        };
        self.estimated_keys.set(sum(|p| p.estimated_keys));
        self.memtable_bytes.set(sum(|p| p.memtable_bytes));
        // Shared by every task: any task reports the whole cache.
        let cache = tasks.iter().map(|p| p.block_cache_usage_bytes).max().unwrap_or(0);
        self.block_cache_bytes.set(cache.min(i64::MAX as u64) as i64);
        self.pending_compaction_bytes.set(sum(|p| p.pending_compaction_bytes));
        self.sst_bytes.set(sum(|p| p.live_sst_bytes));
    }
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
    histogram_with(registry, name, help, prometheus::exponential_buckets(0.000_01, 4.0, 12)?)
}

fn histogram_with(
    registry: &Registry,
    name: &str,
    help: &str,
    buckets: Vec<f64>,
) -> prometheus::Result<Histogram> {
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
                "Producers rebuilt after fencing or a failed abort",
            )?,
            committed: CommittedOffsets::default(),
            tasks_running: gauge(&r, "invex_tasks_running", "Tasks processing")?,
            tasks_restoring: gauge(&r, "invex_tasks_restoring", "Tasks restoring state")?,
            restore_rate: gauge(
                &r,
                "invex_restore_rate",
                "Records per second of the last restore",
            )?,
            // From one second to a week: offline scanners upload hours late.
            record_lateness: histogram_with(
                &r,
                "invex_record_lateness_seconds",
                "How far behind stream time records arrive",
                prometheus::exponential_buckets(1.0, 4.0, 10)?,
            )?,
            consumer_lag: {
                let g = IntGaugeVec::new(
                    Opts::new("invex_consumer_lag", "Records behind the partition end"),
                    &["topic", "partition"],
                )?;
                r.register(Box::new(g.clone()))?;
                g
            },
            state: StateGauges::new(&r)?,
            expired: counter(
                &r,
                "invex_state_expired_total",
                "State entries deleted when their store's TTL ran out (stream time)",
            )?,
            normalize_events: {
                let c = IntCounterVec::new(
                    Opts::new("invex_normalize_events_total", "Canonical events published"),
                    &["source", "topic"],
                )?;
                r.register(Box::new(c.clone()))?;
                c
            },
            normalize_duplicates: counter_vec(
                &r,
                "invex_normalize_duplicates_total",
                "Events dropped as duplicates within the dedupe TTL",
                "source",
            )?,
            kpi: KpiMetrics::new(&r)?,
            registry: r,
        })
    }

    /// The sum of every child of `counters` (e.g. `Metrics::total(&metrics.outputs)`: records
    /// produced to every output together).
    pub fn total(counters: &IntCounterVec) -> u64 {
        counters
            .collect()
            .iter()
            .flat_map(|family| family.get_metric())
            .map(|m| m.get_counter().get_value() as u64)
            .sum()
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

#[cfg(test)]
mod tests {
    use super::Metrics;

    #[test]
    fn total_sums_every_child() {
        let metrics = Metrics::new().unwrap();
        assert_eq!(Metrics::total(&metrics.outputs), 0);
        metrics.outputs.with_label_values(&["wh.count"]).inc_by(2);
        metrics.outputs.with_label_values(&["wh.pick"]).inc();
        assert_eq!(Metrics::total(&metrics.outputs), 3);
    }
}
