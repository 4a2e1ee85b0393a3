//! CYCLE_COUNT_DISCREPANCY: a counted quantity differs from the book beyond tolerance.
//!
//! All events of one `tenant|site|sku` reach one task in partition order (not event-time
//! order). The detector keeps:
//! - item facts per SKU: ABC class, unit cost and currency from `md.item` (latest by event
//!   time); the latest `erp.book` unit cost as fallback; class C and cost 0 without either;
//! - a ledger per `(sku, location, lot)`: the latest ERP snapshot as baseline plus movements
//!   (receipts `+qty_accepted` at the receiving location; confirmed putaway, replenishment and
//!   move tasks `-qty` at the source and `+qty` at the actual, else suggested, destination;
//!   picks `-qty_picked`; approved adjustments), each stored with its event time and id so a
//!   redelivery overwrites itself (see the ledger module);
//! - pending counts, evaluated after a grace period (see the count module);
//! - exceptions and their lifecycle (lifecycle and decision modules).
//!
//! Parameters all come from the policy; the detector struct itself is empty.

mod count;
mod decision;
mod evaluate;
mod head;
mod ledger;
mod lifecycle;
mod records;
mod shared;
mod state;
mod validate;

use invex_model::{
    BookSnapshot, CanonicalEvent, ItemMaster, PickEvent, ReceiptLine, TaskEvent, TaskStatus,
};

pub(crate) use self::records::{
    AuditDraft, action, add_sources, answers_open_request, audit, symbol,
};
pub(crate) use self::shared::{
    BookView, ItemMemo, ItemView, NO_CURRENCY, adjust, book, book_twice, item, lot_books,
};
use self::state::{EVALUATE, EXCEPTION, FOLD, ITEM, ItemFacts, Movement, MovementKind, PURGE};
pub(crate) use self::state::{ExceptionState, SPECS, STORES, Subject, item_key};
use crate::detector::{Ctx, Detector, FiredTimer};
use crate::error::DetectError;
use crate::store::{StoreName, join};

/// What the detector reads and writes: its own stores and those of the lifecycle.
const DECLARED: [StoreName; STORES.len() + crate::governance::GOVERNED.len()] =
    join(&[&STORES, &crate::governance::GOVERNED]);

/// The cycle-count discrepancy detector.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CycleCount;

impl Detector for CycleCount {
    fn name(&self) -> &'static str {
        "cc"
    }

    fn stores(&self) -> &'static [StoreName] {
        &DECLARED
    }

    fn validate(&self, event: &CanonicalEvent, ctx: &Ctx<'_>) -> Result<(), DetectError> {
        validate::check(event, ctx)
    }

    fn process(&mut self, event: &CanonicalEvent, ctx: &mut Ctx<'_>) -> Result<(), DetectError> {
        match event {
            CanonicalEvent::Count(c) => count::on_count(ctx, c),
            CanonicalEvent::Book(b) => on_book(ctx, b),
            CanonicalEvent::Receipt(r) => on_receipt(ctx, r),
            CanonicalEvent::Pick(p) => on_pick(ctx, p),
            CanonicalEvent::Task(t) => on_task(ctx, t),
            CanonicalEvent::Item(i) => on_item(ctx, i),
            CanonicalEvent::Approval(d) => decision::on_decision(ctx, d),
            _ => Ok(()),
        }
    }

    fn on_timer(&mut self, timer: &FiredTimer, ctx: &mut Ctx<'_>) -> Result<(), DetectError> {
        match timer.key.split_first() {
            Some((&EVALUATE, key)) => count::on_timer(ctx, key, timer.kind),
            Some((&FOLD, key)) => ledger::fold(ctx, key),
            Some((&PURGE, key)) => ctx.delete(EXCEPTION, key),
            _ => Ok(()),
        }
    }
}

/// The cycle-count exception stored at `key` (item ++ exception id), for governance.
pub(crate) fn load_exception(
    ctx: &Ctx<'_>,
    key: &[u8],
) -> Result<Option<ExceptionState>, DetectError> {
    ctx.get(EXCEPTION, key)
}

