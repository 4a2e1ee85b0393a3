//! DAMAGED_GOODS: goods received damaged, or found damaged in the warehouse.
//!
//! Sources:
//! - a receipt line whose condition code is one of `damaged_conditions` (or whose CBV
//!   disposition is `damaged`): damage at receiving, aggregated per ASN (subject `sku|asn`, or
//!   `sku|receipt` without an ASN): what arrived damaged (`qty_received`) and what of it went
//!   into stock (`qty_accepted`, held);
//! - a scan or a pick with the CBV disposition `damaged`: damage found in the warehouse
//!   (subject `sku|location|lot`), the scanned or picked quantity, all in stock.
//!
//! Rules:
//! - `DG-001` damage at receiving: INVENTORY_HOLD of the damaged quantity in stock (blocked
//!   stock), and a claim: SUPPLIER_CASE with `claim_type` CARRIER when the condition code is
//!   one of `carrier_fault_conditions` and the receipt names a carrier (root cause CARRIER),
//!   else SUPPLIER (root cause SUPPLIER);
//! - `DG-002` damage found in the warehouse: INVENTORY_HOLD, root cause PROCESS (handling),
//!   owner `warehouse_owner`;
//! - both: when the damaged stock is worth more than `approval_min_value`, the write-off
//!   (minus the quantity in stock) is proposed for approval (APPROVAL_REQUEST, tier by value);
//!   the STOCK_ADJUSTMENT exists only after an APPROVE answering that request (the shared
//!   lifecycle's decision rule `EX-001`), and the ledger takes it.
//!
//! More damage on an open subject updates it (REDETECTED, quantities summed) with a hold of the
//! new damaged stock; the claim already covers it, and an outstanding approval keeps the
//! write-off it proposed. Quantities: expected = damaged, observed = 0
//! usable, variance = minus the damaged quantity, book = the damaged quantity in stock.
//!
//! Poison: a damaged scan with a negative quantity or an empty location or unit.
//!
//! Policy keys (`[damaged_goods]`, overridable): `damaged_conditions`,
//! `carrier_fault_conditions`, `approval_min_value`, `severity`, `owner`, `warehouse_owner`,
//! `hold_group`, `claim_group`.

use std::collections::BTreeMap;

use invex_model::{
    ActionType, CanonicalEvent, EventHeader, ExceptionType, OwnerTeam, ReceiptLine, RootCause,
    RootCauseCategory,
};

use crate::cycle_count::{self, ItemView};
use crate::detector::{Ctx, Detector, FiredTimer};
use crate::error::DetectError;
use crate::exceptions::{self, ActionPlan, Finding, SubjectRef};
use crate::policy::{DamagedGoodsPolicy, Scope};
use crate::store::{StoreName, join};

const RULE_RECEIVING: &str = "DG-001";
const RULE_WAREHOUSE: &str = "DG-002";
const TYPE: ExceptionType = ExceptionType::DamagedGoods;
/// The CBV disposition that marks damaged objects.
const DAMAGED: &str = "damaged";

const STORES: [StoreName; 5] = join(&[&[cycle_count::STORES[0]], &crate::governance::GOVERNED]);

/// The damaged-goods detector; its parameters come from the policy.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DamagedGoods;

