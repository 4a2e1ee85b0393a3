//! Exception lifecycle of a count discrepancy.
//!
//! ```text
//! count evaluated, no open exception:
//!   variance 0                 -> nothing at all (exact matches would drown the topic)
//!   within tolerance           -> record RESOLVED / WITHIN_TOLERANCE, severity 5 (KPIs)
//!   outside                    -> OPEN -> AWAITING_RECOUNT (RECOUNT_TASK attempt 1)
//!                                 or -> AWAITING_APPROVAL when max_recounts is 0
//! recount of an exception AWAITING_RECOUNT:
//!   within tolerance of book   -> RESOLVED / COUNT_ERROR (root cause PROCESS / MISCOUNT)
//!   outside, recounts < max    -> AWAITING_RECOUNT (RECOUNT_TASK attempt n+1)
//!   outside, recounts = max    -> AWAITING_APPROVAL (APPROVAL_REQUEST, tier by |value|,
//!                                 proposed adjustment = observed - expected of the recount)
//! any other count while open   -> same status, new numbers and evidence (REDETECTED)
//! decisions: see the decision module.
//! ```
//!
//! Versions: one record version per input that changes an exception (an evaluated count or an
//! applied decision), carrying the final state of that input. Every status transition within
//! it is its own audit record with that version (OPENED and RECOUNT_REQUESTED both on v1;
//! APPROVED and RESOLVED both on the version of the decision). Outputs are emitted in the order
//! record, actions, audit records.

use invex_model::{
    ActionType, Approval, AuditRecord, Decision, ExceptionId, ExceptionRecord, ExceptionStatus,
    RequestedBy,
};

use super::evaluate::miscount;
use super::records::{
    self, AuditDraft, Evaluation, RULE_COUNT, RULE_RECOUNT, TYPE, apply_evaluation,
    evaluation_details, new_record, symbol,
};
use super::state::{EXCEPTION, ExceptionState, OPEN, PURGE, exception_key};
use crate::detector::{Ctx, TimerKind};
use crate::error::DetectError;
use crate::governance::{self, Home};
use crate::key::Key;
use crate::policy::Policy;

/// Actions and audit drafts of one change of one exception.
#[derive(Debug, Default)]
pub(super) struct Change {
    pub(super) actions: Vec<invex_model::ActionCommand>,
    pub(super) audits: Vec<AuditDraft>,
}

impl Change {
    /// Moves `state` to `to` and drafts the audit record of that decision.
    pub(super) fn transition(
        &mut self,
        state: &mut ExceptionState,
        decision: Decision,
        to: ExceptionStatus,
        at: i64,
        note: String,
    ) -> &mut AuditDraft {
        let from = state.record.status;
        state.record.status = to;
        self.audits.push(AuditDraft {
            rule: None,
            decision,
            from: Some(from),
            to,
            at,
            note,
            actor: None,
            action_ids: Vec::new(),
            inputs: Vec::new(),
            details: Default::default(),
        });
        let last = self.audits.len() - 1;
        &mut self.audits[last]
    }
}

/// Routes an evaluated count to the right transition.
pub(super) fn on_evaluation(ctx: &mut Ctx<'_>, eval: Evaluation) -> Result<(), DetectError> {
    let subject = &eval.count.subject;
    let open = match ctx.get(OPEN, &subject.key())? {
        Some(id) => ctx.get(EXCEPTION, &exception_key(&subject.item_key(), &id))?,
        None => None,
    };
    match open {
        None if eval.finding.variance == 0 => record_exact_match(ctx, &eval),
        None if eval.finding.within => accept(ctx, &eval),
        None => open_exception(ctx, &eval),
        Some(state)
            if state.record.status == ExceptionStatus::AwaitingRecount
                && eval.count.count_seq >= 2 =>
        {
            recount(ctx, state, &eval)
        }
        Some(state) => redetect(ctx, state, &eval),
    }
}

/// A finding within tolerance: an already resolved record for accuracy KPIs, no action.
fn accept(ctx: &mut Ctx<'_>, eval: &Evaluation) -> Result<(), DetectError> {
    let policy = ctx.policy();
    let mut record = new_record(opening_id(eval), eval, policy);
    record.severity = policy.cycle_count().within_tolerance_severity;
    record.owner_team = policy.cycle_count().within_tolerance_owner;
    record.root_cause = None;
    record.resolution = Some("WITHIN_TOLERANCE".to_owned());
    record.resolved_at = Some(eval.count.count_time);
    let note = format!("variance {} is within tolerance", eval.finding.variance);
    let audit = accepted_audit(&mut record, eval, note);
    ctx.emit_exception(record);
    ctx.emit_audit(audit);
    Ok(())
}

