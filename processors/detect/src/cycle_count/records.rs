//! Builders of the exception, action and audit records of the cycle-count rule.
//!
//! Rule ids: `CC-001` evaluates a count with no exception awaiting its recount (open,
//! accept within tolerance, re-detect), `CC-002` evaluates a recount of an exception awaiting
//! one, `CC-003` applies a human decision. Ids are deterministic: exception and action ids
//! come from invex-model's derivations; an audit id is `<exception id>/v<version>/<DECISION>`,
//! plus `/<event id>` for an ignored decision (several may hit the same version).

use std::collections::BTreeMap;

use invex_model::{
    ActionCommand, ActionId, ActionType, AuditRecord, Decision, ExceptionRecord, ExceptionStatus,
    ExceptionType, Quantities, RequestedBy, Valuation,
};

use super::evaluate::Finding;
use super::state::PendingCount;
use crate::detector::TimerKind;
use crate::policy::{CycleCountThresholds, Policy};

/// Rule: evaluate a count.
pub(super) const RULE_COUNT: &str = "CC-001";
/// Rule: evaluate a recount of an exception awaiting one.
pub(super) const RULE_RECOUNT: &str = "CC-002";
/// Rule: apply a human decision.
pub(super) const RULE_DECISION: &str = "CC-003";
/// The exception type of this rule.
pub(super) const TYPE: ExceptionType = ExceptionType::CycleCountDiscrepancy;

/// Everything one evaluation of a count produced.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Evaluation {
    pub(super) count: PendingCount,
    pub(super) finding: Finding,
    pub(super) cause: invex_model::RootCause,
    pub(super) thresholds: CycleCountThresholds,
    pub(super) unit_cost: f64,
    pub(super) currency: String,
    /// Events behind the evaluation: snapshot, movements, the count.
    pub(super) inputs: Vec<String>,
    /// Which timer evaluated the count.
    pub(super) via: TimerKind,
}

/// An audit record before the exception version it belongs to is final.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AuditDraft {
    pub(crate) decision: Decision,
    /// Rule of this decision when it is not the rule of the record version (governance
    /// steps within a detector's version, such as triage).
    pub(crate) rule: Option<&'static str>,
    pub(crate) from: Option<ExceptionStatus>,
    pub(crate) to: ExceptionStatus,
    pub(crate) at: i64,
    pub(crate) note: String,
    pub(crate) actor: Option<String>,
    pub(crate) action_ids: Vec<String>,
    pub(crate) inputs: Vec<String>,
    pub(crate) details: BTreeMap<String, String>,
}

/// A new exception record (version 1, status OPEN) from an evaluation.
pub(super) fn new_record(
    id: invex_model::ExceptionId,
    eval: &Evaluation,
    policy: &Policy,
) -> ExceptionRecord {
    let s = &eval.count.subject;
    let mut record = ExceptionRecord {
        exception_id: id,
        version: 1,
        exception_type: TYPE,
        subtype: None,
        severity: 0,
        status: ExceptionStatus::Open,
        status_reason: None,
        tenant_id: s.tenant.clone(),
        site_id: s.site.clone(),
        subject: s.text(),
        location_id: Some(s.location.clone()),
        sku: s.sku.clone(),
        lot: s.lot.clone(),
        quantities: quantities(eval),
        valuation: valuation(eval),
        rule_id: RULE_COUNT.to_owned(),
        policy_version: policy.version().to_owned(),
        opened_at: eval.count.count_time,
        updated_at: eval.count.count_time,
        resolved_at: None,
        resolution: None,
        source_event_ids: Vec::new(),
        root_cause: None,
        owner_team: policy.owner_for(eval.cause.category),
        approval: None,
        recount_attempts: 0,
        escalation_level: 0,
        correlation: [("count_doc_id".to_owned(), eval.count.count_doc_id.clone())]
            .into_iter()
            .collect(),
    };
    apply_evaluation(&mut record, eval, policy, RULE_COUNT);
    record
}

/// Updates a record with the numbers and evidence of an evaluation.
pub(super) fn apply_evaluation(
    record: &mut ExceptionRecord,
    eval: &Evaluation,
    policy: &Policy,
    rule: &str,
) {
    record.subtype = subtype(eval.finding.variance);
    record.severity = policy.tier_for(eval.finding.value).severity;
    record.quantities = quantities(eval);
    record.valuation = valuation(eval);
    record.rule_id = rule.to_owned();
    record.policy_version = policy.version().to_owned();
    record.updated_at = eval.count.count_time;
    record.owner_team = policy.owner_for(eval.cause.category);
    record.root_cause = Some(eval.cause.clone());
    record.correlation.insert("last_count_doc_id".to_owned(), eval.count.count_doc_id.clone());
    add_sources(record, &eval.inputs);
}

/// Appends event ids that are not there yet, keeping their order.
pub(crate) fn add_sources(record: &mut ExceptionRecord, ids: &[String]) {
    for id in ids {
        if !record.source_event_ids.contains(id) {
            record.source_event_ids.push(id.clone());
        }
    }
}

fn subtype(variance: i64) -> Option<String> {
    match variance.signum() {
        -1 => Some("SHORT".to_owned()),
        1 => Some("OVER".to_owned()),
        _ => None,
    }
}

fn quantities(eval: &Evaluation) -> Quantities {
    let f = &eval.finding;
    Quantities {
        expected: Some(f.expected),
        observed: Some(f.observed),
        book: Some(f.book_at_freeze),
        variance: f.variance,
        variance_pct: f.variance_pct,
        uom: eval.count.uom.clone(),
    }
}

fn valuation(eval: &Evaluation) -> Valuation {
    Valuation {
        variance_value: eval.finding.value,
        unit_cost: eval.unit_cost,
        currency: eval.currency.clone(),
    }
}

