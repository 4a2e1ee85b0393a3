//! State and rules of the expired-inventory detector (see the parent module docs).

use std::collections::BTreeMap;

use invex_model::{
    ActionType, EventHeader, ExceptionType, OrderAllocation, ReceiptLine, RootCause,
    RootCauseCategory,
};
use serde::{Deserialize, Serialize};

use crate::cycle_count::{self, ItemView, item_key};
use crate::detector::{Ctx, Table, TimerKind};
use crate::error::DetectError;
use crate::exceptions::{self, ActionPlan, Cleared, Finding, SubjectRef};
use crate::key::Key;
use crate::policy::{ExpiredInventoryPolicy, Scope};
use crate::store::StoreName;

/// Lots of an item. No TTL: a lot's expiry timer may be years after its last write (the
/// expiry date is unbounded by policy), and the timer must find the lot.
pub(super) const LOT: Table<LotState> = Table::new(StoreName("exp.lot"));
/// Timer tag: a lot reaches its expiry instant (key `b'T' ++ lot key`).
pub(super) const EXPIRY: u8 = b'T';

const RULE_ON_HAND: &str = "EXP-001";
const RULE_RECEIPT: &str = "EXP-002";
const RULE_ALLOCATION: &str = "EXP-003";
const RULE_REALLOCATED: &str = "EXP-004";
const TYPE: ExceptionType = ExceptionType::ExpiredInventory;
const DAY_MS: i64 = 86_400_000;

/// An allocation of a lot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct AllocLot {
    event_id: String,
    order_id: String,
    promised: i64,
    qty: i64,
    uom: String,
    location: Option<String>,
}

/// One lot of one item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct LotState {
    tenant: String,
    site: String,
    sku: String,
    lot: String,
    /// Earliest expiry date known (days since epoch) and the event that gave it.
    expiry: Option<(i32, String)>,
    /// Due time of the scheduled expiry timer.
    due: Option<i64>,
    /// Allocations of this lot with a promised ship time, by allocation id.
    allocations: BTreeMap<String, AllocLot>,
}

impl LotState {
    fn key(&self) -> Vec<u8> {
        lot_key(&self.tenant, &self.site, &self.sku, &self.lot)
    }
}

fn lot_key(tenant: &str, site: &str, sku: &str, lot: &str) -> Vec<u8> {
    Key::new().raw(&item_key(tenant, site, sku)).str(lot).into_bytes()
}

/// First instant at which a lot with this expiry date is expired.
fn expired_from(expiry: i32) -> i64 {
    (i64::from(expiry) + 1).saturating_mul(DAY_MS)
}

fn load(ctx: &Ctx<'_>, h: &EventHeader, sku: &str, lot: &str) -> Result<LotState, DetectError> {
    let key = lot_key(&h.tenant_id, &h.site_id, sku, lot);
    Ok(ctx.get(LOT, &key)?.unwrap_or_else(|| LotState {
        tenant: h.tenant_id.clone(),
        site: h.site_id.clone(),
        sku: sku.to_owned(),
        lot: lot.to_owned(),
        expiry: None,
        due: None,
        allocations: BTreeMap::new(),
    }))
}

fn settings(
    ctx: &Ctx<'_>,
    t: &str,
    s: &str,
    sku: &str,
) -> Result<(ItemView, ExpiredInventoryPolicy), DetectError> {
    let item = cycle_count::item(ctx, t, s, sku)?;
    let scope = Scope { tenant: t, site: s, class: item.class.as_deref(), sku };
    let p = ctx.policy().expired_inventory(&scope).settings;
    Ok((item, p))
}

/// A lot's expiry became known: keeps the earliest, (re)schedules its timer, checks its
/// allocations.
pub(super) fn learn(
    ctx: &mut Ctx<'_>,
    h: &EventHeader,
    sku: &str,
    lot: &str,
    expiry: i32,
) -> Result<(), DetectError> {
    if lot.is_empty() {
        return Ok(());
    }
    let mut state = load(ctx, h, sku, lot)?;
    if state.expiry.as_ref().is_some_and(|(known, _)| *known <= expiry) {
        return Ok(());
    }
    state.expiry = Some((expiry, h.event_id.clone()));
    let timer = Key::new().byte(EXPIRY).raw(&state.key()).into_bytes();
    if let Some(old) = state.due {
        ctx.cancel(TimerKind::StreamTime, old, &timer)?;
    }
    let due = expired_from(expiry);
    ctx.schedule(TimerKind::StreamTime, due, &timer)?;
    state.due = Some(due);
    ctx.put(LOT, &state.key(), &state)?;
    let ids: Vec<String> = state.allocations.keys().cloned().collect();
    for id in ids {
        check_allocation(ctx, &state, &id, h.event_time)?;
    }
    Ok(())
}

