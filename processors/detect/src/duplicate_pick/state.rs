//! Stores, key layouts and state types of the duplicate-pick detector.
//!
//! ```text
//! dp.line    item ++ pick_task_id ++ order_id ++ order_line  -> LineState   confirmations
//! dp.alloc   item ++ allocation_id                           -> AllocState  allocation + picks
//! ```
//!
//! (`item` is `tenant, site, sku`.) A line keeps every confirmation with its content
//! fingerprint: the pick serialized with the fields a producer retry would change (event id,
//! record time, source sequence) blanked, so two confirmations with equal fingerprints are one
//! fact sent twice. An allocation keeps its latest version (by event time) and the picks that
//! name it, by event id, so a redelivery or a pick arriving before its allocation is handled.
//! Both stores expire in stream time (TTLs and their reasons at the declarations): a line or
//! an allocation quiet for longer no longer counts.

use std::collections::BTreeMap;

use invex_model::{OrderAllocation, PickEvent};
use serde::{Deserialize, Serialize};

use crate::cycle_count::item_key;
use crate::detector::Table;
use crate::expiry::Ttl;
use crate::key::Key;
use crate::store::StoreName;

/// Confirmations per pick task line. TTL 30 days: nothing deletes a line, and no policy
/// window looks back over one (a line is picked within a wave, a recount is due within 7 days
/// at most); 30 days is four times the 7-day dedupe horizon, so a retry of a confirmation is
/// always still recognised, and a line confirmed again a month later is a new line.
pub(super) const LINE: Table<LineState> = Table::expiring(StoreName("dp.line"), Ttl::days(30));
/// Allocations and the picks against them. TTL 90 days: nothing deletes one; an order line's
/// allocation and its picks span days to weeks (backorders), never a quarter.
pub(super) const ALLOC: Table<AllocState> = Table::expiring(StoreName("dp.alloc"), Ttl::days(90));

/// Key of a pick task line.
pub(super) fn line_key(p: &PickEvent) -> Vec<u8> {
    let h = &p.header;
    Key::new()
        .raw(&item_key(&h.tenant_id, &h.site_id, &p.sku))
        .str(&p.pick_task_id)
        .str(&p.order_id)
        .time(i64::from(p.order_line))
        .into_bytes()
}

/// Key of an allocation.
pub(super) fn alloc_key(tenant: &str, site: &str, sku: &str, allocation_id: &str) -> Vec<u8> {
    Key::new().raw(&item_key(tenant, site, sku)).str(allocation_id).into_bytes()
}

/// The content fingerprint of a pick (see the module docs).
pub(super) fn fingerprint(p: &PickEvent) -> String {
    let mut normalized = p.clone();
    normalized.header.event_id.clear();
    normalized.header.record_time = 0;
    normalized.header.source_seq = 0;
    // Serializing plain data cannot fail; an empty fingerprint would only never match.
    serde_json::to_string(&normalized).unwrap_or_default()
}

/// One confirmation of a line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Confirmation {
    pub(super) event_id: String,
    pub(super) time: i64,
    pub(super) fingerprint: String,
    pub(super) qty_requested: i64,
    pub(super) qty_picked: i64,
    pub(super) location: String,
    pub(super) operator: Option<String>,
}

impl Confirmation {
    pub(super) fn of(p: &PickEvent) -> Self {
        Self {
            event_id: p.header.event_id.clone(),
            time: p.header.event_time,
            fingerprint: fingerprint(p),
            qty_requested: p.qty_requested,
            qty_picked: p.qty_picked,
            location: p.location_id.clone(),
            operator: p.header.operator_id.clone(),
        }
    }
}

/// Confirmations of one pick task line, in arrival order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct LineState {
    pub(super) confirmations: Vec<Confirmation>,
}

/// The facts of an allocation the rules use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct AllocFacts {
    pub(super) event_id: String,
    pub(super) time: i64,
    pub(super) order_id: String,
    pub(super) order_line: i32,
    pub(super) qty_allocated: i64,
    pub(super) uom: String,
    pub(super) status: String,
}

impl AllocFacts {
    pub(super) fn of(a: &OrderAllocation) -> Self {
        Self {
            event_id: a.header.event_id.clone(),
            time: a.header.event_time,
            order_id: a.order_id.clone(),
            order_line: a.order_line,
            qty_allocated: a.qty_allocated,
            uom: a.uom.clone(),
            status: a.status.clone(),
        }
    }
}

/// A pick against an allocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct AllocPick {
    pub(super) time: i64,
    pub(super) qty: i64,
    pub(super) location: String,
    pub(super) lot: Option<String>,
    pub(super) uom: String,
}

/// An allocation (latest version by event time) and the picks that name it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct AllocState {
    pub(super) allocation: Option<AllocFacts>,
    /// Picks by event id.
    pub(super) picks: BTreeMap<String, AllocPick>,
}
