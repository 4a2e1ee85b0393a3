//! RECEIVING_VARIANCE: what was received differs from what the ASN announced.
//!
//! The canonical topics are keyed `tenant|site|sku`, so the ASN lines (`erp.asn`) and receipt
//! lines (`wh.receipt`) of one SKU meet in one task; they are joined on `asn_id` into one
//! document per (SKU, ASN). Receipt lines without `asn_id` are not compared (nothing
//! announced them). A document is decided:
//! - when a receipt line closes the receipt (`receipt_closed`), or
//! - after `inactivity_timeout_minutes` without a receipt line: a stream-time timer at the last
//!   line's event time plus the timeout, and a wall-clock timer at its arrival plus the timeout
//!   (a quiet partition), both persisted, rescheduled by every line, the first one deciding;
//! - again when a late receipt line or ASN line changes it after a decision (once more on the
//!   next close or timeout for a receipt line, at once for an ASN line).
//!
//! Rules (the ASN line's tolerances win over the policy's, `unlimited_over` accepts any excess):
//! - `RV-001` received beyond tolerance: subtype `SHORT` (SUPPLIER_CASE, ERP_STATUS_UPDATE
//!   `SHORT_RECEIVED`) or `OVER` (SUPPLIER_CASE, INVENTORY_HOLD of the excess), subject
//!   `sku|asn`;
//! - `RV-002` received against an ASN that does not announce the SKU: subtype `NOT_ON_ASN`
//!   (SUPPLIER_CASE, INVENTORY_HOLD of what was received); an ASN line arriving later turns it
//!   into the quantity decision (REDETECTED or resolved);
//! - `RV-003` a received lot the ASN does not announce (`LOT_MISMATCH`) or with another
//!   expiry (`EXPIRY_MISMATCH`), when the ASN announces lots: SUPPLIER_CASE, subject
//!   `sku|asn|lot`;
//! - `RV-004` a variance within tolerance: a RESOLVED / WITHIN_TOLERANCE record with an
//!   ERP_STATUS_UPDATE `DELIVERY_COMPLETED` (SAP sets "delivery completed" on such a
//!   shortfall), or the open exception of the document resolved when a late line brings it
//!   within tolerance (or exactly as announced).
//!
//! Poison: an ASN line with an empty ASN id or unit, a negative quantity or tolerance; a
//! receipt line against an ASN with a negative received quantity, more accepted than
//! received, or another unit of measure than the document.
//!
//! Policy keys (`[receiving_variance]`, overridable): `inactivity_timeout_minutes`,
//! `under_tolerance_pct`, `over_tolerance_pct`, `short_severity`, `over_severity`,
//! `not_on_asn_severity`, `lot_severity`, `within_tolerance_severity`, `owner`,
//! `supplier_case_group`, `erp_group`, `hold_group`.

mod decide;
mod state;

use invex_model::{AsnLine, CanonicalEvent, ReceiptLine};

use self::decide::{Decide, decide};
use self::state::{AsnFacts, DOC, DocState, FORGET, ReceiptFacts, TIMEOUT, doc_key};
use crate::detector::{Ctx, Detector, FiredTimer, TimerKind};
use crate::error::DetectError;
use crate::exceptions;
use crate::expiry::StoreTtl;
use crate::key::{Key, KeyReader};
use crate::policy::Scope;
use crate::store::{StoreName, join};

const STORES: [StoreName; 6] =
    join(&[&[DOC.name(), crate::cycle_count::STORES[0]], &crate::governance::GOVERNED]);

/// This detector's own stores.
pub(crate) const OWN_STORES: [StoreTtl; 1] = [DOC.spec()];

/// The receiving-variance detector; its parameters come from the policy.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ReceivingVariance;

