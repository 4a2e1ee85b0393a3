//! The demo's KPI summary: the `kpi` topic read back and merged per site.
//!
//! Each record is one kpi task's partial aggregate of one (tenant, site, type, hour); the
//! KPIs of a site are the sums over tasks and types (`invex_model::KpiRecord` says why every
//! field is additive). Counts (opened, resolved, count evaluations and hits) add up over every
//! emitted hour. The open backlog and value at risk are snapshots at a window's end, so they
//! are read at the end of the last hour with a transition, or of the latest hour every task
//! has emitted if that is earlier (a task emits its windows in order, so it has closed every
//! hour before its latest record); after the last transition the backlog no longer changes,
//! however many quiet hours follow. Records are keyed per window and task, so a copy (an
//! aborted transaction the mock cluster does not hide) replaces its original.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use anyhow::{Context, anyhow};
use invex_model::KpiRecord;
use invex_runtime::ReaderContext;
use invex_runtime::{Codec, EmbeddedResolver, Output, RuntimeConfig, Topics, base_client_config};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde::Serialize;

/// The KPIs of one site over the run.
#[derive(Debug, Default, Serialize)]
pub(crate) struct SiteKpi {
    opened: i64,
    resolved: i64,
    open_backlog: i64,
    value_at_risk: BTreeMap<String, f64>,
    count_evaluations: i64,
    count_hits: i64,
}

impl SiteKpi {
    /// Inventory record accuracy: first counts within tolerance over first counts evaluated.
    fn record_accuracy(&self) -> Option<f64> {
        (self.count_evaluations > 0)
            .then(|| self.count_hits as f64 / self.count_evaluations as f64 * 100.0)
    }
}

/// What the kpi processor published, per site.
#[derive(Debug, Serialize)]
pub(crate) struct KpiSummary {
    records: usize,
    /// Hours with at least one transition.
    hours: usize,
    /// End of the hour the backlog and value at risk are read at (UTC ms).
    backlog_at: Option<i64>,
    late_transitions: u64,
    sites: BTreeMap<String, SiteKpi>,
}

impl KpiSummary {
    /// Reads the whole `kpi` topic of `topics` (read_committed) and merges it; `late` is the
    /// kpi processor's count of transitions that arrived after their window was emitted.
    pub(crate) fn read(cfg: &RuntimeConfig, topics: &Topics, late: u64) -> anyhow::Result<Self> {
        let codec = Codec::new(Arc::new(EmbeddedResolver::new()?), topics)?;
        let mut records: BTreeMap<String, KpiRecord> = BTreeMap::new();
        for value in read_topic(cfg, &topics.output(Output::Kpi))? {
            let record: KpiRecord = codec.decode_output(Output::Kpi, &value)?;
            records.insert(record.key(), record);
        }
        Ok(Self::merge(records.into_values().collect(), late))
    }

    fn merge(records: Vec<KpiRecord>, late: u64) -> Self {
        let mut latest_by_task: BTreeMap<i32, i64> = BTreeMap::new();
        for r in &records {
            let latest = latest_by_task.entry(r.task).or_insert(r.window_end);
            *latest = (*latest).max(r.window_end);
        }
        let active: BTreeSet<(i64, i64)> = records
            .iter()
            .filter(|r| r.opened + r.resolved + r.count_evaluations > 0)
            .map(|r| (r.window_start, r.window_end))
            .collect();
        let closed_by_all = latest_by_task.values().min().copied();
        let last_active = active.last().map(|(_, end)| *end);
        let backlog_at = closed_by_all.zip(last_active).map(|(a, b)| a.min(b)).or(closed_by_all);
        let mut sites: BTreeMap<String, SiteKpi> = BTreeMap::new();
        for r in &records {
            let site = sites.entry(r.site_id.clone()).or_default();
            site.opened += r.opened;
            site.resolved += r.resolved;
            site.count_evaluations += r.count_evaluations;
            site.count_hits += r.count_hits;
            if Some(r.window_end) == backlog_at {
                site.open_backlog += r.open_backlog;
                for money in &r.value_at_risk {
                    *site.value_at_risk.entry(money.currency.clone()).or_default() += money.amount;
                }
            }
        }
        let (records, hours) = (records.len(), active.len());
        Self { records, hours, backlog_at, late_transitions: late, sites }
    }
}

impl fmt::Display for KpiSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = self.backlog_at.map_or_else(
            || "-".to_owned(),
            |ms| {
                let time = UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
                humantime::format_rfc3339_seconds(time).to_string()
            },
        );
        writeln!(
            f,
            "  kpi: {} records, {} hours with transitions (merged across tasks), backlog as of {at}, {} transitions after their window closed",
            self.records, self.hours, self.late_transitions
        )?;
        writeln!(
            f,
            "    {:<10} {:>8} {:>8} {:>8} {:>24} {:>18}",
            "site", "opened", "resolved", "backlog", "value at risk", "record accuracy"
        )?;
        for (name, site) in &self.sites {
            let value: Vec<String> =
                site.value_at_risk.iter().map(|(c, a)| format!("{a:.2} {c}")).collect();
            let accuracy = site.record_accuracy().map_or_else(
                || "-".to_owned(),
                |pct| format!("{pct:.1}% ({}/{})", site.count_hits, site.count_evaluations),
            );
            writeln!(
                f,
                "    {name:<10} {:>8} {:>8} {:>8} {:>24} {accuracy:>18}",
                site.opened,
                site.resolved,
                site.open_backlog,
                if value.is_empty() { "-".to_owned() } else { value.join(", ") },
            )?;
        }
        Ok(())
    }
}