/// The numbers behind an evaluation, for audit details.
pub(super) fn evaluation_details(eval: &Evaluation) -> BTreeMap<String, String> {
    let f = &eval.finding;
    let t = &eval.thresholds;
    let mut d = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        d.insert(k.to_owned(), v);
    };
    put("expected", f.expected.to_string());
    put("observed", f.observed.to_string());
    put("variance", f.variance.to_string());
    put("variance_pct", f.variance_pct.map_or_else(|| "n/a".to_owned(), |p| p.to_string()));
    put("variance_value", f.value.to_string());
    put("book_at_freeze", f.book_at_freeze.to_string());
    put("movements_after_freeze", f.movements_after_freeze.to_string());
    if let Some(w) = eval.count.wms_book_at_freeze {
        put("wms_book_qty_at_freeze", w.to_string());
    }
    put("count_seq", eval.count.count_seq.to_string());
    put("abc_class", t.class.clone());
    put("tolerance_pct", t.tolerance_pct.to_string());
    put("tolerance_value", t.tolerance_value.to_string());
    put("unit_cost", eval.unit_cost.to_string());
    put("within_tolerance", f.within.to_string());
    let via = match eval.via {
        TimerKind::StreamTime => "stream_time",
        TimerKind::WallClock => "wall_clock",
    };
    put("evaluated_on", via.to_owned());
    if !t.overrides.is_empty() {
        put("policy_overrides", t.overrides.join(","));
    }
    d
}

/// An action for `record` with the fields every action type shares.
pub(crate) fn action(
    record: &ExceptionRecord,
    action_type: ActionType,
    attempt: i32,
    requested_by: RequestedBy,
    created_at: i64,
) -> ActionCommand {
    let attempt_id = u32::try_from(attempt).unwrap_or(0);
    ActionCommand {
        action_id: ActionId::derive(&record.exception_id, action_type.as_str(), attempt_id),
        action_type,
        exception_id: record.exception_id.clone(),
        attempt,
        tenant_id: record.tenant_id.clone(),
        site_id: record.site_id.clone(),
        location_id: record.location_id.clone(),
        sku: record.sku.clone(),
        lot: record.lot.clone(),
        quantity: Some(record.quantities.variance),
        uom: Some(record.quantities.uom.clone()),
        value: Some(record.valuation.variance_value),
        currency: Some(record.valuation.currency.clone()),
        reason_code: None,
        approval_ref: None,
        approval_tier: None,
        target_group: String::new(),
        priority: record.severity,
        due_at: None,
        requested_by,
        rule_id: record.rule_id.clone(),
        policy_version: record.policy_version.clone(),
        created_at,
        details: BTreeMap::new(),
    }
}

/// The audit record of a draft, for the record version it produced.
pub(crate) fn audit(
    record: &ExceptionRecord,
    draft: AuditDraft,
    rule: &str,
    id_suffix: Option<&str>,
) -> AuditRecord {
    let mut audit_id =
        format!("{}/v{}/{}", record.exception_id, record.version, decision_name(draft.decision));
    if let Some(suffix) = id_suffix {
        audit_id.push('/');
        audit_id.push_str(suffix);
    }
    let rule = draft.rule.unwrap_or(rule);
    AuditRecord {
        audit_id,
        exception_id: record.exception_id.clone(),
        exception_version: record.version,
        tenant_id: record.tenant_id.clone(),
        site_id: record.site_id.clone(),
        at: draft.at,
        decision: draft.decision,
        from_status: draft.from,
        to_status: draft.to,
        rule_id: rule.to_owned(),
        policy_version: record.policy_version.clone(),
        input_event_ids: draft.inputs,
        actor: draft.actor,
        action_ids: draft.action_ids,
        note: draft.note,
        details: draft.details,
    }
}

/// The symbol of a decision, as on the audit topic.
pub(super) fn decision_name(decision: Decision) -> &'static str {
    match decision {
        Decision::Opened => "OPENED",
        Decision::AcceptedWithinTolerance => "ACCEPTED_WITHIN_TOLERANCE",
        Decision::RecountRequested => "RECOUNT_REQUESTED",
        Decision::ApprovalRequested => "APPROVAL_REQUESTED",
        Decision::Approved => "APPROVED",
        Decision::Rejected => "REJECTED",
        Decision::Resolved => "RESOLVED",
        Decision::Redetected => "REDETECTED",
        Decision::DecisionIgnored => "DECISION_IGNORED",
        Decision::Transitioned => "TRANSITIONED",
        Decision::Triaged => "TRIAGED",
        Decision::Acknowledged => "ACKNOWLEDGED",
        Decision::Held => "HELD",
        Decision::Released => "RELEASED",
        Decision::Cancelled => "CANCELLED",
        Decision::Escalated => "ESCALATED",
    }
}

/// The serde symbol of a model enum (`AWAITING_RECOUNT`, `REQUEST_RECOUNT`), for notes.
pub(crate) fn symbol<T: serde::Serialize>(value: T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// Why an approval decision cannot be applied to `record`: the exception is not awaiting
/// approval, or the decision answers another request than the outstanding one.
pub(crate) fn answers_open_request(
    record: &invex_model::ExceptionRecord,
    d: &invex_model::ApprovalDecision,
) -> Result<(), String> {
    let status = record.status;
    if status != invex_model::ExceptionStatus::AwaitingApproval {
        return Err(format!("exception is {}, not awaiting approval", symbol(status)));
    }
    let open_request = record.approval.as_ref().map(|a| a.request_id.as_str());
    if d.approval_request_id.as_deref() != open_request {
        return Err(format!(
            "decision answers request {:?}, the outstanding request is {:?}",
            d.approval_request_id, open_request
        ));
    }
    Ok(())
}
