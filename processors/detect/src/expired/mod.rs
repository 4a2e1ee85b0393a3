//! EXPIRED_INVENTORY: stock past its expiry, received too close to it, or allocated to ship
//! after it.
//!
//! A lot is expired from 00:00 UTC on the day after its expiry date (EPCIS
//! `itemExpirationDate`: the last day of use). State, per lot of an item:
//!
//! ```text
//! exp.lot   item ++ lot -> LotState   earliest expiry known, its timer, allocations of the lot
//! ```
//!
//! A lot learns its expiry from receipt lines, scans and the lots of ASN lines; when sources
//! disagree the earliest date is kept (the conservative one; the disagreement itself is lot
//! data inconsistency, not this rule). Rules:
//! - `EXP-001` at the expiry instant a stream-time timer (persisted) checks the ledger books of
//!   every location holding the lot: each location with stock on hand gets an exception
//!   (subject `sku|location|lot`, subtype `ON_HAND_EXPIRED`) with an INVENTORY_HOLD (blocked,
//!   reason EXPIRED) and, when the stock is worth more than `approval_min_value`, a scrap
//!   write-off proposed for approval (the STOCK_ADJUSTMENT follows only an APPROVE of it);
//! - `EXP-002` a receipt line whose remaining shelf life (expiry minus the receipt's day) is
//!   below the item master's `min_remaining_shelf_life_days` (else the policy default):
//!   subtype `SHORT_DATED` (or `EXPIRED_AT_RECEIPT` when negative), subject
//!   `sku|receipt|lot`, an INVENTORY_HOLD of what was accepted and a SUPPLIER_CASE;
//! - `EXP-003` an allocation of a lot that expires at or before its promised ship time
//!   (checked when the allocation arrives and when the lot learns an earlier expiry): subject
//!   `sku|allocation`, a CUSTOMER_SERVICE_NOTIFICATION; `EXP-004` resolves it when a later
//!   version of the allocation no longer conflicts (other lot, earlier ship date, cancelled).
//!
//! Stock moved into a location after its lot's expiry instant is not checked again.
//!
//! Poison: a receipt, scan or ASN lot with an expiry date before 1970-01-01.
//!
//! Policy keys (`[expired_inventory]`, overridable): `min_remaining_shelf_life_days`,
//! `approval_min_value`, `on_hand_severity`, `short_dated_severity`, `allocation_severity`,
//! `owner`, `hold_group`, `supplier_case_group`, `customer_service_group`.

mod rules;

use invex_model::CanonicalEvent;

use self::rules::{EXPIRY, LOT};
use crate::detector::{Ctx, Detector, FiredTimer};
use crate::error::DetectError;
use crate::exceptions;
use crate::expiry::StoreTtl;
use crate::store::{StoreName, join};

const STORES: [StoreName; 8] = join(&[
    &[LOT.name()],
    &[crate::cycle_count::STORES[0], crate::cycle_count::STORES[1], crate::cycle_count::STORES[2]],
    &crate::governance::GOVERNED,
]);

/// This detector's own stores.
pub(crate) const OWN_STORES: [StoreTtl; 1] = [LOT.spec()];

/// The expired-inventory detector; its parameters come from the policy.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ExpiredInventory;

impl Detector for ExpiredInventory {
    fn name(&self) -> &'static str {
        "exp"
    }

    fn stores(&self) -> &'static [StoreName] {
        &STORES
    }

    fn validate(&self, event: &CanonicalEvent, _ctx: &Ctx<'_>) -> Result<(), DetectError> {
        let negative = match event {
            CanonicalEvent::Receipt(r) => r.expiry_date.is_some_and(|d| d < 0),
            CanonicalEvent::Scan(s) => s.expiry_date.is_some_and(|d| d < 0),
            CanonicalEvent::Asn(a) => {
                a.expected_lots.iter().any(|l| l.expiry_date.is_some_and(|d| d < 0))
            }
            _ => false,
        };
        if negative {
            return Err(DetectError::invalid(event, "expiry date before 1970-01-01"));
        }
        Ok(())
    }

    fn process(&mut self, event: &CanonicalEvent, ctx: &mut Ctx<'_>) -> Result<(), DetectError> {
        match event {
            CanonicalEvent::Receipt(r) => rules::on_receipt(ctx, r),
            CanonicalEvent::Scan(s) => match (&s.lot, s.expiry_date) {
                (Some(lot), Some(expiry)) => rules::learn(ctx, &s.header, &s.sku, lot, expiry),
                _ => Ok(()),
            },
            CanonicalEvent::Asn(a) => {
                for lot in &a.expected_lots {
                    if let Some(expiry) = lot.expiry_date {
                        rules::learn(ctx, &a.header, &a.sku, &lot.lot, expiry)?;
                    }
                }
                Ok(())
            }
            CanonicalEvent::Allocation(a) => rules::on_allocation(ctx, a),
            _ => Ok(()),
        }
    }

    fn on_timer(&mut self, timer: &FiredTimer, ctx: &mut Ctx<'_>) -> Result<(), DetectError> {
        match timer.key.split_first() {
            Some((&EXPIRY, key)) => rules::on_expiry(ctx, key),
            Some((&exceptions::PURGE, key)) => exceptions::purge(ctx, key),
            _ => Ok(()),
        }
    }
}
