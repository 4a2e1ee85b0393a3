//! Human decisions on the approval requests of shared-lifecycle exceptions.
//!
//! A decision applies only when it names a case of this module that is AWAITING_APPROVAL and
//! `approval_request_id` is its outstanding APPROVAL_REQUEST; anything else is audited as
//! DECISION_IGNORED and changes nothing (stale or misrouted decisions are normal, not poison).
//! A decision naming no case of this module is left to the cycle-count rule, which audits
//! unknown exception ids.
//!
//! - APPROVE: a STOCK_ADJUSTMENT of the proposed quantity with `approval_ref` = the decision's
//!   event id, through APPROVED to RESOLVED / ADJUSTED; the ledger of the exception's
//!   location and lot takes the adjustment at the decision time.
//! - REJECT: through REJECTED to RESOLVED / ADJUSTMENT_REJECTED.
//! - Any other verdict does not answer an approval request of these exceptions: ignored.

use std::collections::BTreeMap;

use invex_model::{
    ActionType, ApprovalDecision, ApprovalVerdict, Decision, ExceptionStatus, RequestedBy,
};

use super::lifecycle::{commit, issue};
use super::{ActionPlan, CASE, Case};
use crate::cycle_count::{AuditDraft, add_sources, answers_open_request, audit, item_key, symbol};
use crate::detector::Ctx;
use crate::error::DetectError;
use crate::key::Key;

/// Rule: apply a human decision to a shared-lifecycle exception.
pub(crate) const RULE_DECISION: &str = "EX-001";

fn case_key(d: &ApprovalDecision) -> Vec<u8> {
    let h = &d.header;
    Key::new().raw(&item_key(&h.tenant_id, &h.site_id, &d.sku)).str(&d.exception_id).into_bytes()
}

/// Whether the decision names a case of this module.
pub(crate) fn owns(ctx: &Ctx<'_>, d: &ApprovalDecision) -> Result<bool, DetectError> {
    Ok(ctx.get(CASE, &case_key(d))?.is_some())
}

/// Applies or ignores one decision on a case of this module.
pub(crate) fn on_decision(ctx: &mut Ctx<'_>, d: &ApprovalDecision) -> Result<(), DetectError> {
    let Some(mut case) = ctx.get(CASE, &case_key(d))? else { return Ok(()) };
    let approve = match applicable(&case, d) {
        Ok(approve) => approve,
        Err(reason) => {
            let draft = draft(&case, d, Decision::DecisionIgnored, case.record.status, reason);
            let record = audit(&case.record, draft, RULE_DECISION, Some(&d.header.event_id));
            ctx.emit_audit(record);
            return Ok(());
        }
    };
    let at = d.header.event_time;
    let r = &mut case.record;
    r.version += 1;
    r.updated_at = at;
    r.rule_id = RULE_DECISION.to_owned();
    add_sources(r, std::slice::from_ref(&d.header.event_id));
    if let Some(approval) = r.approval.as_mut() {
        approval.decision = Some(d.verdict);
        approval.approver = Some(d.actor.clone());
        approval.decided_at = Some(at);
    }
    let (actions, mut drafts, how) = if approve {
        let (adjustment, draft) = approve_case(ctx, &mut case, d)?;
        (vec![adjustment], vec![draft], "ADJUSTED")
    } else {
        let note = format!("adjustment rejected by {}", d.actor);
        let draft = draft(&case, d, Decision::Rejected, ExceptionStatus::Rejected, note);
        (Vec::new(), vec![draft], "ADJUSTMENT_REJECTED")
    };
    let r = &mut case.record;
    r.status = ExceptionStatus::Resolved;
    r.resolution = Some(how.to_owned());
    r.resolved_at = Some(at);
    let from = drafts.last().map_or(ExceptionStatus::AwaitingApproval, |d| d.to);
    let mut resolved = draft(&case, d, Decision::Resolved, ExceptionStatus::Resolved, how.into());
    resolved.from = Some(from);
    resolved.note = format!("resolved: {how}");
    drafts.push(resolved);
    commit(ctx, case, actions, drafts)
}

/// True for an applicable APPROVE, false for an applicable REJECT, else why it is ignored.
fn applicable(case: &Case, d: &ApprovalDecision) -> Result<bool, String> {
    answers_open_request(&case.record, d)?;
    match d.verdict {
        ApprovalVerdict::Approve => Ok(true),
        ApprovalVerdict::Reject => Ok(false),
        other => Err(format!("verdict {} does not answer this approval request", symbol(other))),
    }
}

/// The STOCK_ADJUSTMENT of an approved case (and the ledger movement), with its audit draft.
fn approve_case(
    ctx: &mut Ctx<'_>,
    case: &mut Case,
    d: &ApprovalDecision,
) -> Result<(invex_model::ActionCommand, AuditDraft), DetectError> {
    let at = d.header.event_time;
    let proposed = case.proposed_adjustment.unwrap_or(case.record.quantities.variance);
    let cc = ctx.policy().cycle_count();
    let reason = d.reason_code.clone().unwrap_or_else(|| cc.adjustment_reason_code.clone());
    let plan = ActionPlan {
        quantity: Some(proposed),
        reason_code: Some(reason),
        ..ActionPlan::new(ActionType::StockAdjustment, &cc.adjustment_target_group)
    }
    .detail("approver", d.actor.clone());
    let plan = match &d.approval_request_id {
        Some(request) => plan.detail("approval_request_id", request.clone()),
        None => plan,
    };
    let mut adjustment = issue(case, &plan, RequestedBy::User, at);
    adjustment.approval_ref = Some(d.header.event_id.clone());
    adjustment.approval_tier = case.record.approval.as_ref().map(|a| a.tier.clone());
    let note = format!("adjustment of {proposed} approved by {}", d.actor);
    let mut approved = draft(case, d, Decision::Approved, ExceptionStatus::Approved, note);
    approved.action_ids = vec![adjustment.action_id.0.clone()];
    case.record.status = ExceptionStatus::Approved;
    crate::cycle_count::adjust(ctx, &case.record, proposed, &d.header.event_id, at)?;
    Ok((adjustment, approved))
}

fn draft(
    case: &Case,
    d: &ApprovalDecision,
    decision: Decision,
    to: ExceptionStatus,
    note: String,
) -> AuditDraft {
    let mut details = BTreeMap::new();
    details.insert("verdict".to_owned(), symbol(d.verdict));
    if let Some(role) = &d.actor_role {
        details.insert("actor_role".to_owned(), role.clone());
    }
    if let Some(comment) = &d.comment {
        details.insert("comment".to_owned(), comment.clone());
    }
    AuditDraft {
        decision,
        from: Some(case.record.status),
        to,
        at: d.header.event_time,
        note,
        actor: Some(d.actor.clone()),
        action_ids: Vec::new(),
        inputs: vec![d.header.event_id.clone()],
        details,
    }
}
