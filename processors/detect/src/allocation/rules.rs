//! State and rules of the order-allocation-conflict detector (see the parent module docs).

use std::collections::BTreeMap;

use invex_model::{
    ActionType, ExceptionType, OrderAllocation, PickEvent, RootCause, RootCauseCategory,
};
use serde::{Deserialize, Serialize};

use crate::cycle_count::{self, ItemView, Subject, item_key};
use crate::detector::{Ctx, Table, TimerKind};
use crate::error::DetectError;
use crate::exceptions::{self, ActionPlan, Cleared, Finding, SubjectRef};
use crate::expiry::Ttl;
use crate::key::Key;
use crate::policy::{OrderAllocationConflictPolicy, Scope};
use crate::store::StoreName;

/// Allocations by id. TTL 400 days: the rule forgets a spent allocation `forget_after_hours`
/// after its last change (at most 365 days by policy validation) and the TTL must never
/// pre-empt that; what it bounds is the open allocations nobody ever closed, which would
/// otherwise hold stock in the availability check forever.
pub(super) const ALLOC: Table<AllocRec> = Table::expiring(StoreName("oac.alloc"), Ttl::days(400));
/// Timer tag: forget a spent allocation (key: the allocation's key).
pub(super) const FORGET: u8 = b'A';

const RULE_OVER: &str = "OAC-001";
const RULE_GHOST: &str = "OAC-002";
const RULE_CLEARED: &str = "OAC-003";
const TYPE: ExceptionType = ExceptionType::OrderAllocationConflict;
const HOUR_MS: i64 = 3_600_000;

/// The latest version of an allocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct AllocFacts {
    event_id: String,
    time: i64,
    order_id: String,
    location: Option<String>,
    lot: Option<String>,
    qty: i64,
    uom: String,
    status: String,
    promised: Option<i64>,
}

/// An allocation (once known) and the picks that name it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct AllocRec {
    facts: Option<AllocFacts>,
    /// Picked quantity by pick event id.
    picks: BTreeMap<String, i64>,
    /// When the record is forgotten, if it holds nothing (see [`forget`]): the due time of
    /// its forget timer. `None` in values written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    forget_at: Option<i64>,
}

impl AllocRec {
    /// What the allocation still holds, if it is open.
    fn holds(&self, closed: &[String]) -> Option<(&AllocFacts, i64)> {
        let f = self.facts.as_ref()?;
        let is_closed = closed.iter().any(|c| c.eq_ignore_ascii_case(f.status.trim()));
        let picked: i64 = self.picks.values().sum();
        (!is_closed).then(|| (f, f.qty.saturating_sub(picked).max(0)))
    }
}

fn alloc_key(tenant: &str, site: &str, sku: &str, id: &str) -> Vec<u8> {
    Key::new().raw(&item_key(tenant, site, sku)).str(id).into_bytes()
}

fn settings(
    ctx: &Ctx<'_>,
    s: &Subject,
) -> Result<(ItemView, OrderAllocationConflictPolicy), DetectError> {
    let item = cycle_count::item(ctx, &s.tenant, &s.site, &s.sku)?;
    let scope =
        Scope { tenant: &s.tenant, site: &s.site, class: item.class.as_deref(), sku: &s.sku };
    let p = ctx.policy().order_allocation_conflict(&scope).settings;
    Ok((item, p))
}

