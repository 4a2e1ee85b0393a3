//! Human decisions on approval requests (`approvals` topic).
//!
//! A decision applies only when it names an exception this task knows, that exception is
//! AWAITING_APPROVAL, and `approval_request_id` is its outstanding APPROVAL_REQUEST action.
//! Anything else is audited as DECISION_IGNORED and changes nothing: not an error, not poison,
//! because stale or misrouted decisions are normal in human workflows. An exception id this
//! task does not know is audited with version 0 and status CLOSED (never opened here, or
//! resolved and past its retention) unless it is an exception of the shared lifecycle of the
//! other detectors, which applies it (see the exceptions module).
//!
//! - APPROVE: a STOCK_ADJUSTMENT of the proposed quantity, `approval_ref` = the decision's
//!   event id, reason code from the decision or the policy (EDIFACT 4499 `4`); the exception
//!   passes through APPROVED to ACTIONING until the adjustment is acknowledged on
//!   `integration.ack` (governance actioning module); the ledger gets an adjustment movement at
//!   the decision time, so later counts compare to the corrected book.
//! - REJECT: REJECTED (status reason ADJUSTMENT_REJECTED); no adjustment, ledger as is. A
//!   person then resolves it (no adjustment), reopens it (ACKNOWLEDGE) or asks for a recount.
//! - REQUEST_RECOUNT: back to AWAITING_RECOUNT with a new RECOUNT_TASK; on a REJECTED
//!   exception through IN_PROGRESS (no approval request to answer).
//! - APPROVE must also pass the approval gate (approver role at the required tier, or the
//!   dual quality and finance approval; see the governance gate module); a first of two
//!   approvals is recorded as a partial APPROVED without any action.
//! - Acknowledge, hold, release, resolve and cancel are lifecycle decisions of the governance
//!   module, which applies them to any open exception.
//!
//! This is the only place a STOCK_ADJUSTMENT is built.

use std::collections::BTreeMap;

use invex_model::{
    ActionType, ApprovalDecision, ApprovalVerdict, AuditRecord, Decision, ExceptionId,
    ExceptionStatus, RequestedBy,
};

use super::ledger;
use super::lifecycle::{Change, commit, request_recount};
use super::records::{self, AuditDraft, RULE_DECISION, add_sources, symbol};
use super::state::{
    EXCEPTION, ExceptionState, ITEM, Movement, MovementKind, exception_key, item_key,
};
use crate::detector::Ctx;
use crate::error::DetectError;
use crate::governance::{self, GateVerdict, Given, Governed, RULE_GATE};
use crate::policy::Scope;

/// Applies or ignores one decision.
pub(super) fn on_decision(ctx: &mut Ctx<'_>, d: &ApprovalDecision) -> Result<(), DetectError> {
    let h = &d.header;
    let key = exception_key(&item_key(&h.tenant_id, &h.site_id, &d.sku), &d.exception_id);
    let Some(mut state) = ctx.get(EXCEPTION, &key)? else {
        if crate::exceptions::owns(ctx, d)? {
            return Ok(()); // another detector's exception: the shared lifecycle decides
        }
        let audit = ignored_unknown(ctx.policy().version(), d);
        ctx.emit_audit(audit);
        return Ok(());
    };
    if governance::is_lifecycle_verdict(d.verdict) {
        return governance::decide(ctx, Governed::Count(state), d);
    }
    if state.record.status == ExceptionStatus::Rejected
        && d.verdict == ApprovalVerdict::RequestRecount
    {
        return reopen_to_recount(ctx, state, d);
    }
    let verdict = match applicable(&state, d) {
        Ok(verdict) => verdict,
        Err(reason) => {
            let to = state.record.status;
            let draft = draft_for(&state, d, Decision::DecisionIgnored, to, reason);
            governance::emit_refusal(ctx, &state.record, draft, RULE_DECISION, &h.event_id);
            return Ok(());
        }
    };
    let mut approvals = Vec::new();
    if verdict == Answer::Approve {
        match governance::check_approval(ctx, &state.record, &mut state.gov, d)? {
            Err(why) => {
                let draft = governance::refused_draft(&state.record, d, why);
                governance::emit_refusal(ctx, &state.record, draft, RULE_GATE, &h.event_id);
                return Ok(());
            }
            Ok(GateVerdict::Partial { have, need }) => {
                governance::bump(
                    ctx,
                    &mut state.record,
                    RULE_GATE,
                    h.event_time,
                    Some(&h.event_id),
                );
                let draft = governance::partial_draft(d, have, need);
                return commit(ctx, state, Change { actions: Vec::new(), audits: vec![draft] });
            }
            Ok(GateVerdict::Complete(given)) => approvals = given,
        }
    }
    state.gov.approvals.clear();
    let r = &mut state.record;
    r.version += 1;
    r.policy_version = ctx.policy().version().to_owned();
    r.updated_at = h.event_time;
    r.rule_id = RULE_DECISION.to_owned();
    add_sources(r, std::slice::from_ref(&h.event_id));
    if let Some(approval) = r.approval.as_mut() {
        approval.decision = Some(d.verdict);
        approval.approver = Some(d.actor.clone());
        approval.decided_at = Some(h.event_time);
    }
    let mut change = Change::default();
    match verdict {
        Answer::Approve => approve(ctx, &mut state, &mut change, d, &approvals)?,
        Answer::Reject => reject(&mut state, &mut change, d),
        Answer::Recount => recount(ctx, &mut state, &mut change, d)?,
    }
    commit(ctx, state, change)
}

