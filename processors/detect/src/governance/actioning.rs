//! ACTIONING: an approved action is out; the exception waits for the downstream system.
//!
//! ```text
//! APPROVE issues STOCK_ADJUSTMENT | RELEASE_HOLD   APPROVED -> ACTIONING (same version as
//!                                                  APPROVED; the action id is remembered)
//! integration.ack ACK naming the action            ACTIONING -> RESOLVED (ADJUSTED | RELEASED)
//! integration.ack ERROR naming the action          ACTIONING -> IN_PROGRESS, the refusal as
//!                                                  evidence, and an ESCALATION one level up
//! no acknowledgement                               the resolve SLA keeps running (ACTIONING is
//!                                                  open) and escalates as for any status
//! ```
//!
//! Correlation: the connector that posts the action to the ERP acknowledges it on
//! `integration.ack` with the action id (the CloudEvents `id` of the action) in
//! `related_event_ids`, the field that names the events a posting carries. The ack's key
//! (`tenant|site|sku`) is the exception's, so the detect task that owns the exception sees it.
//!
//! Invariants:
//! - an exception waits for at most one action ([`Awaited`] in its governance state; a newer
//!   governed action replaces the wait for an older, refused one), and while
//!   it waits `exc.open` holds `item ++ "ACTIONING" ++ action id -> exception id` (no exception
//!   type is spelled `ACTIONING`, so the index never meets a subject entry). An ack is one
//!   point lookup per id it names; an ack naming nothing awaited changes nothing and writes
//!   nothing (most acks are ordinary WMS postings);
//! - the wait ends when the exception closes, however it closes (the ACK, a person's RESOLVE or
//!   CANCEL, a detector clearing it): [`settle`], called by both homes' commits, drops the index;
//! - a refusal is applied once per action: a later ERROR of the same action (the connector's
//!   retries) changes nothing, and a later ACK of it (a retry that went through) still resolves
//!   the exception as ADJUSTED or RELEASED;
//! - ON_HOLD does not hide the downstream fact: an ACK resolves a held exception, and a refusal
//!   makes IN_PROGRESS the status the release returns to.
//!
//! Rule id `GOV-005`. The ledger already took an approved adjustment at the decision time (the
//! WMS book follows the approval); a refusal leaves it as is, the next ERP snapshot re-anchors it.

use std::collections::BTreeMap;

use invex_model::{
    AckStatus, ActionCommand, ActionType, Decision, ExceptionRecord, ExceptionStatus,
    IntegrationAck,
};
use serde::{Deserialize, Serialize};

use super::{Governance, Governed, Home, bump, sla};
use crate::cycle_count::{AuditDraft, item_key, symbol};
use crate::detector::Ctx;
use crate::error::DetectError;
use crate::exceptions;
use crate::key::Key;

/// Rule: an integration acknowledgement of a governed action.
pub(crate) const RULE_ACK: &str = "GOV-005";
/// Status reason of an exception back IN_PROGRESS after the ERP refused its action.
const REFUSED: &str = "ACTION_REFUSED";
/// The type component of the wait index entries in `exc.open`.
const INDEX_TAG: &str = "ACTIONING";

/// The governed action an exception waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Awaited {
    /// Id of the STOCK_ADJUSTMENT or RELEASE_HOLD.
    pub(crate) action_id: String,
    /// Its type (decides the resolution: ADJUSTED or RELEASED).
    pub(crate) action_type: ActionType,
    /// The ERP refused it once (the refusal has been applied).
    #[serde(default)]
    pub(crate) refused: bool,
}

impl Awaited {
    const fn resolution(&self) -> &'static str {
        match self.action_type {
            ActionType::ReleaseHold => "RELEASED",
            _ => "ADJUSTED",
        }
    }
}

fn index_key(record: &ExceptionRecord, action_id: &str) -> Vec<u8> {
    let item = item_key(&record.tenant_id, &record.site_id, &record.sku);
    Key::new().raw(&item).str(INDEX_TAG).str(action_id).into_bytes()
}

/// Moves an APPROVED exception to ACTIONING, waiting for `action`; returns the audit draft of
/// that transition (for the version of the approval).
pub(crate) fn start(
    ctx: &mut Ctx<'_>,
    record: &mut ExceptionRecord,
    gov: &mut Governance,
    action: &ActionCommand,
    at: i64,
) -> Result<AuditDraft, DetectError> {
    let from = record.status;
    let id = &action.action_id.0;
    // A new governed action (the release after a refused write-off) replaces the earlier wait.
    if let Some(earlier) = gov.awaiting.take() {
        ctx.delete(exceptions::OPEN, &index_key(record, &earlier.action_id))?;
    }
    ctx.put(exceptions::OPEN, &index_key(record, id), &record.exception_id.0)?;
    gov.awaiting =
        Some(Awaited { action_id: id.clone(), action_type: action.action_type, refused: false });
    record.status = ExceptionStatus::Actioning;
    let kind = action.action_type.as_str();
    let mut details = BTreeMap::new();
    details.insert("awaiting_action_id".to_owned(), id.clone());
    details.insert("awaiting_action_type".to_owned(), kind.to_owned());
    Ok(AuditDraft {
        decision: Decision::Transitioned,
        rule: None,
        from: Some(from),
        to: ExceptionStatus::Actioning,
        at,
        note: format!("{kind} {id} issued: waiting for its acknowledgement"),
        actor: None,
        action_ids: vec![id.clone()],
        inputs: Vec::new(),
        details,
    })
}

