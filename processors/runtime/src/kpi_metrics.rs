//! Prometheus metrics of the kpi processor: counters of KPI transitions and live gauges.
//!
//! Counters and the time-to-resolve histogram count the transitions the aggregator reports
//! ([`KpiOutcome`]) as they are processed, late ones included (a counter has no window to be
//! late for); the `kpi` topic is the exactly-once record, these are at-least-once (a batch
//! that aborts and is reprocessed counts again, as every runtime counter does).
//!
//! Gauges are per instance: each task holds the partial state of the exceptions that hash to
//! its partition, so the instance publishes, per label set, the SUM over its tasks (the
//! maximum for the oldest age). Each task's latest contribution is kept by partition; a
//! task's contribution is replaced on every refresh and dropped when the task goes away
//! (revoked, closed, or its batch discarded until its next refresh), and label sets that no
//! task contributes any more are removed. So `sum(...)` over instances in Prometheus is the
//! deployment's value, and a partition moving between instances is never counted twice for
//! longer than one scrape.
//!
//! Labels: `site`, `type` (exception type symbol), `currency`, `category` (root cause): all
//! bounded by the deployment. Tenants share a label set (summed), as the dashboard shows sites.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use invex_detect::{DURATION_BOUNDS_MS, KpiChange, KpiDisposition, KpiOutcome, LiveGauge};
use invex_model::RootCauseCategory;
use prometheus::{
    GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
};

/// Label names of the per-group series.
const GROUP: [&str; 2] = ["site", "type"];

/// The kpi processor's metrics (registered in every instance's registry; only the kpi
/// processor updates them).
#[derive(Clone)]
pub struct KpiMetrics {
    /// `invex_kpi_exceptions_opened_total{site,type}`.
    pub opened: IntCounterVec,
    /// `invex_kpi_exceptions_resolved_total{site,type}`.
    pub resolved: IntCounterVec,
    /// `invex_kpi_root_cause_total{site,type,category}`: opened exceptions by root cause.
    pub root_causes: IntCounterVec,
    /// `invex_kpi_time_to_resolve_seconds{site,type}`, buckets [`DURATION_BOUNDS_MS`].
    pub time_to_resolve: HistogramVec,
    /// `invex_kpi_count_evaluations_total{site}`: first counts evaluated against the book.
    pub count_evaluations: IntCounterVec,
    /// `invex_kpi_count_hits_total{site}`: first counts within tolerance.
    pub count_hits: IntCounterVec,
    /// `invex_kpi_late_transitions_total`: transitions whose window was already emitted (in
    /// the counters above, in no KPI record).
    pub late: IntCounter,
    /// `invex_kpi_open_exceptions{site,type}`.
    pub open: IntGaugeVec,
    /// `invex_kpi_oldest_open_age_seconds{site,type}`.
    pub oldest_open_age: GaugeVec,
    /// `invex_kpi_value_at_risk{site,type,currency}`.
    pub value_at_risk: GaugeVec,
    live: Arc<Mutex<LiveTable>>,
}

/// Each task's latest live gauges, and the label sets published from them.
#[derive(Default)]
struct LiveTable {
    by_task: BTreeMap<i32, Vec<LiveGauge>>,
    groups: BTreeSet<(String, String)>,
    values: BTreeSet<(String, String, String)>,
}

fn register<C: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    collector: C,
) -> prometheus::Result<C> {
    registry.register(Box::new(collector.clone()))?;
    Ok(collector)
}

