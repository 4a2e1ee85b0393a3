//! Human decisions on the approval requests of shared-lifecycle exceptions.
//!
//! A decision applies only when it names a case of this module that is AWAITING_APPROVAL and
//! `approval_request_id` is its outstanding APPROVAL_REQUEST, or is a REQUEST_RECOUNT of a
//! REJECTED case; anything else is audited as
//! DECISION_IGNORED and changes nothing (stale or misrouted decisions are normal, not poison).
//! A decision naming no case of this module is left to the cycle-count rule, which audits
//! unknown exception ids.
//!
//! - APPROVE: a STOCK_ADJUSTMENT of the proposed quantity with `approval_ref` = the decision's
//!   event id, through APPROVED to ACTIONING until the adjustment is acknowledged (see the
//!   governance actioning module); the ledger of the exception's location and lot takes the
//!   adjustment at the decision time.
//! - REJECT: REJECTED (status reason ADJUSTMENT_REJECTED), waiting for a person (see the
//!   governance human module).
//! - REQUEST_RECOUNT: the request is withdrawn, a RECOUNT_TASK goes out, AWAITING_RECOUNT. On
//!   a REJECTED exception it reopens it first (REJECTED -> IN_PROGRESS -> AWAITING_RECOUNT).
//! - APPROVE must pass the approval gate (see the governance gate module); the first of two
//!   required approvals is recorded as a partial APPROVED without any action.
//! - Acknowledge, hold, release, resolve and cancel go to the governance module.

use std::collections::BTreeMap;

use invex_model::{
    ActionType, ApprovalDecision, ApprovalVerdict, Decision, ExceptionRecord, ExceptionStatus,
    RequestedBy,
};

use super::lifecycle::{commit, issue};
use super::{ActionPlan, CASE, Case};
use crate::cycle_count::{AuditDraft, add_sources, answers_open_request, item_key, symbol};
use crate::detector::Ctx;
use crate::error::DetectError;
use crate::governance::{self, GateVerdict, Given, Governed, RULE_GATE};
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
    if governance::is_lifecycle_verdict(d.verdict) {
        return governance::decide(ctx, Governed::Shared(case), d);
    }
    if reopens(&case.record, d) {
        return reopen_to_recount(ctx, case, d);
    }
    let answer = match applicable(&case, d) {
        Ok(answer) => answer,
        Err(reason) => {
            let draft = draft(&case, d, Decision::DecisionIgnored, case.record.status, reason);
            governance::emit_refusal(ctx, &case.record, draft, RULE_DECISION, &d.header.event_id);
            return Ok(());
        }
    };
    let mut approvals = Vec::new();
    if answer == Answer::Approve {
        match governance::check_approval(ctx, &case.record, &mut case.gov, d)? {
            Err(why) => {
                let draft = governance::refused_draft(&case.record, d, why);
                governance::emit_refusal(ctx, &case.record, draft, RULE_GATE, &d.header.event_id);
                return Ok(());
            }
            Ok(GateVerdict::Partial { have, need }) => {
                let at = d.header.event_time;
                governance::bump(ctx, &mut case.record, RULE_GATE, at, Some(&d.header.event_id));
                let draft = governance::partial_draft(d, have, need);
                return commit(ctx, case, Vec::new(), vec![draft]);
            }
            Ok(GateVerdict::Complete(given)) => approvals = given,
        }
    }
    case.gov.approvals.clear();
    let at = d.header.event_time;
    let r = &mut case.record;
    r.version += 1;
    r.policy_version = ctx.policy().version().to_owned();
    r.updated_at = at;
    r.rule_id = RULE_DECISION.to_owned();
    add_sources(r, std::slice::from_ref(&d.header.event_id));
    if let Some(approval) = r.approval.as_mut() {
        approval.decision = Some(d.verdict);
        approval.approver = Some(d.actor.clone());
        approval.decided_at = Some(at);
    }
    let release = std::mem::take(&mut case.gov.release_requested);
    let (action, approved) = match answer {
        Answer::Approve if release => {
            let group = governance::settings(ctx, &case.record)?.release_target_group;
            let action = super::release::release(&mut case, d, &approvals, &group);
            let note = format!("release approved by {}", d.actor);
            (action, draft(&case, d, Decision::Approved, ExceptionStatus::Approved, note))
        }
        Answer::Approve => approve_case(ctx, &mut case, d, &approvals)?,
        Answer::Reject => {
            let note = format!("rejected by {}", d.actor);
            let rejected = draft(&case, d, Decision::Rejected, ExceptionStatus::Rejected, note);
            let why = if release { "RELEASE_REJECTED" } else { "ADJUSTMENT_REJECTED" };
            case.record.status = ExceptionStatus::Rejected;
            case.record.status_reason = Some(why.to_owned());
            return commit(ctx, case, Vec::new(), vec![rejected]);
        }
        Answer::Recount => return recount(ctx, case, d, Vec::new()),
    };
    let approved = AuditDraft { action_ids: vec![action.action_id.0.clone()], ..approved };
    case.record.status = ExceptionStatus::Approved;
    let actioning = governance::start_actioning(ctx, &mut case.record, &mut case.gov, &action, at)?;
    let actioning = AuditDraft { inputs: vec![d.header.event_id.clone()], ..actioning };
    commit(ctx, case, vec![action], vec![approved, actioning])
}

