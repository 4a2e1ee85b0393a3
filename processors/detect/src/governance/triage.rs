//! Triage: priority score, root-cause recommendation and routing of an opened exception.
//!
//! Score (0-100) = customer impact + value at risk + compliance risk, each up to its
//! `[governance]` weight:
//! - customer impact: open allocations of the item at the site (the allocation detector's
//!   state): the full weight when one ships within `ship_risk_hours`, half with none at risk;
//! - value at risk: `|variance value| / value_at_risk_full` of the value weight, capped;
//! - compliance risk: the full weight when the exception needs the dual approval (a
//!   lot-controlled item, or a lot/serial or expiry exception: see the gate module), half for
//!   any other exception about a lot.
//!
//! The root cause stays the detector's when it gave one (its signals are the evidence of
//! domain research 6.2); otherwise UNKNOWN / NO_SIGNAL. A root cause at least
//! `route_min_confidence` sure routes the exception to `[routing]` of its category unless
//! compliance is at stake (quality keeps those); below, the detector's owner keeps it.
//!
//! The score, its components and the routing are evidence: on the record (`correlation`
//! keys `triage.*`) and in the TRIAGED audit record, never an action.

use std::collections::BTreeMap;

use invex_model::{Decision, ExceptionRecord, ExceptionStatus, RootCause, RootCauseCategory};

use super::sla::{self, settings};
use super::{Governance, Home};
use crate::allocation::open_allocations;
use crate::cycle_count::{AuditDraft, symbol};
use crate::detector::Ctx;
use crate::error::DetectError;
use crate::policy::GovernancePolicy;

const HOUR_MS: i64 = 3_600_000;
const UNKNOWN_CONFIDENCE: f64 = 0.3;

/// The score and its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Score {
    customer: i64,
    value: i64,
    compliance: i64,
}

impl Score {
    fn total(self) -> i64 {
        (self.customer + self.value + self.compliance).clamp(0, 100)
    }
}

/// Triages a just-opened exception (OPEN to TRIAGED) and starts its SLA clocks; returns the
/// TRIAGED audit draft for the same version.
pub(crate) fn on_open(
    ctx: &mut Ctx<'_>,
    home: Home,
    record: &mut ExceptionRecord,
    gov: &mut Governance,
    at: i64,
) -> Result<AuditDraft, DetectError> {
    let from = record.status;
    let details = rescore(ctx, record)?;
    let p = settings(ctx, record)?;
    if record.root_cause.is_none() {
        record.root_cause = Some(RootCause {
            category: RootCauseCategory::Unknown,
            code: "NO_SIGNAL".to_owned(),
            confidence: UNKNOWN_CONFIDENCE,
            signals: vec!["the detector found no signal pointing to a cause".to_owned()],
        });
    }
    let compliance = details.get("triage.compliance_risk").is_some_and(|c| c != "0");
    if let Some(cause) = &record.root_cause
        && cause.confidence >= p.route_min_confidence
        && !compliance
    {
        record.owner_team = ctx.policy().owner_for(cause.category);
    }
    record.correlation.insert("triage.owner".to_owned(), symbol(record.owner_team));
    record.status = ExceptionStatus::Triaged;
    sla::start(ctx, home, record, gov)?;
    let mut details = details;
    if let Some(cause) = &record.root_cause {
        details.insert("root_cause".to_owned(), symbol(cause.category));
        details.insert("root_cause_confidence".to_owned(), cause.confidence.to_string());
        details.insert("root_cause_signals".to_owned(), cause.signals.join("; "));
    }
    details.insert("owner".to_owned(), symbol(record.owner_team));
    let score = details.get("triage.priority_score").cloned().unwrap_or_default();
    Ok(AuditDraft {
        decision: Decision::Triaged,
        rule: Some(super::RULE_TRIAGE),
        from: Some(from),
        to: ExceptionStatus::Triaged,
        at,
        note: format!("priority {score}, routed to {}", symbol(record.owner_team)),
        actor: None,
        action_ids: Vec::new(),
        inputs: Vec::new(),
        details,
    })
}

/// (Re)computes the priority score onto the record; returns its components as details.
pub(crate) fn rescore(
    ctx: &Ctx<'_>,
    record: &mut ExceptionRecord,
) -> Result<BTreeMap<String, String>, DetectError> {
    let p = settings(ctx, record)?;
    let at = record.updated_at;
    let (customer, orders) = customer_impact(ctx, record, &p, at)?;
    let score = Score {
        customer,
        value: value_at_risk(record, &p),
        compliance: compliance(ctx, record, &p)?,
    };
    let mut details = BTreeMap::new();
    details.insert("triage.priority_score".to_owned(), score.total().to_string());
    details.insert("triage.customer_impact".to_owned(), score.customer.to_string());
    details.insert("triage.value_at_risk".to_owned(), score.value.to_string());
    details.insert("triage.compliance_risk".to_owned(), score.compliance.to_string());
    details.insert("triage.open_allocations".to_owned(), orders.to_string());
    record.correlation.extend(details.iter().map(|(k, v)| (k.clone(), v.clone())));
    Ok(details)
}

fn customer_impact(
    ctx: &Ctx<'_>,
    record: &ExceptionRecord,
    p: &GovernancePolicy,
    at: i64,
) -> Result<(i64, usize), DetectError> {
    let open = open_allocations(ctx, &record.tenant_id, &record.site_id, &record.sku)?;
    let horizon = at.saturating_add(p.ship_risk_hours.saturating_mul(HOUR_MS));
    let at_risk = open.iter().any(|(_, ship)| ship.is_some_and(|t| t <= horizon));
    let points = match (open.is_empty(), at_risk) {
        (true, _) => 0,
        (false, true) => p.customer_weight,
        (false, false) => p.customer_weight / 2,
    };
    Ok((points, open.len()))
}

fn value_at_risk(record: &ExceptionRecord, p: &GovernancePolicy) -> i64 {
    let value = record.valuation.variance_value.abs();
    if p.value_at_risk_full <= 0.0 || !value.is_finite() {
        return if value > 0.0 { p.value_weight } else { 0 };
    }
    let share = (value / p.value_at_risk_full).min(1.0);
    (share * p.value_weight as f64).round() as i64
}

fn compliance(
    ctx: &Ctx<'_>,
    record: &ExceptionRecord,
    p: &GovernancePolicy,
) -> Result<i64, DetectError> {
    if super::gate::is_dual(ctx, record, p)? {
        return Ok(p.compliance_weight);
    }
    let about_lot = record.lot.as_deref().is_some_and(|l| !l.is_empty());
    Ok(if about_lot { p.compliance_weight / 2 } else { 0 })
}
