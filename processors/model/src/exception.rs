//! The canonical exception record (`exceptions` topic, compacted, key = exception id).
//!
//! The topic holds the latest version of each exception: every lifecycle transition produces a
//! new record with `version` one higher, so a consumer can upsert by id and ignore versions it
//! has already seen. Root cause and priority are evidence on the record, never actions.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{ApprovalVerdict, ExceptionId};

/// Exception taxonomy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExceptionType {
    /// Received quantity or lot differs from the ASN/PO beyond tolerance.
    ReceivingVariance,
    /// Goods received or found damaged.
    DamagedGoods,
    /// Received goods not put away in time, or put away wrongly.
    PutawayFailure,
    /// Scanned item, lot or container differs from the task's expectation.
    BarcodeMismatch,
    /// Counted quantity differs from the book beyond tolerance.
    CycleCountDiscrepancy,
    /// Lot or serial data contradict each other.
    LotSerialInconsistency,
    /// Stock past (or too close to) its expiry.
    ExpiredInventory,
    /// A pick confirmed twice or above allocation.
    DuplicatePick,
    /// WMS and ERP disagree, or a posting was never acknowledged.
    SyncFailure,
    /// Allocations exceed what is there.
    OrderAllocationConflict,
    /// The book of a location went below zero.
    NegativeOnHand,
}

impl ExceptionType {
    /// Every exception type, in declaration order.
    pub const ALL: [Self; 11] = [
        Self::ReceivingVariance,
        Self::DamagedGoods,
        Self::PutawayFailure,
        Self::BarcodeMismatch,
        Self::CycleCountDiscrepancy,
        Self::LotSerialInconsistency,
        Self::ExpiredInventory,
        Self::DuplicatePick,
        Self::SyncFailure,
        Self::OrderAllocationConflict,
        Self::NegativeOnHand,
    ];

    /// The symbol used in ids, topics and reports (`CYCLE_COUNT_DISCREPANCY`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ReceivingVariance => "RECEIVING_VARIANCE",
            Self::DamagedGoods => "DAMAGED_GOODS",
            Self::PutawayFailure => "PUTAWAY_FAILURE",
            Self::BarcodeMismatch => "BARCODE_MISMATCH",
            Self::CycleCountDiscrepancy => "CYCLE_COUNT_DISCREPANCY",
            Self::LotSerialInconsistency => "LOT_SERIAL_INCONSISTENCY",
            Self::ExpiredInventory => "EXPIRED_INVENTORY",
            Self::DuplicatePick => "DUPLICATE_PICK",
            Self::SyncFailure => "SYNC_FAILURE",
            Self::OrderAllocationConflict => "ORDER_ALLOCATION_CONFLICT",
            Self::NegativeOnHand => "NEGATIVE_ON_HAND",
        }
    }
}

/// Lifecycle status (domain research section 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExceptionStatus {
    /// Detected, nobody has looked at it.
    Open,
    /// Prioritised and routed.
    Triaged,
    /// Someone works on it.
    InProgress,
    /// A recount task is out.
    AwaitingRecount,
    /// An approval request is out.
    AwaitingApproval,
    /// The approval was granted.
    Approved,
    /// The approval was refused.
    Rejected,
    /// Approved actions are being carried out.
    Actioning,
    /// Nothing more to do.
    Resolved,
    /// Resolved and past its quiet period.
    Closed,
    /// Parked, waiting on someone outside (see `status_reason`).
    OnHold,
    /// Withdrawn (duplicate, self-healed).
    Cancelled,
}

impl ExceptionStatus {
    /// Whether the exception still needs work (not resolved, closed or cancelled).
    pub const fn is_open(self) -> bool {
        !matches!(self, Self::Resolved | Self::Closed | Self::Cancelled)
    }
}

/// Team an exception is routed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OwnerTeam {
    /// Warehouse operations.
    Ops,
    /// Inventory control.
    InventoryControl,
    /// Quality and compliance.
    Quality,
    /// Procurement (suppliers, carriers).
    Procurement,
    /// Finance.
    Finance,
    /// IT integration (WMS/ERP interfaces, master data).
    ItIntegration,
    /// Customer service.
    CustomerService,
}

