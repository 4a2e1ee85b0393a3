//! End-to-end properties of the simulator, checked from its events only.

#[path = "support/ledger.rs"]
mod ledger;

use std::collections::BTreeMap;

use invex_model::{
    ActionCommand, ActionId, ActionType, ApprovalVerdict, CanonicalEvent, CountType, ExceptionId,
    ExceptionType, RequestedBy, RootCauseCategory, SourceSystem,
};
use invex_sim::{Fault, FaultKind, SimConfig, Simulator, Transport};
use ledger::Ledger;

/// The count faults, whose truth these tests check against an independent book.
const COUNT_KINDS: [FaultKind; 3] =
    [FaultKind::Miscount, FaultKind::MisplacedStock, FaultKind::SyncLag];

/// A small run without transport disturbances (so events are in event-time order, once each).
fn small(seed: u64) -> SimConfig {
    let transport = Transport { duplicate: 0.0, retry: 0.0, late: 0.0 };
    SimConfig { seed, skus_per_site: 600, transport, ..SimConfig::default() }
}

/// The count-discrepancy entries of the truth.
fn count_truth(sim: &Simulator) -> Vec<Fault> {
    sim.ground_truth()
        .iter()
        .filter(|f| f.exception_type == ExceptionType::CycleCountDiscrepancy)
        .cloned()
        .collect()
}

fn location(f: &Fault) -> String {
    f.location_id.clone().unwrap_or_default()
}

fn events(cfg: SimConfig) -> (Simulator, Vec<CanonicalEvent>) {
    let mut sim = Simulator::new(cfg).unwrap();
    let events: Vec<_> = sim.by_ref().collect();
    (sim, events)
}

fn subject(site: &str, sku: &str, location: &str) -> (String, String, String) {
    (site.to_owned(), sku.to_owned(), location.to_owned())
}

#[test]
fn same_seed_same_events_other_seed_other_events() {
    let (_, a) = events(small(7));
    let (_, b) = events(small(7));
    let (_, c) = events(small(8));
    assert!(a.len() > 1000);
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn events_are_in_event_time_order_with_unique_ids_and_sequences() {
    let cfg = small(3);
    let (start, end) = (cfg.start_time, cfg.end_time());
    let (sim, events) = events(cfg);
    assert!(events.windows(2).all(|w| w[0].header().event_time <= w[1].header().event_time));
    assert!(events.iter().all(|e| (start..end).contains(&e.header().event_time)));
    let mut ids: Vec<_> = events.iter().map(|e| e.header().event_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), events.len());
    let mut last: BTreeMap<String, i64> = BTreeMap::new();
    for e in &events {
        let h = e.header();
        let prev = last.insert(format!("{:?}", h.source_system), h.source_seq).unwrap_or(0);
        assert_eq!(h.source_seq, prev + 1, "gap or reorder in {:?}", h.source_system);
        assert!(matches!(
            h.source_system,
            SourceSystem::Wms | SourceSystem::Erp | SourceSystem::Edge
        ));
        assert!(e.header().event_id.starts_with("sim-3-"));
    }
    let per_topic: u64 = sim.stats().events_by_topic.values().sum();
    assert_eq!(per_topic, events.len() as u64);
    let items = sim.stats().events_by_topic["md.item"];
    assert_eq!(items, 2 * 600, "one item master per SKU and site");
}

#[test]
fn ground_truth_is_exactly_the_counts_the_detector_book_disagrees_with() {
    let cfg = small(11);
    let window = cfg.movement_window_ms;
    let (sim, events) = events(cfg);
    let faults = count_truth(&sim);
    let truth: BTreeMap<_, &Fault> =
        faults.iter().map(|f| (subject(&f.site, &f.sku, &location(f)), f)).collect();
    assert_eq!(truth.len(), faults.len(), "one count discrepancy per location");
    let mut ledger = Ledger::default();
    let mut revealed = 0;
    for event in &events {
        ledger.apply(event);
        let CanonicalEvent::Count(count) = event else { continue };
        let site = &count.header.site_id;
        let found = ledger.evaluate(site, count, window);
        let Some(fault) = truth.get(&subject(site, &count.sku, &count.location_id)) else {
            // Only a pick fault or theft too small for the class tolerance goes unreported.
            let within = found.variance * 20 <= found.book.abs();
            assert!(found.variance == 0 || within, "unexpected variance: {count:?}");
            continue;
        };
        revealed += 1;
        assert!(found.variance.abs() >= 1, "{fault:?}");
        if COUNT_KINDS.contains(&fault.kind) {
            assert!(found.variance.abs() >= 2, "{fault:?}");
            assert!(found.variance.abs() * 10 >= found.book.abs(), "under 10 %: {fault:?}");
        }
        let final_cause = match fault.kind {
            FaultKind::Miscount => RootCauseCategory::Process,
            _ => found.root_cause,
        };
        assert_eq!(final_cause, fault.expected_root_cause, "{fault:?}");
        assert!(count.header.event_time >= fault.injected_at);
        assert_eq!(count.count_seq, 1);
    }
    assert_eq!(revealed, truth.len(), "every fault has a count after its injection");
}

