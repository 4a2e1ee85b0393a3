//! ORDER_ALLOCATION_CONFLICT: orders hold more stock than a location has.
//!
//! State: `oac.alloc` (item ++ allocation id -> the latest version of the allocation by event
//! time, and the picks that name it by event id). An allocation is open while its status is
//! not one of `closed_statuses`; it holds `qty_allocated` minus what its picks took (never
//! below zero). Availability is the cycle-count ledger book of the location and lot (only
//! books an ERP snapshot anchored: before one, the ledger's level means nothing).
//!
//! Rules:
//! - `OAC-001` the open allocations of a location and lot hold more than its book: subtype
//!   `OVER_ALLOCATED`, subject `sku|location|lot`, expected = the book, observed = allocated, a
//!   RECOUNT_TASK of the location; checked when an allocation, a pick, a receipt, a task or a
//!   snapshot touches the location; `OAC-003` resolves it (CONFLICT_CLEARED) once the book
//!   covers the allocations again.
//! - `OAC-002` a short pick (picked below requested, with a short reason) while the book of the
//!   location still shows stock after it ("ghost stock"): subtype `GHOST_STOCK`, subject
//!   `sku|location|lot|SHORT_PICK`, a RECOUNT_TASK.
//! - both: when an order concerned (an allocation of the location, or the pick's allocation)
//!   promises to ship within `ship_risk_hours` of the finding, a
//!   CUSTOMER_SERVICE_NOTIFICATION and severity `at_risk_severity` (if more severe).
//!
//! An allocation that holds nothing any more (closed, completely picked, or only picks that
//! name an allocation never seen) is forgotten `forget_after_hours` of stream time after its
//! last change (a persisted timer): the rules scan the allocations of an item, and spent ones
//! would otherwise pile up for as long as the SKU exists. A pick or an update arriving later
//! than that counts against nothing, or against the new version alone.
//!
//! One unit allocated to two orders needs serial-level allocations, which `oms.allocation`
//! does not carry: not checked. No poison of its own (the duplicate-pick rule refuses
//! impossible allocations, the cycle-count rule impossible picks).
//!
//! Policy keys (`[order_allocation_conflict]`, overridable): `closed_statuses`,
//! `ship_risk_hours`, `forget_after_hours`, `over_allocation_severity`, `ghost_stock_severity`, `at_risk_severity`,
//! `owner`, `recount_target_group`, `recount_due_minutes`, `customer_service_group`.

mod rules;

use invex_model::{CanonicalEvent, TaskStatus};

use self::rules::ALLOC;
pub(crate) use self::rules::open_allocations;
use crate::cycle_count::Subject;
use crate::detector::{Ctx, Detector, FiredTimer};
use crate::error::DetectError;
use crate::exceptions;
use crate::expiry::StoreTtl;
use crate::store::{StoreName, join};

const STORES: [StoreName; 7] = join(&[
    &[crate::cycle_count::STORES[0], crate::cycle_count::STORES[1], crate::cycle_count::STORES[2]],
    &crate::governance::GOVERNED,
]);

/// This detector's own stores.
pub(crate) const OWN_STORES: [StoreTtl; 1] = [ALLOC.spec()];

/// The order-allocation-conflict detector; its parameters come from the policy.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct AllocationConflict;

impl Detector for AllocationConflict {
    fn name(&self) -> &'static str {
        "oac"
    }

    fn stores(&self) -> &'static [StoreName] {
        &STORES
    }

    fn process(&mut self, event: &CanonicalEvent, ctx: &mut Ctx<'_>) -> Result<(), DetectError> {
        let h = event.header();
        let at = |location: &str, lot: Option<&str>| Subject::new(h, event.sku(), location, lot);
        let touched = match event {
            CanonicalEvent::Allocation(a) => rules::on_allocation(ctx, a)?,
            CanonicalEvent::Pick(p) => {
                rules::on_pick(ctx, p)?;
                vec![at(&p.location_id, p.lot.as_deref())]
            }
            CanonicalEvent::Receipt(r) => vec![at(&r.location_id, r.lot.as_deref())],
            CanonicalEvent::Book(b) => vec![at(&b.location_id, b.lot.as_deref())],
            CanonicalEvent::Task(t) if t.status == TaskStatus::Confirmed => {
                let to = t.actual_location_id.as_deref().or(t.suggested_location_id.as_deref());
                std::iter::once(at(&t.from_location_id, t.lot.as_deref()))
                    .chain(to.map(|to| at(to, t.lot.as_deref())))
                    .collect()
            }
            _ => Vec::new(),
        };
        for subject in touched {
            rules::check_location(ctx, &subject)?;
        }
        Ok(())
    }

    fn on_timer(&mut self, timer: &FiredTimer, ctx: &mut Ctx<'_>) -> Result<(), DetectError> {
        match timer.key.split_first() {
            Some((&exceptions::PURGE, key)) => exceptions::purge(ctx, key),
            Some((&rules::FORGET, key)) => rules::forget(ctx, key, timer.due),
            _ => Ok(()),
        }
    }
}
