//! Pure evaluation of a count against the ledger: variance, tolerance and root-cause evidence.
//!
//! `variance = counted - expected`, `variance_pct = variance / expected * 100` (absent when
//! `expected == 0`, and then any non-zero variance is outside tolerance), `value = variance *
//! unit_cost`. Within tolerance when `|pct| <= tolerance_pct` and `|value| <= tolerance_value`.
//!
//! Root cause is evidence, never an action (domain research 6.2), checked in this order:
//! 1. SYSTEM_SYNC / `ERP_BOOK_DIVERGES`: the count carries the WMS book at freeze, and the
//!    counted quantity equals that WMS book adjusted for the movements after freeze, while the
//!    ERP-based ledger book differs: the WMS is physically right, the ERP is out of step.
//! 2. PROCESS / `MOVEMENT_AT_LOCATION`: picks or task legs touched the location (any lot)
//!    within the root-cause window before the count.
//! 3. UNKNOWN / `NO_SIGNAL`.
//!
//! A recount that matches the book turns the cause into PROCESS / `MISCOUNT`.

use invex_model::{RootCause, RootCauseCategory};

use super::ledger::LedgerView;
use super::state::PendingCount;
use crate::policy::CycleCountThresholds;

const SYNC_CONFIDENCE: f64 = 0.8;
const PROCESS_CONFIDENCE: f64 = 0.6;
const UNKNOWN_CONFIDENCE: f64 = 0.3;
const MISCOUNT_CONFIDENCE: f64 = 0.9;

/// The numbers of one evaluation.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Finding {
    pub(super) expected: i64,
    pub(super) observed: i64,
    pub(super) book_at_freeze: i64,
    pub(super) movements_after_freeze: i64,
    pub(super) variance: i64,
    pub(super) variance_pct: Option<f64>,
    pub(super) value: f64,
    pub(super) within: bool,
}

/// Compares a counted quantity with the ledger.
pub(super) fn assess(
    counted: i64,
    view: &LedgerView,
    thresholds: &CycleCountThresholds,
    unit_cost: f64,
) -> Finding {
    let expected = view.book_at_count;
    let variance = counted - expected;
    let variance_pct = (expected != 0).then(|| variance as f64 / expected as f64 * 100.0);
    let value = variance as f64 * unit_cost;
    let within = variance == 0
        || (variance_pct.is_some_and(|p| p.abs() <= thresholds.tolerance_pct)
            && value.abs() <= thresholds.tolerance_value);
    Finding {
        expected,
        observed: counted,
        book_at_freeze: view.book_at_freeze,
        movements_after_freeze: view.movements_after_freeze,
        variance,
        variance_pct,
        value,
        within,
    }
}

/// Root-cause recommendation for a count outside tolerance.
pub(super) fn root_cause(
    count: &PendingCount,
    view: &LedgerView,
    finding: &Finding,
    window_hours: i64,
) -> RootCause {
    let wms_expected = count.wms_book_at_freeze.map(|w| w + view.movements_after_freeze);
    if let Some(wms) = wms_expected
        && wms == finding.observed
        && finding.expected != finding.observed
    {
        return RootCause {
            category: RootCauseCategory::SystemSync,
            code: "ERP_BOOK_DIVERGES".to_owned(),
            confidence: SYNC_CONFIDENCE,
            signals: vec![
                format!(
                    "counted {} equals the WMS book at freeze adjusted for movements after \
                     freeze ({wms})",
                    finding.observed
                ),
                format!("the ERP-based book at the count is {}", finding.expected),
            ],
        };
    }
    let handled = view.picks_in_window + view.tasks_in_window;
    if handled > 0 {
        return RootCause {
            category: RootCauseCategory::Process,
            code: "MOVEMENT_AT_LOCATION".to_owned(),
            confidence: PROCESS_CONFIDENCE,
            signals: vec![format!(
                "{} pick(s) and {} task movement(s) at {} in the {window_hours} h before the count",
                view.picks_in_window, view.tasks_in_window, count.subject.location
            )],
        };
    }
    let mut signals = vec![format!(
        "no pick or task movement at {} in the {window_hours} h before the count",
        count.subject.location
    )];
    signals.push(match wms_expected {
        Some(wms) => format!("counted {} differs from the WMS book too ({wms})", finding.observed),
        None => "the count carries no WMS book at freeze".to_owned(),
    });
    RootCause {
        category: RootCauseCategory::Unknown,
        code: "NO_SIGNAL".to_owned(),
        confidence: UNKNOWN_CONFIDENCE,
        signals,
    }
}

