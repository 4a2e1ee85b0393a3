//! A selection of detectors: each built-in detector selected alone (with what it depends on)
//! produces exactly the records it produces in an engine running every detector, over a faulty
//! simulated shift that shows every exception type. This is the invariant of invex-detect's
//! selection module, and it holds only if every detector declares the stores it reads, which
//! the debug build these tests run in asserts on each access.
//!
//! The shift is first cleared of the events the full engine refuses (poison) or drops as
//! repeats: those checks belong to the detectors that run, so an event only a left-out detector
//! refuses reaches the selected ones, by design. A refused or dropped event leaves no trace in
//! the full engine, so clearing them changes none of its records.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use invex_detect::{Engine, MemStore, Outputs, Policy, Selection};
use invex_model::{CanonicalEvent, ExceptionId, ExceptionType};
use invex_sim::{FaultRates, SimConfig, Simulator};

/// The exception type each rule raises and the prefix of its rule ids; the supporting
/// detectors (item master, the exception lifecycle) raise none of their own.
fn raises(detector: &str) -> Option<(ExceptionType, &'static str)> {
    Some(match detector {
        "sync_failure" => (ExceptionType::SyncFailure, "SF"),
        "cycle_count" => (ExceptionType::CycleCountDiscrepancy, "CC"),
        "negative_on_hand" => (ExceptionType::NegativeOnHand, "NOH"),
        "duplicate_pick" => (ExceptionType::DuplicatePick, "DP"),
        "receiving_variance" => (ExceptionType::ReceivingVariance, "RV"),
        "putaway_failure" => (ExceptionType::PutawayFailure, "PF"),
        "damaged_goods" => (ExceptionType::DamagedGoods, "DG"),
        "expired_inventory" => (ExceptionType::ExpiredInventory, "EXP"),
        "barcode_mismatch" => (ExceptionType::BarcodeMismatch, "BM"),
        "order_allocation_conflict" => (ExceptionType::OrderAllocationConflict, "OAC"),
        "lot_serial_inconsistency" => (ExceptionType::LotSerialInconsistency, "LS"),
        _ => return None,
    })
}

fn shift() -> Vec<CanonicalEvent> {
    let config = SimConfig {
        sites: 2,
        skus_per_site: 200,
        duration_ms: 8 * 3_600_000,
        faults: FaultRates::benchmark(),
        ..SimConfig::default()
    };
    Simulator::new(config).unwrap().collect()
}

/// Feeds `events` to an engine of `selection` as `invex replay` does; returns its records and
/// the events it refused or dropped as repeats.
fn run(selection: &Selection, events: &[CanonicalEvent]) -> (Outputs, Vec<usize>) {
    let mut engine = Engine::with_selection(Arc::new(Policy::default_policy()), selection);
    let (mut store, mut out) = (MemStore::with_stores(Engine::store_names()), Outputs::default());
    let mut turned_away = Vec::new();
    for (index, event) in events.iter().enumerate() {
        let clock = event.header().event_time;
        engine.on_wall_clock(clock, &mut store, &mut out).unwrap();
        match engine.process(event, clock, &mut store, &mut out) {
            Ok(outcome) if outcome.duplicate => turned_away.push(index),
            Ok(_) => {}
            Err(e) if e.is_poison() => turned_away.push(index),
            Err(e) => panic!("the engine stopped: {e}"),
        }
        engine.loop_back(clock, &mut store, &mut out).unwrap();
    }
    (out, turned_away)
}

/// What `all` holds of the rules in `raised`: the exceptions of their types, the audit records
/// of those exceptions or of their rules (a count within tolerance is audited without an
/// exception record), and the actions of either.
fn restricted(all: &Outputs, raised: &[(ExceptionType, &str)]) -> Outputs {
    let exceptions: Vec<_> = all
        .exceptions
        .iter()
        .filter(|e| raised.iter().any(|(t, _)| *t == e.exception_type))
        .cloned()
        .collect();
    let mut ids: BTreeSet<ExceptionId> =
        exceptions.iter().map(|e| e.exception_id.clone()).collect();
    let by_rule = |rule: &str| raised.iter().any(|(_, p)| rule.split('-').next() == Some(*p));
    let audit: Vec<_> = all
        .audit
        .iter()
        .filter(|a| ids.contains(&a.exception_id) || by_rule(&a.rule_id))
        .cloned()
        .collect();
    ids.extend(audit.iter().map(|a| a.exception_id.clone()));
    let actions = all.actions.iter().filter(|a| ids.contains(&a.exception_id)).cloned().collect();
    Outputs { exceptions, actions, audit, repartitioned: Vec::new() }
}

/// The first record where `got` and `want` differ, for a failure message.
fn first_difference(got: &Outputs, want: &Outputs) -> String {
    fn first<T: PartialEq + fmt::Debug>(kind: &str, got: &[T], want: &[T]) -> Option<String> {
        let at = got.iter().zip(want).position(|(g, w)| g != w);
        let at = at.or_else(|| (got.len() != want.len()).then(|| got.len().min(want.len())))?;
        Some(format!("{kind} #{at} is {:?} instead of {:?}", got.get(at), want.get(at)))
    }
    first("exception", &got.exceptions, &want.exceptions)
        .or_else(|| first("action", &got.actions, &want.actions))
        .or_else(|| first("audit record", &got.audit, &want.audit))
        .unwrap_or_default()
}

#[test]
fn each_detector_selected_alone_decides_as_among_all() {
    let mut events = shift();
    let (_, turned_away) = run(&Selection::all(), &events);
    assert!(!turned_away.is_empty(), "the faulty shift holds poison and repeats");
    for index in turned_away.into_iter().rev() {
        events.remove(index);
    }
    let (all, none_turned_away) = run(&Selection::all(), &events);
    assert_eq!(none_turned_away, Vec::<usize>::new());
    for name in Selection::NAMES {
        let selection = Selection::of(&[name]).unwrap();
        let raised: Vec<_> = selection.names().filter_map(raises).collect();
        let (mut alone, _) = run(&selection, &events);
        alone.repartitioned.clear();
        let expected = restricted(&all, &raised);
        if let Some((own, _)) = raises(name) {
            let count = expected.exceptions.iter().filter(|e| e.exception_type == own).count();
            assert!(count > 0, "the shift raises no {own:?}, so it cannot check {name}");
        }
        let difference = first_difference(&alone, &expected);
        assert!(alone == expected, "{name} ({selection}) decides otherwise: {difference}");
    }
}

#[test]
fn a_selection_runs_what_its_detectors_read_and_refuses_unknown_names() {
    let cycle_count = Selection::of(&["cycle_count"]).unwrap();
    let names: Vec<&str> = cycle_count.names().collect();
    // The lifecycle's triage weighs open allocations, so the allocation ledger comes along.
    assert_eq!(
        names,
        ["cycle_count", "item_master", "exception_lifecycle", "order_allocation_conflict"]
    );
    assert!(!cycle_count.is_all());
    assert!(Selection::of(&Selection::NAMES).unwrap().is_all());
    let err = Selection::of(&["cycle_count", "cyclecount"]).unwrap_err();
    assert_eq!(err.name, "cyclecount");
    assert!(err.to_string().contains("lot_serial_inconsistency"), "{err}");
}
