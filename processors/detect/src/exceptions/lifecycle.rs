//! Findings to exception versions.
//!
//! ```text
//! finding, subject has no open case  -> v1 OPEN (OPENED), actions; with an approval:
//!                                       -> AWAITING_APPROVAL (APPROVAL_REQUESTED) on the same v1
//! finding, subject has an open case  -> nothing when subtype and quantities are unchanged,
//!                                       else one version more (REDETECTED) with the
//!                                       finding's update actions (usually none)
//! finding, a person closed the subject's
//! exception with these same numbers   -> nothing (their RESOLVE or CANCEL stands until the
//!                                       numbers change)
//! accepted (within tolerance)        -> v1 RESOLVED (ACCEPTED_WITHIN_TOLERANCE), its actions
//! cleared (the condition went away)  -> one version more, RESOLVED (RESOLVED)
//! ```
//!
//! Outputs are emitted in the order record, actions, audit records, like the cycle-count
//! rule. A finding whose derived id is a retained resolved case (same subject, same opening
//! event) reopens that case with one version more rather than starting again at version 1.

use std::collections::BTreeMap;

use invex_model::{
    ActionCommand, ActionType, Approval, Decision, ExceptionId, ExceptionRecord, ExceptionStatus,
    RequestedBy,
};

use super::{ActionPlan, CASE, Case, Finding, OPEN, PURGE, SubjectRef};
use crate::cycle_count::{AuditDraft, action, add_sources, audit};
use crate::detector::{Ctx, TimerKind};
use crate::error::DetectError;
use crate::governance::{self, Home};
use crate::key::Key;
use crate::policy::ApprovalTier;

/// The open case of a subject, if any.
pub(crate) fn find_open(ctx: &Ctx<'_>, subject: &SubjectRef) -> Result<Option<Case>, DetectError> {
    match ctx.get(OPEN, &subject.open_key())? {
        Some(id) => ctx.get(CASE, &subject.case_key(&id)),
        None => Ok(None),
    }
}

/// Opens an exception for a finding, or updates the subject's open one.
pub(crate) fn open_or_update(ctx: &mut Ctx<'_>, finding: Finding) -> Result<(), DetectError> {
    if let Some(case) = find_open(ctx, &finding.subject)? {
        return redetect(ctx, case, &finding);
    }
    if closed_by_person(ctx, &finding)? {
        return Ok(());
    }
    let (mut case, from) = fresh_case(ctx, &finding)?;
    let mut drafts = vec![draft(Decision::Opened, from, ExceptionStatus::Open, &finding)];
    let actions = plan_actions(&mut case, &finding.actions, finding.at);
    drafts[0].action_ids = actions.iter().map(|a| a.action_id.0.clone()).collect();
    let triaged =
        governance::on_open(ctx, Home::Shared, &mut case.record, &mut case.gov, finding.at)?;
    drafts.push(AuditDraft { inputs: finding.inputs.clone(), ..triaged });
    let mut all = actions;
    if let Some(proposed) = finding.approval {
        let request = request_approval(ctx, &mut case, proposed, finding.at);
        let mut asked = draft(
            Decision::ApprovalRequested,
            Some(ExceptionStatus::Triaged),
            ExceptionStatus::AwaitingApproval,
            &finding,
        );
        asked.note = format!("adjustment of {proposed} needs approval");
        asked.action_ids = vec![request.action_id.0.clone()];
        asked.details.insert("tier".to_owned(), request.approval_tier.clone().unwrap_or_default());
        drafts.push(asked);
        all.push(request);
    }
    commit(ctx, case, all, drafts)
}

