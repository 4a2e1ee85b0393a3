//! The approval gate: who may approve a STOCK_ADJUSTMENT.
//!
//! The home's decision module has already checked that the APPROVE answers the exception's
//! outstanding APPROVAL_REQUEST (status AWAITING_APPROVAL, same request id). The gate adds:
//! - the approver's role (`actor_role`) must be the tier the policy requires for the value
//!   (`approval.tier`, from `[[approval_tiers]]`) or a higher one;
//! - a lot-controlled item (`md.item`) or a type in `dual_approval_types` (lot/serial and
//!   expiry: the recall-related ones) needs one APPROVE from each of `dual_approval_roles`
//!   (quality and finance): two decisions on the same request, the first recorded as a
//!   partial approval, the adjustment only after the second.
//!
//! A refused approval is audited as DECISION_IGNORED under rule `GOV-004` and changes nothing.

use invex_model::{ApprovalDecision, Decision, ExceptionRecord, ExceptionStatus};

use super::sla::settings;
use super::{Given, Governance};
use crate::cycle_count::{AuditDraft, symbol};
use crate::detector::Ctx;
use crate::error::DetectError;
use crate::master;
use crate::policy::GovernancePolicy;

/// What an APPROVE that passed the gate amounts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GateVerdict {
    /// Every required approval is in: the adjustment may be issued.
    Complete(Vec<Given>),
    /// One more of several approvals: recorded, nothing issued yet.
    Partial {
        /// Approvals given so far.
        have: usize,
        /// Approvals required.
        need: usize,
    },
}

/// Whether the exception needs the dual (quality and finance) approval.
pub(crate) fn is_dual(
    ctx: &Ctx<'_>,
    record: &ExceptionRecord,
    p: &GovernancePolicy,
) -> Result<bool, DetectError> {
    let kind = record.exception_type.as_str();
    if p.dual_approval_types.iter().any(|t| t.eq_ignore_ascii_case(kind)) {
        return Ok(true);
    }
    let facts = master::facts(ctx, &record.tenant_id, &record.site_id, &record.sku)?;
    Ok(facts.is_some_and(|f| f.lot_controlled))
}

/// Checks an APPROVE against the gate, recording it in `gov` when it passes; `Err` carries
/// the reason it is refused.
pub(crate) fn check_approval(
    ctx: &Ctx<'_>,
    record: &ExceptionRecord,
    gov: &mut Governance,
    d: &ApprovalDecision,
) -> Result<Result<GateVerdict, String>, DetectError> {
    let p = settings(ctx, record)?;
    let dual = is_dual(ctx, record, &p)?;
    let Some(role) = d.actor_role.as_deref().map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(Err("an approval needs the approver's role (actor_role)".to_owned()));
    };
    let role = role.to_ascii_uppercase();
    let given =
        Given { role: role.clone(), actor: d.actor.clone(), event_id: d.header.event_id.clone() };
    if !dual {
        let tier = record.approval.as_ref().map_or("", |a| a.tier.as_str());
        let policy = ctx.policy();
        return Ok(match (policy.tier_rank(&role), policy.tier_rank(tier)) {
            (Some(have), Some(need)) if have >= need => Ok(GateVerdict::Complete(vec![given])),
            _ => Err(format!("role {role} cannot approve at tier {tier}")),
        });
    }
    let roles = &p.dual_approval_roles;
    if !roles.iter().any(|r| r.eq_ignore_ascii_case(&role)) {
        return Ok(Err(format!(
            "needs approvals from {}; {role} is none of them",
            roles.join(", ")
        )));
    }
    if gov.approvals.iter().any(|g| g.role == role) {
        return Ok(Err(format!("{role} has already approved this request")));
    }
    gov.approvals.push(given);
    let have = gov.approvals.len();
    Ok(Ok(if have >= roles.len() {
        GateVerdict::Complete(std::mem::take(&mut gov.approvals))
    } else {
        GateVerdict::Partial { have, need: roles.len() }
    }))
}

/// The audit draft of a partial approval (status stays AWAITING_APPROVAL).
pub(crate) fn partial_draft(d: &ApprovalDecision, have: usize, need: usize) -> AuditDraft {
    let mut details = std::collections::BTreeMap::new();
    details.insert("verdict".to_owned(), symbol(d.verdict));
    details.insert("approvals".to_owned(), format!("{have} of {need}"));
    if let Some(role) = &d.actor_role {
        details.insert("actor_role".to_owned(), role.clone());
    }
    AuditDraft {
        decision: Decision::Approved,
        rule: None,
        from: Some(ExceptionStatus::AwaitingApproval),
        to: ExceptionStatus::AwaitingApproval,
        at: d.header.event_time,
        note: format!("approval {have} of {need} by {}", d.actor),
        actor: Some(d.actor.clone()),
        action_ids: Vec::new(),
        inputs: vec![d.header.event_id.clone()],
        details,
    }
}

/// The audit draft of an approval the gate refused.
pub(crate) fn refused_draft(
    record: &ExceptionRecord,
    d: &ApprovalDecision,
    why: String,
) -> AuditDraft {
    let mut details = std::collections::BTreeMap::new();
    details.insert("verdict".to_owned(), symbol(d.verdict));
    if let Some(role) = &d.actor_role {
        details.insert("actor_role".to_owned(), role.clone());
    }
    AuditDraft {
        decision: Decision::DecisionIgnored,
        rule: None,
        from: Some(record.status),
        to: record.status,
        at: d.header.event_time,
        note: why,
        actor: Some(d.actor.clone()),
        action_ids: Vec::new(),
        inputs: vec![d.header.event_id.clone()],
        details,
    }
}
