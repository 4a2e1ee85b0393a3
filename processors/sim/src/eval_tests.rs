use std::collections::BTreeMap;

use invex_model::{
    ExceptionId, ExceptionRecord, ExceptionStatus, ExceptionType, OwnerTeam, Quantities, RootCause,
    RootCauseCategory, Valuation,
};

use super::*;

fn fault(n: u32, location: &str, root: RootCauseCategory, injected_at: i64) -> Fault {
    Fault {
        fault_id: format!("flt-1-{n}"),
        kind: FaultKind::Miscount,
        exception_type: ExceptionType::CycleCountDiscrepancy,
        tenant: "t".to_owned(),
        site: "DC1".to_owned(),
        sku: "SKU-1".to_owned(),
        subject: format!("SKU-1|{location}|"),
        location_id: Some(location.to_owned()),
        lot: None,
        expected_root_cause: root,
        injected_at,
        expected_resolution: Some("COUNT_ERROR".to_owned()),
    }
}

fn record(
    id: &str,
    version: i64,
    location: &str,
    root: RootCauseCategory,
    opened_at: i64,
) -> ExceptionRecord {
    ExceptionRecord {
        exception_id: ExceptionId(id.to_owned()),
        version,
        exception_type: ExceptionType::CycleCountDiscrepancy,
        subtype: None,
        severity: 3,
        status: ExceptionStatus::AwaitingRecount,
        status_reason: None,
        tenant_id: "t".to_owned(),
        site_id: "DC1".to_owned(),
        subject: format!("SKU-1|{location}|"),
        location_id: Some(location.to_owned()),
        sku: "SKU-1".to_owned(),
        lot: None,
        quantities: Quantities {
            expected: Some(10),
            observed: Some(7),
            book: Some(10),
            variance: -3,
            variance_pct: Some(-30.0),
            uom: "EA".to_owned(),
        },
        valuation: Valuation { variance_value: -3.0, unit_cost: 1.0, currency: "EUR".to_owned() },
        rule_id: "CC-001".to_owned(),
        policy_version: "1".to_owned(),
        opened_at,
        updated_at: opened_at,
        resolved_at: None,
        resolution: None,
        source_event_ids: vec!["e".to_owned()],
        root_cause: Some(RootCause {
            category: root,
            code: "X".to_owned(),
            confidence: 0.8,
            signals: Vec::new(),
        }),
        owner_team: OwnerTeam::Ops,
        approval: None,
        recount_attempts: 0,
        escalation_level: 0,
        correlation: BTreeMap::new(),
    }
}

fn cc_row(e: &Evaluation) -> &TypeScore {
    &e.by_type[0]
}

#[test]
fn counts_true_positives_false_positives_and_misses() {
    use RootCauseCategory::Process;
    let truth = [fault(1, "L1", Process, 1_000), fault(2, "L2", Process, 2_000)];
    let found =
        [record("exc-a", 1, "L1", Process, 61_000), record("exc-b", 1, "L9", Process, 5_000)];
    let e = evaluate(&truth, &found);
    let row = cc_row(&e);
    assert_eq!((row.true_positives, row.false_positives, row.misses), (1, 1, 1));
    assert_eq!((row.precision, row.recall), (0.5, 0.5));
    assert_eq!(
        (row.mean_detection_delay_ms, row.max_detection_delay_ms),
        (Some(60_000.0), Some(60_000))
    );
    assert_eq!(
        e.by_kind,
        vec![KindScore {
            kind: FaultKind::Miscount,
            expected: 2,
            detected: 1,
            root_cause_correct: 1
        }]
    );
    assert!(!e.is_perfect());
}

#[test]
fn root_cause_accuracy_compares_categories() {
    use RootCauseCategory::{Process, SystemSync, Unknown};
    let truth = [fault(1, "L1", Process, 0), fault(2, "L2", SystemSync, 0)];
    let found = [record("exc-a", 1, "L1", Process, 10), record("exc-b", 1, "L2", Unknown, 30)];
    let row = cc_row(&evaluate(&truth, &found)).clone();
    assert_eq!((row.true_positives, row.root_cause_correct, row.root_cause_accuracy), (2, 1, 0.5));
    assert_eq!((row.mean_detection_delay_ms, row.max_detection_delay_ms), (Some(20.0), Some(30)));
}

#[test]
fn latest_version_wins_and_within_tolerance_is_ignored() {
    use RootCauseCategory::{Process, Unknown};
    let truth = [fault(1, "L1", Process, 0)];
    let mut kpi = record("exc-k", 1, "L5", Unknown, 5);
    kpi.resolution = Some("WITHIN_TOLERANCE".to_owned());
    let found = [
        record("exc-a", 2, "L1", Process, 10),
        record("exc-a", 1, "L1", Unknown, 10),
        record("exc-a", 3, "L1", Process, 10),
        kpi,
    ];
    let e = evaluate(&truth, &found);
    assert_eq!(e.by_type.len(), 1);
    let row = cc_row(&e);
    assert_eq!(
        (row.true_positives, row.false_positives, row.misses, row.root_cause_correct),
        (1, 0, 0, 1)
    );
    assert!(e.is_perfect());
    let older_wrong =
        [record("exc-a", 5, "L1", Unknown, 10), record("exc-a", 4, "L1", Process, 10)];
    assert_eq!(cc_row(&evaluate(&truth, &older_wrong)).root_cause_correct, 0);
}

#[test]
fn empty_denominators_score_one_and_no_delay() {
    let e = evaluate(&[], &[]);
    assert!(e.by_type.is_empty() && e.is_perfect());
    let only_miss = evaluate(&[fault(1, "L1", RootCauseCategory::Unknown, 0)], &[]);
    let row = cc_row(&only_miss);
    assert_eq!((row.precision, row.recall, row.root_cause_accuracy), (1.0, 0.0, 1.0));
    assert_eq!((row.mean_detection_delay_ms, row.max_detection_delay_ms), (None, None));
}

#[test]
fn two_faults_at_one_key_pair_in_time_order() {
    use RootCauseCategory::{Process, Unknown};
    let truth = [fault(2, "L1", Unknown, 5_000), fault(1, "L1", Process, 1_000)];
    let found =
        [record("exc-late", 1, "L1", Unknown, 9_000), record("exc-early", 1, "L1", Process, 2_000)];
    let row = cc_row(&evaluate(&truth, &found)).clone();
    assert_eq!((row.true_positives, row.root_cause_correct), (2, 2));
    assert_eq!(row.max_detection_delay_ms, Some(4_000));
}

#[test]
fn renders_an_aligned_table_and_serializes() {
    use RootCauseCategory::Process;
    let e =
        evaluate(&[fault(1, "L1", Process, 0)], &[record("exc-a", 1, "L1", Process, 3_723_000)]);
    let text = e.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("exception type"));
    assert!(lines[1].starts_with("CYCLE_COUNT_DISCREPANCY"));
    assert_eq!(lines[0].len(), lines[1].len(), "{text}");
    assert!(lines[1].ends_with("1h02m03s"), "{text}");
    assert!(text.contains("MISCOUNT"));
    let json = serde_json::to_string(&e).unwrap();
    assert_eq!(serde_json::from_str::<Evaluation>(&json).unwrap(), e);
}

#[test]
fn durations_read_naturally() {
    assert_eq!(duration(None), "-");
    assert_eq!(duration(Some(6_400)), "6s");
    assert_eq!(duration(Some(245_000)), "4m05s");
    assert_eq!(duration(Some(-61_000)), "-1m01s");
}