#[test]
fn expected_root_causes_follow_the_fault_kind() {
    let (sim, _) = events(SimConfig { skus_per_site: 1500, ..SimConfig::default() });
    let truth = count_truth(&sim);
    for kind in COUNT_KINDS {
        assert!(truth.iter().any(|f| f.kind == kind), "no {kind} in the truth");
    }
    use RootCauseCategory::{Process, SystemSync};
    for f in &truth {
        match f.kind {
            FaultKind::SyncLag => assert_eq!(f.expected_root_cause, SystemSync),
            FaultKind::Miscount => assert_eq!(f.expected_root_cause, Process),
            _ => assert_ne!(f.expected_root_cause, SystemSync, "{f:?}"),
        }
        let resolution = f.expected_resolution.as_deref();
        if f.kind == FaultKind::Miscount {
            assert_eq!(resolution, Some("COUNT_ERROR"));
        } else {
            assert!(matches!(resolution, Some("ADJUSTED" | "ADJUSTMENT_REJECTED")));
        }
    }
    assert!(
        truth
            .iter()
            .any(|f| f.kind == FaultKind::MisplacedStock && f.expected_root_cause == Process)
    );
}

fn action(fault: &Fault, action_type: ActionType, created_at: i64) -> ActionCommand {
    let subject = fault.subject.clone();
    let exception =
        ExceptionId::derive("CYCLE_COUNT_DISCREPANCY", &fault.tenant, &fault.site, &subject, "e");
    ActionCommand {
        action_id: ActionId::derive(&exception, action_type.as_str(), 1),
        action_type,
        exception_id: exception,
        attempt: 1,
        tenant_id: fault.tenant.clone(),
        site_id: fault.site.clone(),
        location_id: fault.location_id.clone(),
        sku: fault.sku.clone(),
        lot: fault.lot.clone(),
        quantity: Some(-3),
        uom: Some("EA".to_owned()),
        value: None,
        currency: None,
        reason_code: None,
        approval_ref: None,
        approval_tier: Some("SUPERVISOR".to_owned()),
        target_group: "ops".to_owned(),
        priority: 2,
        due_at: None,
        requested_by: RequestedBy::Rule,
        rule_id: "CC-001".to_owned(),
        policy_version: "1".to_owned(),
        created_at,
        details: BTreeMap::new(),
    }
}

#[test]
fn recount_reports_the_shelf_and_matches_the_book_only_after_a_miscount() {
    let (mut sim, events) = events(small(5));
    let mut ledger = Ledger::default();
    let mut counted_at = BTreeMap::new();
    for e in &events {
        ledger.apply(e);
        if let CanonicalEvent::Count(c) = e {
            let key = subject(&c.header.site_id, &c.sku, &c.location_id);
            counted_at.insert(key, (c.header.event_time, c.counted_qty));
        }
    }
    let faults = count_truth(&sim);
    assert!(faults.iter().any(|f| f.kind == FaultKind::Miscount));
    for fault in &faults {
        let key = subject(&fault.site, &fault.sku, &location(fault));
        let (count_time, first_count) = counted_at[&key];
        let opened_at = count_time + 2_000;
        let answer = sim.respond(&action(fault, ActionType::RecountTask, opened_at));
        let [CanonicalEvent::Count(recount)] = answer.as_slice() else { panic!("{answer:?}") };
        let t = recount.header.event_time;
        assert!(t > opened_at);
        assert_eq!((recount.count_seq, recount.count_type), (2, CountType::Demand));
        assert!(recount.freeze_time < t);
        let shelf = sim.physical_qty(&fault.site, &fault.sku, &location(fault), t);
        assert_eq!(Some(recount.counted_qty), shelf);
        let matches_book = ledger.book_at(&key, t) == recount.counted_qty;
        assert_eq!(matches_book, fault.kind == FaultKind::Miscount, "{fault:?}");
        let held = recount.counted_qty == first_count;
        assert_eq!(held, fault.kind != FaultKind::Miscount, "no picks while on hold: {fault:?}");
    }
}

#[test]
fn respond_is_idempotent_and_ignores_what_it_does_not_handle() {
    let (mut sim, _) = events(small(5));
    let fault = count_truth(&sim)[0].clone();
    let recount = action(&fault, ActionType::RecountTask, fault.injected_at);
    let first = sim.respond(&recount);
    assert_eq!(first.len(), 1);
    assert!(sim.respond(&recount).is_empty());
    let mut second = recount.clone();
    second.action_id = ActionId("act-other".to_owned());
    let answer = sim.respond(&second);
    let [CanonicalEvent::Count(again)] = answer.as_slice() else { panic!("{answer:?}") };
    assert_eq!(again.count_seq, 3, "a further recount continues the sequence");
    assert_ne!(first[0].header().event_id, again.header.event_id);
    assert!(sim.respond(&action(&fault, ActionType::InventoryHold, 0)).is_empty());
    let mut unknown = action(&fault, ActionType::RecountTask, 0);
    unknown.location_id = Some("NOWHERE".to_owned());
    unknown.action_id = ActionId("act-unknown".to_owned());
    assert!(sim.respond(&unknown).is_empty());
    let mut far = action(&fault, ActionType::RecountTask, i64::MAX);
    far.action_id = ActionId("act-far".to_owned());
    assert_eq!(sim.respond(&far).len(), 1, "out-of-range times do not panic");
    far.action_type = ActionType::ApprovalRequest;
    far.action_id = ActionId("act-far-approval".to_owned());
    far.created_at = i64::MIN;
    assert_eq!(sim.respond(&far).len(), 1);
}

