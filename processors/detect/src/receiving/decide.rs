//! Deciding one document: quantity against tolerance, items not announced, lots and expiries.

use std::collections::{BTreeMap, BTreeSet};

use invex_model::{ActionType, ExceptionType, RootCause, RootCauseCategory};

use super::state::DocState;
use crate::cycle_count::{self, ItemView};
use crate::detector::Ctx;
use crate::error::DetectError;
use crate::exceptions::{self, ActionPlan, Cleared, Finding, SubjectRef};
use crate::policy::{ReceivingVariancePolicy, Resolved, Scope};

/// Rule: received quantity beyond tolerance.
const RULE_QUANTITY: &str = "RV-001";
/// Rule: received against an ASN that does not announce the item.
const RULE_NOT_ON_ASN: &str = "RV-002";
/// Rule: lot or expiry differs from the ASN.
const RULE_LOT: &str = "RV-003";
/// Rule: within tolerance (accepted, or an open exception cleared).
const RULE_WITHIN: &str = "RV-004";
const TYPE: ExceptionType = ExceptionType::ReceivingVariance;

/// Which document is decided, when, and because of which event.
#[derive(Debug, Clone, Copy)]
pub(super) struct Decide<'a> {
    pub(super) tenant: &'a str,
    pub(super) site: &'a str,
    pub(super) sku: &'a str,
    pub(super) asn_id: &'a str,
    pub(super) at: i64,
}

/// The quantity verdict.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Verdict {
    Exact,
    Within,
    Short,
    Over,
    NotOnAsn,
}

/// A lot whose number or expiry the ASN does not announce.
#[derive(Debug, Clone, PartialEq)]
struct LotIssue {
    lot: String,
    subtype: &'static str,
    announced: i64,
    received: i64,
}

/// Decides a document; emits nothing when the outcome is the same as last time.
pub(super) fn decide(
    ctx: &mut Ctx<'_>,
    d: Decide<'_>,
    doc: &mut DocState,
) -> Result<(), DetectError> {
    let item = cycle_count::item(ctx, d.tenant, d.site, d.sku)?;
    let scope = Scope { tenant: d.tenant, site: d.site, class: item.class.as_deref(), sku: d.sku };
    let settings = ctx.policy().receiving_variance(&scope);
    let expected: i64 = doc.asn_lines.values().map(|a| a.qty_expected).sum();
    let received: i64 = doc.receipts.values().map(|r| r.qty_received).sum();
    let (verdict, tolerance) = verdict(doc, &settings.settings, expected, received);
    let lots = lot_issues(doc);
    let signature = format!("{verdict:?}|{expected}|{received}|{lots:?}");
    if doc.outcome.as_deref() == Some(signature.as_str()) {
        return Ok(());
    }
    doc.outcome = Some(signature);
    let ctx_d = Context { d, doc, item: &item, settings: &settings, expected, received, tolerance };
    quantity(ctx, &ctx_d, verdict)?;
    let received_lots: BTreeSet<&str> =
        doc.receipts.values().filter_map(|r| r.lot.as_deref()).collect();
    for lot in received_lots {
        match lots.iter().find(|l| l.lot == lot) {
            Some(issue) => ctx_open_lot(ctx, &ctx_d, issue)?,
            None => {
                let subject = subject(d, Some(lot));
                let cleared = cleared(&ctx_d, "LOT_AS_ANNOUNCED", "lot is on the ASN".into());
                exceptions::resolve_open(ctx, &subject, cleared)?;
            }
        }
    }
    Ok(())
}

/// Everything the builders need.
struct Context<'a> {
    d: Decide<'a>,
    doc: &'a DocState,
    item: &'a ItemView,
    settings: &'a Resolved<ReceivingVariancePolicy>,
    expected: i64,
    received: i64,
    /// Tolerance percentage applied (under for a shortfall, over for an excess).
    tolerance: Option<f64>,
}

fn verdict(
    doc: &DocState,
    p: &ReceivingVariancePolicy,
    expected: i64,
    received: i64,
) -> (Verdict, Option<f64>) {
    let Some(first) = doc.asn_lines.values().next() else { return (Verdict::NotOnAsn, None) };
    let variance = received - expected;
    let pct =
        if expected == 0 { f64::INFINITY } else { variance.abs() as f64 / expected as f64 * 100.0 };
    match variance.signum() {
        0 => (Verdict::Exact, None),
        -1 => {
            let under = first.under_pct.unwrap_or(p.under_tolerance_pct);
            (if pct <= under { Verdict::Within } else { Verdict::Short }, Some(under))
        }
        _ => {
            let over = first.over_pct.unwrap_or(p.over_tolerance_pct);
            let unlimited = doc.asn_lines.values().any(|a| a.unlimited_over);
            (if unlimited || pct <= over { Verdict::Within } else { Verdict::Over }, Some(over))
        }
    }
}