impl Detector for ReceivingVariance {
    fn name(&self) -> &'static str {
        "rv"
    }

    fn stores(&self) -> &'static [StoreName] {
        &STORES
    }

    fn validate(&self, event: &CanonicalEvent, ctx: &Ctx<'_>) -> Result<(), DetectError> {
        let issue = match event {
            CanonicalEvent::Asn(a) => asn_issue(ctx, a)?,
            CanonicalEvent::Receipt(r) => receipt_issue(ctx, r)?,
            _ => None,
        };
        issue.map_or(Ok(()), |reason| Err(DetectError::invalid(event, reason)))
    }

    fn process(&mut self, event: &CanonicalEvent, ctx: &mut Ctx<'_>) -> Result<(), DetectError> {
        match event {
            CanonicalEvent::Asn(a) => on_asn(ctx, a),
            CanonicalEvent::Receipt(r) => on_receipt(ctx, r),
            _ => Ok(()),
        }
    }

    fn on_timer(&mut self, timer: &FiredTimer, ctx: &mut Ctx<'_>) -> Result<(), DetectError> {
        match timer.key.split_first() {
            Some((&TIMEOUT, key)) => on_timeout(ctx, key),
            Some((&FORGET, key)) => ctx.delete(DOC, key),
            Some((&exceptions::PURGE, key)) => exceptions::purge(ctx, key),
            _ => Ok(()),
        }
    }
}

fn on_asn(ctx: &mut Ctx<'_>, a: &AsnLine) -> Result<(), DetectError> {
    let h = &a.header;
    let key = doc_key(&h.tenant_id, &h.site_id, &a.sku, &a.asn_id);
    let mut doc = ctx.get(DOC, &key)?.unwrap_or_default();
    if doc.asn_lines.get(&a.line_no).is_some_and(|old| old.time > h.event_time) {
        return Ok(());
    }
    doc.asn_lines.insert(a.line_no, AsnFacts::of(a));
    if doc.outcome.is_some() && doc.timeout_due.is_none() {
        let d = Decide {
            tenant: &h.tenant_id,
            site: &h.site_id,
            sku: &a.sku,
            asn_id: &a.asn_id,
            at: h.event_time,
        };
        decide(ctx, d, &mut doc)?;
    }
    remember(ctx, &key, &mut doc, h.event_time)
}

fn on_receipt(ctx: &mut Ctx<'_>, r: &ReceiptLine) -> Result<(), DetectError> {
    let Some(asn_id) = &r.asn_id else { return Ok(()) };
    let h = &r.header;
    let key = doc_key(&h.tenant_id, &h.site_id, &r.sku, asn_id);
    let mut doc = ctx.get(DOC, &key)?.unwrap_or_default();
    doc.receipts.insert(h.event_id.clone(), ReceiptFacts::of(r));
    doc.last_receipt = Some(doc.last_receipt.map_or(h.event_time, |t| t.max(h.event_time)));
    cancel_timeout(ctx, &key, &mut doc)?;
    if r.receipt_closed {
        let d = Decide {
            tenant: &h.tenant_id,
            site: &h.site_id,
            sku: &r.sku,
            asn_id,
            at: h.event_time,
        };
        decide(ctx, d, &mut doc)?;
    } else {
        let item = crate::cycle_count::item(ctx, &h.tenant_id, &h.site_id, &r.sku)?;
        let class = item.class.as_deref();
        let scope = Scope { tenant: &h.tenant_id, site: &h.site_id, class, sku: &r.sku };
        let minutes = ctx.policy().receiving_variance(&scope).settings.inactivity_timeout_minutes;
        let last = doc.last_receipt.unwrap_or(h.event_time);
        let due = (
            last.saturating_add(minutes * 60_000),
            ctx.times().wall_clock.saturating_add(minutes * 60_000),
        );
        let timer = Key::new().byte(TIMEOUT).raw(&key).into_bytes();
        ctx.schedule(TimerKind::StreamTime, due.0, &timer)?;
        ctx.schedule(TimerKind::WallClock, due.1, &timer)?;
        doc.timeout_due = Some(due);
    }
    remember(ctx, &key, &mut doc, h.event_time)
}

