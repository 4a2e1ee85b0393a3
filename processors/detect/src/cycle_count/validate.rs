//! Poison checks of the events the cycle-count detector uses.
//!
//! An event is refused (DLQ) when it cannot describe something that happened: a negative
//! counted, picked, accepted or moved quantity; a `count_seq` below 1; an empty location or
//! unit of measure; a confirmed task without destination; a negative or non-finite unit cost;
//! or a quantity in another unit of measure than the subject's ledger (quantities are never
//! converted). Quantities beyond [`MAX_QUANTITY`] units and unit costs beyond [`MAX_UNIT_COST`]
//! are refused too: no warehouse holds them, and the bounds keep every sum and product of the
//! ledger and valuation finite and free of overflow. Checks only read state.

use invex_model::{CanonicalEvent, CountEvent, TaskEvent, TaskStatus};

use super::ledger;
use super::state::Subject;
use crate::detector::Ctx;
use crate::error::DetectError;

/// Largest absolute quantity of one event (10^12 units).
pub(super) const MAX_QUANTITY: i64 = 1_000_000_000_000;
/// Largest unit cost (10^12 in any currency).
pub(super) const MAX_UNIT_COST: f64 = 1e12;

/// Refuses an impossible event with a poison error.
pub(super) fn check(event: &CanonicalEvent, ctx: &Ctx<'_>) -> Result<(), DetectError> {
    match issue(event, ctx)? {
        Some(reason) => Err(DetectError::invalid(event, reason)),
        None => Ok(()),
    }
}

fn issue(event: &CanonicalEvent, ctx: &Ctx<'_>) -> Result<Option<String>, DetectError> {
    let h = event.header();
    let at = |location: &str, lot: Option<&str>| Subject::new(h, event.sku(), location, lot);
    let found = match event {
        CanonicalEvent::Count(c) => match count_issue(c) {
            None => uom_issue(ctx, &at(&c.location_id, c.lot.as_deref()), &c.uom)?,
            found => found,
        },
        CanonicalEvent::Book(b) => {
            let found = location_issue(&b.location_id, &b.uom)
                .or_else(|| magnitude_issue(b.quantity))
                .or_else(|| cost_issue(b.unit_cost));
            match found {
                None => uom_issue(ctx, &at(&b.location_id, b.lot.as_deref()), &b.uom)?,
                found => found,
            }
        }
        CanonicalEvent::Receipt(r) => {
            match movement_issue(&r.location_id, &r.uom, r.qty_accepted) {
                None => uom_issue(ctx, &at(&r.location_id, r.lot.as_deref()), &r.uom)?,
                found => found,
            }
        }
        CanonicalEvent::Pick(p) => match movement_issue(&p.location_id, &p.uom, p.qty_picked) {
            None => uom_issue(ctx, &at(&p.location_id, p.lot.as_deref()), &p.uom)?,
            found => found,
        },
        CanonicalEvent::Task(t) if t.status == TaskStatus::Confirmed => task_issue(ctx, t, &at)?,
        CanonicalEvent::Item(i) => cost_issue(i.unit_cost),
        _ => None,
    };
    Ok(found)
}

fn count_issue(c: &CountEvent) -> Option<String> {
    if c.count_seq < 1 {
        return Some(format!("count_seq {} is below 1", c.count_seq));
    }
    if let Some(found) = c.wms_book_qty_at_freeze.and_then(magnitude_issue) {
        return Some(found);
    }
    movement_issue(&c.location_id, &c.uom, c.counted_qty)
}

fn location_issue(location: &str, uom: &str) -> Option<String> {
    if location.trim().is_empty() {
        Some("location_id is empty".to_owned())
    } else if uom.trim().is_empty() {
        Some("uom is empty".to_owned())
    } else {
        None
    }
}

fn movement_issue(location: &str, uom: &str, qty: i64) -> Option<String> {
    if qty < 0 {
        return Some(format!("quantity {qty} is negative"));
    }
    magnitude_issue(qty).or_else(|| location_issue(location, uom))
}

fn magnitude_issue(qty: i64) -> Option<String> {
    (qty.unsigned_abs() > MAX_QUANTITY.unsigned_abs())
        .then(|| format!("quantity {qty} is beyond {MAX_QUANTITY} units"))
}

fn cost_issue(unit_cost: f64) -> Option<String> {
    (!unit_cost.is_finite() || !(0.0..=MAX_UNIT_COST).contains(&unit_cost))
        .then(|| format!("unit_cost {unit_cost} is not a number between 0 and {MAX_UNIT_COST}"))
}

fn task_issue(
    ctx: &Ctx<'_>,
    t: &TaskEvent,
    at: &dyn Fn(&str, Option<&str>) -> Subject,
) -> Result<Option<String>, DetectError> {
    let to = t.actual_location_id.as_deref().or(t.suggested_location_id.as_deref()).unwrap_or("");
    if to.trim().is_empty() {
        return Ok(Some("confirmed task has no actual or suggested location".to_owned()));
    }
    if let Some(found) = movement_issue(&t.from_location_id, &t.uom, t.quantity) {
        return Ok(Some(found));
    }
    for location in [t.from_location_id.as_str(), to] {
        if let Some(found) = uom_issue(ctx, &at(location, t.lot.as_deref()), &t.uom)? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

fn uom_issue(ctx: &Ctx<'_>, subject: &Subject, uom: &str) -> Result<Option<String>, DetectError> {
    Ok(ledger::uom_of(ctx, subject)?.filter(|known| known != uom).map(|known| {
        format!("uom {uom} differs from {known}, the unit of the ledger of {}", subject.text())
    }))
}