#[test]
fn approvals_answer_the_request_with_the_expected_verdict() {
    let cfg = SimConfig { approval_reject_share: 0.5, ..small(9) };
    let (mut sim, _) = events(cfg);
    let faults: Vec<_> =
        count_truth(&sim).into_iter().filter(|f| f.kind != FaultKind::Miscount).collect();
    assert!(faults.len() >= 2);
    for fault in &faults {
        let request = action(fault, ActionType::ApprovalRequest, fault.injected_at + 60_000);
        let answer = sim.respond(&request);
        let Some(CanonicalEvent::Approval(decision)) = answer.first() else { panic!("{answer:?}") };
        assert_eq!(decision.approval_request_id.as_deref(), Some(request.action_id.0.as_str()));
        assert_eq!(decision.exception_id, request.exception_id.0);
        assert_eq!(
            (decision.sku.as_str(), decision.actor.as_str()),
            (fault.sku.as_str(), "supervisor-1")
        );
        assert!(decision.header.event_time > request.created_at);
        let expected = match fault.expected_resolution.as_deref() {
            Some("ADJUSTED") => ApprovalVerdict::Approve,
            _ => ApprovalVerdict::Reject,
        };
        assert_eq!(decision.verdict, expected, "{fault:?}");
        assert_eq!(decision.reason_code.is_some(), expected == ApprovalVerdict::Approve);
        // A rejection is closed by a RESOLVE of the same exception; an approval stands alone.
        let closes: Vec<_> = answer[1..]
            .iter()
            .map(|e| match e {
                CanonicalEvent::Approval(d) => (d.verdict, d.exception_id.as_str()),
                other => panic!("{other:?}"),
            })
            .collect();
        let close = [(ApprovalVerdict::Resolve, decision.exception_id.as_str())];
        let expected_closes: &[_] = if expected == ApprovalVerdict::Reject { &close } else { &[] };
        assert_eq!(closes, expected_closes, "{fault:?}");
        assert!(sim.respond(&request).is_empty());
    }
}

#[test]
fn closing_the_loop_does_not_change_the_generated_stream() {
    let mut sim = Simulator::new(small(4)).unwrap();
    let head: Vec<_> = sim.by_ref().take(100).collect();
    let fault = count_truth(&sim)[0].clone();
    let answer = sim.respond(&action(&fault, ActionType::RecountTask, fault.injected_at));
    let tail: Vec<_> = sim.by_ref().collect();
    let (_, plain) = events(small(4));
    assert_eq!([head, tail].concat(), plain);
    let generated = plain.len();
    assert_eq!(answer[0].header().event_id, format!("sim-4-{generated}"));
}

#[test]
fn default_config_is_demo_sized() {
    let sim = Simulator::new(SimConfig::default()).unwrap();
    let stats = sim.stats();
    assert!((50_000..150_000).contains(&stats.events), "{stats:?}");
    assert!(stats.counted_locations * 5 >= stats.storage_locations, "{stats:?}");
    assert!(stats.expected_exceptions >= 30, "{stats:?}");
    assert!(sim.len() > stats.events as usize, "transport adds duplicates and retries");
}

#[test]
fn transport_duplicates_and_delays_without_changing_the_events() {
    let cfg = SimConfig { skus_per_site: 600, ..SimConfig::default() };
    let (_, delivered) = events(cfg.clone());
    let (_, plain) =
        events(SimConfig { transport: Transport { duplicate: 0.0, retry: 0.0, late: 0.0 }, ..cfg });
    let mut originals: Vec<_> =
        delivered.iter().filter(|e| !e.header().event_id.ends_with("-retry")).cloned().collect();
    let mut ids: Vec<_> = originals.iter().map(|e| e.header().event_id.clone()).collect();
    ids.dedup();
    let duplicates = originals.len() - ids.len();
    assert!(duplicates > 0, "no duplicate delivery");
    originals.dedup();
    let late = originals.windows(2).filter(|w| w[0].header().event_time > w[1].header().event_time);
    assert!(late.count() > 0, "no late delivery");
    originals.sort_by_key(|e| {
        e.header().event_id.trim_start_matches("sim-42-").parse::<u64>().unwrap_or(0)
    });
    assert_eq!(originals, plain, "transport changes delivery only");
    let retries: Vec<_> =
        delivered.iter().filter(|e| e.header().event_id.ends_with("-retry")).collect();
    assert!(!retries.is_empty() && retries.iter().all(|e| matches!(e, CanonicalEvent::Pick(_))));
}

#[test]
fn invalid_config_is_refused() {
    let cfg = SimConfig { skus_per_site: 0, ..SimConfig::default() };
    assert!(Simulator::new(cfg).is_err());
}
