//! LOT_SERIAL_INCONSISTENCY: lot and serial data that contradict the item master or each other.
//!
//! Per-SKU checks (a task sees every event of one SKU at a site):
//! - `LS-001` a lot-controlled item (`md.item` `lot_controlled`) received, picked, moved by a
//!   confirmed task or counted without a lot: subtype `MISSING_LOT`, subject
//!   `sku|<document>` (receipt, pick task, task or count document), a compliance
//!   INVENTORY_HOLD of the quantity at the location and a QUALITY_REVIEW;
//! - `LS-002` one lot seen with two expiry dates (receipt lines, scans, ASN lots): subtype
//!   `EXPIRY_CONFLICT`, subject `sku|lot`, a QUALITY_REVIEW; a third date updates it.
//!
//! - `LS-003` / `LS-004` a serial seen at two locations, or after it was consumed, within the
//!   SKU and site (see the serial module).
//!
//! And one check across sites, through the internal topics of the repartition module:
//! - `LS-005` a serial of the SKU seen at a second site while the first never consumed it:
//!   subtype `SERIAL_TWO_SITES`, same subject as LS-003/LS-004 (see the cross_site module).
//!
//! State: `ls.lot` (item ++ lot -> the expiry dates seen, each with the first event that
//! reported it), the serial module's `ls.serial` and `ls.moved`, and the cross_site module's
//! `ls.xsite` (kept by the serial-keyed task). No poison of its own (the other rules refuse
//! impossible quantities and expiry dates before 1970; the engine refuses a blank internal
//! record).
//!
//! Policy keys (`[lot_serial_inconsistency]`, overridable): `missing_lot_severity`,
//! `expiry_conflict_severity`, `serial_severity`, `cross_site_serials`, `owner`,
//! `quality_group`, `hold_group`.

mod cross_site;
mod serial;

use std::collections::BTreeMap;

use invex_model::{
    ActionType, CanonicalEvent, EventHeader, ExceptionType, RootCause, RootCauseCategory,
    TaskStatus,
};

use crate::cycle_count::{self, item_key};
use crate::detector::{Ctx, Detector, FiredTimer, Table};
use crate::error::DetectError;
use crate::exceptions::{self, ActionPlan, Finding, SubjectRef};
use crate::expiry::StoreTtl;
use crate::key::Key;
use crate::policy::{LotSerialPolicy, Scope};
use crate::repartition::Repartitioned;
use crate::store::{StoreName, join};

/// Expiry dates seen per lot. No TTL: a lot's horizon is its whole life in the building
/// (shelf lives run to years), and a lot is written only when a new date is seen, so a TTL
/// would forget lots still in stock and miss their conflicts.
const LOTS: Table<BTreeMap<i32, String>> = Table::new(StoreName("ls.lot"));
const RULE_MISSING: &str = "LS-001";
const RULE_EXPIRY: &str = "LS-002";
const TYPE: ExceptionType = ExceptionType::LotSerialInconsistency;

const STORES: [StoreName; 9] = join(&[
    &[LOTS.name(), serial::SERIALS.name(), serial::MOVED.name(), cross_site::XSITE.name()],
    &[cycle_count::STORES[0]],
    &crate::governance::GOVERNED,
]);

/// This detector's own stores.
pub(crate) const OWN_STORES: [StoreTtl; 4] =
    [LOTS.spec(), serial::SERIALS.spec(), serial::MOVED.spec(), cross_site::XSITE.spec()];

/// The lot-inconsistency detector; its parameters come from the policy.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LotSerial;

/// A stock movement or count that should carry a lot.
struct Stock<'a> {
    document: &'a str,
    location: &'a str,
    lot: Option<&'a str>,
    qty: i64,
    uom: &'a str,
}

