//! Consumer lag per input partition, from librdkafka statistics.
//!
//! Lag is the partition's end minus the next offset this instance has COMMITTED (not the one
//! it has fetched: records buffered in a task are not done). The end is the last stable offset
//! under `read_committed` (records of open transactions cannot be read yet) and the high
//! watermark otherwise. Both ends come from fetch responses, never from ListOffsets (some
//! Kafka-protocol brokers answer it wrongly). A partition this instance has not committed yet
//! falls back to the group's committed offset librdkafka knows, and is skipped when neither is
//! known, rather than reported as a made-up number.

use std::collections::BTreeMap;

use rdkafka::statistics::Statistics;

use crate::metrics::Metrics;

/// The end of one fetched partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PartitionEnd {
    pub(crate) topic: String,
    pub(crate) partition: i32,
    /// Last stable offset or high watermark; negative when unknown.
    pub(crate) end: i64,
    /// Group-committed offset librdkafka knows; negative when unknown.
    pub(crate) group_committed: i64,
}

/// The ends of every assigned partition in `stats`.
pub(crate) fn ends(stats: &Statistics, read_committed: bool) -> Vec<PartitionEnd> {
    stats
        .topics
        .values()
        .flat_map(|t| t.partitions.values().map(move |p| (t, p)))
        .filter(|(_, p)| p.partition >= 0 && p.desired)
        .map(|(t, p)| PartitionEnd {
            topic: t.topic.clone(),
            partition: p.partition,
            end: if read_committed { p.ls_offset } else { p.hi_offset },
            group_committed: p.committed_offset,
        })
        .collect()
}

/// `(topic, partition, lag)` of every partition whose end and position are known.
pub(crate) fn lags(
    ends: &[PartitionEnd],
    committed: &BTreeMap<(String, i32), i64>,
) -> Vec<(String, i32, i64)> {
    ends.iter()
        .filter(|e| e.end >= 0)
        .filter_map(|e| {
            let position = committed
                .get(&(e.topic.clone(), e.partition))
                .copied()
                .or((e.group_committed >= 0).then_some(e.group_committed))?;
            Some((e.topic.clone(), e.partition, (e.end - position).max(0)))
        })
        .collect()
}

/// Replaces the lag gauges with the lags of `stats` (partitions no longer assigned vanish).
pub(crate) fn publish(metrics: &Metrics, stats: &Statistics, read_committed: bool) {
    let lags = lags(&ends(stats, read_committed), &metrics.committed.snapshot());
    metrics.consumer_lag.reset();
    for (topic, partition, lag) in lags {
        metrics.consumer_lag.with_label_values(&[topic.as_str(), &partition.to_string()]).set(lag);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end(partition: i32, end: i64, group_committed: i64) -> PartitionEnd {
        PartitionEnd { topic: "wh.count".into(), partition, end, group_committed }
    }

    #[test]
    fn lag_is_measured_from_what_this_instance_committed() {
        let committed = BTreeMap::from([(("wh.count".to_owned(), 0), 70)]);
        let got =
            lags(&[end(0, 100, 10), end(1, 50, 20), end(2, 40, -1), end(3, -1, 5)], &committed);
        assert_eq!(
            got,
            vec![("wh.count".to_owned(), 0, 30), ("wh.count".to_owned(), 1, 30)],
            "own commit first, then the group's; unknown position or end is skipped"
        );
    }

    #[test]
    fn a_position_past_a_stale_end_is_no_lag() {
        let committed = BTreeMap::from([(("wh.count".to_owned(), 0), 120)]);
        assert_eq!(lags(&[end(0, 100, -1)], &committed), vec![("wh.count".to_owned(), 0, 0)]);
    }
}
