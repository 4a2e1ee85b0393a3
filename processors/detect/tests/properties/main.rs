//! Property tests over random event sequences of one item at one site (two storage locations
//! and a dock): book snapshots, picks (free, or on a few task lines and allocations, so lines
//! get confirmed twice and allocations overrun), allocations, task moves, ASN lines, receipts
//! against the ASN (some damaged, some closing the receipt), putaways, damaged scans, lots with
//! expiry dates, no-reads and wrong scans, ERP acknowledgements, item master versions (lot
//! control, shelf life), counts and recounts, human decisions, producer retries (same content,
//! new event id), wall-clock advances, redeliveries and out-of-order event times. Every
//! detector sees them.
//!
//! - a crash, restore from the changelog and continue, at any point, changes no output byte;
//!   nor does it with jumps of stream time past the stores' TTLs and the purge of expired
//!   entries run after every few steps (reads hide what the purge deletes, so when it runs
//!   cannot matter);
//! - delivering every event twice changes no output byte;
//! - no STOCK_ADJUSTMENT or RELEASE_HOLD without an APPROVE decision, and every one names (in
//!   `approval_ref`) an APPROVE decision that answered that exception's approval request;
//! - an exception resolves as ADJUSTED or RELEASED only after an ACK naming its gated action
//!   (acks name the latest one half of the time), and every gated action puts its exception in
//!   ACTIONING first;
//! - every one passed the approval gate: the approvals it lists are APPROVEs of its request by
//!   a role at or above the requested tier, or by both roles of the dual approval (always the
//!   dual approval for lot/serial and expiry exceptions). Decisions carry random roles (or
//!   none) and every lifecycle verdict (hold, release, resolve, cancel, acknowledge) occurs.

mod checks;
mod events;
mod harness;
mod ops;

use invex_model::{ActionType, ApprovalVerdict, ExceptionType};
use proptest::prelude::*;

use crate::checks::{check_actioning, check_adjustments};
use crate::harness::{run, run_purging};
use crate::ops::{Op, Request, Step, TIERS, Target, steps, ttl_steps};

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn restoring_at_any_point_changes_no_output(
        steps in steps(true),
        point in any::<prop::sample::Index>(),
    ) {
        let straight = run(&steps, None, false);
        let restore_at = point.index(steps.len() + 1);
        let restored = run(&steps, Some(restore_at), false);
        prop_assert_eq!(&straight.lines, &restored.lines, "restore before step {}", restore_at);
    }

    #[test]
    fn restoring_and_purging_at_any_point_changes_no_output(
        steps in ttl_steps(),
        point in any::<prop::sample::Index>(),
        purge_every in 1..4usize,
    ) {
        let straight = run(&steps, None, false);
        let restore_at = point.index(steps.len() + 1);
        let purged = run_purging(&steps, Some(restore_at), false, Some(purge_every));
        prop_assert_eq!(
            &straight.lines,
            &purged.lines,
            "restore before step {}, purge every {} steps",
            restore_at,
            purge_every
        );
    }

    #[test]
    fn delivering_every_event_twice_changes_no_output(steps in steps(true)) {
        let once = run(&steps, None, false);
        let twice = run(&steps, None, true);
        prop_assert_eq!(&once.lines, &twice.lines);
    }

    #[test]
    fn no_stock_adjustment_without_an_approve_decision(steps in steps(false)) {
        let run = run(&steps, None, false);
        prop_assert_eq!(check_adjustments(&run)?, 0);
    }

    #[test]
    fn every_stock_adjustment_follows_an_approve_of_its_request(steps in steps(true)) {
        let run = run(&steps, None, false);
        check_adjustments(&run)?;
    }

    #[test]
    fn only_an_ack_of_the_approved_action_resolves_it(steps in steps(true)) {
        let run = run(&steps, None, false);
        check_actioning(&run)?;
    }
}

