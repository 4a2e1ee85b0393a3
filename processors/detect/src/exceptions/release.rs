//! Quality release of held stock: RELEASE_HOLD only after an approval.
//!
//! An exception whose detector blocked stock (an INVENTORY_HOLD) and whose type is in
//! `[governance] release_approval_types` is not simply closed by a person's RESOLVE: the
//! RESOLVE asks for the release instead (APPROVAL_REQUEST with `proposed_action`
//! RELEASE_HOLD, tier by the held value, AWAITING_APPROVAL). Only an APPROVE answering that
//! request, through the approval gate (so the dual quality and finance approval for
//! lot-controlled and recall-related exceptions), issues the RELEASE_HOLD (`approval_ref` =
//! the decision) and puts the exception in ACTIONING until the release is acknowledged
//! (RESOLVED / RELEASED, see the governance actioning module); a REJECT leaves it REJECTED
//! (status reason RELEASE_REJECTED), and a RESOLVE then closes it with the stock still blocked.

use invex_model::{
    ActionCommand, ActionType, ApprovalDecision, Decision, ExceptionStatus, RequestedBy,
};

use super::lifecycle::{await_approval, commit, issue};
use super::{ActionPlan, Case};
use crate::cycle_count::AuditDraft;
use crate::detector::Ctx;
use crate::error::DetectError;
use crate::governance::{self, Given, RULE_HUMAN};

/// Whether a RESOLVE of this case must first ask for the release of its held stock.
pub(crate) fn wants_release(ctx: &Ctx<'_>, case: &Case) -> Result<bool, DetectError> {
    let held = case.gov.held.is_some_and(|q| q != 0);
    let r = &case.record;
    let deciding =
        matches!(r.status, ExceptionStatus::AwaitingApproval | ExceptionStatus::Rejected);
    if !held || case.gov.release_requested || deciding {
        return Ok(false);
    }
    let p = governance::settings(ctx, r)?;
    let kind = r.exception_type.as_str();
    Ok(p.release_approval_types.iter().any(|t| t.eq_ignore_ascii_case(kind)))
}

/// Turns a RESOLVE into the approval request of the release.
pub(crate) fn request_release(
    ctx: &mut Ctx<'_>,
    mut case: Case,
    d: &ApprovalDecision,
) -> Result<(), DetectError> {
    let at = d.header.event_time;
    let held = case.gov.held.unwrap_or(0).abs();
    let value = held as f64 * case.record.valuation.unit_cost;
    let tier = ctx.policy().tier_for(value).clone();
    governance::bump(ctx, &mut case.record, RULE_HUMAN, at, Some(&d.header.event_id));
    let plan = ActionPlan {
        quantity: Some(held),
        ..ActionPlan::new(ActionType::ApprovalRequest, &tier.approver_group)
    }
    .detail("approver_group", tier.approver_group.clone())
    .detail("proposed_action", ActionType::ReleaseHold.as_str());
    let mut request = issue(&mut case, &plan, RequestedBy::User, at);
    request.approval_tier = Some(tier.name.clone());
    request.priority = tier.severity;
    let from = case.record.status;
    case.gov.release_requested = true;
    case.gov.approvals.clear();
    await_approval(&mut case, &tier, &request);
    let mut details = std::collections::BTreeMap::new();
    details.insert("proposed_action".to_owned(), ActionType::ReleaseHold.as_str().to_owned());
    details.insert("tier".to_owned(), tier.name.clone());
    let draft = AuditDraft {
        decision: Decision::ApprovalRequested,
        rule: None,
        from: Some(from),
        to: ExceptionStatus::AwaitingApproval,
        at,
        note: format!("release of {held} held unit(s) needs approval (asked by {})", d.actor),
        actor: Some(d.actor.clone()),
        action_ids: vec![request.action_id.0.clone()],
        inputs: vec![d.header.event_id.clone()],
        details,
    };
    commit(ctx, case, vec![request], vec![draft])
}

/// The RELEASE_HOLD of an approved release request.
pub(super) fn release(
    case: &mut Case,
    d: &ApprovalDecision,
    approvals: &[Given],
    target_group: &str,
) -> ActionCommand {
    let held = case.gov.held.unwrap_or(0).abs();
    let plan = ActionPlan {
        quantity: Some(held),
        ..ActionPlan::new(ActionType::ReleaseHold, target_group)
    }
    .detail("approver", d.actor.clone())
    .detail("approvals", governance::describe(approvals));
    let plan = match &d.approval_request_id {
        Some(request) => plan.detail("approval_request_id", request.clone()),
        None => plan,
    };
    let mut action = issue(case, &plan, RequestedBy::User, d.header.event_time);
    action.approval_ref = Some(d.header.event_id.clone());
    action.approval_tier = case.record.approval.as_ref().map(|a| a.tier.clone());
    case.gov.held = None;
    action
}
