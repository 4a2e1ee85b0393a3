//! The invariants checked on a finished `Run`: every gated action was approved through the
//! gate, and only an ACK of that action resolves its exception.

use std::collections::BTreeMap;

use invex_model::{
    AckStatus, ActionType, ApprovalDecision, ApprovalVerdict, CanonicalEvent, ExceptionType,
};
use proptest::prelude::*;

use crate::harness::Run;
use crate::ops::{DUAL, ROLES, TIERS};

/// Checks the approval invariant; returns how many adjustments were checked.
pub(crate) fn check_adjustments(run: &Run) -> Result<usize, TestCaseError> {
    let approves: BTreeMap<&str, &ApprovalDecision> = run
        .decisions
        .iter()
        .filter(|d| d.verdict == ApprovalVerdict::Approve)
        .map(|d| (d.header.event_id.as_str(), d))
        .collect();
    let gated = [ActionType::StockAdjustment, ActionType::ReleaseHold];
    let adjustments: Vec<_> =
        run.log.actions.iter().filter(|a| gated.contains(&a.action_type)).collect();
    for adjustment in &adjustments {
        let reference = adjustment.approval_ref.as_deref();
        let decision = reference.and_then(|r| approves.get(r));
        prop_assert!(decision.is_some(), "adjustment without APPROVE: {adjustment:?}");
        let Some(decision) = decision else { continue };
        prop_assert_eq!(&decision.exception_id, &adjustment.exception_id.0);
        let answered = run.log.actions.iter().any(|a| {
            a.action_type == ActionType::ApprovalRequest
                && Some(&a.action_id.0) == decision.approval_request_id.as_ref()
                && a.exception_id == adjustment.exception_id
        });
        prop_assert!(answered, "the APPROVE did not answer a request of that exception");
        check_gate(run, adjustment, &approves)?;
    }
    let mut per_exception = BTreeMap::new();
    for a in &adjustments {
        *per_exception.entry(&a.exception_id).or_insert(0) += 1;
    }
    prop_assert!(per_exception.values().all(|&n| n == 1), "one gated action per exception");
    Ok(adjustments.len())
}

/// The approvals an adjustment lists passed the gate: one APPROVE of its request by a role at
/// or above the requested tier, or one by each role of the dual approval.
fn check_gate(
    run: &Run,
    adjustment: &invex_model::ActionCommand,
    approves: &BTreeMap<&str, &ApprovalDecision>,
) -> Result<(), TestCaseError> {
    let listed = adjustment.details.get("approvals").cloned().unwrap_or_default();
    let mut roles = Vec::new();
    for given in listed.split(',') {
        let event_id = given.rsplit(':').next().unwrap_or_default();
        let decision = approves.get(event_id);
        prop_assert!(decision.is_some(), "approval {given} is no APPROVE");
        let Some(decision) = decision else { continue };
        prop_assert_eq!(
            &decision.approval_request_id,
            &adjustment.details.get("approval_request_id").cloned()
        );
        roles.push(decision.actor_role.clone().unwrap_or_default());
    }
    roles.sort();
    let rank = |role: &str| ROLES[..TIERS].iter().position(|r| *r == role);
    let tier = adjustment.approval_tier.as_deref().unwrap_or_default();
    let single = roles.len() == 1 && rank(&roles[0]).zip(rank(tier)).is_some_and(|(h, n)| h >= n);
    let mut dual: Vec<String> = DUAL.iter().map(|r| (*r).to_owned()).collect();
    dual.sort();
    let kind = run.log.exceptions.iter().find(|e| e.exception_id == adjustment.exception_id);
    let must_be_dual = kind.is_some_and(|e| {
        matches!(
            e.exception_type,
            ExceptionType::LotSerialInconsistency | ExceptionType::ExpiredInventory
        )
    });
    prop_assert!(
        roles == dual || (single && !must_be_dual),
        "gate not met: {roles:?}, tier {tier}"
    );
    Ok(())
}

/// ACTIONING: an exception resolves as ADJUSTED or RELEASED only after an ACK that names one of
/// its gated actions, and every gated action leaves its exception ACTIONING first; returns how
/// many such resolutions were checked.
pub(crate) fn check_actioning(run: &Run) -> Result<usize, TestCaseError> {
    let gated = [ActionType::StockAdjustment, ActionType::ReleaseHold];
    let acked: Vec<&str> = run
        .delivered
        .iter()
        .filter_map(|e| match e {
            CanonicalEvent::Ack(a) if a.status == AckStatus::Ack => Some(a),
            _ => None,
        })
        .flat_map(|a| a.related_event_ids.iter().map(String::as_str))
        .collect();
    let mut resolved = 0;
    for e in &run.log.exceptions {
        let by_action = matches!(e.resolution.as_deref(), Some("ADJUSTED" | "RELEASED"));
        if !by_action || e.rule_id != "GOV-005" {
            prop_assert!(!by_action, "resolved as {:?} by {}", e.resolution, e.rule_id);
            continue;
        }
        let named = run.log.actions.iter().any(|a| {
            a.exception_id == e.exception_id
                && gated.contains(&a.action_type)
                && acked.contains(&a.action_id.0.as_str())
        });
        prop_assert!(named, "resolved without an ACK of its action: {e:?}");
        resolved += 1;
    }
    for a in run.log.actions.iter().filter(|a| gated.contains(&a.action_type)) {
        let actioning = run.log.audit.iter().any(|r| {
            r.exception_id == a.exception_id
                && r.to_status == invex_model::ExceptionStatus::Actioning
                && r.action_ids.contains(&a.action_id.0)
        });
        prop_assert!(actioning, "no ACTIONING for {a:?}");
    }
    Ok(resolved)
}