/// Expiry timer: holds the lot's stock wherever the ledger still has some.
pub(super) fn on_expiry(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<(), DetectError> {
    let Some(mut state) = ctx.get(LOT, key)? else { return Ok(()) };
    let Some((expiry, source)) = state.expiry.clone() else { return Ok(()) };
    state.due = None;
    ctx.put(LOT, key, &state)?;
    let at = expired_from(expiry);
    let now = ctx.times().stream_time;
    let (item, p) = settings(ctx, &state.tenant, &state.site, &state.sku)?;
    let books =
        cycle_count::lot_books(ctx, &state.tenant, &state.site, &state.sku, &state.lot, now)?;
    for (subject, book) in books.into_iter().filter(|(_, b)| b.qty > 0) {
        let text = subject.text();
        let mut f = finding(&state, text, RULE_ON_HAND, "ON_HAND_EXPIRED", &item, &p, at);
        f.severity = p.on_hand_severity;
        f.location = Some(subject.location.clone());
        f.quantities = exceptions::quantities(book.qty, 0, Some(book.qty), &book.uom);
        f.valuation = exceptions::valuation(-book.qty, item.unit_cost, &item.currency);
        f.opening_event = source.clone();
        f.inputs = vec![source.clone()];
        f.note = format!(
            "{} of lot {} at {} expired on day {expiry}",
            book.qty, state.lot, subject.location
        );
        f.root_cause = Some(cause("EXPIRED_ON_HAND", 0.6, f.note.clone()));
        f.actions = vec![hold(&p, book.qty, &subject.location)];
        let value = (book.qty as f64 * item.unit_cost).abs();
        f.approval = (value > p.approval_min_value).then_some(-book.qty);
        exceptions::open_or_update(ctx, f)?;
    }
    Ok(())
}

/// A receipt line: teaches the lot its expiry and checks the remaining shelf life.
pub(super) fn on_receipt(ctx: &mut Ctx<'_>, r: &ReceiptLine) -> Result<(), DetectError> {
    let (Some(lot), Some(expiry)) = (r.lot.as_deref().filter(|l| !l.is_empty()), r.expiry_date)
    else {
        return Ok(());
    };
    let h = &r.header;
    learn(ctx, h, &r.sku, lot, expiry)?;
    let (item, p) = settings(ctx, &h.tenant_id, &h.site_id, &r.sku)?;
    let master = crate::master::facts(ctx, &h.tenant_id, &h.site_id, &r.sku)?;
    let min = master
        .and_then(|m| m.min_remaining_shelf_life_days)
        .map_or(p.min_remaining_shelf_life_days, i64::from);
    let remaining = i64::from(expiry) - h.event_time.div_euclid(DAY_MS);
    if remaining >= min {
        return Ok(());
    }
    let state = load(ctx, h, &r.sku, lot)?;
    let subtype = if remaining < 0 { "EXPIRED_AT_RECEIPT" } else { "SHORT_DATED" };
    let text = format!("{}|{}|{lot}", r.sku, r.receipt_id);
    let mut f = finding(&state, text, RULE_RECEIPT, subtype, &item, &p, h.event_time);
    f.severity = p.short_dated_severity;
    f.location = Some(r.location_id.clone());
    f.quantities = exceptions::quantities(min, remaining, None, "DAY");
    f.valuation = exceptions::valuation(-r.qty_accepted, item.unit_cost, &item.currency);
    f.opening_event = h.event_id.clone();
    f.inputs = vec![h.event_id.clone()];
    f.correlation.insert("receipt_id".to_owned(), r.receipt_id.clone());
    f.note = format!("lot {lot} received with {remaining} day(s) of shelf life, minimum {min}");
    f.root_cause = Some(RootCause {
        category: RootCauseCategory::Supplier,
        code: "SHORT_DATED_DELIVERY".to_owned(),
        confidence: 0.7,
        signals: vec![f.note.clone()],
    });
    let case = ActionPlan {
        quantity: Some(r.qty_received),
        ..ActionPlan::new(ActionType::SupplierCase, &p.supplier_case_group)
    }
    .detail("reason", subtype)
    .detail("supplier_id", r.supplier_id.clone().unwrap_or_default());
    f.actions = if r.qty_accepted > 0 {
        vec![hold(&p, r.qty_accepted, &r.location_id), case]
    } else {
        vec![case]
    };
    exceptions::open_or_update(ctx, f)
}

/// An allocation version: files it under its lot (and out of any other) and checks it.
pub(super) fn on_allocation(ctx: &mut Ctx<'_>, a: &OrderAllocation) -> Result<(), DetectError> {
    let h = &a.header;
    let prefix = item_key(&h.tenant_id, &h.site_id, &a.sku);
    let lot = a.lot.as_deref().filter(|l| !l.is_empty());
    for (key, mut other) in ctx.scan(LOT, &prefix)? {
        if Some(other.lot.as_str()) != lot && other.allocations.remove(&a.allocation_id).is_some() {
            ctx.put(LOT, &key, &other)?;
        }
    }
    let live = !a.status.eq_ignore_ascii_case("CANCELLED") && a.qty_allocated > 0;
    let (Some(lot), Some(promised), true) = (lot, a.promised_ship_time, live) else {
        let (tenant, site, sku) = (&h.tenant_id, &h.site_id, &a.sku);
        let (allocation_id, event_id, at) = (&a.allocation_id, &h.event_id, h.event_time);
        return clear(ctx, Clear { tenant, site, sku, allocation_id, event_id, at });
    };
    let mut state = load(ctx, h, &a.sku, lot)?;
    let entry = AllocLot {
        event_id: h.event_id.clone(),
        order_id: a.order_id.clone(),
        promised,
        qty: a.qty_allocated,
        uom: a.uom.clone(),
        location: a.location_id.clone(),
    };
    state.allocations.insert(a.allocation_id.clone(), entry);
    ctx.put(LOT, &state.key(), &state)?;
    check_allocation(ctx, &state, &a.allocation_id, h.event_time)
}

/// Which allocation is cleared, when, by which event.
struct Clear<'a> {
    tenant: &'a str,
    site: &'a str,
    sku: &'a str,
    allocation_id: &'a str,
    event_id: &'a str,
    at: i64,
}

