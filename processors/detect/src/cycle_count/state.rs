//! Stores, key layouts and state types of the cycle-count detector.
//!
//! Every key starts with the item key `tenant, site, sku` (string components, see the key
//! module), because one task holds many `tenant|site|sku` keys. The subject of a count is
//! `(sku, location, lot)` at a site; its key adds `location` and the optional `lot`.
//!
//! ```text
//! cc.item       item                                  -> ItemState      item master, book cost
//! cc.ledger     subject                               -> LedgerState    baseline + unit of measure
//! cc.movement   subject ++ time ++ event_id ++ leg    -> Movement       movements, time order
//! cc.pending    subject ++ count event_id             -> PendingCount   counts awaiting evaluation
//! cc.exception  item ++ exception_id                  -> ExceptionState open and recently resolved
//! cc.open       subject                               -> exception id   the open one, if any
//! ```
//!
//! `leg` tells the two movements of one task apart (0 = out of or only leg, 1 = into a
//! location). Movements are in time order under their subject, and the subjects of one
//! location share the prefix `item ++ location`, which is what root-cause evidence scans.
//!
//! Timer keys of this detector: `b'E' ++ pending key` (evaluate a count), `b'F' ++ subject`
//! (fold old movements), `b'P' ++ exception key` (forget a resolved exception).

use std::collections::BTreeMap;

use invex_model::{CountType, ExceptionRecord};
use serde::{Deserialize, Serialize};

use crate::detector::Table;
use crate::expiry::{self, StoreTtl};
use crate::key::Key;
use crate::store::StoreName;

/// Item master facts and the latest book cost.
pub(super) const ITEM: Table<ItemState> = Table::new(StoreName("cc.item"));
/// Ledger header per subject.
pub(super) const LEDGER: Table<LedgerState> = Table::new(StoreName("cc.ledger"));
/// The ledgers' unit alone: validation reads it for every movement, and needs nothing else.
pub(super) const LEDGER_UOM: Table<LedgerUom> = LEDGER.view();
/// Movements per subject.
pub(super) const MOVEMENT: Table<Movement> = Table::new(StoreName("cc.movement"));
/// Counts waiting for their evaluation timer.
pub(super) const PENDING: Table<PendingCount> = Table::new(StoreName("cc.pending"));
/// Exceptions by id.
pub(crate) const EXCEPTION: Table<ExceptionState> = Table::new(StoreName("cc.exception"));
/// Open exception per subject.
pub(super) const OPEN: Table<String> = Table::new(StoreName("cc.open"));

/// Every store of the detector, none with a TTL: `cc.item` and `cc.ledger` are reference data
/// (item facts, the book baseline) that must not disappear; the rule itself folds movements
/// older than `history_hours` into the baseline, deletes a pending count once evaluated, and
/// deletes exceptions (purge timer after `resolved_retention_hours`) and their open index.
pub(crate) const SPECS: [StoreTtl; 6] =
    [ITEM.spec(), LEDGER.spec(), MOVEMENT.spec(), PENDING.spec(), EXCEPTION.spec(), OPEN.spec()];
/// The names of [`SPECS`].
pub(crate) const STORES: [StoreName; 6] = expiry::names(&SPECS);

/// Timer tag: evaluate a pending count.
pub(super) const EVALUATE: u8 = b'E';
/// Timer tag: fold old movements into the baseline.
pub(super) const FOLD: u8 = b'F';
/// Timer tag: forget a resolved exception.
pub(super) const PURGE: u8 = b'P';

/// Key of an item (`tenant, site, sku`).
pub(crate) fn item_key(tenant: &str, site: &str, sku: &str) -> Vec<u8> {
    Key::new().str(tenant).str(site).str(sku).into_bytes()
}

/// Key of an exception.
pub(super) fn exception_key(item: &[u8], exception_id: &str) -> Vec<u8> {
    Key::new().raw(item).str(exception_id).into_bytes()
}

/// What a count is about: one SKU (and lot) at one location of one site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Subject {
    pub(crate) tenant: String,
    pub(crate) site: String,
    pub(crate) sku: String,
    pub(crate) location: String,
    pub(crate) lot: Option<String>,
}

impl Subject {
    /// A subject; an empty lot means no lot.
    pub(crate) fn new(
        header: &invex_model::EventHeader,
        sku: &str,
        location: &str,
        lot: Option<&str>,
    ) -> Self {
        Self {
            tenant: header.tenant_id.clone(),
            site: header.site_id.clone(),
            sku: sku.to_owned(),
            location: location.to_owned(),
            lot: lot.filter(|l| !l.is_empty()).map(str::to_owned),
        }
    }

    pub(crate) fn item_key(&self) -> Vec<u8> {
        item_key(&self.tenant, &self.site, &self.sku)
    }

    /// Prefix shared by every subject at this location.
    pub(super) fn location_prefix(&self) -> Vec<u8> {
        Key::new().raw(&self.item_key()).str(&self.location).into_bytes()
    }

    pub(crate) fn key(&self) -> Vec<u8> {
        Key::new().raw(&self.location_prefix()).opt_str(self.lot.as_deref()).into_bytes()
    }