/// Whether a person resolved or cancelled an exception of the subject with the finding's very
/// numbers (a retained case whose last decision is theirs): their decision stands until the
/// detector sees something new, like an unchanged re-detection of an open exception.
fn closed_by_person(ctx: &Ctx<'_>, finding: &Finding) -> Result<bool, DetectError> {
    let s = &finding.subject;
    let cases = ctx.scan(CASE, &s.item_key())?;
    Ok(cases.iter().any(|(_, case)| {
        let r = &case.record;
        r.exception_type == s.kind
            && r.subject == s.text
            && !r.status.is_open()
            && r.rule_id == governance::RULE_HUMAN
            && r.subtype == finding.subtype
            && r.quantities == finding.quantities
    }))
}

/// Records a finding accepted within tolerance: a resolved version 1 and its actions.
pub(crate) fn accept(
    ctx: &mut Ctx<'_>,
    finding: Finding,
    resolution: &str,
) -> Result<(), DetectError> {
    let (mut case, from) = fresh_case(ctx, &finding)?;
    let r = &mut case.record;
    r.status = ExceptionStatus::Resolved;
    r.resolution = Some(resolution.to_owned());
    r.resolved_at = Some(finding.at);
    let mut accepted =
        draft(Decision::AcceptedWithinTolerance, from, ExceptionStatus::Resolved, &finding);
    let actions = plan_actions(&mut case, &finding.actions, finding.at);
    accepted.action_ids = actions.iter().map(|a| a.action_id.0.clone()).collect();
    commit(ctx, case, actions, vec![accepted])
}

/// Resolves the open case of `subject`, if any; true when there was one.
pub(crate) fn resolve_open(
    ctx: &mut Ctx<'_>,
    subject: &SubjectRef,
    cleared: Cleared<'_>,
) -> Result<bool, DetectError> {
    let Some(mut case) = find_open(ctx, subject)? else { return Ok(false) };
    let r = &mut case.record;
    let from = r.status;
    r.version += 1;
    r.status = ExceptionStatus::Resolved;
    r.resolution = Some(cleared.resolution.to_owned());
    r.resolved_at = Some(cleared.at);
    r.updated_at = cleared.at;
    r.rule_id = cleared.rule.to_owned();
    add_sources(r, cleared.inputs);
    let resolved = AuditDraft {
        decision: Decision::Resolved,
        rule: None,
        from: Some(from),
        to: ExceptionStatus::Resolved,
        at: cleared.at,
        note: cleared.note,
        actor: None,
        action_ids: Vec::new(),
        inputs: cleared.inputs.to_vec(),
        details: cleared.details,
    };
    commit(ctx, case, Vec::new(), vec![resolved])?;
    Ok(true)
}

/// Why and when an open case is resolved automatically.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cleared<'a> {
    pub(crate) rule: &'static str,
    pub(crate) at: i64,
    pub(crate) resolution: &'static str,
    pub(crate) note: String,
    pub(crate) inputs: &'a [String],
    pub(crate) details: BTreeMap<String, String>,
}

/// Purge timer: forgets a resolved case.
pub(crate) fn purge(ctx: &mut Ctx<'_>, case_key: &[u8]) -> Result<(), DetectError> {
    ctx.delete(CASE, case_key)
}

fn redetect(ctx: &mut Ctx<'_>, mut case: Case, finding: &Finding) -> Result<(), DetectError> {
    let r = &case.record;
    if r.subtype == finding.subtype && r.quantities == finding.quantities {
        return Ok(());
    }
    let status = r.status;
    case.record.version += 1;
    case.record.policy_version = ctx.policy().version().to_owned();
    apply(&mut case.record, finding);
    let score = governance::rescore(ctx, &mut case.record)?;
    let mut again = draft(Decision::Redetected, Some(status), status, finding);
    again.note = format!("detected again: {}", finding.note);
    again.details.extend(score);
    let actions = plan_actions(&mut case, &finding.update_actions, finding.at);
    again.action_ids = actions.iter().map(|a| a.action_id.0.clone()).collect();
    commit(ctx, case, actions, vec![again])
}

