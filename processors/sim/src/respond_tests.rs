use std::collections::BTreeMap;

use invex_model::{ActionId, ExceptionId, RequestedBy};

use super::*;
use crate::config::Transport;

/// A small run: one site, few SKUs, one hour, no transport disturbances.
fn tiny(seed: u64, approval_reject_share: f64) -> Simulator {
    let transport = Transport { duplicate: 0.0, retry: 0.0, late: 0.0 };
    let cfg = SimConfig {
        seed,
        sites: 1,
        skus_per_site: 40,
        duration_ms: 3_600_000,
        transport,
        approval_reject_share,
        ..SimConfig::default()
    };
    Simulator::new(cfg).unwrap()
}

/// An action of `action_type` on a count discrepancy at `DC1`, `SKU-1`, `A-01`.
fn action(sim: &Simulator, action_type: ActionType, name: &str) -> ActionCommand {
    let exception = ExceptionId(format!("exc-{name}"));
    ActionCommand {
        action_id: ActionId(format!("act-{name}-{}", action_type.as_str())),
        action_type,
        exception_id: exception,
        attempt: 1,
        tenant_id: sim.config().tenant.clone(),
        site_id: "DC1".to_owned(),
        location_id: Some("A-01".to_owned()),
        sku: "SKU-1".to_owned(),
        lot: None,
        quantity: Some(-20),
        uom: Some("EA".to_owned()),
        value: Some(-100.0),
        currency: Some("EUR".to_owned()),
        reason_code: Some("4".to_owned()),
        approval_ref: None,
        approval_tier: Some("SUPERVISOR".to_owned()),
        target_group: "INVENTORY_CONTROL".to_owned(),
        priority: 2,
        due_at: None,
        requested_by: RequestedBy::User,
        rule_id: "CC-003".to_owned(),
        policy_version: "1".to_owned(),
        created_at: sim.config().start_time + 1_800_000,
        details: BTreeMap::new(),
    }
}

fn decisions(events: &[CanonicalEvent]) -> Vec<&ApprovalDecision> {
    events
        .iter()
        .map(|e| match e {
            CanonicalEvent::Approval(d) => d,
            other => panic!("not a decision: {other:?}"),
        })
        .collect()
}

#[test]
fn mix_is_stable_and_separates_field_boundaries() {
    assert_eq!(mix(1, &["ab", "c"]), mix(1, &["ab", "c"]));
    assert_ne!(mix(1, &["ab", "c"]), mix(1, &["a", "bc"]));
    assert_ne!(mix(1, &["ab"]), mix(2, &["ab"]));
}

#[test]
fn reject_share_is_roughly_respected() {
    let cfg = SimConfig { approval_reject_share: 0.25, ..SimConfig::default() };
    let rejected = (0..4000)
        .filter(|i| approver_rejects(&cfg, "DC1", &format!("SKU-{i}"), Some("A01"), None))
        .count();
    assert!((800..1200).contains(&rejected), "{rejected}");
    let never = SimConfig { approval_reject_share: 0.0, ..SimConfig::default() };
    assert!(!approver_rejects(&never, "DC1", "SKU-1", None, None));
}

#[test]
fn spread_stays_in_range_and_depends_on_every_field() {
    for id in ["a", "b", "act-1", "act-2"] {
        let v = spread(9, &[id], RECOUNT_DELAY_MS);
        assert!((RECOUNT_DELAY_MS.0..RECOUNT_DELAY_MS.1).contains(&v));
        let w = spread(9, &[id, "close"], CLOSE_DELAY_MS);
        assert!((CLOSE_DELAY_MS.0..CLOSE_DELAY_MS.1).contains(&w));
    }
    let spreads: Vec<_> = ["x", "y", "z"]
        .iter()
        .map(|purpose| spread(9, &["act-1", purpose], POSTING_ACK_DELAY_MS))
        .collect();
    assert!(spreads.windows(2).any(|w| w[0] != w[1]), "{spreads:?}");
}