/// Received lots the ASN does not announce, or with another expiry than announced.
fn lot_issues(doc: &DocState) -> Vec<LotIssue> {
    let announced: Vec<_> = doc.asn_lines.values().flat_map(|a| a.expected_lots.iter()).collect();
    if announced.is_empty() {
        return Vec::new();
    }
    let mut received: BTreeMap<&str, (i64, BTreeSet<i32>)> = BTreeMap::new();
    for r in doc.receipts.values() {
        if let Some(lot) = r.lot.as_deref() {
            let slot = received.entry(lot).or_default();
            slot.0 += r.qty_received;
            slot.1.extend(r.expiry_date);
        }
    }
    let mut out = Vec::new();
    for (lot, (qty, expiries)) in received {
        let matching: Vec<_> = announced.iter().filter(|e| e.lot == lot).collect();
        let qty_announced = matching.iter().map(|e| e.quantity).sum();
        let subtype = if matching.is_empty() {
            "LOT_MISMATCH"
        } else if expiries
            .iter()
            .any(|x| matching.iter().all(|e| e.expiry_date.is_some_and(|a| a != *x)))
        {
            "EXPIRY_MISMATCH"
        } else {
            continue;
        };
        out.push(LotIssue {
            lot: lot.to_owned(),
            subtype,
            announced: qty_announced,
            received: qty,
        });
    }
    out
}

fn subject(d: Decide<'_>, lot: Option<&str>) -> SubjectRef {
    let text = match lot {
        Some(lot) => format!("{}|{}|{lot}", d.sku, d.asn_id),
        None => format!("{}|{}", d.sku, d.asn_id),
    };
    SubjectRef {
        tenant: d.tenant.to_owned(),
        site: d.site.to_owned(),
        sku: d.sku.to_owned(),
        kind: TYPE,
        text,
    }
}

fn cleared<'a>(c: &'a Context<'a>, resolution: &'static str, note: String) -> Cleared<'a> {
    Cleared { rule: RULE_WITHIN, at: c.d.at, resolution, note, inputs: &[], details: details(c) }
}

fn quantity(ctx: &mut Ctx<'_>, c: &Context<'_>, verdict: Verdict) -> Result<(), DetectError> {
    let subject = subject(c.d, None);
    let p = &c.settings.settings;
    match verdict {
        Verdict::Exact => {
            let note = format!("received {} as announced", c.received);
            exceptions::resolve_open(ctx, &subject, cleared(c, "RECEIVED_AS_ANNOUNCED", note))
                .map(drop)
        }
        Verdict::Within => {
            let note = format!("received {} of {}: within tolerance", c.received, c.expected);
            if exceptions::resolve_open(ctx, &subject, cleared(c, "WITHIN_TOLERANCE", note))? {
                return Ok(());
            }
            let mut f = finding(c, subject, RULE_WITHIN, None, p.within_tolerance_severity);
            f.actions = vec![erp_update(c, "DELIVERY_COMPLETED")];
            f.root_cause = None;
            exceptions::accept(ctx, f, "WITHIN_TOLERANCE")
        }
        Verdict::Short => {
            let mut f = finding(c, subject, RULE_QUANTITY, Some("SHORT"), p.short_severity);
            f.actions = vec![supplier_case(c, "SHORT"), erp_update(c, "SHORT_RECEIVED")];
            exceptions::open_or_update(ctx, f)
        }
        Verdict::Over => {
            let mut f = finding(c, subject, RULE_QUANTITY, Some("OVER"), p.over_severity);
            let excess = c.received - c.expected;
            f.actions = vec![supplier_case(c, "OVER"), hold(c, excess, "OVER_DELIVERY")];
            exceptions::open_or_update(ctx, f)
        }
        Verdict::NotOnAsn => {
            let mut f =
                finding(c, subject, RULE_NOT_ON_ASN, Some("NOT_ON_ASN"), p.not_on_asn_severity);
            f.actions = vec![supplier_case(c, "NOT_ON_ASN"), hold(c, c.received, "NOT_ON_ASN")];
            exceptions::open_or_update(ctx, f)
        }
    }
}

