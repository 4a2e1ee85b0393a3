//! A person's lifecycle decisions on `approvals`: acknowledge, hold, release, resolve, cancel.
//!
//! Approval answers (approve, reject, request recount) belong to the home's decision module;
//! these five apply to any exception of either home. A decision that does not fit the
//! current status is refused: audited as DECISION_IGNORED with the reason, no new version.
//!
//! A REJECTED exception waits for a person: ACKNOWLEDGE reopens it to investigate
//! (IN_PROGRESS, even when it was acknowledged before), RESOLVE closes it without adjustment
//! (resolution = `reason_code`, else its status reason ADJUSTMENT_REJECTED or RELEASE_REJECTED;
//! a rejected release keeps its stock blocked). REQUEST_RECOUNT is the home's (a recount task).

use std::collections::BTreeMap;

use invex_model::{ApprovalDecision, ApprovalVerdict, Decision, ExceptionRecord, ExceptionStatus};

use super::sla::{self, settings};
use super::{Governance, Governed, Home, RULE_HUMAN, bump};
use crate::cycle_count::{AuditDraft, symbol};
use crate::detector::Ctx;
use crate::error::DetectError;
use crate::exceptions;

/// Resolution of a RESOLVE without a reason code.
const RESOLVED_BY_USER: &str = "RESOLVED_BY_USER";

/// Whether this module (rather than an approval) handles the verdict.
pub(crate) fn is_lifecycle_verdict(verdict: ApprovalVerdict) -> bool {
    matches!(
        verdict,
        ApprovalVerdict::Acknowledge
            | ApprovalVerdict::Hold
            | ApprovalVerdict::Release
            | ApprovalVerdict::Resolve
            | ApprovalVerdict::Cancel
    )
}

/// What a decision does to the record, once it fits.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Acknowledge(ExceptionStatus),
    Reopen,
    Hold(String),
    Release(ExceptionStatus),
    Close(ExceptionStatus, String),
}

/// Applies one lifecycle decision, or audits why it does not fit.
pub(crate) fn decide(
    ctx: &mut Ctx<'_>,
    mut governed: Governed,
    d: &ApprovalDecision,
) -> Result<(), DetectError> {
    let reasons = settings(ctx, governed.record())?.hold_reasons;
    let step = match fits(&mut governed, d, &reasons) {
        Ok(step) => step,
        Err(reason) => {
            let record = governed.record();
            let draft = draft(d, Decision::DecisionIgnored, record.status, record.status, reason);
            super::emit_refusal(ctx, record, draft, RULE_HUMAN, &d.header.event_id);
            return Ok(());
        }
    };
    let resolving = matches!(step, Step::Close(ExceptionStatus::Resolved, _));
    let mut governed = match governed {
        // Held stock of a quality type is released only through an approval.
        Governed::Shared(case) if resolving && exceptions::wants_release(ctx, &case)? => {
            return exceptions::request_release(ctx, case, d);
        }
        other => other,
    };
    let home = governed.home();
    let at = d.header.event_time;
    let (record, gov) = governed.parts();
    let from = record.status;
    bump(ctx, record, RULE_HUMAN, at, Some(&d.header.event_id));
    let (decision, note) = apply(ctx, home, record, gov, step, d)?;
    let drafted = draft(d, decision, from, record.status, note);
    governed.commit(ctx, Vec::new(), vec![drafted])
}

/// Moves the record (and its clocks) by one fitting step; returns the audit decision and note.
fn apply(
    ctx: &mut Ctx<'_>,
    home: Home,
    record: &mut ExceptionRecord,
    gov: &mut Governance,
    step: Step,
    d: &ApprovalDecision,
) -> Result<(Decision, String), DetectError> {
    let from = record.status;
    Ok(match step {
        Step::Acknowledge(to) => {
            record.status = to;
            sla::acknowledged(ctx, home, record, gov)?;
            (Decision::Acknowledged, format!("acknowledged by {}", d.actor))
        }
        Step::Reopen => {
            record.status = ExceptionStatus::InProgress;
            record.status_reason = None;
            sla::acknowledged(ctx, home, record, gov)?;
            (Decision::Transitioned, format!("reopened by {} to investigate", d.actor))
        }
        Step::Hold(reason) => {
            gov.held_from = Some(from);
            record.status = ExceptionStatus::OnHold;
            record.status_reason = Some(reason.clone());
            sla::pause(ctx, home, record, gov)?;
            (Decision::Held, format!("on hold ({reason}) by {}", d.actor))
        }
        Step::Release(to) => {
            gov.held_from = None;
            record.status = to;
            record.status_reason = None;
            sla::resume(ctx, home, record, gov)?;
            (Decision::Released, format!("released from hold by {}", d.actor))
        }
        Step::Close(to, resolution) => {
            record.status = to;
            record.resolved_at = Some(d.header.event_time);
            record.resolution = Some(resolution.clone());
            let decision = if to == ExceptionStatus::Cancelled {
                Decision::Cancelled
            } else {
                Decision::Resolved
            };
            (decision, format!("{} by {}: {resolution}", symbol(to).to_lowercase(), d.actor))
        }
    })
}