/// A count equal to the book: no exception version (the exceptions topic stays about
/// exceptions), but the decision is audited, so every evaluated count is on the audit trail and
/// inventory record accuracy (hits over evaluations) can be computed from it.
fn record_exact_match(ctx: &mut Ctx<'_>, eval: &Evaluation) -> Result<(), DetectError> {
    let mut record = new_record(opening_id(eval), eval, ctx.policy());
    let note = "counted quantity equals the book".to_owned();
    ctx.emit_audit(accepted_audit(&mut record, eval, note));
    Ok(())
}

/// Marks `record` resolved and audits the acceptance of the evaluated count.
fn accepted_audit(record: &mut ExceptionRecord, eval: &Evaluation, note: String) -> AuditRecord {
    record.status = ExceptionStatus::Resolved;
    let draft = AuditDraft {
        decision: Decision::AcceptedWithinTolerance,
        rule: None,
        from: None,
        to: ExceptionStatus::Resolved,
        at: eval.count.count_time,
        note,
        actor: None,
        action_ids: Vec::new(),
        inputs: eval.inputs.clone(),
        details: evaluation_details(eval),
    };
    records::audit(record, draft, RULE_COUNT, None)
}

fn opening_id(eval: &Evaluation) -> ExceptionId {
    let s = &eval.count.subject;
    ExceptionId::derive(TYPE.as_str(), &s.tenant, &s.site, &s.text(), &eval.count.event_id)
}

fn open_exception(ctx: &mut Ctx<'_>, eval: &Evaluation) -> Result<(), DetectError> {
    let record = new_record(opening_id(eval), eval, ctx.policy());
    let mut state = ExceptionState {
        record,
        subject: eval.count.subject.clone(),
        proposed_adjustment: None,
        approval_requests: 0,
        gov: Default::default(),
    };
    let mut change = Change::default();
    let at = eval.count.count_time;
    let note = format!("variance {} outside tolerance", eval.finding.variance);
    let draft = change.transition(&mut state, Decision::Opened, ExceptionStatus::Open, at, note);
    draft.from = None;
    draft.inputs = eval.inputs.clone();
    draft.details = evaluation_details(eval);
    let triaged = governance::on_open(ctx, Home::Count, &mut state.record, &mut state.gov, at)?;
    change.audits.push(AuditDraft { inputs: eval.inputs.clone(), ..triaged });
    escalate(ctx.policy(), &mut state, &mut change, eval);
    commit(ctx, state, change)
}

fn recount(
    ctx: &mut Ctx<'_>,
    mut state: ExceptionState,
    eval: &Evaluation,
) -> Result<(), DetectError> {
    let policy = ctx.policy();
    state.record.version += 1;
    apply_evaluation(&mut state.record, eval, policy, RULE_RECOUNT);
    let mut change = Change::default();
    if eval.finding.within {
        let cause = miscount(&eval.finding);
        state.record.owner_team = policy.owner_for(cause.category);
        state.record.root_cause = Some(cause);
        state.record.resolution = Some("COUNT_ERROR".to_owned());
        state.record.resolved_at = Some(eval.count.count_time);
        let note = format!("recount {} matches the book", eval.count.counted);
        let at = eval.count.count_time;
        let draft =
            change.transition(&mut state, Decision::Resolved, ExceptionStatus::Resolved, at, note);
        draft.inputs = eval.inputs.clone();
        draft.details = evaluation_details(eval);
    } else {
        escalate(policy, &mut state, &mut change, eval);
    }
    commit(ctx, state, change)
}

fn redetect(
    ctx: &mut Ctx<'_>,
    mut state: ExceptionState,
    eval: &Evaluation,
) -> Result<(), DetectError> {
    state.record.version += 1;
    apply_evaluation(&mut state.record, eval, ctx.policy(), RULE_COUNT);
    let mut change = Change::default();
    let status = state.record.status;
    let note = format!(
        "count {} (seq {}) of the subject while {}: variance {}",
        eval.count.count_doc_id,
        eval.count.count_seq,
        symbol(status),
        eval.finding.variance
    );
    let at = eval.count.count_time;
    let score = governance::rescore(ctx, &mut state.record)?;
    let draft = change.transition(&mut state, Decision::Redetected, status, at, note);
    draft.inputs = eval.inputs.clone();
    draft.details = evaluation_details(eval);
    draft.details.extend(score);
    commit(ctx, state, change)
}

/// Next step of a confirmed variance: another recount while allowed, else an approval.
fn escalate(policy: &Policy, state: &mut ExceptionState, change: &mut Change, eval: &Evaluation) {
    let max = i32::try_from(eval.thresholds.max_recounts).unwrap_or(i32::MAX);
    let at = eval.count.count_time;
    if state.record.recount_attempts < max {
        let due = at.saturating_add(eval.thresholds.recount_due_ms);
        request_recount(policy, state, change, at, due, None);
    } else {
        request_approval(policy, state, change, eval);
    }
}