fn clear(ctx: &mut Ctx<'_>, c: Clear<'_>) -> Result<(), DetectError> {
    let subject = SubjectRef {
        tenant: c.tenant.to_owned(),
        site: c.site.to_owned(),
        sku: c.sku.to_owned(),
        kind: TYPE,
        text: format!("{}|{}", c.sku, c.allocation_id),
    };
    let inputs = [c.event_id.to_owned()];
    let cleared = Cleared {
        rule: RULE_REALLOCATED,
        at: c.at,
        resolution: "REALLOCATED",
        note: format!("allocation {} no longer ships an expiring lot", c.allocation_id),
        inputs: &inputs,
        details: BTreeMap::new(),
    };
    exceptions::resolve_open(ctx, &subject, cleared).map(drop)
}

fn check_allocation(
    ctx: &mut Ctx<'_>,
    state: &LotState,
    id: &str,
    at: i64,
) -> Result<(), DetectError> {
    let Some(a) = state.allocations.get(id) else { return Ok(()) };
    let conflict = state.expiry.as_ref().filter(|(expiry, _)| expired_from(*expiry) <= a.promised);
    let Some((expiry, source)) = conflict else {
        let (tenant, site, sku) = (&state.tenant, &state.site, &state.sku);
        let event_id = &a.event_id;
        return clear(ctx, Clear { tenant, site, sku, allocation_id: id, event_id, at });
    };
    let (item, p) = settings(ctx, &state.tenant, &state.site, &state.sku)?;
    let text = format!("{}|{id}", state.sku);
    let mut f = finding(state, text, RULE_ALLOCATION, "ALLOCATED_PAST_EXPIRY", &item, &p, at);
    f.severity = p.allocation_severity;
    f.location = a.location.clone();
    f.quantities = exceptions::quantities(a.qty, 0, None, &a.uom);
    f.valuation = exceptions::valuation(-a.qty, item.unit_cost, &item.currency);
    f.opening_event = a.event_id.clone();
    f.inputs = vec![source.clone(), a.event_id.clone()];
    f.correlation.insert("allocation_id".to_owned(), id.to_owned());
    f.correlation.insert("order_id".to_owned(), a.order_id.clone());
    f.note = format!(
        "lot {} expires on day {expiry}, order {} ships at {}",
        state.lot, a.order_id, a.promised
    );
    f.root_cause = Some(cause("ALLOCATION_IGNORES_EXPIRY", 0.6, f.note.clone()));
    f.actions = vec![
        ActionPlan {
            quantity: Some(a.qty),
            ..ActionPlan::new(ActionType::CustomerServiceNotification, &p.customer_service_group)
        }
        .detail("order_id", a.order_id.clone())
        .detail("impact", "LOT_EXPIRES_BEFORE_SHIP_DATE")
        .detail("promised_ship_time", a.promised.to_string()),
    ];
    exceptions::open_or_update(ctx, f)
}

/// A PROCESS root cause: stock not rotated first-expired-first-out, or allocated regardless.
fn cause(code: &str, confidence: f64, signal: String) -> RootCause {
    RootCause {
        category: RootCauseCategory::Process,
        code: code.to_owned(),
        confidence,
        signals: vec![signal],
    }
}

fn hold(p: &ExpiredInventoryPolicy, qty: i64, location: &str) -> ActionPlan {
    ActionPlan {
        quantity: Some(qty),
        location: Some(location.to_owned()),
        ..ActionPlan::new(ActionType::InventoryHold, &p.hold_group)
    }
    .detail("hold_reason", "EXPIRED")
    .detail("target_stock_type", "BLOCKED")
}

fn finding(
    state: &LotState,
    text: String,
    rule: &'static str,
    subtype: &str,
    item: &ItemView,
    p: &ExpiredInventoryPolicy,
    at: i64,
) -> Finding {
    let subject = SubjectRef {
        tenant: state.tenant.clone(),
        site: state.site.clone(),
        sku: state.sku.clone(),
        kind: TYPE,
        text,
    };
    let mut details = BTreeMap::new();
    if let Some((expiry, _)) = &state.expiry {
        details.insert("expiry_date".to_owned(), expiry.to_string());
    }
    Finding {
        lot: Some(state.lot.clone()),
        details,
        ..Finding::blank(subject, rule, Some(subtype.to_owned()), at, item, p.owner)
    }
}