/// A new case for a finding (or a retained resolved one with the same id, reopened).
fn fresh_case(
    ctx: &Ctx<'_>,
    finding: &Finding,
) -> Result<(Case, Option<ExceptionStatus>), DetectError> {
    let s = &finding.subject;
    let id =
        ExceptionId::derive(s.kind.as_str(), &s.tenant, &s.site, &s.text, &finding.opening_event);
    if let Some(mut old) = ctx.get(CASE, &s.case_key(&id.0))? {
        let from = old.record.status;
        old.record.version += 1;
        old.record.status = ExceptionStatus::Open;
        old.record.resolution = None;
        old.record.resolved_at = None;
        apply(&mut old.record, finding);
        return Ok((old, Some(from)));
    }
    let record = new_record(ctx, id, finding);
    let gov = Default::default();
    Ok((Case { record, attempts: BTreeMap::new(), proposed_adjustment: None, gov }, None))
}

fn new_record(ctx: &Ctx<'_>, id: ExceptionId, f: &Finding) -> ExceptionRecord {
    let mut record = ExceptionRecord {
        exception_id: id,
        version: 1,
        exception_type: f.subject.kind,
        subtype: None,
        severity: 0,
        status: ExceptionStatus::Open,
        status_reason: None,
        tenant_id: f.subject.tenant.clone(),
        site_id: f.subject.site.clone(),
        subject: f.subject.text.clone(),
        location_id: f.location.clone(),
        sku: f.subject.sku.clone(),
        lot: f.lot.clone(),
        quantities: f.quantities.clone(),
        valuation: f.valuation.clone(),
        rule_id: String::new(),
        policy_version: ctx.policy().version().to_owned(),
        opened_at: f.at,
        updated_at: f.at,
        resolved_at: None,
        resolution: None,
        source_event_ids: Vec::new(),
        root_cause: None,
        owner_team: f.owner,
        approval: None,
        recount_attempts: 0,
        escalation_level: 0,
        correlation: BTreeMap::new(),
    };
    apply(&mut record, f);
    record
}

/// Copies the numbers and evidence of a finding onto a record.
fn apply(r: &mut ExceptionRecord, f: &Finding) {
    r.subtype = f.subtype.clone();
    r.severity = f.severity;
    r.quantities = f.quantities.clone();
    r.valuation = f.valuation.clone();
    r.rule_id = f.rule.to_owned();
    r.updated_at = f.at;
    r.owner_team = f.owner;
    r.root_cause = f.root_cause.clone();
    r.correlation.extend(f.correlation.iter().map(|(k, v)| (k.clone(), v.clone())));
    add_sources(r, &f.inputs);
}

fn draft(
    decision: Decision,
    from: Option<ExceptionStatus>,
    to: ExceptionStatus,
    f: &Finding,
) -> AuditDraft {
    AuditDraft {
        rule: None,
        decision,
        from,
        to,
        at: f.at,
        note: f.note.clone(),
        actor: None,
        action_ids: Vec::new(),
        inputs: f.inputs.clone(),
        details: f.details.clone(),
    }
}

/// Builds the planned actions with their next attempt numbers.
fn plan_actions(case: &mut Case, plans: &[ActionPlan], at: i64) -> Vec<ActionCommand> {
    plans.iter().map(|plan| issue(case, plan, RequestedBy::Rule, at)).collect()
}

/// Builds one action of a case, counting its attempt.
pub(super) fn issue(
    case: &mut Case,
    plan: &ActionPlan,
    requested_by: RequestedBy,
    at: i64,
) -> ActionCommand {
    let slot = case.attempts.entry(plan.action_type.as_str().to_owned()).or_insert(0);
    *slot += 1;
    let mut a = action(&case.record, plan.action_type, *slot, requested_by, at);
    a.target_group = plan.target_group.clone();
    if let Some(q) = plan.quantity {
        a.quantity = Some(q);
        a.value = Some(q as f64 * case.record.valuation.unit_cost);
    }
    if plan.location.is_some() {
        a.location_id = plan.location.clone();
    }
    a.due_at = plan.due_at;
    a.reason_code = plan.reason_code.clone();
    a.details.extend(plan.details.iter().map(|(k, v)| (k.clone(), v.clone())));
    if plan.action_type == ActionType::InventoryHold {
        case.gov.held = a.quantity;
    }
    a
}