/// The step a decision takes from the current status, or why it does not fit.
fn fits(governed: &mut Governed, d: &ApprovalDecision, reasons: &[String]) -> Result<Step, String> {
    let (record, gov) = governed.parts();
    let status = record.status;
    if !status.is_open() {
        return Err(format!("exception is {}: nothing to decide", symbol(status)));
    }
    let on_hold = status == ExceptionStatus::OnHold;
    let reason = d.reason_code.as_deref().map(str::trim).filter(|r| !r.is_empty());
    let rejected = status == ExceptionStatus::Rejected;
    match d.verdict {
        ApprovalVerdict::Acknowledge if rejected => Ok(Step::Reopen),
        ApprovalVerdict::Resolve if rejected => {
            let how = reason.or(record.status_reason.as_deref()).unwrap_or(RESOLVED_BY_USER);
            Ok(Step::Close(ExceptionStatus::Resolved, how.to_ascii_uppercase()))
        }
        ApprovalVerdict::Acknowledge if gov.acknowledged => Err("already acknowledged".to_owned()),
        ApprovalVerdict::Acknowledge => Ok(Step::Acknowledge(match status {
            ExceptionStatus::Open | ExceptionStatus::Triaged => ExceptionStatus::InProgress,
            other => other,
        })),
        ApprovalVerdict::Hold if on_hold => Err("already on hold".to_owned()),
        ApprovalVerdict::Hold => match reason {
            Some(r) if reasons.iter().any(|k| k.eq_ignore_ascii_case(r)) => {
                Ok(Step::Hold(r.to_ascii_uppercase()))
            }
            _ => Err(format!("a hold needs a reason_code, one of {}", reasons.join(", "))),
        },
        ApprovalVerdict::Release if !on_hold => Err("exception is not on hold".to_owned()),
        ApprovalVerdict::Release => {
            Ok(Step::Release(gov.held_from.unwrap_or(ExceptionStatus::Triaged)))
        }
        ApprovalVerdict::Resolve if on_hold => Err("exception is on hold: release it first".into()),
        ApprovalVerdict::Resolve => Ok(Step::Close(
            ExceptionStatus::Resolved,
            reason.unwrap_or(RESOLVED_BY_USER).to_ascii_uppercase(),
        )),
        ApprovalVerdict::Cancel => Ok(Step::Close(
            ExceptionStatus::Cancelled,
            reason.unwrap_or("CANCELLED").to_ascii_uppercase(),
        )),
        other => Err(format!("verdict {} is not a lifecycle decision", symbol(other))),
    }
}

fn draft(
    d: &ApprovalDecision,
    decision: Decision,
    from: ExceptionStatus,
    to: ExceptionStatus,
    note: String,
) -> AuditDraft {
    let mut details = BTreeMap::new();
    details.insert("verdict".to_owned(), symbol(d.verdict));
    let optional = [("actor_role", &d.actor_role), ("comment", &d.comment)];
    for (k, v) in optional {
        if let Some(v) = v {
            details.insert(k.to_owned(), v.clone());
        }
    }
    if let Some(reason) = &d.reason_code {
        details.insert("reason_code".to_owned(), reason.clone());
    }
    AuditDraft {
        rule: None,
        decision,
        from: Some(from),
        to,
        at: d.header.event_time,
        note,
        actor: Some(d.actor.clone()),
        action_ids: Vec::new(),
        inputs: vec![d.header.event_id.clone()],
        details,
    }
}