#[test]
fn the_generated_ttl_shape_purges_expired_entries() {
    let steps = vec![
        (0, Op::PickLine { line: 0, qty: 3, alloc: Some(0) }),
        (0, Op::Scan { loc: 0, result: 0 }),
        (0, Op::Ack { message: 0, status: 0, names_action: false }),
        (0, Op::Jump { days: 100 }),
        (0, Op::Book { loc: 0, qty: 10 }),
    ];
    let purged = run_purging(&steps, None, false, Some(1));
    assert!(purged.purged >= 3, "the line, the no-read and the message: {}", purged.purged);
    assert_eq!(run(&steps, None, false).lines, purged.lines);
}

/// A count 30 % short, recounted the same, then approved at the top tier: the generated
/// shape of an approved adjustment.
fn approved_adjustment() -> Vec<Step> {
    let approve = Op::Decide {
        verdict: ApprovalVerdict::Approve,
        target: Target::Latest,
        request: Request::Outstanding,
        role: TIERS - 1,
    };
    vec![
        (0, Op::Book { loc: 0, qty: 100 }),
        (60, Op::Count { loc: 0, counted: 70, seq: 1, wms: None }),
        (60, Op::Count { loc: 0, counted: 70, seq: 2, wms: None }),
        (60, Op::Pick { loc: 1, qty: 1 }),
        (60, approve),
    ]
}

#[test]
fn the_generated_shape_reaches_an_adjustment() {
    let run = run(&approved_adjustment(), None, false);
    assert_eq!(check_adjustments(&run).unwrap(), 1);
}

#[test]
fn the_generated_shape_resolves_an_adjustment_by_its_ack() {
    let mut steps = approved_adjustment();
    steps.push((60, Op::Ack { message: 0, status: 2, names_action: true }));
    steps.push((60, Op::Ack { message: 0, status: 1, names_action: true }));
    let run = run(&steps, None, false);
    assert_eq!(check_adjustments(&run).unwrap(), 1);
    assert_eq!(check_actioning(&run).unwrap(), 1);
    let refused = run.log.exceptions.iter().any(|e| {
        e.exception_type == ExceptionType::CycleCountDiscrepancy
            && e.status_reason.as_deref() == Some("ACTION_REFUSED")
    });
    assert!(refused, "the ERROR sent the exception back to work");
}

#[test]
fn the_generated_shape_reaches_a_write_off_of_damaged_goods() {
    let approve = Op::Decide {
        verdict: ApprovalVerdict::Approve,
        target: Target::Latest,
        request: Request::Outstanding,
        role: TIERS - 1,
    };
    let steps = vec![
        (0, Op::Book { loc: 0, qty: 100 }),
        (0, Op::Asn { qty: 30 }),
        (60, Op::Receive { qty: 30, closed: true, damaged: true }),
        (60, approve),
    ];
    let run = run(&steps, None, false);
    let types: Vec<_> = run.log.exceptions.iter().map(|e| e.exception_type).collect();
    assert!(types.contains(&invex_model::ExceptionType::DamagedGoods), "{types:?}");
    assert_eq!(check_adjustments(&run).unwrap(), 1);
}

#[test]
fn the_generated_shape_reaches_a_release_of_held_stock() {
    let decide = |verdict| Op::Decide {
        verdict,
        target: Target::Latest,
        request: Request::Outstanding,
        role: TIERS - 1,
    };
    let steps = vec![
        (0, Op::Book { loc: 0, qty: 100 }),
        (60, Op::DamagedScan { loc: 0, qty: 1 }),
        (60, decide(ApprovalVerdict::Resolve)),
        (60, decide(ApprovalVerdict::Approve)),
    ];
    let run = run(&steps, None, false);
    let released = run.log.actions.iter().filter(|a| a.action_type == ActionType::ReleaseHold);
    assert_eq!(released.count(), 1);
    assert_eq!(check_adjustments(&run).unwrap(), 1);
}