    /// `sku|location|lot`, the subject used in exception ids.
    pub(crate) fn text(&self) -> String {
        format!("{}|{}|{}", self.sku, self.location, self.lot.as_deref().unwrap_or(""))
    }
}

/// Facts about an item from one source, as of an event time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct ItemFacts {
    pub(super) as_of: i64,
    pub(super) abc_class: Option<String>,
    pub(super) unit_cost: f64,
    pub(super) currency: String,
}

/// Item master data and the latest book cost of one SKU at one site.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct ItemState {
    /// From `md.item` (latest by event time).
    pub(super) master: Option<ItemFacts>,
    /// From `erp.book` (latest by as-of time).
    pub(super) book: Option<ItemFacts>,
}

impl ItemState {
    /// ABC class, when the master data gives one.
    pub(super) fn class(&self) -> Option<&str> {
        self.master.as_ref().and_then(|m| m.abc_class.as_deref())
    }

    /// Unit cost and currency: master data, else the latest book snapshot, else 0 in no currency
    /// (ISO 4217 "no currency").
    pub(super) fn pricing(&self) -> (f64, String) {
        match self.master.as_ref().or(self.book.as_ref()) {
            Some(f) => (f.unit_cost, f.currency.clone()),
            None => (0.0, super::shared::NO_CURRENCY.to_owned()),
        }
    }
}

/// The book baseline of a subject: the latest ERP snapshot, or a fold of old movements.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct Baseline {
    /// As-of time; `None` before any snapshot (the book is then the sum of movements).
    pub(super) as_of: Option<i64>,
    /// Quantity per stock type (rows of one snapshot run), or one `FOLDED` row.
    pub(super) rows: BTreeMap<String, i64>,
    /// True when the baseline was folded from movements rather than read from the ERP.
    pub(super) synthetic: bool,
    /// Snapshot events it was built from.
    pub(super) event_ids: Vec<String>,
}

impl Baseline {
    pub(super) fn qty(&self) -> i64 {
        self.rows.values().sum()
    }
}

/// Ledger header of a subject.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct LedgerState {
    /// Unit of measure every quantity of this subject is in (set by the first snapshot or
    /// movement).
    pub(super) uom: Option<String>,
    pub(super) baseline: Baseline,
    /// Due time of the scheduled fold timer, if any.
    pub(super) fold_due: Option<i64>,
    /// True once an ERP snapshot gave the book an absolute level (folds keep it); before,
    /// the book is only the sum of the movements seen. Omitted from the value while false,
    /// so values written before the field existed stay byte-identical.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(super) anchored: bool,
    /// The book after every movement (see the head module); `None` in values written before
    /// it existed, until the subject's next movement or snapshot computes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) head: Option<Head>,
}

/// The unit of a [`LedgerState`], decoded without the rest.
#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct LedgerUom {
    pub(super) uom: Option<String>,
}

/// The book of a subject after its latest movement, kept current by every change of the
/// subject so that the common read, the book now, needs no scan of its movements.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Head {
    /// The book at any time at or after `latest`: the baseline plus every movement after its
    /// as-of time.
    pub(super) qty: i64,
    /// The latest movement time ever added (never below the latest one kept); `None` before
    /// the first movement.
    pub(super) latest: Option<i64>,
    /// The latest outbound movement (time, event id); of two at one time, the greater event id.
    pub(super) last_outbound: Option<(i64, String)>,
}

/// Kind of a movement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(super) enum MovementKind {
    /// Receipt accepted at a receiving location.
    Receipt,
    /// Pick confirmation.
    Pick,
    /// Task confirmation, source leg.
    TaskOut,
    /// Task confirmation, destination leg.
    TaskIn,
    /// Approved stock adjustment.
    Adjustment,
}

impl MovementKind {
    /// Whether the movement takes stock out of its location (a pick or a task's source leg).
    pub(super) fn is_outbound(self) -> bool {
        matches!(self, Self::Pick | Self::TaskOut)
    }
}

/// One signed movement of a subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Movement {
    pub(super) kind: MovementKind,
    pub(super) delta: i64,
    pub(super) time: i64,
    pub(super) event_id: String,
}

/// A count waiting for its evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct PendingCount {
    pub(super) subject: Subject,
    pub(super) event_id: String,
    pub(super) count_time: i64,
    pub(super) count_doc_id: String,
    pub(super) count_type: CountType,
    pub(super) count_seq: i32,
    pub(super) counted: i64,
    pub(super) uom: String,
    pub(super) wms_book_at_freeze: Option<i64>,
    pub(super) freeze_time: i64,
    pub(super) stream_due: i64,
    pub(super) wall_due: i64,
}

impl PendingCount {
    pub(super) fn key(&self) -> Vec<u8> {
        Key::new().raw(&self.subject.key()).str(&self.event_id).into_bytes()
    }
}

/// An exception this detector owns: the latest published version plus what the next
/// transitions need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ExceptionState {
    pub(crate) record: ExceptionRecord,
    pub(super) subject: Subject,
    /// Quantity of the outstanding (or decided) approval request.
    pub(super) proposed_adjustment: Option<i64>,
    /// Approval requests issued so far.
    pub(super) approval_requests: i32,
    /// SLA clocks, hold and approvals given (see the governance module).
    #[serde(default)]
    pub(crate) gov: crate::governance::Governance,
}