/// The verdicts that answer an approval request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Approve,
    Reject,
    Recount,
}

/// The answer a decision gives, or why it cannot be applied.
fn applicable(state: &ExceptionState, d: &ApprovalDecision) -> Result<Answer, String> {
    records::answers_open_request(&state.record, d)?;
    match d.verdict {
        ApprovalVerdict::Approve => Ok(Answer::Approve),
        ApprovalVerdict::Reject => Ok(Answer::Reject),
        ApprovalVerdict::RequestRecount => Ok(Answer::Recount),
        other => Err(format!("verdict {} does not answer an approval request", symbol(other))),
    }
}

fn draft_for(
    state: &ExceptionState,
    d: &ApprovalDecision,
    decision: Decision,
    to: ExceptionStatus,
    note: String,
) -> AuditDraft {
    AuditDraft {
        rule: None,
        decision,
        from: Some(state.record.status),
        to,
        at: d.header.event_time,
        note,
        actor: Some(d.actor.clone()),
        action_ids: Vec::new(),
        inputs: vec![d.header.event_id.clone()],
        details: decision_details(d),
    }
}

fn decision_details(d: &ApprovalDecision) -> BTreeMap<String, String> {
    let mut details = BTreeMap::new();
    details.insert("verdict".to_owned(), symbol(d.verdict));
    let optional = [("actor_role", &d.actor_role), ("comment", &d.comment)];
    for (k, v) in optional {
        if let Some(v) = v {
            details.insert(k.to_owned(), v.clone());
        }
    }
    details
}

fn ignored_unknown(policy_version: &str, d: &ApprovalDecision) -> AuditRecord {
    let h = &d.header;
    AuditRecord {
        audit_id: format!("{}/v0/DECISION_IGNORED/{}", d.exception_id, h.event_id),
        exception_id: ExceptionId(d.exception_id.clone()),
        exception_version: 0,
        tenant_id: h.tenant_id.clone(),
        site_id: h.site_id.clone(),
        at: h.event_time,
        decision: Decision::DecisionIgnored,
        from_status: None,
        to_status: ExceptionStatus::Closed,
        rule_id: RULE_DECISION.to_owned(),
        policy_version: policy_version.to_owned(),
        input_event_ids: vec![h.event_id.clone()],
        actor: Some(d.actor.clone()),
        action_ids: Vec::new(),
        note: "unknown exception".to_owned(),
        details: decision_details(d),
    }
}

