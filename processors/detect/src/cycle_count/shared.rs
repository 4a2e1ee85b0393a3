//! What the other detectors may read of the cycle-count state: item facts and the ledger
//! book. There is one book per `(sku, location, lot)`, the one this module keeps; other
//! detectors never write it and never keep a second one.

use std::cell::RefCell;

use invex_model::ExceptionRecord;

use super::ledger::{add_movement, book_at, kept};
use super::state::{ITEM, LEDGER, LedgerState, Movement, MovementKind, Subject};
use crate::detector::Ctx;
use crate::error::DetectError;
use crate::key::KeyReader;
use crate::store::StoreName;

/// ISO 4217's code for "no currency": the currency of a value when neither master data nor a
/// book snapshot gives one.
pub(crate) const NO_CURRENCY: &str = "XXX";

/// Item facts for valuation and policy scope.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ItemView {
    /// ABC class from the item master, if known.
    pub(crate) class: Option<String>,
    /// Unit cost (master data, else latest book snapshot, else 0).
    pub(crate) unit_cost: f64,
    /// Currency of `unit_cost` ([`NO_CURRENCY`] when unknown).
    pub(crate) currency: String,
}

/// Item facts of one SKU at one site.
pub(crate) fn item(
    ctx: &Ctx<'_>,
    tenant: &str,
    site: &str,
    sku: &str,
) -> Result<ItemView, DetectError> {
    let key = super::state::item_key(tenant, site, sku);
    if let Some(view) = ctx.items().get(&key) {
        ctx.declared(ITEM.name());
        return Ok(view);
    }
    let state = ctx.get(ITEM, &key)?.unwrap_or_default();
    let (unit_cost, currency) = state.pricing();
    let view = ItemView { class: state.class().map(str::to_owned), unit_cost, currency };
    ctx.items().keep(key, &view);
    Ok(view)
}

/// The item facts last read within one call of the engine, by item key.
///
/// Every rule reads the item facts of the event's SKU (policy scope, valuation), so one event
/// read and decoded the same `cc.item` entry about three times. The memo keeps the last one.
/// It is only a cache: [`crate::Ctx`] clears it on every write to `cc.item`, and the engine at
/// the start of every call, so it never outlives a transaction that may be aborted and never
/// holds anything a fresh engine would not read from the store.
#[derive(Debug, Default)]
pub(crate) struct ItemMemo(RefCell<Option<(Vec<u8>, ItemView)>>);

impl ItemMemo {
    fn get(&self, key: &[u8]) -> Option<ItemView> {
        match &*self.0.borrow() {
            Some((kept, view)) if kept.as_slice() == key => Some(view.clone()),
            _ => None,
        }
    }

    fn keep(&self, key: Vec<u8>, view: &ItemView) {
        *self.0.borrow_mut() = Some((key, view.clone()));
    }

    /// Forgets the memo when `store` is the item store (a write to it).
    pub(crate) fn wrote(&self, store: StoreName) {
        if store == ITEM.name() {
            self.clear();
        }
    }

    /// Forgets the memo.
    pub(crate) fn clear(&self) {
        *self.0.borrow_mut() = None;
    }
}

/// The book of a subject after every movement known so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BookView {
    /// Book quantity at `at`.
    pub(crate) qty: i64,
    /// Unit of measure of the ledger.
    pub(crate) uom: String,
    /// Whether an ERP snapshot gave the book an absolute level (else it is only the sum of
    /// the movements seen, and its sign means nothing).
    pub(crate) anchored: bool,
    /// The latest movement that took stock out (pick or task leg out), if any: event id.
    pub(crate) last_outbound: Option<String>,
    /// As-of time of the baseline (the latest snapshot, or a fold).
    pub(crate) baseline_as_of: Option<i64>,
    /// Stock-type rows of the baseline (`UNRESTRICTED`, `BLOCKED`, ..., or `FOLDED`).
    pub(crate) rows: Vec<String>,
}

/// The book of `subject` at time `at`; `None` when the subject has no ledger.
pub(crate) fn book(
    ctx: &Ctx<'_>,
    subject: &Subject,
    at: i64,
) -> Result<Option<BookView>, DetectError> {
    let key = subject.key();
    let Some(ledger) = ctx.get(LEDGER, &key)? else { return Ok(None) };
    book_view(ctx, &key, &ledger, at, &mut None).map(Some)
}

/// The books of `subject` at `at` and at `later`, from one read of its ledger (and at most
/// one of its movements); `None` when the subject has no ledger.
pub(crate) fn book_twice(
    ctx: &Ctx<'_>,
    subject: &Subject,
    at: i64,
    later: i64,
) -> Result<Option<(BookView, BookView)>, DetectError> {
    let key = subject.key();
    let Some(ledger) = ctx.get(LEDGER, &key)? else { return Ok(None) };
    let mut movements = None;
    let first = book_view(ctx, &key, &ledger, at, &mut movements)?;
    Ok(Some((first, book_view(ctx, &key, &ledger, later, &mut movements)?)))
}

