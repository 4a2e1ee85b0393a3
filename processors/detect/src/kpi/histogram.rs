//! Fixed duration buckets and the per-record percentile estimate.
//!
//! One set of bounds serves both histograms (age of the open backlog, time to resolve): from
//! a minute (an exception cancelled as a duplicate) to a month (a supplier claim), roughly
//! doubling, so a percentile estimate is off by at most one bucket width. The bounds are part
//! of every emitted record, and the runtime's Prometheus histogram
//! `invex_kpi_time_to_resolve_seconds` must use the same ones (in seconds) so that sums of
//! buckets over tasks and over Prometheus series agree.
//!
//! The estimate interpolates linearly within the bucket holding the rank, like Prometheus'
//! `histogram_quantile`: lower edge 0 for the first bucket, and the highest finite bound when
//! the rank falls into the `+Inf` bucket.

use invex_model::DurationHistogram;

/// Upper bounds in ms of the finite buckets of every KPI duration histogram: 1 min, 5 min,
/// 15 min, 30 min, 1 h, 2 h, 4 h, 8 h, 1 d, 2 d, 4 d, 7 d, 14 d, 30 d (then `+Inf`).
pub const DURATION_BOUNDS_MS: [i64; 14] = [
    60_000,
    300_000,
    900_000,
    1_800_000,
    3_600_000,
    7_200_000,
    14_400_000,
    28_800_000,
    86_400_000,
    172_800_000,
    345_600_000,
    604_800_000,
    1_209_600_000,
    2_592_000_000,
];

/// Number of buckets, `+Inf` included.
const BUCKETS: usize = DURATION_BOUNDS_MS.len() + 1;

/// Adds one observation (negative durations count as 0) to bucket counts of any length.
pub(super) fn observe(counts: &mut Vec<i64>, duration_ms: i64) {
    counts.resize(BUCKETS, 0);
    let bucket = DURATION_BOUNDS_MS.partition_point(|&bound| bound < duration_ms.max(0));
    if let Some(slot) = counts.get_mut(bucket) {
        *slot = slot.saturating_add(1);
    }
}

/// The histogram of a record, with its percentile estimates.
pub(super) fn histogram(mut counts: Vec<i64>, sum_ms: i64) -> DurationHistogram {
    counts.resize(BUCKETS, 0);
    DurationHistogram {
        bounds_ms: DURATION_BOUNDS_MS.to_vec(),
        p50_ms: quantile(&counts, 0.5),
        p90_ms: quantile(&counts, 0.9),
        p99_ms: quantile(&counts, 0.99),
        counts,
        sum_ms,
    }
}

/// Estimated `q`-quantile (0 < q <= 1) of bucket counts; `None` without observations.
pub(super) fn quantile(counts: &[i64], q: f64) -> Option<i64> {
    let total = counts.iter().fold(0_i64, |a, &c| a.saturating_add(c.max(0)));
    if total == 0 {
        return None;
    }
    let rank = q * total as f64;
    let highest = DURATION_BOUNDS_MS[DURATION_BOUNDS_MS.len() - 1];
    let mut below = 0_i64;
    for (i, &count) in counts.iter().enumerate() {
        let count = count.max(0);
        if count > 0 && (below.saturating_add(count)) as f64 >= rank {
            let Some(&upper) = DURATION_BOUNDS_MS.get(i) else { return Some(highest) };
            let lower = i.checked_sub(1).and_then(|j| DURATION_BOUNDS_MS.get(j)).map_or(0, |&b| b);
            let within = (rank - below as f64) / count as f64;
            return Some(lower + ((upper - lower) as f64 * within).round() as i64);
        }
        below = below.saturating_add(count);
    }
    Some(highest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_inclusive_upper_edges() {
        let mut counts = Vec::new();
        for d in [-5, 0, 60_000, 60_001, 2_592_000_000, 2_592_000_001] {
            observe(&mut counts, d);
        }
        assert_eq!(counts.len(), BUCKETS);
        assert_eq!(counts[0], 3, "-5 (as 0), 0 and exactly 1 min");
        assert_eq!(counts[1], 1, "just above 1 min");
        assert_eq!(counts[BUCKETS - 2], 1, "exactly 30 d");
        assert_eq!(counts[BUCKETS - 1], 1, "above every bound");
    }

    #[test]
    fn quantiles_interpolate_like_prometheus() {
        let mut counts = Vec::new();
        assert_eq!(quantile(&counts, 0.5), None);
        // Ten resolutions between 1 and 5 min: p50 halfway through that bucket.
        for _ in 0..10 {
            observe(&mut counts, 120_000);
        }
        assert_eq!(quantile(&counts, 0.5), Some(180_000));
        assert_eq!(quantile(&counts, 1.0), Some(300_000));
        // One more above 30 days: p99 reports the highest finite bound.
        observe(&mut counts, 3_000_000_000);
        assert_eq!(quantile(&counts, 0.99), Some(2_592_000_000));
        let h = histogram(counts, 42);
        assert_eq!(
            (h.p50_ms, h.sum_ms, h.bounds_ms.len() + 1),
            (Some(192_000), 42, h.counts.len())
        );
    }
}
