//! Inventory record accuracy from the cycle-count rule's audit records.

use invex_model::{Decision, ExceptionType};

use super::{GRACE, HOUR, MIN, T0, Task, evaluation, find};
use crate::kpi::{KpiChange, KpiDisposition};

const CC: ExceptionType = ExceptionType::CycleCountDiscrepancy;

#[test]
fn record_accuracy_counts_first_count_evaluations_per_site_and_hour() {
    let mut task = Task::new(0);
    let inputs = [
        (evaluation("a1", "DC1", Decision::AcceptedWithinTolerance, true, 1, T0), true),
        (evaluation("a2", "DC1", Decision::Opened, false, 1, T0 + MIN), true),
        (evaluation("a3", "DC1", Decision::Redetected, true, 1, T0 + 2 * MIN), true),
        (evaluation("a4", "DC2", Decision::Opened, false, 1, T0 + 3 * MIN), true),
        // A recount resolving the exception: the location already counted once.
        (evaluation("a5", "DC1", Decision::Resolved, true, 2, T0 + 4 * MIN), false),
        // A re-detection by a recount that is not the awaited one.
        (evaluation("a6", "DC1", Decision::Redetected, false, 2, T0 + 5 * MIN), false),
        // Same version, other decisions of the opening: no evaluation details.
        (evaluation("a7", "DC1", Decision::Triaged, false, 1, T0 + MIN), false),
        (evaluation("a8", "DC1", Decision::RecountRequested, false, 1, T0 + MIN), false),
    ];
    for (record, evaluated) in &inputs {
        let outcome = task.audit(record);
        let expected = if *evaluated { KpiDisposition::Counted } else { KpiDisposition::Ignored };
        assert_eq!(outcome.disposition, expected, "{}", record.audit_id);
    }
    let outcome = task.audit(&inputs[1].0);
    assert_eq!(outcome.disposition, KpiDisposition::Duplicate, "redelivered audit record");
    let mut other_rule = evaluation("a9", "DC1", Decision::Opened, true, 1, T0);
    other_rule.details.clear();
    assert_eq!(task.audit(&other_rule).disposition, KpiDisposition::Ignored);
    let outcome = task.audit(&evaluation("b1", "DC1", Decision::Opened, false, 1, T0 + HOUR));
    assert_eq!(
        outcome.transition.map(|t| t.change),
        Some(KpiChange::CountEvaluated { hit: false })
    );
    let records = task.advance(T0 + 2 * HOUR + GRACE);
    let dc1 = find(&records, "DC1", CC, T0);
    assert_eq!((dc1.count_evaluations, dc1.count_hits), (3, 2));
    assert_eq!((dc1.opened, dc1.open_backlog), (0, 0), "evaluations open nothing themselves");
    let dc2 = find(&records, "DC2", CC, T0);
    assert_eq!((dc2.count_evaluations, dc2.count_hits), (1, 0));
    let next = find(&records, "DC1", CC, T0 + HOUR);
    assert_eq!((next.count_evaluations, next.count_hits), (1, 0));
    assert_eq!(records.len(), 3);
}

#[test]
fn an_evaluation_after_its_window_closed_is_late() {
    let mut task = Task::new(0);
    task.audit(&evaluation("a1", "DC1", Decision::Opened, false, 1, T0));
    assert_eq!(task.advance(T0 + HOUR + GRACE).len(), 1);
    let late = task.audit(&evaluation("a2", "DC1", Decision::Opened, true, 1, T0 + 30 * MIN));
    assert_eq!(late.disposition, KpiDisposition::Late);
    // A redelivery after the close is late too: the window's audit ids are forgotten.
    let again = task.audit(&evaluation("a1", "DC1", Decision::Opened, false, 1, T0));
    assert_eq!(again.disposition, KpiDisposition::Late);
    assert_eq!(task.agg.late_records(&task.store).unwrap(), 2);
    assert!(task.advance(T0 + 3 * HOUR).is_empty());
}
