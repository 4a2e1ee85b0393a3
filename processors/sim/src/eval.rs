//! Scoring detected exceptions against the ground truth.
//!
//! The exceptions topic is compacted and versioned, so only the latest version of each
//! exception id counts. Records resolved `WITHIN_TOLERANCE` are accuracy KPIs, not findings,
//! and are ignored. A detection matches a fault when (type, tenant, site, subject) agree, the
//! subject being the detector's own (`sku|location|lot`, `sku|asn`, `sku|message`, ...);
//! when several faults and detections share a key they are paired in time order (injection
//! time, opening time). Detection delay is the exception's `opened_at` minus the fault's
//! event time. Ratios whose denominator is zero are defined as 1.0, so an
//! empty run scores perfectly rather than NaN.

use std::collections::BTreeMap;
use std::fmt;

use invex_model::{ExceptionId, ExceptionRecord, ExceptionType};
use serde::{Deserialize, Serialize};

use crate::truth::{Fault, FaultKind};

/// Resolution of records that only feed accuracy KPIs.
const WITHIN_TOLERANCE: &str = "WITHIN_TOLERANCE";

/// Scores of one exception type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TypeScore {
    /// Exception type.
    pub exception_type: ExceptionType,
    /// Detections that match a fault.
    pub true_positives: u64,
    /// Detections that match no fault.
    pub false_positives: u64,
    /// Faults no detection matches.
    pub misses: u64,
    /// `tp / (tp + fp)`.
    pub precision: f64,
    /// `tp / (tp + misses)`.
    pub recall: f64,
    /// Matched detections whose root-cause category is the expected one.
    pub root_cause_correct: u64,
    /// `root_cause_correct / tp`.
    pub root_cause_accuracy: f64,
    /// Mean of `opened_at - injected_at` over matches (ms).
    pub mean_detection_delay_ms: Option<f64>,
    /// Median (lower) of `opened_at - injected_at` over matches (ms).
    pub p50_detection_delay_ms: Option<i64>,
    /// Largest `opened_at - injected_at` over matches (ms).
    pub max_detection_delay_ms: Option<i64>,
}

/// How the faults of one kind fared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KindScore {
    /// Fault kind.
    pub kind: FaultKind,
    /// Exceptions expected for this kind.
    pub expected: u64,
    /// Of those, detected.
    pub detected: u64,
    /// Of those detected, with the expected root cause.
    pub root_cause_correct: u64,
}

/// Result of [`evaluate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// One row per exception type present in the truth or the detections, in type order.
    pub by_type: Vec<TypeScore>,
    /// One row per fault kind, in kind order.
    pub by_kind: Vec<KindScore>,
}

impl Evaluation {
    /// Whether every fault was detected with the expected root cause and nothing else was.
    pub fn is_perfect(&self) -> bool {
        self.by_type.iter().all(|t| {
            t.false_positives == 0 && t.misses == 0 && t.root_cause_correct == t.true_positives
        })
    }
}

type Key = (ExceptionType, String, String, String);

fn fault_key(f: &Fault) -> Key {
    (f.exception_type, f.tenant.clone(), f.site.clone(), f.subject.clone())
}

fn record_key(r: &ExceptionRecord) -> Key {
    (r.exception_type, r.tenant_id.clone(), r.site_id.clone(), r.subject.clone())
}

/// Scores `exceptions` (any number of versions, any order) against `truth`.
pub fn evaluate(truth: &[Fault], exceptions: &[ExceptionRecord]) -> Evaluation {
    let mut expected: BTreeMap<Key, Vec<&Fault>> = BTreeMap::new();
    for fault in truth {
        expected.entry(fault_key(fault)).or_default().push(fault);
    }
    let mut found: BTreeMap<Key, Vec<&ExceptionRecord>> = BTreeMap::new();
    for record in latest_findings(exceptions) {
        found.entry(record_key(record)).or_default().push(record);
    }
    let mut tally = Tally::default();
    for (key, mut faults) in expected {
        faults.sort_by_key(|f| (f.injected_at, f.fault_id.clone()));
        let mut records = found.remove(&key).unwrap_or_default();
        records.sort_by(|a, b| (a.opened_at, &a.exception_id).cmp(&(b.opened_at, &b.exception_id)));
        tally.pair(key.0, &faults, &records);
    }
    for (key, records) in found {
        tally.row(key.0).false_positives += records.len() as u64;
    }
    tally.finish()
}

/// The latest version of each exception id, without within-tolerance KPI records.
fn latest_findings(exceptions: &[ExceptionRecord]) -> Vec<&ExceptionRecord> {
    let mut latest: BTreeMap<&ExceptionId, &ExceptionRecord> = BTreeMap::new();
    for record in exceptions {
        let slot = latest.entry(&record.exception_id).or_insert(record);
        if record.version > slot.version {
            *slot = record;
        }
    }
    latest.into_values().filter(|r| r.resolution.as_deref() != Some(WITHIN_TOLERANCE)).collect()
}