/// Root cause once a recount matched the book.
pub(super) fn miscount(finding: &Finding) -> RootCause {
    RootCause {
        category: RootCauseCategory::Process,
        code: "MISCOUNT".to_owned(),
        confidence: MISCOUNT_CONFIDENCE,
        signals: vec![format!(
            "recount {} is within tolerance of the book {}",
            finding.observed, finding.expected
        )],
    }
}

#[cfg(test)]
mod tests {
    use invex_model::CountType;

    use super::*;
    use crate::cycle_count::state::Subject;

    fn thresholds(pct: f64, value: f64) -> CycleCountThresholds {
        CycleCountThresholds {
            class: "C".into(),
            tolerance_pct: pct,
            tolerance_value: value,
            max_recounts: 1,
            evaluation_grace_ms: 0,
            root_cause_window_ms: 0,
            recount_due_ms: 0,
            overrides: Vec::new(),
        }
    }

    fn view(book: i64, after_freeze: i64, picks: u32) -> LedgerView {
        LedgerView {
            book_at_count: book,
            book_at_freeze: book - after_freeze,
            movements_after_freeze: after_freeze,
            picks_in_window: picks,
            tasks_in_window: 0,
            inputs: Vec::new(),
        }
    }

    fn count(counted: i64, wms: Option<i64>) -> PendingCount {
        PendingCount {
            subject: Subject {
                tenant: "t".into(),
                site: "s".into(),
                sku: "k".into(),
                location: "L1".into(),
                lot: None,
            },
            event_id: "c1".into(),
            count_time: 0,
            count_doc_id: "d".into(),
            count_type: CountType::Abc,
            count_seq: 1,
            counted,
            uom: "EA".into(),
            wms_book_at_freeze: wms,
            freeze_time: 0,
            stream_due: 0,
            wall_due: 0,
        }
    }

    #[test]
    fn tolerance_needs_both_percentage_and_value() {
        let f = assess(97, &view(100, 0, 0), &thresholds(3.0, 100.0), 1.0);
        assert_eq!((f.variance, f.variance_pct, f.within), (-3, Some(-3.0), true));
        let f = assess(97, &view(100, 0, 0), &thresholds(3.0, 100.0), 40.0);
        assert!(!f.within, "value 120 is over 100");
        let f = assess(96, &view(100, 0, 0), &thresholds(3.0, 100.0), 1.0);
        assert!(!f.within, "4 % is over 3 %");
    }

    #[test]
    fn zero_expected_has_no_percentage_and_any_variance_is_outside() {
        let f = assess(1, &view(0, 0, 0), &thresholds(100.0, 1e9), 0.0);
        assert_eq!((f.variance_pct, f.within), (None, false));
        assert!(assess(0, &view(0, 0, 0), &thresholds(0.0, 0.0), 1.0).within);
    }

    #[test]
    fn sync_beats_process_beats_unknown() {
        let v = view(100, -5, 2);
        let f = assess(85, &v, &thresholds(1.0, 1.0), 1.0);
        let sync = root_cause(&count(85, Some(90)), &v, &f, 24);
        assert_eq!(
            (sync.category, sync.code.as_str()),
            (RootCauseCategory::SystemSync, "ERP_BOOK_DIVERGES")
        );
        let process = root_cause(&count(85, Some(100)), &v, &f, 24);
        assert_eq!(process.category, RootCauseCategory::Process);
        let quiet = view(100, -5, 0);
        let unknown = root_cause(&count(85, None), &quiet, &f, 24);
        assert_eq!(unknown.category, RootCauseCategory::Unknown);
        assert_eq!(unknown.signals.len(), 2);
    }
}