impl Detector for DamagedGoods {
    fn name(&self) -> &'static str {
        "dg"
    }

    fn stores(&self) -> &'static [StoreName] {
        &STORES
    }

    fn validate(&self, event: &CanonicalEvent, _ctx: &Ctx<'_>) -> Result<(), DetectError> {
        let CanonicalEvent::Scan(s) = event else { return Ok(()) };
        if !is_damaged(&s.header) {
            return Ok(());
        }
        let issue = if s.quantity < 0 {
            Some(format!("damaged quantity {} is negative", s.quantity))
        } else if s.location_id.trim().is_empty() || s.uom.trim().is_empty() {
            Some("damaged scan without location or unit".to_owned())
        } else {
            None
        };
        issue.map_or(Ok(()), |reason| Err(DetectError::invalid(event, reason)))
    }

    fn process(&mut self, event: &CanonicalEvent, ctx: &mut Ctx<'_>) -> Result<(), DetectError> {
        let h = event.header();
        match event {
            CanonicalEvent::Receipt(r) => on_receipt(ctx, r),
            CanonicalEvent::Scan(s) if is_damaged(h) && s.quantity > 0 => {
                let found = Found {
                    location: &s.location_id,
                    lot: s.lot.as_deref(),
                    qty: s.quantity,
                    uom: &s.uom,
                };
                in_warehouse(ctx, h, &s.sku, found)
            }
            CanonicalEvent::Pick(p) if is_damaged(h) && p.qty_picked > 0 => {
                let found = Found {
                    location: &p.location_id,
                    lot: p.lot.as_deref(),
                    qty: p.qty_picked,
                    uom: &p.uom,
                };
                in_warehouse(ctx, h, &p.sku, found)
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
}

fn is_damaged(h: &EventHeader) -> bool {
    h.disposition.as_deref().is_some_and(|d| d.trim().eq_ignore_ascii_case(DAMAGED))
}

fn settings(
    ctx: &Ctx<'_>,
    h: &EventHeader,
    sku: &str,
) -> Result<(ItemView, DamagedGoodsPolicy), DetectError> {
    let item = cycle_count::item(ctx, &h.tenant_id, &h.site_id, sku)?;
    let scope = Scope { tenant: &h.tenant_id, site: &h.site_id, class: item.class.as_deref(), sku };
    let settings = ctx.policy().damaged_goods(&scope).settings;
    Ok((item, settings))
}

fn on_receipt(ctx: &mut Ctx<'_>, r: &ReceiptLine) -> Result<(), DetectError> {
    let h = &r.header;
    let (item, p) = settings(ctx, h, &r.sku)?;
    if !(p.damaged_conditions.contains(&r.condition_code) || is_damaged(h)) || r.qty_received == 0 {
        return Ok(());
    }
    let carrier =
        r.carrier_id.as_deref().filter(|_| p.carrier_fault_conditions.contains(&r.condition_code));
    let (claim_type, party, category) = match carrier {
        Some(carrier) => ("CARRIER", carrier.to_owned(), RootCauseCategory::Carrier),
        None => {
            ("SUPPLIER", r.supplier_id.clone().unwrap_or_default(), RootCauseCategory::Supplier)
        }
    };
    let document = r.asn_id.as_deref().unwrap_or(&r.receipt_id);
    let text = format!("{}|{document}", r.sku);
    let condition = crate::cycle_count::symbol(r.condition_code);
    let signal = format!("{} received {condition} on {}", r.qty_received, r.receipt_id);
    let cause = RootCause {
        category,
        code: format!("DAMAGED_{claim_type}"),
        confidence: 0.6,
        signals: vec![signal],
    };
    let claim = ActionPlan::new(ActionType::SupplierCase, &p.claim_group)
        .detail("claim_type", claim_type)
        .detail("party_id", party)
        .detail("receipt_id", r.receipt_id.clone())
        .detail("condition_code", condition);
    let mut correlation = BTreeMap::new();
    correlation.insert("receipt_id".to_owned(), r.receipt_id.clone());
    if let Some(asn) = &r.asn_id {
        correlation.insert("asn_id".to_owned(), asn.clone());
    }
    let found =
        Found { location: &r.location_id, lot: r.lot.as_deref(), qty: r.qty_received, uom: &r.uom };
    let damage = Damage {
        rule: RULE_RECEIVING,
        text,
        found,
        in_stock: r.qty_accepted,
        owner: p.owner,
        cause,
        claim: Some(claim),
        correlation,
    };
    open(ctx, h, &r.sku, &item, &p, damage)
}

/// Damaged stock found somewhere.
#[derive(Debug, Clone, Copy)]
struct Found<'a> {
    location: &'a str,
    lot: Option<&'a str>,
    qty: i64,
    uom: &'a str,
}

/// One damage finding before aggregation.
struct Damage<'a> {
    rule: &'static str,
    text: String,
    found: Found<'a>,
    in_stock: i64,
    owner: OwnerTeam,
    cause: RootCause,
    claim: Option<ActionPlan>,
    correlation: BTreeMap<String, String>,
}