impl KpiMetrics {
    pub(crate) fn new(r: &Registry) -> prometheus::Result<Self> {
        let counter = |name: &str, help: &str, labels: &[&str]| {
            register(r, IntCounterVec::new(Opts::new(name, help), labels)?)
        };
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            register(r, GaugeVec::new(Opts::new(name, help), labels)?)
        };
        let buckets = DURATION_BOUNDS_MS.iter().map(|ms| *ms as f64 / 1_000.0).collect();
        Ok(Self {
            opened: counter("invex_kpi_exceptions_opened_total", "Exceptions opened", &GROUP)?,
            resolved: counter(
                "invex_kpi_exceptions_resolved_total",
                "Exceptions resolved, closed or cancelled",
                &GROUP,
            )?,
            root_causes: counter(
                "invex_kpi_root_cause_total",
                "Exceptions opened, by root-cause category",
                &["site", "type", "category"],
            )?,
            time_to_resolve: register(
                r,
                HistogramVec::new(
                    HistogramOpts::new(
                        "invex_kpi_time_to_resolve_seconds",
                        "Time from opening to resolution",
                    )
                    .buckets(buckets),
                    &GROUP,
                )?,
            )?,
            count_evaluations: counter(
                "invex_kpi_count_evaluations_total",
                "First counts evaluated against the book",
                &["site"],
            )?,
            count_hits: counter(
                "invex_kpi_count_hits_total",
                "First counts within tolerance of the book",
                &["site"],
            )?,
            late: register(
                r,
                IntCounter::new(
                    "invex_kpi_late_transitions_total",
                    "KPI transitions that arrived after their window was emitted",
                )?,
            )?,
            open: register(
                r,
                IntGaugeVec::new(
                    Opts::new("invex_kpi_open_exceptions", "Open exceptions"),
                    &GROUP,
                )?,
            )?,
            oldest_open_age: gauge(
                "invex_kpi_oldest_open_age_seconds",
                "Age of the oldest open exception",
                &GROUP,
            )?,
            value_at_risk: gauge(
                "invex_kpi_value_at_risk",
                "Absolute variance value of the open exceptions",
                &["site", "type", "currency"],
            )?,
            live: Arc::default(),
        })
    }

    /// Counts the transition of one input, if it carried one.
    pub(crate) fn observe(&self, outcome: &KpiOutcome) {
        let Some(t) = &outcome.transition else { return };
        let (site, kind) = (t.site_id.as_str(), t.exception_type.as_str());
        match t.change {
            KpiChange::Opened { root_cause } => {
                self.opened.with_label_values(&[site, kind]).inc();
                if let Some(category) = root_cause {
                    let labels = [site, kind, category_label(category)];
                    self.root_causes.with_label_values(&labels).inc();
                }
            }
            KpiChange::Resolved { time_to_resolve_ms } => {
                self.resolved.with_label_values(&[site, kind]).inc();
                let seconds = time_to_resolve_ms.max(0) as f64 / 1_000.0;
                self.time_to_resolve.with_label_values(&[site, kind]).observe(seconds);
            }
            KpiChange::CountEvaluated { hit } => {
                self.count_evaluations.with_label_values(&[site]).inc();
                if hit {
                    self.count_hits.with_label_values(&[site]).inc();
                }
            }
        }
        if outcome.disposition == KpiDisposition::Late {
            self.late.inc();
        }
    }

    /// Replaces task `task`'s contribution to the gauges with `gauges` and republishes.
    pub(crate) fn set_live(&self, task: i32, gauges: Vec<LiveGauge>) {
        let mut table = self.table();
        table.by_task.insert(task, gauges);
        self.publish(&mut table);
    }

    /// Drops task `task`'s contribution (the task went away) and republishes.
    pub(crate) fn forget(&self, task: i32) {
        let mut table = self.table();
        if table.by_task.remove(&task).is_some() {
            self.publish(&mut table);
        }
    }

    fn table(&self) -> MutexGuard<'_, LiveTable> {
        // The table is rebuilt from scratch on every publish: a panic elsewhere while it was
        // locked leaves nothing half-done that matters.
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets every gauge to the sum over tasks and removes the label sets no task reports.
    fn publish(&self, table: &mut LiveTable) {
        let mut groups: BTreeMap<(String, String), (i64, f64)> = BTreeMap::new();
        let mut values: BTreeMap<(String, String, String), f64> = BTreeMap::new();
        for gauge in table.by_task.values().flatten() {
            let (site, kind) = (gauge.site_id.clone(), gauge.exception_type.as_str().to_owned());
            let entry = groups.entry((site.clone(), kind.clone())).or_default();
            entry.0 = entry.0.saturating_add(gauge.open);
            let age = gauge.oldest_open_age_ms.unwrap_or(0).max(0) as f64 / 1_000.0;
            entry.1 = entry.1.max(age);
            for money in &gauge.value_at_risk {
                let key = (site.clone(), kind.clone(), money.currency.clone());
                *values.entry(key).or_default() += money.amount;
            }
        }
        for (site, kind) in table.groups.iter().filter(|k| !groups.contains_key(*k)) {
            let labels = [site.as_str(), kind.as_str()];
            let _ = self.open.remove_label_values(&labels);
            let _ = self.oldest_open_age.remove_label_values(&labels);
        }
        for (site, kind, currency) in table.values.iter().filter(|k| !values.contains_key(*k)) {
            let labels = [site.as_str(), kind.as_str(), currency.as_str()];
            let _ = self.value_at_risk.remove_label_values(&labels);
        }
        for ((site, kind), (open, age)) in &groups {
            let labels = [site.as_str(), kind.as_str()];
            self.open.with_label_values(&labels).set(*open);
            self.oldest_open_age.with_label_values(&labels).set(*age);
        }
        for ((site, kind, currency), amount) in &values {
            let labels = [site.as_str(), kind.as_str(), currency.as_str()];
            self.value_at_risk.with_label_values(&labels).set(*amount);
        }
        table.groups = groups.into_keys().collect();
        table.values = values.into_keys().collect();
    }
}