/// Root-cause category (domain research section 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RootCauseCategory {
    /// A warehouse process went wrong (mis-pick, misplaced putaway, miscount).
    Process,
    /// WMS and ERP are out of step.
    SystemSync,
    /// The supplier sent something else than announced.
    Supplier,
    /// The carrier damaged or lost goods.
    Carrier,
    /// Item master data is wrong.
    MasterData,
    /// Stock disappeared without a transaction.
    Theft,
    /// No signal points anywhere.
    Unknown,
}

/// Root-cause recommendation: evidence, not a verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RootCause {
    /// Category.
    pub category: RootCauseCategory,
    /// Finer code (`MISCOUNT`, `MISPLACED_STOCK`, `ERP_BOOK_STALE`, ...).
    pub code: String,
    /// Confidence between 0 and 1.
    pub confidence: f64,
    /// The signals that support it, in words.
    pub signals: Vec<String>,
}

/// Quantities behind an exception, all in `uom`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quantities {
    /// What should have been there or arrived.
    pub expected: Option<i64>,
    /// What was observed.
    pub observed: Option<i64>,
    /// The book quantity the comparison used.
    pub book: Option<i64>,
    /// `observed - expected`.
    pub variance: i64,
    /// Variance as a percentage of `expected` (absent when `expected` is zero).
    pub variance_pct: Option<f64>,
    /// Unit of measure.
    pub uom: String,
}

/// Money at stake.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Valuation {
    /// `variance * unit_cost`.
    pub variance_value: f64,
    /// Unit cost used.
    pub unit_cost: f64,
    /// ISO 4217 currency.
    pub currency: String,
}

/// Approval state of an exception that needs one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    /// Tier the policy requires for the value at stake (`SUPERVISOR`, `FINANCE_CONTROLLER`, ...).
    pub tier: String,
    /// Group asked to approve.
    pub approver_group: String,
    /// Id of the APPROVAL_REQUEST action.
    pub request_id: String,
    /// Decision, once made.
    pub decision: Option<ApprovalVerdict>,
    /// Who decided.
    pub approver: Option<String>,
    /// When (event time of the decision).
    pub decided_at: Option<i64>,
}

/// One version of one exception.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExceptionRecord {
    /// Deterministic id.
    pub exception_id: ExceptionId,
    /// 1 for the first record, one more for every change.
    pub version: i64,
    /// Taxonomy type.
    pub exception_type: ExceptionType,
    /// Subtype (`SHORT`, `OVER`, ...), when the type has them.
    pub subtype: Option<String>,
    /// Severity, 1 critical to 5 informational (ServiceNow scale).
    pub severity: i32,
    /// Lifecycle status.
    pub status: ExceptionStatus,
    /// Why it is in that status (`AWAITING_VENDOR`, `COUNT_ERROR`, ...).
    pub status_reason: Option<String>,
    /// Tenant.
    pub tenant_id: String,
    /// Site.
    pub site_id: String,
    /// What the exception is about, as used in its id (`sku|location|lot` for counts).
    pub subject: String,
    /// Location, when the exception is about one.
    pub location_id: Option<String>,
    /// SKU.
    pub sku: String,
    /// Lot, when the exception is about one.
    pub lot: Option<String>,
    /// Quantities.
    pub quantities: Quantities,
    /// Money at stake.
    pub valuation: Valuation,
    /// Rule that decided.
    pub rule_id: String,
    /// Policy version the rule ran with.
    pub policy_version: String,
    /// Event time of the event that opened it.
    pub opened_at: i64,
    /// Event time of the event that produced this version.
    pub updated_at: i64,
    /// Event time it was resolved, once resolved.
    pub resolved_at: Option<i64>,
    /// How it was resolved (`WITHIN_TOLERANCE`, `COUNT_ERROR`, `ADJUSTED`, `ADJUSTMENT_REJECTED`).
    pub resolution: Option<String>,
    /// Ids of the events that contributed, oldest first.
    pub source_event_ids: Vec<String>,
    /// Root-cause recommendation.
    pub root_cause: Option<RootCause>,
    /// Team that owns it.
    pub owner_team: OwnerTeam,
    /// Approval state, once an approval was requested.
    pub approval: Option<Approval>,
    /// Recounts requested so far.
    pub recount_attempts: i32,
    /// SLA escalation level, 0 to 3.
    pub escalation_level: i32,
    /// External document references (`count_doc_id`, `asn_id`, `order_id`, ...).
    pub correlation: BTreeMap<String, String>,
}