fn ctx_open_lot(ctx: &mut Ctx<'_>, c: &Context<'_>, issue: &LotIssue) -> Result<(), DetectError> {
    let subject = subject(c.d, Some(&issue.lot));
    let mut f =
        finding(c, subject, RULE_LOT, Some(issue.subtype), c.settings.settings.lot_severity);
    let uom = c.doc.uom().unwrap_or_default();
    f.quantities = exceptions::quantities(issue.announced, issue.received, None, uom);
    f.valuation =
        exceptions::valuation(issue.received - issue.announced, c.item.unit_cost, &c.item.currency);
    f.lot = Some(issue.lot.clone());
    f.root_cause = Some(supplier_cause(issue.subtype, format!("received lot {} ", issue.lot)));
    f.note = format!("lot {}: {}", issue.lot, issue.subtype);
    f.actions = vec![supplier_case(c, issue.subtype).detail("lot", issue.lot.clone())];
    exceptions::open_or_update(ctx, f)
}

fn finding(
    c: &Context<'_>,
    subject: SubjectRef,
    rule: &'static str,
    subtype: Option<&str>,
    severity: i32,
) -> Finding {
    let uom = c.doc.uom().unwrap_or_default();
    let latest = c.doc.latest_receipt();
    let opening = latest.map_or_else(|| c.d.asn_id.to_owned(), |(id, _)| id.clone());
    let mut inputs: Vec<String> = c.doc.asn_lines.values().map(|a| a.event_id.clone()).collect();
    inputs.extend(c.doc.receipts.keys().cloned());
    let mut correlation = BTreeMap::new();
    correlation.insert("asn_id".to_owned(), c.d.asn_id.to_owned());
    if let Some(a) = c.doc.asn_lines.values().next() {
        correlation.insert("po_id".to_owned(), a.po_id.clone());
        correlation.insert("supplier_id".to_owned(), a.supplier_id.clone());
    }
    let note = format!("received {} against {} announced", c.received, c.expected);
    Finding {
        subject,
        rule,
        subtype: subtype.map(str::to_owned),
        location: latest.map(|(_, r)| r.location.clone()),
        lot: None,
        at: c.d.at,
        opening_event: opening,
        quantities: exceptions::quantities(c.expected, c.received, None, uom),
        valuation: exceptions::valuation(
            c.received - c.expected,
            c.item.unit_cost,
            &c.item.currency,
        ),
        severity,
        owner: c.settings.settings.owner,
        root_cause: subtype.map(|s| supplier_cause(s, note.clone())),
        inputs,
        correlation,
        details: details(c),
        note,
        actions: Vec::new(),
        update_actions: Vec::new(),
        approval: None,
    }
}

fn supplier_cause(subtype: &str, signal: String) -> RootCause {
    RootCause {
        category: RootCauseCategory::Supplier,
        code: format!("ASN_{subtype}"),
        confidence: 0.6,
        signals: vec![signal],
    }
}

fn details(c: &Context<'_>) -> BTreeMap<String, String> {
    let mut d = BTreeMap::new();
    d.insert("expected".to_owned(), c.expected.to_string());
    d.insert("received".to_owned(), c.received.to_string());
    d.insert("asn_lines".to_owned(), c.doc.asn_lines.len().to_string());
    d.insert("receipt_lines".to_owned(), c.doc.receipts.len().to_string());
    if let Some(t) = c.tolerance {
        d.insert("tolerance_pct".to_owned(), t.to_string());
    }
    if !c.settings.overrides.is_empty() {
        d.insert("policy_overrides".to_owned(), c.settings.overrides.join(","));
    }
    d
}

fn supplier_case(c: &Context<'_>, reason: &str) -> ActionPlan {
    let p = &c.settings.settings;
    let supplier = c
        .doc
        .asn_lines
        .values()
        .map(|a| a.supplier_id.clone())
        .chain(c.doc.receipts.values().filter_map(|r| r.supplier_id.clone()))
        .next()
        .unwrap_or_default();
    ActionPlan::new(ActionType::SupplierCase, &p.supplier_case_group)
        .detail("asn_id", c.d.asn_id)
        .detail("supplier_id", supplier)
        .detail("reason", reason)
        .detail("expected", c.expected.to_string())
        .detail("received", c.received.to_string())
}

fn erp_update(c: &Context<'_>, status: &str) -> ActionPlan {
    ActionPlan::new(ActionType::ErpStatusUpdate, &c.settings.settings.erp_group)
        .detail("erp_doc", c.d.asn_id)
        .detail("new_status", status)
}

fn hold(c: &Context<'_>, qty: i64, reason: &str) -> ActionPlan {
    ActionPlan {
        quantity: Some(qty),
        ..ActionPlan::new(ActionType::InventoryHold, &c.settings.settings.hold_group)
    }
    .detail("hold_reason", reason)
    .detail("target_stock_type", "BLOCKED")
}