fn cancel_timeout(ctx: &mut Ctx<'_>, key: &[u8], doc: &mut DocState) -> Result<(), DetectError> {
    if let Some((stream, wall)) = doc.timeout_due.take() {
        let timer = Key::new().byte(TIMEOUT).raw(key).into_bytes();
        ctx.cancel(TimerKind::StreamTime, stream, &timer)?;
        ctx.cancel(TimerKind::WallClock, wall, &timer)?;
    }
    Ok(())
}

/// Inactivity timeout: decides the document as if the receipt had been closed.
fn on_timeout(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<(), DetectError> {
    let Some(mut doc) = ctx.get(DOC, key)? else { return Ok(()) };
    cancel_timeout(ctx, key, &mut doc)?;
    let mut reader = KeyReader::new(key);
    let ids = (reader.str(), reader.str(), reader.str(), reader.str());
    let (Some(tenant), Some(site), Some(sku), Some(asn_id)) = ids else { return Ok(()) };
    let at = doc.last_receipt.unwrap_or(ctx.times().stream_time);
    let d = Decide { tenant: &tenant, site: &site, sku: &sku, asn_id: &asn_id, at };
    decide(ctx, d, &mut doc)?;
    ctx.put(DOC, key, &doc)
}

/// Persists a document and moves its forget timer after its latest activity.
fn remember(ctx: &mut Ctx<'_>, key: &[u8], doc: &mut DocState, at: i64) -> Result<(), DetectError> {
    let hours = ctx.policy().cycle_count().resolved_retention_hours;
    let due = at.saturating_add(hours * 3_600_000);
    if doc.forget_due.is_none_or(|old| old < due) {
        let timer = Key::new().byte(FORGET).raw(key).into_bytes();
        if let Some(old) = doc.forget_due {
            ctx.cancel(TimerKind::StreamTime, old, &timer)?;
        }
        ctx.schedule(TimerKind::StreamTime, due, &timer)?;
        doc.forget_due = Some(due);
    }
    ctx.put(DOC, key, doc)
}

fn asn_issue(ctx: &Ctx<'_>, a: &AsnLine) -> Result<Option<String>, DetectError> {
    let bad_pct = |p: Option<f64>| p.is_some_and(|p| !p.is_finite() || p < 0.0);
    let issue = if a.asn_id.trim().is_empty() {
        Some("asn_id is empty".to_owned())
    } else if a.uom.trim().is_empty() {
        Some("uom is empty".to_owned())
    } else if a.qty_expected < 0 || a.expected_lots.iter().any(|l| l.quantity < 0) {
        Some("an expected quantity is negative".to_owned())
    } else if bad_pct(a.under_tolerance_pct) || bad_pct(a.over_tolerance_pct) {
        Some("a tolerance is negative or not a number".to_owned())
    } else {
        let h = &a.header;
        uom_issue(ctx, &doc_key(&h.tenant_id, &h.site_id, &a.sku, &a.asn_id), &a.uom)?
    };
    Ok(issue)
}

fn receipt_issue(ctx: &Ctx<'_>, r: &ReceiptLine) -> Result<Option<String>, DetectError> {
    let Some(asn_id) = &r.asn_id else { return Ok(None) };
    if r.qty_received < 0 {
        return Ok(Some(format!("qty_received {} is negative", r.qty_received)));
    }
    if r.qty_accepted > r.qty_received {
        let (a, q) = (r.qty_accepted, r.qty_received);
        return Ok(Some(format!("qty_accepted {a} is more than qty_received {q}")));
    }
    let h = &r.header;
    uom_issue(ctx, &doc_key(&h.tenant_id, &h.site_id, &r.sku, asn_id), &r.uom)
}

fn uom_issue(ctx: &Ctx<'_>, key: &[u8], uom: &str) -> Result<Option<String>, DetectError> {
    let doc = ctx.get(DOC, key)?;
    Ok(doc
        .as_ref()
        .and_then(DocState::uom)
        .filter(|known| *known != uom)
        .map(|known| format!("uom {uom} differs from {known}, the unit of the ASN document")))
}
