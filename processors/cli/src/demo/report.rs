//! The demo's closing report.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use invex_model::ExceptionRecord;
use invex_runtime::Metrics;
use invex_sim::{Evaluation, evaluate};
use serde::Serialize;

use super::kpi::KpiSummary;
use super::traffic::Traffic;

/// What the normalize processor made of the raw traffic.
#[derive(Debug, Serialize)]
pub(crate) struct NormalizeSummary {
    raw_records_by_source: BTreeMap<String, u64>,
    raw_records_normalized: u64,
    canonical_events_published: u64,
    duplicates_dropped: u64,
    dead_letters: u64,
}

impl NormalizeSummary {
    pub(crate) fn of(traffic: &Traffic, metrics: &Metrics) -> Self {
        Self {
            raw_records_by_source: traffic
                .by_vendor()
                .iter()
                .map(|(vendor, n)| (vendor.source_name().to_owned(), *n))
                .collect(),
            raw_records_normalized: metrics.records_in.get(),
            canonical_events_published: Metrics::total(&metrics.outputs),
            duplicates_dropped: Metrics::total(&metrics.normalize_duplicates),
            dead_letters: Metrics::total(&metrics.dlq),
        }
    }
}

impl fmt::Display for NormalizeSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sources: Vec<String> =
            self.raw_records_by_source.iter().map(|(s, n)| format!("{n} {s}")).collect();
        write!(
            f,
            "  normalize: {} raw records ({}), {} canonical events, {} duplicates dropped, {} dead letters",
            self.raw_records_normalized,
            sources.join(", "),
            self.canonical_events_published,
            self.duplicates_dropped,
            self.dead_letters
        )
    }
}

/// What the demo did and how well invex found what the simulator injected.
#[derive(Debug, Serialize)]
pub(crate) struct Report {
    events_produced: u64,
    normalize: NormalizeSummary,
    kpi: KpiSummary,
    events_processed: u64,
    simulator_responses: u64,
    elapsed_secs: f64,
    events_per_sec: f64,
    exceptions_by_type_and_root_cause: BTreeMap<String, u64>,
    exceptions_by_status: BTreeMap<String, u64>,
    actions_by_type: BTreeMap<String, u64>,
    evaluation: Evaluation,
}

impl Report {
    pub(crate) fn build(
        traffic: &Traffic,
        exceptions: &BTreeMap<String, ExceptionRecord>,
        normalize: NormalizeSummary,
        kpi: KpiSummary,
        processed: u64,
        elapsed: Duration,
    ) -> Self {
        let mut by_cause = BTreeMap::new();
        let mut by_status = BTreeMap::new();
        for e in exceptions.values() {
            let cause =
                e.root_cause.as_ref().map_or("NONE".to_owned(), |r| format!("{:?}", r.category));
            let resolution = e.resolution.clone().unwrap_or_default();
            if resolution != "WITHIN_TOLERANCE" {
                *by_cause
                    .entry(format!("{} / {}", e.exception_type.as_str(), cause))
                    .or_default() += 1;
            }
            let status = format!(
                "{:?}{}",
                e.status,
                if resolution.is_empty() { String::new() } else { format!(" ({resolution})") }
            );
            *by_status.entry(status).or_default() += 1;
        }
        let actions =
            traffic.actions_by_type().iter().map(|(t, n)| (t.as_str().to_owned(), *n)).collect();
        let latest: Vec<ExceptionRecord> = exceptions.values().cloned().collect();
        let secs = elapsed.as_secs_f64();
        Self {
            events_produced: traffic.produced(),
            normalize,
            kpi,
            events_processed: processed,
            simulator_responses: traffic.responses(),
            elapsed_secs: secs,
            events_per_sec: if secs > 0.0 { processed as f64 / secs } else { 0.0 },
            exceptions_by_type_and_root_cause: by_cause,
            exceptions_by_status: by_status,
            actions_by_type: actions,
            evaluation: evaluate(traffic.simulator().ground_truth(), &latest),
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "invex demo report")?;
        writeln!(
            f,
            "  events: {} produced, {} processed ({} simulator responses), {:.1}s, {:.0} events/s",
            self.events_produced,
            self.events_processed,
            self.simulator_responses,
            self.elapsed_secs,
            self.events_per_sec
        )?;
        writeln!(f, "{}", self.normalize)?;
        writeln!(f, "  exceptions by type / root cause:")?;
        for (k, n) in &self.exceptions_by_type_and_root_cause {
            writeln!(f, "    {k:<48} {n:>6}")?;
        }
        writeln!(f, "  exception records by final status:")?;
        for (k, n) in &self.exceptions_by_status {
            writeln!(f, "    {k:<48} {n:>6}")?;
        }
        writeln!(f, "  actions by type:")?;
        for (k, n) in &self.actions_by_type {
            writeln!(f, "    {k:<48} {n:>6}")?;
        }
        write!(f, "{}", self.kpi)?;
        writeln!(f, "  injected vs detected:")?;
        write!(f, "{}", self.evaluation)
    }
}