/// Every value of topic `name`, from the beginning to the end of each partition.
fn read_topic(cfg: &RuntimeConfig, name: &str) -> anyhow::Result<Vec<Vec<u8>>> {
    let reader: BaseConsumer<ReaderContext> = base_client_config(cfg)
        .set("group.id", "invex-demo-kpi-reader")
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .set("enable.partition.eof", "true")
        .create_with_context(ReaderContext)
        .context("creating the kpi reader")?;
    let metadata =
        reader.fetch_metadata(Some(name), Duration::from_secs(10)).context("kpi metadata")?;
    let partitions = metadata.topics().first().map_or(0, |t| t.partitions().len());
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions as i32 {
        tpl.add_partition_offset(name, p, Offset::Beginning)?;
    }
    reader.assign(&tpl).context("assigning the kpi partitions")?;
    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut ended, mut values) = (0, Vec::new());
    while ended < partitions {
        if Instant::now() > deadline {
            return Err(anyhow!("reading {name}: {ended} of {partitions} partitions read"));
        }
        match reader.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => values.extend(message.payload().map(<[u8]>::to_vec)),
            Some(Err(KafkaError::PartitionEOF(_))) => ended += 1,
            Some(Err(e)) => return Err(e).with_context(|| format!("reading {name}")),
            None => {}
        }
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use invex_model::{DurationHistogram, ExceptionType, MoneyAmount};

    use super::*;

    fn record(task: i32, site: &str, start: i64, opened: i64, backlog: i64) -> KpiRecord {
        let empty = DurationHistogram {
            bounds_ms: Vec::new(),
            counts: Vec::new(),
            sum_ms: 0,
            p50_ms: None,
            p90_ms: None,
            p99_ms: None,
        };
        KpiRecord {
            tenant_id: "t1".into(),
            site_id: site.into(),
            exception_type: ExceptionType::CycleCountDiscrepancy,
            window_start: start,
            window_end: start + 3_600_000,
            task,
            opened,
            resolved: 1,
            open_backlog: backlog,
            oldest_open_age_ms: None,
            open_age: empty.clone(),
            time_to_resolve: empty,
            value_at_risk: vec![MoneyAmount { currency: "EUR".into(), amount: backlog as f64 }],
            root_causes: Vec::new(),
            count_evaluations: 4,
            count_hits: 3,
        }
    }

    /// A quiet hour: only the backlog, carried over.
    fn quiet(task: i32, site: &str, start: i64, backlog: i64) -> KpiRecord {
        KpiRecord {
            resolved: 0,
            count_evaluations: 0,
            count_hits: 0,
            ..record(task, site, start, 0, backlog)
        }
    }

    const H: i64 = 3_600_000;

    #[test]
    fn counts_add_up_and_the_backlog_is_read_where_every_task_has_closed() {
        let records = vec![
            record(0, "DC1", 0, 2, 5),
            record(0, "DC1", H, 1, 4),
            record(0, "DC1", 2 * H, 1, 3),
            record(1, "DC1", 0, 3, 2),
            record(1, "DC1", H, 0, 1),
            record(1, "DC2", H, 1, 7),
        ];
        let summary = KpiSummary::merge(records, 2);
        assert_eq!(summary.backlog_at, Some(2 * H), "task 1 has closed the first two hours");
        assert_eq!((summary.records, summary.hours), (6, 3));
        let dc1 = &summary.sites["DC1"];
        assert_eq!((dc1.opened, dc1.resolved, dc1.open_backlog), (7, 5, 5));
        assert_eq!(dc1.value_at_risk["EUR"], 5.0);
        assert_eq!(dc1.record_accuracy(), Some(75.0));
        assert_eq!(summary.sites["DC2"].open_backlog, 7);
        let text = summary.to_string();
        assert!(text.contains("backlog as of 1970-01-01T02:00:00Z"), "{text}");
        assert!(text.contains("75.0% (15/20)"), "{text}");
    }

    #[test]
    fn quiet_hours_after_the_last_transition_do_not_move_the_backlog_reading() {
        let records = vec![
            record(0, "DC1", 0, 2, 2),
            quiet(0, "DC1", H, 2),
            quiet(0, "DC1", 2 * H, 2),
            record(1, "DC1", 0, 1, 1),
            quiet(1, "DC1", H, 1),
            quiet(1, "DC1", 2 * H, 1),
        ];
        let summary = KpiSummary::merge(records, 0);
        assert_eq!((summary.backlog_at, summary.hours), (Some(H), 1));
        assert_eq!((summary.sites["DC1"].opened, summary.sites["DC1"].open_backlog), (3, 3));
    }
}