impl Detector for LotSerial {
    fn name(&self) -> &'static str {
        "ls"
    }

    fn stores(&self) -> &'static [StoreName] {
        &STORES
    }

    fn process(&mut self, event: &CanonicalEvent, ctx: &mut Ctx<'_>) -> Result<(), DetectError> {
        let h = event.header();
        let sku = event.sku();
        track_serials(ctx, event)?;
        let stock = match event {
            CanonicalEvent::Receipt(r) => {
                if let (Some(lot), Some(expiry)) = (&r.lot, r.expiry_date) {
                    seen_expiry(ctx, h, sku, lot, expiry)?;
                }
                let (document, location, lot) = (&r.receipt_id, &r.location_id, r.lot.as_deref());
                Some(Stock { document, location, lot, qty: r.qty_accepted, uom: &r.uom })
            }
            CanonicalEvent::Pick(p) => Some(Stock {
                document: &p.pick_task_id,
                location: &p.location_id,
                lot: p.lot.as_deref(),
                qty: p.qty_picked,
                uom: &p.uom,
            }),
            CanonicalEvent::Task(t) if t.status == TaskStatus::Confirmed => Some(Stock {
                document: &t.task_id,
                location: t
                    .actual_location_id
                    .as_deref()
                    .or(t.suggested_location_id.as_deref())
                    .unwrap_or(&t.from_location_id),
                lot: t.lot.as_deref(),
                qty: t.quantity,
                uom: &t.uom,
            }),
            CanonicalEvent::Count(c) => Some(Stock {
                document: &c.count_doc_id,
                location: &c.location_id,
                lot: c.lot.as_deref(),
                qty: c.counted_qty,
                uom: &c.uom,
            }),
            CanonicalEvent::Scan(s) => {
                if let (Some(lot), Some(expiry)) = (&s.lot, s.expiry_date) {
                    seen_expiry(ctx, h, sku, lot, expiry)?;
                }
                None
            }
            CanonicalEvent::Asn(a) => {
                for lot in &a.expected_lots {
                    if let Some(expiry) = lot.expiry_date {
                        seen_expiry(ctx, h, sku, &lot.lot, expiry)?;
                    }
                }
                None
            }
            _ => None,
        };
        match stock {
            Some(stock) if stock.lot.is_none_or(|l| l.trim().is_empty()) && stock.qty > 0 => {
                missing_lot(ctx, h, sku, &stock)
            }
            _ => Ok(()),
        }
    }

    fn on_timer(&mut self, timer: &FiredTimer, ctx: &mut Ctx<'_>) -> Result<(), DetectError> {
        match timer.key.split_first() {
            Some((&exceptions::PURGE, key)) => exceptions::purge(ctx, key),
            _ => Ok(()),
        }
    }

    fn on_repartitioned(
        &mut self,
        record: &Repartitioned,
        ctx: &mut Ctx<'_>,
    ) -> Result<(), DetectError> {
        match record {
            Repartitioned::Sighting(s) => cross_site::on_sighting(ctx, s),
            Repartitioned::Finding(f) => cross_site::on_finding(ctx, f),
        }
    }
}

/// Where a finding comes from: the event (or the later sighting) that decided it.
#[derive(Debug, Clone, Copy)]
struct Origin<'a> {
    tenant: &'a str,
    site: &'a str,
    time: i64,
    event_id: &'a str,
}

impl<'a> From<&'a EventHeader> for Origin<'a> {
    fn from(h: &'a EventHeader) -> Self {
        Self { tenant: &h.tenant_id, site: &h.site_id, time: h.event_time, event_id: &h.event_id }
    }
}

/// Feeds the serials an event carries, and confirmed moves, to the serial checks; sends each
/// sighting to the serial-keyed task too, unless the scope has the cross-site check off.
fn track_serials(ctx: &mut Ctx<'_>, event: &CanonicalEvent) -> Result<(), DetectError> {
    let (h, sku) = (event.header(), event.sku());
    let (serials, location, how): (Vec<&str>, &str, serial::Seen) = match event {
        CanonicalEvent::Receipt(r) => {
            (r.serials.iter().map(String::as_str).collect(), &r.location_id, serial::Seen::Present)
        }
        CanonicalEvent::Scan(s) => (
            s.serial.as_deref().into_iter().collect(),
            &s.location_id,
            serial::Seen::of_scan(h.action),
        ),
        CanonicalEvent::Pick(p) => {
            (p.serials.iter().map(String::as_str).collect(), &p.location_id, serial::Seen::Consumed)
        }
        CanonicalEvent::Task(t) if t.status == TaskStatus::Confirmed => {
            return serial::moved_out(ctx, h, sku, &t.from_location_id);
        }
        _ => return Ok(()),
    };
    let serials: Vec<&str> = serials.into_iter().map(str::trim).filter(|s| !s.is_empty()).collect();
    if serials.is_empty() {
        return Ok(());
    }
    let share = settings(ctx, &h.tenant_id, &h.site_id, sku)?.1.cross_site_serials;
    for number in serials {
        serial::seen(ctx, h, sku, number, location, how)?;
        if share {
            let consumed = how == serial::Seen::Consumed;
            ctx.repartition(cross_site::sighting(h, sku, number, location, consumed));
        }
    }
    Ok(())
}

/// The item's master view and the section's settings for the item's scope at `site`.
fn settings(
    ctx: &Ctx<'_>,
    tenant: &str,
    site: &str,
    sku: &str,
) -> Result<(cycle_count::ItemView, LotSerialPolicy), DetectError> {
    let item = cycle_count::item(ctx, tenant, site, sku)?;
    let scope = Scope { tenant, site, class: item.class.as_deref(), sku };
    let p = ctx.policy().lot_serial_inconsistency(&scope).settings;
    Ok((item, p))
}