#[test]
fn the_erp_acknowledges_an_adjustment_naming_the_action() {
    let mut sim = tiny(5, 0.0);
    let adjustment = action(&sim, ActionType::StockAdjustment, "e1");
    let answer = sim.respond(&adjustment);
    let [CanonicalEvent::Ack(ack)] = answer.as_slice() else { panic!("{answer:?}") };
    assert_eq!(ack.related_event_ids, [adjustment.action_id.0.as_str()]);
    assert_eq!(ack.status, AckStatus::Ack);
    assert_eq!((ack.doc_type.as_str(), ack.direction.as_str()), ("ADJ", "WMS_TO_ERP"));
    assert_eq!((ack.sku.as_str(), ack.quantity, ack.attempt), ("SKU-1", -20, 1));
    assert!(ack.message_id.starts_with("ADJ-MSG-DC1-"), "{}", ack.message_id);
    assert_eq!(ack.error_code, None);
    let h = &ack.header;
    assert_eq!(h.source_system, SourceSystem::Erp);
    assert_eq!((h.tenant_id.as_str(), h.site_id.as_str()), ("acme", "DC1"));
    let delay = h.event_time - adjustment.created_at;
    assert!((POSTING_ACK_DELAY_MS.0..POSTING_ACK_DELAY_MS.1).contains(&delay), "{delay}");
    assert!(h.record_time > h.event_time);
}

#[test]
fn an_adjustment_of_an_unknown_tenant_or_site_or_without_quantity_is_not_acknowledged() {
    let mut sim = tiny(5, 0.0);
    let mut foreign = action(&sim, ActionType::StockAdjustment, "foreign");
    foreign.tenant_id = "other".to_owned();
    assert!(sim.respond(&foreign).is_empty());
    let mut elsewhere = action(&sim, ActionType::StockAdjustment, "elsewhere");
    elsewhere.site_id = "DC9".to_owned();
    assert!(sim.respond(&elsewhere).is_empty());
    let mut empty = action(&sim, ActionType::StockAdjustment, "empty");
    empty.quantity = None;
    assert!(sim.respond(&empty).is_empty());
    let release = action(&sim, ActionType::ReleaseHold, "release");
    assert!(sim.respond(&release).is_empty(), "the simulator never causes a release");
    empty.quantity = Some(-1);
    assert_eq!(sim.respond(&empty).len(), 1, "not answered before, so answered now");
}

#[test]
fn a_rejection_is_followed_by_a_resolve_that_closes_the_case() {
    let mut sim = tiny(5, 1.0);
    let request = action(&sim, ActionType::ApprovalRequest, "e2");
    let answer = sim.respond(&request);
    let [reject, close] = decisions(&answer)[..] else { panic!("{answer:?}") };
    assert_eq!(reject.verdict, ApprovalVerdict::Reject);
    assert_eq!(reject.approval_request_id.as_deref(), Some(request.action_id.0.as_str()));
    assert_eq!(close.verdict, ApprovalVerdict::Resolve);
    assert_eq!(close.approval_request_id, None, "a RESOLVE answers no request");
    assert_eq!(close.reason_code, None, "the detector resolves with the status reason");
    assert_eq!(close.exception_id, request.exception_id.0);
    assert_eq!((close.sku.as_str(), close.header.site_id.as_str()), ("SKU-1", "DC1"));
    assert_eq!(close.actor_role.as_deref(), Some("SUPERVISOR"));
    let delay = close.header.event_time - reject.header.event_time;
    assert!((CLOSE_DELAY_MS.0..CLOSE_DELAY_MS.1).contains(&delay), "{delay}");
    assert_ne!(reject.header.event_id, close.header.event_id);
    assert_eq!(close.header.source_seq, reject.header.source_seq + 1);
}

#[test]
fn an_approval_is_a_single_decision() {
    let mut sim = tiny(5, 0.0);
    let request = action(&sim, ActionType::ApprovalRequest, "e3");
    let answer = sim.respond(&request);
    let [approve] = decisions(&answer)[..] else { panic!("{answer:?}") };
    assert_eq!(approve.verdict, ApprovalVerdict::Approve);
    assert_eq!(approve.reason_code.as_deref(), Some("4"));
    assert_eq!(approve.approval_request_id.as_deref(), Some(request.action_id.0.as_str()));
}

#[test]
fn answers_are_identical_for_the_same_seed_and_given_once() {
    let run = |seed: u64| {
        let mut sim = tiny(seed, 1.0);
        let kinds = [ActionType::ApprovalRequest, ActionType::StockAdjustment];
        let actions: Vec<_> = kinds.iter().map(|&k| action(&sim, k, "e4")).collect();
        let mut out = Vec::new();
        for a in &actions {
            let first = sim.respond(a);
            assert!(!first.is_empty(), "{a:?}");
            assert!(sim.respond(a).is_empty(), "answered again: {a:?}");
            out.extend(first);
        }
        out
    };
    let a = run(5);
    assert_eq!(a.len(), 3);
    assert_eq!(a, run(5));
    assert_ne!(a, run(6));
}