/// Ends the wait of an exception that is no longer open; both homes' commits call it.
pub(crate) fn settle(
    ctx: &mut Ctx<'_>,
    record: &ExceptionRecord,
    gov: &mut Governance,
) -> Result<(), DetectError> {
    if record.status.is_open() {
        return Ok(());
    }
    if let Some(awaited) = gov.awaiting.take() {
        ctx.delete(exceptions::OPEN, &index_key(record, &awaited.action_id))?;
    }
    Ok(())
}

/// Applies an acknowledgement to the exceptions waiting for an action it names.
pub(crate) fn on_ack(ctx: &mut Ctx<'_>, ack: &IntegrationAck) -> Result<(), DetectError> {
    if !matches!(ack.status, AckStatus::Ack | AckStatus::Error) {
        return Ok(());
    }
    let h = &ack.header;
    let item = item_key(&h.tenant_id, &h.site_id, &ack.sku);
    let mut seen = Vec::new();
    for id in &ack.related_event_ids {
        if seen.contains(&id) {
            continue;
        }
        seen.push(id);
        let key = Key::new().raw(&item).str(INDEX_TAG).str(id).into_bytes();
        let Some(exception_id) = ctx.get(exceptions::OPEN, &key)? else { continue };
        let case = Key::new().raw(&item).str(&exception_id).into_bytes();
        if let Some(governed) = load(ctx, &case)? {
            apply(ctx, governed, ack, id)?;
        }
    }
    Ok(())
}

/// The exception at `key` in whichever home holds it.
fn load(ctx: &Ctx<'_>, key: &[u8]) -> Result<Option<Governed>, DetectError> {
    match Governed::load(ctx, Home::Count, key)? {
        Some(found) => Ok(Some(found)),
        None => Governed::load(ctx, Home::Shared, key),
    }
}

fn apply(
    ctx: &mut Ctx<'_>,
    mut governed: Governed,
    ack: &IntegrationAck,
    action_id: &str,
) -> Result<(), DetectError> {
    let (record, gov) = governed.parts();
    let Some(awaited) = gov.awaiting.clone().filter(|a| a.action_id == action_id) else {
        return Ok(());
    };
    if !record.status.is_open() || (ack.status == AckStatus::Error && awaited.refused) {
        return Ok(());
    }
    let h = &ack.header;
    let from = record.status;
    bump(ctx, record, RULE_ACK, h.event_time, Some(&h.event_id));
    record.correlation.insert("action_message_id".to_owned(), ack.message_id.clone());
    let mut drafts = Vec::new();
    let mut actions = Vec::new();
    if ack.status == AckStatus::Ack {
        let how = awaited.resolution();
        record.status = ExceptionStatus::Resolved;
        if record.status_reason.as_deref() == Some(REFUSED) {
            record.status_reason = None;
        }
        record.resolution = Some(how.to_owned());
        record.resolved_at = Some(h.event_time);
        let note = format!("{} {action_id} acknowledged: {how}", awaited.action_type.as_str());
        drafts.push(draft(ack, Decision::Resolved, from, ExceptionStatus::Resolved, note));
    } else {
        let code = ack.error_code.clone().unwrap_or_else(|| "ERROR".to_owned());
        refuse(record, gov, &awaited);
        let note = format!("{} {action_id} refused ({code})", awaited.action_type.as_str());
        let mut refused = draft(ack, Decision::Transitioned, from, record.status, note);
        refused.details.insert("error_code".to_owned(), code.clone());
        drafts.push(refused);
        let p = sla::settings(ctx, record)?;
        let reason = format!("{REFUSED}:{code}");
        if let Some((action, escalated)) = sla::raise(&p, record, &reason, h.event_time) {
            actions.push(action);
            drafts.push(escalated);
        }
    }
    governed.commit(ctx, actions, drafts)
}

/// Back to work after a refusal: IN_PROGRESS, or the status a hold returns to.
fn refuse(record: &mut ExceptionRecord, gov: &mut Governance, awaited: &Awaited) {
    gov.awaiting = Some(Awaited { refused: true, ..awaited.clone() });
    if record.status == ExceptionStatus::OnHold {
        gov.held_from = Some(ExceptionStatus::InProgress);
    } else {
        record.status = ExceptionStatus::InProgress;
        record.status_reason = Some(REFUSED.to_owned());
    }
}

fn draft(
    ack: &IntegrationAck,
    decision: Decision,
    from: ExceptionStatus,
    to: ExceptionStatus,
    note: String,
) -> AuditDraft {
    let details: BTreeMap<String, String> = [
        ("message_id", ack.message_id.clone()),
        ("doc_type", ack.doc_type.clone()),
        ("ack_status", symbol(ack.status)),
        ("attempt", ack.attempt.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    AuditDraft {
        decision,
        rule: None,
        from: Some(from),
        to,
        at: ack.header.event_time,
        note,
        actor: None,
        action_ids: Vec::new(),
        inputs: vec![ack.header.event_id.clone()],
        details,
    }
}