/// Keeps the latest allocation version; returns the locations to check (old and new).
pub(super) fn on_allocation(
    ctx: &mut Ctx<'_>,
    a: &OrderAllocation,
) -> Result<Vec<Subject>, DetectError> {
    let h = &a.header;
    let key = alloc_key(&h.tenant_id, &h.site_id, &a.sku, &a.allocation_id);
    let mut rec = ctx.get(ALLOC, &key)?.unwrap_or_default();
    if rec.facts.as_ref().is_some_and(|f| f.time > h.event_time) {
        return Ok(Vec::new());
    }
    let mut touched = Vec::new();
    if let Some(old) = &rec.facts
        && let Some(location) = &old.location
    {
        touched.push(Subject::new(h, &a.sku, location, old.lot.as_deref()));
    }
    rec.facts = Some(AllocFacts {
        event_id: h.event_id.clone(),
        time: h.event_time,
        order_id: a.order_id.clone(),
        location: a.location_id.clone().filter(|l| !l.trim().is_empty()),
        lot: a.lot.clone().filter(|l| !l.is_empty()),
        qty: a.qty_allocated,
        uom: a.uom.clone(),
        status: a.status.clone(),
        promised: a.promised_ship_time,
    });
    if let Some(location) = a.location_id.as_deref().filter(|l| !l.trim().is_empty()) {
        let subject = Subject::new(h, &a.sku, location, a.lot.as_deref());
        if !touched.contains(&subject) {
            touched.push(subject);
        }
    }
    let scope = Scope { tenant: &h.tenant_id, site: &h.site_id, class: None, sku: &a.sku };
    store(ctx, &key, rec, &scope, h.event_time)?;
    Ok(touched)
}

/// Writes `rec` after a change at `at`. A record that holds nothing any more (closed,
/// completely picked, or only picks of an allocation never seen) is forgotten
/// `forget_after_hours` of stream time later unless another change makes it hold stock
/// again: every location check and every triage scans the allocations of an item, so spent
/// ones must not pile up for the lifetime of the SKU. A later change starts the clock anew.
fn store(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    mut rec: AllocRec,
    scope: &Scope<'_>,
    at: i64,
) -> Result<(), DetectError> {
    let s = ctx.policy().order_allocation_conflict(scope).settings;
    let spent = rec.holds(&s.closed_statuses).is_none_or(|(_, holds)| holds == 0);
    rec.forget_at = spent.then(|| at.saturating_add(s.forget_after_hours.saturating_mul(HOUR_MS)));
    if let Some(due) = rec.forget_at {
        ctx.schedule(TimerKind::StreamTime, due, &forget_timer_key(key))?;
    }
    ctx.put(ALLOC, key, &rec)
}

fn forget_timer_key(alloc_key: &[u8]) -> Vec<u8> {
    Key::new().byte(FORGET).raw(alloc_key).into_bytes()
}

/// Forget timer due at `due` of the allocation `key`: deletes the record if it is still the
/// one the timer was set for (a later change set another due time, or made it hold stock).
pub(super) fn forget(ctx: &mut Ctx<'_>, key: &[u8], due: i64) -> Result<(), DetectError> {
    match ctx.get(ALLOC, key)? {
        Some(rec) if rec.forget_at == Some(due) => ctx.delete(ALLOC, key),
        _ => Ok(()),
    }
}

/// Counts a pick against its allocation and checks for ghost stock.
pub(super) fn on_pick(ctx: &mut Ctx<'_>, p: &PickEvent) -> Result<(), DetectError> {
    let h = &p.header;
    let mut promised = None;
    if let Some(id) = &p.allocation_id {
        let key = alloc_key(&h.tenant_id, &h.site_id, &p.sku, id);
        let mut rec = ctx.get(ALLOC, &key)?.unwrap_or_default();
        rec.picks.insert(h.event_id.clone(), p.qty_picked);
        promised = rec.facts.as_ref().and_then(|f| f.promised.map(|t| (f.order_id.clone(), t)));
        let scope = Scope { tenant: &h.tenant_id, site: &h.site_id, class: None, sku: &p.sku };
        store(ctx, &key, rec, &scope, h.event_time)?;
    }
    let short = p.qty_picked < p.qty_requested
        && p.short_reason.as_deref().is_some_and(|r| !r.trim().is_empty());
    if !short {
        return Ok(());
    }
    let subject = Subject::new(h, &p.sku, &p.location_id, p.lot.as_deref());
    let Some(book) =
        cycle_count::book(ctx, &subject, h.event_time)?.filter(|b| b.anchored && b.qty > 0)
    else {
        return Ok(());
    };
    let (item, s) = settings(ctx, &subject)?;
    let missing = p.qty_requested - p.qty_picked;
    let note = format!(
        "short pick of {missing} at {} ({}) while the book still shows {}",
        p.location_id,
        p.short_reason.as_deref().unwrap_or_default(),
        book.qty
    );
    let text = format!("{}|SHORT_PICK", subject.text());
    let mut f = finding(&subject, text, RULE_GHOST, "GHOST_STOCK", &item, &s, h.event_time);
    f.severity = s.ghost_stock_severity;
    f.quantities = exceptions::quantities(p.qty_requested, p.qty_picked, Some(book.qty), &p.uom);
    f.valuation = exceptions::valuation(-missing, item.unit_cost, &item.currency);
    f.opening_event = h.event_id.clone();
    f.inputs = vec![h.event_id.clone()];
    f.correlation.insert("order_id".to_owned(), p.order_id.clone());
    f.root_cause = Some(cause("GHOST_STOCK", note.clone()));
    f.note = note;
    at_risk(&mut f, &s, promised.into_iter().collect(), h.event_time, missing);
    exceptions::open_or_update(ctx, f)
}