fn in_warehouse(
    ctx: &mut Ctx<'_>,
    h: &EventHeader,
    sku: &str,
    found: Found<'_>,
) -> Result<(), DetectError> {
    let (item, p) = settings(ctx, h, sku)?;
    let text = format!("{sku}|{}|{}", found.location, found.lot.unwrap_or_default());
    let cause = RootCause {
        category: RootCauseCategory::Process,
        code: "DAMAGED_IN_WAREHOUSE".to_owned(),
        confidence: 0.5,
        signals: vec![format!(
            "{} found damaged at {} ({})",
            found.qty, found.location, h.biz_step
        )],
    };
    let damage = Damage {
        rule: RULE_WAREHOUSE,
        text,
        found,
        in_stock: found.qty,
        owner: p.warehouse_owner,
        cause,
        claim: None,
        correlation: BTreeMap::new(),
    };
    open(ctx, h, sku, &item, &p, damage)
}

fn open(
    ctx: &mut Ctx<'_>,
    h: &EventHeader,
    sku: &str,
    item: &ItemView,
    p: &DamagedGoodsPolicy,
    d: Damage<'_>,
) -> Result<(), DetectError> {
    let subject = SubjectRef {
        tenant: h.tenant_id.clone(),
        site: h.site_id.clone(),
        sku: sku.to_owned(),
        kind: TYPE,
        text: d.text,
    };
    let (mut damaged, mut in_stock) = (d.found.qty, d.in_stock);
    if let Some(case) = exceptions::find_open(ctx, &subject)? {
        damaged += case.record.quantities.expected.unwrap_or(0);
        in_stock += case.record.quantities.book.unwrap_or(0);
    }
    let write_off = (in_stock as f64 * item.unit_cost).abs() > p.approval_min_value;
    let hold: Vec<ActionPlan> = (d.in_stock > 0)
        .then(|| ActionPlan {
            quantity: Some(d.in_stock),
            location: Some(d.found.location.to_owned()),
            ..ActionPlan::new(ActionType::InventoryHold, &p.hold_group)
        })
        .map(|h| h.detail("hold_reason", "DAMAGED").detail("target_stock_type", "BLOCKED"))
        .into_iter()
        .collect();
    let mut actions = hold.clone();
    actions.extend(d.claim);
    let mut details = BTreeMap::new();
    details.insert("damaged".to_owned(), damaged.to_string());
    details.insert("in_stock".to_owned(), in_stock.to_string());
    details.insert("approval_min_value".to_owned(), p.approval_min_value.to_string());
    let finding = Finding {
        subject,
        rule: d.rule,
        subtype: None,
        location: Some(d.found.location.to_owned()),
        lot: d.found.lot.filter(|l| !l.is_empty()).map(str::to_owned),
        at: h.event_time,
        opening_event: h.event_id.clone(),
        quantities: exceptions::quantities(damaged, 0, Some(in_stock), d.found.uom),
        valuation: exceptions::valuation(-damaged, item.unit_cost, &item.currency),
        severity: p.severity,
        owner: d.owner,
        root_cause: Some(d.cause),
        inputs: vec![h.event_id.clone()],
        correlation: d.correlation,
        details,
        note: format!("{damaged} damaged, {in_stock} of it in stock"),
        actions,
        update_actions: hold,
        approval: (write_off && in_stock > 0).then_some(-in_stock),
    };
    exceptions::open_or_update(ctx, finding)
}
