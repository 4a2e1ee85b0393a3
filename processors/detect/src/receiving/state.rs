//! Store, key layout and state types of the receiving-variance detector.
//!
//! ```text
//! rv.doc   item ++ asn_id   -> DocState   ASN lines and receipt lines of one SKU on one ASN
//! ```
//!
//! (`item` is `tenant, site, sku`.) Receipt lines are kept by event id (a redelivery
//! overwrites itself), ASN lines by line number (latest version by event time). `outcome` is
//! the signature of the last decision, so deciding an unchanged document again emits nothing.
//! Timer keys: `b'I' ++ doc key` (inactivity timeout, stream time and wall clock), `b'D' ++ doc
//! key` (forget the document `cycle_count.resolved_retention_hours` after its last activity).

use std::collections::BTreeMap;

use invex_model::{AsnLine, ConditionCode, ExpectedLot, ReceiptLine};
use serde::{Deserialize, Serialize};

use crate::cycle_count::item_key;
use crate::detector::Table;
use crate::key::Key;
use crate::store::StoreName;

/// Documents (one SKU on one ASN). No TTL: the forget timer deletes every document
/// `resolved_retention_hours` after its last activity.
pub(super) const DOC: Table<DocState> = Table::new(StoreName("rv.doc"));

/// Timer tag: inactivity timeout.
pub(super) const TIMEOUT: u8 = b'I';
/// Timer tag: forget the document.
pub(super) const FORGET: u8 = b'D';

/// Key of a document.
pub(super) fn doc_key(tenant: &str, site: &str, sku: &str, asn_id: &str) -> Vec<u8> {
    Key::new().raw(&item_key(tenant, site, sku)).str(asn_id).into_bytes()
}

/// What the rule uses of an ASN line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct AsnFacts {
    pub(super) event_id: String,
    pub(super) time: i64,
    pub(super) po_id: String,
    pub(super) supplier_id: String,
    pub(super) qty_expected: i64,
    pub(super) uom: String,
    pub(super) expected_lots: Vec<ExpectedLot>,
    pub(super) under_pct: Option<f64>,
    pub(super) over_pct: Option<f64>,
    pub(super) unlimited_over: bool,
}

impl AsnFacts {
    pub(super) fn of(a: &AsnLine) -> Self {
        Self {
            event_id: a.header.event_id.clone(),
            time: a.header.event_time,
            po_id: a.po_id.clone(),
            supplier_id: a.supplier_id.clone(),
            qty_expected: a.qty_expected,
            uom: a.uom.clone(),
            expected_lots: a.expected_lots.clone(),
            under_pct: a.under_tolerance_pct,
            over_pct: a.over_tolerance_pct,
            unlimited_over: a.unlimited_over,
        }
    }
}

/// What the rule uses of a receipt line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct ReceiptFacts {
    pub(super) time: i64,
    pub(super) receipt_id: String,
    pub(super) qty_received: i64,
    pub(super) uom: String,
    pub(super) lot: Option<String>,
    pub(super) expiry_date: Option<i32>,
    pub(super) location: String,
    pub(super) supplier_id: Option<String>,
    pub(super) condition: ConditionCode,
}

impl ReceiptFacts {
    pub(super) fn of(r: &ReceiptLine) -> Self {
        Self {
            time: r.header.event_time,
            receipt_id: r.receipt_id.clone(),
            qty_received: r.qty_received,
            uom: r.uom.clone(),
            lot: r.lot.clone().filter(|l| !l.is_empty()),
            expiry_date: r.expiry_date,
            location: r.location_id.clone(),
            supplier_id: r.supplier_id.clone(),
            condition: r.condition_code,
        }
    }
}

/// One SKU on one ASN: what was announced, what was received, and the decision state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct DocState {
    pub(super) asn_lines: BTreeMap<i32, AsnFacts>,
    /// Receipt lines by event id.
    pub(super) receipts: BTreeMap<String, ReceiptFacts>,
    /// Highest event time of a receipt line.
    pub(super) last_receipt: Option<i64>,
    /// Due times of the scheduled inactivity timers (stream time, wall clock).
    pub(super) timeout_due: Option<(i64, i64)>,
    /// Due time of the scheduled forget timer.
    pub(super) forget_due: Option<i64>,
    /// Signature of the last decision; `None` until the document was decided.
    pub(super) outcome: Option<String>,
}

impl DocState {
    /// The unit of measure of the document (first ASN line, else first receipt line).
    pub(super) fn uom(&self) -> Option<&str> {
        self.asn_lines
            .values()
            .map(|a| a.uom.as_str())
            .chain(self.receipts.values().map(|r| r.uom.as_str()))
            .next()
    }

    /// The latest receipt line (by event time, then event id).
    pub(super) fn latest_receipt(&self) -> Option<(&String, &ReceiptFacts)> {
        self.receipts.iter().max_by_key(|(id, r)| (r.time, *id))
    }
}