/// The verdicts that answer an approval request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Approve,
    Reject,
    Recount,
}

/// The answer a decision gives, or why it is ignored.
fn applicable(case: &Case, d: &ApprovalDecision) -> Result<Answer, String> {
    answers_open_request(&case.record, d)?;
    match d.verdict {
        ApprovalVerdict::Approve => Ok(Answer::Approve),
        ApprovalVerdict::Reject => Ok(Answer::Reject),
        ApprovalVerdict::RequestRecount => Ok(Answer::Recount),
        other => Err(format!("verdict {} does not answer this approval request", symbol(other))),
    }
}

/// Whether the decision is a REQUEST_RECOUNT of a REJECTED exception (which needs no request).
fn reopens(record: &ExceptionRecord, d: &ApprovalDecision) -> bool {
    record.status == ExceptionStatus::Rejected && d.verdict == ApprovalVerdict::RequestRecount
}

/// REQUEST_RECOUNT of a REJECTED exception: back to work (IN_PROGRESS), then the recount.
fn reopen_to_recount(
    ctx: &mut Ctx<'_>,
    mut case: Case,
    d: &ApprovalDecision,
) -> Result<(), DetectError> {
    let at = d.header.event_time;
    governance::bump(ctx, &mut case.record, RULE_DECISION, at, Some(&d.header.event_id));
    let note = format!("reopened by {} to recount", d.actor);
    let reopened = draft(&case, d, Decision::Transitioned, ExceptionStatus::InProgress, note);
    case.record.status = ExceptionStatus::InProgress;
    case.record.status_reason = None;
    recount(ctx, case, d, vec![reopened])
}

/// REQUEST_RECOUNT: the approval request is withdrawn (or the rejected exception reopened,
/// with the audit drafts `before`); a RECOUNT_TASK of the exception's location goes out and
/// the exception waits in AWAITING_RECOUNT (a detector clearing it, or a person resolving or
/// cancelling it, ends the wait).
fn recount(
    ctx: &mut Ctx<'_>,
    mut case: Case,
    d: &ApprovalDecision,
    mut before: Vec<AuditDraft>,
) -> Result<(), DetectError> {
    let cc = ctx.policy().cycle_count();
    let at = d.header.event_time;
    let due = at.saturating_add(cc.recount_due_minutes.saturating_mul(60_000));
    let plan = ActionPlan {
        due_at: Some(due),
        ..ActionPlan::new(ActionType::RecountTask, &cc.recount_target_group)
    }
    .detail("count_type", "DEMAND")
    .detail("blind", "true");
    case.record.recount_attempts += 1;
    let task = issue(&mut case, &plan, RequestedBy::User, at);
    let note = format!("recount requested by {}", d.actor);
    let mut drafted =
        draft(&case, d, Decision::RecountRequested, ExceptionStatus::AwaitingRecount, note);
    drafted.action_ids = vec![task.action_id.0.clone()];
    case.record.status = ExceptionStatus::AwaitingRecount;
    before.push(drafted);
    commit(ctx, case, vec![task], before)
}

/// The STOCK_ADJUSTMENT of an approved case (and the ledger movement), with its audit draft.
fn approve_case(
    ctx: &mut Ctx<'_>,
    case: &mut Case,
    d: &ApprovalDecision,
    approvals: &[Given],
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
    .detail("approver", d.actor.clone())
    .detail("approvals", governance::describe(approvals));
    let plan = match &d.approval_request_id {
        Some(request) => plan.detail("approval_request_id", request.clone()),
        None => plan,
    };
    let mut adjustment = issue(case, &plan, RequestedBy::User, at);
    adjustment.approval_ref = Some(d.header.event_id.clone());
    adjustment.approval_tier = case.record.approval.as_ref().map(|a| a.tier.clone());
    let note = format!("adjustment of {proposed} approved by {}", d.actor);
    let approved = draft(case, d, Decision::Approved, ExceptionStatus::Approved, note);
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
        rule: None,
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