/// OAC-001 / OAC-003 for one location and lot.
///
/// Most locations a movement touches hold no open allocation: unless an exception of the
/// location is open (and may clear), nothing follows, so the book is read only after the
/// allocations (reading it decodes the location's ledger), and the policy (which needs the
/// item facts) only for an item that has allocations at all.
pub(super) fn check_location(ctx: &mut Ctx<'_>, subject: &Subject) -> Result<(), DetectError> {
    let now = ctx.times().event_time;
    let allocations = ctx.scan(ALLOC, &subject.item_key())?;
    let resolved = if allocations.is_empty() { None } else { Some(settings(ctx, subject)?) };
    let here = resolved.as_ref().map_or_else(Vec::new, |(_, s)| open_at(allocations, subject, s));
    let subject_ref = subject_ref(subject, subject.text());
    if here.is_empty() && exceptions::find_open(ctx, &subject_ref)?.is_none() {
        return Ok(());
    }
    let (item, s) = match resolved {
        Some(resolved) => resolved,
        None => settings(ctx, subject)?,
    };
    let Some(book) =
        cycle_count::book(ctx, subject, ctx.times().stream_time)?.filter(|b| b.anchored)
    else {
        return Ok(());
    };
    let Held { total: allocated, orders, inputs } = held_in(here, &book.uom);
    if allocated == 0 || allocated <= book.qty {
        let cleared = Cleared {
            rule: RULE_CLEARED,
            at: now,
            resolution: "CONFLICT_CLEARED",
            note: format!("{} covers the {allocated} allocated at {}", book.qty, subject.location),
            inputs: &inputs,
            details: BTreeMap::new(),
        };
        return exceptions::resolve_open(ctx, &subject_ref, cleared).map(drop);
    }
    let note = format!("{allocated} allocated at {} holding {}", subject.location, book.qty);
    let mut f = finding(subject, subject.text(), RULE_OVER, "OVER_ALLOCATED", &item, &s, now);
    f.severity = s.over_allocation_severity;
    f.quantities = exceptions::quantities(book.qty, allocated, Some(book.qty), &book.uom);
    f.valuation = exceptions::valuation(book.qty - allocated, item.unit_cost, &item.currency);
    f.opening_event = inputs.last().cloned().unwrap_or_default();
    f.inputs = inputs;
    f.root_cause = Some(cause("ALLOCATED_ABOVE_BOOK", note.clone()));
    f.note = note;
    at_risk(&mut f, &s, orders, now, allocated - book.qty);
    exceptions::open_or_update(ctx, f)
}

/// What the open allocations of one location and lot hold.
struct Held {
    total: i64,
    /// (order, promised ship time) of each allocation that has one.
    orders: Vec<(String, i64)>,
    /// Allocation event ids.
    inputs: Vec<String>,
}

