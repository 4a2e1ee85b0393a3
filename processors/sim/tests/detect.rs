//! The simulator's ground truth against the real detectors, in memory.
//!
//! A seeded benchmark run (every exception type several times, with transport duplicates,
//! retries and late, out-of-order picks) is piped through `invex_detect::Engine` on a
//! `MemStore` the way `invex replay` does (one task, wall clock = highest event time), with
//! the loop closed: every action goes to `Simulator::respond` and its answers are merged back
//! into the stream in event-time order. The evaluation must find precision and recall of at
//! least 0.99 for every type, and every root cause as expected; every count discrepancy must
//! end RESOLVED with the truth's expected resolution (the recount proves a miscount, the ERP
//! acknowledges an approved adjustment, the supervisor closes a rejected one).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::Arc;

use invex_detect::{Engine, MemStore, Outputs, Policy};
use invex_model::{CanonicalEvent, ExceptionRecord, ExceptionStatus, ExceptionType};
use invex_sim::{Evaluation, Fault, FaultRates, SimConfig, Simulator, evaluate};

/// How far the wall clock moves after the last event: count evaluations (2 s grace) finish,
/// no acknowledgement timeout (15 min) of a posting cut off by the end of the run fires.
const DRAIN_MS: i64 = 60_000;

/// Runs `sim` through the engine with the loop closed; returns every exception record.
fn detect(mut sim: Simulator) -> Vec<ExceptionRecord> {
    let mut engine = Engine::new(Arc::new(Policy::default_policy()));
    let mut store = MemStore::with_stores(Engine::store_names());
    let mut out = Outputs::default();
    let mut records = Vec::new();
    let mut answers: BinaryHeap<Reverse<(i64, u64, String)>> = BinaryHeap::new();
    let mut pending: BTreeMap<u64, CanonicalEvent> = BTreeMap::new();
    let mut clock = i64::MIN;
    let mut next_answer = 0_u64;
    loop {
        let due = answers.peek().map(|Reverse((t, _, _))| *t);
        let next = sim.next_event_time();
        let answer_first = due.is_some_and(|t| next.is_none_or(|n| t <= n));
        let event = if answer_first {
            let Some(Reverse((_, n, _))) = answers.pop() else { break };
            pending.remove(&n).expect("queued answer")
        } else {
            let Some(event) = sim.next_event() else { break };
            event
        };
        clock = clock.max(event.header().event_time);
        engine.on_wall_clock(clock, &mut store, &mut out).expect("wall clock");
        engine.process(&event, clock, &mut store, &mut out).expect("no poison in the simulator");
        for action in std::mem::take(&mut out.actions) {
            for answer in sim.respond(&action) {
                let at = answer.header().event_time;
                answers.push(Reverse((at, next_answer, answer.header().event_id.clone())));
                pending.insert(next_answer, answer);
                next_answer += 1;
            }
        }
        records.append(&mut out.exceptions);
        out.clear();
    }
    engine.on_wall_clock(clock.saturating_add(DRAIN_MS), &mut store, &mut out).expect("drain");
    records.append(&mut out.exceptions);
    records
}

fn benchmark(seed: u64) -> SimConfig {
    SimConfig { seed, faults: FaultRates::benchmark(), ..SimConfig::default() }
}

fn report(evaluation: &Evaluation) -> String {
    format!("\n{evaluation}")
}

/// The latest version of each exception, by (type, site, subject).
fn latest_by_subject(
    records: &[ExceptionRecord],
) -> BTreeMap<(ExceptionType, &str, &str), &ExceptionRecord> {
    let mut latest: BTreeMap<_, &ExceptionRecord> = BTreeMap::new();
    for r in records {
        let key = (r.exception_type, r.site_id.as_str(), r.subject.as_str());
        let slot = latest.entry(key).or_insert(r);
        if (r.opened_at, r.version) > (slot.opened_at, slot.version) {
            *slot = r;
        }
    }
    latest
}

/// Every fault with an expected resolution ends RESOLVED with it; returns how many faults
/// expect each resolution.
fn assert_resolutions(truth: &[Fault], records: &[ExceptionRecord]) -> BTreeMap<String, usize> {
    let latest = latest_by_subject(records);
    let mut seen = BTreeMap::new();
    for fault in truth {
        let Some(expected) = fault.expected_resolution.as_deref() else { continue };
        let key = (fault.exception_type, fault.site.as_str(), fault.subject.as_str());
        let record = latest.get(&key).unwrap_or_else(|| panic!("not detected: {fault:?}"));
        let ended = (record.status, record.resolution.as_deref());
        assert_eq!(ended, (ExceptionStatus::Resolved, Some(expected)), "{fault:?}\n{record:?}");
        *seen.entry(expected.to_owned()).or_default() += 1;
    }
    seen
}

#[test]
fn benchmark_run_is_detected_and_resolved_as_the_truth_expects() {
    let sim = Simulator::new(benchmark(42)).expect("valid benchmark");
    let truth = sim.ground_truth().to_vec();
    let records = detect(sim);
    let resolutions = assert_resolutions(&truth, &records);
    for resolution in ["COUNT_ERROR", "ADJUSTED", "ADJUSTMENT_REJECTED"] {
        assert!(resolutions.contains_key(resolution), "no {resolution}: {resolutions:?}");
    }
    let evaluation = evaluate(&truth, &records);
    println!("{}", report(&evaluation));
    for exception_type in ExceptionType::ALL {
        let row = evaluation.by_type.iter().find(|r| r.exception_type == exception_type);
        let row = row.unwrap_or_else(|| panic!("{exception_type:?} absent{}", report(&evaluation)));
        assert!(
            row.true_positives >= 3,
            "{exception_type:?} seen too rarely{}",
            report(&evaluation)
        );
        assert!(row.precision >= 0.99, "{exception_type:?} precision{}", report(&evaluation));
        assert!(row.recall >= 0.99, "{exception_type:?} recall{}", report(&evaluation));
        assert!(row.root_cause_accuracy >= 0.99, "{exception_type:?} cause{}", report(&evaluation));
    }
}