/// The category's symbol, as in the Avro schemas.
fn category_label(category: RootCauseCategory) -> &'static str {
    match category {
        RootCauseCategory::Process => "PROCESS",
        RootCauseCategory::SystemSync => "SYSTEM_SYNC",
        RootCauseCategory::Supplier => "SUPPLIER",
        RootCauseCategory::Carrier => "CARRIER",
        RootCauseCategory::MasterData => "MASTER_DATA",
        RootCauseCategory::Theft => "THEFT",
        RootCauseCategory::Unknown => "UNKNOWN",
    }
}

#[cfg(test)]
mod tests {
    use invex_detect::KpiTransition;
    use invex_model::{ExceptionType, MoneyAmount};

    use super::*;

    fn gauge(site: &str, open: i64, age_ms: Option<i64>, eur: f64) -> LiveGauge {
        LiveGauge {
            tenant_id: "t1".into(),
            site_id: site.into(),
            exception_type: ExceptionType::CycleCountDiscrepancy,
            open,
            oldest_open_age_ms: age_ms,
            value_at_risk: vec![MoneyAmount { currency: "EUR".into(), amount: eur }],
        }
    }

    const CC: &str = "CYCLE_COUNT_DISCREPANCY";

    #[test]
    fn gauges_sum_over_tasks_and_forget_a_task_that_went_away() {
        let metrics = KpiMetrics::new(&Registry::new()).unwrap();
        metrics.set_live(0, vec![gauge("DC1", 2, Some(60_000), 10.0)]);
        metrics.set_live(1, vec![gauge("DC1", 3, Some(120_000), 5.5), gauge("DC2", 1, None, 0.0)]);
        assert_eq!(metrics.open.with_label_values(&["DC1", CC]).get(), 5);
        assert_eq!(metrics.oldest_open_age.with_label_values(&["DC1", CC]).get(), 120.0);
        assert_eq!(metrics.value_at_risk.with_label_values(&["DC1", CC, "EUR"]).get(), 15.5);
        // A refresh replaces the task's contribution instead of adding to it.
        metrics.set_live(1, vec![gauge("DC1", 1, Some(180_000), 1.0)]);
        assert_eq!(metrics.open.with_label_values(&["DC1", CC]).get(), 3);
        metrics.forget(0);
        metrics.forget(7);
        assert_eq!(metrics.open.with_label_values(&["DC1", CC]).get(), 1);
        assert_eq!(metrics.value_at_risk.with_label_values(&["DC1", CC, "EUR"]).get(), 1.0);
        let registry = Registry::new();
        let metrics = KpiMetrics::new(&registry).unwrap();
        metrics.set_live(0, vec![gauge("DC2", 1, None, 2.0)]);
        metrics.forget(0);
        let text = prometheus::TextEncoder::new().encode_to_string(&registry.gather()).unwrap();
        assert!(!text.contains("invex_kpi_open_exceptions{"), "series removed: {text}");
        assert!(!text.contains("invex_kpi_value_at_risk{"), "series removed: {text}");
    }

    #[test]
    fn transitions_count_late_ones_too_and_duplicates_never() {
        let metrics = KpiMetrics::new(&Registry::new()).unwrap();
        let transition = |change| KpiTransition {
            tenant_id: "t1".into(),
            site_id: "DC1".into(),
            exception_type: ExceptionType::CycleCountDiscrepancy,
            change,
        };
        let outcomes = [
            (KpiDisposition::Counted, Some(KpiChange::Opened { root_cause: None })),
            (
                KpiDisposition::Late,
                Some(KpiChange::Opened { root_cause: Some(RootCauseCategory::Theft) }),
            ),
            (KpiDisposition::Counted, Some(KpiChange::Resolved { time_to_resolve_ms: 90_000 })),
            (KpiDisposition::Counted, Some(KpiChange::CountEvaluated { hit: true })),
            (KpiDisposition::Counted, Some(KpiChange::CountEvaluated { hit: false })),
            (KpiDisposition::Duplicate, None),
        ];
        for (disposition, change) in outcomes {
            metrics.observe(&KpiOutcome { disposition, transition: change.map(transition) });
        }
        assert_eq!(metrics.opened.with_label_values(&["DC1", CC]).get(), 2);
        assert_eq!(metrics.root_causes.with_label_values(&["DC1", CC, "THEFT"]).get(), 1);
        assert_eq!(metrics.resolved.with_label_values(&["DC1", CC]).get(), 1);
        let ttr = metrics.time_to_resolve.with_label_values(&["DC1", CC]);
        assert_eq!((ttr.get_sample_count(), ttr.get_sample_sum()), (1, 90.0));
        assert_eq!(metrics.count_evaluations.with_label_values(&["DC1"]).get(), 2);
        assert_eq!(metrics.count_hits.with_label_values(&["DC1"]).get(), 1);
        assert_eq!(metrics.late.get(), 1);
    }
}