#[derive(Debug, Default)]
struct Row {
    false_positives: u64,
    misses: u64,
    delays: Vec<i64>,
    root_cause_correct: u64,
}

#[derive(Debug, Default)]
struct Tally {
    rows: BTreeMap<ExceptionType, Row>,
    kinds: BTreeMap<FaultKind, KindScore>,
}

impl Tally {
    fn row(&mut self, exception_type: ExceptionType) -> &mut Row {
        self.rows.entry(exception_type).or_default()
    }

    fn pair(
        &mut self,
        exception_type: ExceptionType,
        faults: &[&Fault],
        records: &[&ExceptionRecord],
    ) {
        for (i, fault) in faults.iter().enumerate() {
            let kind = self.kinds.entry(fault.kind).or_insert_with(|| KindScore {
                kind: fault.kind,
                expected: 0,
                detected: 0,
                root_cause_correct: 0,
            });
            kind.expected += 1;
            let Some(record) = records.get(i) else {
                self.row(exception_type).misses += 1;
                continue;
            };
            kind.detected += 1;
            let correct =
                record.root_cause.as_ref().map(|rc| rc.category) == Some(fault.expected_root_cause);
            kind.root_cause_correct += u64::from(correct);
            let row = self.row(exception_type);
            row.root_cause_correct += u64::from(correct);
            row.delays.push(record.opened_at - fault.injected_at);
        }
        let extra = records.len().saturating_sub(faults.len());
        self.row(exception_type).false_positives += extra as u64;
    }

    fn finish(self) -> Evaluation {
        let by_type = self.rows.into_iter().map(|(t, row)| score(t, row)).collect();
        Evaluation { by_type, by_kind: self.kinds.into_values().collect() }
    }
}

fn score(exception_type: ExceptionType, mut row: Row) -> TypeScore {
    let tp = row.delays.len() as u64;
    row.delays.sort_unstable();
    let p50 = row.delays.len().checked_sub(1).map(|last| row.delays[last / 2]);
    let ratio = |num: u64, den: u64| if den == 0 { 1.0 } else { num as f64 / den as f64 };
    TypeScore {
        exception_type,
        true_positives: tp,
        false_positives: row.false_positives,
        misses: row.misses,
        precision: ratio(tp, tp + row.false_positives),
        recall: ratio(tp, tp + row.misses),
        root_cause_correct: row.root_cause_correct,
        root_cause_accuracy: ratio(row.root_cause_correct, tp),
        mean_detection_delay_ms: (tp > 0)
            .then(|| row.delays.iter().sum::<i64>() as f64 / tp as f64),
        p50_detection_delay_ms: p50,
        max_detection_delay_ms: row.delays.last().copied(),
    }
}

impl fmt::Display for Evaluation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<26} {:>5} {:>5} {:>5} {:>9} {:>7} {:>10} {:>10} {:>10} {:>10}",
            "exception type",
            "tp",
            "fp",
            "miss",
            "precision",
            "recall",
            "root cause",
            "mean delay",
            "p50 delay",
            "max delay"
        )?;
        for t in &self.by_type {
            writeln!(
                f,
                "{:<26} {:>5} {:>5} {:>5} {:>9.3} {:>7.3} {:>10.3} {:>10} {:>10} {:>10}",
                t.exception_type.as_str(),
                t.true_positives,
                t.false_positives,
                t.misses,
                t.precision,
                t.recall,
                t.root_cause_accuracy,
                duration(t.mean_detection_delay_ms.map(|ms| ms.round() as i64)),
                duration(t.p50_detection_delay_ms),
                duration(t.max_detection_delay_ms),
            )?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "{:<26} {:>8} {:>8} {:>13}",
            "fault kind", "expected", "detected", "root cause ok"
        )?;
        for k in &self.by_kind {
            writeln!(
                f,
                "{:<26} {:>8} {:>8} {:>13}",
                k.kind.as_str(),
                k.expected,
                k.detected,
                k.root_cause_correct
            )?;
        }
        Ok(())
    }
}

/// `1h02m03s`, `4m05s`, `6s`, or `-` when absent.
fn duration(ms: Option<i64>) -> String {
    let Some(ms) = ms else { return "-".to_owned() };
    let sign = if ms < 0 { "-" } else { "" };
    let s = ms.unsigned_abs() / 1000;
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, sec) => format!("{sign}{sec}s"),
        (0, min, sec) => format!("{sign}{min}m{sec:02}s"),
        (h, min, sec) => format!("{sign}{h}h{min:02}m{sec:02}s"),
    }
}

#[cfg(test)]
#[path = "eval_tests.rs"]
mod tests;