/// Puts a case in AWAITING_APPROVAL with an APPROVAL_REQUEST for `proposed` units.
fn request_approval(ctx: &Ctx<'_>, case: &mut Case, proposed: i64, at: i64) -> ActionCommand {
    let value = proposed as f64 * case.record.valuation.unit_cost;
    let tier = ctx.policy().tier_for(value);
    let plan = ActionPlan::new(ActionType::ApprovalRequest, &tier.approver_group)
        .detail("approver_group", tier.approver_group.clone())
        .detail("proposed_adjustment", proposed.to_string());
    let plan = ActionPlan { quantity: Some(proposed), ..plan };
    let mut request = issue(case, &plan, RequestedBy::Rule, at);
    request.approval_tier = Some(tier.name.clone());
    request.priority = tier.severity;
    case.proposed_adjustment = Some(proposed);
    await_approval(case, tier, &request);
    request
}

/// Puts `case` in AWAITING_APPROVAL on `request`, asked of `tier`.
pub(super) fn await_approval(case: &mut Case, tier: &ApprovalTier, request: &ActionCommand) {
    let request_id = &request.action_id.0;
    case.record.status = ExceptionStatus::AwaitingApproval;
    case.record.approval = Some(Approval {
        tier: tier.name.clone(),
        approver_group: tier.approver_group.clone(),
        request_id: request_id.clone(),
        decision: None,
        approver: None,
        decided_at: None,
    });
    case.record.correlation.insert("approval_request_id".to_owned(), request_id.clone());
}

/// Emits the new version, its actions and audit records, and persists the case.
pub(super) fn commit(
    ctx: &mut Ctx<'_>,
    mut case: Case,
    actions: Vec<ActionCommand>,
    drafts: Vec<AuditDraft>,
) -> Result<(), DetectError> {
    governance::settle(ctx, Home::Shared, &case.record, &mut case.gov)?;
    // Every version records the policy it was decided under (it may change while open).
    case.record.policy_version = ctx.policy().version().to_owned();
    let record = &case.record;
    ctx.emit_exception(record.clone());
    for a in actions {
        ctx.emit_action(a);
    }
    for d in drafts {
        ctx.emit_audit(audit(record, d, &record.rule_id, None));
    }
    let subject = subject_of(record);
    let key = subject.case_key(&record.exception_id.0);
    let open_key = subject.open_key();
    if record.status.is_open() {
        ctx.put(OPEN, &open_key, &record.exception_id.0)?;
    } else {
        if ctx.get(OPEN, &open_key)?.as_deref() == Some(record.exception_id.0.as_str()) {
            ctx.delete(OPEN, &open_key)?;
        }
        let hours = ctx.policy().cycle_count().resolved_retention_hours;
        let due = record.resolved_at.unwrap_or(record.updated_at).saturating_add(hours * 3_600_000);
        ctx.schedule(TimerKind::StreamTime, due, &Key::new().byte(PURGE).raw(&key).into_bytes())?;
    }
    ctx.put(CASE, &key, &case)
}

/// Publishes and persists a governance transition of a shared-lifecycle exception.
pub(crate) fn commit_governed(
    ctx: &mut Ctx<'_>,
    case: Case,
    actions: Vec<ActionCommand>,
    drafts: Vec<AuditDraft>,
) -> Result<(), DetectError> {
    commit(ctx, case, actions, drafts)
}

/// The subject reference of a record.
pub(super) fn subject_of(record: &ExceptionRecord) -> SubjectRef {
    SubjectRef {
        tenant: record.tenant_id.clone(),
        site: record.site_id.clone(),
        sku: record.sku.clone(),
        kind: record.exception_type,
        text: record.subject.clone(),
    }
}
