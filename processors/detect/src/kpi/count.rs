//! Inventory record accuracy from the audit trail of the cycle-count rule.
//!
//! The cycle-count detector writes the numbers of an evaluated count into the details of the
//! one audit record that decides it (`within_tolerance`, `count_seq`, `variance`, ...):
//!
//! ```text
//! no open exception, within tolerance, variance != 0  -> ACCEPTED_WITHIN_TOLERANCE (hit)
//! no open exception, outside tolerance                -> OPENED (miss)
//! open exception, not a recount it awaits             -> REDETECTED (hit or miss)
//! recount of an exception awaiting it (count_seq >= 2) -> RESOLVED or an escalation
//! ```
//!
//! An evaluation is one of the first three decisions with both details present; only first
//! counts (`count_seq` 1) are taken, so a location counted and recounted weighs once, by what
//! its count found, and recounts (which only exist after a miss) do not inflate accuracy. A hit
//! is a count within the detector's tolerance of the book (its tolerance, not a separate
//! hit/miss tolerance). IRA = hits / evaluations per site and hour; the counts are reported on
//! the site's CYCLE_COUNT_DISCREPANCY record.
//!
//! A count whose variance is exactly 0 with no open exception changes no exception; the
//! cycle-count detector still audits it (an audit record without an exception version, with
//! the same details), so exact matches count as hits like any other evaluation.
//!
//! Audit records are deduplicated by audit id within their window (redelivery after a restart
//! in at-least-once mode); the ids are forgotten when the window is emitted, after which a
//! redelivered record counts as late.

use invex_model::{AuditRecord, Decision, ExceptionType};

use super::state::{self, Group, SEEN};
use super::window::{self, window_of};
use super::{KpiChange, KpiOutcome};
use crate::error::DetectError;
use crate::store::Store;

/// Applies one audit record.
pub(super) fn on_audit(
    store: &mut dyn Store,
    record: &AuditRecord,
) -> Result<KpiOutcome, DetectError> {
    let Some(hit) = evaluation(record) else { return Ok(KpiOutcome::ignored()) };
    let seen = state::seen_key(window_of(record.at), &record.audit_id);
    if state::get(store, SEEN, &seen)?.is_some() {
        return Ok(KpiOutcome::duplicate());
    }
    let group = Group {
        tenant_id: record.tenant_id.clone(),
        site_id: record.site_id.clone(),
        exception_type: ExceptionType::CycleCountDiscrepancy,
    };
    let in_window = window::count(store, &group, record.at, |c| {
        c.evaluations = c.evaluations.saturating_add(1);
        c.hits = c.hits.saturating_add(i64::from(hit));
    })?;
    if in_window {
        state::put(store, SEEN, &seen, &())?;
    }
    Ok(KpiOutcome::counted(in_window, group, KpiChange::CountEvaluated { hit }))
}

/// Whether the record is the evaluation of a first count, and if so whether it was a hit.
fn evaluation(record: &AuditRecord) -> Option<bool> {
    let decides = matches!(
        record.decision,
        Decision::AcceptedWithinTolerance | Decision::Opened | Decision::Redetected
    );
    let within = record.details.get("within_tolerance")?.parse::<bool>().ok()?;
    let first = record.details.get("count_seq")?.trim() == "1";
    (decides && first).then_some(within)
}