/// Of the item's `allocations`, the open ones of the subject's location and lot that still
/// hold stock.
fn open_at(
    allocations: Vec<(Vec<u8>, AllocRec)>,
    subject: &Subject,
    s: &OrderAllocationConflictPolicy,
) -> Vec<AllocFacts> {
    let mut here = Vec::new();
    for (_, rec) in allocations {
        let Some((f, holds)) = rec.holds(&s.closed_statuses) else { continue };
        let at = f.location.as_deref() == Some(subject.location.as_str()) && f.lot == subject.lot;
        if at
            && holds > 0
            && let Some(facts) = rec.facts
        {
            here.push(AllocFacts { qty: holds, ..facts });
        }
    }
    here
}

/// What the allocations `here` (their `qty` is what each still holds) hold in the book's unit.
fn held_in(here: Vec<AllocFacts>, uom: &str) -> Held {
    let (mut total, mut orders, mut inputs) = (0_i64, Vec::new(), Vec::new());
    for f in here.into_iter().filter(|f| f.uom == uom) {
        total = total.saturating_add(f.qty);
        orders.extend(f.promised.map(|t| (f.order_id, t)));
        inputs.push(f.event_id);
    }
    Held { total, orders, inputs }
}

/// Adds the recount and, for orders shipping soon, the customer-service notice.
fn at_risk(
    f: &mut Finding,
    s: &OrderAllocationConflictPolicy,
    orders: Vec<(String, i64)>,
    at: i64,
    short: i64,
) {
    let horizon = at.saturating_add(s.ship_risk_hours.saturating_mul(HOUR_MS));
    let mut risky: Vec<(String, i64)> = orders.into_iter().filter(|(_, t)| *t <= horizon).collect();
    risky.sort();
    let location = f.location.clone();
    f.actions = vec![
        ActionPlan {
            location,
            due_at: Some(at.saturating_add(s.recount_due_minutes * 60_000)),
            ..ActionPlan::new(ActionType::RecountTask, &s.recount_target_group)
        }
        .detail("count_type", "DEMAND")
        .detail("blind", "true")
        .detail("count_seq", "1"),
    ];
    let Some(first) = risky.first() else { return };
    f.severity = f.severity.min(s.at_risk_severity);
    let order_ids: Vec<&str> = risky.iter().map(|(o, _)| o.as_str()).collect();
    let notice = ActionPlan {
        quantity: Some(short),
        ..ActionPlan::new(ActionType::CustomerServiceNotification, &s.customer_service_group)
    }
    .detail("order_ids", order_ids.join(","))
    .detail("impact", "SHORT")
    .detail("earliest_promised_ship_time", first.1.to_string());
    f.actions.push(notice);
}

fn subject_ref(s: &Subject, text: String) -> SubjectRef {
    SubjectRef {
        tenant: s.tenant.clone(),
        site: s.site.clone(),
        sku: s.sku.clone(),
        kind: TYPE,
        text,
    }
}

fn cause(code: &str, signal: String) -> RootCause {
    RootCause {
        category: RootCauseCategory::Process,
        code: code.to_owned(),
        confidence: 0.5,
        signals: vec![signal],
    }
}

fn finding(
    s: &Subject,
    text: String,
    rule: &'static str,
    subtype: &str,
    item: &ItemView,
    p: &OrderAllocationConflictPolicy,
    at: i64,
) -> Finding {
    Finding {
        location: Some(s.location.clone()),
        lot: s.lot.clone(),
        ..Finding::blank(subject_ref(s, text), rule, Some(subtype.to_owned()), at, item, p.owner)
    }
}

/// Customer exposure of an item at a site, for triage: open quantity per open allocation and
/// its promised ship time, allocation key order.
pub(crate) fn open_allocations(
    ctx: &Ctx<'_>,
    tenant: &str,
    site: &str,
    sku: &str,
) -> Result<Vec<(i64, Option<i64>)>, DetectError> {
    let subject_scope = Scope { tenant, site, class: None, sku };
    let closed = ctx.policy().order_allocation_conflict(&subject_scope).settings.closed_statuses;
    let mut out = Vec::new();
    for (_, rec) in ctx.scan(ALLOC, &item_key(tenant, site, sku))? {
        if let Some((f, holds)) = rec.holds(&closed)
            && holds > 0
        {
            out.push((holds, f.promised));
        }
    }
    Ok(out)
}
