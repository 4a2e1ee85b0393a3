//! Hourly KPI aggregates (`kpi` topic, key = [`KpiRecord::key`]).
//!
//! The kpi processor runs one task per partition of the `exceptions` and `audit` topics, and a
//! task sees the exceptions whose id hashes to its partition, of any site. So a record is a
//! PARTIAL aggregate: the KPI of one (tenant, site, type, hour) is the sum of the records of
//! every task for that window. Every count, sum, histogram bucket and money amount is additive;
//! only `oldest_open_age_ms` merges by maximum, and the percentiles of a histogram are the
//! producing task's own estimate (the exact merged percentiles come from summing the buckets).
//!
//! Windows are tumbling UTC hours `[window_start, window_end)` by event time (`updated_at` of
//! an exception version, `at` of an audit record).

use serde::{Deserialize, Serialize};

use crate::{ExceptionType, RootCauseCategory};

/// A fixed-bucket histogram of durations (Prometheus style, non-cumulative counts).
///
/// Bucket `i < bounds_ms.len()` counts the durations `d` with `bounds_ms[i - 1] < d <=
/// bounds_ms[i]` (the first from 0), the last bucket those above every bound (`+Inf`). Two
/// histograms with the same bounds merge by adding counts and sums; Prometheus' `_bucket{le}`
/// is the running sum of `counts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DurationHistogram {
    /// Upper bounds of the finite buckets in ms, ascending.
    pub bounds_ms: Vec<i64>,
    /// Observations per bucket: one more entry than `bounds_ms` (the last is `+Inf`).
    pub counts: Vec<i64>,
    /// Sum of the observed durations in ms.
    pub sum_ms: i64,
    /// Median estimated from this record's buckets alone (absent without observations).
    pub p50_ms: Option<i64>,
    /// 90th percentile estimated from this record's buckets alone.
    pub p90_ms: Option<i64>,
    /// 99th percentile estimated from this record's buckets alone.
    pub p99_ms: Option<i64>,
}

/// An amount of money in one currency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MoneyAmount {
    /// ISO 4217 currency.
    pub currency: String,
    /// Amount in that currency.
    pub amount: f64,
}

/// How many exceptions one root-cause category accounts for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RootCauseCount {
    /// Category.
    pub category: RootCauseCategory,
    /// Exceptions opened in the window with that root cause.
    pub count: i64,
}

/// The partial KPIs of one task for one (tenant, site, exception type, hour).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KpiRecord {
    /// Tenant.
    pub tenant_id: String,
    /// Site.
    pub site_id: String,
    /// Exception type.
    pub exception_type: ExceptionType,
    /// Start of the window (UTC ms, a whole hour), inclusive.
    pub window_start: i64,
    /// End of the window (UTC ms, `window_start` + 1 h), exclusive.
    pub window_end: i64,
    /// Partition (task) that produced this partial record.
    pub task: i32,
    /// Exceptions that became open (first open version, or reopened) within the window.
    pub opened: i64,
    /// Exceptions that went from open to RESOLVED, CLOSED or CANCELLED within the window.
    pub resolved: i64,
    /// Exceptions open at the end of the window.
    pub open_backlog: i64,
    /// Age of the oldest exception open at the end of the window (merge by maximum).
    pub oldest_open_age_ms: Option<i64>,
    /// Ages of the exceptions open at the end of the window.
    pub open_age: DurationHistogram,
    /// Time from opening to resolution of the exceptions resolved within the window.
    pub time_to_resolve: DurationHistogram,
    /// Sum of the absolute variance values of the exceptions open at the end of the window,
    /// per currency (money in different currencies is never added), ascending currency.
    pub value_at_risk: Vec<MoneyAmount>,
    /// Root-cause categories of the exceptions opened within the window, in declaration order
    /// of the categories; categories with no exception are left out.
    pub root_causes: Vec<RootCauseCount>,
    /// First counts (count_seq 1) evaluated within the window; only on the
    /// CYCLE_COUNT_DISCREPANCY record of the site, 0 elsewhere.
    pub count_evaluations: i64,
    /// First counts within tolerance of the book (inventory record accuracy = hits /
    /// evaluations).
    pub count_hits: i64,
}

impl KpiRecord {
    /// Kafka key: `tenant|site|TYPE|window_start|task`, unique per partial record.
    pub fn key(&self) -> String {
        format!(
            "{}|{}|{}|{}|{}",
            self.tenant_id,
            self.site_id,
            self.exception_type.as_str(),
            self.window_start,
            self.task
        )
    }
}

#[cfg(test)]
mod tests {
    use apache_avro::Schema;
    use apache_avro::reader::datum::GenericDatumReader;
    use apache_avro::writer::datum::GenericDatumWriter;

    use super::*;

    fn histogram(p50: Option<i64>) -> DurationHistogram {
        DurationHistogram {
            bounds_ms: vec![60_000, 3_600_000],
            counts: vec![1, 0, 2],
            sum_ms: 7_300_000,
            p50_ms: p50,
            p90_ms: p50.map(|p| p + 1),
            p99_ms: None,
        }
    }

    fn record(filled: bool) -> KpiRecord {
        KpiRecord {
            tenant_id: "acme".into(),
            site_id: "DC1".into(),
            exception_type: ExceptionType::CycleCountDiscrepancy,
            window_start: 1_767_258_000_000,
            window_end: 1_767_261_600_000,
            task: 3,
            opened: 4,
            resolved: 2,
            open_backlog: 7,
            oldest_open_age_ms: filled.then_some(86_400_000),
            open_age: histogram(filled.then_some(3_600_000)),
            time_to_resolve: histogram(None),
            value_at_risk: if filled {
                vec![
                    MoneyAmount { currency: "EUR".into(), amount: 12.5 },
                    MoneyAmount { currency: "USD".into(), amount: 3.0 },
                ]
            } else {
                Vec::new()
            },
            root_causes: vec![RootCauseCount { category: RootCauseCategory::Theft, count: 1 }],
            count_evaluations: 10,
            count_hits: 9,
        }
    }

    #[test]
    fn key_names_the_partial_record() {
        assert_eq!(record(true).key(), "acme|DC1|CYCLE_COUNT_DISCREPANCY|1767258000000|3");
    }

    #[test]
    fn record_round_trips_through_its_schema() {
        // Looked up when the test runs (cargo sets it), not baked in when it is built.
        let crate_dir = std::env::var_os("CARGO_MANIFEST_DIR").unwrap();
        let path = std::path::Path::new(&crate_dir).join("../../schemas/kpi-value.avsc");
        let schema = Schema::parse_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        for original in [record(true), record(false)] {
            let value = apache_avro::to_value(&original).unwrap();
            let generic = GenericDatumWriter::builder(&schema).build().unwrap();
            let bytes = generic.write_value_to_vec(value).unwrap();
            let serde_bytes = GenericDatumWriter::builder(&schema)
                .build()
                .unwrap()
                .write_ser_to_vec(&original)
                .unwrap();
            assert_eq!(bytes, serde_bytes, "both encoders write the same datum");
            let reader = GenericDatumReader::builder(&schema).build().unwrap();
            let mut rest = bytes.as_slice();
            let decoded = reader.read_value(&mut rest).unwrap();
            assert!(rest.is_empty());
            assert_eq!(apache_avro::from_value::<KpiRecord>(&decoded).unwrap(), original);
        }
    }
}