/// Persists a cycle-count exception without publishing a version.
pub(crate) fn save_exception(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    state: &ExceptionState,
) -> Result<(), DetectError> {
    ctx.put(EXCEPTION, key, state)
}

/// Publishes and persists a governance transition of a cycle-count exception.
pub(crate) fn commit_governed(
    ctx: &mut Ctx<'_>,
    state: ExceptionState,
    actions: Vec<invex_model::ActionCommand>,
    audits: Vec<AuditDraft>,
) -> Result<(), DetectError> {
    lifecycle::commit(ctx, state, lifecycle::Change { actions, audits })
}

fn on_item(ctx: &mut Ctx<'_>, i: &ItemMaster) -> Result<(), DetectError> {
    let h = &i.header;
    let key = item_key(&h.tenant_id, &h.site_id, &i.sku);
    let mut item = ctx.get(ITEM, &key)?.unwrap_or_default();
    if item.master.as_ref().is_some_and(|m| m.as_of > h.event_time) {
        return Ok(());
    }
    let class = i.abc_class.trim().to_ascii_uppercase();
    item.master = Some(ItemFacts {
        as_of: h.event_time,
        abc_class: (!class.is_empty()).then_some(class),
        unit_cost: i.unit_cost,
        currency: i.currency.clone(),
    });
    ctx.put(ITEM, &key, &item)
}

fn on_book(ctx: &mut Ctx<'_>, b: &BookSnapshot) -> Result<(), DetectError> {
    let h = &b.header;
    let subject = Subject::new(h, &b.sku, &b.location_id, b.lot.as_deref());
    let key = subject.item_key();
    let mut item = ctx.get(ITEM, &key)?.unwrap_or_default();
    let facts = ItemFacts {
        as_of: h.event_time,
        abc_class: None,
        unit_cost: b.unit_cost,
        currency: b.currency.clone(),
    };
    // One snapshot run has a row per location: write the item once, not once per row.
    let newer = item.book.as_ref().is_none_or(|f| f.as_of <= h.event_time);
    if newer && item.book.as_ref() != Some(&facts) {
        item.book = Some(facts);
        ctx.put(ITEM, &key, &item)?;
    }
    ledger::apply_snapshot(ctx, &subject, b)
}

fn on_receipt(ctx: &mut Ctx<'_>, r: &ReceiptLine) -> Result<(), DetectError> {
    if r.qty_accepted == 0 {
        return Ok(());
    }
    let subject = Subject::new(&r.header, &r.sku, &r.location_id, r.lot.as_deref());
    let m = movement(MovementKind::Receipt, r.qty_accepted, &r.header);
    ledger::add_movement(ctx, &subject, &r.uom, 0, &m)
}

fn on_pick(ctx: &mut Ctx<'_>, p: &PickEvent) -> Result<(), DetectError> {
    let subject = Subject::new(&p.header, &p.sku, &p.location_id, p.lot.as_deref());
    let m = movement(MovementKind::Pick, -p.qty_picked, &p.header);
    ledger::add_movement(ctx, &subject, &p.uom, 0, &m)
}

fn on_task(ctx: &mut Ctx<'_>, t: &TaskEvent) -> Result<(), DetectError> {
    if t.status != TaskStatus::Confirmed {
        return Ok(());
    }
    let Some(to) = t.actual_location_id.as_deref().or(t.suggested_location_id.as_deref()) else {
        return Ok(()); // refused by validation
    };
    let lot = t.lot.as_deref();
    let from = Subject::new(&t.header, &t.sku, &t.from_location_id, lot);
    let out = movement(MovementKind::TaskOut, -t.quantity, &t.header);
    ledger::add_movement(ctx, &from, &t.uom, 0, &out)?;
    let into = Subject::new(&t.header, &t.sku, to, lot);
    let m = movement(MovementKind::TaskIn, t.quantity, &t.header);
    ledger::add_movement(ctx, &into, &t.uom, 1, &m)
}

fn movement(kind: MovementKind, delta: i64, h: &invex_model::EventHeader) -> Movement {
    Movement { kind, delta, time: h.event_time, event_id: h.event_id.clone() }
}
