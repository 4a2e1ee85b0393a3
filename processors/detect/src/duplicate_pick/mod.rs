//! DUPLICATE_PICK: one pick task line confirmed twice, or picked above its allocation.
//!
//! - A confirmation whose content equals an earlier confirmation of the same line under a new
//!   event id is a transport duplicate (a producer retry): [`Detector::is_repeat`] makes the
//!   engine drop it like a redelivery (the runtime counts it as a duplicate record), so it
//!   neither reaches the book nor opens an exception.
//! - `DP-001` a second confirmation of a line (pick task, order, order line) with different
//!   content: subtype `DOUBLE_CONFIRMATION`, subject `sku|task|order|line`, expected = the
//!   requested quantity, observed = the line's picked total; a RECOUNT_TASK of the pick face.
//!   With `allow_partial_confirmations`, further confirmations are only a duplicate once the
//!   picked total exceeds the requested quantity. More confirmations update it (REDETECTED).
//! - `DP-002` the picks naming an allocation (`allocation_id`) exceed its `qty_allocated`
//!   (`oms.allocation`, latest by event time) by more than `over_allocation_tolerance`:
//!   subtype `OVER_ALLOCATION`, subject `sku|allocation`, a RECOUNT_TASK of the last pick's
//!   location. Evaluated on each pick and each allocation version, so a pick that arrives
//!   before its allocation is caught when the allocation arrives.
//! - `DP-003` a new allocation version covers the picks again: RESOLVED /
//!   ALLOCATION_COVERS_PICKS.
//!
//! Picks without `allocation_id` are not compared with allocations. Poison: an empty pick
//! task id, a negative requested quantity, an allocation with an empty id or unit, negative
//! quantities, or a pick in another unit of measure than its allocation.
//!
//! Policy keys (`[duplicate_pick]`, overridable): `allow_partial_confirmations`,
//! `over_allocation_tolerance`, `severity`, `owner`, `recount_target_group`,
//! `recount_due_minutes`.

mod rules;
mod state;

use invex_model::{CanonicalEvent, OrderAllocation, PickEvent};

use self::state::{ALLOC, AllocState, LINE, alloc_key, fingerprint, line_key};
use crate::detector::{Ctx, Detector, FiredTimer};
use crate::error::DetectError;
use crate::exceptions;
use crate::expiry::StoreTtl;
use crate::store::{StoreName, join};

const STORES: [StoreName; 7] = join(&[
    &[LINE.name(), ALLOC.name(), crate::cycle_count::STORES[0]],
    &crate::governance::GOVERNED,
]);

/// This detector's own stores.
pub(crate) const OWN_STORES: [StoreTtl; 2] = [LINE.spec(), ALLOC.spec()];

/// The duplicate-pick detector; its parameters come from the policy.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DuplicatePick;

impl Detector for DuplicatePick {
    fn name(&self) -> &'static str {
        "dp"
    }

    fn stores(&self) -> &'static [StoreName] {
        &STORES
    }

    fn is_repeat(&self, event: &CanonicalEvent, ctx: &Ctx<'_>) -> Result<bool, DetectError> {
        let CanonicalEvent::Pick(p) = event else { return Ok(false) };
        let Some(line) = ctx.get(LINE, &line_key(p))? else { return Ok(false) };
        let content = fingerprint(p);
        Ok(line.confirmations.iter().any(|c| c.fingerprint == content))
    }

    fn validate(&self, event: &CanonicalEvent, ctx: &Ctx<'_>) -> Result<(), DetectError> {
        let issue = match event {
            CanonicalEvent::Pick(p) => pick_issue(ctx, p)?,
            CanonicalEvent::Allocation(a) => allocation_issue(a),
            _ => None,
        };
        issue.map_or(Ok(()), |reason| Err(DetectError::invalid(event, reason)))
    }

    fn process(&mut self, event: &CanonicalEvent, ctx: &mut Ctx<'_>) -> Result<(), DetectError> {
        match event {
            CanonicalEvent::Pick(p) => rules::on_pick(ctx, p),
            CanonicalEvent::Allocation(a) => rules::on_allocation(ctx, a),
            _ => Ok(()),
        }
    }

    fn on_timer(&mut self, timer: &FiredTimer, ctx: &mut Ctx<'_>) -> Result<(), DetectError> {
        match timer.key.split_first() {
            Some((&exceptions::PURGE, key)) => exceptions::purge(ctx, key),
            _ => Ok(()),
        }
    }
}

fn pick_issue(ctx: &Ctx<'_>, p: &PickEvent) -> Result<Option<String>, DetectError> {
    if p.pick_task_id.trim().is_empty() {
        return Ok(Some("pick_task_id is empty".to_owned()));
    }
    if p.qty_requested < 0 {
        return Ok(Some(format!("qty_requested {} is negative", p.qty_requested)));
    }
    let Some(id) = &p.allocation_id else { return Ok(None) };
    let h = &p.header;
    let state: AllocState =
        ctx.get(ALLOC, &alloc_key(&h.tenant_id, &h.site_id, &p.sku, id))?.unwrap_or_default();
    Ok(state
        .allocation
        .filter(|a| a.uom != p.uom)
        .map(|a| format!("uom {} differs from {}, the unit of allocation {id}", p.uom, a.uom)))
}

fn allocation_issue(a: &OrderAllocation) -> Option<String> {
    if a.allocation_id.trim().is_empty() {
        Some("allocation_id is empty".to_owned())
    } else if a.uom.trim().is_empty() {
        Some("uom is empty".to_owned())
    } else if a.qty_allocated < 0 || a.qty_ordered < 0 {
        Some(format!("quantities {}/{} are negative", a.qty_allocated, a.qty_ordered))
    } else {
        None
    }
}