fn approve(
    ctx: &mut Ctx<'_>,
    state: &mut ExceptionState,
    change: &mut Change,
    d: &ApprovalDecision,
    approvals: &[Given],
) -> Result<(), DetectError> {
    let at = d.header.event_time;
    let proposed = state.proposed_adjustment.unwrap_or(state.record.quantities.variance);
    let cc = ctx.policy().cycle_count();
    let mut action =
        records::action(&state.record, ActionType::StockAdjustment, 1, RequestedBy::User, at);
    action.quantity = Some(proposed);
    action.value = Some(proposed as f64 * state.record.valuation.unit_cost);
    action.reason_code =
        Some(d.reason_code.clone().unwrap_or_else(|| cc.adjustment_reason_code.clone()));
    action.approval_ref = Some(d.header.event_id.clone());
    action.approval_tier = state.record.approval.as_ref().map(|a| a.tier.clone());
    action.target_group = cc.adjustment_target_group.clone();
    action.details.insert("approver".to_owned(), d.actor.clone());
    if let Some(request) = &d.approval_request_id {
        action.details.insert("approval_request_id".to_owned(), request.clone());
    }
    action.details.insert("approvals".to_owned(), governance::describe(approvals));
    let action_id = action.action_id.0.clone();
    let note = format!("adjustment of {proposed} approved by {}", d.actor);
    let approved = draft_for(state, d, Decision::Approved, ExceptionStatus::Approved, note);
    state.record.status = ExceptionStatus::Approved;
    change.audits.push(AuditDraft { action_ids: vec![action_id], ..approved });
    let actioning =
        governance::start_actioning(ctx, &mut state.record, &mut state.gov, &action, at)?;
    change.audits.push(AuditDraft { inputs: vec![d.header.event_id.clone()], ..actioning });
    change.actions.push(action);
    let movement = Movement {
        kind: MovementKind::Adjustment,
        delta: proposed,
        time: at,
        event_id: d.header.event_id.clone(),
    };
    let (subject, uom) = (state.subject.clone(), state.record.quantities.uom.clone());
    ledger::add_movement(ctx, &subject, &uom, 0, &movement)
}

/// REJECTED (status reason ADJUSTMENT_REJECTED): a person decides what follows (see the
/// governance human module and [`reopen_to_recount`]).
fn reject(state: &mut ExceptionState, change: &mut Change, d: &ApprovalDecision) {
    let note = format!("adjustment rejected by {}", d.actor);
    let draft = draft_for(state, d, Decision::Rejected, ExceptionStatus::Rejected, note);
    state.record.status = ExceptionStatus::Rejected;
    state.record.status_reason = Some("ADJUSTMENT_REJECTED".to_owned());
    change.audits.push(draft);
}

/// REQUEST_RECOUNT of a REJECTED exception: back to work (IN_PROGRESS), then a recount task
/// (AWAITING_RECOUNT), so the next recount is evaluated by `CC-002` and may ask for approval
/// again.
fn reopen_to_recount(
    ctx: &mut Ctx<'_>,
    mut state: ExceptionState,
    d: &ApprovalDecision,
) -> Result<(), DetectError> {
    let h = &d.header;
    governance::bump(ctx, &mut state.record, RULE_DECISION, h.event_time, Some(&h.event_id));
    let mut change = Change::default();
    let to = ExceptionStatus::InProgress;
    let note = format!("reopened by {} to recount", d.actor);
    let reopened = draft_for(&state, d, Decision::Transitioned, to, note);
    state.record.status = to;
    state.record.status_reason = None;
    change.audits.push(reopened);
    recount(ctx, &mut state, &mut change, d)?;
    commit(ctx, state, change)
}

fn recount(
    ctx: &mut Ctx<'_>,
    state: &mut ExceptionState,
    change: &mut Change,
    d: &ApprovalDecision,
) -> Result<(), DetectError> {
    let item = ctx.get(ITEM, &state.subject.item_key())?.unwrap_or_default();
    let s = &state.subject;
    let scope = Scope { tenant: &s.tenant, site: &s.site, class: item.class(), sku: &s.sku };
    let policy = ctx.policy();
    let due_ms = policy.cycle_count_thresholds(&scope).recount_due_ms;
    let at = d.header.event_time;
    request_recount(policy, state, change, at, at.saturating_add(due_ms), Some(&d.actor));
    if let Some(draft) = change.audits.last_mut() {
        draft.inputs = vec![d.header.event_id.clone()];
        draft.details = decision_details(d);
    }
    Ok(())
}