fn missing_lot(
    ctx: &mut Ctx<'_>,
    h: &EventHeader,
    sku: &str,
    s: &Stock<'_>,
) -> Result<(), DetectError> {
    let master = crate::master::facts(ctx, &h.tenant_id, &h.site_id, sku)?;
    if !master.as_ref().is_some_and(|m| m.lot_controlled) {
        return Ok(());
    }
    let (item, p) = settings(ctx, &h.tenant_id, &h.site_id, sku)?;
    let note = format!(
        "lot-controlled {sku} moved without a lot ({} {} at {})",
        s.document, s.qty, s.location
    );
    let text = format!("{sku}|{}", s.document);
    let mut f = finding(h.into(), sku, text, RULE_MISSING, "MISSING_LOT", &p);
    f.severity = p.missing_lot_severity;
    f.location = Some(s.location.to_owned());
    f.quantities = exceptions::quantities(s.qty, s.qty, None, s.uom);
    f.valuation = exceptions::valuation(s.qty, item.unit_cost, &item.currency);
    f.root_cause = Some(cause(RootCauseCategory::Process, "LOT_NOT_CAPTURED", note.clone()));
    if let Some(m) = &master {
        f.inputs.push(m.event_id.clone());
    }
    f.actions = vec![
        ActionPlan {
            quantity: Some(s.qty),
            ..ActionPlan::new(ActionType::InventoryHold, &p.hold_group)
        }
        .detail("hold_reason", "COMPLIANCE_MISSING_LOT")
        .detail("target_stock_type", "QUALITY_INSPECTION"),
        ActionPlan::new(ActionType::QualityReview, &p.quality_group)
            .detail("reason", "MISSING_LOT"),
    ];
    f.note = note;
    exceptions::open_or_update(ctx, f)
}

fn seen_expiry(
    ctx: &mut Ctx<'_>,
    h: &EventHeader,
    sku: &str,
    lot: &str,
    expiry: i32,
) -> Result<(), DetectError> {
    if lot.trim().is_empty() {
        return Ok(());
    }
    let key = Key::new().raw(&item_key(&h.tenant_id, &h.site_id, sku)).str(lot).into_bytes();
    let mut dates = ctx.get(LOTS, &key)?.unwrap_or_default();
    if dates.contains_key(&expiry) {
        return Ok(());
    }
    dates.insert(expiry, h.event_id.clone());
    ctx.put(LOTS, &key, &dates)?;
    if dates.len() < 2 {
        return Ok(());
    }
    let (item, p) = settings(ctx, &h.tenant_id, &h.site_id, sku)?;
    let list: Vec<String> = dates.keys().map(i32::to_string).collect();
    let note = format!("lot {lot} reported with expiry dates {}", list.join(", "));
    let mut f = finding(h.into(), sku, format!("{sku}|{lot}"), RULE_EXPIRY, "EXPIRY_CONFLICT", &p);
    f.severity = p.expiry_conflict_severity;
    f.lot = Some(lot.to_owned());
    let count = i64::try_from(dates.len()).unwrap_or(i64::MAX);
    f.quantities = exceptions::quantities(1, count, None, "EXPIRY_DATE");
    f.valuation = exceptions::valuation(0, item.unit_cost, &item.currency);
    f.inputs = dates.values().cloned().collect();
    f.opening_event = f.inputs.get(1).cloned().unwrap_or_else(|| h.event_id.clone());
    f.details.insert("expiry_dates".to_owned(), list.join(","));
    f.root_cause =
        Some(cause(RootCauseCategory::MasterData, "BATCH_EXPIRY_CONFLICT", note.clone()));
    f.actions = vec![
        ActionPlan::new(ActionType::QualityReview, &p.quality_group)
            .detail("reason", "EXPIRY_CONFLICT"),
    ];
    f.note = note;
    exceptions::open_or_update(ctx, f)
}

fn cause(category: RootCauseCategory, code: &str, signal: String) -> RootCause {
    RootCause { category, code: code.to_owned(), confidence: 0.6, signals: vec![signal] }
}

fn finding(
    at: Origin<'_>,
    sku: &str,
    text: String,
    rule: &'static str,
    subtype: &str,
    p: &LotSerialPolicy,
) -> Finding {
    Finding {
        subject: SubjectRef {
            tenant: at.tenant.to_owned(),
            site: at.site.to_owned(),
            sku: sku.to_owned(),
            kind: TYPE,
            text,
        },
        rule,
        subtype: Some(subtype.to_owned()),
        location: None,
        lot: None,
        at: at.time,
        opening_event: at.event_id.to_owned(),
        quantities: exceptions::quantities(0, 0, None, ""),
        valuation: exceptions::valuation(0, 0.0, crate::cycle_count::NO_CURRENCY),
        severity: 0,
        owner: p.owner,
        root_cause: None,
        inputs: vec![at.event_id.to_owned()],
        correlation: BTreeMap::new(),
        details: BTreeMap::new(),
        note: String::new(),
        actions: Vec::new(),
        update_actions: Vec::new(),
        approval: None,
    }
}