/// The book of the ledger `ledger` (of the subject `key`) at `at`: from its head when `at` is
/// not before its latest movement, else from its movements, read into `movements` once.
fn book_view(
    ctx: &Ctx<'_>,
    key: &[u8],
    ledger: &LedgerState,
    at: i64,
    movements: &mut Option<Vec<Movement>>,
) -> Result<BookView, DetectError> {
    let from_head = ledger.head.as_ref().and_then(|head| {
        let qty = head.book_at(at)?;
        Some((qty, head.last_outbound.as_ref().map(|(_, id)| id.clone())))
    });
    let (qty, last_outbound) = match from_head {
        Some(read) => read,
        None => {
            let movements = match movements {
                Some(read) => read,
                None => movements.insert(kept(ctx, key)?),
            };
            let last_outbound = movements
                .iter()
                .filter(|m| m.kind.is_outbound() && m.time <= at)
                .max_by(|a, b| (a.time, &a.event_id).cmp(&(b.time, &b.event_id)))
                .map(|m| m.event_id.clone());
            (book_at(&ledger.baseline, movements, at), last_outbound)
        }
    };
    Ok(BookView {
        qty,
        uom: ledger.uom.clone().unwrap_or_default(),
        anchored: ledger.anchored,
        last_outbound,
        baseline_as_of: ledger.baseline.as_of,
        rows: ledger.baseline.rows.keys().cloned().collect(),
    })
}

/// Posts an approved adjustment of another detector's exception to the ledger of its
/// location and lot, at the decision time (nothing when the exception has no location).
pub(crate) fn adjust(
    ctx: &mut Ctx<'_>,
    record: &ExceptionRecord,
    delta: i64,
    event_id: &str,
    at: i64,
) -> Result<(), DetectError> {
    let Some(location) = &record.location_id else { return Ok(()) };
    let subject = Subject {
        tenant: record.tenant_id.clone(),
        site: record.site_id.clone(),
        sku: record.sku.clone(),
        location: location.clone(),
        lot: record.lot.clone().filter(|l| !l.is_empty()),
    };
    let movement =
        Movement { kind: MovementKind::Adjustment, delta, time: at, event_id: event_id.to_owned() };
    add_movement(ctx, &subject, &record.quantities.uom, 0, &movement)
}

/// The books of every location holding `lot` of an item, at time `at`, location order.
pub(crate) fn lot_books(
    ctx: &Ctx<'_>,
    tenant: &str,
    site: &str,
    sku: &str,
    lot: &str,
    at: i64,
) -> Result<Vec<(Subject, BookView)>, DetectError> {
    let prefix = super::state::item_key(tenant, site, sku);
    let mut out = Vec::new();
    for (key, _) in ctx.scan(LEDGER, &prefix)? {
        let mut reader = KeyReader::new(&key[prefix.len()..]);
        let location = reader.str();
        let has_lot = reader.byte() == Some(1);
        let (Some(location), true) = (location, has_lot) else { continue };
        if reader.str().as_deref() != Some(lot) {
            continue;
        }
        let subject = Subject {
            tenant: tenant.to_owned(),
            site: site.to_owned(),
            sku: sku.to_owned(),
            location,
            lot: Some(lot.to_owned()),
        };
        if let Some(view) = book(ctx, &subject, at)? {
            out.push((subject, view));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::state::{ItemFacts, ItemState};
    use super::*;
    use std::sync::Arc;

    use crate::detector::{Env, Owner, Times};
    use crate::engine::timers::Timers;
    use crate::output::Outputs;
    use crate::policy::Policy;
    use crate::store::MemStore;

    fn state(class: &str, unit_cost: f64) -> ItemState {
        let facts = ItemFacts {
            as_of: 0,
            abc_class: Some(class.into()),
            unit_cost,
            currency: "EUR".into(),
        };
        ItemState { master: Some(facts), book: None }
    }

    #[test]
    fn the_memo_serves_repeated_reads_and_forgets_on_a_write_of_the_item_store() {
        const STORES: [StoreName; 1] = [ITEM.name()];
        let mut store = MemStore::with_stores(&STORES);
        let (mut timers, mut out) = (Timers::default(), Outputs::default());
        let env = Env { policy: Arc::new(Policy::default_policy()), items: ItemMemo::default() };
        let times = Times { event_time: 0, stream_time: 0, wall_clock: 0 };
        let owner = Owner { name: "test", stores: &STORES };
        let mut ctx = Ctx::new(&mut store, &mut timers, &mut out, &env, times, owner);
        let items = &env.items;
        let key = super::super::state::item_key("t", "s", "k");
        ctx.put(ITEM, &key, &state("A", 2.0)).unwrap();
        assert_eq!(item(&ctx, "t", "s", "k").unwrap().class.as_deref(), Some("A"));
        assert!(items.get(&key).is_some(), "kept after the read");
        assert_eq!(items.get(&super::super::state::item_key("t", "s", "other")), None);
        ctx.put(ITEM, &key, &state("B", 3.0)).unwrap();
        assert_eq!(items.get(&key), None, "a write to the item store forgets it");
        let view = item(&ctx, "t", "s", "k").unwrap();
        assert_eq!((view.class.as_deref(), view.unit_cost), (Some("B"), 3.0));
        assert_eq!(item(&ctx, "t", "s", "k").unwrap(), view, "served from the memo");
    }
}