/// Issues a blind DEMAND recount task (rule-driven when `actor` is `None`).
pub(super) fn request_recount(
    policy: &Policy,
    state: &mut ExceptionState,
    change: &mut Change,
    at: i64,
    due: i64,
    actor: Option<&str>,
) {
    state.record.recount_attempts += 1;
    let attempt = state.record.recount_attempts;
    let requested_by = if actor.is_some() { RequestedBy::User } else { RequestedBy::Rule };
    let mut action =
        records::action(&state.record, ActionType::RecountTask, attempt, requested_by, at);
    action.target_group = policy.cycle_count().recount_target_group.clone();
    action.due_at = Some(due);
    for (k, v) in [("count_type", "DEMAND"), ("blind", "true")] {
        action.details.insert(k.to_owned(), v.to_owned());
    }
    action.details.insert("count_seq".to_owned(), (attempt + 1).to_string());
    let note = format!("recount {attempt} requested");
    let to = ExceptionStatus::AwaitingRecount;
    let draft = change.transition(state, Decision::RecountRequested, to, at, note);
    draft.actor = actor.map(str::to_owned);
    draft.action_ids = vec![action.action_id.0.clone()];
    change.actions.push(action);
}

fn request_approval(
    policy: &Policy,
    state: &mut ExceptionState,
    change: &mut Change,
    eval: &Evaluation,
) {
    state.approval_requests += 1;
    let proposed = eval.finding.variance;
    let value = proposed as f64 * eval.unit_cost;
    let tier = policy.tier_for(value);
    let at = eval.count.count_time;
    let attempt = state.approval_requests;
    let mut action =
        records::action(&state.record, ActionType::ApprovalRequest, attempt, RequestedBy::Rule, at);
    action.quantity = Some(proposed);
    action.value = Some(value);
    action.approval_tier = Some(tier.name.clone());
    action.target_group = tier.approver_group.clone();
    action.priority = tier.severity;
    let details = [
        ("approver_group", tier.approver_group.clone()),
        ("proposed_adjustment", proposed.to_string()),
        ("expected", eval.finding.expected.to_string()),
        ("observed", eval.finding.observed.to_string()),
    ];
    action.details.extend(details.map(|(k, v)| (k.to_owned(), v)));
    let request_id = action.action_id.0.clone();
    state.proposed_adjustment = Some(proposed);
    state.record.approval = Some(Approval {
        tier: tier.name.clone(),
        approver_group: tier.approver_group.clone(),
        request_id: request_id.clone(),
        decision: None,
        approver: None,
        decided_at: None,
    });
    state.record.correlation.insert("approval_request_id".to_owned(), request_id.clone());
    let note = format!("adjustment of {proposed} needs {} approval", tier.name);
    let to = ExceptionStatus::AwaitingApproval;
    let draft = change.transition(state, Decision::ApprovalRequested, to, at, note);
    draft.action_ids = vec![request_id];
    draft.details.insert("tier".to_owned(), tier.name.clone());
    draft.details.insert("value".to_owned(), value.to_string());
    change.actions.push(action);
}

/// Emits the new version, its actions and audit records, and persists the exception.
pub(super) fn commit(
    ctx: &mut Ctx<'_>,
    mut state: ExceptionState,
    change: Change,
) -> Result<(), DetectError> {
    governance::settle(ctx, Home::Count, &state.record, &mut state.gov)?;
    // Every version records the policy it was decided under (it may change while open).
    state.record.policy_version = ctx.policy().version().to_owned();
    let record = &state.record;
    ctx.emit_exception(record.clone());
    for action in change.actions {
        ctx.emit_action(action);
    }
    for draft in change.audits {
        ctx.emit_audit(records::audit(record, draft, &record.rule_id, None));
    }
    let item = state.subject.item_key();
    let key = exception_key(&item, &record.exception_id.0);
    let subject_key = state.subject.key();
    if record.status.is_open() {
        ctx.put(OPEN, &subject_key, &record.exception_id.0)?;
    } else {
        if ctx.get(OPEN, &subject_key)?.as_deref() == Some(record.exception_id.0.as_str()) {
            ctx.delete(OPEN, &subject_key)?;
        }
        let hours = ctx.policy().cycle_count().resolved_retention_hours;
        let resolved = record.resolved_at.unwrap_or(record.updated_at);
        let due = resolved.saturating_add(hours * 3_600_000);
        ctx.schedule(TimerKind::StreamTime, due, &Key::new().byte(PURGE).raw(&key).into_bytes())?;
    }
    ctx.put(EXCEPTION, &key, &state)
}
